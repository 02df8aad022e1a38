"""``source.pixels = "yuv"``: PyAV hands frames over as the decoder's 4:2:0 planes, with the
stream's colour matrix and range; converted with torch (the classifier's device path) or
lazily to BGR, they are the pixels PyAV's own ``bgr24`` conversion gives, and a session
finds the same sightings and writes the same snapshots."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fieldtool.classify import DinoClassifier
from fieldtool.cli import DEMO_DATA
from fieldtool.colour import YuvImage, yuv_to_rgb
from fieldtool.config import DEMO_MODEL, load_config
from fieldtool.decode import PyAVSource, video_source
from fieldtool.model import load_model_folder
from fieldtool.pipeline import inputs_from_config, run_from_config
from fieldtool.sources import VideoSource
from fieldtool.types import FieldtoolError

from ..sources.conftest import write_h264_pyav


def _write(path: Path, colorspace: int | None = None, color_range: int | None = None) -> Path:
    """A 320x240 H.264 clip (saturated colours, so the matrix matters) whose stream says
    ``colorspace`` (AVColorSpace) and ``color_range`` (AVColorRange) when given."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        if colorspace is not None:
            stream.codec_context.colorspace = colorspace
        if color_range is not None:
            stream.codec_context.color_range = color_range
        for i in range(6):
            image = np.zeros((240, 320, 3), np.uint8)
            image[..., 0] = np.linspace(0, 255, 320, dtype=np.uint8)[None]
            image[..., 1] = np.linspace(0, 255, 240, dtype=np.uint8)[:, None]
            image[..., 2] = 40 * i
            image[60:120, 100:180] = (0, 0, 255)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def _as_bgr(planes: YuvImage) -> np.ndarray:
    """The device conversion (torch, here on the CPU) as (H, W, 3) int BGR."""
    rgb = yuv_to_rgb(torch.from_numpy(planes.data)[None], planes.layout, planes.matrix,
                     planes.color_range)[0]  # fmt: skip
    return rgb.flip(0).permute(1, 2, 0).round().numpy().astype(int)


def _pairs(path: Path) -> list[tuple]:
    bgr = list(video_source(str(path), decoder="pyav", pixels="bgr", sample_fps=1000).frames())
    yuv = list(video_source(str(path), decoder="pyav", pixels="yuv", sample_fps=1000).frames())
    assert len(bgr) == len(yuv) > 0
    return list(zip(bgr, yuv, strict=True))


def test_yuv_frames_are_pyavs_bgr_frames_converted_elsewhere(tmp_path):
    clip = write_h264_pyav(tmp_path / "clip.mp4", frames=40, fps=30)
    for bgr, yuv in _pairs(clip):
        assert (yuv.index, yuv.t) == (bgr.index, bgr.t)  # wall times: each source its start
        planes = yuv.yuv
        assert planes is not None and bgr.yuv is None
        assert (planes.layout, planes.matrix, planes.color_range) == ("i420", "bt601", "limited")
        assert planes.data.shape == (360, 320) and yuv.nbytes == bgr.image.nbytes // 2
        diff = np.abs(_as_bgr(planes) - bgr.image)
        assert diff.mean() < 1.5 and diff.max() <= 4
        lazy = np.abs(yuv.image.astype(int) - bgr.image)  # OpenCV's conversion, on first use
        assert lazy.mean() < 1.5 and lazy.max() <= 6  # OpenCV rounds unlike swscale


@pytest.mark.parametrize(
    ("colorspace", "color_range", "matrix", "full"),
    [(1, None, "bt709", "limited"), (1, 2, "bt709", "full"), (5, 2, "bt601", "full"),
     (6, None, "bt601", "limited")],
)  # fmt: skip
def test_the_streams_matrix_and_range_are_used(tmp_path, colorspace, color_range, matrix, full):
    clip = _write(tmp_path / "tagged.mp4", colorspace, color_range)
    for bgr, yuv in _pairs(clip):
        planes = yuv.yuv
        assert planes is not None and (planes.matrix, planes.color_range) == (matrix, full)
        diff = np.abs(_as_bgr(planes) - bgr.image)  # PyAV converts by the stream's tags too
        assert diff.mean() < 1.5 and diff.max() <= 4
        assert np.abs(yuv.image.astype(int) - bgr.image).mean() < 1.5
        other = YuvImage(planes.data, planes.layout, "bt601" if matrix == "bt709" else "bt709",
                         planes.color_range)  # fmt: skip
        wrong = np.abs(_as_bgr(other) - bgr.image)
        assert wrong.max() > 10  # the wrong matrix would be visibly off


def test_pixels_is_checked_and_opencv_stays_bgr(tmp_path):
    clip = write_h264_pyav(tmp_path / "clip.mp4", frames=5, fps=30)
    with pytest.raises(FieldtoolError, match="source.pixels"):
        PyAVSource(str(clip), pixels="rgb")  # type: ignore[arg-type]
    source = video_source(str(clip), decoder="opencv", pixels="yuv")
    assert type(source) is VideoSource
    assert all(f.yuv is None and f.image.shape == (240, 320, 3) for f in source.frames())


def test_the_config_resolves_auto_pixels(tmp_path):
    clip = write_h264_pyav(tmp_path / "clip.mp4", frames=5, fps=30)
    chosen = {}
    for pixels in ("auto", "yuv", "bgr"):
        config = load_config(None, {"source.uri": str(clip), "source.decoder": "pyav",
                                    "source.pixels": pixels, "model.device": "cpu",
                                    "store.db": str(tmp_path / "s.duckdb"),
                                    "model.path": str(DEMO_MODEL)})  # fmt: skip
        source = inputs_from_config(config, lambda message: None).source
        assert isinstance(source, PyAVSource)
        chosen[pixels] = source.pixels
    assert chosen == {"auto": "bgr", "yuv": "yuv", "bgr": "bgr"}  # auto: yuv on CUDA only


@pytest.mark.parametrize("tiles", [1, 2])
def test_the_classifier_converts_yuv_on_its_device(tmp_path, tiny_model_dir, tiles):
    """YUV planes through the device path (torch, here on the CPU) give the crops and the
    probabilities of the same frames as BGR through it, and of OpenCV's CPU path."""
    clip = write_h264_pyav(tmp_path / "clip.mp4", frames=12, fps=30)
    pairs = _pairs(clip)
    clf = DinoClassifier(load_model_folder(tiny_model_dir), device="cpu", tiles=tiles)
    bgr = [b.image for b, _ in pairs]
    planes = [y.pixels for _, y in pairs]
    assert all(isinstance(p, YuvImage) for p in planes)
    host = clf.preprocess(bgr)  # OpenCV on the CPU
    assert clf.prepare(planes[0]) is not None  # the CPU path converts YUV itself
    clf.device_preprocess = True
    assert clf.prepare(planes[0]) is None
    from_bgr, from_yuv = clf.preprocess(bgr), clf.preprocess(planes)
    assert from_yuv.shape == from_bgr.shape == (12 * tiles * tiles, 3, 32, 32)
    assert (from_yuv - from_bgr).abs().mean() < 0.02 and (from_yuv - host).abs().mean() < 0.05
    probs_yuv, _ = clf.predict(planes)
    probs_bgr, _ = clf.predict(bgr)
    assert np.abs(probs_yuv - probs_bgr).max() < 0.01
    mixed = clf.preprocess([planes[0], bgr[1]])  # two kinds: YUV converted on the CPU first
    expected = from_bgr[: 2 * tiles**2]
    assert mixed.shape == expected.shape and (mixed - expected).abs().mean() < 0.02


def test_a_yuv_session_finds_the_bgr_sightings_and_writes_bgr_snapshots(tmp_path, monkeypatch):
    """The demo walk decoded by PyAV to YUV planes, preprocessed the CUDA way (torch) on the
    CPU: the sightings of BGR frames, and snapshots that are the same BGR pictures."""
    monkeypatch.setattr(DinoClassifier, "device_preprocess", True)
    import fieldtool.classify as classify

    on_device: list[int] = []  # frames whose planes the classifier converted itself
    convert = classify.yuv_to_rgb

    def counted(planes, *args):  # noqa: ANN001, ANN202
        on_device.append(int(planes.shape[0]))
        return convert(planes, *args)

    monkeypatch.setattr(classify, "yuv_to_rgb", counted)
    found, snapshots, analysed = {}, {}, {}
    for pixels in ("bgr", "yuv"):
        (tmp_path / pixels).mkdir()
        config = load_config(None, {
            "source.uri": str(DEMO_DATA / "walk_west.mp4"), "source.decoder": "pyav",
            "source.pixels": pixels, "position.track": str(DEMO_DATA / "walk_west.gpx"),
            "model.path": str(DEMO_MODEL), "store.db": str(tmp_path / pixels / "s.duckdb"),
        })  # fmt: skip
        result = run_from_config(config, log=lambda message: None)
        analysed[pixels] = result.session.frames_analysed
        found[pixels] = [(s.species, s.first_t, s.last_t, s.peak_score) for s in result.sightings]
        snapshots[pixels] = [(s.peak_t, tmp_path / pixels / s.snapshot_path)
                             for s in result.sightings if s.snapshot_path]  # fmt: skip
    # One sample step at most: the planes are converted exactly (BT.601), swscale's bgr24
    # in fixed point (it truncates; green up to 2 levels off), and the demo walk's sightings
    # begin and end at the threshold, where OpenCV's resize against torch's moves an edge
    # by a sample as well.
    step = 1 / config.source.sample_fps + 1e-6
    # The pipeline handed every analysed frame over as planes: none converted on the CPU.
    assert sum(on_device) == analysed["yuv"] > 100
    assert len(found["bgr"]) >= 3 and len(found["yuv"]) == len(found["bgr"])
    for (sp_y, first_y, last_y, peak_y), (sp_b, first_b, last_b, peak_b) in zip(
        found["yuv"], found["bgr"], strict=True
    ):
        assert sp_y == sp_b and abs(first_y - first_b) <= step and abs(last_y - last_b) <= step
        assert abs(peak_y - peak_b) < 0.02
    assert len(snapshots["yuv"]) == len(snapshots["bgr"]) >= 3
    # A snapshot is the sighting's peak frame: where the two paths' scores (0.02 apart at
    # most) put the peak on another frame, the pictures differ by the walk's motion; the
    # pictures of one frame must be the same.
    same = [(y, b) for (t_y, y), (t_b, b) in zip(snapshots["yuv"], snapshots["bgr"], strict=True)
            if abs(t_y - t_b) < 1e-6]  # fmt: skip
    assert len(same) >= 2, (snapshots["yuv"], snapshots["bgr"])
    for yuv_jpeg, bgr_jpeg in same:
        from_yuv, from_bgr = cv2.imread(str(yuv_jpeg)), cv2.imread(str(bgr_jpeg))
        assert from_yuv is not None and from_bgr is not None
        assert from_yuv.shape == from_bgr.shape and from_yuv.shape[2] == 3
        assert np.abs(from_yuv.astype(int) - from_bgr).mean() < 2.0  # not swapped, not grey


def test_yuv_asked_of_opencv_is_said_not_ignored():
    """OpenCV decodes to BGR only: asking it for planes says so (the frames stay BGR)."""
    from fieldtool.pipeline.inputs import video_placement

    lines: list[str] = []
    config = load_config(None, {"source.uri": str(DEMO_DATA / "walk_west.mp4"),
                                "source.pixels": "yuv", "position.lat": 45.0,
                                "position.lon": -122.0})  # fmt: skip
    source, _ = video_placement(config, lines.append)
    assert isinstance(source, VideoSource) and not isinstance(source, PyAVSource)
    assert any("OpenCV decodes to BGR" in line and "--decoder pyav" in line for line in lines)
