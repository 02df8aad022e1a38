"""OpenCV's search past damaged data in files with key frames far apart (x264's default
GOP: a key frame every 250 frames, 16.7 s at 15 fps): it reads on at the first good key
frame after the damage, however far, and a file is called cut short only when nothing
after the damage decodes."""

from __future__ import annotations

import numpy as np
import pytest

from fieldtool.sources import VideoSource


def _long_gop_clip(path, *, fps: int, seconds: int, gop_s: int, size=(64, 48)):
    """An H.264 MP4 by PyAV's libx264: a key frame every ``gop_s`` s exactly (no scene-cut
    key frames, no B-frames), a box moving over a slowly changing background."""
    import av

    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(gop_s * fps), "crf": "23",
                          "bf": "0", "sc_threshold": "0"}  # fmt: skip
        for i in range(seconds * fps):
            image = np.zeros((height, width, 3), np.uint8)
            image[..., 0] = np.linspace(0, 255, width, dtype=np.float32)[None, :]
            image[..., 1] = (3 * i) % 256
            x = (i * 2) % (width - 16)
            image[10:26, x : x + 16] = (0, 0, 255)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def _damaged_key_frame(tmp_path, *, fps: int = 5, seconds: int = 60, gop_s: int = 20,
                       damaged_key: int = 1, to_the_end: bool = False):  # fmt: skip
    """A ``seconds`` s clip at ``fps`` with a key frame every ``gop_s`` s (small frames,
    no B-frames) whose bytes from 2 s before key frame number ``damaged_key`` to 2 s after
    it (``to_the_end``: to the last frame's; the index after it kept) are zeroed, and the
    key frames' times (s)."""
    import av

    video = _long_gop_clip(tmp_path / "longgop.mp4", fps=fps, seconds=seconds, gop_s=gop_s)
    with av.open(str(video)) as clean:
        stream = clean.streams.video[0]
        packets = [(float(p.pts * stream.time_base), p.pos, p.size, p.is_keyframe)
                   for p in clean.demux(stream) if p.size]  # fmt: skip
    keys = [t for t, _, _, key in packets if key]
    key_t = keys[damaged_key]
    # from 2 s before the key frame to 2 s after it: the key frame and frames both sides
    first = next(pos for t, pos, _, _ in packets if t >= key_t - 2.0)
    last = next(pos + size for t, pos, size, _ in packets if t >= key_t + 2.0)
    if to_the_end:
        last = max(pos + size for _, pos, size, _ in packets)
    data = bytearray(video.read_bytes())
    data[first:last] = bytes(last - first)
    video.write_bytes(bytes(data))
    return video, keys


def test_opencv_resumes_at_a_good_key_frame_past_a_damaged_one(tmp_path):
    """The trial's case: damage over the key frame at 20 s of a 60 s clip with key frames
    every 20 s. The 15 s seek landed on the damaged key frame, the 60 s one past the end,
    so the key frame at 40 s was never tried: the last 42 s were taken for a file cut
    short. Now the search steps on to the end and reads on from 40 s; the one gap is the
    damaged stretch."""
    video, keys = _damaged_key_frame(tmp_path)
    assert keys == pytest.approx([0.0, 20.0, 40.0])
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    times = [f.t for f in frames]
    assert times == sorted(set(times))  # each frame once, in order
    assert frames[-1].t > 59.0, (frames[-1].t, logs)  # read on to the end
    (gap,) = source.stats.gaps
    # up to the good key frame at 40 s and at most 16 frames on (OpenCV's seek starts 16
    # frames before its target: one within 16 frames of the key frame lands on the
    # damaged one before it)
    assert 17.0 < gap.start_t < 20.0 and 40.0 <= gap.end_t <= 40.0 + 17 / 5, gap
    assert "damaged data; resumed at frame" in gap.reason, gap.reason
    assert "truncated" not in gap.reason and "ends early" not in gap.reason
    assert not [f for f in frames if gap.start_t < f.t < gap.end_t]
    assert not any("stopped at" in line or "truncated" in line for line in logs), logs


def test_a_whole_file_damaged_to_its_end_is_called_damaged_not_truncated(tmp_path):
    """Nothing decodes after damage that runs from 38 s to the last frame, but the file is
    whole (its boxes end where the file does): the gap says damaged, not truncated."""
    video, _ = _damaged_key_frame(tmp_path, damaged_key=2, to_the_end=True)
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=5, log=logs.append)
    frames = list(source.frames())
    assert 37.0 < frames[-1].t < 40.0
    (gap,) = source.stats.gaps
    assert gap.end_t == pytest.approx(60.0) and "damaged" in gap.reason, gap.reason
    assert "truncated" not in gap.reason and "cut short" not in gap.reason, gap.reason
    assert not any("truncated" in line for line in logs), logs


def test_a_file_cut_short_is_called_truncated(tmp_path):
    """The index first (faststart), the file cut at 60 % of its bytes: its last box runs
    past the end of the file, so the gap says it was cut short."""
    video = _long_gop_clip(tmp_path / "cut.mp4", fps=5, seconds=60, gop_s=20)
    import av

    with (
        av.open(str(video)) as clean,
        av.open(str(tmp_path / "fs.mp4"), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(clean.streams.video[0])
        for packet in clean.demux(clean.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    data = (tmp_path / "fs.mp4").read_bytes()
    video.write_bytes(data[: int(len(data) * 0.6)])
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=5, log=logs.append)
    frames = list(source.frames())
    assert 20.0 < frames[-1].t < 50.0
    end = source.stats.gaps[-1]
    assert "file ends early" in end.reason and "cut short" in end.reason, end.reason
    assert any("truncated" in line for line in logs), logs
