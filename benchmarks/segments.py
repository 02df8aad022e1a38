"""Decode-only frames/s of one long H.264 file read by ``source.decode_workers`` 1, 2, ... N
processes (fieldtool.decode.segments: a segment between key frames each, frames in order),
beside one OpenCV decoder. Prints a table and the CPU it ran on; no asserts. The clip is
made here with PyAV's libx264 (benchmarks/make_clip.py: key frame every second, B-frames)
unless ``--video`` names one.

    python benchmarks/segments.py --size 640x360 --frames 240 --workers 1 2   # a small CPU
    python benchmarks/segments.py --frames 600 --workers 1 2 4 8 16           # 1080p, 16 cores
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe  # noqa: E402  (benchmarks/machine.py)
from make_clip import make_clip, parse_size  # noqa: E402

from fieldtool.decode import segmented_source  # noqa: E402
from fieldtool.sources import VideoSource  # noqa: E402

EVERY_FRAME = 1000.0  # sample_fps above any video rate: every frame is converted


def decode_rate(source: VideoSource) -> tuple[float, int, float]:
    """Frames/s of reading ``source`` to its end (worker start-up and the packet scan
    included), the frames read, and this process's CPU milliseconds a frame (all its
    threads, not the decoding processes': the parent's share, the hand-off included)."""
    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    for _ in source.frames():
        count += 1
    used = (time.process_time() - cpu) * 1000.0 / max(count, 1)
    return count / (time.perf_counter() - start), count, used


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--video", type=Path, help="an H.264 file (default: one made here)")
    p.add_argument("--size", type=parse_size, default=(1920, 1080), help="WxH of the made clip")
    p.add_argument("--frames", type=int, default=600, help="frames of the made clip")
    p.add_argument("--workers", type=int, nargs="+",
                   default=sorted({1, 2, os.cpu_count() or 1}), help="decode_workers to try")  # fmt: skip
    p.add_argument("--sample-fps", type=float, nargs="+", default=[EVERY_FRAME, 5.0],
                   help="sampling rates to try (1000: every frame)")  # fmt: skip
    args = p.parse_args()
    import av

    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        if video is None:
            start = time.perf_counter()
            width, height = args.size
            video = make_clip(Path(tmp) / "clip.mp4", width, height, frames=args.frames)
            made = f"made in {time.perf_counter() - start:.1f} s"
        else:
            made = "given"
        cap = cv2.VideoCapture(str(video))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        print(f"CPU: {describe()}; {os.cpu_count()} cores; OpenCV {cv2.__version__}; PyAV "
              f"{av.__version__}; video {video.name} {w}x{h}, {frames} frames ({made})")  # fmt: skip
        print(
            "\n| sample_fps | decoder | workers | frames | frames/s | vs one PyAV decoder | "
            "this process's CPU ms/frame | how |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---|")
        for fps in args.sample_fps:
            rate, count, used = decode_rate(VideoSource(str(video), sample_fps=fps))
            print(f"| {fps:g} | opencv | 1 | {count} | {rate:.1f} | - | {used:.2f} | one decoder |",
                  flush=True)  # fmt: skip
            base = None
            for workers in args.workers:
                logs: list[str] = []
                source = segmented_source(str(video), workers=workers, decoder="pyav",
                                          sample_fps=fps, log=logs.append)  # fmt: skip
                rate, count, used = decode_rate(source)
                base = base or rate
                how = next((line.split(": ", 1)[1] for line in logs
                            if "worker processes" in line or "one decoder" in line),
                           "one decoder")  # fmt: skip
                lent_frames = getattr(source, "lent_frames", None)  # decoding processes only
                lent = f"{lent_frames} of {count} frames lent, not copied" if lent_frames else ""
                print(f"| {fps:g} | pyav | {workers} | {count} | {rate:.1f} | "
                      f"{rate / base:.2f}x | {used:.2f} | {how}{'; ' + lent if lent else ''} |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
