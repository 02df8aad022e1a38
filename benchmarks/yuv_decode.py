"""Decode-only frames/s of an H.264 file through PyAV, frames handed over as BGR (swscale on
the CPU, what every decoder gave before) against the decoder's own YUV 4:2:0 planes
(``source.pixels = "yuv"``), per decoder (pyav on the CPU, nvdec where there is one); then
what converting the planes costs where it happens instead: OpenCV on the CPU (a frame that
a snapshot or view touches) and torch on ``--device`` (the classifier's preprocessing,
upload included; NVDEC's planes are on the GPU already). The planes of each decoder are
compared with the first's (PyAV's software decoder): H.264 decodes bit-exactly, so NVDEC's
must be equal (PASS/FAIL in the table). Prints a table and what it ran on; no asserts. The clip is made here with
PyAV's libx264 (benchmarks/make_clip.py) unless ``--video`` names one.

    python benchmarks/yuv_decode.py --frames 120                     # 1080p, this CPU
    python benchmarks/yuv_decode.py --frames 300 --device cuda       # the GPU machine
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402  (benchmarks/machine.py)
from make_clip import make_clip, parse_size  # noqa: E402

from fieldtool.colour import YuvImage, yuv_to_rgb  # noqa: E402
from fieldtool.decode import video_source  # noqa: E402
from fieldtool.types import FieldtoolError, Frame  # noqa: E402

EVERY_FRAME = 1000.0  # sample_fps above any video rate: every frame is handed over


def decode_only(video: Path, decoder: str, pixels: str, limit: int) -> tuple[float, list[Frame]]:
    """Frames/s of one source read to its end (or ``limit`` frames), and its first frames."""
    source = video_source(str(video), decoder=decoder, pixels=pixels,  # type: ignore[arg-type]
                          sample_fps=EVERY_FRAME, max_frames=limit)  # fmt: skip
    kept: list[Frame] = []
    count = 0
    start = time.perf_counter()
    for frame in source.frames():
        count += 1
        if len(kept) < 16:
            kept.append(frame)
    return count / (time.perf_counter() - start), kept


def convert_rates(planes: list[YuvImage], device: torch.device, rounds: int) -> tuple[float, float]:
    """Frames/s of OpenCV's YUV -> BGR on the CPU, and of torch's upload + YUV -> RGB on
    ``device`` for batches of the given planes."""
    start = time.perf_counter()
    for _ in range(rounds):
        for p in planes:
            p.to_bgr()
    cpu = rounds * len(planes) / (time.perf_counter() - start)
    if isinstance(planes[0].data, torch.Tensor):  # NVDEC's planes, already on the GPU
        batch = torch.stack([torch.as_tensor(p.data) for p in planes])
    else:
        batch = torch.from_numpy(np.stack([p.host for p in planes]))
        if device.type == "cuda":
            batch = batch.pin_memory()
    first = planes[0]

    def once() -> None:
        rgb = yuv_to_rgb(batch.to(device, non_blocking=True), first.layout, first.matrix,
                         first.color_range)  # fmt: skip
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        del rgb

    once()  # warm-up (kernels, allocator)
    start = time.perf_counter()
    for _ in range(rounds):
        once()
    return cpu, rounds * len(planes) / (time.perf_counter() - start)


def same_as(reference: list[YuvImage], planes: list[YuvImage]) -> str:
    """Whether ``planes`` hold the reference decoder's samples, frame for frame."""
    worst = 0
    if reference[0].size != planes[0].size:  # not turned alike (a phone's portrait clip)
        return f"FAIL sizes differ: {reference[0].size} vs {planes[0].size}"
    for ref, ours in zip(reference, planes, strict=False):
        for a, b in zip(ref.samples(), ours.samples(), strict=True):
            worst = max(worst, int(np.abs(a.astype(int) - b.astype(int)).max()))
    data = planes[0].data
    where = f"torch on {data.device}" if isinstance(data, torch.Tensor) else "numpy on the host"
    verdict = "PASS equal" if worst == 0 else f"FAIL differ by up to {worst}"
    return f"{verdict} ({len(planes)} frames, planes in {where})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--video", type=Path, help="an H.264 file (default: one made here)")
    p.add_argument("--size", type=parse_size, default=(1920, 1080), help="WxH of the made clip")
    p.add_argument("--frames", type=int, default=120, help="frames of the clip / decoded")
    p.add_argument("--decoders", nargs="+", default=["pyav", "nvdec"], choices=["pyav", "nvdec"])
    p.add_argument("--device", default="cpu", help="where torch converts the planes")
    p.add_argument("--rounds", type=int, default=3, help="conversion rounds of 16 frames")
    p.add_argument("--rotation", type=int, default=0,
                   help="the made clip's display rotation, degrees (90: a phone's portrait)")
    args = p.parse_args()
    import av

    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        made = "given"
        if video is None:
            start = time.perf_counter()
            video = make_clip(Path(tmp) / "clip.mp4", *args.size, frames=args.frames,
                              rotation=args.rotation)
            made = f"made in {time.perf_counter() - start:.1f} s"
        print(f"CPU: {describe()}; torch {torch.__version__} ({torch.get_num_threads()} threads);"
              f" OpenCV {cv2.__version__}; PyAV {av.__version__}; conversion on {device} "
              f"(GPU: {gpu}); video {video.name}, {args.frames} frames ({made}"
              f"{f', turned {args.rotation} degrees' if args.rotation else ''})")  # fmt: skip
        print("| decoder | to BGR (swscale) | to YUV planes | YUV/BGR | bytes/frame BGR -> YUV |"
              " YUV->BGR OpenCV (CPU) | YUV->RGB torch + upload | planes = PyAV's |")  # fmt: skip
        print("|---|---:|---:|---:|---|---:|---:|---|")
        reference: list[YuvImage] = []
        for decoder in args.decoders:
            try:
                bgr_fps, bgr = decode_only(video, decoder, "bgr", args.frames)
            except FieldtoolError as exc:
                print(f"| {decoder} | unavailable: {str(exc)[:120]} ||||||", flush=True)
                continue
            yuv_fps, yuv = decode_only(video, decoder, "yuv", args.frames)
            planes = [f.yuv for f in yuv if f.yuv is not None]
            if not planes:
                print(f"| {decoder} | {bgr_fps:.1f} | no planes ({yuv[0].image.shape}) ||||||")
                continue
            reference = reference or planes  # the first decoder's (pyav: software)
            cpu_fps, torch_fps = convert_rates(planes, device, args.rounds)
            print(f"| {decoder} | {bgr_fps:.1f} | {yuv_fps:.1f} | {yuv_fps / bgr_fps:.2f} | "
                  f"{bgr[0].image.nbytes:,} -> {planes[0].nbytes:,} ({planes[0].layout}, "
                  f"{planes[0].matrix} {planes[0].color_range}) | {cpu_fps:.1f} | "
                  f"{torch_fps:.1f} | {same_as(reference, planes)} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
