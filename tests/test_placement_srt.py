"""A DJI clip and the SRT beside it, through the whole placement: the zone a comma-decimal
SRT's place gives, an untimed SRT's span, an SRT much longer than its video, a time read
from the SRT's file time, and a drone's MP4 creation time (its local clock)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.pipeline.inputs import video_placement
from fieldtool.placement import place_session, track_start_warning
from fieldtool.timebase import TimeBasis, to_utc
from fieldtool.tracks import TrackPositions
from fieldtool.types import Fix
from tests.test_placement import SRT_DIR, _config, _logs, _mp4, needs_shared


def _set_mtime(path: Path, when: datetime) -> None:
    stamp = (when - datetime(1970, 1, 1)).total_seconds()
    os.utime(path, (stamp, stamp))


# ------------------------------------------------------------- 1: decimal commas


@needs_shared
def test_a_comma_decimal_srt_is_placed_and_zoned_where_it_flew(tmp_path: Path) -> None:
    """Defect: [latitude: 41,424724] read as 41, 2: 40 km off, and the zone of that place
    (Etc/GMT) made every time 2 h off the Europe/Madrid clock."""
    video = _mp4(tmp_path / "DJI_0005.MP4", seconds=2.0)
    text = (SRT_DIR / "air2s.srt").read_text(encoding="utf-8")
    comma = re.sub(r"(\[(?:latitude|longitude|altitude): -?\d+)\.(\d+)\]", r"\1,\2]", text)
    (tmp_path / "DJI_0005.srt").write_text(comma, encoding="utf-8")
    place = place_session(_config(tmp_path, video), live=False, fps=30.0)
    assert (place.time.zone, place.time.zone_known) == ("Europe/Madrid", True)
    # the drone's clock, 2022-08-07 13:40:40.775 local (summer time, UTC+2)
    assert place.time.start is not None
    assert abs(place.time.start - datetime(2022, 8, 7, 11, 40, 40, 774808)) < timedelta(
        milliseconds=1
    )
    assert isinstance(place.positions, TrackPositions)
    first = place.positions.fixes[0]
    assert (first.lat, first.lon) == (41.424724, 2.234156)


# ------------------------------------------------------------- 2: untimed cues


@needs_shared
def test_an_untimed_srt_keeps_its_flights_length(tmp_path: Path) -> None:
    """Defect: mavic_pro.SRT without its '-->' lines was timed (cue number − 1) / 15 fps:
    a 7.8-min flight packed into 31 s, t=0 3 min 39 s late."""
    video = _mp4(tmp_path / "DJI_0008.MP4", seconds=2.0)
    text = (SRT_DIR / "mavic_pro.SRT").read_text(encoding="utf-8")
    untimed = "".join(line for line in text.splitlines(True) if "-->" not in line)
    (tmp_path / "DJI_0008.SRT").write_text(untimed, encoding="utf-8")
    place = place_session(_config(tmp_path, video), live=False, fps=15.0)
    assert isinstance(place.positions, TrackPositions)
    span = (place.positions.end - place.positions.fixes[0].time).total_seconds()
    assert span == pytest.approx(467.0, abs=1.0)  # 468 cues, one a second
    # its first cue says 14:11:51 (Queensland, UTC+10), and it is media t=0
    assert place.time.start == datetime(2017, 8, 5, 4, 11, 51)
    assert any("date line" in n for n in place.positions.notes), place.positions.notes


# ------------------------------------------------ 3: an SRT longer than its video


def _own_track(seconds: int) -> TrackPositions:
    t0 = datetime(2021, 3, 10, 14)
    fixes = [Fix(t0 + timedelta(seconds=s), -34.2 + s * 1e-5, -58.8) for s in range(seconds)]
    return TrackPositions(fixes, 2.0, source="srt", media_start=t0, by_media_time=True)


def test_an_own_track_much_longer_than_the_video_is_said() -> None:
    basis = TimeBasis(datetime(2021, 3, 10, 14), "srt-file-mtime", "UTC", True, "")
    track = _own_track(55)  # 55 cues a second apart: 54 s from first to last
    warning = track_start_warning(track, basis, 30.0, "DJI_0006.SRT")
    assert warning is not None and warning.startswith("warning:") and "\n" not in warning
    assert "DJI_0006.SRT" in warning and "54 s" in warning and "30 s" in warning
    assert track_start_warning(track, basis, 55.0, "DJI_0006.SRT") is None  # its own length
    assert track_start_warning(track, basis, 52.0, "DJI_0006.SRT") is None  # a few seconds
    # a video longer than its track is held_warning's, not this one's
    assert track_start_warning(track, basis, 150.0, "DJI_0006.SRT") is None


@needs_shared
def test_the_run_says_an_srt_much_longer_than_its_video(tmp_path: Path) -> None:
    """Defect: a 30 s clip beside a 55 s SRT (another flight's?) was placed silently."""
    video = _mp4(tmp_path / "DJI_0006.MP4", seconds=4.0)
    shutil.copy(SRT_DIR / "p4_rtk.SRT", tmp_path / "DJI_0006.SRT")
    lines, log = _logs()
    video_placement(_config(tmp_path, video), log)
    said = [line for line in lines if line.startswith("warning:") and "longer" in line]
    assert len(said) == 1, lines
    assert "DJI_0006.SRT" in said[0] and "4 s" in said[0] and "54 s" in said[0]


# ------------------------------------------------- 4: dated by the SRT's file time


@needs_shared
def test_a_time_from_the_srts_file_time_is_warned(tmp_path: Path) -> None:
    """Defect: an MP4 without a creation time beside an SRT without dates was dated by the
    SRT's modification time (which copying sets) and stored as definite UTC, unsaid."""
    video = _mp4(tmp_path / "DJI_0001.MP4", seconds=2.0)  # OpenCV writes no creation time
    srt = Path(shutil.copy(SRT_DIR / "mavic_mini.SRT", tmp_path / "DJI_0001.SRT"))
    _set_mtime(srt, datetime(2026, 11, 29, 21, 20))
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert place.time.source == "srt-file-mtime"
    assert (place.time.zone, place.time.zone_known) == ("UTC", True)  # stored as before
    said = [n for n in place.notes if n.startswith("warning:") and "modification time" in n]
    assert len(said) == 1, place.notes
    assert "DJI_0001.SRT" in said[0] and "copy" in said[0] and "--start-time" in said[0]
    # a given start time needs no such warning
    given = place_session(
        _config(tmp_path, video, **{"source.start_time": "2021-05-01T17:00:00Z"}),
        live=False,
        fps=10.0,
    )
    assert not [n for n in given.notes if "modification time" in n]


# ------------------------------------- 5: a drone's MP4 creation time is its local clock


@needs_shared
@pytest.mark.parametrize("zone", ["place", "tz", "unknown"])
def test_a_drones_creation_time_is_its_local_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """Defect: the P4 clip's mvhd (taken over a copied SRT's file time) was called "the
    drone's clock, possibly its local time" and stored as UTC: Z times 3 h off in
    Argentina. It is converted with the zone of the SRT's place (or --tz), as a GoPro's
    local mvhd is; with no zone it stays the local clock, zone unknown."""
    created = datetime(2021, 3, 10, 14, 0, 0)
    video = _mp4(tmp_path / "DJI_0004.MP4", seconds=2.0, created=created)
    srt = Path(shutil.copy(SRT_DIR / "p4_rtk.SRT", tmp_path / "DJI_0004.SRT"))
    _set_mtime(srt, datetime(2026, 11, 29, 21, 20))  # copied from the card years later
    overrides: dict[str, object] = {}
    if zone == "tz":
        overrides["source.tz"] = "-05:00"
    if zone == "unknown":
        monkeypatch.setattr("fieldtool.timebase.zone_at", lambda lat, lon: None)
    place = place_session(_config(tmp_path, video, **overrides), live=False, fps=10.0)
    assert place.time.source == "mp4-creation-time"
    if zone == "place":
        assert place.time.zone == "America/Argentina/Buenos_Aires" and place.time.zone_known
        assert place.time.start == to_utc(created, "America/Argentina/Buenos_Aires")
        assert place.time.start == created + timedelta(hours=3)
    elif zone == "tz":
        assert (place.time.zone, place.time.zone_known) == ("-05:00", True)
        assert place.time.start == created + timedelta(hours=5)
    else:
        assert (place.time.zone, place.time.zone_known) == (None, False)
        assert place.time.start == created  # the local clock as it reads
    (said,) = [n for n in place.notes if "modification time" in n]
    assert said.startswith("warning:") and "local" in said and "--start-time" in said
