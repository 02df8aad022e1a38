"""Distance from a place to a range polygon, shared by RangePrior and IndexedPrior.

The range's nearest point is found in a local equirectangular frame centred on the place
(km per degree of latitude, and of longitude scaled by cos(latitude), longitudes taken
the short way round from the place); the distance to that point is then the WGS84
geodesic (:func:`fieldtool.geo.geodesic_km`). Within a few hundred km, where the prior matters, the
nearest point found this way is the geodesically nearest to within about a percent of
the distance; far away the distance can come out slightly large, where
``exp(-d / decay_km)`` is ~0 anyway.

The geodesic is WGS84, not the sphere of :func:`fieldtool.geo.haversine_m`: range
distances are specified (and tested) against the ellipsoid to 0.2 %, and the sphere is up
to 0.56 % off near the equator.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from fieldtool.geo import geodesic_km

KM_PER_DEG_LAT = 110.574  # WGS84 at the equator (111.69 at the poles)
KM_PER_DEG_LON_EQ = 111.320  # WGS84 at the equator, times cos(latitude) elsewhere
_ORIGIN = shapely.Point(0.0, 0.0)


def km_per_degree(lat: float) -> tuple[float, float]:
    """(km per degree of longitude, km per degree of latitude) of the frame at ``lat``."""
    return KM_PER_DEG_LON_EQ * max(math.cos(math.radians(lat)), 1e-6), KM_PER_DEG_LAT


def nearest_point(geom: BaseGeometry, lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) of the point of ``geom`` (lon/lat degrees) nearest to (lat, lon),
    found in the local frame of the place."""
    kx, ky = km_per_degree(lat)

    def to_local(xy: np.ndarray) -> np.ndarray:
        dx = (xy[:, 0] - lon + 180.0) % 360.0 - 180.0
        return np.column_stack([dx * kx, (xy[:, 1] - lat) * ky])

    _, near = shapely.shortest_line(_ORIGIN, shapely.transform(geom, to_local)).coords
    return min(90.0, max(-90.0, lat + near[1] / ky)), lon + near[0] / kx


def distance_km(geom: BaseGeometry, lat: float, lon: float) -> float:
    """km from (lat, lon) to ``geom``: 0 inside or on the edge, else the geodesic
    distance to its nearest point (see the module doc)."""
    if shapely.intersects_xy(geom, lon, lat):
        return 0.0
    near_lat, near_lon = nearest_point(geom, lat, lon)
    return float(geodesic_km(lat, lon, near_lat, near_lon)[0])
