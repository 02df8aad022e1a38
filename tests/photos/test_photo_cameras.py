"""A photo session of several cameras: a sighting's GPS accuracy is its own peak photo's, and
the ``effort`` view's distance is each camera's own path, never a zigzag between cameras.

A photo session's ``t`` is no clock order and its track rows interleave cameras (see
tests/photos/test_photo_elevation.py, whose set-up these reuse): another camera's row at
the same second, or the nearest before, is not this camera's.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from fieldtool.config import load_config
from fieldtool.dashboard.aggregate import load_accumulation
from fieldtool.export import export
from fieldtool.pipeline import photo_placement, run_session
from fieldtool.store import SightingStore, query
from tests.conftest import ColourClassifier
from tests.photos.test_photo_elevation import CAMERAS, SPECIES, T0, _photo, _run

ACCURACY_M = {"A": 3.0, "B": 40.0}  # each camera's GPSHPositioningError


def _exported(db: Path, tmp_path: Path) -> dict[str, dict[str, str]]:
    """The CSV export's rows by species."""
    out = tmp_path / "occ.csv"
    export(db, "csv", out, log=lambda _: None)
    with out.open(encoding="utf-8", newline="") as handle:
        return {row["species"]: row for row in csv.DictReader(handle)}


def test_each_photo_sighting_has_its_own_peak_photos_accuracy(tmp_path, labels) -> None:
    """B's photos are taken at the very seconds of some of A's, elsewhere: B's sighting's
    coordinate_uncertainty_m is B's photo's GPSHPositioningError, not A's."""
    db = _run(tmp_path, labels, ACCURACY_M)
    rows = _exported(db, tmp_path)
    for name, (_, colour, *_rest) in CAMERAS.items():
        row = rows[SPECIES[colour]]
        assert float(row["coordinate_uncertainty_m"]) == pytest.approx(ACCURACY_M[name]), name


def test_a_photo_without_its_own_place_takes_no_other_cameras_accuracy(tmp_path, labels) -> None:
    """B's photos lose their GPS (no track, no place): B's sighting has no uncertainty, not
    the accuracy of A's row at the same second or the one before."""
    import duckdb

    db = _run(tmp_path, labels, ACCURACY_M)
    with duckdb.connect(str(db)) as con:  # as if B's photos had no EXIF GPS
        con.execute("DELETE FROM track WHERE latitude > 44.6")
        con.execute("UPDATE media SET latitude = NULL, longitude = NULL WHERE latitude > 44.6")
    rows = _exported(db, tmp_path)
    assert rows[SPECIES[CAMERAS["B"][1]]]["coordinate_uncertainty_m"] == ""
    assert float(rows[SPECIES[CAMERAS["A"][1]]]["coordinate_uncertainty_m"]) == 3.0


NORTH_5KM = 0.045  # degrees of latitude: about 5.0 km


def _alternating(tmp_path: Path, labels, b_moves_m: float = 0.0) -> Path:
    """Two fixed camera traps 5 km apart photographing alternately for five minutes (A at
    0, 60, ... 300 s, B at 30, 90, ... 270 s), B's last photo ``b_moves_m`` further north."""
    folder = tmp_path / "ph"
    a, b = (44.56, -123.30), (44.56 + NORTH_5KM, -123.30)
    for s in range(0, 301, 60):
        _photo(folder / f"A{s:03d}.jpg", "CamA", 0, a, T0 + timedelta(seconds=s), 500.0)
    for s in range(30, 271, 60):
        place = (b[0] + b_moves_m / 111_195.0, b[1]) if s == 270 else b
        _photo(folder / f"B{s:03d}.jpg", "CamB", 1, place, T0 + timedelta(seconds=s), 900.0)
    db = tmp_path / "s.duckdb"
    config = load_config(None, {"source.uri": str(folder), "store.db": str(db)})
    config.store.snapshots = False
    source, positions, basis = photo_placement(config, lambda _: None)
    run_session(source, ColourClassifier(labels), SightingStore(db), config,
                positions=positions, time_basis=basis, log=lambda _: None)  # fmt: skip
    return db


def test_fixed_cameras_photographing_alternately_walk_nowhere(tmp_path, labels) -> None:
    """Ordered by time the rows go A, B, A, B ... 5 km each way (50 km): each camera stood
    still, so the session's distance is 0; every photo's row is still a track point, and
    the dashboard's accumulation walks the same 0 km."""
    db = _alternating(tmp_path, labels)
    effort = query(db, "SELECT distance_m, track_points FROM effort").iloc[0]
    assert int(effort.track_points) == 11
    assert effort.distance_m == pytest.approx(0.0, abs=1e-6)
    steps = load_accumulation(db)
    assert steps["km"].max() == pytest.approx(0.0, abs=1e-9)


def test_a_camera_that_moves_walks_its_own_path(tmp_path, labels) -> None:
    """B's last photo is 1 km on from its others: the session walked 1 km (B's path), not
    nothing and not the way between the cameras."""
    db = _alternating(tmp_path, labels, b_moves_m=1000.0)
    walked = float(query(db, "SELECT distance_m FROM effort").iloc[0, 0])
    assert walked == pytest.approx(1000.0, rel=0.01)
    assert load_accumulation(db)["km"].max() == pytest.approx(1.0, rel=0.01)


def test_run_labels_each_photo_sighting_by_its_own_photos_clock(tmp_path):
    """As the exports do (export_rows.sighting_clocks_sql): in a session of mixed clocks a
    sighting whose photos all have a known zone prints UTC; one of an unknown-zone photo
    prints local."""
    from datetime import datetime, timedelta

    from fieldtool.cli.session import photo_zones_known
    from fieldtool.store import SightingStore
    from fieldtool.types import Position, SessionInfo, Sighting

    t0 = datetime(2026, 6, 1, 9)
    db = tmp_path / "p.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("p", "/x/plots", "tiny", t0, time_source="photos",
                                     time_zone_known=False))  # fmt: skip
    sightings = []
    for k, source in enumerate(("exif-zone", "exif-local")):
        when = t0 + timedelta(hours=k)
        store.record_media("p", k, f"/x/plots/{k}.jpg", when, event_id=f"e{k}", time_source=source)
        store.record_detection("p", k, float(k), when, Position(44.0, -123.0),
                               (["Acer rubrum"], [0.9]), (["Acer rubrum"], [0.9]))  # fmt: skip
        s = Sighting(f"s{k}", "p", "Acer rubrum", "", when, when, float(k), float(k), frames=1,
                     peak_score=0.9, score_sum=0.9, status="closed", event_id=f"e{k}")  # fmt: skip
        store.record_sighting(s)
        sightings.append(s)
    store.close()
    assert photo_zones_known(db, sightings, session_known=False) == {"s0": True, "s1": False}
