"""Faults at the source: a live stream that drops and comes back, damaged video files."""

from __future__ import annotations

import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from fieldtool.config import Config, SmoothingConfig
from fieldtool.pipeline import run_session
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore, query
from fieldtool.types import FieldtoolError, SessionStatus

from ..conftest import COLOURS, REPO_ROOT, write_video

DEMO_WALK = REPO_ROOT / "data" / "demo" / "walk_west.mp4"


class MjpegServer:
    """An MJPEG-over-HTTP camera on 127.0.0.1 that serves ``frames_per_connection`` red
    frames per connection, then drops it; ``stop()`` takes the camera away for good.

    ``freeze``: a frozen server: after its frames it keeps the connection open and sends
    nothing (until ``stop()``), and connections after the first get no frame at all."""

    @classmethod
    def on_port(cls, port: int, **kw) -> MjpegServer:
        return cls(port=port, **kw)

    def __init__(self, frames_per_connection: int = 20, fps: float = 40.0, port: int = 0,
                 freeze: bool = False) -> None:  # fmt: skip
        jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), COLOURS[0], np.uint8))[1].tobytes()
        part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
        self.connections = 0
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.connections += 1
                frames = frames_per_connection if server.connections == 1 or not freeze else 0
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for _ in range(frames):
                        self.wfile.write(part + jpeg + b"\r\n")
                        time.sleep(1 / fps)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if freeze:
                    server.released.wait(120)  # frozen: connected, silent

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def config_for(db) -> Config:
    cfg = Config()
    cfg.smoothing = SmoothingConfig(
        tau_s=0.1, enter=0.5, exit=0.3, min_duration_s=0.1, max_gap_s=30
    )
    cfg.store.db = db
    return cfg


def test_dropped_stream_reconnects_keeps_its_sighting_and_ends_cleanly(tmp_path, colour_classifier):
    server = MjpegServer(frames_per_connection=20)
    logs: list[str] = []
    source = VideoSource(server.url, sample_fps=1000, reconnect_attempts=2, reconnect_backoff_s=0.05,
                         log=logs.append)  # fmt: skip
    stopper = threading.Timer(2.0, server.stop)  # two or more connections, then gone for good
    stopper.start()
    db = tmp_path / "live.duckdb"
    try:
        result = run_session(source, colour_classifier, SightingStore(db), config_for(db))
    finally:
        stopper.cancel()
        server.stop()
    assert server.connections >= 2 and result.reconnects >= 1
    assert len(source.stats.gaps) == result.reconnects + 1  # the last outage: not back
    assert source.stats.lost and "stream lost" in (source.stats.end_reason or "")
    assert any("did not come back" in line for line in logs)
    assert result.session.status == SessionStatus.STREAM_LOST  # not "finished", exit 1
    assert len(query(db, "SELECT * FROM source_gaps")) == len(source.stats.gaps)
    rows = query(db, "SELECT species, status FROM sightings")
    assert rows.values.tolist() == [["Acer rubrum", "closed"]]  # gaps < max_gap: one sighting


def test_a_stream_that_never_answers_is_retried_then_a_clear_error(colour_classifier):
    logs: list[str] = []
    source = VideoSource("http://127.0.0.1:9/none.mjpg", reconnect_attempts=2,
                         reconnect_backoff_s=0.01, log=logs.append)  # fmt: skip
    with pytest.raises(FieldtoolError, match="cannot open stream \\(3 tries\\)"):
        list(source.frames())
    assert sum("not answering" in line for line in logs) == 2


def test_a_frozen_stream_times_out_instead_of_hanging_and_is_lost():
    """A server that stops sending but keeps the connection: FFmpeg's own read timeout is
    30 s; read_timeout_s (1 s here) notices it, the outage is a gap with its reason, and a
    server that stays frozen (its reopen gives no frame) ends the source as lost."""
    server = MjpegServer(frames_per_connection=5, freeze=True)
    logs: list[str] = []
    source = VideoSource(server.url, sample_fps=1000, retry=1, reconnect_backoff_s=0.05,
                         open_timeout_s=1.0, read_timeout_s=1.0, log=logs.append)  # fmt: skip
    began = time.monotonic()
    try:
        frames = list(source.frames())
    finally:
        server.stop()
    assert len(frames) >= 3
    assert source.stats.lost and source.stats.reconnects == 0
    (gap,) = source.stats.gaps
    assert "read timeout" in gap.reason and "not back after 1 try" in gap.reason
    assert time.monotonic() - began < 25  # a bounded wait: 1 s timeouts, not 30 s ones


def test_a_camera_that_comes_up_late_is_used(colour_classifier):
    server = MjpegServer(frames_per_connection=10)
    url = server.url
    server.stop()  # not up yet
    late = {"server": None}

    def start_late():
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        late["server"] = MjpegServer.on_port(port, frames_per_connection=10)
        threading.Timer(1.0, late["server"].stop).start()  # then gone for good

    timer = threading.Timer(0.2, start_late)
    timer.start()
    try:
        source = VideoSource(url, sample_fps=1000, reconnect_attempts=3, reconnect_backoff_s=0.1)
        frames = list(source.frames())
    finally:
        timer.cancel()
    assert len(frames) >= 5


@pytest.fixture
def demo_copy(tmp_path):
    if not DEMO_WALK.is_file():
        pytest.skip("demo walk not built")
    return Path(shutil.copy(DEMO_WALK, tmp_path / "walk.mp4"))


def test_truncated_avi_keeps_the_frames_before_the_cut(tmp_path):
    video = write_video(tmp_path / "walk.avi", [(0, 4.0)], fps=10)
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    logs: list[str] = []
    frames = list(VideoSource(str(cut), sample_fps=10, log=logs.append).frames())
    assert 5 <= len(frames) < 40


def test_truncated_mp4_without_its_index_is_one_clear_line(tmp_path, demo_copy):
    data = demo_copy.read_bytes()
    cut = tmp_path / "cut 2 ü.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(FieldtoolError) as err:
        list(VideoSource(str(cut), sample_fps=1).frames())
    assert "cut 2 ü.mp4" in str(err.value) and "\n" not in str(err.value)


def test_corrupted_middle_of_a_video_does_not_stop_the_session(tmp_path, demo_copy):
    data = bytearray(demo_copy.read_bytes())
    rng = np.random.default_rng(0)
    middle = len(data) // 2
    data[middle : middle + 20000] = rng.integers(0, 255, 20000, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    logs: list[str] = []
    source = VideoSource(str(broken), sample_fps=1, log=logs.append)
    frames = list(source.frames())
    assert len(frames) >= 60  # decoding carries on past the damage
    assert any("damaged data" in line for line in logs) and source.stats.gaps


def test_damage_is_said_by_fieldtool_once_not_by_ffmpeg_line_by_line(tmp_path):
    """OpenCV's FFmpeg prints a line for every damaged macroblock row of a damaged file
    (hundreds for 1/20 of the demo walk zeroed): fieldtool says the damage itself, once, so
    FFmpeg's own lines are kept out of the output (a fresh process: FFmpeg's level is set
    when OpenCV's backend starts)."""
    import subprocess
    import sys

    video = tmp_path / "damaged.mp4"
    data = bytearray(DEMO_WALK.read_bytes())
    middle, size = len(data) // 2, len(data) // 20
    data[middle : middle + size] = bytes(size)
    video.write_bytes(bytes(data))
    script = (
        "import sys\n"
        "from fieldtool.sources import VideoSource\n"
        f"source = VideoSource({str(video)!r}, sample_fps=5, log=print)\n"
        "frames = sum(1 for _ in source.frames())\n"
        "print('frames', frames, 'gaps', len(source.stats.gaps))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "damaged data" in done.stdout and "gaps 1" in done.stdout
    ffmpeg_lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert ffmpeg_lines == [], ffmpeg_lines[:5]


def test_a_stream_that_does_not_answer_is_said_by_fieldtool_not_by_opencv(tmp_path):
    """A new-user trial found: every reconnect try printed OpenCV's own "[ WARN:0@...]
    ... can't be used to capture by name" beside fieldtool's line on the same try."""
    import os
    import subprocess
    import sys

    script = (
        "from fieldtool.sources import VideoSource\n"
        "s = VideoSource('tcp://127.0.0.1:9', sample_fps=1, retry=1, reconnect_backoff_s=0.1,"
        " log=print)\n"
        "try:\n    list(s.frames())\nexcept Exception as exc:\n    print('error', exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}  # as users have it
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env)  # fmt: skip
    assert "reconnect try 1/1" in done.stdout and "cannot open stream" in done.stdout
    warned = [line for line in done.stderr.splitlines() if line.startswith("[ WARN")]
    assert warned == [], warned
