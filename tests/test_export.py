from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from fieldtool.cli import build_parser
from fieldtool.export import (
    ExportFilter,
    dwca_bytes,
    export,
    load_occurrences,
)
from fieldtool.store import SightingStore, add_review
from fieldtool.types import FieldtoolError, Position, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)


def hexid(i: int) -> str:
    return f"{i:032x}"


@pytest.fixture
def db(tmp_path):
    """Two sessions; sightings 1-5 closed (2 unplaced), 6 open; reviews on 2, 3, 4."""
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    for session, day in (("a", 0), ("b", 1)):
        store.record_session(
            SessionInfo(
                session,
                f"walk_{session}.mp4",
                "tiny",
                T0 + timedelta(days=day),
                model_sha256="ab" * 32,
            )  # fmt: skip
        )
        for k in range(10):
            store.record_track(session, T0 + timedelta(days=day, seconds=k), float(k),
                               Position(44.0 + 0.001 * k, -123.0, 6.5, "gpx"))  # fmt: skip
    rows = [  # (id, session, species, day, placed, status)
        (1, "a", "Acer rubrum", 0, True, "closed"),
        (2, "a", "Quercus alba", 0, False, "closed"),
        (3, "a", "Pinus taeda", 0, True, "closed"),
        (4, "b", "Acer rubrum", 1, True, "closed"),
        (5, "b", "Quercus alba", 1, True, "closed"),
        (6, "b", "Pinus taeda", 1, True, "open"),
    ]
    for i, session, species, day, placed, status in rows:
        start = T0 + timedelta(days=day, seconds=i)
        store.record_sighting(Sighting(
            hexid(i), session, species, "name", start, start + timedelta(seconds=2), float(i),
            i + 2.0, frames=6, peak_score=0.91, score_sum=4.8, peak_t=i + 1.0,
            latitude=44.0 + 0.001 * i if placed else None, longitude=-123.0 if placed else None,
            model_id="tiny", status=status,
        ))  # fmt: skip
    store.close()
    add_review(path, hexid(2), "confirm", reviewer="ana")
    add_review(path, hexid(3), "reject", reviewer="ana", note="a shadow")
    add_review(path, hexid(4), "confirm", reviewer="ana")
    add_review(path, hexid(4), "relabel", reviewer="ben", species="Acer saccharum", note="leaf")
    return path


def test_darwin_core_archive_reads_back(db, tmp_path):
    from dwca.darwincore.utils import qualname as qn
    from dwca.read import DwCAReader

    out = tmp_path / "occ.zip"
    assert export(db, "dwca", out, title="Test walks", creator="Ana") == 4  # 3 rejected, 6 open
    with DwCAReader(str(out)) as archive:
        assert archive.descriptor.core.type == "http://rs.tdwg.org/dwc/terms/Occurrence"
        for term in ("occurrenceID", "basisOfRecord", "scientificName", "eventDate",
                     "decimalLatitude", "decimalLongitude", "geodeticDatum",
                     "coordinateUncertaintyInMeters", "identifiedBy", "identificationRemarks"):  # fmt: skip
            assert archive.core_contains_term(qn(term)), term
        rows = {row.id: row.data for row in archive}
        assert archive.metadata.find("dataset/title").text == "Test walks"
        assert archive.metadata.find("dataset/creator/organizationName").text == "Ana"
    assert len(rows) == 4
    by_name = {r[qn("occurrenceID")][-2:]: r for r in rows.values()}
    one, two, four, five = by_name["01"], by_name["02"], by_name["04"], by_name["05"]
    assert one[qn("occurrenceID")] == "urn:uuid:00000000-0000-0000-0000-000000000001"
    assert one[qn("basisOfRecord")] == "MachineObservation"
    assert one[qn("scientificName")] == "Acer rubrum" and one[qn("genus")] == "Acer"
    assert one[qn("eventDate")] == "2026-06-01T09:00:01Z/2026-06-01T09:00:03Z"
    assert one[qn("decimalLatitude")] == "44.001" and one[qn("decimalLongitude")] == "-123"
    assert one[qn("geodeticDatum")] == "WGS84"
    assert one[qn("coordinateUncertaintyInMeters")] == "6.5"  # the track point at the peak
    assert one[qn("identifiedBy")] == "fieldtool model tiny"
    remarks = one[qn("identificationRemarks")]
    assert "tiny" in remarks and "abababab" in remarks and "peak score 0.910" in remarks
    # a camera's record whoever identified it: the review is in identifiedBy
    assert two[qn("basisOfRecord")] == "MachineObservation" and two[qn("identifiedBy")] == "ana"
    assert two[qn("decimalLatitude")] == "" and two[qn("geodeticDatum")] == ""  # unplaced
    assert four[qn("scientificName")] == "Acer saccharum"  # the newest review relabels it
    assert four[qn("identifiedBy")] == "ben" and "predicted Acer rubrum" in four[
        qn("identificationRemarks")]  # fmt: skip
    assert five[qn("basisOfRecord")] == "MachineObservation"


def test_darwin_core_archive_in_memory_matches_the_file(db, tmp_path):
    """The dashboard's download: the same archive, only the sightings it shows."""
    import io
    import zipfile

    export(db, "dwca", tmp_path / "occ.zip", ExportFilter(sighting_ids=[hexid(1), hexid(4)]),
           title=f"fieldtool sightings from {db.name}")  # fmt: skip
    data = dwca_bytes(db, ExportFilter(sighting_ids=[hexid(1), hexid(4)]))
    with zipfile.ZipFile(io.BytesIO(data)) as memory, zipfile.ZipFile(tmp_path / "occ.zip") as f:
        assert sorted(memory.namelist()) == ["eml.xml", "meta.xml", "occurrence.txt"]
        rows = memory.read("occurrence.txt").decode().splitlines()
        assert rows == f.read("occurrence.txt").decode().splitlines() and len(rows) == 3


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        (ExportFilter(), [1, 2, 4, 5]),
        (ExportFilter(session_id="a"), [1, 2]),
        (ExportFilter(species=["Acer saccharum", "Quercus alba"]), [2, 4, 5]),
        (ExportFilter(since=T0 + timedelta(hours=12)), [4, 5]),
        (ExportFilter(until=T0 + timedelta(seconds=1, milliseconds=500)), [1]),
        (ExportFilter(reviewed_only=True), [2, 4]),
        (ExportFilter(sighting_ids=[hexid(5), hexid(3), hexid(6), hexid(1)]), [1, 5]),
        (ExportFilter(sighting_ids=[]), []),
    ],
)
def test_filters(db, filters, ids):
    frame = load_occurrences(db, filters)
    assert frame.sighting_id.tolist() == [hexid(i) for i in ids]


def test_geojson_geoparquet_and_csv_agree(db, tmp_path):
    import geopandas as gpd

    assert export(db, "geojson", tmp_path / "s.geojson") == 4
    assert export(db, "parquet", tmp_path / "s.parquet") == 4
    assert export(db, "csv", tmp_path / "s.csv") == 4
    collection = json.loads((tmp_path / "s.geojson").read_text())
    features = {f["id"]: f for f in collection["features"]}
    assert features[hexid(1)]["geometry"] == {"type": "Point", "coordinates": [-123.0, 44.001]}
    assert features[hexid(2)]["geometry"] is None
    assert features[hexid(4)]["properties"]["species"] == "Acer saccharum"
    assert features[hexid(1)]["properties"]["first_seen"] == "2026-06-01T09:00:01Z"
    # a missing value is null, times too (an unreviewed sighting has no review time)
    unreviewed = [f["properties"] for f in features.values() if f["properties"]["review"] is None]
    assert unreviewed and all(p["reviewed_at"] is None for p in unreviewed)
    frame = gpd.read_parquet(tmp_path / "s.parquet")  # checks the GeoParquet metadata
    assert frame.crs.to_epsg() == 4326 or "CRS84" in frame.crs.to_string()
    assert frame.geometry.iloc[0].x == -123.0 and frame.geometry.iloc[1] is None
    assert str(frame.first_seen.dt.tz) == "UTC"
    table = pd.read_csv(tmp_path / "s.csv", dtype={"sighting_id": str})
    assert table.sighting_id.tolist() == frame.sighting_id.tolist() == list(features)
    assert table.review.tolist()[1] == "confirm"


def test_export_command(db, tmp_path, capsys):
    parser = build_parser()
    out = tmp_path / "a.zip"
    args = parser.parse_args(["export", "--db", str(db), "--format", "dwca", "-o", str(out),
                              "--session", "b", "--since", "2026-06-02T00:00:00+00:00"])  # fmt: skip
    assert args.func(args) == 0 and out.is_file()
    assert "2 sightings written" in capsys.readouterr().err
    bad = parser.parse_args(["export", "--db", str(db), "--format", "csv", "-o", str(out),
                             "--until", "yesterday"])  # fmt: skip
    with pytest.raises(FieldtoolError, match="--until 'yesterday': expected an ISO 8601"):
        args.func(bad)
    with pytest.raises(FieldtoolError, match="nope.duckdb: sightings database not found"):
        export(tmp_path / "nope.duckdb", "csv", out)
    export(db, "csv", tmp_path / "missing" / "x.csv")  # its folder made (-o out/x)
    assert (tmp_path / "missing" / "x.csv").is_file()


def test_export_upgrades_an_old_file(tmp_path):
    from tests.store.test_writer import make_v1_file

    db = tmp_path / "old.duckdb"
    make_v1_file(db)
    frame = load_occurrences(db)
    assert frame.sighting_id.tolist() == ["s1"] and frame.genus.tolist() == ["Acer"]
    # A session from before version 5 always claimed UTC: it keeps that claim.
    assert frame.time_source.tolist() == ["unrecorded"] and frame.time_zone_known.tolist() == [True]


@pytest.fixture
def zones_db(tmp_path):
    """Two sessions: "dji" on a camera's local clock of unknown zone (from its SRT subtitle
    clock), "gopro" in UTC (from GPS time); one reviewed sighting each."""
    path = tmp_path / "zones.duckdb"
    store = SightingStore(path)
    local = datetime(2022, 6, 21, 16, 6, 17)
    store.record_session(SessionInfo("dji", "DJI_0001.MP4", "tiny", T0, time_source="srt-clock",
                                     time_zone=None, time_zone_known=False))  # fmt: skip
    store.record_session(SessionInfo("gopro", "GX010001.MP4", "tiny", T0,
                                     time_source="gpmf-gpsu", time_zone="UTC"))  # fmt: skip
    for i, session, start, seconds in ((1, "dji", local, 23), (2, "gopro", T0, 2)):
        store.record_sighting(Sighting(
            hexid(i), session, "Acer rubrum", "red maple", start,
            start + timedelta(seconds=seconds), 0.0, float(seconds), frames=6, peak_score=0.9,
            score_sum=4.8, peak_t=1.0, latitude=44.0, longitude=-123.0, model_id="tiny",
            status="closed",
        ))  # fmt: skip
    store.close()
    add_review(path, hexid(1), "confirm", reviewer="ana")
    add_review(path, hexid(2), "confirm", reviewer="ana")
    return path


def test_unknown_time_zone_is_never_written_as_utc(zones_db, tmp_path):
    import csv
    import io
    import zipfile

    import pyarrow.parquet as pq

    from fieldtool.export import DWC_TERMS

    export(zones_db, "dwca", tmp_path / "occ.zip")
    with zipfile.ZipFile(tmp_path / "occ.zip") as archive:
        text = archive.read("occurrence.txt").decode()
        meta = archive.read("meta.xml").decode()
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    local, utc = rows  # oldest first: 2022 before 2026
    assert local["eventID"] == "dji" and utc["eventID"] == "gopro"
    assert local["eventDate"] == "2022-06-21T16:06:17/2022-06-21T16:06:40"
    assert "time zone unknown" in local["eventRemarks"] and "srt-clock" in local["eventRemarks"]
    assert "local clock" in local["eventRemarks"]
    assert local["dateIdentified"].endswith("Z")  # the reviewer's clock is the machine's: UTC
    assert utc["eventDate"] == "2026-06-01T09:00:00Z/2026-06-01T09:00:02Z"
    assert "UTC" in utc["eventRemarks"] and "gpmf-gpsu" in utc["eventRemarks"]
    assert "unknown" not in utc["eventRemarks"]
    for i, term in enumerate(DWC_TERMS):  # meta.xml maps every column, eventRemarks included
        assert f'<field index="{i}" term="http://rs.tdwg.org/dwc/terms/{term}"/>' in meta
    assert "eventRemarks" in DWC_TERMS

    export(zones_db, "geojson", tmp_path / "s.geojson")
    features = json.loads((tmp_path / "s.geojson").read_text())["features"]
    local_p, utc_p = (f["properties"] for f in features)
    assert local_p["first_seen"] == "2022-06-21T16:06:17"
    assert local_p["last_seen"] == "2022-06-21T16:06:40"
    assert local_p["time_zone_known"] is False and local_p["time_source"] == "srt-clock"
    assert local_p["reviewed_at"].endswith("Z")
    assert utc_p["first_seen"] == "2026-06-01T09:00:00Z" and utc_p["time_zone_known"] is True

    export(zones_db, "csv", tmp_path / "s.csv")
    table = pd.read_csv(tmp_path / "s.csv", dtype={"sighting_id": str})
    assert table.first_seen.tolist() == ["2022-06-21T16:06:17", "2026-06-01T09:00:00Z"]
    assert table.time_zone_known.tolist() == [False, True]
    assert table.time_source.tolist() == ["srt-clock", "gpmf-gpsu"]
    assert table.reviewed_at.str.endswith("Z").all()

    export(zones_db, "parquet", tmp_path / "s.parquet")
    parquet = pq.read_table(tmp_path / "s.parquet")
    assert parquet.schema.field("first_seen").type.tz == "UTC"  # one type whatever the rows
    assert parquet.schema.field("reviewed_at").type.tz == "UTC"
    assert parquet.schema.field("first_seen_local").type.tz is None
    frame = parquet.to_pandas()
    assert frame.time_zone_known.tolist() == [False, True]
    assert pd.isna(frame.first_seen.iloc[0])  # not claimed UTC: the clock reading is apart
    assert frame.first_seen_local.iloc[0] == pd.Timestamp("2022-06-21T16:06:17")
    assert pd.isna(frame.first_seen_local.iloc[1])


def test_zone_known_only_exports_keep_utc(zones_db, tmp_path):
    import pyarrow.parquet as pq

    export(zones_db, "parquet", tmp_path / "s.parquet", ExportFilter(session_id="gopro"))
    schema = pq.read_schema(tmp_path / "s.parquet")
    assert schema.field("first_seen").type.tz == "UTC"
    assert schema.field("time_zone_known").type == "bool"


def test_writers_import_without_the_command_line():
    import subprocess
    import sys

    code = (
        "import sys;"
        "from fieldtool.export import csv_bytes, geojson_bytes, write_csv, write_dwca, "
        "write_geojson, write_parquet;"
        "loaded = {'argparse', 'streamlit', 'pydeck'} & set(sys.modules); assert not loaded, loaded"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_a_reader_that_must_not_write_refuses_an_old_file(tmp_path):
    from tests.store.test_writer import make_v1_file

    db = tmp_path / "old.duckdb"
    make_v1_file(db)
    before = db.read_bytes()
    with pytest.raises(FieldtoolError, match="older fieldtool"):
        load_occurrences(db, upgrade=False)
    assert db.read_bytes() == before  # not upgraded
