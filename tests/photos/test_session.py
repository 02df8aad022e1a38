"""Photo sessions through the pipeline: events as segments, places in the file, media rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pytest

from fieldtool.cli import main
from fieldtool.config import DEMO_MODEL, load_config
from fieldtool.photos import photo_source_from_config
from fieldtool.pipeline import run_session
from fieldtool.store import SightingStore
from tests.conftest import ColourClassifier
from tests.photos.conftest import RECONYX, make_photo

T0 = datetime(2024, 6, 1, 10, 0, 0)


def _rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _run_photos(tmp_path, uri, labels, **settings):
    overrides = {"source.uri": str(uri), "store.db": str(tmp_path / "s.duckdb"), **settings}
    config = load_config(None, overrides)
    lines: list[str] = []
    source = photo_source_from_config(config, lines.append)
    store = SightingStore(config.store.db)
    result = run_session(source, ColourClassifier(labels), store, config,
                         time_basis=source.time_basis(), log=lines.append)  # fmt: skip
    return result, config.store.db, lines


def test_the_reconyx_photos_run_as_one_event(tmp_path, capsys) -> None:
    if not (DEMO_MODEL / "model.safetensors").is_file():
        pytest.fail("the demo model is not built (python -m fieldtool.demo.train)")
    db = tmp_path / "traps.duckdb"
    code = main(["run", str(RECONYX), "--lat", "51.18", "--lon", "5.65", "--db", str(db),
                 "--model", str(DEMO_MODEL), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "photos: 10 in 1 event(s)" in err
    media = _rows(db, "SELECT path, event_id, camera, time_source, latitude FROM media")
    assert len(media) == 10 and len({m[1] for m in media}) == 1
    assert {m[2] for m in media} == {"RECONYX HYPERFIRE 2 COVERT"}
    assert {m[3] for m in media} == {"exif-zone"}  # zone from --lat/--lon: Europe/Brussels
    assert {m[4] for m in media} == {None}  # no GPS in the photos themselves
    events = _rows(db, "SELECT DISTINCT event_id FROM sightings")
    assert set(events) <= {(media[0][1],)}  # any sighting belongs to the one event
    session = _rows(db, "SELECT time_source, time_zone, frames_analysed, frames_positioned "
                        "FROM sessions")  # fmt: skip
    assert session == [("photos", "Europe/Brussels", 10, 10)]
    detections = _rows(db, "SELECT DISTINCT latitude, longitude FROM detections")
    assert detections == [(51.18, 5.65)]  # no GPS, no deployment: --lat/--lon


class AlwaysFirstSpecies(ColourClassifier):
    """Says the first species on every photo (a camera trap's burst of one animal)."""

    def predict(self, images, prepared=None):
        probs = np.zeros((len(images), len(self.labels)), np.float32)
        probs[:, 0] = 0.9
        probs[:, -1] = 0.1
        return probs, probs[:, None, :]


def test_the_reconyx_burst_is_one_sighting_not_one_per_photo(tmp_path, labels) -> None:
    config = load_config(None, {"source.uri": str(RECONYX), "store.db": str(tmp_path / "r.duckdb"),
                                "source.tz": "Europe/Brussels"})  # fmt: skip
    source = photo_source_from_config(config, print)
    result = run_session(source, AlwaysFirstSpecies(labels), SightingStore(config.store.db),
                         config, time_basis=source.time_basis())  # fmt: skip
    [sighting] = result.sightings
    assert sighting.frames == 10 and sighting.event_id == source.photos[0].event_id
    assert (sighting.first_t, sighting.last_t) == (0.0, 6.0)
    assert sighting.first_seen == datetime(2021, 4, 11, 18, 43, 9)


def test_phone_photos_land_at_their_exif_positions(tmp_path, labels) -> None:
    places = [(48.8584, 2.2945), (-33.8568, 151.2153), (40.6892, -74.0445)]
    for n, place in enumerate(places):  # three phone photos a day apart: three events
        make_photo(tmp_path / "phone" / f"IMG_{n}.jpg", colour=n, gps=place,
                   taken=T0 + timedelta(days=n), offset="+00:00", make="Apple",
                   model="iPhone 12")  # fmt: skip
    result, db, _ = _run_photos(tmp_path, tmp_path / "phone", labels)
    assert result.session.status == "finished"
    media = _rows(db, "SELECT path, latitude, longitude, event_id FROM media ORDER BY frame_index")
    detections = _rows(db, "SELECT latitude, longitude FROM detections ORDER BY frame_index")
    sightings = _rows(db, "SELECT species, latitude, longitude, event_id FROM sightings "
                          "ORDER BY first_seen")  # fmt: skip
    assert len(media) == len(detections) == len(sightings) == 3
    for n, (lat, lon) in enumerate(places):
        for row in (media[n][1:3], detections[n], sightings[n][1:3]):
            assert row == pytest.approx((lat, lon), abs=1e-6)
        assert sightings[n][0] == labels.labels[n].species
        assert sightings[n][3] == media[n][3]  # the sighting keeps its photo's event


def test_an_event_is_a_segment_sightings_restart_between_events(tmp_path, labels) -> None:
    folder = tmp_path / "trap"
    times = [T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=4),  # event 1
             T0 + timedelta(minutes=5)]  # event 2: one photo  # fmt: skip
    for n, when in enumerate(times):
        make_photo(folder / f"P{n}.jpg", colour=0, taken=when, offset="+00:00")
    result, db, _ = _run_photos(tmp_path, folder, labels)
    media = _rows(db, "SELECT frame_index, event_id FROM media ORDER BY frame_index")
    events = [m[1] for m in media]
    assert events[0] == events[1] == events[2] != events[3]
    sightings = _rows(db, "SELECT species, event_id, frames, first_t, last_t FROM sightings "
                          "ORDER BY first_t")  # fmt: skip
    # one sighting per event, though both are the same species and 5 min < gap bridging
    assert sightings == [("Acer rubrum", events[0], 3, 0.0, 4.0),
                         ("Acer rubrum", events[3], 1, 300.0, 300.0)]  # fmt: skip
    # snapshots are copies of the photos
    snaps = _rows(db, "SELECT snapshot_path FROM sightings")
    assert all(s[0] and (db.parent / s[0]).is_file() for s in snaps)


def test_a_bad_photo_is_skipped_and_named_in_the_end_summary(
    tmp_path, capsys, tiny_model_dir
) -> None:
    folder = tmp_path / "mixed"
    make_photo(folder / "a.jpg", taken=T0)
    make_photo(folder / "b.jpg", taken=T0 + timedelta(seconds=3))
    (folder / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    db = tmp_path / "m.duckdb"
    code = main(["run", str(folder), "--model", str(tiny_model_dir), "--db", str(db), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "c.jpg" in line and "warning" in line]
    assert len(warnings) == 1
    summary = [line for line in err.splitlines() if "frames analysed" in line]
    assert "1 photo(s) skipped: c.jpg" in summary[0]
    assert _rows(db, "SELECT count(*) FROM media") == [(2,)]
    assert "skipped" in _rows(db, "SELECT end_reason FROM sessions")[0][0]


def test_photos_taken_in_the_same_second_each_count(tmp_path, labels) -> None:
    """Defect (trial): a burst written in one second (a trap's EXIF has whole seconds), or
    photos whose only times are file times milliseconds apart, were smoothed as a video's
    frames: with no time between them the later photos did not move the smoothed score, and
    their species were lost (background, then three photos of one species: no sighting).
    Each photo now counts on its own; a species' photos of one event are one sighting."""
    folder = tmp_path / "burst"
    shades = [(0, 0, 250), (0, 0, 252), (0, 0, 254)]  # species 0, three distinct files
    make_photo(folder / "P0.jpg", colour=3, taken=T0, offset="+00:00")  # the empty frame
    for n, bgr in enumerate(shades, start=1):
        make_photo(folder / f"P{n}.jpg", colour=bgr, taken=T0, offset="+00:00")
    make_photo(folder / "P4.jpg", colour=1, taken=T0, offset="+00:00")  # another species
    result, db, _ = _run_photos(tmp_path, folder, labels)
    found = _rows(db, "SELECT species, frames FROM sightings ORDER BY species")
    assert found == [(labels.labels[0].species, 3), (labels.labels[1].species, 1)], found


def test_a_package_run_with_lat_lon_says_its_deployments_place_the_photos(tmp_path) -> None:
    """A package's deployments place its photos; --lat/--lon given beside it placed none
    without a word (the trial): now one line says so."""
    from fieldtool.photos import photo_sources_from_config
    from tests.photos.conftest import CAMTRAP_EXAMPLE

    lines: list[str] = []
    config = load_config(None, {"source.uri": str(CAMTRAP_EXAMPLE / "datapackage.json"),
                                "position.lat": 51.0, "position.lon": 5.0,
                                "store.db": str(tmp_path / "p.duckdb")})  # fmt: skip
    photo_sources_from_config(config, lines.append)
    [said] = [line for line in lines if "--lat/--lon" in line]
    assert "deployment" in said and "not used" in said, said
    lines.clear()
    plain = load_config(None, {"source.uri": str(CAMTRAP_EXAMPLE / "datapackage.json"),
                               "store.db": str(tmp_path / "p.duckdb")})  # fmt: skip
    photo_sources_from_config(plain, lines.append)
    assert not [line for line in lines if "--lat/--lon" in line]
