"""A real RTSP camera: the demo walk published by Debian's ffmpeg to a relay on 127.0.0.1
(tests/faults/rtsp_relay.py), read by VideoSource through OpenCV's FFmpeg backend.

The camera is taken away and brought back from inside the source's own log lines (the
source logs each reconnect try before it waits), so nothing here races a timer; every
wait on the real server is bounded (open and read timeouts, a watchdog that stops the
source), so a broken server fails the test instead of hanging it."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from fieldtool.sources import VideoSource

from ..conftest import REPO_ROOT
from .rtsp_relay import RtspCamera

DEMO_WALK = REPO_ROOT / "data" / "demo" / "walk_west.mp4"
WATCHDOG_S = 120.0


@pytest.fixture
def camera(tmp_path: Path):
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip(
            "Debian's ffmpeg is not installed (apt-get install ffmpeg; .ci/run installs it)"
        )
    if not DEMO_WALK.is_file():
        pytest.skip("demo walk not built")
    cam = RtspCamera(ffmpeg, DEMO_WALK, tmp_path / "ffmpeg.log").start()
    yield cam
    cam.stop()


def _source(url: str, log, **kw) -> VideoSource:
    return VideoSource(url, sample_fps=1000, reconnect_backoff_s=0.2, reconnect_backoff_max_s=1.0,
                       open_timeout_s=10.0, read_timeout_s=10.0, log=log, **kw)  # fmt: skip


def test_rtsp_frames_arrive_and_a_server_restart_is_a_gap_then_a_reconnect(camera):
    lines: list[str] = []
    restarted = threading.Event()

    def log(line: str) -> None:
        lines.append(line)
        if "reconnect try 2" in line and not restarted.is_set():
            camera.start()  # back after one refused try; the source waits, then reopens
            restarted.set()

    source = _source(camera.url, log, retry="forever")
    watchdog = threading.Timer(WATCHDOG_S, source.stop)
    watchdog.start()
    before, after = [], []
    try:
        for frame in source.frames():
            if not restarted.is_set():
                before.append(frame)
                if len(before) == 20:
                    camera.stop()  # the server dies mid-run
            else:
                after.append(frame)
                if len(after) == 20:
                    break
    finally:
        watchdog.cancel()
    assert len(before) >= 20 and len(after) == 20, lines
    assert before[0].image.shape == (240, 320, 3)
    stats = source.stats
    assert stats.reconnects == 1 and not stats.lost, lines
    (gap,) = stats.gaps
    assert gap.reason == "stream dropped" or "read timeout" in gap.reason
    assert gap.ended_at is not None
    assert before[-1].t <= gap.start_t + 1e-6 < gap.end_t <= after[0].t + 1e-6
    assert camera.relay.plays >= 2  # played again after the restart


def test_rtsp_server_that_stays_away_ends_the_source_as_lost(camera):
    lines: list[str] = []
    source = _source(camera.url, lines.append, retry=2)
    watchdog = threading.Timer(WATCHDOG_S, source.stop)
    watchdog.start()
    frames = []
    try:
        for frame in source.frames():
            frames.append(frame)
            if len(frames) == 15:
                camera.stop()  # and it never comes back
    finally:
        watchdog.cancel()
    stats = source.stats
    assert len(frames) >= 15
    assert stats.lost and stats.end_reason and "stream lost" in stats.end_reason, lines
    assert "not back after 2 tries" in stats.gaps[-1].reason and stats.gaps[-1].ended_at is None
    assert "did not come back after 2 tries" in lines[-1]
