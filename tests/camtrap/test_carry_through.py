"""A package run by fieldtool and exported again keeps the media fieldtool did not classify:
a deployment's videos, a photo that does not decode, a row whose file is a URL come back
as the package wrote them (their files copied into the package, their observations
written back, none of fieldtool's over them); a deployment no session ran comes back whole,
said in one line. A round trip of the export changes no media row."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from fieldtool.camtrap import validate_package
from fieldtool.cli import main
from tests.camtrap.conftest import read_csv
from tests.camtrap.test_round_trip import ANN, T0, _local, annotated_package

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8  # a video's bytes, not run
URL = "https://multimedia.example.org/assets/m-url/file"


def _append(path: Path, rows: list[dict[str, str]]) -> None:
    given = read_csv(path)
    names = list(given[0]) if given else list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(given + [{k: r.get(k, "") for k in names} for r in rows])


def _broken_jpeg() -> bytes:
    """A JPEG cut in half: its header reads, its pixels do not decode."""
    pixels = np.random.default_rng(7).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    return data[: len(data) // 2]


def mixed_package(folder: Path) -> Path:
    """The trial's package (11 photos of depA) plus what fieldtool does not classify: a
    video (with a person's observation of it), a photo that does not decode, a photo at a
    URL (a machine's observation of it)."""
    package = annotated_package(folder)
    (package / "media" / "VID_0001.MP4").write_bytes(VIDEO)
    (package / "media" / "IMG_BAD.JPG").write_bytes(_broken_jpeg())
    common = {"deploymentID": "depA", "captureMethod": "activityDetection",
              "filePublic": "true"}  # fmt: skip
    _append(package / "media.csv", [
        {**common, "mediaID": "mVID", "timestamp": _local(T0 + timedelta(minutes=40)),
         "filePath": "media/VID_0001.MP4", "fileName": "VID_0001.MP4",
         "fileMediatype": "video/mp4"},
        {**common, "mediaID": "mBAD", "timestamp": _local(T0 + timedelta(minutes=45)),
         "filePath": "media/IMG_BAD.JPG", "fileName": "IMG_BAD.JPG",
         "fileMediatype": "image/jpeg"},
        {**common, "mediaID": "mURL", "timestamp": _local(T0 + timedelta(minutes=50)),
         "filePath": URL, "fileName": "RCNX0001.JPG", "fileMediatype": "image/jpeg"},
    ])  # fmt: skip
    _append(package / "observations.csv", [
        {"observationID": "oV", "deploymentID": "depA", "mediaID": "mVID", "eventID": "eV",
         "eventStart": _local(T0 + timedelta(minutes=40)),
         "eventEnd": _local(T0 + timedelta(minutes=40)), "observationLevel": "media",
         "observationType": "animal", "scientificName": "Vulpes vulpes", "count": "1",
         "classificationMethod": "human", "classifiedBy": ANN,
         "classificationTimestamp": "2026-06-05T10:00:00Z"},
        {"observationID": "oU", "deploymentID": "depA", "mediaID": "mURL", "eventID": "eU",
         "eventStart": _local(T0 + timedelta(minutes=50)),
         "eventEnd": _local(T0 + timedelta(minutes=50)), "observationLevel": "media",
         "observationType": "blank", "classificationMethod": "machine",
         "classifiedBy": "another-tool", "classificationTimestamp": "2026-06-05T10:00:00Z"},
    ])  # fmt: skip
    return package


def _run_export(package: Path, db: Path, out: Path) -> Path:
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "-o", str(out)]) == 0
    return out


def test_media_fieldtool_did_not_classify_are_carried_through(tmp_path, colour_run,
                                                              standard_url, capsys):  # fmt: skip
    """The video's, the undecodable photo's and the URL's media rows were dropped without
    a word (and so the person's observation of the video)."""
    package = mixed_package(tmp_path / "pkg")
    given = {m["mediaID"]: m for m in read_csv(package / "media.csv")}
    out = _run_export(package, tmp_path / "a.duckdb", tmp_path / "out")
    media = {m["mediaID"]: m for m in read_csv(out / "media.csv")}
    assert set(media) == set(given)  # every media row of the package, the 11 run and 3 not
    video, bad, url = media["mVID"], media["mBAD"], media["mURL"]
    assert (out / video["filePath"]).read_bytes() == VIDEO
    assert (out / bad["filePath"]).read_bytes() == (package / "media" / "IMG_BAD.JPG").read_bytes()
    assert url["filePath"] == URL
    for mid, row in (("mVID", video), ("mBAD", bad), ("mURL", url)):
        for column in ("timestamp", "fileName", "fileMediatype", "filePublic", "captureMethod"):
            assert row[column] == given[mid][column], (mid, column)
        assert "not classified by fieldtool" in row["mediaComments"], row
    observations = read_csv(out / "observations.csv")
    by_id = {o["observationID"]: o for o in observations}
    assert (by_id["oV"]["mediaID"], by_id["oV"]["scientificName"]) == ("mVID", "Vulpes vulpes")
    assert (by_id["oU"]["mediaID"], by_id["oU"]["classifiedBy"]) == ("mURL", "another-tool")
    ours = [o for o in observations if o["mediaID"] in ("mVID", "mBAD", "mURL")]
    assert {o["observationID"] for o in ours} == {"oV", "oU"}  # none of fieldtool's
    assert validate_package(out, standard_url) == []
    err = capsys.readouterr().err
    (summary,) = [line for line in err.splitlines() if "event observations" in line]
    assert "3 of the packages' media carried through unclassified" in summary, summary
    assert "not exported" not in err


def test_a_round_trip_changes_no_media_row(tmp_path, colour_run):
    """The export run and exported again: the same media rows (ids, paths, names, types;
    the comments said once, not again in each round trip), each file where its row says."""
    out1 = _run_export(mixed_package(tmp_path / "pkg"), tmp_path / "a.duckdb", tmp_path / "o1")
    out2 = _run_export(out1, tmp_path / "b.duckdb", tmp_path / "o2")
    columns = ("mediaID", "deploymentID", "timestamp", "filePath", "fileName", "fileMediatype",
               "mediaComments")  # fmt: skip

    def rows(out: Path) -> list[tuple[str, ...]]:
        return sorted(tuple(m[c] for c in columns) for m in read_csv(out / "media.csv"))

    assert rows(out2) == rows(out1)
    for m in read_csv(out2 / "media.csv"):
        if not m["filePath"].startswith("https://"):
            assert (out2 / m["filePath"]).read_bytes() == (out1 / m["filePath"]).read_bytes()


def test_a_deployment_no_session_ran_comes_back_whole_said_in_one_line(tmp_path, colour_run,
                                                                        capsys, standard_url):  # fmt: skip
    """A deployment of only videos runs in no session. Its media rows were not exported
    (said in one line), its observations lost: now the deployment comes back whole, as
    the package wrote it (its row, its media rows and files, its observations), said in
    one line, and the package still validates."""
    package = mixed_package(tmp_path / "pkg")
    deps = read_csv(package / "deployments.csv")
    _append(package / "deployments.csv", [{**deps[0], "deploymentID": "walk-1"}])
    for k in range(2):
        (package / "media" / f"WALK_{k}.MP4").write_bytes(VIDEO)
    _append(package / "media.csv", [
        {"mediaID": f"w{k}", "deploymentID": "walk-1", "timestamp": _local(T0),
         "filePath": f"media/WALK_{k}.MP4", "filePublic": "true", "fileName": f"WALK_{k}.MP4",
         "fileMediatype": "video/mp4"} for k in range(2)])  # fmt: skip
    _append(package / "observations.csv", [
        {"observationID": "oW", "deploymentID": "walk-1", "mediaID": "w1", "eventID": "eW",
         "eventStart": _local(T0), "eventEnd": _local(T0), "observationLevel": "media",
         "observationType": "animal", "scientificName": "Vulpes vulpes",
         "classificationMethod": "human", "classifiedBy": ANN,
         "classificationTimestamp": "2026-06-05T10:00:00Z"}])  # fmt: skip
    out = _run_export(package, tmp_path / "a.duckdb", tmp_path / "out")
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "no session of this file ran" in line]
    assert len(said) == 1, err
    assert "walk-1: 2 media (2 videos), 1 observation" in said[0], said
    (walk,) = [d for d in read_csv(out / "deployments.csv") if d["deploymentID"] == "walk-1"]
    assert {k: walk[k] for k in deps[0]} == {**deps[0], "deploymentID": "walk-1"}
    media = {m["mediaID"]: m for m in read_csv(out / "media.csv") if m["deploymentID"] == "walk-1"}
    assert set(media) == {"w0", "w1"}
    assert all((out / m["filePath"]).read_bytes() == VIDEO for m in media.values())
    (seen,) = [o for o in read_csv(out / "observations.csv") if o["deploymentID"] == "walk-1"]
    assert (seen["observationID"], seen["mediaID"], seen["scientificName"]) == (
        "oW", "w1", "Vulpes vulpes")
    assert validate_package(out, standard_url) == []
