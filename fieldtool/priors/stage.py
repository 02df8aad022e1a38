"""The pipeline's prior stage: what a prior is, how it is combined with the classifier.

:class:`SpeciesPrior` is what every prior (range polygons, indexed ranges, occurrence
records, several of them at once) offers the stage. :class:`RangePriorStage` asks it for
the (C,) prior of the label set at a frame's position and hands probabilities and prior
to ONE combining function, injected or picked by ``prior.mode`` (as SpeciesNet's ensemble
takes its ``prediction_combiner``): :func:`fuse` (``soft``) or :func:`keep_expected`
(``filter``). :class:`CombinedPrior` makes several priors one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from fieldtool.config import PriorConfig
from fieldtool.names import canonical, group_names
from fieldtool.priors.extent import outside_coverage
from fieldtool.types import LabelSet, Position

# (probs (C,) or (..., C), prior (C,) or probs' shape, in [0, 1]) -> combined probabilities,
# probs' shape; a (N, C) prior gives row n of probs row n of the prior
Combine = Callable[[np.ndarray, np.ndarray], np.ndarray]


class SpeciesPrior(Protocol):
    """What the prior stage needs: range polygons, indexed ranges or occurrence records.

    Priors may also have ``notes``, lines for the log (files read, rows skipped, names
    merged), which :func:`notes_of` reads and :func:`fieldtool.priors.range_coverage`
    passes on; and ``priors(lats, lons, species, decay_km)``, the (N, C) rows of
    :meth:`prior` at N places at once (cell-cached priors look each cell up once), which
    :func:`prior_rows` uses.
    """

    @property
    def species(self) -> set[str]: ...

    def has(self, species: str) -> bool: ...

    def __len__(self) -> int: ...

    def prior(
        self, lat: float, lon: float, species: Sequence[str], decay_km: float | None = None
    ) -> np.ndarray: ...


def notes_of(prior: object) -> tuple[str, ...]:
    """A prior's log lines (its optional ``notes``), () when it has none."""
    return tuple(getattr(prior, "notes", ()))


def prior_rows(
    prior: SpeciesPrior,
    lats: Sequence[float],
    lons: Sequence[float],
    species: Sequence[str],
    decay_km: float | None = None,
) -> np.ndarray:
    """(N, C) float64: row n is ``prior.prior(lats[n], lons[n], species, decay_km)``, each
    distinct place asked once (or all at once, where the prior has ``priors``)."""
    many = getattr(prior, "priors", None)
    if many is not None:
        return np.asarray(many(lats, lons, species, decay_km))
    places: dict[tuple[float, float], int] = {}
    inverse = [places.setdefault(p, len(places)) for p in zip(lats, lons, strict=True)]
    if not inverse:
        return np.zeros((0, len(species)), dtype=np.float64)
    rows = np.stack([prior.prior(lat, lon, species, decay_km) for lat, lon in places])
    return rows[inverse]


def fuse(probs: np.ndarray, prior: np.ndarray, weight: float, floor: float) -> np.ndarray:
    """posterior ∝ probs · (prior + floor) ** weight, renormalised over the last axis.

    ``probs``: (C,) or (..., C); ``prior``: (C,) or probs' shape, in [0, 1]. ``weight`` 0 gives ``probs``
    back unchanged (a copy). ``floor`` > 0, so no class is ever set to 0 by the prior.
    """
    probs = np.asarray(probs)
    if weight == 0:
        return probs.copy()
    if floor <= 0:
        raise ValueError(f"floor must be > 0, got {floor}")
    factor = (np.clip(np.asarray(prior, dtype=np.float64), 0.0, 1.0) + floor) ** weight
    post = probs.astype(np.float64) * factor
    total = post.sum(axis=-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    out = np.where(total > 0, post / safe, probs)
    return out.astype(probs.dtype if np.issubdtype(probs.dtype, np.floating) else np.float64)


def keep_expected(probs: np.ndarray, prior: np.ndarray, threshold: float) -> np.ndarray:
    """Only the classes with prior >= ``threshold``, renormalised over the last axis;
    ``probs`` unchanged where that would leave nothing (BirdNET-style species filter)."""
    kept = np.where(prior >= threshold, probs, 0.0)
    total = kept.sum(axis=-1, keepdims=True)
    return np.where(total > 0, kept / np.where(total > 0, total, 1.0), probs).astype(probs.dtype)


def combiner(cfg: PriorConfig) -> Combine:
    """The combining function ``cfg.mode`` asks for: ``soft`` → :func:`fuse` with
    ``cfg.weight``/``cfg.floor``, ``filter`` → :func:`keep_expected` at
    ``cfg.filter_threshold``."""
    if cfg.mode == "filter":
        threshold = cfg.filter_threshold

        def filtered(probs: np.ndarray, prior: np.ndarray) -> np.ndarray:
            return keep_expected(probs, prior, threshold)

        return filtered
    weight, floor = cfg.weight, cfg.floor

    def fused(probs: np.ndarray, prior: np.ndarray) -> np.ndarray:
        return fuse(probs, prior, weight, floor)

    return fused


class RangePriorStage:
    """Applies a :class:`SpeciesPrior` to each frame's (C,) probabilities.

    ``combine``: the one function that combines probabilities and prior; by default
    :func:`combiner` of ``cfg`` (``soft``: :func:`fuse`, ``filter``: :func:`keep_expected`).
    ``log`` hears, once, that a place the session reaches lies outside all of the prior's
    data (:func:`~fieldtool.priors.extent.outside_coverage`): the prior cannot judge there.
    """

    def __init__(
        self,
        prior: SpeciesPrior | None,
        labels: LabelSet,
        cfg: PriorConfig,
        combine: Combine | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.prior = prior
        self.labels = labels
        self.cfg = cfg
        self.combine: Combine = combine if combine is not None else combiner(cfg)
        self.log = log
        self._background = labels.background_mask
        self._species = labels.species
        self._place_said = log is None  # the warning below: once a session

    def check_place(self, position: Position) -> str | None:
        """The warning that ``position`` lies outside all of the prior's data (every species
        there gets about 0: with ``filter`` all would be dropped), or None."""
        if self.prior is None:
            return None
        where = outside_coverage(self.prior, position.lat, position.lon, self.cfg.decay_km)
        if where is None:
            return None
        drop = ("with --prior-mode filter every species with range data is dropped there"
                if self.cfg.mode == "filter" else
                "each species with range data is weighed down to the floor there")  # fmt: skip
        return (f"warning: range prior: {where}: the prior cannot judge species there; "
                f"{drop}; give range data that covers the place, or --ignore-location")

    def say_place(self, position: Position) -> None:
        """Say :meth:`check_place` of ``position`` in ``log``: only the first position is
        looked at (a session calls it with its fixed place before it runs; else its first
        placed frame), so the frames after it cost nothing."""
        if self._place_said or self.log is None:
            return
        self._place_said = True
        said = self.check_place(position)
        if said is not None:
            self.log(said)

    @property
    def active(self) -> bool:
        return self.prior is not None and self.cfg.weight > 0 and len(self.prior) > 0

    def prior_at(self, position: Position) -> np.ndarray:
        """(C,) prior for the label set at a position; background classes get 1."""
        if self.prior is None:
            return np.ones(len(self._species))
        p = self.prior.prior(position.lat, position.lon, self._species, self.cfg.decay_km)
        p[self._background] = 1.0
        return p

    def priors_at(self, positions: Sequence[Position]) -> np.ndarray:
        """(N, C) priors at N positions, row n as :meth:`prior_at` of ``positions[n]``."""
        if self.prior is None:
            return np.ones((len(positions), len(self._species)))
        lats, lons = [p.lat for p in positions], [p.lon for p in positions]
        rows = prior_rows(self.prior, lats, lons, self._species, self.cfg.decay_km)
        rows[:, self._background] = 1.0
        return rows

    def apply(self, probs: np.ndarray, position: Position | None) -> np.ndarray:
        """Combined (C,) (or (..., C)) probabilities; ``probs`` itself without a position
        or an active prior (none, weight 0, or no species)."""
        if position is None or not self.active:
            return probs
        self.say_place(position)
        return self.combine(probs, self.prior_at(position))

    def apply_batch(self, probs: np.ndarray, positions: Sequence[Position | None]) -> np.ndarray:
        """(N, C) probabilities of N frames at their positions -> (N, C), row for row what
        :meth:`apply` gives: the priors of the placed rows looked up together
        (:meth:`priors_at`) and combined in one call; ``probs`` itself when nothing changes."""
        placed = [i for i, p in enumerate(positions) if p is not None]
        if not placed or not self.active:
            return probs
        at = [p for p in positions if p is not None]
        self.say_place(at[0])
        prior = self.priors_at(at)
        if len(placed) == len(probs):
            return self.combine(probs, prior)
        combined = self.combine(probs[placed], prior)
        out = probs.astype(combined.dtype)  # a copy: rows without a position stay as given
        out[placed] = combined
        return out


class CombinedPrior:
    """Several priors as one: per species, the largest prior among those with its data.

    Lets range polygons and occurrence records be used together; a species known to no
    part gets 1.
    """

    def __init__(self, parts: Sequence[SpeciesPrior]) -> None:
        self.parts = list(parts)
        # Which part knows which label: asked with the same label list every frame.
        self._known: dict[tuple[str, ...], list[np.ndarray]] = {}

    @property
    def notes(self) -> tuple[str, ...]:
        """The parts' log lines, in order."""
        return tuple(n for p in self.parts for n in notes_of(p))

    @property
    def species(self) -> set[str]:
        """One name per species: parts may spell it differently (an atlas's old name,
        the accepted name in occurrence records), :func:`fieldtool.names.group_names`
        picks one."""
        names = [s for p in self.parts for s in sorted(p.species)]
        return set(group_names(names)[0].values())

    def has(self, species: str) -> bool:
        return any(p.has(species) for p in self.parts)

    def __len__(self) -> int:
        return len({canonical(s) for s in self.species})

    def _known_by(self, species: Sequence[str]) -> list[np.ndarray]:
        """Per part, (C,) whether it has data for each of ``species``."""
        key = tuple(species)
        if key not in self._known:
            if len(self._known) >= 8:
                self._known.clear()
            self._known[key] = [np.array([p.has(s) for s in key], np.bool_) for p in self.parts]
        return self._known[key]

    def prior(
        self, lat: float, lon: float, species: Sequence[str], decay_km: float | None = None
    ) -> np.ndarray:
        return self.priors([lat], [lon], species, decay_km)[0]

    def priors(
        self,
        lats: Sequence[float],
        lons: Sequence[float],
        species: Sequence[str],
        decay_km: float | None = None,
    ) -> np.ndarray:
        """(N, C): :meth:`prior` at N places, each part asked for all of them at once."""
        out = np.full((len(lats), len(species)), -np.inf)
        for p, known in zip(self.parts, self._known_by(species), strict=True):
            if known.any():
                vals = prior_rows(p, lats, lons, species, decay_km)
                out = np.where(known, np.maximum(out, vals), out)
        return np.where(np.isfinite(out), out, 1.0)
