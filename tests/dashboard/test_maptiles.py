"""The map's data tiles: what each 512-px tile holds at each zoom, and the server route.

On a generated season (8 sessions at 4 sites, 6,000 sightings): the tiles of a view add up
to the exact number of placed sightings at every zoom (cells, dots or points), with a
filter too; site-zoom dots count what lies in their tile; few sightings come one by one
with their tooltip; tracks are lines at a pixel's resolution that never jump across a
tile; the tile server answers a registered view only, with the key when it has one.
"""

from __future__ import annotations

import http.client
import json
import math
import shutil
import urllib.request
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from fieldtool.dashboard.data import SightingFilter
from fieldtool.dashboard.deck import tile_bounds
from fieldtool.dashboard.maptiles import TRACK_MARGIN_PX, MapTiles
from fieldtool.dashboard.mapview import SITE_ZOOM, data_tile_layers, degrees_per_pixel
from fieldtool.dashboard.tiles import TileServer, parse_data_path
from fieldtool.store import query
from tests.dashboard.generate import Season, generate


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("maptiles")
    return generate(folder / "season.duckdb", Season(sightings=6000, sessions=8, sites=4,
                                                      species=12, track_points=8000,
                                                      reviews=300))  # fmt: skip


def _colour(species: str) -> tuple[int, int, int]:
    return (len(species) * 7 % 256, 100, 200)


def _view(tiles: MapTiles, db: Path, filters: SightingFilter, points: int) -> str:
    return tiles.register(db, filters, ("mark",), colour=_colour, label=str.upper, points=points)


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def _tiles_over(db: Path, where: str, z: int) -> list[tuple[int, int]]:
    box = query(db, f"SELECT min(longitude) x0, max(longitude) x1, min(latitude) y0, "
                    f"max(latitude) y1 FROM sightings WHERE {where}").iloc[0]  # fmt: skip
    x0, y0 = _tile_xy(box.x0, box.y1, z)
    x1, y1 = _tile_xy(box.x1, box.y0, z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def _features(tiles: MapTiles, view: str, kind: str, z: int, x: int, y: int) -> list[dict]:
    data = tiles.tile(view, kind, z, x, y)
    assert data is not None
    return json.loads(data)["features"]


def _count(feature: dict) -> int:
    """Sightings a feature stands for: its tooltip's count, or one for a single sighting."""
    text = feature["properties"]["n"]
    return int(text.split(" sightings ·")[0].replace(",", "")) if " sightings ·" in text else 1


@pytest.mark.parametrize(("z", "points", "geometry"), [
    (3, 100, "Polygon"), (7, 100, "Polygon"), (9, 0, "Polygon"), (13, 50, None),
])  # fmt: skip
@pytest.mark.parametrize("species", [None, ("Acer rubrum",)])
def test_tiles_of_a_view_add_up_to_the_exact_count(
    season: Path, z: int, points: int, geometry: str | None, species: tuple[str, ...] | None
) -> None:
    where = "latitude IS NOT NULL" + (" AND species = 'Acer rubrum'" if species else "")
    placed = int(query(season, f"SELECT count(*) FROM sightings WHERE {where}").iloc[0, 0])
    assert placed > 100
    tiles = MapTiles()
    view = _view(tiles, season, SightingFilter(species=species), points)
    counted, kinds = 0, set()
    for x, y in _tiles_over(season, where, z):
        for feature in _features(tiles, view, "s", z, x, y):
            counted += _count(feature)
            kinds.add(feature["geometry"]["type"])
    assert counted == placed
    if geometry is not None and not species:
        assert kinds == {geometry}  # too many for points: cells at these zooms


def test_site_zoom_groups_into_dots_with_exact_counts(season: Path) -> None:
    z = 15
    assert z >= SITE_ZOOM
    lon, lat = query(season, "SELECT longitude, latitude FROM sightings "
                             "WHERE session_id = 's000' LIMIT 1").iloc[0]  # fmt: skip
    x, y = _tile_xy(lon, lat, z)
    w, s, e, n = tile_bounds(z, x, y)
    inside = int(query(season, "SELECT count(*) FROM sightings WHERE longitude >= $w AND "
                       "longitude < $e AND latitude > $s AND latitude <= $n",
                       {"w": w, "e": e, "s": s, "n": n}).iloc[0, 0])  # fmt: skip
    assert inside > 20
    tiles = MapTiles()
    dots = _features(tiles, _view(tiles, season, SightingFilter(), 10), "s", z, x, y)
    assert {f["geometry"]["type"] for f in dots} == {"Point"}
    assert sum(_count(f) for f in dots) == inside
    assert len(dots) < inside  # grouped, not one by one
    few = _features(tiles, _view(tiles, season, SightingFilter(), inside), "s", z, x, y)
    assert sum(_count(f) for f in few) == inside  # few enough: one by one where apart
    single = [f["properties"] for f in few if " sightings ·" not in f["properties"]["n"]]
    names = {str(v) for v in query(season, "SELECT DISTINCT species FROM sightings").iloc[:, 0]}
    assert single, "no sighting drawn on its own"
    title = single[0]["n"].split(" · ")[0]  # "common name (Species)"
    species = title[title.rindex("(") + 1 : -1]
    assert species in names and "UTC · peak" in single[0]["n"]
    assert single[0]["c"][:3] == list(_colour(species))
    # No feature hides another: any two lie more than a few pixels apart at this zoom.
    step = degrees_per_pixel(z)
    spots = sorted(tuple(f["geometry"]["coordinates"]) for f in few)
    assert all(max(abs(a[0] - b[0]), abs(a[1] - b[1])) > step
               for a, b in zip(spots[:-1], spots[1:], strict=True))  # fmt: skip


def test_sightings_at_one_place_are_one_dot_with_their_count(season: Path, tmp_path: Path) -> None:
    """From afar, sightings of one stop share a spot: one dot saying how many, not a
    top point hiding the rest."""
    db = tmp_path / "stack.duckdb"
    shutil.copy(season, db)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "INSERT INTO sightings (sighting_id, session_id, species, first_seen, last_seen, "
            "peak_score, latitude, longitude, status, updated_at) "
            "SELECT 'stop' || i, 'stop', CASE WHEN i < 6 THEN 'Acer rubrum' ELSE 'Thuja plicata' "
            "END, TIMESTAMP '2027-01-01', TIMESTAMP '2027-01-01', 0.9, 10.0 + i * 1e-5, "
            "20.0, 'closed', TIMESTAMP '2027-01-01' FROM range(9) r(i)")  # fmt: skip
    tiles = MapTiles()
    view = _view(tiles, db, SightingFilter(session_id="stop"), 100)
    x, y = _tile_xy(20.0, 10.0, 6)
    (dot,) = _features(tiles, view, "s", 6, x, y)
    assert dot["properties"]["n"] == "9 sightings · 2 species · most seen: ACER RUBRUM"
    x, y = _tile_xy(20.0, 10.0, 22)  # at the deepest zoom they stand apart again
    assert len(_features(tiles, view, "s", 20, x >> 2, y >> 2)) == 9


def test_tracks_are_lines_that_stay_in_their_tile(season: Path) -> None:
    tiles = MapTiles()
    view = _view(tiles, season, SightingFilter(session_id="s001"), 100)
    lon, lat = query(season, "SELECT longitude, latitude FROM track "
                             "WHERE session_id = 's001' LIMIT 1").iloc[0]  # fmt: skip
    for z in (8, 14, 17, 20):
        x, y = _tile_xy(lon, lat, z)
        lines = _features(tiles, view, "t", z, x, y)
        assert lines and {f["geometry"]["type"] for f in lines} == {"LineString"}, z
        step = degrees_per_pixel(z)
        w, s, e, n = tile_bounds(z, x, y)
        margin = (TRACK_MARGIN_PX + 2) * step / math.cos(math.radians(abs(lat) + 1))
        for line in lines:
            coords = line["geometry"]["coordinates"]
            # Inside the tile and its margin, but for the fix before and the one after.
            assert all(w - margin <= cx <= e + margin and s - margin <= cy <= n + margin
                       for cx, cy in coords[1:-1])  # fmt: skip
            assert all(a != b for a, b in zip(coords[:-1], coords[1:], strict=True))
    other = _view(tiles, season, SightingFilter(session_id="s002"), 100)
    x, y = _tile_xy(lon, lat, 17)
    assert _features(tiles, other, "t", 17, x, y) == []  # another session's walk elsewhere


@pytest.mark.parametrize("z", [10, 16])  # coarser than site zoom, and site zoom
def test_a_walk_that_leaves_the_tile_is_not_joined_across_it(
    season: Path, tmp_path: Path, z: int
) -> None:
    db = tmp_path / "walk.duckdb"
    shutil.copy(season, db)
    x, y = _tile_xy(10.0005, 50.0005, z)
    w, s, e, n = tile_bounds(z, x, y)
    step = (e - w) / 512 * 3  # a fix every 3 pixels
    # East along the tile's south, far out of it, back in along its north: a U.
    east = [(w + (e - w) * 0.1 + step * i, s + (n - s) * 0.2) for i in range(500)]
    back = [(lon, n - (n - s) * 0.2) for lon, _ in reversed(east)]
    with duckdb.connect(str(db)) as con:
        con.executemany(
            "INSERT INTO track (session_id, time, t, latitude, longitude, source) VALUES "
            "('u', TIMESTAMP '2026-05-01 10:00:00' + INTERVAL 1 SECOND * ?, ?, ?, ?, 'gpx')",
            [(i, float(i), lat, lon) for i, (lon, lat) in enumerate(east + back)],
        )
    tiles = MapTiles()
    view = _view(tiles, db, SightingFilter(session_id="u"), 100)
    lines = [f["geometry"]["coordinates"] for f in _features(tiles, view, "t", z, x, y)]
    assert len(lines) == 2  # the way out and the way back, not joined over the gap
    for coords in lines:
        assert max(c[1] for c in coords) - min(c[1] for c in coords) < (n - s) * 0.05
        assert max(c[0] for c in coords) - min(c[0] for c in coords) > (e - w) * 0.85


def test_server_answers_registered_views_only(season: Path) -> None:
    tiles = MapTiles()
    view = _view(tiles, season, SightingFilter(), 100)
    assert parse_data_path(f"/map/{view}/s/3/1/3.json") == (view, "s", 3, 1, 3)
    assert parse_data_path(f"/map/{view}/s/3/8/3.json") is None  # outside the grid
    assert parse_data_path("/map/../s/3/1/3.json") is None
    with TileServer(None, data=tiles, key="k3y") as server:
        url = server.data_url("127.0.0.1", view, "s")
        assert url.endswith(f"/map/{view}/s/{{z}}/{{x}}/{{y}}.json?key=k3y")

        def get(path: str) -> tuple[int, str, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                return r.status, r.getheader("Content-Type") or "", r.read()
            finally:
                conn.close()

        status, mime, body = get(f"/map/{view}/s/3/1/3.json?key=k3y")
        assert (status, mime) == (200, "application/json")
        assert json.loads(body)["type"] == "FeatureCollection"
        assert get(f"/map/{view}/s/3/1/3.json")[0] == 403  # no key
        assert get(f"/map/{'0' * 20}/s/3/1/3.json?key=k3y")[0] == 404  # never registered
        assert get(f"/map/{view}/q/3/1/3.json?key=k3y")[0] == 404  # no such kind
        assert get("/3/1/3?key=k3y")[0] == 404  # no basemap source


def test_views_follow_the_data(season: Path) -> None:
    tiles = MapTiles(max_views=2)
    first = tiles.register(season, SightingFilter(), ("a",), colour=_colour, label=str, points=5)
    again = tiles.register(season, SightingFilter(), ("a",), colour=_colour, label=str, points=5)
    changed = tiles.register(season, SightingFilter(), ("b",), colour=_colour, label=str, points=5)
    assert first == again and changed != first  # new data, new URLs: the browser refetches
    tiles.register(season, SightingFilter(min_score=0.5), ("b",), colour=_colour, label=str,
                   points=5)  # fmt: skip
    assert tiles.tile(first, "s", 3, 1, 3) is None  # the oldest view was dropped


def test_deck_layers_carry_no_data() -> None:
    layers = data_tile_layers("http://h:1/map/v/s/{z}/{x}/{y}.json", "http://h:1/t/{z}.json")
    spec = [json.loads(layer.to_json()) for layer in layers]
    assert [s["@@type"] for s in spec] == ["TileLayer", "TileLayer"]
    assert spec[0]["data"].endswith("{z}/{x}/{y}.json") and spec[0]["maxZoom"] == 20
    assert spec[0]["getFillColor"] == "@@=properties.c" and spec[0]["pickable"]


def test_a_refresh_rebuilds_only_the_tiles_where_data_changed(
    season: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live session adds sightings and fixes at its site: the refreshed view carries over
    the other tiles (no query for them) and every answer equals a fresh build."""
    db = tmp_path / "live.duckdb"
    shutil.copy(season, db)
    z = 9
    where = "latitude IS NOT NULL"
    grid = _tiles_over(db, where, z)
    tiles = MapTiles()
    before = tiles.register(db, SightingFilter(), ("1",), colour=_colour, label=str, points=50)
    for x, y in grid:
        for kind in ("s", "t"):
            tiles.tile(before, kind, z, x, y)
    lon, lat = query(db, "SELECT longitude, latitude FROM track WHERE session_id = 's003' "
                         "ORDER BY time DESC LIMIT 1").iloc[0]  # fmt: skip
    with duckdb.connect(str(db)) as con:  # the session walks on and sees 30 more
        con.execute(
            "INSERT INTO track (session_id, time, t, latitude, longitude, source) "
            "SELECT 's003', TIMESTAMP '2027-01-01' + INTERVAL 1 SECOND * i, 1e6 + i, "
            "$lat + 0.0001 * i, $lon, 'gpx' FROM range(20) r(i)", {"lat": lat, "lon": lon})
        con.execute(
            "INSERT INTO sightings (sighting_id, session_id, species, first_seen, last_seen, "
            "peak_score, latitude, longitude, status, updated_at, h3_cell) "
            "SELECT 'new' || i, 's003', 'Acer rubrum', TIMESTAMP '2027-01-01', "
            "TIMESTAMP '2027-01-01', 0.9, $lat, $lon, 'open', TIMESTAMP '2027-01-01', "
            "(SELECT h3_cell FROM sightings WHERE session_id = 's003' LIMIT 1) "
            "FROM range(30) r(i)", {"lat": lat, "lon": lon})  # fmt: skip
    after = tiles.register(db, SightingFilter(), ("2",), colour=_colour, label=str, points=50)
    assert after != before
    import fieldtool.dashboard.maptiles as maptiles

    calls: list[str] = []
    real = maptiles.query
    monkeypatch.setattr(maptiles, "query", lambda *a, **k: calls.append("q") or real(*a, **k))
    answers = {(k, x, y): tiles.tile(after, k, z, x, y) for x, y in grid for k in ("s", "t")}
    rebuilt = len(calls)
    monkeypatch.setattr(maptiles, "query", real)
    fresh = MapTiles()
    check = fresh.register(db, SightingFilter(), ("2",), colour=_colour, label=str, points=50)
    assert all(answers[(k, x, y)] == fresh.tile(check, k, z, x, y) for k, x, y in answers)
    assert 0 < rebuilt <= 3 * 4  # a few tiles where the session is, not the other sites'
    counted = sum(_count(f) for (k, _x, _y), data in answers.items() if k == "s"
                  for f in json.loads(data)["features"])  # fmt: skip
    assert counted == int(query(db, f"SELECT count(*) FROM sightings WHERE {where}").iloc[0, 0])


def test_the_opening_view_is_built_while_the_browser_loads(
    season: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fieldtool.dashboard.maptiles as maptiles

    tiles = MapTiles()
    view = _view(tiles, season, SightingFilter(), 100)
    lon, lat = query(season, "SELECT longitude, latitude FROM sightings "
                             "ORDER BY sighting_id LIMIT 1").iloc[0]  # fmt: skip
    tiles.warm(view, float(lon), float(lat), 9.3).join()
    x, y = _tile_xy(lon, lat, 9)  # deck.gl asks for 512-px tiles at the rounded zoom
    # The view (1,200 px at zoom 9.3: 1.9 tiles wide) reaches the neighbour on its side.
    side = 1 if (lon + 180) / 360 * 512 % 1 >= 0.5 else -1
    calls: list[int] = []
    real = maptiles.query
    monkeypatch.setattr(maptiles, "query", lambda *a, **k: calls.append(1) or real(*a, **k))
    for kind in ("s", "t"):
        assert tiles.tile(view, kind, 9, x, y) is not None
        assert tiles.tile(view, kind, 9, x + side, y) is not None
    assert calls == []  # all built before they were asked for


def test_a_tile_asked_twice_at_once_is_built_once(
    season: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import fieldtool.dashboard.maptiles as maptiles

    tiles = MapTiles()
    view = _view(tiles, season, SightingFilter(), 100)
    started, release, builds = threading.Event(), threading.Event(), []
    real = maptiles.sighting_features

    def slow(*args):  # noqa: ANN002, ANN202
        builds.append(1)
        started.set()
        release.wait(60)
        return real(*args)

    monkeypatch.setattr(maptiles, "sighting_features", slow)
    joined = threading.Event()  # the second request found the first one's build

    class Seen(dict):
        def get(self, key, default=None):  # noqa: ANN001, ANN202
            found = super().get(key, default)
            if found is not None:
                joined.set()
            return found

    tiles._building = Seen()
    answers: list[bytes | None] = []
    first = threading.Thread(target=lambda: answers.append(tiles.tile(view, "s", 3, 1, 3)))
    first.start()
    assert started.wait(60)
    second = threading.Thread(target=lambda: answers.append(tiles.tile(view, "s", 3, 1, 3)))
    second.start()
    assert joined.wait(60)  # asked while the first build runs
    release.set()
    first.join(60)
    second.join(60)
    assert builds == [1] and len(answers) == 2 and answers[0] == answers[1] is not None


def test_the_basemap_is_fetched_not_carried_in_the_deck(tmp_path: Path) -> None:
    """With the tile server, the deck names the basemap's files (deck.gl's JSON converter
    walks every coordinate of inline data: about 2 s for Natural Earth on a 2-core VM);
    the server gives exactly those files, by name only."""
    import pydeck as pdk

    from fieldtool.dashboard.deck import basemap_bytes, basemap_files
    from fieldtool.dashboard.mapview import map_deck

    files = basemap_files()
    assert len(files) >= 4
    served = {name: (lambda p=path: basemap_bytes(p)) for name, path in files.items()}
    with TileServer(None, files=served) as server:
        url = lambda name: server.file_url("127.0.0.1", name)  # noqa: E731
        deck = map_deck(pd.DataFrame(), None, None, pdk.ViewState(latitude=40, longitude=-100,
                        zoom=3), colour=_colour, label=str, basemap_url=url)  # fmt: skip
        spec = json.loads(deck.to_json())
        urls = [layer["data"] for layer in spec["layers"] if layer["@@type"] == "GeoJsonLayer"]
        assert len(urls) == len(files) and all(isinstance(u, str) for u in urls)
        assert len(deck.to_json()) < 10_000  # names, not coordinates
        for address in urls:
            with urllib.request.urlopen(address, timeout=60) as reply:
                body = json.loads(reply.read())
            assert body["type"] == "FeatureCollection" and body["features"]
        for path in ("/files/../secret", "/files/", "/files/ne_110m_land.geojson.bak"):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.request("GET", path)
            assert conn.getresponse().status == 404
            conn.close()


@pytest.mark.parametrize("first", ["Thuja plicata", "Acer rubrum"])
def test_a_dot_is_the_same_built_in_python_or_in_sql(
    season: Path, tmp_path: Path, first: str
) -> None:
    """Few sightings in a tile are grouped in Python, many in SQL: one rule, the same dot
    (place, count, colour, and the species named on a tie: the first by name)."""
    db = tmp_path / "tie.duckdb"
    shutil.copy(season, db)
    other = "Acer rubrum" if first == "Thuja plicata" else "Thuja plicata"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "INSERT INTO sightings (sighting_id, session_id, species, first_seen, last_seen, "
            "peak_score, latitude, longitude, status, updated_at) "
            f"SELECT 'tie' || i, 'tie', CASE WHEN i % 2 = 0 THEN '{first}' ELSE '{other}' "
            "END, TIMESTAMP '2027-01-01', TIMESTAMP '2027-01-01', 0.9, 10.0 + i * 1e-5, "
            "20.0, 'closed', TIMESTAMP '2027-01-01' FROM range(4) r(i)")  # fmt: skip
    tiles = MapTiles()
    z = math.ceil(SITE_ZOOM)
    x, y = _tile_xy(20.0, 10.0, z)
    in_python = _features(tiles, _view(tiles, db, SightingFilter(session_id="tie"), 100),
                          "s", z, x, y)  # fmt: skip
    in_sql = _features(tiles, _view(tiles, db, SightingFilter(session_id="tie"), 1),
                       "s", z, x, y)  # fmt: skip
    assert len(in_python) == 1 and in_python == in_sql
    assert in_sql[0]["properties"]["n"] == "4 sightings · 2 species · most seen: ACER RUBRUM"
