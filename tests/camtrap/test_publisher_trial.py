"""A data publisher's trial of the Camtrap DP export and import: a rejection survives a
round trip (as a person's ``unknown`` observation naming the rejected species, read back
as a reject); eventIDs are stable across exports and round trips and follow a package's
own events; ``--reviewed-only`` never writes a ``blank`` over a photo the package
classified, nor reuses an observationID for other content; ``cameraModel`` is the EXIF
make-model; ``--license`` is an Open Definition id; ``--since``/``--until`` keep only the
deployments with rows in the window."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from fieldtool.camtrap import read_package, validate_package
from fieldtool.camtrap.reviews import Span, reviews_from_observations
from fieldtool.cli import main
from fieldtool.store import add_review
from fieldtool.types import ReviewDecision
from tests.camtrap.conftest import EXAMPLE, T0, TRAP, read_csv
from tests.camtrap.test_round_trip import annotated_package


def _export(db: Path, out: Path, *extra: str) -> Path:
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "--out", str(out),
                 *extra]) == 0  # fmt: skip
    return out


def _run(package: Path, db: Path, *extra: str) -> Path:
    assert main(["run", str(package), "--db", str(db), "--quiet", *extra]) == 0
    return db


def _rewrite(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# -- 1: rejections ---------------------------------------------------------------------


def test_a_rejected_sighting_is_written_as_the_reviewers_unknown(tmp_path, store_file,
                                                                 standard_url):  # fmt: skip
    """The reject was left out, so a round trip made the machine's sighting anew. It is the
    sighting's observation classified by the reviewer: ``unknown`` (what was recorded is
    not said), the rejected species in observationTags/Comments; read back, a reject."""
    out = _export(store_file.db, tmp_path / "out")
    rows = {o["observationID"]: o for o in read_csv(out / "observations.csv")}
    row = rows["s-rejected"]
    assert (row["observationType"], row["classificationMethod"], row["classifiedBy"],
            row["scientificName"]) == ("unknown", "human", store_file.reviewer, "")  # fmt: skip
    assert "rejected:Pinus taeda" in row["observationTags"].split("|")
    assert "Pinus taeda" in row["observationComments"]
    assert validate_package(out, standard_url) == []
    pkg = read_package(out)
    span = Span("new", row["deploymentID"], "Pinus taeda", T0 + timedelta(seconds=4),
                T0 + timedelta(seconds=6))  # fmt: skip
    found = reviews_from_observations(pkg.observations, [span], str(out))
    assert [(r.decision, r.species, r.reviewer) for r in found.reviews] == [
        (str(ReviewDecision.REJECT), "Pinus taeda", store_file.reviewer)]
    # another species over the same event is not rejected by it
    other = Span("o", row["deploymentID"], "Acer rubrum", span.first_seen, span.last_seen)
    decided = reviews_from_observations(pkg.observations, [other], str(out)).reviews
    assert str(ReviewDecision.REJECT) not in [r.decision for r in decided]


def test_a_rejection_comes_back_after_a_round_trip(tmp_path, colour_run):
    """The trial: a sighting rejected in fieldtool, exported, run and exported again, came
    back as a machine event."""
    package = annotated_package(tmp_path / "pkg")
    rows = [o for o in read_csv(package / "observations.csv") if o["eventID"] != "eA"]
    _rewrite(package / "observations.csv", rows)  # nobody classified eA (Acer rubrum)
    db = _run(package, tmp_path / "a.duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        (sid,) = con.execute("SELECT sighting_id FROM sightings WHERE species = 'Acer rubrum'"
                             ).fetchone()  # fmt: skip
    add_review(db, sid, "reject", reviewer="Bo Checker")
    out1 = _export(db, tmp_path / "out1")
    rt = _run(out1, tmp_path / "rt.duckdb")
    with duckdb.connect(str(rt), read_only=True) as con:
        rejected = con.execute("SELECT species, reviewer FROM reviews WHERE decision = 'reject'"
                               ).fetchall()  # fmt: skip
    assert ("Acer rubrum", "Bo Checker") in rejected
    out2 = _export(rt, tmp_path / "out2")
    events = [o for o in read_csv(out2 / "observations.csv") if o["observationLevel"] == "event"]
    assert not [o for o in events if o["scientificName"] == "Acer rubrum"], events
    said = [o for o in events if "rejected:Acer rubrum" in o["observationTags"]]
    assert [(o["observationType"], o["classifiedBy"]) for o in said] == [("unknown", "Bo Checker")]


def test_observations_of_deployments_without_local_photos_are_said(tmp_path, colour_run,
                                                                    capsys):  # fmt: skip
    """A video deployment's event observations were dropped without a word."""
    package = annotated_package(tmp_path / "pkg")
    deps = read_csv(package / "deployments.csv")
    deps.append({**deps[0], "deploymentID": "walk-1"})
    _rewrite(package / "deployments.csv", deps)
    obs = read_csv(package / "observations.csv")
    obs += [{**obs[0], "observationID": f"w{i}", "deploymentID": "walk-1"} for i in range(2)]
    _rewrite(package / "observations.csv", obs)
    assert main(["run", str(package), "--db", str(tmp_path / "v.duckdb")]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "not taken" in line]
    assert len(said) == 1 and "2 of the package's observations" in said[0], err
    assert "walk-1" in said[0]


# -- 2: event ids ----------------------------------------------------------------------


def _media_events(out: Path) -> dict[str, str]:
    """mediaID -> eventID of fieldtool's own media-level observations."""
    return {o["mediaID"]: o["eventID"] for o in read_csv(out / "observations.csv")
            if o["observationLevel"] == "media" and o["classifiedBy"] == "colour-test"}


def test_event_ids_are_stable_across_exports_and_round_trips(tmp_path, store_file, colour_run):
    """A deployment's photos got a new eventID in each export of a re-imported package."""
    out1 = _export(store_file.db, tmp_path / "out1")
    first = _media_events(out1)
    assert len(set(first.values())) == 3  # the three sequences
    again = _media_events(_export(store_file.db, tmp_path / "again"))
    assert again == first
    out2 = _export(_run(out1, tmp_path / "rt.duckdb"), tmp_path / "out2")
    second = _media_events(out2)
    assert second == {m: first[m] for m in second} and second, (first, second)
    (dep,) = [d for d in read_csv(out2 / "deployments.csv") if d["deploymentID"] == "trap-1"]
    assert "not a known deployment period" in dep["deploymentComments"]
    assert dep["deploymentComments"].count("not a known deployment period") == 1


def test_a_window_cutting_into_a_sequence_keeps_its_event_id(tmp_path, store_file):
    """``--since`` after a sequence's first photo gave the rest of it another eventID than
    a full export (derived from the first photo written, not the sequence's first)."""
    whole = _media_events(_export(store_file.db, tmp_path / "whole"))
    since = (T0 + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # after ev1's first
    cut = _media_events(_export(store_file.db, tmp_path / "cut", "--since", since))
    assert cut and set(cut) < set(whole), (whole, cut)
    assert cut == {m: whole[m] for m in cut}, (whole, cut)


def test_photos_of_a_package_event_keep_its_event_id(tmp_path, colour_run):
    """A photo of the package's event X also got fieldtool's event Y."""
    package = annotated_package(tmp_path / "pkg")
    out = _export(_run(package, tmp_path / "e.duckdb"), tmp_path / "out")
    ours = _media_events(out)
    assert len(ours) == 11
    assert {m: e for m, e in ours.items()} == {m: f"e{m[1]}" for m in ours}, ours


# -- 3: reviewed-only ------------------------------------------------------------------


def test_reviewed_only_writes_no_blank_over_the_packages_photos(tmp_path, colour_run):
    """``--reviewed-only`` wrote fieldtool's blank ``3b185b03_1`` where the unfiltered export
    has the package's Ardea ``3b185b03_1``."""
    db = _run(EXAMPLE, tmp_path / "e.duckdb")
    full = {o["observationID"]: o for o in read_csv(_export(db, tmp_path / "all")
                                                    / "observations.csv")}  # fmt: skip
    some = {o["observationID"]: o for o in read_csv(
        _export(db, tmp_path / "rev", "--reviewed-only") / "observations.csv")}  # fmt: skip
    # none of fieldtool's (the package's own, of its media not run, come back as written)
    assert not [o for o in some.values()
                if o["observationType"] == "blank" and o["classifiedBy"] == "colour-test"]
    for oid in set(full) & set(some):
        for column in ("mediaID", "observationType", "scientificName", "classifiedBy"):
            assert full[oid][column] == some[oid][column], (oid, column)


# -- 4, 5, 6 ---------------------------------------------------------------------------


def test_camera_model_is_the_exif_make_model(tmp_path, colour_run):
    """cameraID was make, model and serial joined (``RECONYX HYPERFIRE 2 COVERT``) and
    cameraModel empty: the standard's cameraModel is ``make-model``, cameraID the device's
    (the standard's example photos write no BodySerialNumber: empty)."""
    where = ["--lat", str(TRAP[0]), "--lon", str(TRAP[1])]  # a folder's photos need a place
    out = _export(_run(EXAMPLE / "media", tmp_path / "f.duckdb", *where), tmp_path / "out")
    (dep,) = read_csv(out / "deployments.csv")
    assert dep["cameraModel"] == "RECONYX-HYPERFIRE 2 COVERT"
    assert dep["cameraID"] == ""  # no serial written: not the make and model again


@pytest.mark.parametrize("name", ["CC-BY-4.0", "CC0-1.0", "ODbL-1.0"])
def test_an_open_definition_license_is_taken(tmp_path, store_file, name):
    out = _export(store_file.db, tmp_path / "out", "--license", name)
    assert '"name": "' + name in (out / "datapackage.json").read_text(encoding="utf-8")


def test_another_license_is_refused_in_one_line(tmp_path, store_file, capsys):
    rc = main(["export", "--db", str(store_file.db), "--format", "camtrap-dp", "--out",
               str(tmp_path / "out"), "--license", "all rights mine"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "all rights mine" in err[0], err
    assert not (tmp_path / "out" / "datapackage.json").exists()


def test_since_keeps_only_deployments_in_the_window(tmp_path, store_file, standard_url):
    """``--since`` left every deployment in (temporal coverage from before the window)."""
    out = _export(store_file.db, tmp_path / "out", "--since", "2026-01-01T00:00:00Z")
    deps = {d["deploymentID"] for d in read_csv(out / "deployments.csv")}
    assert "trap-1" not in deps and deps
    for name in ("media", "observations"):
        assert {r["deploymentID"] for r in read_csv(out / f"{name}.csv")} <= deps
    assert validate_package(out, standard_url) == []


def test_camera_id_is_the_serial_and_a_photo_not_at_hand_keeps_media_camera(tmp_path):
    """cameraID is the BodySerialNumber and cameraModel make-model (the make once); where
    no photo is at hand, or its file now names another camera, None: the export writes
    ``media.camera`` as cameraID."""
    from PIL import Image

    from fieldtool.camtrap.rows import Photo, exif_camera

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Browning", "Browning BTC-8E"
    exif.get_ifd(0x8769)[0xA431] = "SN0042"
    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg", exif=exif)
    camera = "Browning BTC-8E SN0042"  # media.camera as the run wrote it
    photos = [Photo(0, "gone.jpg", None, None, camera), Photo(1, "a.jpg", None, None, camera)]
    assert exif_camera(photos, tmp_path / "f.duckdb") == ("SN0042", "Browning-BTC-8E")
    assert exif_camera(photos[:1], tmp_path / "f.duckdb") is None
    other = [Photo(1, "a.jpg", None, None, "Browning BTC-8E SN0001")]
    assert exif_camera(other, tmp_path / "f.duckdb") is None
