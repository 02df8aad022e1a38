"""Time and place on the real telemetry files in ../shared/data: one table.

For each file: the fixes read and skipped, the SRT layout, the time source and zone that
``fieldtool run`` finds, and the share of detections positioned in a real session (the
demo model over a small video of the track's duration: a GoPro clip is run as it is; a DJI
SRT gets a video of the same name beside it; a GPX track a video that starts at its first
fix). Usage::

    python benchmarks/time_and_place.py [--shared ../shared/data] [--seconds 60]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fieldtool.config import load_config  # noqa: E402
from fieldtool.pipeline import run_from_config  # noqa: E402
from fieldtool.tracks import read_track  # noqa: E402
from fieldtool.types import FieldtoolError  # noqa: E402


def _video(path: Path, seconds: float, fps: float = 5.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (96, 72))
    rng = np.random.default_rng(0)
    for _ in range(max(1, round(seconds * fps))):
        writer.write(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
    writer.release()
    return path


def _session(video: Path, db: Path, **overrides: object) -> tuple[dict[str, object], list[str]]:
    lines: list[str] = []
    values = {"source.uri": str(video), "store.db": str(db), "store.snapshots": False,
              "source.sample_fps": 1.0, "store.detections": True}  # fmt: skip
    values.update(overrides)
    result = run_from_config(load_config(None, values), log=lines.append)
    s = result.session
    row = {"source": s.time_source, "zone": s.time_zone if s.time_zone_known else "unknown",
           "positioned": f"{s.frames_positioned}/{s.frames_analysed}"}  # fmt: skip
    return row, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--seconds", type=float, default=60.0, help="longest synthetic video")
    args = ap.parse_args()
    tele = args.shared / "telemetry"
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    print("| file | fixes read (skipped) | layout / clock | time source | zone | positioned |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for srt in sorted((tele / "dji_srt").glob("*.[sS][rR][tT]")):
            track = read_track(srt)
            span = (track.fixes[-1].time - track.fixes[0].time).total_seconds()
            folder = tmp / srt.stem
            folder.mkdir()
            video = _video(folder / f"{srt.stem}.mp4", min(span + 1, args.seconds))
            shutil.copy(srt, folder / srt.name)
            row, _ = _session(video, folder / "s.duckdb")
            layout = next((n.removeprefix("SRT layout: ") for n in track.notes
                           if n.startswith("SRT layout")), "")  # fmt: skip
            print(f"| {srt.name} | {len(track.fixes)} ({track.total_skipped}) | {layout}; "
                  f"{track.clock} | {row['source']} | {row['zone']} | {row['positioned']} |")  # fmt: skip
        gopro = tele / "gopro" / "max-heromode.mp4"
        if gopro.is_file():
            track = read_track(gopro)
            row, _ = _session(gopro, tmp / "gopro.duckdb")
            print(f"| {gopro.name} | {len(track.fixes)} ({track.total_skipped}) | GPMF GPS5; "
                  f"{track.clock} | {row['source']} | {row['zone']} | {row['positioned']} |")  # fmt: skip
        for gpx in sorted((tele / "gpx").glob("*.gpx")):
            try:
                track = read_track(gpx)
            except FieldtoolError as exc:  # e.g. a logger without a clock: refused, said why
                print(f"| {gpx.name} | refused: {str(exc).split(': ', 1)[1]} | | | | |")
                continue
            span = (track.fixes[-1].time - track.fixes[0].time).total_seconds()
            video = _video(tmp / f"{gpx.stem}.mp4", min(span, args.seconds))
            row, _ = _session(video, tmp / f"{gpx.stem}.duckdb", **{"position.track": str(gpx)})
            print(f"| {gpx.name} | {len(track.fixes)} ({track.total_skipped}) | GPX; "
                  f"{track.clock} | {row['source']} | {row['zone']} | {row['positioned']} |")  # fmt: skip


if __name__ == "__main__":
    main()
