"""Range-prior look-ups per second over a synthetic 10,000-fix track, all 679 atlas species.

Prints a table (no asserts). The track drives from Corvallis over the Cascades to Bend,
Oregon (about 15 m/s, one fix a second: 150 km, many range edges crossed). Compared:

* ``IndexedPrior`` (fieldtool.atlas, the bundled GeoPackage): STRtree pre-filter, H3
  cell cache; a cold pass (empty cache) and a warm pass (same track again);
* ``RangePrior`` (fieldtool.ranges) on the same geometries: exact per-position distances
  to every species, cached by position rounded to ~100 m; timed on the first
  ``--exact-fixes`` fixes only (it is slow) and reported per fix.

    python benchmarks/prior_lookups.py [--fixes 10000] [--speed 15] [--exact-fixes 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fieldtool.atlas import DEFAULT_ATLAS, load_atlas
from fieldtool.priors import IndexedPrior, RangePrior

START = (44.56, -123.26)  # Corvallis, Oregon
END = (44.06, -121.31)  # Bend, Oregon


def synthetic_track(n: int, speed_mps: float, seed: int = 0) -> np.ndarray:
    """(n, 2) lat/lon: a straight drive START → END at speed_mps, one fix a second, with
    ~5 m GPS noise; wraps back and forth if the drive is shorter than the track."""
    rng = np.random.default_rng(seed)
    lat0, lon0 = START
    lat1, lon1 = END
    km_lat = 110.574
    km_lon = 111.320 * np.cos(np.radians((lat0 + lat1) / 2))
    length_km = float(np.hypot((lat1 - lat0) * km_lat, (lon1 - lon0) * km_lon))
    along = (np.arange(n) * speed_mps / 1000.0) / length_km  # fraction of the drive
    frac = np.abs(((along + 1.0) % 2.0) - 1.0)  # there and back again
    lat = lat0 + frac * (lat1 - lat0) + rng.normal(0, 5e-5, n)
    lon = lon0 + frac * (lon1 - lon0) + rng.normal(0, 5e-5, n)
    return np.column_stack([lat, lon])


def timed(prior, track: np.ndarray, species: list[str]) -> tuple[float, float]:
    """(seconds, mean prior) for one look-up per fix."""
    started = time.perf_counter()
    total = 0.0
    for lat, lon in track:
        total += float(prior.prior(lat, lon, species).mean())
    return time.perf_counter() - started, total / len(track)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, default=10_000)
    parser.add_argument("--speed", type=float, default=15.0, help="m/s along the track")
    parser.add_argument("--exact-fixes", type=int, default=20, help="fixes timed for RangePrior")
    parser.add_argument("--atlas", default=str(DEFAULT_ATLAS))
    args = parser.parse_args()

    atlas = load_atlas(args.atlas)
    species = sorted(atlas.prior.species)
    track = synthetic_track(args.fixes, args.speed)
    print(f"atlas {args.atlas}: {len(species)} species, loaded in {atlas.load_s:.2f} s")
    print(f"track: {len(track)} fixes, {args.speed:g} m/s, Corvallis -> Bend, Oregon\n")
    print(f"{'prior':<34} {'fixes':>7} {'seconds':>9} {'look-ups/s':>11} {'mean prior':>11}")

    rows = []
    fresh = IndexedPrior({s: atlas.prior.geometry(s) for s in species})
    cold, mean = timed(fresh, track, species)
    rows.append(("IndexedPrior, cold cache", len(track), cold, mean))
    warm, mean = timed(fresh, track, species)
    rows.append(("IndexedPrior, warm cache", len(track), warm, mean))
    rows.append(("  (H3 cells on the track)", len(fresh._cache), float("nan"), float("nan")))

    exact = RangePrior({s: atlas.prior.geometry(s) for s in species})
    part = track[: args.exact_fixes]
    secs, mean = timed(exact, part, species)
    rows.append((f"RangePrior, first {len(part)} fixes", len(part), secs, mean))

    for name, n, secs, mean in rows:
        rate = n / secs if secs == secs and secs > 0 else float("nan")
        sec_text = f"{secs:9.2f}" if secs == secs else " " * 9
        rate_text = f"{rate:11.0f}" if rate == rate else " " * 11
        mean_text = f"{mean:11.3f}" if mean == mean else ""
        print(f"{name:<34} {n:>7} {sec_text} {rate_text} {mean_text}")
    if secs > 0:
        est = secs / len(part) * len(track)
        print(f"\nRangePrior for the whole track (extrapolated): ~{est:.0f} s")


if __name__ == "__main__":
    main()
