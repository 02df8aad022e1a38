"""The prior stage over a batch of frames: the same (N, C) rows as frame by frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from fieldtool.config import PriorConfig
from fieldtool.priors import (
    CombinedPrior,
    IndexedPrior,
    OccurrencePrior,
    RangePrior,
    RangePriorStage,
    fuse,
    keep_expected,
    prior_rows,
)
from fieldtool.types import Label, LabelSet, Position

NAMES = ["Acer rubrum", "Pinus taeda", "Quercus alba", "Betula nigra", "No ranges here"]
LABELS = LabelSet(tuple(Label(i, n) for i, n in enumerate(NAMES))
                  + (Label(len(NAMES), "background", is_background=True),))  # fmt: skip
RANGES = {"Acer rubrum": box(-101, 39, -99, 41), "Pinus taeda": box(-100.5, 40.2, -100.1, 40.6),
          "Quercus alba": box(-99.5, 39.5, -98, 40)}  # fmt: skip


def _occurrences() -> OccurrencePrior:
    rows = [
        ("Acer rubrum", 40.0, -100.0),
        ("Betula nigra", 40.3, -99.7),
        ("Quercus alba", 39.6, -99.4),
    ]
    frame = pd.DataFrame(rows, columns=["species", "lat", "lon"])
    frame["weight"] = 1.0
    return OccurrencePrior(frame)


PRIORS = {
    "indexed": lambda: IndexedPrior(RANGES, decay_km=20.0),
    "polygons": lambda: RangePrior(RANGES, decay_km=20.0),  # no batch method: per place
    "occurrences": _occurrences,
    "combined": lambda: CombinedPrior([IndexedPrior(RANGES, decay_km=20.0), _occurrences()]),
}


def _batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[Position | None]]:
    """Probabilities and a walk's positions: steps of ~100 m to ~30 km, repeats, no fix."""
    probs = rng.dirichlet(np.ones(len(LABELS)) * 0.5, size=n).astype(np.float32)
    lat = 40.0 + np.cumsum(rng.normal(0, 0.05, n))
    lon = -100.0 + np.cumsum(rng.normal(0, 0.05, n))
    positions: list[Position | None] = [
        Position(float(a), float(o)) for a, o in zip(lat, lon, strict=True)
    ]
    for i in rng.choice(n, n // 5, replace=False):
        positions[i] = None
    for i in rng.choice(n - 1, n // 5, replace=False):
        positions[i + 1] = positions[i]  # the same place twice running
    return probs, positions


@pytest.mark.parametrize("kind", sorted(PRIORS))
@pytest.mark.parametrize("cfg", [PriorConfig(weight=1.0, floor=0.02, decay_km=20.0),
                                 PriorConfig(weight=2.5, floor=0.1, decay_km=20.0),
                                 PriorConfig(mode="filter", filter_threshold=0.3, decay_km=20.0)])  # fmt: skip
def test_batch_prior_equals_frame_by_frame(kind: str, cfg: PriorConfig) -> None:
    rng = np.random.default_rng(3)
    stage = RangePriorStage(PRIORS[kind](), LABELS, cfg)
    assert stage.active
    probs, positions = _batch(rng, 200)
    expected = np.stack([stage.apply(p, where) for p, where in zip(probs, positions, strict=True)])
    got = stage.apply_batch(probs, positions)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    changed = ~np.isclose(expected, probs).all(axis=1)
    assert changed.sum() > 100  # the prior does change most placed rows
    placed = [p for p in positions if p is not None]
    assert np.array_equal(stage.priors_at(placed), np.stack([stage.prior_at(p) for p in placed]))
    # every frame placed, and none placed
    full = [p or Position(40.0, -100.0) for p in positions]
    assert np.array_equal(stage.apply_batch(probs, full),
                          np.stack([stage.apply(p, w) for p, w in zip(probs, full, strict=True)]))  # fmt: skip
    assert stage.apply_batch(probs, [None] * len(probs)) is probs


def test_batch_prior_of_an_inactive_stage_is_the_input() -> None:
    probs = np.full((3, len(LABELS)), 1 / len(LABELS), np.float32)
    here = [Position(40.0, -100.0)] * 3
    assert RangePriorStage(None, LABELS, PriorConfig()).apply_batch(probs, here) is probs
    off = RangePriorStage(IndexedPrior(RANGES), LABELS, PriorConfig(weight=0.0))
    assert off.apply_batch(probs, here) is probs


def test_prior_rows_ask_each_place_once_and_refuse_what_is_not_a_place() -> None:
    class Counting:
        asked: list[tuple[float, float]] = []

        def prior(self, lat, lon, species, decay_km=None):  # type: ignore[no-untyped-def]
            self.asked.append((lat, lon))
            return np.full(len(species), lat)

    counting = Counting()
    rows = prior_rows(counting, [1.0, 2.0, 1.0, 1.0], [5.0, 5.0, 5.0, 6.0], ["a", "b"])  # type: ignore[arg-type]
    assert rows[:, 0].tolist() == [1.0, 2.0, 1.0, 1.0] and len(counting.asked) == 3
    assert prior_rows(counting, [], [], ["a"]).shape == (0, 1)  # type: ignore[arg-type]
    for prior in (IndexedPrior(RANGES), _occurrences()):
        with pytest.raises(ValueError, match="not a position"):
            prior_rows(prior, [40.0, float("nan")], [-100.0, -100.0], NAMES)


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0, 3.0])
def test_fusion_of_a_batch_with_a_prior_per_row_equals_row_by_row(weight: float) -> None:
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(40) * 0.3, size=64).astype(np.float32)
    prior = rng.choice([0.0, 1e-4, 0.3, 1.0], size=(64, 40)) * rng.random((64, 40))
    prior[:4] = 0.0
    probs[4] = 0.0  # a row with no mass at all stays as it is
    expected = np.stack([fuse(p, q, weight, 0.02) for p, q in zip(probs, prior, strict=True)])
    assert np.array_equal(fuse(probs, prior, weight, 0.02), expected)
    kept = np.stack([keep_expected(p, q, 0.25) for p, q in zip(probs, prior, strict=True)])
    assert np.array_equal(keep_expected(probs, prior, 0.25), kept)
