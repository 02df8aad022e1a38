"""The dashboard labels each photo sighting's times by its own photos, as the exports do
(tests/export_photos.py: one unknown-zone photo among UTC ones labelled every sighting of
the session local on the dashboard's table and in its downloads)."""

from __future__ import annotations

from pathlib import Path

from fieldtool.dashboard.data import SightingFilter, load_sightings
from fieldtool.dashboard.downloads import export_frame
from tests.export_photos import mixed_zone_photos


def test_only_the_unknown_zone_photos_sighting_is_labelled_local(tmp_path: Path, labels) -> None:
    mixed = mixed_zone_photos(tmp_path, labels)
    rows = load_sightings(mixed.db, SightingFilter()).sort_values("first_seen")
    by_time = dict(zip(rows["first_seen"].dt.to_pydatetime(), rows["time_zone_known"],
                       strict=True))  # fmt: skip
    assert by_time == {mixed.gps_utc: True, mixed.local: False, mixed.offset_utc: True}
    exported = export_frame(rows)
    stamps = [str(v) for v in exported["first_seen"]]
    assert sum(v.endswith("Z") for v in stamps) == 2, stamps  # the two UTC photos' sightings
