"""What a data publisher needs of the Darwin Core and Parquet exports: a GBIF licence,
photo records worded as photos, kingdom only where known, MachineObservation whatever the
review, no event date from a file's modification time, byte-identical re-exports and stable
Parquet types."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.export import export
from fieldtool.store import SightingStore, add_review
from fieldtool.types import FieldtoolError, Position, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)


def _sighting(sid: str, session: str, species: str, start: datetime, **kw) -> Sighting:
    return Sighting(sid, session, species, "", start, start + timedelta(seconds=4), 0.0, 4.0,
                    frames=3, peak_score=0.9, score_sum=2.7, peak_t=1.0, model_id="tiny",
                    status="closed", latitude=44.0, longitude=-123.0, **kw)  # fmt: skip


@pytest.fixture
def db(tmp_path) -> Path:
    """A video walk (v1 machine, v2 confirmed, v3 relabelled to a heron), a photo folder (p1
    EXIF-dated, p2 dated by its file's modification time) and a session of unknown zone."""
    path = tmp_path / "season.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("walk", "/home/ana/field/walk_west.mp4", "tiny", T0,
                                     time_source="track-start"))  # fmt: skip
    store.record_session(SessionInfo("traps", "/home/ana/field/traps", "tiny", T0,
                                     time_source="photos"))  # fmt: skip
    store.record_session(SessionInfo("dji", "/home/ana/field/dji.mp4", "tiny", T0,
                                     time_source="srt-clock", time_zone=None,
                                     time_zone_known=False))  # fmt: skip
    store.record_species("Acer rubrum", "red maple", "Acer", "Sapindaceae")
    for i, sid in enumerate(("v1", "v2", "v3")):
        store.record_sighting(_sighting(sid, "walk", "Acer rubrum", T0 + timedelta(minutes=i)))
    for k, (sid, source) in enumerate((("p1", "exif-zone"), ("p2", "file-mtime"))):
        when = T0 + timedelta(days=1, hours=k)
        store.record_media("traps", k, f"/home/ana/field/traps/IMG_{k}.JPG", when,
                           event_id=f"e{k}", time_source=source)  # fmt: skip
        store.record_detection("traps", k, float(10 * k), when, Position(44.0, -123.0),
                               (["Acer rubrum"], [0.9]), (["Acer rubrum"], [0.9]))  # fmt: skip
        s = _sighting(sid, "traps", "Acer rubrum", when, event_id=f"e{k}")
        s.first_t = s.last_t = s.peak_t = float(10 * k)
        store.record_sighting(s)
    store.record_sighting(_sighting("u1", "dji", "Acer rubrum", T0 - timedelta(days=400)))
    store.close()
    add_review(path, "v2", "confirm", reviewer="ana")
    add_review(path, "v3", "relabel", reviewer="ben", species="Ardea cinerea")
    return path


def _dwca(db: Path, out: Path, **kw) -> tuple[dict[str, dict[str, str]], str, list[str]]:
    said: list[str] = []
    export(db, "dwca", out, log=said.append, **kw)
    with zipfile.ZipFile(out) as archive:
        text = archive.read("occurrence.txt").decode()
        eml = archive.read("eml.xml").decode()
    rows = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    return {r["occurrenceID"]: r for r in rows}, eml, said


def test_the_archive_carries_a_gbif_licence_and_rights_holder(db, tmp_path):
    rows, eml, _ = _dwca(db, tmp_path / "o.zip", title="Season 2026", license="CC-BY-4.0",
                         rights_holder="Field team")  # fmt: skip
    url = "http://creativecommons.org/licenses/by/4.0/legalcode"
    assert "<intellectualRights>" in eml and url in eml
    assert "Creative Commons Attribution (CC-BY) 4.0" in eml
    for row in rows.values():
        assert row["license"] == url and row["rightsHolder"] == "Field team"
        assert row["datasetName"] == "Season 2026"
    rows, eml, _ = _dwca(db, tmp_path / "o.zip", license="cc0-1.0")
    assert "publicdomain/zero/1.0" in eml and rows["v1"]["license"].endswith("zero/1.0/legalcode")


def test_a_licence_gbif_does_not_register_is_refused_and_none_is_said(db, tmp_path):
    with pytest.raises(FieldtoolError, match="CC-BY-SA-4.0.*CC0-1.0, CC-BY-4.0, CC-BY-NC-4.0"):
        export(db, "dwca", tmp_path / "o.zip", license="CC-BY-SA-4.0")
    assert not (tmp_path / "o.zip").exists()
    rows, eml, said = _dwca(db, tmp_path / "o.zip")
    assert "intellectualRights" not in eml and rows["v1"]["license"] == ""  # none invented
    (line,) = [s for s in said if "GBIF" in s]
    assert "--license" in line and "CC0-1.0" in line


def test_the_command_line_takes_license_rights_holder_and_dataset_id(db, tmp_path):
    from fieldtool.cli import build_parser

    out = tmp_path / "o.zip"
    args = build_parser().parse_args([
        "export", "--db", str(db), "--format", "dwca", "-o", str(out), "--license",
        "CC-BY-NC-4.0", "--rights-holder", "Ana", "--dataset-id", "my-set"])  # fmt: skip
    assert args.func(args) == 0
    with zipfile.ZipFile(out) as archive:
        eml = archive.read("eml.xml").decode()
    assert 'packageId="my-set"' in eml and "by-nc/4.0" in eml


def test_photo_records_say_photos_and_no_local_paths(db, tmp_path):
    rows, eml, _ = _dwca(db, tmp_path / "o.zip")
    assert "video" not in rows["p1"]["samplingProtocol"]
    assert "photo" in rows["p1"]["samplingProtocol"]
    assert "video" not in rows["p1"]["occurrenceRemarks"] and "traps" in rows["p1"][
        "occurrenceRemarks"]  # fmt: skip
    assert "video" in rows["v1"]["samplingProtocol"]
    assert rows["v1"]["occurrenceRemarks"] == "seen 4.0 s of video walk_west.mp4"
    assert all("/home/ana" not in value for r in rows.values() for value in r.values())
    assert "/home/ana" not in eml and "photo" in eml


def test_kingdom_only_for_known_plants_and_family_from_the_labels(db, tmp_path):
    rows, _, _ = _dwca(db, tmp_path / "o.zip")
    assert rows["v1"]["kingdom"] == "Plantae" and rows["v1"]["family"] == "Sapindaceae"
    heron = rows["v3"]
    assert heron["scientificName"] == "Ardea cinerea"
    assert heron["kingdom"] == "" and heron["family"] == ""


def test_a_review_keeps_machine_observation(db, tmp_path):
    rows, _, _ = _dwca(db, tmp_path / "o.zip")
    assert {r["basisOfRecord"] for r in rows.values()} == {"MachineObservation"}
    assert rows["v2"]["identificationVerificationStatus"] == "verified by reviewer"
    assert rows["v2"]["identifiedBy"] == "ana"


def test_a_photo_dated_by_its_files_time_has_no_event_date(db, tmp_path):
    rows, _, said = _dwca(db, tmp_path / "o.zip")
    assert rows["p2"]["eventDate"] == ""
    assert "modification time" in rows["p2"]["eventRemarks"]
    assert rows["p1"]["eventDate"].startswith("2026-06-02T09:00:00Z/")
    assert any("1 record(s)" in s and "eventDate" in s for s in said)


def test_two_exports_of_the_same_data_are_byte_identical(db, tmp_path):
    export(db, "dwca", tmp_path / "a.zip", license="CC0-1.0", log=lambda _: None)
    store = SightingStore(db)  # a later session keeps the dataset's id
    store.record_session(SessionInfo("later", "/x/later.mp4", "tiny", T0 + timedelta(days=9)))
    store.close()
    export(db, "dwca", tmp_path / "b.zip", license="CC0-1.0", log=lambda _: None)
    export(db, "dwca", tmp_path / "c.zip", license="CC0-1.0", log=lambda _: None)
    assert (tmp_path / "b.zip").read_bytes() == (tmp_path / "c.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as a, zipfile.ZipFile(tmp_path / "b.zip") as b:
        assert a.namelist() == sorted(a.namelist())
        assert {i.date_time for i in a.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        ida = a.read("eml.xml").decode().split('packageId="')[1].split('"')[0]
        idb = b.read("eml.xml").decode().split('packageId="')[1].split('"')[0]
    assert ida == idb and len(ida) == 36  # a UUID


def _package_id(archive: Path | bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(archive) if isinstance(archive, bytes) else archive) as z:
        return z.read("eml.xml").decode().split('packageId="')[1].split('"')[0]


def test_a_filtered_export_is_another_dataset_than_the_full_one(db, tmp_path):
    """A --since, --reviewed-only or dashboard (chosen sightings) export had the full
    export's packageId; the full export's id stays as it was; --dataset-id still wins."""
    import uuid

    from fieldtool.export import dwca_bytes
    from fieldtool.export_dwc import DATASET_NS
    from fieldtool.export_rows import ExportFilter

    def exported(name: str, filters: ExportFilter | None = None, **kw: str) -> str:
        export(db, "dwca", tmp_path / name, filters, log=lambda _: None, **kw)
        return _package_id(tmp_path / name)

    whole = exported("all.zip")
    assert whole == str(uuid.uuid5(DATASET_NS, "session:dji"))  # earliest: by start, id
    assert exported("empty.zip", ExportFilter()) == whole  # no filter: the full export
    since = exported("since.zip", ExportFilter(since=T0 + timedelta(days=1)))
    until = exported("until.zip", ExportFilter(until=T0 + timedelta(days=1)))
    reviewed = exported("reviewed.zip", ExportFilter(reviewed_only=True))
    chosen = _package_id(dwca_bytes(db, ExportFilter(sighting_ids=["v1", "v2"])))
    assert len({whole, since, until, reviewed, chosen}) == 5
    assert exported("since2.zip", ExportFilter(since=T0 + timedelta(days=1))) == since
    assert _package_id(dwca_bytes(db, ExportFilter(sighting_ids=["v2", "v1"]))) == chosen
    assert exported("pinned.zip", ExportFilter(reviewed_only=True), dataset_id="mine") == "mine"


def test_temporal_coverage_leaves_out_local_clock_records(db, tmp_path):
    _, eml, _ = _dwca(db, tmp_path / "o.zip")
    assert "<beginDate><calendarDate>2026-06-01<" in eml  # not u1's 2025 local clock
    assert "local" in eml  # says some records are left out of it


def test_parquet_types_are_stable_with_an_unknown_zone_and_empty_columns(db, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fieldtool.export import COLUMNS

    export(db, "parquet", tmp_path / "s.parquet", log=lambda _: None)
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.column_names[: len(COLUMNS) + 1] == [*COLUMNS, "geometry"]
    assert table.column_names[len(COLUMNS) + 1 :] == ["first_seen_local", "last_seen_local"]
    for name in ("first_seen", "last_seen", "reviewed_at"):
        assert table.schema.field(name).type == pa.timestamp("us", tz="UTC"), name
    assert table.schema.field("first_seen_local").type == pa.timestamp("us")
    for name in ("family", "time_zone", "h3_cell", "review_note", "elevation_reference"):
        assert pa.types.is_string(table.schema.field(name).type) or pa.types.is_large_string(
            table.schema.field(name).type), name  # fmt: skip
    frame = table.to_pandas().set_index("sighting_id")
    assert frame.loc["u1", "first_seen"] is None or str(frame.loc["u1", "first_seen"]) == "NaT"
    assert str(frame.loc["u1", "first_seen_local"]) == "2025-04-27 09:00:00"
    assert str(frame.loc["v1", "first_seen_local"]) == "NaT"
    export(db, "parquet", tmp_path / "e.parquet", log=lambda _: None,
           filters=__import__("fieldtool.export", fromlist=["ExportFilter"]).ExportFilter(
               session_id="nope"))  # fmt: skip
    empty = pq.read_schema(tmp_path / "e.parquet")
    assert empty.field("first_seen").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_large_string(empty.field("species").type)


def test_a_gallerys_species_are_no_known_plants(tmp_path):
    """A gallery predicts whatever names its photos were enrolled under (a camera-trap
    user's fox): a species only a gallery predicted gets no kingdom, as one only a reviewer
    named; a model's own species (no gallery) is a plant."""
    path = tmp_path / "g.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("g", "/x/trap.mp4", "gallery", T0,
                                     config_json='{"model": {"gallery": "/x/foxes"}}'))
    store.record_session(SessionInfo("m", "/x/walk.mp4", "tiny", T0,
                                     config_json='{"model": {"gallery": null}}'))
    store.record_sighting(_sighting("f1", "g", "Vulpes vulpes", T0))
    store.record_sighting(_sighting("a1", "m", "Thuja plicata", T0))
    store.close()
    rows, _, _ = _dwca(path, tmp_path / "o.zip")
    assert rows["f1"]["kingdom"] == ""
    assert rows["a1"]["kingdom"] == "Plantae"
