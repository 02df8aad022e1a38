"""The people's observations of an imported Camtrap DP package become reviews of the
sightings they overlap (same deployment, overlapping times): the same species confirms, one
other species relabels, a blank (or a person, a vehicle) rejects; several other species, or
only unknown ones, leave a sighting unreviewed. Machine observations are not reviews."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fieldtool.camtrap import read_package
from fieldtool.camtrap.read import Observation
from fieldtool.camtrap.reviews import Span, reviews_from_observations
from fieldtool.cli import main
from tests.camtrap.test_import_deployments import NORTH, SOUTH, T0, two_deployment_package


def _obs(n: int, dep: str, kind: str, name: str | None, start: datetime, seconds: float = 0.0,
         method: str = "human", by: str = "Ana Ruiz") -> Observation:  # fmt: skip
    return Observation(f"o{n}", dep, None, f"e{n}", start, start + timedelta(seconds=seconds),
                       "event", kind, name, None, method, by,
                       datetime(2026, 7, 1, 12, 0, 0))  # fmt: skip


def _span(sid: str, dep: str, species: str, start: datetime, seconds: float) -> Span:
    return Span(sid, dep, species, start, start + timedelta(seconds=seconds))


def test_each_rule_of_the_decision():
    t = T0
    sightings = [
        _span("same", "a", "Acer rubrum", t, 10),
        _span("other", "a", "Acer rubrum", t + timedelta(minutes=5), 10),
        _span("blank", "a", "Quercus alba", t + timedelta(minutes=10), 10),
        _span("mixed", "a", "Quercus alba", t + timedelta(minutes=15), 10),
        _span("unknown", "a", "Quercus alba", t + timedelta(minutes=20), 10),
        _span("elsewhere", "b", "Quercus alba", t, 10),  # another deployment's camera
        _span("machine", "a", "Quercus alba", t + timedelta(minutes=25), 10),
    ]
    observations = [
        _obs(1, "a", "animal", "Acer rubrum", t + timedelta(seconds=2), 3),
        _obs(2, "a", "animal", "Acer  Rubrum", t + timedelta(minutes=5, seconds=4)),  # spelling
        _obs(3, "a", "animal", "Vulpes vulpes", t + timedelta(minutes=5, seconds=8)),
        _obs(4, "a", "blank", None, t + timedelta(minutes=10)),
        _obs(5, "a", "animal", "Vulpes vulpes", t + timedelta(minutes=15)),
        _obs(6, "a", "animal", "Meles meles", t + timedelta(minutes=15)),
        _obs(7, "a", "unknown", None, t + timedelta(minutes=20)),
        _obs(8, "a", "animal", "Meles meles", t + timedelta(minutes=25), method="machine"),
        _obs(9, "a", "animal", "Sus scrofa", t + timedelta(hours=3)),  # no sighting then
    ]
    found = reviews_from_observations(observations, sightings)
    decided = {r.sighting_id: (r.decision, r.species) for r in found.reviews}
    # "other": the sighting's species is among the people's: confirmed, the fox beside it
    assert decided == {
        "same": ("confirm", "Acer rubrum"),
        "other": ("confirm", "Acer rubrum"),
        "blank": ("reject", "Quercus alba"),
    }
    assert found.ambiguous == ["mixed", "unknown"]  # a person decides
    assert found.unmatched == 1  # o9: nothing sighted then
    (first,) = [r for r in found.reviews if r.sighting_id == "same"]
    assert first.reviewer == "Ana Ruiz" and "o1" in first.note
    assert first.reviewed_at == datetime(2026, 7, 1, 12, 0, 0)
    relabel = reviews_from_observations([_obs(1, "a", "animal", "Vulpes vulpes", t)],
                                        sightings[:1])  # fmt: skip
    assert [(r.decision, r.species) for r in relabel.reviews] == [("relabel", "Vulpes vulpes")]


def add_observations(package: Path, rows: list[dict[str, str]]) -> None:
    path = package / "observations.csv"
    with path.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    header += [c for c in ("scientificName", "classificationMethod", "classifiedBy")
               if c not in header]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)


def observed_event(n: int, dep: str, kind: str, name: str, photos: int, method: str = "human",
           later: timedelta = timedelta(0)):  # fmt: skip
    start, end = T0 + later, T0 + later + timedelta(seconds=photos - 1)
    return {
        "observationID": f"obs-{n}", "deploymentID": dep, "eventID": f"ev-{n}",
        "eventStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventEnd": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "observationLevel": "event",
        "observationType": kind, "scientificName": name, "classificationMethod": method,
        "classifiedBy": "Ana Ruiz",
    }  # fmt: skip


def _reviews(db: Path) -> dict[str, tuple[str, str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT s.source_name, r.decision, r.species, r.reviewer FROM reviews r "
            "JOIN sightings g USING (sighting_id) JOIN sessions s USING (session_id)"
        ).fetchall()
    return {dep: (decision, species, reviewer) for dep, decision, species, reviewer in rows}


def test_a_run_of_an_annotated_package_stores_the_peoples_decisions(tmp_path, colour_run, capsys):
    package = two_deployment_package(tmp_path / "pkg")
    add_observations(package, [
        observed_event(1, NORTH[0], "animal", "Acer rubrum", NORTH[-1]),  # what the colour says
        observed_event(2, SOUTH[0], "animal", "Quercus rubra", SOUTH[-1]),  # the colour says Q. alba
        observed_event(3, SOUTH[0], "animal", "Quercus alba", SOUTH[-1], method="machine"),
        # of photos this run did not read (the package's remote ones): not counted
        observed_event(4, NORTH[0], "animal", "Vulpes vulpes", 2, later=timedelta(hours=2)),
    ])  # fmt: skip
    assert len(read_package(package).observations) == 4
    db = tmp_path / "run.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert _reviews(db) == {
        "dep-north": ("confirm", "Acer rubrum", "Ana Ruiz"),
        "dep-south": ("relabel", "Quercus rubra", "Ana Ruiz"),
    }
    assert "dep-north: 1 of the package's observations by people: 1 confirmed\n" in err
    assert "dep-south: 1 of the package's observations by people: 1 relabelled" in err
    # the export writes the package's observations of the photos run back as they were
    # (the people's, and the other tool's machine one), the sightings they decided not twice
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "--out", str(out)]) == 0
    back = {(o.observation_id, o.deployment_id, o.scientific_name, o.classification_method,
             o.classified_by) for o in read_package(out).observations if o.level == "event"}  # fmt: skip
    assert back == {("obs-1", "dep-north", "Acer rubrum", "human", "Ana Ruiz"),
                    ("obs-2", "dep-south", "Quercus rubra", "human", "Ana Ruiz"),
                    ("obs-3", "dep-south", "Quercus alba", "machine", "Ana Ruiz")}  # fmt: skip
    # asked not to: no reviews
    db2 = tmp_path / "plain.duckdb"
    assert main(["run", str(package), "--db", str(db2), "--quiet", "--no-package-reviews"]) == 0
    assert _reviews(db2) == {}


def test_each_deployments_reviews_are_footage_of_their_own_for_learn(tmp_path, colour_run):
    """Two cameras of one package are different footage: learn's split may hold one
    deployment's reviews out while it learns from the other's (one package path is no
    one file read twice)."""
    from fieldtool.learn.collect import collect, session_groups

    package = two_deployment_package(tmp_path / "pkg")
    add_observations(package, [
        observed_event(1, NORTH[0], "animal", "Acer rubrum", NORTH[-1]),
        observed_event(2, SOUTH[0], "animal", "Quercus alba", SOUTH[-1]),
    ])  # fmt: skip
    db = tmp_path / "run.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    frames, skipped = collect(db)
    assert not skipped and {f.label for f in frames} == {"Acer rubrum", "Quercus alba"}
    groups = session_groups(frames)
    assert len(set(groups.values())) == 2
    # and a rerun of one deployment is the same footage as its first run
    assert main(["run", str(package), "--db", str(db), "--quiet", "--deployment",
                 NORTH[0]]) == 0  # fmt: skip
    assert len(set(session_groups(collect(db)[0]).values())) == 2
