"""The camera's elevation on the dashboard: a sighting's tooltip (map points and data
tiles), the map's table and the review page's position say it with what it is measured
from, the same numbers ``fieldtool export`` writes; nothing where the track has none, and
a file from before ``track.elevation_m`` is read without it."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from fieldtool.dashboard.aggregate import load_points
from fieldtool.dashboard.data import SightingFilter, load_sightings_page, with_elevations
from fieldtool.dashboard.maptiles import MapTiles
from fieldtool.dashboard.mapview import elevation_text, point_text
from fieldtool.dashboard.summaries import sightings_table
from fieldtool.export import load_occurrences
from fieldtool.store import SightingStore
from fieldtool.types import Position, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)
# session -> (track source, elevations of its rows at t = 0, 1, 2, ...)
TRACKS = {
    "hike": ("gpx", [730.0, 728.4, 733.6, 735.5, 731.0, 700.0]),
    "gopro": ("gpmf", [1203.0, 1204.0, 1206.5, 1205.0, 1201.0, 1200.0]),
    "plot": ("fixed", [None] * 6),
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Three sessions, one sighting each over t 1.5-3.2 (peak 3.0): its frames are the rows
    at 1, 2 and 3."""
    path = tmp_path / "elev.duckdb"
    store = SightingStore(path)
    for n, (session, (source, elevations)) in enumerate(TRACKS.items()):
        store.record_session(SessionInfo(session, f"{session}.mp4", "demo", T0))
        lon = -123.0 + 0.01 * n
        for k, ele in enumerate(elevations):
            store.record_track(session, T0 + timedelta(seconds=k), float(k),
                               Position(44.0, lon, 4.0, source, ele))  # fmt: skip
        store.record_sighting(Sighting(
            session, session, "Acer rubrum", "red maple", T0 + timedelta(seconds=1.5),
            T0 + timedelta(seconds=3.2), 1.5, 3.2, frames=4, peak_score=0.9, score_sum=3.2,
            peak_t=3.0, latitude=44.0, longitude=lon, model_id="demo", status="closed",
        ))  # fmt: skip
    store.close()
    return path


def test_the_tooltip_says_the_elevation_and_what_it_is_measured_from(db: Path) -> None:
    points = load_points(db, SightingFilter(), 100).set_index("sighting_id", drop=False)
    hike = points.loc["hike"]
    assert (hike.elevation_m, hike.elevation_min_m, hike.elevation_max_m) == (735.5, 728.4, 735.5)
    assert point_text(hike).endswith(
        " · camera at 736 m above sea level (gpx), 728–736 m over its frames"
    )
    assert "above the WGS84 ellipsoid (gpmf)" in point_text(points.loc["gopro"])
    plot = points.loc["plot"]
    assert math.isnan(plot.elevation_m) and elevation_text(plot) == ""
    assert " m " not in point_text(plot)  # no elevation: none said, not 0 m


def test_the_dashboard_and_the_export_give_the_same_numbers(db: Path) -> None:
    shown = with_elevations(db, load_points(db, SightingFilter(), 100)).set_index("sighting_id")
    exported = load_occurrences(db).set_index("sighting_id")

    def values(column: pd.Series) -> dict[str, object]:
        return {k: None if pd.isna(v) else v for k, v in column.items()}

    for column in ("elevation_m", "elevation_min_m", "elevation_max_m", "elevation_reference"):
        assert values(shown[column]) == values(exported[column])
    assert values(shown["elevation_m"])["plot"] is None


def test_a_data_tile_tooltip_says_the_elevation(db: Path) -> None:
    tiles = MapTiles()
    view = tiles.register(db, SightingFilter(session_id="hike"), ("m",),
                          colour=lambda s: (1, 2, 3), label=str, points=50)  # fmt: skip
    z, n = 16, 1 << 16
    x = int((-123.0 + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(44.0))) / math.pi) / 2 * n)
    data = tiles.tile(view, "s", z, x, y)
    assert data is not None
    texts = [f["properties"]["n"] for f in json.loads(data)["features"]]
    assert texts and all("camera at 736 m above sea level (gpx)" in t for t in texts)


def test_the_table_has_an_elevation_column(db: Path) -> None:
    rows, total = load_sightings_page(db, SightingFilter(), limit=10)
    assert total == 3
    table = sightings_table(rows).set_index("Common name", drop=False)
    assert "Elevation (m)" in table.columns and "Elevation reference" in table.columns
    by_reference = dict(zip(table["Elevation reference"].fillna(""), table["Elevation (m)"],
                            strict=True))  # fmt: skip
    assert by_reference["above sea level (gpx)"] == 735.5
    assert by_reference["above the WGS84 ellipsoid (gpmf)"] == 1205.0
    assert math.isnan(by_reference[""])


def test_a_file_from_before_track_elevation_is_read_without_it(db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("ALTER TABLE track DROP COLUMN elevation_m")
        con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    rows, total = load_sightings_page(db, SightingFilter(), limit=10)
    assert total == 3 and rows["elevation_m"].isna().all()
    points = load_points(db, SightingFilter(), 100)
    assert points["elevation_reference"].isna().all()
    assert all(" m " not in point_text(r) for r in points.itertuples(index=False))
