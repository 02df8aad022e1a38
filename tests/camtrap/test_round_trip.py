"""A Camtrap DP package run by ``fieldtool run`` and exported again keeps what the package
said: its deployment (camera, period, location and set-up fields), and its own observations
(the people's, as they were, with fieldtool's machine observations beside them; another
tool's too), so a second run of the export decides the same reviews. Where no deployment
period is known (a folder of photos, a package no longer there), the photos' span is
written and ``deploymentComments`` says so."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
from PIL import Image

from fieldtool.camtrap import read_package, validate_package
from fieldtool.camtrap.standard import parse_time
from fieldtool.cli import main
from tests.camtrap.conftest import EXAMPLE, read_csv
from tests.conftest import COLOURS

# What the package says of its one deployment (every value differs from what fieldtool
# would make of the photos): 22 days of camera effort, not the 20 minutes of its photos.
DEPLOYMENT = {
    "deploymentID": "depA", "locationID": "locA", "locationName": "Oak knoll",
    "latitude": "44.5601", "longitude": "-123.2999", "coordinateUncertainty": "10",
    "deploymentStart": "2026-05-20T08:00:00+02:00", "deploymentEnd": "2026-06-10T18:00:00+02:00",
    "setupBy": "Ann Botanist", "cameraID": "camA", "cameraModel": "Browning-X",
    "cameraDelay": "5", "cameraHeight": "1.2", "cameraTilt": "-10", "cameraHeading": "225",
    "detectionDistance": "8.5", "timestampIssues": "false", "baitUse": "false",
    "featureType": "trailGame", "habitat": "Oak savanna", "deploymentGroups": "season:spring",
    "deploymentTags": "site:knoll", "deploymentComments": "strapped to an oak",
}  # fmt: skip
T0 = datetime(2026, 6, 1, 9, 0, 1)  # UTC; 11:00:01 at the camera (+02:00)
# event -> (colour index of its photos, photos): red Acer rubrum, green Quercus alba, blue
# Pinus taeda (the colour classifier's species), ten minutes apart
EVENTS = {"eA": (0, 4), "eB": (1, 4), "eC": (2, 3)}
ANN = "Ann Botanist"


def _local(utc: datetime) -> str:
    return (utc + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def annotated_package(folder: Path) -> Path:
    """The trial's package: one deployment, 11 photos without EXIF in ``media/`` (so a
    photo's camera, read from its folder, is "media") in three events, and event-level
    observations by a person: the colour's species (confirm), another species (relabel),
    a blank (reject)."""
    (folder / "media").mkdir(parents=True)
    media, observations = [], []
    for n, (event, (colour, count)) in enumerate(EVENTS.items()):
        start = T0 + timedelta(minutes=10 * n)
        pixels = np.zeros((48, 64, 3), np.uint8)
        pixels[:] = COLOURS[colour][::-1]  # COLOURS are BGR; Pillow writes RGB
        for i in range(count):
            name = f"IMG_{event[1]}{i + 1}.JPG"
            Image.fromarray(pixels).save(folder / "media" / name, quality=95)
            media.append({
                "mediaID": f"m{event[1]}{i + 1}", "deploymentID": "depA",
                "captureMethod": "activityDetection",
                "timestamp": _local(start + timedelta(seconds=i)), "filePath": f"media/{name}",
                "filePublic": "true", "fileName": name, "fileMediatype": "image/jpeg",
            })  # fmt: skip
        kind, species = {"eA": ("animal", "Acer rubrum"), "eB": ("animal", "Quercus rubra"),
                         "eC": ("blank", "")}[event]  # fmt: skip
        observations.append({
            "observationID": f"o{event[1]}", "deploymentID": "depA", "mediaID": "",
            "eventID": event, "eventStart": _local(start),
            "eventEnd": _local(start + timedelta(seconds=count - 1)),
            "observationLevel": "event", "observationType": kind, "scientificName": species,
            "count": "1" if species else "", "classificationMethod": "human",
            "classifiedBy": ANN, "classificationTimestamp": "2026-06-05T10:00:00Z",
        })  # fmt: skip
    _write(folder / "deployments.csv", [DEPLOYMENT])
    _write(folder / "media.csv", media)
    _write(folder / "observations.csv", observations)
    descriptor = json.loads((EXAMPLE / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"] = descriptor["resources"][:3]
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    return folder


def _run_and_export(tmp_path: Path, package: Path, name: str = "out") -> Path:
    db = tmp_path / f"{name}.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    out = tmp_path / name
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "--out", str(out)]) == 0
    return out


def _instant(text: str) -> datetime:
    return parse_time(text, "test")[0]


def test_the_packages_camera_is_the_deployments_camera(tmp_path, colour_run):
    """Defect 1: cameraID was "media" (the photos' folder), not the package's camA."""
    out = _run_and_export(tmp_path, annotated_package(tmp_path / "pkg"))
    (dep,) = read_csv(out / "deployments.csv")
    assert dep["cameraID"] == "camA"


def test_the_packages_deployment_period_is_kept(tmp_path, colour_run):
    """Defect 2: the period was the first..last photo (20 minutes), not the package's 22
    days of camera effort."""
    out = _run_and_export(tmp_path, annotated_package(tmp_path / "pkg"))
    (dep,) = read_csv(out / "deployments.csv")
    for column in ("deploymentStart", "deploymentEnd"):
        assert _instant(dep[column]) == _instant(DEPLOYMENT[column]), column
    days = _instant(dep["deploymentEnd"]) - _instant(dep["deploymentStart"])
    assert days > timedelta(days=21)


def test_the_packages_deployment_fields_are_kept(tmp_path, colour_run, standard_url):
    """Defect 3: locationID, locationName, cameraModel, cameraHeight, habitat, setupBy, ...
    were dropped. Every column the package gave comes back as it was; the comments keep
    the package's beside fieldtool's."""
    out = _run_and_export(tmp_path, annotated_package(tmp_path / "pkg"))
    (dep,) = read_csv(out / "deployments.csv")
    kept = {k: v for k, v in DEPLOYMENT.items()
            if k not in ("deploymentStart", "deploymentEnd", "deploymentComments")}  # fmt: skip
    assert {k: dep[k] for k in kept} == kept
    assert DEPLOYMENT["deploymentComments"] in dep["deploymentComments"]
    assert "fieldtool session" in dep["deploymentComments"]
    assert validate_package(out, standard_url) == []


def _event_rows(out: Path) -> list[dict[str, str]]:
    return [o for o in read_csv(out / "observations.csv") if o["observationLevel"] == "event"]


def test_the_peoples_observations_are_written_back_as_they_were(tmp_path, colour_run,
                                                                standard_url, capsys):  # fmt: skip
    """Defect 4: the people's blank (a reject) had no event row, and a second run of the
    export found 2 of the package's observations by people, not 3. Their rows come back as
    they were, each event once (no second row for the sighting they decided), beside
    fieldtool's machine (media-level) observations."""
    package = annotated_package(tmp_path / "pkg")
    given = {o["observationID"]: o for o in read_csv(package / "observations.csv")}
    out = _run_and_export(tmp_path, package)
    events = _event_rows(out)
    back = {o["observationID"]: o for o in events}
    assert set(back) == set(given)  # the events the people decided: their rows alone
    for oid, row in given.items():
        got = back[oid]
        for column in ("deploymentID", "eventID", "observationLevel", "observationType",
                       "scientificName", "count", "classificationMethod", "classifiedBy"):
            assert got[column] == row[column], (oid, column)
        for column in ("eventStart", "eventEnd", "classificationTimestamp"):
            assert _instant(got[column]) == _instant(row[column]), (oid, column)
    machine = [o for o in read_csv(out / "observations.csv") if o["observationLevel"] == "media"]
    assert len(machine) == 11 and {o["classificationMethod"] for o in machine} == {"machine"}
    assert validate_package(out, standard_url) == []
    # the export run again: the same three decisions
    capsys.readouterr()
    db = tmp_path / "again.duckdb"
    assert main(["run", str(out), "--db", str(db), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "depA: 3 of the package's observations by people: 1 confirmed, 1 relabelled, " \
        "1 rejected" in err, err
    with duckdb.connect(str(db), read_only=True) as con:
        decided = sorted(con.execute("SELECT decision, species, reviewer FROM reviews")
                         .fetchall())  # fmt: skip
    assert decided == [("confirm", "Acer rubrum", ANN), ("reject", "Pinus taeda", ANN),
                       ("relabel", "Quercus rubra", ANN)]  # fmt: skip


def test_a_later_review_in_fieldtool_is_written_beside_the_peoples(tmp_path, colour_run):
    """The package's row stays as the people wrote it; a review made afterwards in fieldtool
    (newer, so in force) is the sighting's own human row."""
    package = annotated_package(tmp_path / "pkg")
    db = tmp_path / "r.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        (sid,) = con.execute("SELECT sighting_id FROM sightings WHERE species = 'Quercus alba'"
                             ).fetchone()  # fmt: skip
    from fieldtool.store import add_review

    add_review(db, sid, "confirm", reviewer="Bo Checker")
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "--out", str(out)]) == 0
    events = {o["observationID"]: o for o in _event_rows(out)}
    assert {"oA", "oB", "oC", sid} == set(events)
    assert (events[sid]["scientificName"], events[sid]["classifiedBy"]) == ("Quercus alba",
                                                                           "Bo Checker")
    assert events["oB"]["scientificName"] == "Quercus rubra"


def test_the_examples_observations_are_kept_over_a_model_that_does_not_know_them(
    tmp_path, colour_run, standard_url
):
    """Defect 5: the standard's example's Ardea event became a ``blank`` event of a model
    that knows no herons. The package's observations of the photos run come back as they
    were (their media ids those of the exported photos); fieldtool writes no blank over
    them."""
    given = read_package(EXAMPLE)
    run = {m.media_id for m in given.media if m.local}
    assert len(run) == 10
    ours = [o for o in given.observations
            if o.media_id in run or (o.level == "event" and o.event_id == "7245a2aa")]  # fmt: skip
    assert {o.scientific_name for o in ours} == {"Ardea"}
    out = _run_and_export(tmp_path, EXAMPLE)
    rows = {o["observationID"]: o for o in read_csv(out / "observations.csv")}
    for o in ours:
        assert o.observation_id in rows, o.observation_id
        row = rows[o.observation_id]
        assert (row["observationType"], row["scientificName"], row["classifiedBy"]) == (
            o.type, o.scientific_name, o.classified_by)
    # fieldtool's own (its classifier's) are no blank; the package's blanks of its media
    # at URLs (not run, carried through) come back as written
    blanks = [o for o in rows.values() if o["observationType"] == "blank"]
    assert [o for o in blanks if o["classifiedBy"] == "colour-test"] == []
    run = {m["mediaID"] for m in read_csv(out / "media.csv") if not m["filePath"].startswith("http")}
    assert not [o for o in blanks if o["mediaID"] in run]
    media = {m["mediaID"]: m for m in read_csv(out / "media.csv")}
    for o in ours:
        if o.media_id:
            assert o.media_id in media  # a package's media keep their ids
    assert validate_package(out, standard_url) == []


def test_without_a_known_period_the_photos_span_is_said(tmp_path, colour_run):
    """A package gone since the run (and a plain folder) has no deployment period to keep:
    the photos' span is written and deploymentComments says it is that."""
    package = annotated_package(tmp_path / "pkg")
    db = tmp_path / "gone.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    (package / "datapackage.json").unlink()
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "--out", str(out)]) == 0
    (dep,) = read_csv(out / "deployments.csv")
    assert _instant(dep["deploymentStart"]) == T0
    assert "first and last photo" in dep["deploymentComments"]
    assert "package" in dep["deploymentComments"]


def test_a_reviews_note_names_its_observations_and_ids_stay_unique():
    """The export knows a package-decided review by its note; observation ids that meet
    (a fieldtool export run again) are made unique, the first kept."""
    from fieldtool.camtrap.origin import unique_ids
    from fieldtool.camtrap.reviews import noted_observations, package_note

    note = package_note("/data/pkg: 2", ["oB", "oA"])
    assert noted_observations(note) == {"oA", "oB"}
    assert noted_observations("needles visible") == frozenset()
    assert noted_observations(float("nan")) == frozenset()  # no note: NaN in a frame
    rows = unique_ids([{"observationID": i} for i in ("a", "b", "a", "a")])
    assert [r["observationID"] for r in rows] == ["a", "b", "a_2", "a_3"]
