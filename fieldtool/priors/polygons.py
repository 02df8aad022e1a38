"""Range polygons: :class:`RangePrior` and :func:`load_ranges` (shp, GeoJSON, GeoPackage).

The prior of a species at a place is 1 inside its mapped range and ``exp(-d / decay_km)``
outside, ``d`` being the distance in km from the place to the range
(:func:`fieldtool.priors.distance.distance_km`: nearest point in a local frame, WGS84
geodesic to it). Species without range data get prior 1. Names match by
:func:`fieldtool.names.canonical`.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from fieldtool.geo import split_antimeridian
from fieldtool.names import canonical, group_names, merge_note
from fieldtool.priors.distance import distance_km
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)


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
            key = canonical(name)
            old = self._geoms.get(key)  # another spelling of a species given: unite
            self._geoms[key] = geom if old is None else shapely.union(old, geom)
        for geom in self._geoms.values():
            shapely.prepare(geom)
        self._names, merged = group_names(n for n, _ in given)
        self.notes: tuple[str, ...] = tuple(notes) + tuple(merge_note("ranges", merged))
        self._cache: OrderedDict[tuple[float, float], dict[str, float]] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        self._decimals = int(cache_decimals)

    @property
    def species(self) -> set[str]:
        """Names of the species that have range data."""
        return set(self._names.values())

    def has(self, species: str) -> bool:
        return canonical(species) in self._geoms

    def geometry(self, species: str) -> BaseGeometry | None:
        """The range of a species (lon/lat degrees), or None without data."""
        return self._geoms.get(canonical(species))

    def __len__(self) -> int:
        return len(self._geoms)

    @property
    def extent(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) lon/lat degrees of all the ranges; None without any."""
        if not self._geoms:
            return None
        bounds = shapely.total_bounds(list(self._geoms.values()))
        west, south, east, north = (float(v) for v in bounds)
        return west, south, east, north

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
            key = canonical(name)
            if key not in self._geoms:
                continue
            d = known.get(key)
            if d is None:
                d = distance_km(self._geoms[key], pos[0], pos[1])
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


# ------------------------------------------------------------------------------- loading


def _read_one(path: Path, crs: str | None) -> gpd.GeoDataFrame:
    """A vector file as a GeoDataFrame in EPSG:4326 (``crs``: for files that carry none)."""
    # geopandas takes ~0.5 s to import (pandas, GDAL through pyogrio): imported only here,
    # so that ``import fieldtool.priors`` stays light for runs without polygon files.
    import geopandas as gpd

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
                f"{path}: the file has no CRS (.prj missing?); give its CRS, e.g. "
                "--ranges-crs EPSG:4267 (prior.crs in a config file) for Little's atlas"
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


def _split_across_180(path: Path, geoms: np.ndarray, names: Sequence[object]) -> int:
    """Cut, in place, the polygons of ``geoms`` (lon/lat, one per feature) whose rings
    jump across the antimeridian (:func:`fieldtool.geo.split_antimeridian`: a naive ring
    177 -> -178 is the strip across 180, not round the world); how many were cut. Only
    those wider than 180 degrees are looked at. A ring round a pole is refused, naming
    the feature (1-based) and its species."""
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        wide = np.flatnonzero(bounds[:, 2] - bounds[:, 0] > 180.0)
    cut = 0
    for i in wide.tolist():
        try:
            split = split_antimeridian(geoms[i])
        except ValueError as exc:
            raise FieldtoolError(f"{path}: feature {i + 1} ({names[i]}): {exc}") from None
        if split is not geoms[i]:
            geoms[i] = split
            cut += 1
    return cut


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
    ``crs`` is used for files that carry no CRS. Geometries are reprojected to EPSG:4326,
    split at 180 where a ring has an edge over 180 degrees of longitude (read as crossing
    the antimeridian: :func:`fieldtool.geo.split_antimeridian`; a note says how many; a
    ring round a pole so is refused, naming the feature) and repaired with
    ``make_valid``. Per species: union of range polygons
    minus union of absence polygons, across all files. A species is every name with
    the same :func:`fieldtool.names.canonical` key (``Quercus alba L.``, ``quercus alba
    alba``, a synonym); it goes by the first name seen, and the prior's ``notes`` list
    the other names.
    """
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    present: dict[str, list[BaseGeometry]] = {}
    absent: dict[str, list[BaseGeometry]] = {}
    seen: dict[str, None] = {}  # every name with polygons, in the order seen
    notes: list[str] = []
    for path in files:
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
        crossed = _split_across_180(path, geoms, list(names_col))
        if crossed:
            notes.append(f"{path}: {crossed} polygon{'s' if crossed > 1 else ''} with an edge "
                         "over 180 degrees of longitude read as crossing the antimeridian "
                         "and split at 180")  # fmt: skip
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
            key = canonical(label)
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
    where = ", ".join(str(p) for p in files)
    notes += merge_note(where, merged)
    return RangePrior(ranges, decay_km=decay_km, notes=notes)
