"""Time labels per sighting, not per session, and times in whole seconds, in every export
format (a photo session whose photos' clocks differ: tests/export_photos.py): a single time to
the nearest second, a sighting's interval from its start rounded down to its end rounded up
(tests/test_export_intervals.py)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime

import pandas as pd
import pytest

from fieldtool.export import export, iso_time, load_occurrences
from tests.export_photos import MixedPhotos, mixed_zone_photos


@pytest.fixture
def mixed(tmp_path, labels) -> MixedPhotos:
    return mixed_zone_photos(tmp_path, labels)


def _dwc(mixed: MixedPhotos, out) -> list[dict[str, str]]:
    export(mixed.db, "dwca", out, log=lambda _: None)
    with zipfile.ZipFile(out) as archive:
        text = archive.read("occurrence.txt").decode()
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def test_one_unknown_zone_photo_labels_only_its_own_sighting(mixed, tmp_path):
    frame = load_occurrences(mixed.db)
    # oldest first: the GPS photo (6/1), the local clock (6/2), the offset photo (6/3)
    assert frame.first_seen.tolist() == [pd.Timestamp(mixed.gps_utc), pd.Timestamp(mixed.local),
                                         pd.Timestamp(mixed.offset_utc)]  # fmt: skip
    assert frame.time_zone_known.tolist() == [True, False, True]

    gps, local, offset = _dwc(mixed, tmp_path / "occ.zip")
    assert gps["eventDate"] == "2024-06-01T15:00:34Z/2024-06-01T15:00:35Z"  # holds :34.6
    assert offset["eventDate"] == "2024-06-03T16:01:02Z/2024-06-03T16:01:03Z"
    assert local["eventDate"] == "2024-06-02T11:01:02/2024-06-02T11:01:03"
    for utc in (gps, offset):
        assert utc["eventRemarks"].startswith("times UTC")
        assert "unknown" not in utc["eventRemarks"] and "local clock" not in utc["eventRemarks"]
    assert "exif-zone" in gps["eventRemarks"] and "exif-offset" in offset["eventRemarks"]
    assert "local clock" in local["eventRemarks"] and "exif-local" in local["eventRemarks"]
    assert "not UTC" in local["eventRemarks"]

    export(mixed.db, "geojson", tmp_path / "s.geojson", log=lambda _: None)
    props = [f["properties"] for f in json.loads((tmp_path / "s.geojson").read_text())["features"]]
    assert [p["time_zone_known"] for p in props] == [True, False, True]
    assert [p["first_seen"] for p in props] == [
        "2024-06-01T15:00:34Z", "2024-06-02T11:01:02", "2024-06-03T16:01:02Z"]  # fmt: skip


def test_csv_rounds_a_sightings_start_down_and_its_end_up(mixed, tmp_path):
    export(mixed.db, "csv", tmp_path / "s.csv", log=lambda _: None)
    table = pd.read_csv(tmp_path / "s.csv", dtype=str)
    # one photo each, at 15:00:34.6, 11:01:02.8, 16:01:02.8: first_seen down, last_seen up,
    # so the interval holds the photo (nearest would write :35 .. :35, after it)
    assert table.first_seen.tolist() == [
        "2024-06-01T15:00:34Z", "2024-06-02T11:01:02", "2024-06-03T16:01:02Z"]  # fmt: skip
    assert table.last_seen.tolist() == [
        "2024-06-01T15:00:35Z", "2024-06-02T11:01:03", "2024-06-03T16:01:03Z"]  # fmt: skip
    assert table.time_zone_known.tolist() == ["True", "False", "True"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 6, 1, 9, 0, 34, 600000), "2026-06-01T09:00:35Z"),
        (datetime(2026, 6, 1, 9, 0, 34, 499999), "2026-06-01T09:00:34Z"),
        (datetime(2026, 6, 1, 9, 0, 34, 500000), "2026-06-01T09:00:35Z"),  # half up
        (datetime(2026, 12, 31, 23, 59, 59, 800000), "2027-01-01T00:00:00Z"),  # carries
        (pd.Timestamp("2026-06-01T09:01:02.8"), "2026-06-01T09:01:03Z"),
    ],
)
def test_iso_time_rounds_to_the_nearest_second(value, text):
    assert iso_time(value) == text
    assert iso_time(value, utc=False) == text[:-1]


def test_a_video_session_keeps_its_session_label(mixed, tmp_path):
    """Sightings without media rows (video) take the session's time_zone_known."""
    from fieldtool.store import SightingStore
    from fieldtool.types import SessionInfo, Sighting

    store = SightingStore(mixed.db)
    start = datetime(2022, 6, 21, 16, 6, 17)
    store.record_session(SessionInfo("dji", "DJI_0001.MP4", "tiny", start,
                                     time_source="srt-clock", time_zone=None,
                                     time_zone_known=False))  # fmt: skip
    store.record_sighting(Sighting("v1", "dji", "Acer rubrum", "red maple", start, start,
                                   0.0, 0.0, frames=1, peak_score=0.9, score_sum=0.9,
                                   peak_t=0.0, model_id="tiny", status="closed"))  # fmt: skip
    store.close()
    frame = load_occurrences(mixed.db).set_index("sighting_id")
    assert not frame.loc["v1", "time_zone_known"]
    assert frame.loc["v1", "time_source"] == "srt-clock"


def test_a_sighting_dated_at_processing_is_published_without_an_event_date(mixed, tmp_path):
    """A file without any recording time was dated when fieldtool processed it: Darwin Core
    gets no eventDate for it (not the processing day as the event's), a remark, a warning."""
    from fieldtool.store import SightingStore
    from fieldtool.types import SessionInfo, Sighting

    store = SightingStore(mixed.db)
    ran = datetime(2026, 11, 29, 15, 50, 45)
    store.record_session(SessionInfo("bare", "/v/bare.mp4", "tiny", ran,
                                     time_source="processing-time", time_zone="UTC",
                                     time_zone_known=True))  # fmt: skip
    store.record_sighting(Sighting("p1", "bare", "Acer rubrum", "red maple", ran, ran, 0.0, 6.0,
                                   frames=3, peak_score=0.9, score_sum=2.7, peak_t=0.0,
                                   model_id="tiny", status="closed"))  # fmt: skip
    store.close()
    said: list[str] = []
    export(mixed.db, "dwca", tmp_path / "occ.zip", log=said.append)
    with zipfile.ZipFile(tmp_path / "occ.zip") as archive:
        text = archive.read("occurrence.txt").decode()
    rows = {r["eventID"]: r for r in csv.DictReader(io.StringIO(text), delimiter="\t",
                                                    quoting=csv.QUOTE_NONE)}  # fmt: skip
    assert rows["bare"]["eventDate"] == ""
    assert "no recording time" in rows["bare"]["eventRemarks"]
    assert "2026-11-29T15:50:45Z" in rows["bare"]["eventRemarks"]  # when it was processed
    assert all(r["eventDate"] for k, r in rows.items() if k != "bare")  # the others dated
    (line,) = [s for s in said if "eventDate" in s]
    assert "1 record(s)" in line and "--start-time" in line
