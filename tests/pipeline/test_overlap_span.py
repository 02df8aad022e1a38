"""The warning that a track covers too little of a video states the span that will be
analysed: with ``source.max_frames`` the first frames only, not the whole file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fieldtool.config import load_config
from fieldtool.pipeline.inputs import video_placement
from tests.conftest import write_video

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)  # the video's first frame


def _gpx(path: Path, first_s: float, last_s: float) -> Path:
    """A track with a fix a second from ``first_s`` to ``last_s`` after T0, walking north."""
    points = "\n".join(
        f'<trkpt lat="{45 + 1e-5 * s:.6f}" lon="-122.0"><time>'
        f"{(T0 + timedelta(seconds=s)).strftime('%Y-%m-%dT%H:%M:%SZ')}</time></trkpt>"
        for s in range(int(first_s), int(last_s) + 1)
    )
    path.write_text('<?xml version="1.0"?>\n<gpx version="1.1" creator="test" '
                    'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
                    f"{points}</trkseg></trk></gpx>\n")  # fmt: skip
    return path


def _span(start_s: float, end_s: float) -> str:
    a, b = (T0 + timedelta(seconds=s) for s in (start_s, end_s))
    return f"video {a:%Y-%m-%d %H:%M:%S} .. {b:%Y-%m-%d %H:%M:%S}"  # the session's clock, UTC


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """20 s at 10 frames/s: 200 frames."""
    return write_video(tmp_path_factory.mktemp("clip") / "clip.avi", [(0, 20.0)])


def _warnings(clip: Path, track: Path, **values: object) -> list[str]:
    lines: list[str] = []
    config = load_config(None, {"source.uri": str(clip), "position.track": str(track),
                                "source.start_time": T0.isoformat(), "position.max_fix_gap_s": 2,
                                **values})  # fmt: skip
    video_placement(config, lines.append)
    return [line for line in lines if line.startswith("warning:")]


def test_the_warning_names_the_span_max_frames_leaves(clip, tmp_path):
    track = _gpx(tmp_path / "late.gpx", 15, 25)  # covers the video's last 5 s
    whole = [w for w in _warnings(clip, track) if "can get a position" in w]
    assert len(whole) == 1 and _span(0, 20) in whole[0]
    first = [w for w in _warnings(clip, track, **{"source.max_frames": 50})
             if "can get a position" in w]  # fmt: skip
    assert len(first) == 1 and _span(0, 5) in first[0], first  # 50 frames: 5 s
    assert "only 0% of" in first[0]  # the first 5 s: none placed (the whole: a quarter)


def test_a_track_that_covers_the_frames_analysed_gives_no_warning(clip, tmp_path):
    track = _gpx(tmp_path / "early.gpx", 0, 6)  # covers the video's first 6 s
    whole = _warnings(clip, track)
    assert any("can get a position" in w and _span(0, 20) in w for w in whole), whole
    assert _warnings(clip, track, **{"source.max_frames": 50}) == []
