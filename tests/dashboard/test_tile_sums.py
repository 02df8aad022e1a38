"""Map tiles in different modes side by side still count every placed sighting once.

A synthetic file with dense and sparse areas meeting at tile edges: around a corner of
zoom-6 tiles (which is a corner of zoom-7 tiles too) the four quadrants hold 400, 25,
120 and 6 sightings, and across a zoom-7 edge inside one zoom-6 tile 300 and 12. With
50 points a tile, dense tiles draw H3 cells and their sparse neighbours points, and the
H3 cells (some 17 km across at zoom 6) straddle the edges. Each tile must count exactly
the sightings whose own position lies in it (west and north edges in), so the tiles add
up to the SQL count at each zoom (a few sightings without a stored H3 cell too). Expected
figures come from the file, never constants.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import duckdb
import h3
import pytest

from fieldtool.dashboard.data import SightingFilter
from fieldtool.dashboard.deck import tile_bounds
from fieldtool.dashboard.maptiles import MapTiles, clip_ring
from fieldtool.store import query
from fieldtool.store.schema import H3_RESOLUTION, ensure_schema

POINTS = 50  # most sightings a tile draws one by one
Z6_CORNER = (12, 25)  # the north-west corner of zoom-6 tile x=12, y=25 (south-west USA)


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def _cluster(rng: random.Random, lon: float, lat: float, dlon: float, dlat: float,
             n: int) -> list[tuple[float, float]]:  # fmt: skip
    """``n`` positions spread evenly over the box from (lon, lat) by (dlon, dlat) degrees."""
    return [(lon + rng.random() * dlon, lat + rng.random() * dlat) for _ in range(n)]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(8)
    w, _, _, n = tile_bounds(6, *Z6_CORNER)  # the corner: (w, n)
    d = 0.3  # degrees: about two zoom-6 cells
    spots = (
        _cluster(rng, w, n, -d, d, 400)  # north-west: cells at both zooms
        + _cluster(rng, w, n, d, d, 25)  # north-east: points
        + _cluster(rng, w, n, -d, -d, 120)  # south-west: cells
        + _cluster(rng, w, n, d, -d, 6)  # south-east: points
    )
    # Across the zoom-7 edge in the middle of zoom-6 tile (12, 25): one tile at zoom 6,
    # dense west and sparse east at zoom 7.
    _, ms, me, mn = tile_bounds(7, 24, 51)  # its east edge is inside zoom-6 tile 12
    mid_lat = (ms + mn) / 2
    spots += _cluster(rng, me, mid_lat, -d, d, 300) + _cluster(rng, me, mid_lat, d, d, 12)
    path = tmp_path_factory.mktemp("tilesums") / "mixed.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_schema(con, path)
        con.executemany(
            "INSERT INTO sightings (sighting_id, session_id, species, first_seen, last_seen, "
            "peak_score, latitude, longitude, status, updated_at, h3_cell) VALUES "
            "(?, 'm', ?, TIMESTAMP '2026-07-01', TIMESTAMP '2026-07-01', 0.9, ?, ?, 'closed', "
            "TIMESTAMP '2026-07-01', ?)",
            [
                (f"m{i}", ("Acer rubrum", "Quercus alba", "Pinus taeda")[i % 3], lat, lon,
                 None if i % 37 == 0 else h3.latlng_to_cell(lat, lon, H3_RESOLUTION))
                for i, (lon, lat) in enumerate(spots)  # a few placed without a cell
            ],
        )  # fmt: skip
    return path


def _count(feature: dict) -> int:
    """Sightings a feature stands for: its tooltip's count, or one for a single sighting."""
    text = feature["properties"]["n"]
    return int(text.split(" sightings ·")[0].replace(",", "")) if " sightings ·" in text else 1


def _inside(db: Path, z: int, x: int, y: int) -> int:
    w, s, e, n = tile_bounds(z, x, y)
    return int(query(db, "SELECT count(*) FROM sightings WHERE longitude >= $w AND "
                     "longitude < $e AND latitude > $s AND latitude <= $n",
                     {"w": w, "e": e, "s": s, "n": n}).iloc[0, 0])  # fmt: skip


@pytest.mark.parametrize("z", [6, 7])
def test_tiles_in_cell_and_point_modes_add_up_at_their_edges(mixed: Path, z: int) -> None:
    box = query(mixed, "SELECT min(longitude) x0, max(longitude) x1, min(latitude) y0, "
                       "max(latitude) y1, count(*) AS n FROM sightings").iloc[0]  # fmt: skip
    x0, y0 = _tile_xy(box.x0, box.y1, z)
    x1, y1 = _tile_xy(box.x1, box.y0, z)
    tiles = MapTiles()
    view = tiles.register(mixed, SightingFilter(), ("mark",), colour=lambda s: (1, 2, 3),
                          label=str, points=POINTS)  # fmt: skip
    modes, total = set(), 0
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            data = tiles.tile(view, "s", z, x, y)
            assert data is not None
            features = json.loads(data)["features"]
            counted = sum(_count(f) for f in features)
            assert counted == _inside(mixed, z, x, y), (z, x, y)
            modes.update(f["geometry"]["type"] for f in features)
            total += counted
    assert modes >= {"Polygon", "Point"}  # the modes meet: cells beside points
    assert total == int(box.n)


def test_a_cell_split_by_a_tile_edge_is_drawn_in_its_tile_only(mixed: Path) -> None:
    """A cell-mode tile draws its cells clipped to the tile: no polygon reaches into a
    neighbour, so two tiles never draw the same ground twice."""
    z = 6
    tiles = MapTiles()
    view = tiles.register(mixed, SightingFilter(), ("mark",), colour=lambda s: (1, 2, 3),
                          label=str, points=POINTS)  # fmt: skip
    x, y = Z6_CORNER[0] - 1, Z6_CORNER[1] - 1  # the dense north-west tile
    w, s, e, n = tile_bounds(z, x, y)
    data = tiles.tile(view, "s", z, x, y)
    assert data is not None
    polygons = [f for f in json.loads(data)["features"] if f["geometry"]["type"] == "Polygon"]
    assert polygons
    eps = 1e-6
    for feature in polygons:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4
        assert all(w - eps <= lon <= e + eps and s - eps <= lat <= n + eps for lon, lat in ring)
    # Some cell crosses the tile's east or south edge, so it was cut there.
    assert any(abs(lon - e) < eps or abs(lat - s) < eps
               for f in polygons for lon, lat in f["geometry"]["coordinates"][0])  # fmt: skip


def test_a_cell_across_the_antimeridian_is_cut_not_lost() -> None:
    cell = h3.latlng_to_cell(0.0, 179.99, 3)
    whole = [(lon, lat) for lat, lon in h3.cell_to_boundary(cell)]
    assert max(lon for lon, _ in whole) - min(lon for lon, _ in whole) > 180  # it wraps
    east = clip_ring(whole, (90.0, -10.0, 180.0, 10.0))
    west = clip_ring(whole, (-180.0, -10.0, -90.0, 10.0))
    assert len(east) >= 3 and len(west) >= 3
    assert all(90.0 <= lon <= 180.0 for lon, _ in east)
    assert all(-180.0 <= lon <= -90.0 for lon, _ in west)
    assert clip_ring(whole, (0.0, -10.0, 90.0, 10.0)) == []  # far away: nothing
