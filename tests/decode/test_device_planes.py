"""NVDEC's frames kept where they were decoded: :func:`device_planes` copies an NV12 frame's
planes through DLPack into one torch tensor on the frame's device, and everything after it
(the session's frames, the classifier, a snapshot's BGR) takes such planes as it takes host
ones. The GPU itself is not here; PyAV exports host frames through the same DLPack calls,
so these tests run the code NVDEC's frames run (benchmarks/yuv_decode.py compares NVDEC's
planes with the software decoder's on the GPU machine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fieldtool.batches import MotionGate
from fieldtool.classify import DinoClassifier
from fieldtool.colour import YuvImage
from fieldtool.decode import PyAVSource, video_source
from fieldtool.decode import pyav as pyav_module
from fieldtool.decode.pyav import PlanesRefused, device_planes, yuv_planes
from fieldtool.model import load_model_folder

from .test_yuv_frames import _write

av = pytest.importorskip("av")


def _write_nv12(path: Path, width: int = 200, height: int = 120, count: int = 5) -> Path:
    """A raw NV12 clip (what NVDEC's surfaces hold) with a BT.709 stream, random pixels."""
    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("rawvideo", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "nv12"
        stream.codec_context.colorspace = 1  # BT.709
        for _ in range(count):
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def test_device_planes_are_the_frames_nv12_planes(tmp_path):
    clip = _write_nv12(tmp_path / "nv12.mkv")
    with av.open(str(clip)) as container:
        frames = list(container.decode(video=0))
    for frame in frames:
        planes = device_planes(frame)
        assert planes is not None and isinstance(planes.data, torch.Tensor)
        assert planes.data.is_contiguous() and planes.data.shape == (180, 200)
        assert (planes.layout, planes.matrix, planes.color_range) == ("nv12", "bt709", "limited")
        assert np.array_equal(planes.data.numpy(), frame.to_ndarray())


def test_pitched_rows_are_copied_without_their_padding(tmp_path):
    # a converted frame's rows are padded to an aligned pitch, as GPU surfaces are
    clip = _write(tmp_path / "clip.mp4")
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0)).reformat(width=202, height=120, format="nv12")
    assert frame.planes[0].line_size > frame.width  # the case this test is for
    planes = device_planes(frame)
    assert planes is not None
    assert np.array_equal(planes.data.numpy(), frame.to_ndarray())


def test_only_nv12_frames_become_device_planes(tmp_path):
    clip = _write(tmp_path / "clip.mp4")  # yuv420p
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
    assert device_planes(frame) is None
    assert yuv_planes(frame) is not None  # the host path still takes it


def test_a_session_of_device_planes_equals_one_of_host_planes(tmp_path, monkeypatch):
    clip = str(_write_nv12(tmp_path / "nv12.mkv"))
    host = list(video_source(clip, decoder="pyav", pixels="yuv", sample_fps=5).frames())
    source = video_source(clip, decoder="pyav", pixels="yuv", sample_fps=5)
    assert isinstance(source, PyAVSource)
    source.device_planes = True  # what NVDEC with pixels yuv sets (below)
    kept = list(source.frames())
    assert [(f.index, f.t) for f in kept] == [(f.index, f.t) for f in host] and len(host) == 3
    for ours, theirs in zip(kept, host, strict=True):
        assert isinstance(ours.yuv.data, torch.Tensor)
        assert np.array_equal(ours.yuv.data.numpy(), theirs.yuv.data)
        assert ours.nbytes == theirs.nbytes
        assert np.array_equal(ours.image, theirs.image)  # BGR for a snapshot, on the host


def test_nvdec_with_yuv_pixels_keeps_frames_on_the_gpu(tmp_path, monkeypatch):
    clip = str(_write_nv12(tmp_path / "nv12.mkv"))
    monkeypatch.setattr(pyav_module, "nvdec_unavailable", lambda uri, gpu=0: None)
    assert PyAVSource(clip, decoder="nvdec", pixels="yuv").device_planes
    assert not PyAVSource(clip, decoder="nvdec", pixels="bgr").device_planes
    assert not PyAVSource(clip, decoder="pyav", pixels="yuv").device_planes
    settings = pyav_module._hwaccel(0, on_device=True)
    assert settings.is_hw_owned  # in torch's context, current on the opening thread:
    assert settings.options == {"primary_ctx": "0", "current_ctx": "1"}
    assert not pyav_module._hwaccel(0).is_hw_owned


def test_the_classifier_takes_planes_on_its_device(tmp_path, tiny_model_dir):
    model = load_model_folder(tiny_model_dir)
    classifier = DinoClassifier(model, device="cpu", tiles=2)
    classifier.device_preprocess = True  # the CUDA path's arithmetic, on the CPU
    clip = str(_write_nv12(tmp_path / "nv12.mkv"))
    host = [f.yuv for f in video_source(clip, decoder="pyav", pixels="yuv", sample_fps=5).frames()]
    on_device = [YuvImage(torch.from_numpy(p.data.copy()), p.layout, p.matrix, p.color_range)
                 for p in host]  # fmt: skip
    expected = classifier.preprocess(host)
    assert torch.equal(classifier.preprocess(on_device), expected)
    mixed = [on_device[0], host[1], on_device[2]]  # a batch of both: one tensor on the device
    assert torch.equal(classifier.preprocess(mixed), expected)


def test_planes_of_another_type_are_refused():
    with pytest.raises(ValueError, match=r"uint8"):
        YuvImage(torch.zeros((180, 200), dtype=torch.float32))
    with pytest.raises(ValueError, match=r"\(H \* 3 / 2, W\)"):
        YuvImage(torch.zeros((181, 200), dtype=torch.uint8))


def test_the_motion_gate_shrinks_planes_on_their_device(tmp_path):
    clip = str(_write_nv12(tmp_path / "nv12.mkv", width=320, height=240, count=2))
    host = [f.yuv for f in video_source(clip, decoder="pyav", pixels="yuv", sample_fps=10).frames()]
    gate = MotionGate(threshold=3.0)
    for planes in host:
        on_device = YuvImage(torch.from_numpy(planes.data.copy()), planes.layout, planes.matrix,
                             planes.color_range)  # fmt: skip
        ours, theirs = gate._thumbnail(on_device), gate._thumbnail(planes)
        assert ours.shape == theirs.shape == (32, 32) and ours.dtype == np.int16
        # OpenCV's area resize weighs a pixel on a cell's edge by its share (240 / 32 is
        # 7.5 rows a cell), torch's by whole pixels: grey levels within about one, far
        # under a gate's threshold, and the gate compares one stream's thumbnails only
        assert np.abs(ours - theirs).mean() < 1.0 and np.abs(ours - theirs).max() <= 3


def test_frames_that_cannot_stay_on_the_gpu_come_through_host_memory(tmp_path, monkeypatch):
    """A PyAV or driver that refuses DLPack: said once, and the session goes on with the
    same frames through host memory."""
    clip = str(_write_nv12(tmp_path / "nv12.mkv"))
    host = list(video_source(clip, decoder="pyav", pixels="yuv", sample_fps=5).frames())
    calls: list[int] = []

    def refuses(frame):
        calls.append(frame.pts)
        raise PlanesRefused("NotImplementedError: DLPack export is only for CUDA hw frames")

    monkeypatch.setattr(pyav_module, "device_planes", refuses)
    logs: list[str] = []
    source = video_source(clip, decoder="pyav", pixels="yuv", sample_fps=5, log=logs.append)
    source.device_planes = True
    frames = list(source.frames())
    assert len(calls) == 1 and not source.device_planes  # asked once, not per frame
    assert [f.t for f in frames] == [f.t for f in host]
    assert all(np.array_equal(a.yuv.data, b.yuv.data) for a, b in zip(frames, host, strict=True))
    (line,) = logs
    assert line.startswith("warning:") and "cannot stay on the GPU" in line and "\n" not in line


def test_a_refused_export_is_said_as_such_and_other_errors_pass(tmp_path):
    """Only the DLPack export's refusal becomes :class:`PlanesRefused` (the source then
    goes on through host memory); the frame's own data and the copy are not second-guessed."""
    import types

    clip = _write_nv12(tmp_path / "nv12.mkv")
    with av.open(str(clip)) as container:
        real = next(container.decode(video=0))

    class Plane:
        def __dlpack__(self, stream=None):
            raise NotImplementedError("DLPack export is only implemented for CUDA hw frames")

    fake = types.SimpleNamespace(sw_format=None, format=real.format, colorspace=real.colorspace,
                                 color_range=real.color_range, width=real.width,
                                 height=real.height, planes=(Plane(), Plane()))  # fmt: skip
    with pytest.raises(PlanesRefused, match=r"^NotImplementedError: DLPack export is only"):
        device_planes(fake)


def test_a_decoder_that_cannot_share_torchs_context_decodes_through_host_memory(
    tmp_path, monkeypatch
):
    """NVDEC opened to keep frames on the GPU fails (no CUDA context to share): said once,
    and the file is opened again with frames copied to host memory."""
    clip = str(_write_nv12(tmp_path / "nv12.mkv"))
    asked: list[bool] = []
    monkeypatch.setattr(pyav_module, "nvdec_unavailable", lambda uri, gpu=0: None)
    monkeypatch.setattr(pyav_module, "_hwaccel",
                        lambda gpu, on_device=False: asked.append(on_device))  # fmt: skip

    def no_context(gpu: int) -> None:
        raise RuntimeError("No current CUDA context")

    monkeypatch.setattr(pyav_module, "_torch_context_current", no_context)
    logs: list[str] = []
    source = PyAVSource(clip, decoder="nvdec", pixels="yuv", sample_fps=5, log=logs.append)
    assert source.device_planes
    frames = list(source.frames())
    assert len(frames) == 3 and all(isinstance(f.yuv.data, np.ndarray) for f in frames)
    assert asked == [False] and not source.device_planes
    warnings = [line for line in logs if line.startswith("warning:")]
    assert len(warnings) == 1 and "No current CUDA context" in warnings[0]
