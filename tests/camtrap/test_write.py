"""``fieldtool export --format camtrap-dp``: what goes where."""

from __future__ import annotations

import argparse
import json

import pytest

from fieldtool.camtrap import write_package
from fieldtool.cli.store import _output_commands
from fieldtool.export import ExportFilter
from fieldtool.store import SightingStore
from fieldtool.types import FieldtoolError, Position, SessionInfo
from tests.camtrap.conftest import EVENTS, REAL_PHOTOS, T0, TRAP, Made, read_csv


def _export(made: Made, out, **kwargs):
    lines: list[str] = []
    n = write_package(made.db, out, log=lines.append, **kwargs)
    return n, lines


def test_deployments_one_per_placed_session(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    _, lines = _export(store_file, out)
    deps = {d["deploymentID"]: d for d in read_csv(out / "deployments.csv")}
    assert set(deps) == {"trap-1", store_file.video_session}  # source_name, else session id
    trap = deps["trap-1"]
    assert (float(trap["latitude"]), float(trap["longitude"])) == pytest.approx(TRAP)
    # The photos' first and last capture, in the session's zone (Brussels, CEST in April).
    assert trap["deploymentStart"] == "2021-04-11T20:43:09+02:00"
    assert trap["deploymentEnd"] == "2021-04-11T20:43:18+02:00"
    assert trap["cameraID"] == "RECONYX HF2 PRO" and trap["timestampIssues"] == "false"
    walk = deps[store_file.video_session]
    # The walk's track: centroid, and the farthest point (~55 m) as the uncertainty.
    assert float(walk["latitude"]) == pytest.approx(44.0005)
    assert 50 <= int(walk["coordinateUncertainty"]) <= 60
    # No photos: the span of its track (2 min) and sightings, in UTC.
    assert (walk["deploymentStart"], walk["deploymentEnd"]) == (
        "2026-06-01T09:00:00Z", "2026-06-01T09:02:00Z")  # fmt: skip
    assert any(store_file.unplaced_session in line and "without a position" in line
               for line in lines)  # fmt: skip


def test_media_rows_are_the_photos_placed_in_the_package(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    _export(store_file, out)
    media = read_csv(out / "media.csv")
    assert len(media) == 10  # one per media row; the video session has none
    for i, row in enumerate(media):
        assert row["deploymentID"] == "trap-1" and row["fileName"] == REAL_PHOTOS[i].name
        assert not row["filePath"].startswith(("/", ".")) and ".." not in row["filePath"]
        assert (out / row["filePath"]).read_bytes() == REAL_PHOTOS[i].read_bytes()
        assert row["fileMediatype"] == "image/jpeg" and row["filePublic"] == "false"
    assert media[0]["timestamp"] == "2021-04-11T20:43:09+02:00"


def test_event_observations_follow_the_reviews(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    n, _ = _export(store_file, out)
    obs = read_csv(out / "observations.csv")
    events = {o["observationID"]: o for o in obs if o["observationLevel"] == "event"}
    assert n == 3 + 0 + 1  # confirmed, machine, relabelled (photos) + the walk's
    rejected = events["s-rejected"]  # the reviewer's word: not Pinus taeda (trial 11g)
    assert (rejected["observationType"], rejected["classificationMethod"]) == ("unknown", "human")
    confirmed = events["s-confirmed"]
    assert confirmed["classificationMethod"] == "human"
    assert confirmed["classifiedBy"] == store_file.reviewer
    assert confirmed["classificationProbability"] == ""  # humans: omitted
    from fieldtool.camtrap.events import derived_id

    assert confirmed["eventID"] == derived_id("trap-1", "trap-1_0")  # stable, not the run's
    assert confirmed["observationType"] == "animal"
    assert confirmed["eventStart"] == "2021-04-11T20:43:09+02:00"
    assert confirmed["classificationTimestamp"].endswith("Z")
    relabelled = events["s-relabelled"]
    assert relabelled["scientificName"] == "Pinus taeda"
    assert relabelled["classificationMethod"] == "human"
    assert "predicted:Acer rubrum" in relabelled["observationTags"]
    machine = events["s-machine"]
    assert machine["classificationMethod"] == "machine"
    assert machine["classifiedBy"] == "colour-test"
    assert float(machine["classificationProbability"]) == pytest.approx(0.6)  # mean score
    assert events["s-video"]["eventID"] == "s-video"  # video: no sequence, the sighting
    # ev3 has no sighting at all: a blank event; ev2 has a (rejected) one: no blank.
    blanks = [o for o in events.values() if o["observationType"] == "blank"]
    assert [b["eventID"] for b in blanks] == [derived_id("trap-1", "trap-1_7")]  # ev3
    assert blanks[0]["eventEnd"] == "2021-04-11T20:43:18+02:00"


def test_media_observations_top_species_above_exit(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    _export(store_file, out)
    media_ids = {m["mediaID"]: int(m["mediaID"].rsplit("_", 1)[1])
                 for m in read_csv(out / "media.csv")}  # fmt: skip
    per_media = [o for o in read_csv(out / "observations.csv") if o["observationLevel"] == "media"]
    assert len(per_media) == 10
    for o in per_media:
        frame = media_ids[o["mediaID"]]
        if frame in EVENTS["ev1"]:  # Acer rubrum 0.8 >= exit 0.3
            assert (o["observationType"], o["scientificName"]) == ("animal", "Acer rubrum")
            assert float(o["classificationProbability"]) == pytest.approx(0.8)
        else:  # the top is the background class; Acer rubrum at 0.05 is below exit
            assert (o["observationType"], o["scientificName"]) == ("blank", "")
        assert o["classificationMethod"] == "machine"


def test_descriptor_names_the_standard_and_the_species(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    _export(store_file, out, title="Trap test", creator="Field Team")
    d = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert d["profile"] == "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/camtrap-dp-profile.json"
    assert [(r["name"], r["path"], r["schema"].rsplit("/", 2)[-2:]) for r in d["resources"]] == [
        ("deployments", "deployments.csv", ["1.0.2", "deployments-table-schema.json"]),
        ("media", "media.csv", ["1.0.2", "media-table-schema.json"]),
        ("observations", "observations.csv", ["1.0.2", "observations-table-schema.json"]),
    ]  # fmt: skip
    assert d["contributors"] == [{"title": "Field Team", "role": "contact"}]
    assert d["project"]["title"] == "Trap test"
    assert sorted(d["project"]["observationLevel"]) == ["event", "media"]
    taxa = {t["scientificName"]: t for t in d["taxonomic"]}
    assert set(taxa) == {"Acer rubrum", "Pinus taeda", "Quercus alba"}
    assert taxa["Quercus alba"]["family"] == "Fagaceae"
    assert taxa["Quercus alba"]["vernacularNames"] == {"eng": "white oak"}
    assert d["temporal"] == {"start": "2021-04-11", "end": "2026-06-01"}
    assert d["spatial"]["type"] == "Polygon"
    assert {lic["scope"] for lic in d["licenses"]} == {"data", "media"}


def test_session_filter_and_species_filter(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    write_package(store_file.db, out, ExportFilter(session_id=store_file.photo_session))
    assert [d["deploymentID"] for d in read_csv(out / "deployments.csv")] == ["trap-1"]
    out2 = tmp_path / "pkg2"
    write_package(store_file.db, out2, ExportFilter(species=["Quercus alba"]))
    events = [o for o in read_csv(out2 / "observations.csv") if o["observationLevel"] == "event"]
    # Only Quercus sightings; no blank events (a species filter says nothing of blanks).
    assert sorted(o["observationID"] for o in events) == ["s-machine", "s-video"]


def test_unknown_zone_is_flagged_as_a_timestamp_issue(tmp_path):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    info = SessionInfo("u" * 32, "cam/", "m", T0, time_zone=None, time_zone_known=False,
                       source_name="local-clock")  # fmt: skip
    store.record_session(info)
    store.record_media(info.session_id, 0, str(REAL_PHOTOS[0]), T0, event_id="e",
                       position=Position(*TRAP))  # fmt: skip
    store.close()
    out = tmp_path / "pkg"
    write_package(db, out)
    dep = read_csv(out / "deployments.csv")[0]
    assert dep["timestampIssues"] == "true" and "time zone unknown" in dep["deploymentComments"]
    # The clock reading as stored (not shifted), the only form the standard allows.
    assert dep["deploymentStart"] == "2021-04-11T18:43:09Z"
    assert read_csv(out / "media.csv")[0]["timestamp"] == "2021-04-11T18:43:09Z"


def test_cli_writes_a_folder(store_file: Made, tmp_path, capsys):
    out = tmp_path / "cli-pkg"
    parser = argparse.ArgumentParser(prog="fieldtool")
    # The export command as the CLI registers it (alone: other commands' flags stay out).
    _output_commands(parser.add_subparsers())
    args = parser.parse_args(["export", "--db", str(store_file.db), "--format",
                                      "camtrap-dp", "-o", str(out), "--license",
                                      "CC0-1.0"])  # fmt: skip
    assert args.func(args) == 0
    assert {p.name for p in out.iterdir()} >= {"datapackage.json", "deployments.csv",
                                                "media.csv", "observations.csv", "media"}  # fmt: skip
    err = capsys.readouterr().err
    assert "4 sightings written" in err and "10 media" in err
    licenses = json.loads((out / "datapackage.json").read_text("utf-8"))["licenses"]
    assert licenses == [{"name": "CC0-1.0", "scope": "data"}, {"name": "CC0-1.0", "scope": "media"}]


def test_refuses_a_folder_of_other_files_and_an_empty_store(store_file: Made, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(FieldtoolError, match="busy: folder holds other files"):
        write_package(store_file.db, busy)
    assert (busy / "notes.txt").read_text() == "mine"
    empty = tmp_path / "e.duckdb"
    SightingStore(empty).close()
    with pytest.raises(FieldtoolError, match="e.duckdb: nothing to export as Camtrap DP"):
        write_package(empty, tmp_path / "none")
    earlier = tmp_path / "earlier"
    write_package(store_file.db, earlier)
    with pytest.raises(FieldtoolError, match="nothing to export"):
        write_package(empty, earlier)
    # The earlier package is whole: every photo its media.csv names is still there.
    assert all((earlier / m["filePath"]).is_file() for m in read_csv(earlier / "media.csv"))


def test_a_second_export_replaces_the_first(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    write_package(store_file.db, out)
    write_package(store_file.db, out, ExportFilter(session_id=store_file.video_session))
    assert len(read_csv(out / "deployments.csv")) == 1
    assert read_csv(out / "media.csv") == []
    assert not (out / "media").exists()  # the first export's photos went with it


def test_refuses_to_replace_a_package_fieldtool_did_not_write(store_file: Made, tmp_path):
    other = tmp_path / "theirs"
    other.mkdir()
    (other / "datapackage.json").write_text('{"resources": []}')
    with pytest.raises(FieldtoolError, match="theirs: holds a data package fieldtool did not"):
        write_package(store_file.db, other)


def test_every_export_of_one_dataset_is_one_package_id(store_file: Made, tmp_path):
    """A re-export is a new version of the same package, not another package: its ``id`` is
    the dataset's (as Darwin Core's packageId), ``--dataset-id`` where given; a filtered
    export is another dataset."""
    from fieldtool.export import export
    from fieldtool.export_dwc import dataset_id

    def package_id(out, **kwargs) -> str:
        export(store_file.db, "camtrap-dp", out, log=lambda _: None, **kwargs)
        return str(json.loads((out / "datapackage.json").read_text())["id"])

    first, again = package_id(tmp_path / "a"), package_id(tmp_path / "b")
    assert first == again == dataset_id(store_file.db)
    assert package_id(tmp_path / "c", dataset_id="urn:uuid:abc") == "urn:uuid:abc"
    only = ExportFilter(session_id=store_file.video_session)
    assert package_id(tmp_path / "d", filters=only) not in (first, "urn:uuid:abc")
