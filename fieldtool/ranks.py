"""Genus-level reporting: when congeners share a frame's score, report the genus.

:func:`report_rank` gives the best species if it reaches the threshold, else the best genus
whose summed species scores do; :func:`genus_scores` sums a probability vector per genus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fieldtool.types import Label, LabelSet


@dataclass(frozen=True)
class RankedName:
    """What to report for one frame: a species, or a genus when only the genus is sure."""

    name: str
    rank: str  # "species" or "genus"
    score: float  # probability (summed over the genus for rank "genus")
    species: tuple[str, ...] = field(default=())  # the genus' species that contributed


def genus_of(label: Label) -> str | None:
    """``label.genus`` where labels carry it, else the first word of a binomial name."""
    genus = getattr(label, "genus", None)
    if genus:
        return str(genus)
    words = label.species.split()
    if label.is_background or len(words) < 2 or not words[0][:1].isupper():
        return None
    return words[0]


def genus_scores(
    probs: np.ndarray, labels: LabelSet, genera: Mapping[str, str] | None = None
) -> tuple[list[str], np.ndarray]:
    """(N, C) or (C,) probabilities -> (genus names, (N, G) or (G,) summed probabilities).

    ``genera`` maps species to genus, overriding :func:`genus_of`.
    """
    names: list[str] = []
    columns: list[list[int]] = []
    for label in labels.labels:
        genus = (genera or {}).get(label.species) or genus_of(label)
        if genus is None:
            continue
        if genus not in names:
            names.append(genus)
            columns.append([])
        columns[names.index(genus)].append(label.index)
    scores = np.stack([probs[..., cols].sum(axis=-1) for cols in columns], axis=-1) if names else (
        np.zeros((*probs.shape[:-1], 0), np.float32)
    )  # fmt: skip
    return names, scores


def report_rank(
    probs: np.ndarray,
    labels: LabelSet,
    threshold: float,
    genera: Mapping[str, str] | None = None,
) -> RankedName | None:
    """(C,) probabilities -> the best species if it reaches ``threshold``; else the best
    genus whose summed score does (unsure between congeners); else None."""
    species_probs = np.where(labels.background_mask, -np.inf, probs)
    best = int(np.argmax(species_probs))
    if species_probs[best] >= threshold:
        return RankedName(labels.labels[best].species, "species", float(probs[best]))
    names, scores = genus_scores(probs, labels, genera)
    if not names:
        return None
    g = int(np.argmax(scores))
    if scores[g] < threshold:
        return None
    members = tuple(
        label.species
        for label in labels.labels
        if ((genera or {}).get(label.species) or genus_of(label)) == names[g]
    )
    return RankedName(names[g], "genus", float(scores[g]), members)
