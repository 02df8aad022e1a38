"""A DJI drone's MP4 without its SRT: the drone writes its local clock into ``mvhd`` (as
into its SRT's date lines), so the file is told by what DJI writes in it (the video track's
``hdlr`` name, ``DJI.AVC``) and its creation time converted as a local clock. Newer DJI
files, told by their ``djmd``/``dbgi`` telemetry tracks, write UTC there: kept as UTC."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.pipeline import run_from_config
from fieldtool.placement import place_session
from fieldtool.store import query
from fieldtool.tracks.dji import dji_file, hdlr_name
from tests.tracks.test_qtmeta import _clip, _config

CREATED = datetime(2024, 5, 31, 11, 42, 0)  # the drone's clock, as written in mvhd
MVHD = {"creation_time": f"{CREATED:%Y-%m-%dT%H:%M:%S}Z"}
CORVALLIS = {"position.lat": 44.5646, "position.lon": -123.262}  # America/Los_Angeles, UTC-7
# The hdlr box (after its size and type) of a real DJI clip (DJI_0007.MP4, as quoted in the
# tests of a public Swift MP4 reader, "Bamf"): a QuickTime string whose length byte (16)
# counts the NUL padding after "DJI.AVC".
DJI_0007_HDLR = base64.b64decode("AAAAAG1obHJ2aWRlAAAAAAAAAAAAAAAAEERKSS5BVkMAAAAAAAAAAAA=")


def _djmd(video: Path) -> Path:
    """The clip with its video track's sample entry renamed ``djmd``: a track of the
    telemetry newer DJI drones write (placement reads the ``moov`` box only)."""
    data = bytearray(video.read_bytes())
    at = data.find(b"avc1", data.find(b"stsd"))
    assert at > 0
    data[at : at + 4] = b"djmd"
    video.write_bytes(bytes(data))
    return video


def test_the_handler_name_reads_as_dji_and_quicktime_write_it() -> None:
    assert hdlr_name(DJI_0007_HDLR) == "DJI.AVC"  # length byte, NUL padding
    assert hdlr_name(DJI_0007_HDLR[:24] + b"\x07DJI.AVC") == "DJI.AVC"  # Pascal string
    assert hdlr_name(DJI_0007_HDLR[:24] + b"VideoHandler\x00") == "VideoHandler"  # C string
    assert hdlr_name(DJI_0007_HDLR[:24]) == ""  # no name


@pytest.mark.parametrize("suffix", [".MP4", ".MOV"])
def test_a_dji_file_is_told_by_its_handler_name(tmp_path: Path, suffix: str) -> None:
    dji = _clip(tmp_path / f"DJI_0001{suffix}", MVHD, handler="DJI.AVC")
    assert b"DJI.AVC" in dji.read_bytes()  # the box this case is for
    found = dji_file(dji)
    assert found is not None and "DJI.AVC" in found.marker and not found.telemetry
    assert dji_file(_clip(tmp_path / f"phone{suffix}", MVHD)) is None
    assert dji_file(_clip(tmp_path / f"named{suffix}", MVHD, handler="Djinn video")) is None
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(dji.read_bytes()[:200])  # no whole moov: nothing, no exception
    assert dji_file(cut) is None
    newer = dji_file(_djmd(_clip(tmp_path / f"DJI_0002{suffix}", MVHD, handler="DJI.AVC")))
    assert newer is not None and newer.telemetry


@pytest.mark.parametrize("zone", ["place", "tz", "unknown"])
def test_a_dji_mp4_without_srt_is_dated_by_the_drones_local_clock(
    tmp_path: Path, zone: str
) -> None:
    """Defect: a DJI clip without its SRT was dated by its mvhd as UTC: a flight in Oregon
    7 h off. Converted with the zone of its place (--lat/--lon), else --tz; with neither
    it stays the local clock, zone unknown."""
    video = _clip(tmp_path / "DJI_0001.MP4", MVHD, handler="DJI.AVC")
    overrides: dict[str, object] = {}
    if zone == "place":
        overrides.update(CORVALLIS)
    if zone == "tz":
        overrides["source.tz"] = "+08:00"  # a drone on Beijing time
    place = place_session(_config(tmp_path, video, **overrides), live=False, fps=10.0)
    assert place.time.source == "mp4-creation-time"
    assert "DJI" in place.time.how and "local clock" in place.time.how, place.time.how
    if zone == "place":
        assert (place.time.zone, place.time.zone_known) == ("America/Los_Angeles", True)
        assert place.time.start == CREATED + timedelta(hours=7)  # PDT, UTC-7
    elif zone == "tz":
        assert (place.time.zone, place.time.zone_known) == ("+08:00", True)
        assert place.time.start == CREATED - timedelta(hours=8)
    else:
        assert (place.time.zone, place.time.zone_known) == (None, False)
        assert place.time.start == CREATED  # the local clock as it reads
        assert "give --tz" in place.time.describe()


def test_a_tz_far_from_the_dji_files_place_is_said(tmp_path: Path) -> None:
    """--tz comes first for a local clock; one hours from the place's zone is said."""
    video = _clip(tmp_path / "DJI_0001.MP4", MVHD, handler="DJI.AVC")
    place = place_session(_config(tmp_path, video, **CORVALLIS, **{"source.tz": "+08:00"}),
                          live=False, fps=10.0)  # fmt: skip
    assert place.time.start == CREATED - timedelta(hours=8)
    (said,) = [n for n in place.notes if n.startswith("warning: --tz")]
    assert "America/Los_Angeles" in said and "DJI_0001.MP4's camera clock" in said


def test_other_mp4s_and_newer_dji_files_keep_their_mvhd_as_utc(tmp_path: Path) -> None:
    """A phone's MP4 (no DJI mark) follows the MP4 spec: UTC; so does a DJI file with a
    djmd telemetry track (the generation that writes UTC there), said in the log."""
    phone = _clip(tmp_path / "VID_0001.MP4", MVHD)
    newer = _djmd(_clip(tmp_path / "DJI_0002.MP4", MVHD, handler="DJI.AVC"))
    for video in (phone, newer):
        place = place_session(_config(tmp_path, video, **CORVALLIS), live=False, fps=10.0)
        assert (place.time.start, place.time.source) == (CREATED, "mp4-creation-time")
        assert (place.time.zone, place.time.zone_known) == ("UTC", True)
    assert "djmd" in place.time.how, place.time.how


def test_the_run_stores_the_drones_clock_converted(tmp_path: Path) -> None:
    video = _clip(tmp_path / "DJI_0001.MP4", MVHD, handler="DJI.AVC")
    lines: list[str] = []
    run_from_config(_config(tmp_path, video, **CORVALLIS, **{"store.snapshots": False}),
                    log=lines.append)  # fmt: skip
    db = tmp_path / "s.duckdb"
    row = query(db, "SELECT time_source, time_zone, time_zone_known FROM sessions")
    assert tuple(row.iloc[0]) == ("mp4-creation-time", "America/Los_Angeles", True)
    first = query(db, "SELECT min(time) AS t FROM detections").iloc[0, 0]
    assert first.to_pydatetime() == CREATED + timedelta(hours=7)
    assert any("DJI" in line and "local clock" in line for line in lines), lines
