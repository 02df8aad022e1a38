"""The fast range prior used at run time: :class:`IndexedPrior`.

The same prior as :class:`fieldtool.priors.polygons.RangePrior` (1 inside a range,
``exp(-d / decay_km)`` outside, 1 without data, ``d`` as in
:mod:`fieldtool.priors.distance`) for hundreds of species quickly: an STRtree finds the
ranges within reach, the nearest point is sought on each range clipped around the place,
species beyond reach (prior < ``cutoff``) get 0, and results are cached per H3 cell.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import h3
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from fieldtool.geo import geodesic_km
from fieldtool.names import NameRows, canonical, group_names, merge_note
from fieldtool.priors.cells import distinct_cells
from fieldtool.priors.distance import km_per_degree, nearest_point
from fieldtool.priors.polygons import RangePrior


class IndexedPrior:
    """Range prior for many species at once (see the module doc); RangePrior's interface.

    ``ranges``: species → (Multi)Polygon in lon/lat degrees. ``cutoff``: species whose
    prior would be below it get 0 (the fusion floor, 0.02 by default, dwarfs it), which
    bounds the search radius to ``decay_km · ln(1/cutoff)``. Values are computed at the
    centre of the place's H3 cell (``h3_resolution`` 8: ~0.5 km) and cached per cell.
    Names that are one species by :func:`fieldtool.names.canonical` share one range (their
    union). ``notes``: lines for the log, to which a line naming merged names is added.
    """

    def __init__(
        self,
        ranges: Mapping[str, BaseGeometry],
        decay_km: float = 50.0,
        cutoff: float = 1e-3,
        h3_resolution: int = 8,
        cache_size: int = 4096,
        notes: Sequence[str] = (),
    ) -> None:
        if not decay_km > 0:
            raise ValueError(f"decay_km must be > 0, got {decay_km}")
        if not 0 < cutoff < 1:
            raise ValueError(f"cutoff must be in (0, 1), got {cutoff}")
        self.decay_km = float(decay_km)
        self.cutoff = float(cutoff)
        self.h3_resolution = int(h3_resolution)
        items = [(n, g) for n, g in ranges.items() if g is not None and not g.is_empty]
        united: dict[str, BaseGeometry] = {}
        for name, geom in items:  # other spellings of a species given: unite their ranges
            old = united.get(key := canonical(name))
            united[key] = geom if old is None else shapely.union(old, geom)
        chosen, merged = group_names(n for n, _ in items)
        self.notes: tuple[str, ...] = tuple(notes) + tuple(merge_note("ranges", merged))
        self._names = [chosen[key] for key in united]
        self._index = NameRows(united)
        self._geoms = np.array(list(united.values()), dtype=object)
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self._cache: OrderedDict[tuple[str, float], np.ndarray] = OrderedDict()
        self._cache_size = max(1, int(cache_size))

    @classmethod
    def from_range_prior(
        cls,
        prior: RangePrior,
        *,
        cutoff: float = 1e-3,
        h3_resolution: int = 8,
        cache_size: int = 4096,
    ) -> IndexedPrior:
        """Index a :class:`RangePrior`: the same geometries, decay and notes."""
        ranges = {n: g for n in sorted(prior.species) if (g := prior.geometry(n)) is not None}
        return cls(ranges, prior.decay_km, cutoff, h3_resolution, cache_size, prior.notes)

    @property
    def species(self) -> set[str]:
        return set(self._names)

    def has(self, species: str) -> bool:
        return species in self._index

    def geometry(self, species: str) -> BaseGeometry | None:
        i = self._index.get(species)
        return None if i is None else self._geoms[i]

    def __len__(self) -> int:
        return len(self._names)

    @property
    def extent(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) lon/lat degrees of all the ranges; None without any."""
        if not len(self._geoms):
            return None
        west, south, east, north = (float(v) for v in shapely.total_bounds(self._geoms))
        return west, south, east, north

    def reach_km(self, decay_km: float | None = None) -> float:
        """Distance beyond which the prior is below ``cutoff`` (and given as 0)."""
        decay = self.decay_km if decay_km is None else float(decay_km)
        return decay * math.log(1.0 / self.cutoff)

    def _all(self, lat: float, lon: float, decay: float) -> np.ndarray:
        """(S,) prior of every species at (lat, lon), no cache."""
        out = np.zeros(len(self._names), dtype=np.float64)
        reach = self.reach_km(decay)
        kx, ky = km_per_degree(lat)
        # degrees: planar distance in lon/lat is at least the km distance / max(kx, ky)
        dx, dy = reach / kx, reach / ky
        point = shapely.Point(lon, lat)
        near = self._tree.query(point, predicate="dwithin", distance=max(dx, dy))
        if len(near) == 0:
            return out
        inside = shapely.intersects_xy(self._geoms[near], lon, lat)
        out[near[inside]] = 1.0
        box = (lon - dx, lat - dy, lon + dx, lat + dy)
        rows: list[int] = []
        points: list[tuple[float, float]] = []
        for i in near[~inside]:
            piece = shapely.clip_by_rect(self._geoms[i], *box)
            if not piece.is_empty:  # the nearest point within reach lies in the box
                rows.append(int(i))
                points.append(nearest_point(piece, lat, lon))
        if rows:
            lats, lons = np.array(points, dtype=np.float64).T
            d = geodesic_km(lat, lon, lats, lons)
            out[rows] = np.where(d < reach, np.exp(-d / decay), 0.0)
        return out

    def _at(self, lat: float, lon: float, decay: float) -> np.ndarray:
        return self._in_cell(self._cell(lat, lon), decay)

    def _cell(self, lat: float, lon: float) -> str:
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ValueError(f"not a position: {lat}, {lon}")
        return str(h3.latlng_to_cell(float(lat), float(lon), self.h3_resolution))

    def _in_cell(self, cell: str, decay: float) -> np.ndarray:
        """(S,) prior of every species at a cell's centre, cached."""
        key = (cell, decay)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        clat, clon = h3.cell_to_latlng(cell)
        values = self._all(clat, clon, decay)
        self._cache[key] = values
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return values

    def prior(
        self, lat: float, lon: float, species: Sequence[str], decay_km: float | None = None
    ) -> np.ndarray:
        """(C,) float64 in [0, 1]: 1 inside, exp(-d/decay_km) outside, 0 beyond reach,
        1 without data."""
        return self.priors([lat], [lon], species, decay_km)[0]

    def priors(
        self,
        lats: Sequence[float],
        lons: Sequence[float],
        species: Sequence[str],
        decay_km: float | None = None,
    ) -> np.ndarray:
        """(N, C): :meth:`prior` at N places, each H3 cell among them looked up once."""
        decay = self.decay_km if decay_km is None else float(decay_km)
        cells, inverse = distinct_cells(lats, lons, self._cell)
        idx = self._index.rows(species)
        if not inverse or len(idx) == 0:
            return np.zeros((len(inverse), len(idx)), dtype=np.float64)
        values = np.stack([self._in_cell(cell, decay) for cell in cells])  # (cells, S)
        return np.where(idx >= 0, values[:, np.maximum(idx, 0)], 1.0)[inverse]

    def all_priors(self, lat: float, lon: float, decay_km: float | None = None) -> dict[str, float]:
        """Prior of every species with data at a place (cached like :meth:`prior`)."""
        decay = self.decay_km if decay_km is None else float(decay_km)
        values = self._at(lat, lon, decay)
        return dict(zip(self._names, values.tolist(), strict=True))
