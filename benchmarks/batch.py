"""``fieldtool batch`` throughput: files/s and frames/s with 1, 2, ... Ray CPU workers, side by
side with the scaling ratio, and the model alone (frames/s) for comparison.

Prints a table and the CPU (and GPU) it ran on; no asserts. Input files are made with FFmpeg
from the demo walks (distinct files: a batch skips a file whose content it has seen):

    python benchmarks/batch.py                        # 4 demo-size files, 1 and 2 CPU workers
    python benchmarks/batch.py --files 8 --workers 1,2,4,8
    # the GPU machine: 1080p H.264, decode tasks on 15 CPUs feeding one GPU actor
    python benchmarks/batch.py --height 1080 --seconds 60 --files 8 --workers 15 \\
        --device cuda --arch vitb14reg4 --image-size 224 --batch-size 64

``--arch`` uses a random-weight DINOv2 of that size (speed does not depend on weights).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)

from fieldtool.config import DEMO_MODEL, load_config  # noqa: E402
from fieldtool.resources import shipped  # noqa: E402


def make_files(folder: Path, count: int, height: int, seconds: float) -> list[Path]:
    """``count`` distinct H.264 files from the demo walks (height 0: the walks' own size)."""
    walks = [shipped("data", "demo") / f"walk_{r}.mp4" for r in ("west", "east")]
    files = []
    for i in range(count):
        target = folder / f"clip_{i:03d}.mp4"
        scale = ["-vf", f"scale=-2:{height}"] if height else []
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(walks[i % 2]), "-t", str(seconds), *scale,
             "-c:v", "libx264", "-preset", "veryfast", "-crf", str(18 + i), "-pix_fmt",
             "yuv420p", str(target)],
            check=True,
        )  # fmt: skip
        files.append(target)
    return files


def random_model_folder(folder: Path, arch: str, image_size: int) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from throughput import random_model  # the benchmark's own random DINOv2

    from fieldtool.model import save_model_folder

    loaded = random_model(arch, image_size)
    target = folder / f"random-{arch}"
    save_model_folder(target, loaded.network, loaded.labels, loaded.info)
    return target


def model_only_fps(config, files: list[Path], frames: int) -> float:
    """Frames/s of the classifier alone on decoded frames (batches of model.batch_size)."""
    from fieldtool.pipeline import classifier_from_config
    from fieldtool.sources import VideoSource

    classifier = classifier_from_config(config, lambda m: None)
    images = []
    for frame in VideoSource(str(files[0]), sample_fps=config.source.sample_fps).frames():
        images.append(frame.image)
        if len(images) >= frames:
            break
    size = config.model.batch_size
    classifier.predict(images[:size], [classifier.prepare(i) for i in images[:size]])  # warm-up
    start = time.perf_counter()
    for k in range(0, len(images), size):
        part = images[k : k + size]
        classifier.predict(part, [classifier.prepare(i) for i in part])
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", default="1,2", help="Ray CPU counts to compare")
    parser.add_argument("--height", type=int, default=0, help="re-encode to this height")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each file")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arch", help="random DINOv2 (vits14, vitb14reg4); default: demo model")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--object-store-mb", type=int, default=1024)
    args = parser.parse_args()

    import ray

    from fieldtool.scale import BatchOptions, run_batch

    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores){gpu}; Ray {ray.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        files = make_files(folder, args.files, args.height, args.seconds)
        model = (
            random_model_folder(Path(tmp), args.arch, args.image_size) if args.arch else DEMO_MODEL
        )
        config = load_config(None, {
            "model.path": str(model), "model.device": args.device,
            "model.batch_size": args.batch_size, "store.snapshots": False,
        })  # fmt: skip
        model_fps = model_only_fps(config, files, 4 * args.batch_size)
        rows = []
        for workers in [int(w) for w in args.workers.split(",")]:
            ray.init(num_cpus=workers, object_store_memory=args.object_store_mb * 2**20,
                     include_dashboard=False, log_to_driver=False)  # fmt: skip
            ray.data.DataContext.get_current().enable_progress_bars = False
            warm = Path(tmp) / f"warm{workers}"
            warm.mkdir()
            os.link(files[0], warm / files[0].name)  # workers started, model loaded once
            run_batch(str(warm), Path(tmp) / f"warm{workers}.duckdb", config, log=lambda m: None)
            start = time.perf_counter()
            summary = run_batch(str(folder), Path(tmp) / f"w{workers}.duckdb", config,
                                BatchOptions(), log=lambda m: None)  # fmt: skip
            wall = time.perf_counter() - start
            ray.shutdown()
            frames = sum(f.frames for f in summary.done)
            rows.append((workers, len(summary.done), frames, wall))
        h = f"{args.height}p" if args.height else "demo size"
        print(f"{args.files} files x {args.seconds:.0f} s ({h}), model {model.name}, "
              f"device {args.device}, batch {args.batch_size}")  # fmt: skip
        print(f"model only: {model_fps:.1f} frames/s")
        print("| CPU workers | files | frames | wall s | files/s | frames/s | vs 1st | vs model |")
        print("|---|---|---|---|---|---|---|---|")
        base = rows[0][2] / rows[0][3]
        for workers, done, frames, wall in rows:
            fps = frames / wall
            print(f"| {workers} | {done} | {frames} | {wall:.1f} | {done / wall:.3f} | "
                  f"{fps:.1f} | {fps / base:.2f} | {fps / model_fps:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
