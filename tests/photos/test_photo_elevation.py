"""A photo session's elevation per sighting: each photo keeps its own ``track`` row, and a
sighting's elevation is read from the rows of its own photos, never from another camera's.

Photos run event by event (one camera's sequence, then the next), so a session's ``t``
(seconds after its earliest photo) goes back when the next event is another camera's that
began earlier: here camera A's event runs 10:00-10:05 and camera B's from 10:01:30, at the
very seconds of some of A's photos, in another place at another altitude (EXIF GPS).
"""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from fieldtool.config import load_config
from fieldtool.dashboard.data import with_elevations
from fieldtool.export import export
from fieldtool.pipeline import photo_placement, run_session
from fieldtool.store import SightingStore, query
from tests.conftest import COLOURS, ColourClassifier
from tests.photos.conftest import _dms, data_strip

T0 = datetime(2026, 6, 1, 10, 0, 0)  # UTC
# camera -> (make, colour index (species), (lat, lon), photos' seconds after T0, altitudes m)
CAMERAS = {
    "A": ("CamA", 0, (44.56, -123.30), [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300],
          [500.0, 501.0, 502.0, 503.0, 504.0, 505.0, 506.0, 507.0, 508.0, 509.0, 510.0]),
    "B": ("CamB", 1, (44.70, -123.10), [90, 120, 150, 180], [1500.0, 1502.0, 1504.0, 1506.0]),
}  # fmt: skip
SPECIES = {0: "Acer rubrum", 1: "Quercus alba"}


def _photo(path: Path, make: str, colour: int, place: tuple[float, float], when: datetime,
           altitude: float, accuracy_m: float | None = None) -> Path:  # fmt: skip
    """A JPEG of one colour with EXIF make, time (UTC offset written), GPS place,
    GPSAltitude above sea level and, given ``accuracy_m``, GPSHPositioningError (m)."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = "Trail"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9011] = "+00:00"
    lat, lon = place
    exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W",
                    4: _dms(lon), 5: b"\x00", 6: float(altitude)}  # fmt: skip
    if accuracy_m is not None:
        exif[0x8825][31] = float(accuracy_m)
    path.parent.mkdir(parents=True, exist_ok=True)
    b, g, r = COLOURS[colour]
    data_strip(Image.new("RGB", (64, 48), (r, g, b)), make, when, place).save(path, exif=exif,
                                                                           quality=95)
    return path


def _run(tmp_path: Path, labels, accuracy_m: dict[str, float] | None = None) -> Path:
    """The session of :data:`CAMERAS`' photos (``accuracy_m``: a camera's
    GPSHPositioningError, m)."""
    folder = tmp_path / "ph"
    for name, (make, colour, place, seconds, altitudes) in CAMERAS.items():
        for s, alt in zip(seconds, altitudes, strict=True):
            _photo(folder / f"{name}{s:03d}.jpg", make, colour, place, T0 + timedelta(seconds=s),
                   alt, (accuracy_m or {}).get(name))  # fmt: skip
    db = tmp_path / "s.duckdb"
    config = load_config(None, {"source.uri": str(folder), "store.db": str(db)})
    config.store.snapshots = False
    source, positions, basis = photo_placement(config, lambda _: None)
    run_session(source, ColourClassifier(labels), SightingStore(db), config,
                positions=positions, time_basis=basis, log=lambda _: None)  # fmt: skip
    return db


def _expected(camera: str, peak_t: float) -> tuple[float, float, float]:
    """(at the peak, min, max) of the camera's own photos' altitudes."""
    _, _, _, seconds, altitudes = CAMERAS[camera]
    return altitudes[seconds.index(round(peak_t))], min(altitudes), max(altitudes)


def test_each_camera_sighting_gets_its_own_photos_elevation_not_the_other_cameras(
    tmp_path, labels
) -> None:
    db = _run(tmp_path, labels)
    with duckdb.connect(str(db), read_only=True) as con:
        order = [row[0] for row in con.execute(
            "SELECT t FROM detections ORDER BY frame_index").fetchall()]  # fmt: skip
        kept = con.execute("SELECT count(*) FROM track").fetchone()
    assert order == [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 90, 120, 150, 180]
    assert kept == (15,)  # a row for every photo, the ones whose t went back included

    sightings = query(db, "SELECT sighting_id, species, peak_t FROM sightings "
                          "WHERE status = 'closed'")  # fmt: skip
    camera_of = {SPECIES[colour]: name for name, (_, colour, *_) in CAMERAS.items()}
    assert sorted(sightings["species"]) == sorted(camera_of)
    out = tmp_path / "occ.csv"
    export(db, "csv", out, log=lambda _: None)
    with out.open(encoding="utf-8", newline="") as handle:
        exported = {row["sighting_id"]: row for row in csv.DictReader(handle)}
    shown = with_elevations(db, sightings[["sighting_id"]]).set_index("sighting_id")
    for s in sightings.itertuples():
        at_peak, low, high = _expected(camera_of[s.species], s.peak_t)
        row = exported[s.sighting_id]
        got = (row["elevation_m"], row["elevation_min_m"], row["elevation_max_m"])
        assert got != ("", "", ""), f"{s.species}: no elevation"
        assert tuple(float(v) for v in got) == pytest.approx((at_peak, low, high)), s.species
        assert row["elevation_reference"] == "above sea level (exif)"
        dash = shown.loc[s.sighting_id]  # the dashboard reads it with the same SQL
        assert (dash.elevation_m, dash.elevation_min_m, dash.elevation_max_m) == pytest.approx(
            (at_peak, low, high)
        ), s.species


def test_a_photo_without_its_own_gps_takes_no_other_cameras_row(tmp_path, labels) -> None:
    """B's photos lose their GPS: B's sighting has no elevation (no track file, no place),
    not A's from the rows at the same seconds."""
    db = _run(tmp_path, labels)
    with duckdb.connect(str(db)) as con:  # as if B's photos had no EXIF GPS
        con.execute("DELETE FROM track WHERE latitude > 44.6")
        con.execute("UPDATE media SET latitude = NULL, longitude = NULL WHERE latitude > 44.6")
    sightings = query(db, "SELECT sighting_id, species FROM sightings WHERE status = 'closed'")
    shown = with_elevations(db, sightings[["sighting_id"]]).set_index("sighting_id")
    for s in sightings.itertuples():
        dash = shown.loc[s.sighting_id]
        if s.species == SPECIES[CAMERAS["B"][1]]:
            assert math.isnan(dash.elevation_min_m) and math.isnan(dash.elevation_m)
        else:
            assert (dash.elevation_min_m, dash.elevation_max_m) == (500.0, 510.0)


def test_a_replay_keeps_every_photos_row_and_adds_none_twice(tmp_path, labels) -> None:
    """A journal's replay and ``fieldtool batch``'s merge write rows idempotently: the rows of
    two cameras' photos at the same second are two rows (two places), not one, and a
    second replay adds nothing."""
    from fieldtool.store.schema import insert_rows

    db = _run(tmp_path, labels)
    with duckdb.connect(str(db)) as con:
        rows = con.sql("SELECT * FROM track").to_arrow_table().to_pylist()
        assert len(rows) == 15
        con.execute("DELETE FROM track").fetchall()
        for _ in range(2):
            insert_rows(con, "track", rows, idempotent=True)
            assert con.execute("SELECT count(*) FROM track").fetchall() == [(15,)]
