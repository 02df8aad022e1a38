"""Media time of file frames: each frame's own presentation timestamp (PTS), never an
index over a frame rate that may be a guess; damage found by decode errors, never by a
frame count that may be an estimate."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from fieldtool.sources import VideoSource
from tests.conftest import write_video

from .conftest import presentation_times, write_raw_h264, write_vfr

# A phone's variable rate: 25, 8, 3.6, 25 and 12.5 fps in turn (multiples of 40 ms, so the
# muxers keep them exactly), then a steady 25 fps.
PHONE = [0.04, 0.12, 0.28, 0.04, 0.08] * 24 + [0.04] * 60


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_variable_rate_frames_carry_their_presentation_times(tmp_path, ffmpeg, suffix):
    video = write_vfr(ffmpeg, tmp_path / f"phone{suffix}", PHONE)
    truth = presentation_times(video)
    assert len(truth) == len(PHONE)
    assert truth[-1] == pytest.approx(sum(PHONE[:-1]), abs=0.002)  # the file really is VFR
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(len(PHONE)))
    one_frame = min(PHONE)
    late = [(f.index, f.t, pts) for f, pts in zip(frames, truth, strict=True)
            if abs(f.t - pts) > one_frame / 2]  # fmt: skip
    assert late == []
    assert source.stats.timing == "pts" and logs == []  # nothing to say about a good file


def test_a_variable_rate_mkv_with_an_estimated_frame_count_is_read_once(tmp_path, ffmpeg):
    """MKV has no frame count: OpenCV estimates one from the duration and a guessed rate
    (25 fps: 571 here for 180 frames); no seek past the real end, no frame read twice."""
    video = write_vfr(ffmpeg, tmp_path / "phone.mkv", PHONE)
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    assert source.frame_count != len(PHONE)  # the estimate this test is about
    assert len(frames) == source.stats.frames_read == len(PHONE)
    assert [f.t for f in frames] == sorted({f.t for f in frames})  # strictly increasing
    assert source.stats.gaps == [] and logs == []


def test_sampling_follows_presentation_time(tmp_path, ffmpeg):
    video = write_vfr(ffmpeg, tmp_path / "phone.mp4", PHONE)
    frames = list(VideoSource(str(video), sample_fps=2).frames())
    truth = presentation_times(video)
    # one frame per half second of media time: the first frame at or after each step
    expected = [next(i for i, t in enumerate(truth) if t >= k * 0.5 - 1e-6)
                for k in range(int(truth[-1] / 0.5) + 1)]  # fmt: skip
    assert [f.index for f in frames] == sorted(set(expected))


def test_raw_h264_says_its_frame_rate_is_unknown(tmp_path, ffmpeg):
    """A raw .h264 stream has no container and no timestamps: FFmpeg assumes 25 fps."""
    video = write_raw_h264(ffmpeg, tmp_path / "dashcam.h264", fps=15, seconds=2)
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    assert len(frames) == 30
    assert [f.t for f in frames] == pytest.approx([i / 25 for i in range(30)])
    assert len(logs) == 1 and str(video) in logs[0]
    assert "frame rate unknown, assumed 25 fps" in logs[0] and "\n" not in logs[0]
    assert source.stats.timing == "assumed frame rate"

    logs.clear()
    told = VideoSource(str(video), sample_fps=1000, assume_fps=15, log=logs.append)
    assert [f.t for f in told.frames()] == pytest.approx([i / 15 for i in range(30)])
    assert len(logs) == 1 and "frame rate unknown, assumed 15 fps" in logs[0]


def _avi_without_rate(path):
    """An MJPG AVI whose headers give no frame rate (stream rate 0, no frame period)."""
    write_video(path, [(0, 2.0)], fps=15)
    data = bytearray(path.read_bytes())
    avih = data.find(b"avih")
    struct.pack_into("<I", data, avih + 8, 0)  # dwMicroSecPerFrame
    strh = data.find(b"strh")
    assert data[strh + 8 : strh + 12] == b"vids"
    struct.pack_into("<II", data, strh + 8 + 20, 0, 0)  # dwScale, dwRate
    path.write_bytes(bytes(data))
    return path


def test_an_avi_with_frame_rate_zero_says_its_frame_rate_is_unknown(tmp_path):
    video = _avi_without_rate(tmp_path / "trap cam.avi")
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    assert len(frames) == 30
    assert [f.t for f in frames] == pytest.approx([i / 25 for i in range(30)])
    assert len(logs) == 1 and str(video) in logs[0]
    assert "frame rate unknown, assumed 25 fps" in logs[0]


def test_an_avi_with_its_rate_is_timed_without_a_word(tmp_path):
    video = write_video(tmp_path / "ok.avi", [(0, 2.0)], fps=15)
    logs: list[str] = []
    frames = list(VideoSource(str(video), sample_fps=1000, log=logs.append).frames())
    assert [f.t for f in frames] == pytest.approx([i / 15 for i in range(30)], abs=1e-3)
    assert logs == []


class FakeFile:
    """An OpenCV file capture over ``len(pts_ms)`` frames: presentation times in ms (None:
    the frame has none), the frame rate and count it reports (either may be a guess),
    frames in ``damaged`` that fail to decode, and FFmpeg's seek, which lands on the key
    frame (one every ``gop``) at or before the target."""

    def __init__(self, pts_ms: Sequence[float | None], *, fps: float = 10.0,
                 count: int | None = None, damaged: Sequence[int] = (), gop: int = 5) -> None:  # fmt: skip
        self.pts = list(pts_ms)
        self.fps = fps
        self.count = len(self.pts) if count is None else count
        self.damaged = set(damaged)
        self.gop = gop
        self.next = 0
        self.current = -1
        self.grabs = 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def release(self) -> None:
        pass

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return float(self.count)
        if prop == cv2.CAP_PROP_POS_MSEC:
            return float(self.pts[self.current] or 0.0) if self.current >= 0 else 0.0
        if prop == cv2.CAP_PROP_POS_FRAMES:
            return float(self.current + 1)
        return 0.0

    def grab(self) -> bool:
        if self.next >= len(self.pts) or self.next in self.damaged:
            return False
        self.current, self.next = self.next, self.next + 1
        self.grabs += 1
        return True

    def retrieve(self):
        return True, np.full((4, 4, 3), self.current % 256, np.uint8)

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_POS_MSEC:
            times = [p if p is not None else -1.0 for p in self.pts]
            target = next((i for i, p in enumerate(times) if p >= value), len(self.pts))
        elif prop == cv2.CAP_PROP_POS_FRAMES:
            target = int(value)
        else:
            return False
        self.next = min(target, len(self.pts) - 1) // self.gop * self.gop
        return True


def _fake_source(tmp_path, capture: FakeFile, logs: list[str], **kw) -> VideoSource:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\0" * 64)
    return VideoSource(str(path), sample_fps=1000, log=logs.append,
                       open_capture=lambda target: capture, **kw)  # fmt: skip


def test_a_file_without_timestamps_is_timed_by_its_frame_rate_and_says_so(tmp_path):
    logs: list[str] = []
    source = _fake_source(tmp_path, FakeFile([None] * 20, fps=10), logs)
    frames = list(source.frames())
    assert [f.t for f in frames] == pytest.approx([i / 10 for i in range(20)])
    assert len(logs) == 1 and "clip.mp4" in logs[0]
    assert "no timestamps: times from the frame rate (10 fps)" in logs[0]
    assert source.stats.timing == "frame rate"


def test_timestamps_that_jump_back_keep_times_increasing(tmp_path):
    pts = [0, 100, 200, 300, 150, 250, 350, 450]  # a glitch after 300 ms
    logs: list[str] = []
    frames = list(_fake_source(tmp_path, FakeFile(pts, fps=10), logs).frames())
    times = [f.t for f in frames]
    assert times[:4] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert times[4:] == pytest.approx([0.4, 0.5, 0.6, 0.7])  # on from the frame rate
    assert len(logs) == 1 and "timestamps jump" in logs[0]


def test_damage_is_found_by_a_failed_decode_and_skipped_with_a_gap(tmp_path):
    pts = [i * 100.0 for i in range(60)]
    capture = FakeFile(pts, fps=10, damaged=range(10, 15))
    logs: list[str] = []
    source = _fake_source(tmp_path, capture, logs, start_time=None)
    frames = list(source.frames())
    indices = [f.index for f in frames]
    assert indices[:10] == list(range(10)) and indices[10] >= 15 and indices[-1] == 59
    assert indices == sorted(set(indices))  # nothing read twice
    assert any("damaged data" in line for line in logs)
    (gap,) = source.stats.gaps
    assert gap.start_t == pytest.approx(0.9) and gap.end_t == pytest.approx(frames[10].t)
    assert "damaged data" in gap.reason
    assert gap.ended_at is not None
    assert (gap.ended_at - gap.started_at).total_seconds() == pytest.approx(gap.end_t - gap.start_t)


def test_a_frame_count_that_is_a_guess_neither_seeks_nor_rereads(tmp_path):
    """An MKV's count is duration x a guessed rate: 100 "frames" for 40 real ones here."""
    capture = FakeFile([i * 100.0 for i in range(40)], fps=25, count=100)
    logs: list[str] = []
    source = _fake_source(tmp_path, capture, logs)
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(40))
    assert source.stats.frames_read == 40 and source.stats.gaps == []
    assert [f.t for f in frames] == pytest.approx([i / 10 for i in range(40)])
    assert logs == []
