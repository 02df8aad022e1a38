"""fieldtool.geo's longitudes the short way round: wrap, unwrap, mean, antimeridian split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from fieldtool.geo import mean_lon, split_antimeridian, unwrap_lon, wrap_lon


def test_wrap_and_unwrap() -> None:
    assert wrap_lon([190.0, -190.0, 180.0, 5.0]).tolist() == [-170.0, 170.0, -180.0, 5.0]
    assert unwrap_lon([179.0, -179.0, -178.0, 178.0]).tolist() == [179.0, 181.0, 182.0, 178.0]
    assert unwrap_lon([5.0]).tolist() == [5.0]


@pytest.mark.parametrize(
    ("lons", "expected"),
    [([179.995, -179.995], -180.0), ([170.0, -160.0], -175.0), ([-170.0, 160.0], 175.0),
     ([5.12, 5.13, 5.14], 5.13), ([-1.0, 3.0], 1.0)],
)  # fmt: skip
def test_mean_lon_goes_the_short_way(lons: list[float], expected: float) -> None:
    assert mean_lon(lons) == pytest.approx(expected, abs=1e-9)


def test_mean_lon_of_a_cluster_is_its_arithmetic_mean() -> None:
    lons = np.random.default_rng(3).uniform(-123.2, -123.1, 200)
    assert mean_lon(lons) == pytest.approx(float(lons.mean()), abs=1e-12)
    assert math.isnan(mean_lon([]))


def test_split_antimeridian_leaves_other_polygons_alone() -> None:
    square = box(10, 10, 20, 20)
    assert split_antimeridian(square) is square
    ring = Polygon([(177, -19), (-178, -19), (-178, -15), (177, -15)])
    parts = split_antimeridian(ring)
    assert parts.geom_type == "MultiPolygon" and parts.area == pytest.approx(20.0)
    assert parts.bounds == (-180.0, -19.0, 180.0, -15.0)
