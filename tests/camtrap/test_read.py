"""Reading Camtrap DP: the standard's example, a round trip of an export, a package's
local photos as run input, and bad packages."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest

from fieldtool.camtrap import package_photos, read_package, write_package
from fieldtool.types import FieldtoolError
from tests.camtrap.conftest import EXAMPLE, REAL_PHOTOS, TRAP, Made, read_csv, reconyx_package


def test_the_standards_example():
    pkg = read_package(EXAMPLE)
    assert (len(pkg.deployments), len(pkg.media), len(pkg.observations)) == (4, 423, 549)
    first = pkg.deployment("00a2c20d")
    # 2020-05-30T04:57:37+02:00 in the file: UTC naive, and the offset it was written in.
    assert first.start == datetime(2020, 5, 30, 2, 57, 37) and first.time_zone == "+02:00"
    assert (first.lat, first.lon, first.uncertainty_m) == (51.496, 4.774, 187)
    assert first.camera_id == "320" and first.camera_model == "Reconyx-HF2X"
    media = {m.media_id: m for m in pkg.media}
    assert media["07840dcc"].timestamp == datetime(2020, 5, 30, 2, 57, 37)
    assert isinstance(media["07840dcc"].file_path, str)  # a URL stays a URL
    assert media["07840dcc"].file_path.startswith("https://") and not media["07840dcc"].local
    events = [o for o in pkg.observations if o.level == "event"]
    assert len(events) == 36 and len({o.event_id for o in events}) == 31
    heron = next(o for o in pkg.observations if o.observation_id == "cb30a896")
    assert (heron.scientific_name, heron.classification_probability) == ("Ardea", 0.9)
    assert heron.classification_timestamp == datetime(2021, 7, 5, 11, 43, 57)
    # The file's counts, read independently.
    assert len(pkg.media) == len(read_csv(EXAMPLE / "media.csv"))


def test_round_trip_of_an_export(store_file: Made, tmp_path):
    out = tmp_path / "pkg"
    write_package(store_file.db, out)
    pkg = read_package(out / "datapackage.json")
    written = read_csv(out / "deployments.csv")
    assert [d.deployment_id for d in pkg.deployments] == [d["deploymentID"] for d in written]
    trap = pkg.deployment("trap-1")
    assert (trap.lat, trap.lon) == pytest.approx(TRAP)
    assert trap.start == datetime(2021, 4, 11, 18, 43, 9)  # back to UTC
    assert trap.time_zone == "+02:00"
    assert len(pkg.media) == 10 and all(m.local for m in pkg.media)
    assert {m.file_path.name for m in pkg.media} == {p.name for p in REAL_PHOTOS}  # type: ignore[union-attr]
    species = sorted(o.scientific_name or "" for o in pkg.observations
                     if o.level == "event" and o.type == "animal")  # fmt: skip
    assert species == ["Acer rubrum", "Pinus taeda", "Quercus alba", "Quercus alba"]
    human = {o.observation_id for o in pkg.observations if o.classification_method == "human"}
    assert human == {"s-confirmed", "s-relabelled", "s-rejected"}  # a reject: "unknown"


def test_package_photos_of_the_reconyx_burst(tmp_path):
    pkg = read_package(reconyx_package(tmp_path / "reconyx"))
    photos, deployments = package_photos(pkg)
    assert [p.path.name for p in photos] == [p.name for p in REAL_PHOTOS]  # time order
    assert all(p.path.is_file() and p.path.is_relative_to(tmp_path) for p in photos)
    assert {p.deployment_id for p in photos} == {"dep-1"}
    # The package's times, UTC: 20:43:09+02:00 for the first three photos.
    assert [p.timestamp for p in photos[:4]] == [datetime(2021, 4, 11, 18, 43, 9)] * 3 + [
        datetime(2021, 4, 11, 18, 43, 10)]  # fmt: skip
    (dep,) = deployments
    assert (dep.lat, dep.lon, dep.uncertainty_m) == (TRAP[0], TRAP[1], 10)
    # Every photo falls inside its deployment's interval (both UTC).
    times = {m.media_id: m.timestamp for m in pkg.media}
    assert all(dep.covers(t) for t in times.values())
    assert dep.time_zone == "+02:00"


def test_package_photos_of_the_example_are_its_local_ones():
    """413 of the example's media rows are URLs; 10 point at the JPEGs in media/."""
    pkg = read_package(EXAMPLE)
    photos, deployments = package_photos(pkg)
    assert sorted(p.path.name for p in photos) == [p.name for p in REAL_PHOTOS]
    assert {p.deployment_id for p in photos} == {"62c200a9"} and len(deployments) == 4


def test_package_photos_without_local_files(tmp_path):
    bare = read_package(reconyx_package(tmp_path / "bare", with_files=False))
    with pytest.raises(FieldtoolError) as err:
        package_photos(bare)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'bare' / 'datapackage.json'}: none of its 10 media")
    assert "\n" not in message


def _package(tmp_path: Path) -> Path:
    return reconyx_package(tmp_path / "pkg")


def test_not_json(tmp_path):
    folder = _package(tmp_path)
    (folder / "datapackage.json").write_text('{"resources": [', encoding="utf-8")
    with pytest.raises(FieldtoolError, match=r"pkg/datapackage.json: not JSON \(") as err:
        read_package(folder)
    assert "\n" not in str(err.value)


def test_lacks_a_resource(tmp_path):
    folder = _package(tmp_path)
    descriptor = json.loads((folder / "datapackage.json").read_text("utf-8"))
    descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] != "media"]
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    with pytest.raises(FieldtoolError, match="datapackage.json: no 'media' resource"):
        read_package(folder)


def test_names_a_missing_csv(tmp_path):
    folder = _package(tmp_path)
    (folder / "observations.csv").unlink()
    with pytest.raises(FieldtoolError,
                       match="datapackage.json: resource 'observations' names observations.csv, "
                       "which is not there"):  # fmt: skip
        read_package(folder)


def test_no_descriptor(tmp_path):
    with pytest.raises(FieldtoolError, match="empty: not found"):
        read_package(tmp_path / "empty")


@pytest.mark.parametrize(
    ("column", "value", "expect"),
    [
        ("latitude", "200", "line 2: latitude 200, longitude 4.4123 are not a place"),
        ("latitude", "north", "line 2: latitude 'north' is not a number"),
        ("deploymentStart", "2021-04-11T12:00:00", "line 2: '2021-04-11T12:00:00' has no time "
         "zone designator"),
    ],
)  # fmt: skip
def test_bad_deployment_values(tmp_path, column, value, expect):
    folder = _package(tmp_path)
    path = folder / "deployments.csv"
    rows = read_csv(path)
    rows[0][column] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(FieldtoolError, match=f"deployments.csv {expect}"):
        read_package(folder)


def test_a_csv_without_a_required_column(tmp_path):
    folder = _package(tmp_path)
    (folder / "media.csv").write_text("mediaID,deploymentID\nm0,dep-1\n", encoding="utf-8")
    with pytest.raises(FieldtoolError, match="media.csv: no timestamp, filePath, fileMediatype"):
        read_package(folder)


def test_package_photos_feed_the_photo_source(tmp_path):
    """The photos of a package's deployment, run as photos: placed at the deployment's
    coordinates, timed by the package, one burst = one event."""
    from fieldtool.photos.source import PhotoItem, PhotoSource

    photos, deployments = package_photos(read_package(reconyx_package(tmp_path / "r")))
    source = PhotoSource([PhotoItem(*p) for p in photos], deployments=deployments)
    assert len(source.photos) == 10
    assert {(p.position.lat, p.position.lon) for p in source.photos if p.position} == {TRAP}
    assert all(p.deployment_id == "dep-1" for p in source.photos)
    assert source.photos[0].captured_at == datetime(2021, 4, 11, 18, 43, 9)
    assert len({p.event_id for p in source.photos}) == 1


def test_run_takes_a_package_and_places_its_photos_at_the_deployment(tmp_path, capsys):
    """``fieldtool run PACKAGE``: the package's local photos, placed and timed by it."""
    import duckdb

    from fieldtool.cli import main
    from fieldtool.resources import demo_model

    package = reconyx_package(tmp_path / "r")
    db = tmp_path / "run.duckdb"
    code = main(["run", str(package / "datapackage.json"), "--db", str(db), "--quiet",
                 "--model", str(demo_model())])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "Camtrap DP package, 10 local photos, 1 deployments" in capsys.readouterr().err
    con = duckdb.connect(str(db), read_only=True)
    media = con.execute(
        "SELECT count(*), count(DISTINCT event_id), count(latitude), min(captured_at) FROM media"
    ).fetchone()
    placed = con.execute(  # no EXIF GPS of their own: where the detections are placed
        "SELECT count(*), min(latitude), max(latitude), min(longitude), max(longitude) "
        "FROM detections"
    ).fetchone()
    source_name = con.execute("SELECT source_name FROM sessions").fetchone()
    con.close()
    assert media == (10, 1, 0, datetime(2021, 4, 11, 18, 43, 9))
    assert placed is not None and placed[0] == 10
    assert (placed[1], placed[3]) == TRAP and (placed[2], placed[4]) == TRAP
    assert source_name == ("dep-1",)
