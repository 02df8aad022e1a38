"""Decoded video's YUV 4:2:0 planes, and their conversion to RGB/BGR.

Video decoders (FFmpeg through PyAV, NVDEC) produce YUV 4:2:0: a full-size luma plane Y
and two chroma planes U (Cb), V (Cr) at half the width and half the height. Handed over
as they are, a frame is 1.5 bytes a pixel instead of BGR's 3, and the conversion can run
where the pixels are used (on the GPU, beside the model's resize) instead of on the CPU
for every frame (on an H200, 1,400 frames/s of 1080p H.264 decoded by NVDEC, 450 once
swscale converted them to BGR on the CPU).

Layouts, both one (H * 3 / 2, W) uint8 array (what PyAV's ``VideoFrame.to_ndarray()``
gives for ``yuv420p``/``yuvj420p`` and ``nv12``):

- ``i420``: rows 0..H of Y, then U (H/2 x W/2 bytes), then V (H/2 x W/2 bytes), each
  chroma plane packed row after row into the remaining H/2 rows of width W;
- ``nv12``: rows 0..H of Y, then H/2 rows of interleaved U, V pairs.

The colour matrix (``bt601``, ``bt709``) and the range (``limited``: Y 16-235 and chroma
16-240; ``full``: 0-255) come from the stream; unspecified streams are BT.601 limited,
as FFmpeg's swscale and OpenCV assume. Chroma is upsampled by repetition (each 2 x 2
block of pixels shares its chroma sample), as swscale's unscaled converter and OpenCV
do, so the results agree with theirs to about one grey level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # torch is imported only when converting with it
    import torch

Layout = Literal["i420", "nv12"]
Matrix = Literal["bt601", "bt709"]
Range = Literal["limited", "full"]

# (Kr, Kb) of each matrix: luma = Kr R + (1 - Kr - Kb) G + Kb B
_LUMA_WEIGHTS: dict[str, tuple[float, float]] = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def yuv_coefficients(matrix: Matrix, color_range: Range) -> tuple[float, float, np.ndarray]:
    """``(y_scale, y_offset, chroma)`` such that ``RGB = y_scale * (Y - y_offset) +
    chroma @ (Cb - 128, Cr - 128)``; ``chroma``: (3, 2) float64, rows R, G, B."""
    if matrix not in _LUMA_WEIGHTS or color_range not in ("limited", "full"):
        raise ValueError(f"YUV matrix {matrix!r} / range {color_range!r}: not supported")
    kr, kb = _LUMA_WEIGHTS[matrix]
    kg = 1.0 - kr - kb
    limited = color_range == "limited"
    y_scale, y_offset = (255.0 / 219.0, 16.0) if limited else (1.0, 0.0)
    c_scale = 255.0 / 224.0 if limited else 1.0
    chroma = c_scale * np.array(
        [
            [0.0, 2.0 * (1.0 - kr)],
            [-2.0 * kb * (1.0 - kb) / kg, -2.0 * kr * (1.0 - kr) / kg],
            [2.0 * (1.0 - kb), 0.0],
        ]
    )
    return y_scale, y_offset, chroma


@dataclass(frozen=True)
class YuvImage:
    """One frame's YUV 4:2:0 planes as one (H * 3 / 2, W) uint8 array (module docstring),
    with the stream's colour matrix and range. H and W are even.

    ``data`` is a numpy array in host memory, or a torch tensor where the decoder left the
    planes (NVDEC: on the GPU, :func:`fieldtool.decode.pyav.device_planes`); the classifier
    takes either, and :meth:`to_bgr` copies a tensor to the host first."""

    data: np.ndarray | torch.Tensor  # (H * 3 / 2, W) uint8
    layout: Layout = "i420"
    matrix: Matrix = "bt601"
    color_range: Range = "limited"

    def __post_init__(self) -> None:
        rows, width = tuple(self.data.shape) if self.data.ndim == 2 else (0, 0)
        uint8 = (self.data.dtype == np.uint8 if isinstance(self.data, np.ndarray)
                 else str(self.data.dtype) == "torch.uint8")  # fmt: skip
        if not uint8 or rows % 3 or (rows * 2 // 3) % 2 or width % 2 or not rows:
            raise ValueError(
                f"YUV 4:2:0 planes: expected (H * 3 / 2, W) uint8 with even H and W, got "
                f"{self.data.shape} {self.data.dtype}"
            )
        yuv_coefficients(self.matrix, self.color_range)  # checks both

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return int(self.data.shape[0]) * 2 // 3

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return int(self.data.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return self.height, self.width

    @property
    def nbytes(self) -> int:
        """Bytes of the planes (half of the same frame as BGR), wherever they are."""
        return int(self.data.nbytes)

    @property
    def host(self) -> np.ndarray:
        """The planes as a host (numpy) array: ``data`` itself, or a tensor's copy."""
        if isinstance(self.data, np.ndarray):
            return self.data
        return self.data.cpu().numpy()

    @property
    def kind(self) -> tuple[int, int, str, str, str]:
        """What frames must share to be converted in one batch: size, layout, matrix, range."""
        return (self.height, self.width, self.layout, self.matrix, self.color_range)

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Y (H, W), Cb (H/2, W/2), Cr (H/2, W/2)) uint8 on the host, whatever the layout."""
        data = np.ascontiguousarray(self.host)
        height, width = self.size
        half = (height // 2, width // 2)
        packed = data[height:].reshape(-1)
        if self.layout == "i420":
            quarter = half[0] * half[1]
            cb, cr = packed[:quarter], packed[quarter:]
        else:
            cb, cr = packed[0::2], packed[1::2]
        return data[:height], cb.reshape(half), cr.reshape(half)

    def turned(self, turns: int) -> YuvImage:
        """The planes of the picture turned ``turns`` quarter turns counter-clockwise (as
        ``np.rot90``), where they are (a tensor stays on its device): (W * 3 / 2, H) planes
        for an odd number of turns. Each chroma sample stays with its 2 x 2 pixels."""
        turns %= 4
        if not turns:
            return self
        height, width = self.size
        tall, wide = (width, height) if turns % 2 else (height, width)
        data = self.data
        if isinstance(data, np.ndarray):
            out: np.ndarray | torch.Tensor = np.empty((tall * 3 // 2, wide), np.uint8)

            def turn(plane: Any) -> Any:
                return np.rot90(plane, turns, axes=(0, 1))
        else:
            import torch

            out = torch.empty((tall * 3 // 2, wide), dtype=torch.uint8, device=data.device)

            def turn(plane: Any) -> Any:
                return torch.rot90(plane, turns, dims=(0, 1))

        out[:tall] = turn(data[:height])
        chroma, turned = data[height:].reshape(-1), out[tall:].reshape(-1)  # views
        if self.layout == "nv12":  # (H/2, W/2) pairs of U, V turned as one
            turned.reshape(tall // 2, wide // 2, 2)[...] = turn(
                chroma.reshape(height // 2, width // 2, 2))  # fmt: skip
        else:  # U then V, each (H/2, W/2) packed row after row
            quarter = (height // 2) * (width // 2)
            for part in (slice(0, quarter), slice(quarter, None)):
                turned[part].reshape(tall // 2, wide // 2)[...] = turn(
                    chroma[part].reshape(height // 2, width // 2))  # fmt: skip
        return YuvImage(out, self.layout, self.matrix, self.color_range)

    def to_bgr(self) -> np.ndarray:
        """(H, W, 3) uint8 BGR on the CPU, by OpenCV: its own conversion for BT.601 limited
        range; else chroma repeated to full size and one affine map of the (Y, Cb, Cr)
        pixels (``cv2.transform``: rounded, saturated) with :func:`yuv_coefficients`."""
        import cv2

        data = np.ascontiguousarray(self.host)
        if self.matrix == "bt601" and self.color_range == "limited":
            code = cv2.COLOR_YUV2BGR_I420 if self.layout == "i420" else cv2.COLOR_YUV2BGR_NV12
            return cv2.cvtColor(data, code)
        luma, *chroma = self.samples()
        height, width = self.size
        full = [cv2.resize(c, (width, height), interpolation=cv2.INTER_NEAREST) for c in chroma]
        y_scale, y_offset, weights = yuv_coefficients(self.matrix, self.color_range)
        affine = np.zeros((3, 4), np.float64)  # rows B, G, R over (Y, Cb, Cr, 1)
        affine[:, 0] = y_scale
        affine[:, 1:3] = weights[::-1]
        affine[:, 3] = -y_scale * y_offset - 128.0 * weights[::-1].sum(axis=1)
        return cv2.transform(cv2.merge([luma, *full]), affine)


def yuv_to_rgb(
    planes: torch.Tensor, layout: Layout, matrix: Matrix, color_range: Range
) -> torch.Tensor:
    """(N, H * 3 / 2, W) uint8 YUV 4:2:0 planes -> (N, 3, H, W) float32 RGB in 0-255,
    on the planes' device (CPU or CUDA); chroma upsampled by repetition."""
    import torch

    count, rows, width = planes.shape
    height = rows * 2 // 3
    y_scale, y_offset, chroma = yuv_coefficients(matrix, color_range)
    luma = (planes[:, :height].float() - y_offset) * y_scale  # (N, H, W)
    packed = planes[:, height:].reshape(count, -1)
    if layout == "i420":
        quarter = (height // 2) * (width // 2)
        cb = packed[:, :quarter].reshape(count, height // 2, width // 2)
        cr = packed[:, quarter:].reshape(count, height // 2, width // 2)
        uv = torch.stack([cb, cr], dim=1)  # (N, 2, H/2, W/2)
    elif layout == "nv12":
        uv = packed.reshape(count, height // 2, width // 2, 2).permute(0, 3, 1, 2)
    else:
        raise ValueError(f"YUV layout {layout!r}: expected i420 or nv12")
    # (3, 2) mix of the half-size chroma first: 2 channels, a quarter of the pixels
    weights = torch.as_tensor(chroma, dtype=torch.float32, device=planes.device)
    mixed = torch.einsum("cd,ndhw->nchw", weights, uv.float() - 128.0)  # (N, 3, H/2, W/2)
    half_h, half_w = height // 2, width // 2
    full = mixed[:, :, :, None, :, None].expand(count, 3, half_h, 2, half_w, 2)
    full = full.reshape(count, 3, height, width)  # each chroma sample over its 2 x 2 pixels
    return full.add_(luma[:, None]).clamp_(0.0, 255.0)


def as_bgr(pixels: np.ndarray | YuvImage) -> np.ndarray:
    """(H, W, 3) uint8 BGR of a frame's pixels (:attr:`fieldtool.types.Frame.pixels`)."""
    return pixels.to_bgr() if isinstance(pixels, YuvImage) else pixels
