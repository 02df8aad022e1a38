"""A GPS logger's GPX beside a video with the same name (``walk_east.mp4`` +
``walk_east.gpx``): found by ``position.auto_track`` after the camera's own track, said in
one line, and matched by clock as ``--gpx`` is; what the user gives wins."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.pipeline import run_from_config
from fieldtool.placement import place_session
from fieldtool.tracks import TrackPositions
from tests.test_placement import DEMO, GOPRO, SRT_DIR, _config, _logs, _mp4, needs_shared

START = datetime(2026, 6, 2, 9, 0, 0)  # the logger's first fix (UTC)
USING = "position: using walk_east.gpx beside the video"


def _gpx(path: Path, start: datetime = START, seconds: int = 20) -> Path:
    """A GPX 1.1 track in UTC, a fix a second from ``start``, 0.001° north each."""
    points = "".join(
        f'<trkpt lat="{44.5 + 0.001 * i:.3f}" lon="-123.3">'
        f"<time>{start + timedelta(seconds=i):%Y-%m-%dT%H:%M:%S}Z</time></trkpt>\n"
        for i in range(seconds + 1)
    )
    path.write_text('<?xml version="1.0"?>\n<gpx version="1.1" creator="t" '
                    'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n'
                    f"{points}</trkseg></trk></gpx>\n")  # fmt: skip
    return path


def test_a_gpx_beside_the_video_places_it_by_clock_and_says_so(tmp_path: Path) -> None:
    """Defect: walk_east.gpx beside walk_east.mp4 was not used (a DJI SRT beside it was):
    the video got no position. Found now, said once, and read as --gpx reads it: by clock
    (the video's mvhd at 09:00:05 takes the fix of 09:00:05, not the first one)."""
    video = _mp4(tmp_path / "walk_east.mp4", seconds=4.0, created=START + timedelta(seconds=5))
    gpx = _gpx(tmp_path / "walk_east.gpx")
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert [n for n in place.notes if n.startswith("position:")] == [
        f"{USING} (a GPS logger's track: matched by clock)"
    ], place.notes
    assert place.track_name == "walk_east.gpx"
    positions = place.positions
    assert isinstance(positions, TrackPositions) and not positions.by_media_time
    assert (place.time.start, place.time.source) == (START + timedelta(seconds=5),
                                                     "mp4-creation-time")  # fmt: skip
    at_start = positions.position_at(place.time.start)
    assert at_start is not None and at_start.lat == pytest.approx(44.505)
    # the same time rules as --gpx: the same basis and fixes, --time-offset moving both
    for extra in ({}, {"position.time_offset_s": -3.0}):
        found = place_session(_config(tmp_path, video, **extra), live=False, fps=10.0)
        given = place_session(_config(tmp_path, video, **{"position.track": str(gpx)}, **extra),
                              live=False, fps=10.0)  # fmt: skip
        assert found.time == given.time
        assert isinstance(found.positions, TrackPositions)
        assert isinstance(given.positions, TrackPositions)
        assert found.positions.fixes == given.positions.fixes
        assert not given.positions.by_media_time


def test_an_upper_case_gpx_beside_the_video_is_found(tmp_path: Path) -> None:
    video = _mp4(tmp_path / "walk_east.mp4", seconds=2.0, created=START)
    _gpx(tmp_path / "walk_east.GPX")
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert isinstance(place.positions, TrackPositions)
    assert any(n.startswith("position: using walk_east.GPX beside") for n in place.notes)


def test_the_demo_walk_runs_by_the_gpx_beside_it_as_with_gpx(tmp_path: Path) -> None:
    """The user's case: data/demo's walk_east.mp4 and walk_east.gpx copied to a folder and
    run with no position option: placed as `--gpx walk_east.gpx` places it."""
    for name in ("walk_east.mp4", "walk_east.gpx"):
        shutil.copy(DEMO / name, tmp_path / name)
    video = tmp_path / "walk_east.mp4"
    lines, log = _logs()
    found = run_from_config(_config(tmp_path, video, **{"source.max_frames": 40}), log=log)
    assert any(line.startswith(USING) for line in lines), lines
    given = run_from_config(_config(tmp_path, video, **{
        "source.max_frames": 40, "store.db": str(tmp_path / "g.duckdb"),
        "position.track": str(tmp_path / "walk_east.gpx")}), log=log)  # fmt: skip
    assert found.session.frames_positioned == given.session.frames_positioned
    assert found.session.frames_positioned == found.session.frames_analysed > 0


def test_a_given_position_or_auto_track_off_is_not_overridden_by_a_gpx_beside(
    tmp_path: Path,
) -> None:
    video = _mp4(tmp_path / "walk_east.mp4", seconds=2.0, created=START)
    _gpx(tmp_path / "walk_east.gpx")
    other = _gpx(tmp_path / "logger.gpx", start=START - timedelta(hours=1))
    given = place_session(_config(tmp_path, video, **{"position.track": str(other)}),
                          live=False, fps=10.0)  # fmt: skip
    assert given.track_name == "logger.gpx"
    assert not any("beside" in n for n in given.notes), given.notes
    fixed = place_session(_config(tmp_path, video, **{"position.lat": 1.0, "position.lon": 2.0}),
                          live=False, fps=10.0)  # fmt: skip
    assert type(fixed.positions).__name__ == "FixedPosition" and fixed.track_name is None
    off = place_session(_config(tmp_path, video, **{"position.auto_track": False}), live=False,
                        fps=10.0)  # fmt: skip
    assert off.positions is None and off.track_name is None
    assert not any("beside" in n for n in (*fixed.notes, *off.notes))


@needs_shared
def test_the_cameras_own_srt_comes_before_a_gpx_beside_and_the_gpx_is_said_unused(
    tmp_path: Path,
) -> None:
    video = _mp4(tmp_path / "DJI_0001.mp4", seconds=3.0)
    shutil.copy(SRT_DIR / "mavic_pro.SRT", tmp_path / "DJI_0001.SRT")
    _gpx(tmp_path / "DJI_0001.gpx")
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert place.track_name == "DJI_0001.SRT"
    assert isinstance(place.positions, TrackPositions) and place.positions.by_media_time
    said = [n for n in place.notes if "DJI_0001.gpx" in n]
    assert len(said) == 1 and "not used" in said[0] and "DJI_0001.SRT" in said[0], place.notes
    assert "--gpx DJI_0001.gpx" in said[0]  # how to use it instead


@needs_shared
def test_a_gopros_own_gps_comes_before_a_gpx_beside(tmp_path: Path) -> None:
    clip = tmp_path / "GX010042.MP4"
    shutil.copy(GOPRO, clip)
    _gpx(tmp_path / "GX010042.gpx")
    place = place_session(_config(tmp_path, clip), live=False, fps=30.0)
    assert place.track_name == "GX010042.MP4"
    said = [n for n in place.notes if "GX010042.gpx" in n]
    assert len(said) == 1 and "not used" in said[0] and "GPMF" in said[0], place.notes


def test_a_gopro_clip_without_gps_falls_back_to_the_gpx_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GoPro recording without a GPS lock (a GPMF track without GPS fixes): its own
    track is not used, and the logger's GPX beside it places it, both said."""
    video = _mp4(tmp_path / "walk_east.mp4", seconds=2.0, created=START)
    _gpx(tmp_path / "walk_east.gpx")
    monkeypatch.setattr("fieldtool.placement.has_gpmf", lambda path: True)
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert place.track_name == "walk_east.gpx"
    assert isinstance(place.positions, TrackPositions) and not place.positions.by_media_time
    said = [n for n in place.notes if n.startswith("position:")]
    assert len(said) == 2 and "not used" in said[0] and said[1].startswith(USING), said


def test_an_unreadable_gpx_beside_the_video_is_said_and_the_run_goes_on(tmp_path: Path) -> None:
    """A GPX the user did not name that cannot be read does not stop the run (the video
    is still dated by its own time); one warning names it and why."""
    video = _mp4(tmp_path / "walk_east.mp4", seconds=2.0, created=START)
    (tmp_path / "walk_east.gpx").write_text("<gpx>cut off")
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert place.positions is None and place.time.source == "mp4-creation-time"
    said = [n for n in place.notes if "walk_east.gpx" in n]
    assert len(said) == 1 and said[0].startswith("warning: position: walk_east.gpx beside "
                                                 "the video not used"), place.notes  # fmt: skip
    assert not any(n.startswith(USING) for n in place.notes)
