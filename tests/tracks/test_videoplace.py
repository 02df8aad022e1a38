"""The place a phone writes into its video: read from each box phones and FFmpeg write it
to, used as the session's fixed point only when nothing better places the video, and said."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from fieldtool.config import load_config
from fieldtool.placement import place_session
from fieldtool.tracks import FixedPosition, TrackPositions
from fieldtool.tracks.videoplace import parse_iso6709, video_place
from tests.conftest import SHARED_DATA

av = pytest.importorskip("av")

GOPRO = SHARED_DATA / "telemetry" / "gopro" / "max-heromode.mp4"
PLACE = "+44.5646-123.2620+071.000/"  # Corvallis, Oregon: ISO 6709, as phones write it


def _clip(path: Path, location: str | None = None, apple: bool = False) -> Path:
    """A 3-frame H.264 clip; ``location``: the ISO 6709 place FFmpeg writes (MP4: a 3GPP
    ``loci`` box; MOV: ``udta/©xyz``, as Android writes it; MOV with ``apple``: Apple's
    ``com.apple.quicktime.location.ISO6709`` key only, as an iPhone writes it)."""
    options = {"movflags": "use_metadata_tags"} if apple else {}
    with av.open(str(path), "w", options=options) as out:
        if location is not None and apple:
            out.metadata["com.apple.quicktime.location.ISO6709"] = location
        elif location is not None:
            out.metadata["location"] = location
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(3):
            image = np.zeros((48, 64, 3), np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def _config(tmp_path: Path, video: Path, **overrides: object):
    values = {"source.uri": str(video), "store.db": str(tmp_path / "s.duckdb")}
    return load_config(None, {**values, **overrides})


@pytest.mark.parametrize(("text", "place"), [
    (PLACE, (44.5646, -123.262)),
    ("+44.5646-123.2620/", (44.5646, -123.262)),
    ("-33.8688+151.2093CRSWGS_84/", (-33.8688, 151.2093)),
    ("+4433.87-12315.72/", None),  # degrees and minutes: not misread as degrees
    ("+00.0000+000.0000/", None),  # no fix
    ("+95.0000-010.0000/", None),  # no latitude
    ("Corvallis", None),
])  # fmt: skip
def test_iso6709_strings(text, place) -> None:
    got = parse_iso6709(text)
    assert got == place if place is None else got == pytest.approx(place)


@pytest.mark.parametrize(("name", "apple", "box"), [
    ("VID_0001.mp4", False, b"loci"), ("VID_0001.mov", False, b"\xa9xyz"),
    ("IMG_0001.MOV", True, b"com.apple.quicktime.location.ISO6709"),
])  # fmt: skip
def test_a_phones_place_is_read_from_its_box(tmp_path: Path, name: str, apple: bool,
                                             box: bytes) -> None:  # fmt: skip
    video = _clip(tmp_path / name, PLACE, apple)
    assert box in video.read_bytes()  # the box this case is for
    # 3GPP loci holds 16.16 fixed-point degrees: within 2e-5 degrees (2 m)
    assert video_place(video) == pytest.approx((44.5646, -123.262), abs=2e-5)
    assert video_place(_clip(tmp_path / "none.mp4")) is None
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[:200])  # no whole moov: nothing, no exception
    assert video_place(cut) is None


def test_a_phone_video_without_a_position_is_placed_at_its_recorded_place(
    tmp_path: Path,
) -> None:
    video = _clip(tmp_path / "IMG_0002.MOV", PLACE, apple=True)
    place = place_session(_config(tmp_path, video), live=False)
    assert isinstance(place.positions, FixedPosition)
    fix = place.positions.position_at(datetime(2026, 6, 1, 9))  # any time: one point
    assert fix is not None and fix.source == "video-place"
    assert (fix.lat, fix.lon) == pytest.approx((44.5646, -123.262))
    assert any("where recording began" in note for note in place.notes), place.notes
    # what the user gives wins, and auto_track off reads nothing from the file
    given = place_session(_config(tmp_path, video, **{"position.lat": 45.0,
                                                      "position.lon": -122.0}), live=False)  # fmt: skip
    assert isinstance(given.positions, FixedPosition) and given.positions.lat == 45.0
    assert not any("recorded in" in note for note in given.notes)
    off = place_session(_config(tmp_path, video, **{"position.auto_track": False}), live=False)
    assert off.positions is None


@pytest.mark.skipif(not GOPRO.is_file(), reason="shared data folder absent")
def test_a_gopros_gps_track_wins_over_its_recorded_place(tmp_path: Path) -> None:
    assert video_place(GOPRO) is not None  # the real clip records a place too
    clip = tmp_path / "GX010042.MP4"
    shutil.copy(GOPRO, clip)
    place = place_session(_config(tmp_path, clip), live=False, fps=30.0)
    assert isinstance(place.positions, TrackPositions)
