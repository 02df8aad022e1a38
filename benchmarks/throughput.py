"""Frames per second of decode only, model only and the full pipeline (prints, no asserts).

    python benchmarks/throughput.py [--video data/demo/walk_west.mp4] [--model models/demo]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch

from fieldtool.classify import Classifier
from fieldtool.config import Config
from fieldtool.model import load_model_folder
from fieldtool.pipeline import run_session
from fieldtool.position import FixedPosition
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--video", type=Path, default=ROOT / "data/demo/walk_west.mp4")
    parser.add_argument("--model", type=Path, default=ROOT / "models/demo")
    parser.add_argument("--sample-fps", type=float, default=1000.0, help="1000 = every frame")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    start = time.perf_counter()
    source = VideoSource(str(args.video), sample_fps=args.sample_fps)
    frames = [f.image for f in source.frames()]
    decode_s = time.perf_counter() - start
    n = len(frames)

    classifier = Classifier(load_model_folder(args.model), batch_size=args.batch_size)
    classifier.predict(frames[: args.batch_size])  # warm-up
    pixels = classifier.preprocess(frames[: args.batch_size])
    reps = max(1, n // args.batch_size)
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(reps):
            classifier.network(pixels)
    model_fps = reps * args.batch_size / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        config = Config()
        config.source.sample_fps = args.sample_fps
        config.model.batch_size = args.batch_size
        config.store.db = Path(tmp) / "bench.duckdb"
        store = SightingStore(config.store.db)
        source = VideoSource(str(args.video), sample_fps=args.sample_fps)
        start = time.perf_counter()
        result = run_session(source, classifier, store, config, positions=FixedPosition(44.5, -123.3))
        pipeline_s = time.perf_counter() - start

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"video {args.video.name}: {n} frames analysed, device {classifier.device}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}")  # fmt: skip
    print(f"{'stage':<28}{'frames/s':>10}")
    print(f"{'decode only':<28}{n / decode_s:>10.1f}")
    print(f"{'model only (pre-made batch)':<28}{model_fps:>10.1f}")
    print(f"{'full pipeline':<28}{result.session.frames_analysed / pipeline_s:>10.1f}")
    print(f"full / model-only ratio: {result.session.frames_analysed / pipeline_s / model_fps:.2f}")
    print(f"peak resident memory: {peak_mb:.0f} MiB; sightings: {len(result.sightings)}")


if __name__ == "__main__":
    main()
