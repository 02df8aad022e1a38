"""OpenCV past damaged data: reading resumes at the first key frame after the damage (the
first frame that decodes whole: the frames between the damage and it are decoded from
references the damage took), not 16 frames after it, where OpenCV's seek can land."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import fieldtool.keyframes as keyframes
from fieldtool.sources import VideoSource
from tests.sources.test_damage_search import _damaged_key_frame, _long_gop_clip


def _zeroed(video, start_t: float, end_t: float):
    """``video`` with the bytes of its packets from ``start_t`` to ``end_t`` (s) zeroed."""
    import av

    with av.open(str(video)) as clean:
        stream = clean.streams.video[0]
        packets = [(float(p.pts * stream.time_base), p.pos, p.size)
                   for p in clean.demux(stream) if p.size]  # fmt: skip
    hit = [(pos, size) for t, pos, size in packets if start_t <= t < end_t]
    data = bytearray(video.read_bytes())
    for pos, size in hit:
        data[pos : pos + size] = bytes(size)
    damaged = video.with_name(f"damaged-{video.name}")
    damaged.write_bytes(bytes(data))
    return damaged


def _clean_frames(video) -> dict[int, np.ndarray]:
    """Every frame of an undamaged file by its time (ms, rounded), as OpenCV decodes it."""
    cap = cv2.VideoCapture(str(video))
    frames = {}
    while cap.grab():
        frames[round(cap.get(cv2.CAP_PROP_POS_MSEC))] = cap.retrieve()[1]
    cap.release()
    return frames


def test_a_damaged_key_frame_resumes_at_the_next_key_frame_itself(tmp_path):
    """Defect: damage over the key frame at 20 s of a clip with key frames every 20 s
    (5 fps) resumed at 43.2 s, 16 frames after the good key frame at 40 s: OpenCV's seek
    starts 16 frames before its target, so a target closer to 40 s landed on the damaged
    key frame. Now reading goes on past the damage to the key frame at 40 s, and from it
    every frame is the undamaged file's."""
    video, keys = _damaged_key_frame(tmp_path)
    assert keys == pytest.approx([0.0, 20.0, 40.0])
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    (gap,) = source.stats.gaps
    assert gap.end_t == pytest.approx(40.0), (gap, logs)
    assert 17.0 < gap.start_t < 20.0 and "resumed at frame 200" in gap.reason, gap
    after = [f for f in frames if f.t >= 40.0 - 1e-6]
    assert after[0].index == 200 and after[0].t == pytest.approx(40.0)
    assert [f.index for f in after] == list(range(200, 300))  # each frame once, in order
    assert not [f for f in frames if gap.start_t < f.t < gap.end_t]
    clean = _clean_frames(_long_gop_clip(tmp_path / "clean.mp4", fps=5, seconds=60, gop_s=20))
    for frame in after:
        assert np.array_equal(frame.image, clean[round(frame.t * 1000)]), frame.t


def test_damage_inside_a_gop_resumes_at_the_next_key_frame(tmp_path):
    """Damage to a few frames in the middle of a GOP (30 fps, a key frame every 2 s): the
    frames after it up to the next key frame are decoded from lost references (not the
    file's pictures: left out, in the gap) and reading resumes at the key frame at 4 s,
    not 16 frames (0.53 s) after it."""
    clean = _long_gop_clip(tmp_path / "gop2.mp4", fps=30, seconds=6, gop_s=2)
    video = _zeroed(clean, 2.5, 2.8)
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    (gap,) = source.stats.gaps
    assert gap.start_t == pytest.approx(2.5 - 1 / 30) and gap.end_t == pytest.approx(4.0), gap
    assert "resumed at frame 120" in gap.reason, gap.reason
    times = [f.t for f in frames]
    assert times == sorted(set(times)) and not [t for t in times if gap.start_t < t < 4.0]
    assert [f.index for f in frames if f.t >= 4.0 - 1e-6] == list(range(120, 180))
    pictures = _clean_frames(clean)
    for frame in frames:
        assert np.array_equal(frame.image, pictures[round(frame.t * 1000)]), frame.t


def test_without_key_frames_to_read_on_to_the_seek_search_still_resumes(tmp_path, monkeypatch):
    """Where the key frames after the damage cannot be listed (no PyAV, a container PyAV
    cannot read), the seek search resumes as before: at most 16 frames after the good
    key frame."""
    monkeypatch.setattr(keyframes, "key_frames_after", lambda *args, **kwargs: [])
    video, _ = _damaged_key_frame(tmp_path)
    source = VideoSource(str(video), sample_fps=1000)
    frames = list(source.frames())
    (gap,) = source.stats.gaps
    assert 40.0 <= gap.end_t <= 40.0 + 17 / 5 and frames[-1].t > 59.0, gap
