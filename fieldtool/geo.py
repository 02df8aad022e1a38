"""Distances on the Earth, in one place: the sphere for tracks and record densities, the
WGS84 ellipsoid where a distance is specified to the ellipsoid (range priors, 0.2 %).

:func:`haversine_m` (sphere, mean radius) is within 0.6 % of the ellipsoid: plenty for
speed checks between GPS fixes and for a record-density kernel. :func:`geodesic_km` is the
WGS84 geodesic (pyproj), for the distance from a place to a species' range.

Longitudes the short way round, also here: :func:`wrap_lon` (into -180..180),
:func:`unwrap_lon` (a path's longitudes made continuous across 180), :func:`mean_lon`
(179.995 and -179.995 average to 180, not 0) and :func:`split_antimeridian` (a lon/lat
polygon whose ring jumps across 180 cut there, as RFC 7946 asks).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from pyproj import Geod
    from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8  # m; mean radius (IUGG)


def haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in metres between points given in degrees (spherical Earth,
    mean radius). Arguments broadcast like numpy arrays; scalars give a 0-d array (use
    ``float(...)``)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a))), dtype=np.float64)


@cache
def _wgs84() -> Geod:
    # pyproj loads PROJ's data; imported on first use so that track reading needs neither
    # (the GPU machine runs tracks without pyproj installed).
    from pyproj import Geod

    return Geod(ellps="WGS84")


def geodesic_km(lat: float, lon: float, lats: ArrayLike, lons: ArrayLike) -> NDArray[np.float64]:
    """WGS84 geodesic distances in km from (lat, lon) to each of (lats, lons), degrees."""
    lats_a = np.atleast_1d(np.asarray(lats, dtype=np.float64))
    lons_a = np.atleast_1d(np.asarray(lons, dtype=np.float64))
    _, _, metres = _wgs84().inv(
        np.full(lons_a.shape, lon), np.full(lats_a.shape, lat), lons_a, lats_a
    )
    return np.asarray(metres, dtype=np.float64) / 1000.0


# ------------------------------------------------------------------ longitudes round 180


def wrap_lon(lon: ArrayLike) -> NDArray[np.float64]:
    """Longitudes (degrees) brought into [-180, 180): 190 is -170, 180 is -180."""
    return np.asarray((np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0)


def unwrap_lon(lons: ArrayLike) -> NDArray[np.float64]:
    """(N,) longitudes (degrees) of a path, each step taken the short way round: 179,
    -179 becomes 179, 181. The first is kept as given."""
    a = np.asarray(lons, dtype=np.float64).ravel()
    if a.size < 2:
        return a.copy()
    return np.concatenate([a[:1], a[0] + np.cumsum(wrap_lon(np.diff(a)))])


def mean_lon(lons: ArrayLike) -> float:
    """The mean of longitudes (degrees) the short way round, in [-180, 180): 179.995 and
    -179.995 give -180 (the antimeridian), not 0. It is the plain mean of the offsets from
    their circular mean (the direction of the mean unit vector), so longitudes that do not
    straddle 180 get their arithmetic mean to float precision. NaN for none."""
    a = np.asarray(lons, dtype=np.float64).ravel()
    if a.size == 0:
        return float("nan")
    r = np.radians(a)
    ref = float(np.degrees(np.arctan2(np.sin(r).sum(), np.cos(r).sum())))
    return float(wrap_lon(ref + float(wrap_lon(a - ref).mean())))


def _jumps(xs: NDArray[np.float64]) -> bool:
    """Whether a ring's longitudes step more than 180 degrees between two vertices; a step
    between two vertices both on the antimeridian (+-180: along a pole's edge in a file
    already split, Natural Earth's Antarctica) is not a jump."""
    on_180 = np.abs(xs) == 180.0
    return bool(np.any((np.abs(np.diff(xs)) > 180.0) & ~(on_180[1:] & on_180[:-1])))


def split_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """A lon/lat (Multi)Polygon whose rings jump across 180 (an edge from 177 to -178
    meaning the 5 degrees across it, not 355 back), cut at 180 into parts within
    -180..180; anything else is returned as it is. Each ring is unwrapped
    (:func:`unwrap_lon`), its holes moved to the shell's turn of the world, and the
    polygon cut at each multiple of 180 it then crosses. Raises ValueError for a ring that
    goes round a pole that way (which side is inside cannot be told)."""
    import shapely
    import shapely.affinity

    if geom is None or geom.is_empty:
        return geom
    if geom.geom_type in ("MultiPolygon", "GeometryCollection"):
        parts = [split_antimeridian(g) for g in shapely.get_parts(geom)]
        if all(p is q for p, q in zip(parts, shapely.get_parts(geom), strict=True)):
            return geom
        return shapely.union_all(parts)
    if geom.geom_type != "Polygon":
        return geom
    rings = [np.asarray(geom.exterior.coords)[:, :2]]
    rings += [np.asarray(r.coords)[:, :2] for r in geom.interiors]
    if not any(_jumps(r[:, 0]) for r in rings):
        return geom
    shell_mid = 0.0
    unwrapped = []
    for i, ring in enumerate(rings):
        xs = unwrap_lon(ring[:, 0])
        if abs(xs[-1] - xs[0]) > 1e-6:
            raise ValueError(
                "a ring goes round a pole across the antimeridian (180 degrees); "
                "split it at 180 as RFC 7946 asks"
            )
        if i == 0:
            shell_mid = float(xs.mean())
        else:  # a hole on the shell's turn of the world
            xs = xs + 360.0 * round((shell_mid - float(xs.mean())) / 360.0)
        unwrapped.append(np.column_stack([xs, ring[:, 1]]))
    whole = shapely.make_valid(shapely.Polygon(unwrapped[0], unwrapped[1:]))
    west, _, east, _ = whole.bounds
    pieces = []
    first, last = (int(np.floor((x + 180.0) / 360.0)) for x in (west, east))
    for turn in range(first, last + 1):  # the part on each turn of the world, moved home
        shift = 360.0 * turn
        part = shapely.intersection(whole, shapely.box(shift - 180.0, -90.0, shift + 180.0, 90.0))
        part = shapely.affinity.translate(part, xoff=-shift)
        pieces += [g for g in shapely.get_parts(part) if g.geom_type == "Polygon" and g.area > 0]
    return pieces[0] if len(pieces) == 1 else shapely.MultiPolygon(pieces)
