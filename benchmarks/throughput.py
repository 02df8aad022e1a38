"""Frames per second: decode only, model only, full pipeline, and a plain transformers loop.

Prints a table (no asserts). The plain loop is what a user would write: OpenCV read, the
transformers image processor, the model, one frame at a time.

    python benchmarks/throughput.py                                  # demo model, demo walk
    python benchmarks/throughput.py --arch vits14 --image-size 224 --frames 96
    python benchmarks/throughput.py --arch vitb14reg4 --image-size 518 --tiles 4 --device cuda
    python benchmarks/throughput.py --arch vits14 --image-size 56 --inputs demo   # post-model work

(c) runs the stages after the model batch-wise (``FrameStep.step_batch``) and writes the file on
its writer thread; with ``--per-frame`` each round also runs (c') the old way (one
``FrameStep.step`` per frame, flushes on the session's thread), for comparison. For each it
prints the main thread's share: seconds the session's own thread spent on the stages after
the model per second the model thread spent classifying, and that time per frame.
``--inputs demo`` gives the session what the demo gives it: the walk's GPX track and the demo
range prior (``fixed``: one fixed position, no prior).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch
from transformers import Dinov2Config, Dinov2WithRegistersConfig

try:  # the PIL image processor, what AutoImageProcessor gives without torchvision
    from transformers import BitImageProcessorPil as PlainImageProcessor
except ImportError:  # transformers releases before the PIL / torchvision split
    from transformers import BitImageProcessor as PlainImageProcessor

from machine import cpu_name  # benchmarks/machine.py (this script's folder is on the path)

from fieldtool.classify import DinoClassifier
from fieldtool.cli.common import DEMO_RANGES
from fieldtool.config import Config
from fieldtool.model import LoadedModel, ModelInfo, SpeciesClassifier, load_model_folder
from fieldtool.pipeline import FrameStep, run_session
from fieldtool.pipeline.inputs import video_placement
from fieldtool.priors import RangePriorStage, range_prior_from_config
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore
from fieldtool.tracks import FixedPosition
from fieldtool.types import Frame, Label, LabelSet

ROOT = Path(__file__).resolve().parents[1]

ARCHS = {  # random weights: speed does not depend on weight values
    "vits14": lambda size: Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                        patch_size=14, image_size=size),
    "vitb14reg4": lambda size: Dinov2WithRegistersConfig(hidden_size=768, num_hidden_layers=12,
                                                         num_attention_heads=12, patch_size=14,
                                                         image_size=size, num_register_tokens=4),
}  # fmt: skip


def random_model(arch: str, image_size: int, classes: int = 100) -> LoadedModel:
    labels = LabelSet(tuple(Label(i, f"species {i}") for i in range(classes)))
    network = SpeciesClassifier(ARCHS[arch](image_size), classes, "cls").eval()
    return LoadedModel(network, labels, ModelInfo(f"random-{arch}", image_size), Path(arch))


def plain_loop(model: LoadedModel, video: Path, frames: int, device: torch.device) -> float:
    """Frames/s of the loop a user would write with the transformers image processor."""
    size = model.info.image_size
    processor = PlainImageProcessor(
        size={"height": size, "width": size}, do_center_crop=False,
        image_mean=list(model.info.mean), image_std=list(model.info.std),
    )  # fmt: skip
    network = model.network.to(device).eval()
    cap = cv2.VideoCapture(str(video))
    done = 0
    start = time.perf_counter()
    with torch.inference_mode():
        while done < frames:
            ok, bgr = cap.read()
            if not ok:
                break
            pixels = processor(images=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), return_tensors="pt")
            torch.softmax(network(pixels["pixel_values"].to(device)), dim=-1).cpu()
            done += 1
    cap.release()
    return done / (time.perf_counter() - start)


def model_only(classifier: DinoClassifier, frames: list) -> float:
    """Frames/s of the network alone (under the classifier's precision) on pre-made tensors."""
    tiles = classifier.tiles**2
    per_batch = max(1, classifier.batch_size // tiles)
    pixels = classifier.preprocess(frames[:per_batch])
    reps = max(2, len(frames) // per_batch)
    with torch.inference_mode():
        classifier._forward(pixels)
        if classifier.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(reps):
            classifier._forward(pixels)
        if classifier.device.type == "cuda":
            torch.cuda.synchronize()
    return reps * pixels.shape[0] / tiles / (time.perf_counter() - start)


@dataclass
class PipelineRun:
    fps: float  # analysed frames per wall second of the whole session
    busy: float  # fraction of the session's wall time the model thread was classifying
    share: float  # main-thread post-model seconds per model-thread second
    post_us: float  # main-thread post-model microseconds per frame
    write_share: float  # seconds writing the DuckDB file (any thread) per model second
    sightings: int


@contextmanager
def per_frame_steps() -> Iterator[None]:
    """The stages after the model as sessions ran them before ``FrameStep.step_batch`` and
    the writer thread: one frame at a time, each closed sighting and the periodic flush
    written on the session's own thread. A baseline for (c), in this process only."""
    batch_wise = FrameStep.step_batch

    def one_by_one(self: FrameStep, frames: list[Frame], probs, tile_probs) -> None:  # type: ignore[no-untyped-def]
        self.flush_by_caller = False
        try:
            for i, frame in enumerate(frames):
                self.step(frame, probs[i], tile_probs[i])
            self.flush(due_only=True)  # here, not on the writer thread (nothing left due)
        finally:
            self.flush_by_caller = True

    FrameStep.step_batch = one_by_one  # type: ignore[method-assign]
    try:
        yield
    finally:
        FrameStep.step_batch = batch_wise  # type: ignore[method-assign]


def pipeline(
    classifier: DinoClassifier, args: argparse.Namespace, *, per_frame: bool = False
) -> PipelineRun:
    """A whole session (reader, model, prior, smoothing, tracker, DuckDB): frames/s, how busy
    the model thread was, and the main thread's post-model work per model second and per frame."""
    every_frame = 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        config = Config()
        config.source.uri = str(args.video)
        config.source.sample_fps = every_frame
        config.source.max_frames = args.frames
        config.model.batch_size = args.batch_size
        config.store.db = Path(tmp) / "bench.duckdb"
        config.store.snapshots = False
        prior = None
        if args.inputs == "demo":
            config.position.track = args.video.with_suffix(".gpx")
            config.prior.ranges = [DEMO_RANGES]
            source, placement = video_placement(config, lambda line: None)
            positions = placement.positions
            ranges = range_prior_from_config(config.prior)
            prior = RangePriorStage(ranges, classifier.labels, config.prior) if ranges else None
        else:
            source, placement = video_placement(config, lambda line: None)
            positions = FixedPosition(44.5, -123.3)
        with per_frame_steps() if per_frame else contextlib.nullcontext():
            start = time.perf_counter()
            result = run_session(source, classifier, SightingStore(config.store.db), config,
                                 positions=positions, prior=prior, time_basis=placement.time)  # fmt: skip
            wall = time.perf_counter() - start
        frames = max(1, result.session.frames_analysed)
        return PipelineRun(
            frames / wall, result.model_busy_s / result.wall_s,
            result.post_busy_s / max(result.model_busy_s, 1e-9),
            1e6 * result.post_busy_s / frames,
            result.store_write_s / max(result.model_busy_s, 1e-9), len(result.sightings),
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--video", type=Path, default=ROOT / "data/demo/walk_west.mp4")
    parser.add_argument("--model", type=Path, default=ROOT / "models/demo")
    parser.add_argument(
        "--arch", choices=sorted(ARCHS), help="random-weight model instead of --model"
    )
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--frames", type=int, default=600, help="frames to analyse per measurement")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tiles", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="auto: bf16 on GPUs and on CPUs with AVX512-BF16/AMX, else fp32",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--compile-mode", default="default",
                        choices=["default", "reduce-overhead", "max-autotune",
                                 "max-autotune-no-cudagraphs"],
                        help="torch.compile's mode with --compile")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (b), (c), (d); medians")
    parser.add_argument("--inputs", choices=["fixed", "demo"], default="fixed",
                        help="(c)'s positions and prior: one fixed place and none, or the "
                             "video's GPX track and the demo range prior")  # fmt: skip
    parser.add_argument("--per-frame", action="store_true",
                        help="also run (c) with the post-model stages one frame at a time")  # fmt: skip
    args = parser.parse_args()

    model = random_model(args.arch, args.image_size) if args.arch else load_model_folder(args.model)
    classifier = DinoClassifier(model, device=args.device, batch_size=args.batch_size, tiles=args.tiles,
                            precision=args.precision, compile=args.compile,
                            compile_mode=args.compile_mode)  # fmt: skip
    start = time.perf_counter()
    source = VideoSource(str(args.video), sample_fps=1000.0, max_frames=args.frames)
    frames = [f.image for f in source.frames()]
    decode_fps = len(frames) / (time.perf_counter() - start)

    start = time.perf_counter()
    classifier.predict(frames[: args.batch_size])  # warm-up (and compile)
    warm_up_s = time.perf_counter() - start
    # Rounds of (b), (c), (d) in turn; medians, so a burst of load on a shared machine
    # hits one round of each rather than one measurement.
    rounds = [
        (model_only(classifier, frames), pipeline(classifier, args), plain_loop(
            model, args.video, min(args.frames, 200), classifier.device),
         pipeline(classifier, args, per_frame=True) if args.per_frame else None)
        for _ in range(args.rounds)
    ]  # fmt: skip
    model_fps, loop_fps = (statistics.median(r[i] for r in rounds) for i in (0, 2))
    runs = {"(c) full pipeline": [r[1] for r in rounds]}
    if args.per_frame:
        runs["(c') same, per frame"] = [r[3] for r in rounds if r[3] is not None]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = torch.cuda.get_device_name() if classifier.device.type == "cuda" else "none"
    print(f"model {model.info.model_id} at {model.info.image_size}px, tiles {args.tiles}x{args.tiles}, "
          f"precision {classifier.precision}{' compiled' if classifier.compiled else ''}, "
          f"batch {args.batch_size} (network calls of {classifier.micro_batch}); "
          f"video {args.video.name}, inputs {args.inputs}; device {classifier.device} (GPU: {gpu}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; CPU {cpu_name()}; "
          f"medians of {args.rounds} rounds")  # fmt: skip
    print(f"{'measurement':<34}{'frames/s':>10}")
    for name, fps in (("(a) decode only", decode_fps), ("(b) model only (pre-made tensors)", model_fps)):  # fmt: skip
        print(f"{name:<34}{fps:>10.1f}")
    medians = {}
    for name, values in runs.items():
        medians[name] = run = sorted(values, key=lambda r: r.fps)[(len(values) - 1) // 2]
        print(f"{name:<34}{run.fps:>10.1f}")
    print(f"{'(d) plain transformers loop':<34}{loop_fps:>10.1f}")
    for name, run in medians.items():
        print(f"{name[:4]}: (c)/(b) = {run.fps / model_fps:.2f}   (c)/(d) = {run.fps / loop_fps:.2f}   "
              f"model thread busy {100 * run.busy:.0f}%   main thread post-model "
              f"{100 * run.share:.1f}% of the model time, {run.post_us:.0f} us/frame; file "
              f"writes (any thread) {100 * run.write_share:.1f}%; {run.sightings} sightings")  # fmt: skip
    print(
        f"first batch (warm-up, compile): {warm_up_s:.1f} s; peak resident memory: {peak_mb:.0f} MiB"
    )


if __name__ == "__main__":
    main()
