"""Which decoder reads a video file: OpenCV, PyAV on the CPU, or PyAV on the GPU's NVDEC.

``source.decoder`` (docs/config.md) picks it; :func:`video_source` builds the source:

- ``opencv``: :class:`fieldtool.sources.VideoSource` as it always was (one FFmpeg decoder).
- ``pyav``: :class:`~fieldtool.decode.pyav.PyAVSource`, FFmpeg's frame threads decoding
  one file on several cores; frame times are each frame's ``pts * time_base``.
- ``nvdec``: the same on the GPU's video decoder (CUDA); a one-line error without one.
- ``auto``: NVDEC where it works, else PyAV on the CPU, else OpenCV, with a warning.

Cameras and streams always decode with OpenCV (its open and read timeouts, reconnects).
``source.decode_workers`` > 1: :func:`~fieldtool.decode.segments.segmented_source`, one file
decoded by several processes, a segment between key frames each, frames in order.
"""

from __future__ import annotations

from fieldtool.decode.pyav import DECODERS, Decoder, PyAVSource, nvdec_unavailable, video_source
from fieldtool.decode.segments import SegmentedSource, segmented_source

__all__ = [
    "DECODERS",
    "Decoder",
    "PyAVSource",
    "SegmentedSource",
    "nvdec_unavailable",
    "segmented_source",
    "video_source",
]
