"""Pipeline stage "range prior": reweight class probabilities by species range maps.

posterior ∝ p(class | image) · (prior + floor) ** weight, where the prior of a species at a
place is 1 inside its mapped range and ``exp(-d / decay_km)`` outside, ``d`` being the
distance in km from the place to the range. Species without range data get prior 1, so
they are neither helped nor hurt. ``floor`` > 0 keeps an out-of-range species possible
(range maps are incomplete, plants are planted): it is down-weighted, never erased.

Distances: the range is mapped to a local equirectangular frame centred on the place
(km per degree of latitude, and of longitude scaled by cos(latitude), longitudes taken
the short way round from the place) to find the range's nearest point, then ``d`` is
the WGS84 geodesic distance to that point. Within a few hundred km, where the prior
matters, this is the geodesic distance to within about a percent; far away it can
overstate the distance slightly, where ``exp(-d / decay_km)`` is ~0 anyway.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from fieldtool.config import PriorConfig
from fieldtool.names import canonical, group_names, merge_note, plain_key, species_key
from fieldtool.types import FieldtoolError, LabelSet, Position

log = logging.getLogger(__name__)

# Local frame for finding the nearest point only; the distance itself is geodesic.
_KM_PER_DEG_LAT = 110.574  # WGS84 at the equator (111.69 at the poles)
_KM_PER_DEG_LON_EQ = 111.320  # WGS84 at the equator, times cos(latitude) elsewhere


def _key(name: str) -> str:
    """Species names match by :func:`fieldtool.names.canonical`: case, authorship and
    infraspecific rank ignored, synonyms mapped to the accepted name (bundled table)."""
    return canonical(str(name))


class RangePrior:
    """Species ranges (EPSG:4326 polygons) and the distance-based prior they give.

    ``ranges`` maps species name → (Multi)Polygon in lon/lat degrees. Results are cached
    per position rounded to ``cache_decimals`` decimal degrees (3: ~100 m), at most
    ``cache_size`` positions (least recently used dropped first). Names that are one
    species by :func:`fieldtool.names.canonical` share one range (their union), under the
    name :func:`fieldtool.names.group_names` picks. ``notes``: lines for the log (see
    :func:`range_coverage`), to which a line naming the merged names is added.
    """

    def __init__(
        self,
        ranges: Mapping[str, BaseGeometry],
        decay_km: float = 50.0,
        cache_size: int = 1024,
        cache_decimals: int = 3,
        notes: Sequence[str] = (),
    ) -> None:
        if not decay_km > 0:
            raise ValueError(f"decay_km must be > 0, got {decay_km}")
        self.decay_km = float(decay_km)
        self._geoms: dict[str, BaseGeometry] = {}
        given = [(n, g) for n, g in ranges.items() if g is not None and not g.is_empty]
        for name, geom in given:
            key = _key(name)
            old = self._geoms.get(key)  # another spelling of a species given: unite
            self._geoms[key] = geom if old is None else shapely.union(old, geom)
        for geom in self._geoms.values():
            shapely.prepare(geom)
        self._names, merged = group_names(n for n, _ in given)
        self.notes: tuple[str, ...] = tuple(notes) + tuple(merge_note("ranges", merged))
        self._geod = Geod(ellps="WGS84")
        self._cache: OrderedDict[tuple[float, float], dict[str, float]] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        self._decimals = int(cache_decimals)

    @property
    def species(self) -> set[str]:
        """Names of the species that have range data."""
        return set(self._names.values())

    def has(self, species: str) -> bool:
        return _key(species) in self._geoms

    def geometry(self, species: str) -> BaseGeometry | None:
        """The range of a species (lon/lat degrees), or None without data."""
        return self._geoms.get(_key(species))

    def __len__(self) -> int:
        return len(self._geoms)

    def _distance_km(self, key: str, lat: float, lon: float) -> float:
        geom = self._geoms[key]
        if shapely.intersects_xy(geom, lon, lat):  # inside or on the edge
            return 0.0
        kx = _KM_PER_DEG_LON_EQ * max(math.cos(math.radians(lat)), 1e-6)
        ky = _KM_PER_DEG_LAT

        def to_local(xy: np.ndarray) -> np.ndarray:
            dx = (xy[:, 0] - lon + 180.0) % 360.0 - 180.0
            return np.column_stack([dx * kx, (xy[:, 1] - lat) * ky])

        local = shapely.transform(geom, to_local)
        origin = shapely.Point(0.0, 0.0)
        _, nearest = shapely.shortest_line(origin, local).coords
        near_lon = lon + nearest[0] / kx
        near_lat = min(90.0, max(-90.0, lat + nearest[1] / ky))
        _, _, metres = self._geod.inv(lon, lat, near_lon, near_lat)
        return float(metres) / 1000.0

    def distances_km(self, lat: float, lon: float, species: Sequence[str]) -> np.ndarray:
        """(C,) float64: km from (lat, lon) to each species' range; 0 inside, NaN without data."""
        pos = (round(float(lat), self._decimals), round(float(lon), self._decimals))
        known = self._cache.get(pos)
        if known is None:
            known = {}
            self._cache[pos] = known
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(pos)
        out = np.full(len(species), np.nan, dtype=np.float64)
        for i, name in enumerate(species):
            key = _key(name)
            if key not in self._geoms:
                continue
            d = known.get(key)
            if d is None:
                d = self._distance_km(key, pos[0], pos[1])
                known[key] = d
            out[i] = d
        return out

    def prior(
        self, lat: float, lon: float, species: Sequence[str], decay_km: float | None = None
    ) -> np.ndarray:
        """(C,) float64 in [0, 1]: 1 inside the range, exp(-d/decay_km) outside, 1 without data."""
        decay = self.decay_km if decay_km is None else float(decay_km)
        d = self.distances_km(lat, lon, species)
        return np.where(np.isnan(d), 1.0, np.exp(-np.nan_to_num(d) / decay))


def fuse(probs: np.ndarray, prior: np.ndarray, weight: float, floor: float) -> np.ndarray:
    """posterior ∝ probs · (prior + floor) ** weight, renormalised over the last axis.

    ``probs``: (C,) or (..., C); ``prior``: (C,) in [0, 1]. ``weight`` 0 gives ``probs``
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


class SpeciesPrior(Protocol):
    """What the prior stage needs: range polygons, indexed ranges or occurrence records.

    Priors may also have ``notes``, lines for the log (files read, rows skipped, names
    merged), which :func:`range_coverage` passes on.
    """

    @property
    def species(self) -> set[str]: ...

    def has(self, species: str) -> bool: ...

    def __len__(self) -> int: ...

    def prior(
        self, lat: float, lon: float, species: Sequence[str], decay_km: float | None = None
    ) -> np.ndarray: ...


class RangePriorStage:
    """Applies a :class:`RangePrior` to each frame's (C,) probabilities."""

    def __init__(self, prior: SpeciesPrior | None, labels: LabelSet, cfg: PriorConfig) -> None:
        self.prior = prior
        self.labels = labels
        self.cfg = cfg
        self._background = labels.background_mask
        self._species = labels.species

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

    def apply(self, probs: np.ndarray, position: Position | None) -> np.ndarray:
        """Fused (C,) (or (..., C)) probabilities; unchanged without a position or prior.

        ``soft`` (default) reweights; ``filter`` keeps only the species expected here (prior
        at least ``filter_threshold``, plus species without range data and background) and
        renormalises, unless that would leave nothing.
        """
        if position is None or not self.active:
            return probs
        prior = self.prior_at(position)
        if self.cfg.mode == "filter":
            kept = np.where(prior >= self.cfg.filter_threshold, probs, 0.0)
            total = kept.sum(axis=-1, keepdims=True)
            return np.where(total > 0, kept / np.where(total > 0, total, 1.0), probs).astype(
                probs.dtype
            )
        return fuse(probs, prior, self.cfg.weight, self.cfg.floor)


@dataclass(frozen=True, slots=True)
class RangeCoverage:
    """How a label set and a set of ranges match up."""

    missing: tuple[str, ...]  # label species (not background) without range data
    unmatched: tuple[str, ...]  # range species that match no label
    # (label, range name) pairs that matched only through the synonym table ...
    synonyms: tuple[tuple[str, str], ...] = ()
    # ... or only once case, authorship and infraspecific rank were dropped
    normalised: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()  # the prior's own lines: files read, rows skipped

    def lines(self) -> list[str]:
        """Lines to log: the prior's notes, then warnings (empty when all match plainly)."""
        out = list(self.notes)
        if self.missing:
            out.append(
                f"range prior: no range data for {len(self.missing)} species "
                f"(prior 1, unaffected): {_some(self.missing)}"
            )
        if self.unmatched:
            out.append(
                f"range prior: {len(self.unmatched)} range species match no model label: "
                f"{_some(self.unmatched)}"
            )
        normalised = "after normalising case, authorship or rank"
        for pairs, how in ((self.synonyms, "through synonyms"), (self.normalised, normalised)):
            if pairs:
                n = len(pairs)
                shown = _some([f"{label} = {name}" for label, name in pairs])
                noun = "label name" if n == 1 else "label names"
                out.append(f"range prior: {n} {noun} matched {how}: {shown}")
        return out


def _some(names: Sequence[str], limit: int = 8) -> str:
    """The first ``limit`` names, and how many more."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def range_coverage(prior: SpeciesPrior, labels: LabelSet) -> RangeCoverage:
    """Which label species have no range, which ranges name no label, and which labels
    matched a range only through a synonym or by normalising the name."""
    by_key: dict[str, list[str]] = {}
    for name in sorted(prior.species):
        by_key.setdefault(_key(name), []).append(name)
    label_keys = set()
    missing: list[str] = []
    synonyms: list[tuple[str, str]] = []
    normalised: list[tuple[str, str]] = []
    for label in labels.labels:
        if label.is_background:
            continue
        key = _key(label.species)
        label_keys.add(key)
        if not prior.has(label.species):
            missing.append(label.species)
            continue
        names = by_key.get(key, [])
        if not names or any(plain_key(n) == plain_key(label.species) for n in names):
            continue  # a plain match (or a prior that names its species otherwise)
        same = [n for n in names if species_key(n) == species_key(label.species)]
        if same:
            normalised.append((label.species, same[0]))
        else:
            synonyms.append((label.species, names[0]))
    unmatched = sorted(s for s in prior.species if _key(s) not in label_keys)
    notes = tuple(getattr(prior, "notes", ()))
    return RangeCoverage(
        tuple(missing), tuple(unmatched), tuple(synonyms), tuple(normalised), notes
    )


# ------------------------------------------------------------------------------- loading


def _read_one(path: Path, crs: str | None):  # -> geopandas.GeoDataFrame in EPSG:4326
    import geopandas as gpd  # heavy import, only when ranges are used

    if not path.exists():
        raise FieldtoolError(f"{path}: range file not found")
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio/GDAL raise many types
        msg = " ".join(str(exc).split())
        raise FieldtoolError(f"{path}: cannot read as a vector file ({msg})") from None
    try:
        has_geometry = isinstance(frame, gpd.GeoDataFrame) and frame.geometry is not None
    except AttributeError:  # a GeoDataFrame without an active geometry column
        has_geometry = False
    if not has_geometry:
        raise FieldtoolError(f"{path}: no geometry column; a range file needs polygons")
    if frame.crs is None:
        if crs is None:
            raise FieldtoolError(
                f"{path}: the file has no CRS (.prj missing?); pass its CRS, "
                'e.g. crs="EPSG:4267" (prior.crs) for Little\'s atlas'
            )
        try:
            frame = frame.set_crs(crs)
        except (CRSError, ValueError) as exc:
            raise FieldtoolError(f"{path}: unknown crs {crs!r} ({exc})") from None
    if not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    return frame


def _polygons(geom: BaseGeometry | None) -> list[BaseGeometry]:
    """Polygon parts of a geometry (already repaired); points and lines are dropped."""
    out: list[BaseGeometry] = []
    stack = [] if geom is None else [geom]
    while stack:
        g = stack.pop()
        if g.is_empty:
            continue
        if g.geom_type == "Polygon":
            out.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            stack.extend(shapely.get_parts(g))
    return out


def _presence(values: pd.Series) -> np.ndarray:
    """Presence flags: 0 = absence island, anything else (or empty) = range."""
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return ~(num == 0)


def load_ranges(
    paths: str | Path | Iterable[str | Path],
    species_field: str = "species",
    presence_field: str | None = "presence",
    crs: str | None = None,
    *,
    species: str | None = None,
    decay_km: float = 50.0,
) -> RangePrior:
    """Read range polygons from shapefiles, GeoJSON or GeoPackage files (any CRS).

    Each feature names its species in ``species_field``; ``species`` instead names every
    feature of the given files (for one-species files such as Little's atlas, which have
    no name field). ``presence_field`` (e.g. ``"CODE"`` for Little's atlas) marks range
    polygons with 1 and absence islands inside a range with 0; None, or a file without
    that field, takes every polygon as range (a warning is logged for the latter).
    ``crs`` is used for files that carry no CRS. Geometries are repaired with
    ``make_valid`` and reprojected to EPSG:4326. Per species: union of range polygons
    minus union of absence polygons, across all files. A species is every name with
    the same :func:`fieldtool.names.canonical` key (``Quercus alba L.``, ``quercus alba
    alba``, a synonym); it goes by the first name seen, and the prior's ``notes`` list
    the other names.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    present: dict[str, list[BaseGeometry]] = {}
    absent: dict[str, list[BaseGeometry]] = {}
    seen: dict[str, None] = {}  # every name with polygons, in the order seen
    for path in paths:
        frame = _read_one(path, crs)
        if species is None and species_field not in frame.columns:
            fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
            raise FieldtoolError(
                f"{path}: no species field {species_field!r} (fields: {fields or 'none'})"
            )
        if presence_field is None:
            flags = np.ones(len(frame), dtype=bool)
        elif presence_field in frame.columns:
            flags = _presence(frame[presence_field])
        else:
            log.warning(
                "%s: no presence field %r; every polygon is taken as range", path, presence_field
            )
            flags = np.ones(len(frame), dtype=bool)
        names_col = [species] * len(frame) if species is not None else frame[species_field]
        geoms = np.asarray(frame.geometry.values, dtype=object)
        bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
        n_polys = 0
        for name, geom, flag in zip(names_col, geoms, flags, strict=True):
            if name is None or (isinstance(name, float) and math.isnan(name)):
                continue
            label = " ".join(str(name).split())
            if not label:
                continue
            parts = _polygons(geom)
            if not parts:
                continue
            seen.setdefault(label)
            n_polys += len(parts)
            key = _key(label)
            (present if flag else absent).setdefault(key, []).extend(parts)
        if n_polys == 0:
            raise FieldtoolError(f"{path}: no polygons with a species name")

    chosen, merged = group_names(seen)  # the name each species goes by
    ranges: dict[str, BaseGeometry] = {}
    for key, parts in present.items():
        geom = shapely.union_all(parts)
        holes = absent.get(key)
        if holes:
            geom = shapely.difference(geom, shapely.union_all(holes))
        if geom.is_empty:
            log.warning("range of %s is empty after removing absence islands", chosen[key])
            continue
        ranges[chosen[key]] = geom
    for key in absent.keys() - present.keys():
        log.warning("%s has absence polygons but no range polygons; ignored", chosen[key])
    where = ", ".join(str(p) for p in paths)
    return RangePrior(ranges, decay_km=decay_km, notes=merge_note(where, merged))


def range_prior_from_config(cfg: PriorConfig) -> SpeciesPrior | None:
    """The prior a config asks for, or None when no range files are given or weight is 0.

    Polygon files become a spatially indexed prior; occurrence tables (CSV/TSV, e.g. GBIF
    downloads) a smoothed record density; both together are combined per species.
    """
    if not cfg.ranges or cfg.weight == 0:
        return None
    from fieldtool.atlas import IndexedPrior
    from fieldtool.occurrences import CombinedPrior, is_occurrence_file, load_occurrences

    polygons = [p for p in cfg.ranges if not is_occurrence_file(p)]
    records = [p for p in cfg.ranges if is_occurrence_file(p)]
    parts: list[SpeciesPrior] = []
    if polygons:
        ranges = load_ranges(
            polygons,
            species_field=cfg.species_field,
            presence_field=cfg.presence_field,
            crs=cfg.crs,
            decay_km=cfg.decay_km,
        )
        parts.append(IndexedPrior.from_range_prior(ranges))
    if records:
        parts.append(load_occurrences(records, decay_km=cfg.decay_km))
    return parts[0] if len(parts) == 1 else CombinedPrior(parts)
