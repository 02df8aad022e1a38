"""A user trial of ``fieldtool export``: ``-o`` into a folder not made yet is made (every
format); a review without a note exports no note (null), not ""; a video dated only by
its DJI SRT file's modification time gets no Darwin Core ``eventDate``, by the same rule
as a photo dated by its file's time."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fieldtool.cli import main
from fieldtool.export import FORMATS, export
from fieldtool.store import SightingStore, add_review
from fieldtool.types import Position, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)
PLACE = (44.0, -123.0)


def _sighting(sid: str, session: str, species: str, start: datetime) -> Sighting:
    return Sighting(sid, session, species, "", start, start + timedelta(seconds=4), 0.0, 4.0,
                    frames=3, peak_score=0.9, score_sum=2.7, peak_t=1.0, model_id="tiny",
                    status="closed", latitude=PLACE[0], longitude=PLACE[1])  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A GoPro walk (dated by its GPS: v1 relabelled without a note, v2 relabelled with
    one) and a DJI flight dated by its SRT file's modification time (d1)."""
    path = tmp_path / "season.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("walk", "/home/ana/field/walk.mp4", "tiny", T0,
                                     time_source="gpmf-gpsu"))  # fmt: skip
    store.record_session(SessionInfo("dji", "/home/ana/field/DJI_0001.MP4", "tiny",
                                     T0 + timedelta(days=1), time_source="srt-file-mtime",
                                     time_zone="UTC", time_zone_known=True))  # fmt: skip
    for k in range(3):  # a track: the walk and the flight are placed
        for session, day in (("walk", 0), ("dji", 1)):
            store.record_track(session, T0 + timedelta(days=day, seconds=k), float(k),
                               Position(*PLACE))  # fmt: skip
    store.record_sighting(_sighting("v1", "walk", "Acer rubrum", T0))
    store.record_sighting(_sighting("v2", "walk", "Acer rubrum", T0 + timedelta(minutes=1)))
    store.record_sighting(_sighting("d1", "dji", "Acer rubrum", T0 + timedelta(days=1)))
    store.close()
    add_review(path, "v1", "relabel", species="Quercus alba", reviewer="ana")  # note ""
    add_review(path, "v2", "relabel", species="Quercus alba", reviewer="ana",
               note="lobed leaves")  # fmt: skip
    return path


def _dwc_rows(zip_path: Path) -> dict[str, dict[str, str]]:
    with zipfile.ZipFile(zip_path) as archive:
        text = archive.read("occurrence.txt").decode()
    rows = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    return {r["eventID"] + "/" + r["occurrenceID"]: r for r in rows}


# -- 3: -o into a folder that does not exist ---------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_makes_the_missing_folders_of_out(db, tmp_path, fmt):
    """``-o out/x`` failed ("folder out does not exist"): the folders are made."""
    out = tmp_path / "new" / "deeper" / ("pkg" if fmt == "camtrap-dp" else f"x.{fmt}")
    assert main(["export", "--db", str(db), "--format", fmt, "-o", str(out)]) == 0
    assert (out / "datapackage.json").is_file() if fmt == "camtrap-dp" else out.is_file()


def test_a_refused_export_makes_no_folder(db, tmp_path, capsys):
    """Refused before anything is written (a licence GBIF does not register): no folder."""
    out = tmp_path / "never" / "x.zip"
    assert main(["export", "--db", str(db), "--format", "dwca", "-o", str(out),
                 "--license", "MIT"]) != 0  # fmt: skip
    assert not (tmp_path / "never").exists()
    assert len([line for line in capsys.readouterr().err.splitlines() if line]) == 1


def test_a_file_where_a_folder_is_needed_is_one_line(db, tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    for fmt, name in (("csv", "x.csv"), ("camtrap-dp", "pkg")):
        assert main(["export", "--db", str(db), "--format", fmt,
                     "-o", str(tmp_path / "taken" / name)]) != 0  # fmt: skip
        err = [line for line in capsys.readouterr().err.splitlines() if line]
        assert len(err) == 1 and "taken" in err[0], err


# -- 4: a review without a note ------------------------------------------------------------


def test_a_review_without_a_note_exports_no_note(db, tmp_path):
    """A relabel without a note exported review_note "" (CSV, GeoJSON, Parquet): no note
    is null, as any other missing value; a note is kept."""
    export(db, "csv", tmp_path / "o.csv", log=lambda _: None)
    with (tmp_path / "o.csv").open(encoding="utf-8", newline="") as handle:
        rows = {r["sighting_id"]: r for r in csv.DictReader(handle)}
    text = (tmp_path / "o.csv").read_text(encoding="utf-8")
    assert rows["v1"]["review_note"] == "" and rows["v2"]["review_note"] == "lobed leaves"
    assert '""' not in text  # written as a missing value, not as an empty string

    export(db, "geojson", tmp_path / "o.geojson", log=lambda _: None)
    features = json.loads((tmp_path / "o.geojson").read_text(encoding="utf-8"))["features"]
    notes = {f["id"]: f["properties"]["review_note"] for f in features}
    assert notes["v1"] is None and notes["v2"] == "lobed leaves"

    export(db, "parquet", tmp_path / "o.parquet", log=lambda _: None)
    table = pq.read_table(tmp_path / "o.parquet").to_pydict()
    notes = dict(zip(table["sighting_id"], table["review_note"], strict=True))
    assert notes["v1"] is None and notes["v2"] == "lobed leaves"


def test_a_review_without_a_note_has_no_note_in_darwin_core(db, tmp_path):
    export(db, "dwca", tmp_path / "o.zip", log=lambda _: None)
    rows = {k.split("/")[1]: r for k, r in _dwc_rows(tmp_path / "o.zip").items()}
    assert rows["v1"]["identificationRemarks"].endswith("relabelled by ana")
    assert rows["v2"]["identificationRemarks"].endswith("relabelled by ana: lobed leaves")


def test_a_whitespace_note_is_no_note(db, tmp_path):
    add_review(db, "v2", "relabel", species="Quercus alba", reviewer="ana", note="  ")
    export(db, "geojson", tmp_path / "o.geojson", log=lambda _: None)
    features = json.loads((tmp_path / "o.geojson").read_text(encoding="utf-8"))["features"]
    assert {f["id"]: f["properties"]["review_note"] for f in features}["v2"] is None


# -- 5: a video dated by its SRT file's modification time ----------------------------------


def test_a_video_dated_by_its_srt_files_time_has_no_event_date(db, tmp_path):
    """A DJI video whose SRT has no date (sessions.time_source srt-file-mtime) was published
    with the SRT file's modification time as eventDate, which a copy of the card resets."""
    said: list[str] = []
    export(db, "dwca", tmp_path / "o.zip", log=said.append)
    rows = {k.split("/")[0]: r for k, r in _dwc_rows(tmp_path / "o.zip").items()
            if not k.endswith("v2")}  # fmt: skip
    assert rows["dji"]["eventDate"] == ""
    assert "SRT file's modification time" in rows["dji"]["eventRemarks"]
    assert "2026-06-02T09:00:00Z" in rows["dji"]["eventRemarks"]  # the time it had, said
    assert rows["walk"]["eventDate"].startswith("2026-06-01T09:00:00Z/")
    (line,) = [s for s in said if "eventDate" in s]
    assert "1 record(s)" in line and "SRT" in line and "--start-time" in line
    with zipfile.ZipFile(tmp_path / "o.zip") as archive:
        eml = archive.read("eml.xml").decode()
    assert "<beginDate><calendarDate>2026-06-01<" in eml
    assert "<endDate><calendarDate>2026-06-01<" in eml  # the flight's day is no coverage


def test_the_guessed_time_rule_is_one_for_both_exports():
    """Darwin Core's undated rows and Camtrap DP's timestampIssues read one table."""
    from fieldtool import export_dwc
    from fieldtool.camtrap import write
    from fieldtool.export_dwc import undated
    from fieldtool.export_rows import GUESSED_TIME_SOURCES

    assert write.GUESSED_TIME_SOURCES is GUESSED_TIME_SOURCES
    # a remark and a warning for each
    assert set(export_dwc._UNDATED_REMARKS) == set(GUESSED_TIME_SOURCES)
    assert set(export_dwc._UNDATED_WARNINGS) == set(GUESSED_TIME_SOURCES)
    for source in GUESSED_TIME_SOURCES:
        assert undated(source) and undated(f"photos: exif-offset, {source}")
    assert not undated("srt-clock") and not undated("photos: exif-offset, exif-zone")
