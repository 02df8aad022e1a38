"""Small backward steps of presentation timestamps: a frame a decoder puts out late (a
B-frame its reorder buffer let others pass) keeps its own time and moves nothing after it;
only timestamps that really go back or leap ahead are a discontinuity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fieldtool.mediaclock import MediaClock
from fieldtool.sources import VideoSource

from .conftest import presentation_times


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return float(out)


def test_frames_put_out_late_keep_every_frames_presentation_time(late_clip):
    """OpenCV's frames as FFmpeg puts them out (PyAV's are put in presentation order
    first: tests/sources/test_late_frames.py)."""
    truth = presentation_times(late_clip)  # in the order the decoder puts frames out
    backward = sum(b <= a for a, b in zip(truth, truth[1:], strict=False))
    assert len(truth) == 90 and backward >= 10  # the file this test is about
    logs: list[str] = []
    source = VideoSource(str(late_clip), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    # each frame at its own timestamp; one put out after a later one is passed over
    on_time = [p for i, p in enumerate(truth) if all(p > q for q in truth[:i])]
    assert [f.t for f in frames] == pytest.approx(on_time, abs=1e-6)
    assert len(frames) == len(truth) - backward
    one_frame = 1.0 / source.fps  # OpenCV numbers frames as they come out, as ffprobe does
    assert all(abs(f.t - truth[f.index]) <= one_frame for f in frames)
    assert frames[-1].t <= _duration(late_clip)
    assert source.stats.timing == "pts"
    assert len(logs) == 1 and "came out of order" in logs[0] and "jump" not in logs[0]
    assert "own timestamps" in logs[0] and "\n" not in logs[0]


def _clock(logs: list[str], fps: float = 10.0) -> MediaClock:
    return MediaClock("clip.mkv", fps, known=True, invented=False, log=logs.append)


def test_late_frames_move_no_offset_however_many():
    """300 frames 100 ms apart, every third put out after the next one: 100 late frames,
    each at its own time, and the last frame still at its own timestamp (an offset moved
    at each made the error grow by a frame each time)."""
    order = []
    for k in range(0, 300, 3):
        order += [k, k + 2, k + 1]
    logs: list[str] = []
    clock = _clock(logs)
    times = [clock.time(i, pts * 100.0) for i, pts in enumerate(order)]
    assert times == pytest.approx([pts / 10 for pts in order])
    assert clock.late == 100 and clock.last_t == pytest.approx(29.9)
    assert clock.last_pts == pytest.approx(29.9) and clock.timing == "pts"
    assert len(logs) == 1 and "frame 2 came out of order (0.100 s after 0.200 s)" in logs[0]


def test_timestamps_that_start_again_are_a_jump_times_go_on():
    """A second recording appended (timestamps from 0 again) is no late frame: times go on
    one frame after the last, said once in the log."""
    pts_ms = [i * 100.0 for i in range(50)] + [i * 100.0 for i in range(30)]
    logs: list[str] = []
    clock = _clock(logs)
    times = [clock.time(i, ms) for i, ms in enumerate(pts_ms)]
    assert times == pytest.approx([i / 10 for i in range(80)])
    assert clock.late == 0
    assert logs == ["clip.mkv: timestamps jump at frame 50 (4.900 s to 0.000 s); times go on "
                    "from 5.000 s"]  # fmt: skip


def test_a_repeated_timestamp_is_no_late_frame():
    """A frame at the same timestamp as one before fills no hole: a jump, as before."""
    logs: list[str] = []
    clock = _clock(logs)
    times = [clock.time(i, ms) for i, ms in enumerate([0, 100, 200, 300, 200, 300, 400])]
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert clock.late == 0 and len(logs) == 1 and "timestamps jump at frame 4" in logs[0]


def test_a_step_over_a_minute_forward_is_a_jump():
    logs: list[str] = []
    clock = _clock(logs)
    times = [clock.time(i, ms) for i, ms in enumerate([0, 100, 200, 90_000, 90_100])]
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert len(logs) == 1 and "timestamps jump at frame 3" in logs[0]
