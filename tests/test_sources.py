from __future__ import annotations

import threading
from datetime import datetime, timedelta

import numpy as np
import pytest

from fieldtool.sources import Prefetcher, VideoSource, is_live
from fieldtool.types import FieldtoolError, Frame
from tests.conftest import write_video


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
    assert src.stats.reconnects == 1 and len(src.stats.gaps) == 2
    back, gone = src.stats.gaps  # the outage it came back from, then the one it did not
    assert back.end_t >= back.start_t and back.reason == "stream dropped"
    assert src.stats.lost and gone.reason == "stream dropped; not back after 3 tries"
    assert len(opens) == 2 + 3  # two good opens, then three failed tries
    assert "did not come back" in logs[-1]


def _frames(n: int, delay: float = 0.0, fail_at: int | None = None):
    import time as _time

    for i in range(n):
        if i == fail_at:
            raise RuntimeError("decoder broke")
        if delay:
            _time.sleep(delay)
        yield Frame(i, i / 10, datetime(2026, 6, 1), np.zeros((2, 2, 3), np.uint8))


def test_prefetcher_keeps_every_file_frame_in_order():
    got = [f.index for f, _ in Prefetcher(_frames(200), live=False, depth=4)]
    assert got == list(range(200))


def test_prefetcher_raises_reader_errors_after_earlier_frames():
    got = []
    with pytest.raises(RuntimeError, match="decoder broke"):
        for f, _ in Prefetcher(_frames(10, fail_at=6), live=False):
            got.append(f.index)
    assert got == [0, 1, 2, 3, 4, 5]


def test_live_prefetcher_serves_the_newest_frame_and_counts_drops():
    import time as _time

    reader = Prefetcher(_frames(60, delay=0.002), live=True)
    got = []
    for f, _ in reader:
        got.append(f.index)
        _time.sleep(0.02)  # a slow model
    assert got == sorted(got) and got[-1] == 59
    assert reader.dropped > 20 and len(got) + reader.dropped == 60


def test_prefetcher_stops_its_thread_when_the_consumer_stops():
    reader = Prefetcher(_frames(10_000), live=False, depth=2)
    for f, _ in reader:
        if f.index == 3:
            break
    reader_thread = reader._thread
    reader_thread.join(timeout=2)
    assert not reader_thread.is_alive()


def test_prefetcher_prepares_on_the_reader_thread():
    import threading as _threading

    threads = set()

    def prepare(frame):
        threads.add(_threading.current_thread().name)
        return frame.index * 2

    pairs = list(Prefetcher(_frames(5), live=False, prepare=prepare))
    assert [p for _, p in pairs] == [0, 2, 4, 6, 8] and threads == {"fieldtool-reader"}


class BigFrames:
    """A fake file source of 3 MiB frames that counts, on the reader thread, the frames made
    and not yet taken by the consumer (those queued plus the one in the reader's hands)."""

    def __init__(self, n: int, side: int = 1024) -> None:
        self.n = n
        self.side = side
        self.frame_bytes = side * side * 3
        self.made = 0
        self.taken = 0
        self.most_held = 0
        self.lock = threading.Condition()

    def __iter__(self):
        for i in range(self.n):
            image = np.zeros((self.side, self.side, 3), np.uint8)
            with self.lock:
                self.made += 1
                self.most_held = max(self.most_held, self.made - self.taken)
                self.lock.notify_all()
            yield Frame(i, i / 10, datetime(2026, 6, 1), image)

    def took_one(self) -> None:
        with self.lock:
            self.taken += 1

    def wait_made(self, count: int, timeout: float) -> None:
        with self.lock:
            self.lock.wait_for(lambda: self.made >= count, timeout=timeout)


def test_prefetcher_never_holds_more_than_its_byte_cap_plus_one_frame():
    """4K frames are 25 MB: a batch of 64 must not be queued whole when the cap is smaller
    (the pipeline asks for a batch as ``min_depth``)."""
    source = BigFrames(60)
    cap = 16 * 2**20  # five 3 MiB frames
    reader = Prefetcher(iter(source), live=False, depth=256, min_depth=64, max_bytes=cap)
    frames = iter(reader)
    first, _ = next(frames)
    source.took_one()
    # A reader that ignores the cap fills the queue at once; one that keeps it stops at
    # 5 queued + 1 in hand, and this bounded wait only decides how soon the test goes on.
    source.wait_made(1 + cap // source.frame_bytes + 2, timeout=2.0)
    got = [first.index]
    for frame, _ in frames:
        source.took_one()
        got.append(frame.index)
    assert got == list(range(60))  # nothing lost
    assert source.most_held * source.frame_bytes <= cap + 2 * source.frame_bytes
    #   queued (at most the cap) + the frame the reader holds + the one the consumer took


def test_prefetcher_takes_a_frame_larger_than_its_cap_alone():
    source = BigFrames(4)
    reader = Prefetcher(iter(source), live=False, max_bytes=2**20)  # 1 MiB: under one frame
    got = []
    for frame, _ in reader:
        source.took_one()
        got.append(frame.index)
    assert got == [0, 1, 2, 3]
    assert source.most_held <= 3  # one queued, one in the reader's hands, one just taken


def test_prefetcher_shrinks_big_frames_once_the_model_has_its_crops():
    """The classifier cuts its crops from the whole frame on the reader thread; what the
    pipeline keeps afterwards (views, snapshots, motion gate) is the frame scaled down."""
    seen: list[tuple[int, ...]] = []

    def prepare(frame):
        seen.append(frame.image.shape)
        return np.zeros((4, 8, 8, 3), np.uint8)  # the crops

    frames = [Frame(i, i / 10, datetime(2026, 6, 1), np.zeros((2160, 3840, 3), np.uint8))
              for i in range(3)]  # fmt: skip
    out = list(Prefetcher(iter(frames), live=False, prepare=prepare, keep_max_side=1280))
    assert seen == [(2160, 3840, 3)] * 3  # the crops came from the whole frame
    assert [f.image.shape for f, _ in out] == [(720, 1280, 3)] * 3
    assert all(p.shape == (4, 8, 8, 3) for _, p in out)
    # no crops made ahead (CUDA, a classifier without prepare): the model needs the frame
    whole = list(Prefetcher(iter(frames), live=False, keep_max_side=1280))
    assert [f.image.shape for f, _ in whole] == [(2160, 3840, 3)] * 3
