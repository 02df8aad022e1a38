"""``fieldtool run PACKAGE`` over a Camtrap DP package of several deployments: one session
per deployment (``source_name`` its deploymentID, placed at its own coordinates, timed by
its own photos), sightings that never mix deployments, reruns with and without
``--replace``, and the export that writes the deployments back."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from PIL import Image

from fieldtool.camtrap import read_package
from fieldtool.cli import main
from tests.camtrap.conftest import EXAMPLE
from tests.conftest import COLOURS, ColourClassifier

# (deploymentID, cameraID, lat, lon, UTC offset the package writes, colour index, photos)
NORTH = ("dep-north", "SN01", 44.5601, -123.2999, "-07:00", 0, 4)  # red: Acer rubrum
SOUTH = ("dep-south", "SN02", 44.5500, -123.2800, "Z", 1, 3)  # green: Quercus alba
T0 = datetime(2026, 6, 1, 17, 0, 0)  # UTC: both cameras fire at the same minute


def _stamp(utc: datetime, offset: str) -> str:
    if offset == "Z":
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    hours = int(offset[:3])
    return (utc + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S") + offset


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def two_deployment_package(folder: Path) -> Path:
    """A package as another tool writes it: two cameras about 2 km apart, each in its own
    deployment, photos in ``images/<deploymentID>/`` (small colour JPEGs without EXIF:
    the package times them), one remote media row that cannot run."""
    deployments, media = [], []
    for dep, camera, lat, lon, offset, colour, n in (NORTH, SOUTH):
        (folder / "images" / dep).mkdir(parents=True)
        deployments.append({
            "deploymentID": dep, "latitude": str(lat), "longitude": str(lon),
            "coordinateUncertainty": "30", "deploymentStart": _stamp(T0 - timedelta(hours=1), offset),
            "deploymentEnd": _stamp(T0 + timedelta(hours=2), offset), "cameraID": camera,
            "cameraModel": "TrailCo-TC-1",
        })  # fmt: skip
        pixels = np.zeros((48, 64, 3), np.uint8)
        pixels[:] = COLOURS[colour][::-1]  # COLOURS are BGR; Pillow writes RGB
        for i in range(n):
            name = f"IMG_{i:04d}.JPG"  # the same file names in both folders
            Image.fromarray(pixels).save(folder / "images" / dep / name, quality=95)
            media.append({
                "mediaID": f"{dep}-{i}", "deploymentID": dep, "captureMethod": "activityDetection",
                "timestamp": _stamp(T0 + timedelta(seconds=i), offset),
                "filePath": f"images/{dep}/{name}", "filePublic": "false", "fileName": name,
                "fileMediatype": "image/jpeg",
            })  # fmt: skip
    media.append({**media[-1], "mediaID": "remote-1",
                  "filePath": "https://example.org/media/remote-1.jpg"})  # fmt: skip
    _write(folder / "deployments.csv", deployments)
    _write(folder / "media.csv", media)
    (folder / "observations.csv").write_text(
        "observationID,deploymentID,mediaID,eventID,eventStart,eventEnd,observationLevel,"
        "observationType\n", encoding="utf-8")  # fmt: skip
    descriptor = json.loads((EXAMPLE / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"] = descriptor["resources"][:3]
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    return folder


def _run(package: Path, db: Path, *extra: str) -> None:
    code = main(["run", str(package), "--db", str(db), "--quiet", *extra])
    assert code == 0


def _sessions(db: Path) -> dict[str, tuple[str, str]]:
    """source_name -> (session_id, source) of every session."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT source_name, session_id, source FROM sessions").fetchall()
    assert len({r[0] for r in rows}) == len(rows), rows
    return {r[0]: (r[1], r[2]) for r in rows}


def test_each_deployment_is_its_own_session_and_exported_as_one(tmp_path, colour_run, capsys):
    package = two_deployment_package(tmp_path / "pkg")
    db = tmp_path / "run.duckdb"
    _run(package, db)
    err = capsys.readouterr().err
    sessions = _sessions(db)
    assert set(sessions) == {"dep-north", "dep-south"}
    with duckdb.connect(str(db), read_only=True) as con:
        media = con.execute(
            "SELECT s.source_name, m.path, m.captured_at, session_id, m.event_id FROM media m "
            "JOIN sessions s USING (session_id)").fetchall()  # fmt: skip
        placed = con.execute(
            "SELECT s.source_name, min(d.latitude), max(d.latitude), min(d.longitude), "
            "max(d.longitude), count(*) FROM detections d JOIN sessions s USING (session_id) "
            "GROUP BY ALL").fetchall()  # fmt: skip
        sightings = con.execute(
            "SELECT s.source_name, g.species, session_id, g.event_id, g.first_seen, "
            "g.last_seen, g.latitude, g.longitude FROM sightings g "
            "JOIN sessions s USING (session_id)"
        ).fetchall()
        spans = con.execute(
            "SELECT s.source_name, s.time_source, min(m.captured_at), max(m.captured_at) "
            "FROM sessions s JOIN media m USING (session_id) GROUP BY ALL").fetchall()  # fmt: skip
    # media rows: each photo in the session of its own deployment (its folder says which)
    assert len(media) == NORTH[-1] + SOUTH[-1]
    assert all(Path(path).parent.name == dep for dep, path, *_ in media)
    # detections: at the deployment's own coordinates, never a centroid of both
    where = {dep: (lat, lon) for dep, _, lat, lon, *_ in (NORTH, SOUTH)}
    for dep, lat0, lat1, lon0, lon1, _ in placed:
        assert (lat0, lon0) == (lat1, lon1) == where[dep], dep
    assert {r[0]: r[-1] for r in placed} == {"dep-north": NORTH[-1], "dep-south": SOUTH[-1]}
    # each session spans its own photos' times (UTC, as the package wrote them)
    assert {dep: (lo, hi) for dep, _, lo, hi in spans} == {
        "dep-north": (T0, T0 + timedelta(seconds=NORTH[-1] - 1)),
        "dep-south": (T0, T0 + timedelta(seconds=SOUTH[-1] - 1)),
    }
    # sightings: the red camera's species at the north one, the green's at the south one,
    # each over the photos of one deployment only (its event's: all that camera's burst),
    # within their times and at the deployment's place
    assert {(dep, species) for dep, species, *_ in sightings} == {
        ("dep-north", "Acer rubrum"), ("dep-south", "Quercus alba")}  # fmt: skip
    count = {"dep-north": NORTH[-1], "dep-south": SOUTH[-1]}
    for dep, _, session, event, first, last, lat, lon in sightings:
        photos = [(p, t) for _, p, t, s, e in media if (s, e) == (session, event)]
        assert len(photos) == count[dep] and {Path(p).parent.name for p, _ in photos} == {dep}
        assert (first, last) == (min(t for _, t in photos), max(t for _, t in photos))
        assert (lat, lon) == where[dep]
    # the log: the package's line with the skipped remote row, then a line per deployment
    assert "Camtrap DP package, 7 local photos, 2 deployments" in err
    assert "1 media row skipped: 1 remote (filePath a URL" in err
    north_line = next(line for line in err.splitlines() if "deployment 1 of 2: dep-north" in line)
    assert "4 photos" in north_line and "SN01" in north_line
    assert "deployment 2 of 2: dep-south" in err
    # the export writes both deployments back, each with its own place, photos and species
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "--out", str(out)]) == 0
    back = read_package(out)
    assert {d.deployment_id for d in back.deployments} == {"dep-north", "dep-south"}
    where = {d.deployment_id: (d.lat, d.lon) for d in back.deployments}
    assert where == {dep: (lat, lon) for dep, _, lat, lon, *_ in (NORTH, SOUTH)}
    species = {(o.deployment_id, o.scientific_name) for o in back.observations
               if o.type == "animal"}  # fmt: skip
    assert species == {("dep-north", "Acer rubrum"), ("dep-south", "Quercus alba")}
    media = {m.deployment_id: 0 for m in back.media}
    for m in back.media:
        media[m.deployment_id] += 1
    # the remote row, not run, is carried through as the package wrote it
    assert media == {"dep-north": NORTH[-1], "dep-south": SOUTH[-1] + 1}
    (remote,) = [m for m in back.media if m.media_id == "remote-1"]
    assert remote.file_path == "https://example.org/media/remote-1.jpg"


def test_rerun_and_replace_treat_each_deployment(tmp_path, colour_run, capsys):
    package = two_deployment_package(tmp_path / "pkg")
    db = tmp_path / "run.duckdb"
    _run(package, db)
    first = _sessions(db)
    capsys.readouterr()
    _run(package, db)  # again without --replace: beside the first two, with a warning
    assert "already holds 2 session(s)" in capsys.readouterr().err
    with duckdb.connect(str(db), read_only=True) as con:
        names = sorted(r[0] for r in con.execute("SELECT source_name FROM sessions").fetchall())
    assert names == ["dep-north", "dep-north", "dep-south", "dep-south"]
    _run(package, db, "--replace")  # all four earlier ones go; both new ones stay
    assert "replaced 4 earlier session(s)" in capsys.readouterr().err
    again = _sessions(db)
    assert set(again) == {"dep-north", "dep-south"}
    assert not {sid for sid, _ in again.values()} & {sid for sid, _ in first.values()}
    with duckdb.connect(str(db), read_only=True) as con:
        per_session = dict(con.execute(
            "SELECT session_id, count(*) FROM media GROUP BY ALL").fetchall())  # fmt: skip
    assert per_session == {again["dep-north"][0]: NORTH[-1], again["dep-south"][0]: SOUTH[-1]}


def test_skipped_media_rows_are_counted_by_reason(tmp_path):
    """The standard's example: 413 remote rows beside its 10 local photos; a package's
    video row and a row whose file is not there are counted apart."""
    from fieldtool.camtrap import skipped_line, skipped_media

    assert skipped_media(read_package(EXAMPLE)) == {"remote": 413}
    package = two_deployment_package(tmp_path / "pkg")
    with (package / "media.csv").open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["v1", "dep-north", "activityDetection", "2026-06-01T10:00:00-07:00",
                         "images/dep-north/IMG_0000.JPG", "false", "", "video/mp4"])  # fmt: skip
        writer.writerow(["gone", "dep-south", "activityDetection", "2026-06-01T18:00:00Z",
                         "images/dep-south/IMG_9999.JPG", "false", "", "image/jpeg"])  # fmt: skip
    skipped = skipped_media(read_package(package))
    assert skipped == {"remote": 1, "not photos": 1, "missing": 1}
    line = skipped_line(skipped)
    assert line is not None and line.startswith("3 media rows skipped: 1 remote (filePath a URL")
    assert "1 not photos (" in line and "1 missing (" in line
    assert skipped_line({}) is None


def test_an_interrupted_deployment_stops_the_ones_after_it(tmp_path, monkeypatch, labels, capsys):
    """Ctrl-C during the first deployment: its session is recorded as interrupted, the
    second does not run, the log names it and the exit code is 130."""
    from fieldtool.pipeline import inputs

    class Interrupting(ColourClassifier):
        def predict(self, images, prepared=None):
            raise KeyboardInterrupt

    monkeypatch.setattr(inputs, "classifier_from_config",
                        lambda config, log: Interrupting(labels))  # fmt: skip
    db = tmp_path / "run.duckdb"
    code = main(["run", str(two_deployment_package(tmp_path / "pkg")), "--db", str(db),
                 "--quiet"])  # fmt: skip
    assert code == 130
    assert "deployment(s) not run: dep-south" in capsys.readouterr().err
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT source_name, status FROM sessions").fetchall()
    assert rows == [("dep-north", "interrupted")]


def test_a_deployment_without_a_readable_photo_is_left_out(tmp_path):
    """The other deployment still makes its set; none readable at all is the error."""
    from fieldtool.config import load_config
    from fieldtool.photos import photo_sources_from_config
    from fieldtool.types import FieldtoolError

    package = two_deployment_package(tmp_path / "pkg")
    for photo in (package / "images" / "dep-south").iterdir():
        photo.write_bytes(b"not a JPEG")
    lines: list[str] = []
    config = load_config(None, {"source.uri": str(package)})
    sources = photo_sources_from_config(config, lines.append)
    assert [(s.name, len(s.photos)) for s in sources] == [("dep-north", NORTH[-1])]
    assert any(line.startswith("warning: deployment dep-south left out: ") for line in lines)
    for photo in (package / "images" / "dep-north").iterdir():
        photo.write_bytes(b"not a JPEG")
    with pytest.raises(FieldtoolError, match="none of the 4 photos could be read"):
        photo_sources_from_config(config, lines.append)


def test_deployment_runs_one_and_replace_touches_only_its_sessions(tmp_path, colour_run, capsys):
    """``--deployment ID``: that deployment's session only; ``--replace`` beside it deletes
    that deployment's earlier sessions, never the package's other deployments'."""
    package = two_deployment_package(tmp_path / "pkg")
    db = tmp_path / "run.duckdb"
    _run(package, db)
    first = _sessions(db)
    capsys.readouterr()
    _run(package, db, "--deployment", "dep-south", "--replace")
    err = capsys.readouterr().err
    assert "replaced 1 earlier session(s) of" in err and "[deployment dep-south]" in err
    assert "deployment 1 of 1: dep-south" in err
    again = _sessions(db)
    assert again["dep-north"] == first["dep-north"]  # untouched
    assert again["dep-south"] != first["dep-south"]
    with duckdb.connect(str(db), read_only=True) as con:
        per_session = dict(con.execute(
            "SELECT session_id, count(*) FROM media GROUP BY ALL").fetchall())  # fmt: skip
    assert per_session == {first["dep-north"][0]: NORTH[-1], again["dep-south"][0]: SOUTH[-1]}
    _run(package, db, "--deployment", "dep-north")  # without --replace: warned of its own
    assert "already holds 1 session(s)" in capsys.readouterr().err


def test_an_unknown_deployment_is_a_one_line_error(tmp_path, colour_run, capsys):
    package = two_deployment_package(tmp_path / "pkg")
    db = tmp_path / "run.duckdb"
    assert main(["run", str(package), "--db", str(db), "--deployment", "dep-east"]) == 2
    (err,) = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert "'dep-east'" in err and "dep-north, dep-south" in err
    assert not db.exists() or _sessions(db) == {}
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in (package / "images" / "dep-north").iterdir():
        (photos / src.name).write_bytes(src.read_bytes())
    assert main(["run", str(photos), "--db", str(db), "--deployment", "dep-north"]) == 2
    (err,) = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert "not a Camtrap DP package" in err and str(photos) in err


def test_photos_run_by_a_relative_path_are_found_by_an_export_from_elsewhere(
    tmp_path, colour_run, capsys, monkeypatch
):
    """media.path is where the photo is, whatever folder the run was typed in: an export
    from another folder copies every photo."""
    two_deployment_package(tmp_path / "pkg")
    monkeypatch.chdir(tmp_path)
    _run(Path("pkg"), Path("run.duckdb"))
    elsewhere = tmp_path / "exports"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with duckdb.connect("../run.duckdb", read_only=True) as con:
        paths = [r[0] for r in con.execute("SELECT path FROM media").fetchall()]
    assert len(paths) == NORTH[-1] + SOUTH[-1] and all(Path(p).is_absolute() for p in paths)
    capsys.readouterr()
    assert main(["export", "--db", "../run.duckdb", "--format", "camtrap-dp", "--out",
                 "pkg_out"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "not found" not in err, err
    copied = list((elsewhere / "pkg_out" / "media").rglob("*.JPG"))
    assert len(copied) == NORTH[-1] + SOUTH[-1]
