"""Distances on the Earth, in one place: the sphere for tracks and record densities, the
WGS84 ellipsoid where a distance is specified to the ellipsoid (range priors, 0.2 %).

:func:`haversine_m` (sphere, mean radius) is within 0.6 % of the ellipsoid: plenty for
speed checks between GPS fixes and for a record-density kernel. :func:`geodesic_km` is the
WGS84 geodesic (pyproj), for the distance from a place to a species' range.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from pyproj import Geod

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
