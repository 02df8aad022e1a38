"""An unattended camera: retry forever (or N times) with capped backoff, each outage a gap
with wall times and a reason, a stream that stays away ends the source as lost.

Fake captures and an injected sleep and clock: nothing here waits on real time."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from fieldtool import sources
from fieldtool.sources import Prefetcher, VideoSource
from fieldtool.types import FieldtoolError

URL = "rtsp://127.0.0.1:1/cam"


class FakeClock:
    """``time.monotonic`` stand-in: moves only when told (reads and sleeps move it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Camera:
    """A live capture scripted per connection: ``plan[k]`` is what the k-th open gives,
    an int (that many frames, then the stream drops), ``"frozen"`` (one frame, then a read
    that lasts ``read_s`` on the clock and fails: a read timeout), ``"late"`` (one frame,
    then a read that lasts ``read_s`` and gives a stale frame, then drops) or None (not
    answering).
    Opens past the plan are not answered. Each read moves the clock ``frame_s``."""

    def __init__(self, plan, clock: FakeClock, frame_s: float = 0.1, read_s: float = 10.0):
        self.plan = list(plan)
        self.clock = clock
        self.frame_s = frame_s
        self.read_s = read_s
        self.opens = 0

    def __call__(self, target):
        step = self.plan[self.opens] if self.opens < len(self.plan) else None
        self.opens += 1
        return Connection(step, self)


class Connection:
    def __init__(self, step, camera: Camera) -> None:
        self.step = step
        self.camera = camera
        self.left = 1 if step in ("frozen", "late") else (step or 0)

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.step is not None

    def get(self, prop) -> float:
        return 0.0

    def read(self):
        if self.step == "late" and self.left == 0:  # a stalled stream's stale frame, late
            self.left = -1
            self.camera.clock.now += self.camera.read_s
            return True, np.full((4, 4, 3), 7, np.uint8)
        if self.left <= 0:
            self.camera.clock.now += self.camera.read_s if self.step == "frozen" else 0.01
            return False, None
        self.left -= 1
        self.camera.clock.now += self.camera.frame_s
        return True, np.zeros((4, 4, 3), np.uint8)

    def release(self) -> None:
        pass


def _source(camera: Camera, clock: FakeClock, sleeps: list[float], **kw) -> VideoSource:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    kw.setdefault("log", lambda line: None)
    return VideoSource(URL, sample_fps=1e9, open_capture=camera, sleep=sleep, clock=clock, **kw)


def test_forever_retry_keeps_trying_until_told_to_stop():
    clock = FakeClock()
    sleeps: list[float] = []
    camera = Camera([3], clock)  # 3 frames, then gone
    source = _source(camera, clock, sleeps, retry="forever", reconnect_backoff_s=1.0)

    def sleep_then_stop(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds
        if len(sleeps) == 200:  # far past any finite default
            source.stop()

    source._sleep = sleep_then_stop  # the stop comes from "another thread"
    frames = list(source.frames())
    assert len(frames) == 3 and len(sleeps) == 200 and camera.opens == 1 + 199
    assert not source.stats.lost and source.stats.end_reason == "stopped"


def test_forever_retry_ends_on_ctrl_c():
    clock = FakeClock()
    sleeps: list[float] = []
    camera = Camera([2], clock)
    source = _source(camera, clock, sleeps)  # retry: forever is the default for streams

    def interrupted(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 50:
            raise KeyboardInterrupt

    source._sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        list(source.frames())
    assert len(sleeps) == 50


def test_a_stopped_source_ends_a_forever_retry_inside_the_prefetcher():
    """The pipeline reads through a Prefetcher: when its consumer stops (Ctrl-C, an error),
    the reader thread must not go on retrying a dead camera in the background."""
    camera_up = threading.Event()
    frames_given = [0]

    class Once:
        def __init__(self, target) -> None:
            self.up = not camera_up.is_set()
            camera_up.set()

        def isOpened(self) -> bool:  # noqa: N802
            return self.up

        def get(self, prop) -> float:
            return 0.0

        def read(self):
            if frames_given[0] >= 3:
                return False, None
            frames_given[0] += 1
            return True, np.zeros((4, 4, 3), np.uint8)

        def release(self) -> None:
            pass

    # real waits: the backoff sleeps on the source's stop event, so stopping wakes it
    source = VideoSource(URL, sample_fps=1e9, retry="forever", reconnect_backoff_s=60.0,
                         open_capture=Once)  # fmt: skip
    reader = Prefetcher(source.frames(), live=True)
    for frame, _ in reader:
        if frame.index == 2:
            break
    reader._thread.join(timeout=30)
    assert not reader._thread.is_alive()
    assert source.stats.end_reason == "stopped"


def test_backoff_doubles_up_to_its_cap():
    clock = FakeClock()
    sleeps: list[float] = []
    camera = Camera([2], clock)
    source = _source(camera, clock, sleeps, retry=9, reconnect_backoff_s=1.0,
                     reconnect_backoff_max_s=30.0)  # fmt: skip
    list(source.frames())
    assert sleeps == [1, 2, 4, 8, 16, 30, 30, 30, 30]


def test_outages_are_gaps_with_media_and_wall_times_and_a_reason():
    clock = FakeClock()
    sleeps: list[float] = []
    # up (5 frames), drops; 2 failed tries; up (5 frames); frozen; up; then gone for good
    camera = Camera([5, None, None, 5, "frozen", 4], clock, frame_s=0.1, read_s=10.0)
    logs: list[str] = []
    source = _source(camera, clock, sleeps, retry=3, reconnect_backoff_s=1.0,
                     read_timeout_s=10.0, log=logs.append)  # fmt: skip
    frames = list(source.frames())
    assert len(frames) == 5 + 5 + 1 + 4
    stats = source.stats
    assert stats.reconnects == 3 and stats.lost
    first, second, frozen, last = stats.gaps
    # first outage: from the failed read after frame 5 to the first frame back
    assert first.start_t == pytest.approx(frames[4].t, abs=0.05)
    assert first.end_t == pytest.approx(frames[5].t)
    assert first.end_t - first.start_t == pytest.approx(1 + 2 + 4 + 0.1, abs=0.05)
    assert first.reason == second.reason == "stream dropped"
    assert "read timeout" in frozen.reason and "10 s" in frozen.reason
    assert frozen.end_t == pytest.approx(frames[11].t)
    assert "not back after 3 tries" in last.reason and last.ended_at is None  # never back
    for gap in (first, second, frozen):
        assert gap.ended_at is not None
        wall = (gap.ended_at - gap.started_at).total_seconds()
        assert wall == pytest.approx(gap.end_t - gap.start_t, abs=1e-5)
        since_first = (gap.started_at - frames[0].wall_time).total_seconds()
        assert since_first == pytest.approx(gap.start_t - frames[0].t, abs=1e-5)


def test_a_stream_that_stays_away_ends_the_source_as_lost():
    clock = FakeClock()
    sleeps: list[float] = []
    camera = Camera([4], clock)
    logs: list[str] = []
    source = _source(camera, clock, sleeps, retry=3, reconnect_backoff_s=0.5, log=logs.append)
    frames = list(source.frames())  # ends, no error: the frames so far are kept
    assert len(frames) == 4 and camera.opens == 1 + 3
    assert source.stats.lost and source.stats.reconnects == 0
    reason = source.stats.end_reason
    assert reason and "\n" not in reason and "stream lost" in reason and "3 tries" in reason
    assert "did not come back" in logs[-1]


def test_a_camera_that_never_answers_with_a_number_of_tries_is_an_error():
    clock = FakeClock()
    sleeps: list[float] = []
    camera = Camera([], clock)
    source = _source(camera, clock, sleeps, retry=2)
    with pytest.raises(FieldtoolError, match="cannot open stream \\(3 tries\\)"):
        list(source.frames())
    assert sleeps == [1.0, 2.0]


def test_the_old_reconnect_attempts_still_sets_a_number_of_tries():
    clock = FakeClock()
    sleeps: list[float] = []
    source = _source(Camera([1], clock), clock, sleeps, reconnect_attempts=2)
    list(source.frames())
    assert len(sleeps) == 2 and source.stats.lost


def test_network_streams_open_with_open_and_read_timeouts(monkeypatch):
    calls: list[tuple] = []

    class Recorder:
        def __init__(self, *args) -> None:
            calls.append(args)

        def isOpened(self) -> bool:  # noqa: N802
            return False

        def release(self) -> None:
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", Recorder)
    source = VideoSource(URL, retry=0, open_timeout_s=4.0, read_timeout_s=2.5)
    with pytest.raises(FieldtoolError):
        list(source.frames())
    (args,) = calls
    assert args[0] == URL and args[1] == cv2.CAP_FFMPEG
    params = dict(zip(args[2][::2], args[2][1::2], strict=True))
    assert params == {cv2.CAP_PROP_OPEN_TIMEOUT_MSEC: 4000, cv2.CAP_PROP_READ_TIMEOUT_MSEC: 2500}

    calls.clear()
    with pytest.raises(FieldtoolError):
        list(VideoSource("0", retry=0).frames())  # a camera index: no network timeouts
    assert calls == [(0,)]


@pytest.mark.parametrize(
    ("given", "tries"),
    [({}, "forever"), ({"source.retry": 3}, 3), ({"source.retry": "forever"}, "forever"),
     ({"source.reconnect_attempts": 2}, 2)],
)  # fmt: skip
def test_the_configured_retry_reaches_a_source_built_from_either_name(given, tries):
    from fieldtool.config import load_config

    config = load_config(None, given).source
    assert config.retry == tries
    assert VideoSource(URL, retry=config.retry).retry == tries
    # a caller that still passes only the old name gets the same
    assert VideoSource(URL, reconnect_attempts=config.reconnect_attempts).retry == tries


def test_a_live_stream_is_analysed_at_the_sample_rate():
    """A new-user trial found: a 15 fps stream at --sample-fps 5 was analysed at about 4
    frames/s (each interval rounded up to the next frame). Frames are kept on a grid of
    1/sample_fps, as files are."""
    clock = FakeClock()
    camera = Camera([152], clock, frame_s=0.0657)  # a camera's 15 fps, a little fast
    source = VideoSource(URL, sample_fps=5.0, open_capture=camera, clock=clock,
                         sleep=lambda s: None, retry=0, log=lambda line: None)  # fmt: skip
    frames = list(source.frames())
    assert len(frames) in (49, 50, 51)  # 10 s at 5 frames/s
    steps = np.diff([f.t for f in frames])
    assert steps.min() > 0.13 and steps.max() < 0.27  # never two frames' worth late


def test_a_frame_that_comes_only_at_the_read_timeout_is_no_frame_and_starts_the_outage():
    """A new-user trial found: a frozen stream gave one more frame when the read timed out
    (5 s after the last), analysed at that late time with a stale picture, and the outage
    began there, 5 s late: dead time counted as surveyed. No line said the stream came
    back."""
    clock = FakeClock()
    sleeps: list[float] = []
    camera = Camera([3, "late", 4], clock, frame_s=0.1, read_s=5.0)
    logs: list[str] = []
    source = _source(camera, clock, sleeps, retry=3, reconnect_backoff_s=1.0,
                     read_timeout_s=5.0, log=logs.append)  # fmt: skip
    frames = list(source.frames())
    assert not any(int(f.image[0, 0, 0]) == 7 for f in frames)  # the stale frame: not used
    late = [g for g in source.stats.gaps if "read timeout" in g.reason]
    assert len(late) == 1, source.stats.gaps
    before = [f for f in frames if f.t <= late[0].start_t + 1e-9]
    assert late[0].start_t - before[-1].t < 0.2  # from the last good frame, not 5 s on
    assert any("frames again" in line for line in logs), logs
