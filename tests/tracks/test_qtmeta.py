"""Apple's QuickTime metadata keys: an iPhone's ``com.apple.quicktime.creationdate`` dates
its video (with the phone's UTC offset), before the ``mvhd`` time, which an edit or an
export rewrites to when the file was saved."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from fieldtool.config import load_config
from fieldtool.placement import place_session
from fieldtool.tracks.gpmf import mp4_creation_time
from fieldtool.tracks.qtmeta import parse_creationdate, quicktime_creation_date

av = pytest.importorskip("av")

KEY = "com.apple.quicktime.creationdate"


def _clip(path: Path, metadata: dict[str, str], handler: str | None = None) -> Path:
    """A 3-frame H.264 MOV whose metadata FFmpeg writes as Apple's keys (``mdta``), as an
    iPhone writes them; ``creation_time`` in ``metadata`` sets the ``mvhd`` time.
    ``handler``: the video track's ``hdlr`` name (a DJI drone's ``DJI.AVC``)."""
    with av.open(str(path), "w", options={"movflags": "use_metadata_tags"}) as out:
        out.metadata.update(metadata)
        stream = out.add_stream("libx264", rate=10)
        if handler is not None:
            stream.metadata["handler_name"] = handler
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(3):
            image = np.zeros((48, 64, 3), np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def _config(tmp_path: Path, video: Path, **overrides: object):
    values = {"source.uri": str(video), "store.db": str(tmp_path / "s.duckdb")}
    return load_config(None, {**values, **overrides})


@pytest.mark.parametrize(("text", "utc", "zone"), [
    ("2026-06-14T09:12:33+0200", datetime(2026, 6, 14, 7, 12, 33), "+02:00"),
    ("2026-06-14T09:12:33-07:00", datetime(2026, 6, 14, 16, 12, 33), "-07:00"),
    ("2026-06-14T09:12:33Z", datetime(2026, 6, 14, 9, 12, 33), "+00:00"),
    ("2026-06-14T09:12:33.250+0530", datetime(2026, 6, 14, 3, 42, 33, 250000), "+05:30"),
    ("2026-06-14 09:12:33", datetime(2026, 6, 14, 9, 12, 33), None),  # no offset: local
    ("2026-06-14T09:12:33 +0200\x00", datetime(2026, 6, 14, 7, 12, 33), "+02:00"),
    ("2026-06-14T09:12:33-00:00", datetime(2026, 6, 14, 9, 12, 33), "UTC"),  # offset unknown
    ("2026-06-14T09:12:33+02:60", None, None),  # no offset has 60 minutes
    ("2026-06-14T09:12:33+0299", None, None),
    ("1970-01-01T00:00:00+0000", None, None),  # a clock never set
    ("June 14", None, None),
    ("", None, None),
])  # fmt: skip
def test_creationdate_strings(text: str, utc: datetime | None, zone: str | None) -> None:
    got = parse_creationdate(text)
    if utc is None:
        assert got is None
        return
    assert got is not None
    assert (got.time, got.zone) == (utc, zone)


def test_an_iphone_mov_with_only_its_creationdate_is_dated_by_it(tmp_path: Path) -> None:
    """Defect: a MOV whose only time is Apple's creationdate key (mvhd unset) was dated at
    the processing time, with a warning that it had no time."""
    video = _clip(tmp_path / "IMG_0001.MOV", {KEY: "2026-06-14T09:12:33+0200"})
    assert KEY.encode() in video.read_bytes()  # the box this case is for
    assert mp4_creation_time(video) is None  # and no mvhd time
    found = quicktime_creation_date(video)
    assert found is not None and found.time == datetime(2026, 6, 14, 7, 12, 33)
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert place.time.source == "quicktime-creationdate"
    assert (place.time.start, place.time.zone, place.time.zone_known) == (
        datetime(2026, 6, 14, 7, 12, 33), "+02:00", True)  # fmt: skip
    assert not any("processing" in note for note in place.notes), place.notes


def test_an_edited_iphone_mov_keeps_its_recording_time(tmp_path: Path) -> None:
    """An iPhone clip trimmed or exported later: mvhd says when it was saved (weeks
    later), Apple's key when it was recorded. The recording time is used and the log names
    the other one."""
    video = _clip(tmp_path / "IMG_0002.MOV", {KEY: "2026-06-14T09:12:33-0700",
                                              "creation_time": "2026-07-30T18:00:00Z"})  # fmt: skip
    assert mp4_creation_time(video) == datetime(2026, 7, 30, 18, 0, 0)
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert (place.time.start, place.time.source) == (
        datetime(2026, 6, 14, 16, 12, 33), "quicktime-creationdate")  # fmt: skip
    said = [n for n in place.notes if "2026-07-30" in n]
    assert len(said) == 1 and "mvhd" in said[0], place.notes


def test_an_agreeing_mvhd_says_nothing_and_a_start_time_still_wins(tmp_path: Path) -> None:
    video = _clip(tmp_path / "IMG_0003.MOV", {KEY: "2026-06-14T09:12:33+0200",
                                              "creation_time": "2026-06-14T07:12:34Z"})  # fmt: skip
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert place.time.source == "quicktime-creationdate"
    assert not any("mvhd" in n for n in place.notes), place.notes
    given = place_session(_config(tmp_path, video, **{"source.start_time":
                                                      "2026-06-14T10:00:00+02:00"}),
                          live=False, fps=10.0)  # fmt: skip
    assert (given.time.start, given.time.source) == (datetime(2026, 6, 14, 8), "start-time")


def test_a_creationdate_without_offset_is_the_phones_local_clock(tmp_path: Path) -> None:
    """No offset in the value: a local clock, put in --tz's zone like any other."""
    video = _clip(tmp_path / "IMG_0004.MOV", {KEY: "2026-06-14T09:12:33"})
    unknown = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert (unknown.time.start, unknown.time.zone_known) == (datetime(2026, 6, 14, 9, 12, 33),
                                                              False)  # fmt: skip
    given = place_session(_config(tmp_path, video, **{"source.tz": "America/Los_Angeles"}),
                          live=False, fps=10.0)  # fmt: skip
    assert (given.time.start, given.time.zone_known) == (datetime(2026, 6, 14, 16, 12, 33), True)


def test_a_creationdate_without_offset_takes_its_offset_from_an_agreeing_mvhd(
    tmp_path: Path,
) -> None:
    """A review found: a local creationdate with no zone known was used as a local clock of
    unknown zone, though the file's mvhd (UTC) was there and agreed to the minute but for
    a whole offset: that offset is the phone's."""
    video = _clip(tmp_path / "IMG_0005.MOV", {KEY: "2026-06-14T09:12:33",
                                              "creation_time": "2026-06-14T16:12:34Z"})  # fmt: skip
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert (place.time.start, place.time.zone, place.time.zone_known) == (
        datetime(2026, 6, 14, 16, 12, 33), "-07:00", True)  # fmt: skip
    # an mvhd days away (an edit's): no offset from it; the local clock stays unknown
    edited = _clip(tmp_path / "IMG_0006.MOV", {KEY: "2026-06-14T09:12:33",
                                               "creation_time": "2026-07-30T18:00:00Z"})  # fmt: skip
    left = place_session(_config(tmp_path, edited), live=False, fps=10.0)
    assert left.time.start == datetime(2026, 6, 14, 9, 12, 33) and not left.time.zone_known
