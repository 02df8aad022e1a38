"""YUV 4:2:0 planes to RGB with torch (the classifier's device conversion) agrees with
OpenCV's own conversion, and the lazy BGR image of a YUV frame is OpenCV's."""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np
import pytest
import torch

from fieldtool.colour import YuvImage, yuv_coefficients, yuv_to_rgb
from fieldtool.types import Frame


def _scene(height: int = 90, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth random BGR picture with a saturated red box (chroma that matters)."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), np.uint8), (9, 9), 0)
    image[20:50, 30:70] = (0, 0, 255)
    return image


def _nv12(i420: np.ndarray) -> np.ndarray:
    """The same planes with U and V interleaved (NV12)."""
    height, width = i420.shape[0] * 2 // 3, i420.shape[1]
    chroma = i420[height:].reshape(-1)
    half = chroma.size // 2
    uv = np.stack([chroma[:half], chroma[half:]], axis=-1).reshape(height // 2, width)
    return np.concatenate([i420[:height], uv])


def _bgr(rgb: torch.Tensor) -> np.ndarray:
    """(3, H, W) float RGB -> (H, W, 3) int BGR, rounded."""
    return rgb.flip(0).permute(1, 2, 0).round().numpy().astype(int)


@pytest.mark.parametrize("height", [90, 92])  # 90: the chroma planes end mid-row
@pytest.mark.parametrize("layout", ["i420", "nv12"])
def test_torch_conversion_matches_opencv(layout, height):
    i420 = cv2.cvtColor(_scene(height), cv2.COLOR_BGR2YUV_I420)
    planes = i420 if layout == "i420" else _nv12(i420)
    code = cv2.COLOR_YUV2BGR_I420 if layout == "i420" else cv2.COLOR_YUV2BGR_NV12
    expected = cv2.cvtColor(planes, code).astype(int)
    rgb = yuv_to_rgb(torch.from_numpy(np.stack([planes, planes])), layout, "bt601", "limited")
    assert rgb.shape == (2, 3, height, 128) and rgb.dtype == torch.float32
    diff = np.abs(_bgr(rgb[1]) - expected)
    assert diff.mean() < 0.2 and diff.max() <= 2
    # the box is red in RGB order: channel 0 high, 2 low
    assert rgb[0, 0, 30, 50] > 200 and rgb[0, 2, 30, 50] < 60


def test_matrix_and_range_change_the_colours():
    """BT.709 and full range are not BT.601 limited; each inverts its own forward matrix."""
    grey = np.full((8, 8), 128, np.uint8)
    rng = np.random.default_rng(3)
    for matrix in ("bt601", "bt709"):
        for color_range in ("limited", "full"):
            y_scale, y_offset, chroma = yuv_coefficients(matrix, color_range)
            rgb = rng.uniform(0, 255, (3,))
            kr, kb = (0.299, 0.114) if matrix == "bt601" else (0.2126, 0.0722)
            luma = kr * rgb[0] + (1 - kr - kb) * rgb[1] + kb * rgb[2]
            cb, cr = (rgb[2] - luma) / (2 * (1 - kb)), (rgb[0] - luma) / (2 * (1 - kr))
            if color_range == "limited":
                y, u, v = 16 + luma * 219 / 255, 128 + cb * 224 / 255, 128 + cr * 224 / 255
            else:
                y, u, v = luma, 128 + cb, 128 + cr
            back = y_scale * (y - y_offset) + chroma @ np.array([u - 128, v - 128])
            np.testing.assert_allclose(back, rgb, atol=1e-6)
    planes = np.concatenate([np.full((8, 8), 100, np.uint8), grey[:4]])
    planes[8:] = 200  # strong chroma: the matrices differ
    converted = {
        (m, r): yuv_to_rgb(torch.from_numpy(planes)[None], "i420", m, r)[0, :, 0, 0]
        for m in ("bt601", "bt709")
        for r in ("limited", "full")
    }  # fmt: skip
    values = [tuple(v.round().tolist()) for v in converted.values()]
    assert len(set(values)) == 4


def test_yuv_frame_converts_to_bgr_once_on_first_use():
    image = _scene()
    planes = YuvImage(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420))
    frame = Frame(3, 0.1, datetime(2026, 5, 1), yuv=planes)
    assert frame.size == (90, 128) and frame.nbytes == planes.nbytes == 90 * 128 * 3 // 2
    assert frame.pixels is planes  # the classifier's: no conversion yet
    bgr = frame.image
    assert bgr.shape == image.shape and bgr.dtype == np.uint8
    assert frame.image is bgr  # kept
    assert frame.nbytes == planes.nbytes + image.nbytes
    np.testing.assert_array_equal(bgr, cv2.cvtColor(planes.data, cv2.COLOR_YUV2BGR_I420))
    assert np.abs(bgr.astype(int) - image).mean() < 3  # 4:2:0 loses some chroma detail
    # the other matrices: OpenCV's affine map with the coefficients the device uses
    for layout, data in (("i420", planes.data), ("nv12", _nv12(planes.data))):
        full709 = YuvImage(data, layout, "bt709", "full")
        expected = _bgr(yuv_to_rgb(torch.from_numpy(data)[None], layout, "bt709", "full")[0])
        converted = Frame(0, 0, datetime(2026, 5, 1), yuv=full709).image
        assert converted.dtype == np.uint8 and np.abs(converted - expected).max() <= 1


def test_bgr_frames_are_made_as_before():
    image = _scene()
    frame = Frame(0, 0.0, datetime(2026, 5, 1), image, "a.jpg", "seg")
    assert frame.image is image and frame.pixels is image and frame.yuv is None
    assert frame.path == "a.jpg" and frame.segment == "seg" and frame.size == (90, 128)
    with pytest.raises(ValueError, match="BGR image or YUV planes"):
        Frame(0, 0.0, datetime(2026, 5, 1))


@pytest.mark.parametrize(
    "data", [np.zeros((91, 128), np.uint8), np.zeros((135, 127), np.uint8),
             np.zeros((135, 128), np.float32), np.zeros((135, 128, 1), np.uint8)],
)  # fmt: skip
def test_planes_of_the_wrong_shape_are_refused(data):
    with pytest.raises(ValueError, match="4:2:0"):
        YuvImage(data)
