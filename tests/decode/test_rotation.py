"""Phone video: a phone held upright records its frames sideways and says in the container's
display matrix how far to turn them. OpenCV turns them (its default); PyAV hands them over as
stored, so every PyAV path (one decoder, decoding processes, YUV planes, NVDEC's device
planes) must turn them itself, or the classifier sees trees lying on their side and
snapshots are sideways: the same file must give the same upright frames whatever decodes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fieldtool.cli import DEMO_DATA
from fieldtool.colour import YuvImage
from fieldtool.decode import PyAVSource, SegmentedSource, video_source
from fieldtool.decode import pyav as pyav_module
from fieldtool.decode.pyav import yuv_planes
from fieldtool.types import Frame

from ..sources.conftest import write_h264_pyav

av = pytest.importorskip("av")

# cv2.rotate's code for a turn counter-clockwise by the display matrix's degrees
_CV_TURN = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180,
            270: cv2.ROTATE_90_CLOCKWISE}  # fmt: skip


def _images(frames: list[Frame]) -> list[np.ndarray]:
    return [frame.image for frame in frames]


def _assert_same_frames(got: list[Frame], want: list[Frame], what: str) -> None:
    assert [f.index for f in got] == [f.index for f in want], what
    for a, b in zip(_images(got), _images(want), strict=True):
        assert a.shape == b.shape, f"{what}: {a.shape} != {b.shape}"
        # decoders convert YUV alike to a grey level or two; a sideways frame differs by ~60
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 3.0, what


@pytest.fixture(scope="module", params=[90, 180, 270])
def phone_clip(request, tmp_path_factory):
    """(rotation in degrees, a 320x240 H.264 clip whose display matrix says to turn it so)."""
    path = tmp_path_factory.mktemp("phone") / f"phone_{request.param}.mp4"
    return request.param, str(write_h264_pyav(path, frames=60, size=(320, 240),
                                              rotation=request.param))  # fmt: skip


def test_opencv_turns_the_frames_upright(phone_clip):
    # what the PyAV paths are compared with: OpenCV turns by the display matrix
    rotation, clip = phone_clip
    stored = list(video_source(clip, decoder="opencv", sample_fps=10).frames())
    with av.open(clip) as container:
        raw = next(container.decode(video=0)).to_ndarray(format="bgr24")
    first = stored[0].image
    assert first.shape == cv2.rotate(raw, _CV_TURN[rotation]).shape
    assert np.abs(first.astype(int) - cv2.rotate(raw, _CV_TURN[rotation])).mean() < 3.0


@pytest.mark.parametrize("pixels", ["bgr", "yuv"])
def test_pyav_gives_opencvs_upright_frames(phone_clip, pixels):
    _, clip = phone_clip
    want = list(video_source(clip, decoder="opencv", sample_fps=10).frames())
    got = list(video_source(clip, decoder="pyav", pixels=pixels, sample_fps=10).frames())
    _assert_same_frames(got, want, f"pyav {pixels}")
    if pixels == "yuv":  # turned as planes (half the bytes), not converted to BGR to turn
        assert all(f.yuv is not None and f.size == f.image.shape[:2] for f in got)


@pytest.mark.parametrize("pixels", ["bgr", "yuv"])
def test_decoding_processes_give_opencvs_upright_frames(phone_clip, pixels):
    _, clip = phone_clip
    want = list(video_source(clip, decoder="opencv", sample_fps=10).frames())
    logs: list[str] = []
    source = SegmentedSource(clip, workers=2, pixels=pixels, sample_fps=10, log=logs.append)
    got = list(source.frames())
    assert any("worker processes" in line for line in logs), logs  # not one decoder
    _assert_same_frames(got, want, f"2 workers {pixels}")


def test_device_planes_are_turned_where_they_are(phone_clip, monkeypatch):
    # NVDEC's planes (a torch tensor on the GPU) are turned there: here a host tensor stands
    # in for the device copy, through the same source code
    rotation, clip = phone_clip
    turned: list[str] = []

    def on_device(frame):
        planes = yuv_planes(frame)
        assert planes is not None
        return YuvImage(torch.from_numpy(planes.data.copy()), planes.layout, planes.matrix,
                        planes.color_range)  # fmt: skip

    monkeypatch.setattr(pyav_module, "device_planes", on_device)
    source = video_source(clip, decoder="pyav", pixels="yuv", sample_fps=10)
    assert isinstance(source, PyAVSource)
    source.device_planes = True
    got = list(source.frames())
    turned = [type(f.yuv.data).__name__ for f in got if f.yuv is not None]
    assert turned and set(turned) == {"Tensor"}  # still where the decoder left them
    want = list(video_source(clip, decoder="opencv", sample_fps=10).frames())
    _assert_same_frames(got, want, f"device planes {rotation}")


@pytest.mark.parametrize("layout", ["i420", "nv12"])
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_turned_planes_are_the_turned_picture(layout, turns):
    # planes turned, then converted == converted, then turned; host and tensor alike
    rng = np.random.default_rng(turns)
    height, width = 6, 10
    luma = rng.integers(16, 236, (height, width), dtype=np.uint8)
    cb, cr = (rng.integers(16, 241, (height // 2, width // 2), dtype=np.uint8) for _ in "uv")
    if layout == "i420":
        chroma = np.concatenate([cb.ravel(), cr.ravel()]).reshape(height // 2, width)
    else:
        chroma = np.stack([cb, cr], axis=-1).reshape(height // 2, width)
    planes = YuvImage(np.concatenate([luma, chroma]), layout)
    want = np.rot90(planes.to_bgr(), turns)
    for data in (planes.data, torch.from_numpy(planes.data)):
        turned = YuvImage(data, layout).turned(turns)
        assert type(turned.data) is type(data)
        assert turned.size == want.shape[:2]
        assert np.array_equal(turned.to_bgr(), want)


def _sideways_walk(path: Path) -> Path:
    """The demo's west walk as a phone held upright stores it: each frame turned a quarter
    clockwise, the display matrix saying to turn it back (H.264, as phones write)."""
    with av.open(str(DEMO_DATA / "walk_west.mp4")) as src, av.open(str(path), "w") as out:
        rate = src.streams.video[0].average_rate
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 240, 320, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18"}
        stream.set_display_rotation(90)
        for frame in src.decode(video=0):
            stored = cv2.rotate(frame.to_ndarray(format="bgr24"), cv2.ROTATE_90_CLOCKWISE)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def test_a_phones_portrait_walk_is_upright_whatever_decodes_it(tmp_path):
    """The demo walk stored sideways, H.264 with B-frames as phones write it: PyAV (one
    decoder; two decoding processes, as BGR and as planes) gives OpenCV's upright frames,
    the same pixels (swscale converts for both), every one of the 375 kept."""
    clip = str(_sideways_walk(tmp_path / "portrait.mp4"))
    with av.open(clip) as container:
        assert next(container.decode(video=0)).to_ndarray(format="bgr24").shape == (320, 240, 3)
    want = list(video_source(clip, decoder="opencv", sample_fps=5).frames())
    assert len(want) == 375 and want[0].image.shape == (240, 320, 3)  # upright: landscape
    for name, source in [
        ("pyav", video_source(clip, decoder="pyav", sample_fps=5)),
        ("2 workers", SegmentedSource(clip, workers=2, sample_fps=5)),
    ]:
        got = list(source.frames())
        assert [f.index for f in got] == [f.index for f in want], name
        assert all(np.array_equal(a.image, b.image) for a, b in zip(got, want, strict=True)), name
    planes = list(SegmentedSource(clip, workers=2, pixels="yuv", sample_fps=5).frames())
    _assert_same_frames(planes, want, "2 workers, planes")
