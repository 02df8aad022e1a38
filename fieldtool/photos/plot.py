"""Plot mode: a photo's species set (multi-label, as PlantCLEF scores quadrat photos).

A plot photo shows several plants; cut into ``--tiles N`` (N x N tiles, each classified at
the model's native input size), a species is in the photo's set when it scores at least
the threshold in any tile; the set keeps the ``top_n`` best. :func:`plot_scores` is the
photo's score vector that stands for the set everywhere else (detections, sightings,
``fieldtool eval``): per species its maximum over tiles, not renormalised.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from fieldtool.types import LabelSet


def plot_scores(tile_probs: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(T, C) tile probabilities -> (C,) scores: a species' maximum over the tiles, the
    background's minimum (the photo is plant-free only where every tile is)."""
    scores = tile_probs.max(axis=0).astype(np.float32)
    if background.any():
        scores[background] = tile_probs[:, background].min(axis=0)
    return scores


def species_set(
    scores: np.ndarray, labels: LabelSet, threshold: float, top_n: int
) -> list[tuple[str, float]]:
    """(C,) plot scores -> the photo's species as (name, score), best first: every
    species (not background) at or above ``threshold``, at most ``top_n``."""
    background = labels.background_mask
    picked = [
        (labels.labels[i].species, float(scores[i]))
        for i in np.argsort(-scores, kind="stable")
        if not background[i] and scores[i] >= threshold
    ]
    return picked[:top_n]


def stored_set(
    species: Sequence[str], scores: Sequence[float], threshold: float, top_n: int,
    background: Collection[str],
) -> set[str]:  # fmt: skip
    """A stored detection's (top-k names, scores) -> the species set by the same rule;
    ``background``: the names that are no species."""
    keep = [(n, float(s)) for n, s in zip(species, scores, strict=True)
            if s >= threshold and n not in background]  # fmt: skip
    keep.sort(key=lambda pair: -pair[1])
    return {n for n, _ in keep[:top_n]}
