"""``fieldtool learn`` time and peak memory per 1,000 reviewed sightings (or, with
``--photos N``, per 1,000 photos in species folders: ``learn --photos``).

Builds a synthetic database of N reviewed sightings in S sessions, each with its snapshot
and k kept frames (demo renders, made unique per frame by a little noise so that every
frame is embedded once), then runs :func:`fieldtool.learn.update.learn` twice in a fresh
process each: cold (every frame embedded) and warm (features from the cache). Prints the
figures and the CPU (and GPU) it ran on; no asserts.

    python benchmarks/learn.py                       # 1,000 sightings, demo model, CPU
    python benchmarks/learn.py --sightings 3000 --model models/demo --device cuda
    python benchmarks/learn.py --photos 1000         # learn --photos, no database
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)

from fieldtool.resources import demo_model  # noqa: E402


def build_db(db: Path, sightings: int, sessions: int, frames: int, seed: int = 0) -> int:
    """N reviewed sightings with 1 + ``frames`` JPEGs each; returns the frames written."""
    from fieldtool.demo.render import FRAME_SIZE, class_names, render_sample
    from fieldtool.learn.keep import FrameKeeper
    from fieldtool.preview import write_jpeg
    from fieldtool.store import SightingStore, add_review
    from fieldtool.types import Frame, SessionInfo, Sighting, SightingEvent

    names = [n for n in class_names() if n != "background"]
    gen = np.random.default_rng(seed)
    pool = [render_sample(names[i % len(names)], np.random.default_rng([seed, i]), FRAME_SIZE)
            for i in range(len(names) * 8)]  # fmt: skip
    store = SightingStore(db)
    t0 = datetime(2026, 6, 1, 9)
    written = 0
    reviews = []
    for s in range(sessions):
        store.record_session(SessionInfo(f"sess{s}", f"walk{s}.mp4", "bench", t0))
    keeper = FrameKeeper()
    for i in range(sightings):
        base = i % len(pool)
        species = names[base % len(names)]
        sighting = Sighting(f"s{i}", f"sess{i % sessions}", species, "", t0, t0, 0.0,
                            frames / 10, frames=frames + 1, status="closed")  # fmt: skip
        images = [np.clip(pool[base].astype(np.int16) + gen.integers(-6, 7, pool[base].shape),
                          0, 255).astype(np.uint8) for _ in range(frames + 1)]  # fmt: skip
        keeper.handle(SightingEvent("start", sighting, Frame(0, 0.0, t0, images[0])),
                      store, frames)  # fmt: skip
        for j in range(1, frames + 1):
            keeper.observe(Frame(j, j / 10, t0, images[j]))
        target = store.snapshot_dir(sighting.session_id) / f"{sighting.sighting_id}.jpg"
        write_jpeg(target, images[0])
        sighting.snapshot_path = target.relative_to(store.folder).as_posix()
        keeper.handle(SightingEvent("end", sighting, Frame(0, 0.0, t0 + timedelta(), images[0])),
                      store, frames)  # fmt: skip
        store.record_sighting(sighting)
        written += 1 + frames
        reviews.append((sighting.sighting_id, "confirm" if i % 10 else "reject"))
        if i % 200 == 199:
            store.flush()
    store.close()
    for sighting_id, decision in reviews:
        add_review(db, sighting_id, decision, reviewer="bench")
    return written


def build_photos(folder: Path, photos: int, seed: int = 0) -> int:
    """``folder/<Genus_epithet>/<i>.jpg``: ``photos`` unique demo renders over the demo
    species (noise makes each one distinct, so each is embedded once)."""
    from fieldtool.demo.render import FRAME_SIZE, class_names, render_sample
    from fieldtool.preview import write_jpeg

    names = [n for n in class_names() if n != "background"]
    gen = np.random.default_rng(seed)
    pool = [render_sample(names[i % len(names)], np.random.default_rng([seed, i]), FRAME_SIZE)
            for i in range(len(names) * 8)]  # fmt: skip
    for i in range(photos):
        base = pool[i % len(pool)]
        image = np.clip(base.astype(np.int16) + gen.integers(-6, 7, base.shape), 0, 255)
        write_jpeg(folder / names[i % len(pool) % len(names)].replace(" ", "_") / f"{i}.jpg",
                   image.astype(np.uint8))  # fmt: skip
    return photos


def _child(args: tuple[str, str, str, str, str], queue: multiprocessing.Queue) -> None:
    db, model, out, device, photos = args
    from fieldtool.learn.update import learn

    start = time.perf_counter()
    result = learn(db or None, model, out, photos=[photos] if photos else (), force=True,
                   device=device)  # fmt: skip
    queue.put((time.perf_counter() - start,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB -> MiB
               result.message))  # fmt: skip


def run_learn(db: Path | None, model: str, out: Path, device: str,
              photos: Path | None = None) -> tuple[float, float, str]:  # fmt: skip
    """(seconds, peak RSS MiB, message) of one learn in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()
    job = (str(db or ""), model, str(out), device, str(photos or ""))
    proc = ctx.Process(target=_child, args=(job, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--frames", type=int, default=4, help="kept frames per sighting (k)")
    parser.add_argument("--model", default=str(demo_model()))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--photos", type=int, default=0,
                        help="learn from this many photos in species folders instead")
    args = parser.parse_args()
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"CPU: {cpu_name()} ({multiprocessing.cpu_count()} cores), GPU: {gpu}, "
          f"torch threads {torch.get_num_threads()}, device {args.device}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        if args.photos:
            folder = Path(tmp) / "photos"
            start = time.perf_counter()
            build_photos(folder, args.photos)
            print(f"wrote {args.photos} photos in {time.perf_counter() - start:.0f} s")
            for run in ("cold", "warm"):
                seconds, rss, message = run_learn(None, args.model, Path(tmp) / f"out-{run}",
                                                  args.device, folder)  # fmt: skip
                print(f"{run:>5} cache: {seconds:7.1f} s ({seconds * 1000 / args.photos:7.1f} s "
                      f"per 1,000 photos), peak RSS {rss:7.0f} MiB; {message[:80]}")  # fmt: skip
            return 0
        db = Path(tmp) / "bench.duckdb"
        start = time.perf_counter()
        frames = build_db(db, args.sightings, args.sessions, args.frames)
        print(f"built {args.sightings} reviewed sightings, {frames} frames, "
              f"{args.sessions} sessions in {time.perf_counter() - start:.0f} s")  # fmt: skip
        per = 1000 / args.sightings
        for run in ("cold", "warm"):
            seconds, rss, message = run_learn(db, args.model, Path(tmp) / f"out-{run}",
                                              args.device)  # fmt: skip
            print(f"{run:>5} cache: {seconds:7.1f} s ({seconds * per:7.1f} s per 1,000 "
                  f"sightings), peak RSS {rss:7.0f} MiB; {message[:80]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
