from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from fieldtool.sources import VideoSource, is_live
from fieldtool.types import FieldtoolError

from .conftest import write_video


def test_file_frames_are_sampled_with_media_time(tmp_path):
    path = write_video(tmp_path / "v.avi", [(0, 2.0), (1, 2.0)], fps=10)
    start = datetime(2026, 6, 1, 9)
    src = VideoSource(str(path), sample_fps=2.0, start_time=start)
    frames = list(src.frames())
    assert [f.index for f in frames] == [0, 5, 10, 15, 20, 25, 30, 35]
    assert [f.t for f in frames] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    assert frames[3].wall_time == start + timedelta(seconds=1.5)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    assert src.stats.frames_read == 40 and src.stats.frames_yielded == 8


def test_sample_rate_above_video_rate_takes_every_frame(tmp_path):
    path = write_video(tmp_path / "v.avi", [(0, 1.0)], fps=10)
    assert len(list(VideoSource(str(path), sample_fps=100).frames())) == 10


def test_max_frames_stops_early(tmp_path):
    path = write_video(tmp_path / "v.avi", [(0, 3.0)], fps=10)
    src = VideoSource(str(path), sample_fps=10, max_frames=7)
    assert len(list(src.frames())) == 7


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _jpeg() -> bytes:
    import cv2

    return cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.mp4", "video file not found"),
        (lambda p: p, "is a folder"),
        (lambda p: _write(p / "empty.mp4", b""), "video file is empty"),
        (lambda p: _write(p / "junk.mp4", b"not a video" * 100), "video"),
        (lambda p: _write(p / "photo.jpg", _jpeg()), "video"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(FieldtoolError) as err:
        list(VideoSource(str(path)).frames())
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text


def test_path_with_spaces_and_non_ascii(tmp_path):
    folder = tmp_path / "feld aufnahmen ü"
    folder.mkdir()
    path = write_video(folder / "gang 1 ä.avi", [(0, 1.0)], fps=10)
    assert len(list(VideoSource(str(path), sample_fps=10).frames())) == 10


@pytest.mark.parametrize(
    ("uri", "live"),
    [("0", True), ("rtsp://cam/stream", True), ("http://x/y.mjpg", True), ("walk.mp4", False)],
)
def test_live_detection(uri, live):
    assert is_live(uri) is live


class FlakyCapture:
    """A fake live capture that yields n frames, then fails reads; ``opened`` False = down."""

    def __init__(self, n: int, opened: bool = True) -> None:
        self.n = n
        self.opened = opened

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened

    def get(self, prop) -> float:
        return 0.0

    def read(self):
        if self.n <= 0:
            return False, None
        self.n -= 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def release(self) -> None:
        pass


def test_live_stream_reconnects_records_gap_then_ends():
    """Up twice (3 frames each), then down for good: one reconnect, then a clean end."""
    opens: list[FlakyCapture] = []

    def open_capture(target):
        cap = FlakyCapture(3, opened=len(opens) < 2)
        opens.append(cap)
        return cap

    logs: list[str] = []
    src = VideoSource(
        "rtsp://127.0.0.1:1/none",
        sample_fps=1e9,
        reconnect_attempts=3,
        reconnect_backoff_s=0.001,
        log=logs.append,
        open_capture=open_capture,
    )
    frames = list(src.frames())
    assert len(frames) == 6
    assert src.stats.reconnects == 1 and len(src.stats.gaps) == 1
    lost, back = src.stats.gaps[0]
    assert back >= lost
    assert len(opens) == 2 + 3  # two good opens, then three failed tries
    assert "did not come back" in logs[-1]
