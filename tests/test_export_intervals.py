"""A sighting's interval in text exports holds every detection: its start rounded down and
its end rounded up to the second (Darwin Core eventDate, CSV, GeoJSON, the dashboard's
downloads, the EML's dates); single times (a review) stay rounded to the nearest second."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime, timedelta

import pandas as pd
import pytest

from fieldtool.export import export, load_occurrences
from fieldtool.store import SightingStore, add_review
from fieldtool.types import SessionInfo, Sighting

FIRST = datetime(2026, 6, 1, 9, 0, 2, 533000)  # the trial's: written 09:00:03, after it
LAST = datetime(2026, 6, 1, 9, 0, 8, 400000)  # nearest: 09:00:08, before it
WHOLE = datetime(2026, 6, 1, 10, 0, 0)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("utc", "walk.mp4", "tiny", FIRST))
    store.record_session(SessionInfo("local", "DJI_0001.MP4", "tiny", FIRST,
                                     time_source="srt-clock", time_zone=None,
                                     time_zone_known=False))  # fmt: skip
    store.record_sighting(Sighting("a" * 32, "utc", "Acer rubrum", "red maple", FIRST, LAST,
                                   2.533, 8.4, frames=30, peak_score=0.9, score_sum=24.0,
                                   model_id="tiny", status="closed"))  # fmt: skip
    store.record_sighting(Sighting("b" * 32, "local", "Acer rubrum", "red maple",
                                   FIRST + timedelta(days=1), LAST + timedelta(days=1), 2.533,
                                   8.4, frames=30, peak_score=0.9, score_sum=24.0,
                                   model_id="tiny", status="closed"))  # fmt: skip
    store.record_sighting(Sighting("c" * 32, "utc", "Quercus alba", "white oak", WHOLE,
                                   WHOLE + timedelta(seconds=5), 3600.0, 3605.0, frames=25,
                                   peak_score=0.9, score_sum=20.0, model_id="tiny",
                                   status="closed"))  # fmt: skip
    store.close()
    add_review(db_path := path, "a" * 32, "confirm", reviewer="ana")
    return db_path


def test_darwin_core_event_date_contains_the_sighting(db, tmp_path):
    export(db, "dwca", tmp_path / "occ.zip", log=lambda _: None)
    with zipfile.ZipFile(tmp_path / "occ.zip") as archive:
        text = archive.read("occurrence.txt").decode()
    rows = {r["occurrenceID"][-12:]: r for r in csv.DictReader(
        io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)}  # fmt: skip
    assert rows["a" * 12]["eventDate"] == "2026-06-01T09:00:02Z/2026-06-01T09:00:09Z"
    assert rows["b" * 12]["eventDate"] == "2026-06-02T09:00:02/2026-06-02T09:00:09"
    assert rows["c" * 12]["eventDate"] == "2026-06-01T10:00:00Z/2026-06-01T10:00:05Z"  # whole
    reviewed = query_review_time(db)
    assert rows["a" * 12]["dateIdentified"] == reviewed  # a single time: nearest second


def query_review_time(db) -> str:
    from fieldtool.store import query

    when = query(db, "SELECT reviewed_at FROM reviews").reviewed_at[0].to_pydatetime()
    return (when + timedelta(microseconds=500_000)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_csv_and_geojson_first_seen_down_and_last_seen_up(db, tmp_path, fmt):
    out = tmp_path / f"s.{fmt}"
    export(db, fmt, out, log=lambda _: None)
    if fmt == "csv":
        rows = pd.read_csv(out, dtype=str).to_dict("records")
    else:
        rows = [f["properties"] for f in json.loads(out.read_text())["features"]]
    got = {r["sighting_id"][:1]: (r["first_seen"], r["last_seen"]) for r in rows}
    assert got == {
        "a": ("2026-06-01T09:00:02Z", "2026-06-01T09:00:09Z"),
        "b": ("2026-06-02T09:00:02", "2026-06-02T09:00:09"),
        "c": ("2026-06-01T10:00:00Z", "2026-06-01T10:00:05Z"),
    }


def test_the_dashboard_download_writes_the_same_interval(db):
    from fieldtool.dashboard.downloads import export_frame

    frame = export_frame(load_occurrences(db)).set_index("sighting_id")
    assert frame.loc["a" * 32, ["first_seen", "last_seen"]].tolist() == [
        "2026-06-01T09:00:02Z", "2026-06-01T09:00:09Z"]  # fmt: skip


def test_the_eml_dates_are_the_days_of_the_first_and_last_sighting(tmp_path):
    """Calendar dates are the days the times fall on: a start at 23:59:59.6 is that day's,
    an end at 23:59:59.6 is not the next day's."""
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    late = datetime(2026, 6, 1, 23, 59, 59, 600000)
    store.record_session(SessionInfo("utc", "walk.mp4", "tiny", late))
    for i, (first, last) in enumerate([(late, late + timedelta(seconds=3)),
                                       (late + timedelta(days=1, seconds=-9),
                                        late + timedelta(days=1))]):  # fmt: skip
        store.record_sighting(Sighting(f"{i:032x}", "utc", "Acer rubrum", "red maple", first,
                                       last, 0.0, 3.0, frames=4, peak_score=0.9,
                                       score_sum=3.2, model_id="tiny", status="closed"))  # fmt: skip
    store.close()
    export(path, "dwca", tmp_path / "occ.zip", log=lambda _: None)
    with zipfile.ZipFile(tmp_path / "occ.zip") as archive:
        eml = archive.read("eml.xml").decode()
    dates = re.findall(r"<calendarDate>([^<]+)</calendarDate>", eml)
    assert dates == ["2026-06-01", "2026-06-02"]
