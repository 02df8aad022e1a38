"""Peak memory of a session over a 4K clip: default settings, then big batches with tiles.

Makes a 4K clip with OpenCV (3840 x 2160, 5 fps, moving shapes; every frame is analysed
at the default sample rate), then runs ``fieldtool.pipeline.run_from_config`` over it in a
fresh process per setting (demo model, CPU unless --device) and prints each one's peak
resident memory (ru_maxrss). The target is at most 1.5 GB for every setting.

    python benchmarks/memory_4k.py                       # defaults, then --batch-size 64 --tiles 2
    python benchmarks/memory_4k.py --seconds 30 --device cuda
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

SIZE = (3840, 2160)
FPS = 5.0
TARGET_MB = 1536
SETTINGS: tuple[tuple[str, list[str]], ...] = (
    ("defaults", []),
    ("--batch-size 64 --tiles 2", ["--batch-size", "64", "--tiles", "2"]),
)


def make_clip(path: Path, seconds: float) -> Path:
    """A 4K MP4 (mp4v) of moving coloured boxes on a gradient."""
    width, height = SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise SystemExit(f"{path}: OpenCV cannot write mp4v here")
    ramp = np.linspace(40, 200, width, dtype=np.uint8)
    background = np.dstack([np.broadcast_to(ramp, (height, width))] * 3)
    colours = [(40, 40, 220), (40, 200, 40), (220, 60, 60)]
    for i in range(round(seconds * FPS)):
        frame = background.copy()
        for k, colour in enumerate(colours):
            x = (i * 37 + k * 1100) % (width - 800)
            y = 300 + k * 500
            frame[y : y + 600, x : x + 800] = colour
        writer.write(frame)
    writer.release()
    return path


def child(video: Path, db: Path, device: str, flags: list[str]) -> None:
    """One session in this process; prints its peak RSS in MiB as the last line."""
    from fieldtool.cli import build_parser, overrides
    from fieldtool.config import load_config
    from fieldtool.pipeline import run_from_config

    args = build_parser().parse_args(["run", str(video), "--db", str(db), "--no-snapshots",
                                      "--device", device, *flags])  # fmt: skip
    config = load_config(None, {"source.uri": str(video), **overrides(args)})
    config.store.live_frame_interval_s = 0.0
    start = time.monotonic()
    result = run_from_config(config, log=lambda line: None)
    wall = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{result.session.frames_analysed} frames analysed in {wall:.1f} s")
    print(f"{peak:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=64.0, help="clip length (5 fps)")
    parser.add_argument("--device", default="cpu", help="model.device (cpu, cuda, auto)")
    parser.add_argument("--video", type=Path, help="use this clip instead of making one")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # a session's db
    parser.add_argument("--flags", default="", help=argparse.SUPPRESS)  # its run flags
    args = parser.parse_args()
    if args.child is not None:
        child(args.video, args.child, args.device, args.flags.split())
        return
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        if video is None:
            start = time.monotonic()
            video = make_clip(Path(tmp) / "clip_4k.mp4", args.seconds)
            print(f"made {video.name}: {SIZE[0]}x{SIZE[1]}, {args.seconds:g} s at {FPS:g} fps "
                  f"({video.stat().st_size / 2**20:.0f} MiB) in {time.monotonic() - start:.0f} s")  # fmt: skip
        print(f"{'setting':<28} {'peak RSS':>10}  result")
        worst = 0.0
        for n, (name, flags) in enumerate(SETTINGS):
            db = Path(tmp) / f"run{n}.duckdb"
            run = subprocess.run(
                [sys.executable, __file__, "--video", str(video), "--device", args.device,
                 "--child", str(db), f"--flags={' '.join(flags)}"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if run.returncode != 0:
                print(f"{name:<28} {'failed':>10}  {run.stderr.strip().splitlines()[-1:]}")
                worst = float("inf")
                continue
            *notes, peak_text = run.stdout.strip().splitlines()
            peak = float(peak_text)
            worst = max(worst, peak)
            print(f"{name:<28} {peak:>7.0f} MiB  {'; '.join(notes)}")
        verdict = "within" if worst <= TARGET_MB else "OVER"
        print(f"worst peak {worst:.0f} MiB: {verdict} the {TARGET_MB} MiB target")


if __name__ == "__main__":
    main()
