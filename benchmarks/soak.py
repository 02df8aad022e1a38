"""Soak: a long session at accelerated pace; prints memory, file handles and sightings.

The demo walk is played in a loop (media time keeps running) through the full pipeline
with the demo model, GPS track and range prior, into a fresh DuckDB file.

    python benchmarks/soak.py --minutes 30      # 30 minutes of video (under a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.config import load_config
from fieldtool.pipeline import inputs_from_config, run_session
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore, query
from fieldtool.types import Frame

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_handles() -> int:
    return len(os.listdir("/proc/self/fd"))


class LoopedSource(VideoSource):
    """Plays a file again and again until ``minutes`` of media time have passed."""

    def __init__(self, uri: str, minutes: float, **kw) -> None:
        super().__init__(uri, **kw)
        self.minutes = minutes

    def frames(self) -> Iterator[Frame]:
        offset_t, offset_index, start = 0.0, 0, self.start_time or datetime(2026, 6, 1, 9)
        while offset_t < self.minutes * 60:
            last = None
            for frame in super().frames():
                t = offset_t + frame.t
                last = replace(frame, index=offset_index + frame.index, t=t,
                               wall_time=start + timedelta(seconds=t))  # fmt: skip
                yield last
            if last is None:
                return
            offset_t, offset_index = last.t + 1 / (self.fps or 15), last.index + 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="media minutes to stream")
    parser.add_argument("--sample-fps", type=float, default=5.0)
    args = parser.parse_args()
    walk = ROOT / "data/demo/walk_west.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(overrides={
            "source.uri": str(walk), "source.sample_fps": args.sample_fps,
            "model.path": str(ROOT / "models/demo"), "position.lat": 44.56, "position.lon": -123.30,
            "prior.ranges": [str(ROOT / "data/ranges/demo_ranges.geojson")],
            "store.db": str(Path(tmp) / "soak.duckdb"),
        })  # fmt: skip
        inputs = inputs_from_config(config, log=print)
        source = LoopedSource(str(walk), args.minutes, sample_fps=args.sample_fps)
        store = SightingStore(config.store.db)
        mem0, fds0, t0 = rss_mib(), open_handles(), time.perf_counter()
        samples: list[tuple[float, float, int]] = []

        def progress(p) -> None:
            samples.append((p.t, rss_mib(), open_handles()))

        result = run_session(source, inputs.classifier, store, config, positions=inputs.positions,
                             prior=inputs.prior, progress=progress, progress_interval_s=10)  # fmt: skip
        wall = time.perf_counter() - t0
        sightings = query(config.store.db, "SELECT count(*) FROM sightings").iloc[0, 0]
        size_mb = config.store.db.stat().st_size / 2**20
    s = result.session
    print(
        f"media {args.minutes:.0f} min in {wall / 60:.1f} min wall ({args.minutes * 60 / wall:.1f}x real time)"
    )
    print(f"frames analysed {s.frames_analysed}, sightings {sightings}, database {size_mb:.1f} MiB")
    print(f"resident memory: start {mem0:.0f} MiB, end {rss_mib():.0f} MiB")
    print(f"open file handles: start {fds0}, end {open_handles()}")
    if samples:
        mid = samples[len(samples) // 2]
        print(f"  at media {mid[0] / 60:.1f} min: {mid[1]:.0f} MiB, {mid[2]} handles; "
              f"at {samples[-1][0] / 60:.1f} min: {samples[-1][1]:.0f} MiB, {samples[-1][2]} handles")  # fmt: skip


if __name__ == "__main__":
    main()
