"""A card's export run back and exported again is the same package (trial 12A): a photo
session and a video session exported (the video: a deployment without media rows), the
package run into a new file (``fieldtool run PACKAGE``), exported again. The second export
keeps the package's ``id`` and ``name``, every deployment (the video's too: no session ran
it, its rows come back as the package wrote them, its sighting with them) and every row of
the photos' deployment, its times written in the offset the package gave them
(``-05:00``, not ``Z``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.types import Label, LabelSet
from tests.camtrap.conftest import read_csv
from tests.conftest import ColourClassifier, write_video
from tests.photos.conftest import make_photo

LOCAL0 = datetime(2021, 4, 11, 20, 43, 9)  # the camera's clock, Chicago (CDT, -05:00)
PLACE = ("41.83", "-87.95")
# columns of an observation a run makes again: its id (a sighting's is new in each file)
# and when it was classified are the run's own
RUN_OWN = ("observationID", "classificationTimestamp")


@dataclass
class Trip:
    first: Path  # the card's export
    second: Path  # that package run into a new file, exported
    again: Path  # the package run into another new file
    video_dep: str  # the video session's deploymentID
    log: str  # what the second export said


def _labels() -> LabelSet:
    return LabelSet((Label(0, "Acer rubrum", "red maple"), Label(1, "Quercus alba", "white oak"),
                     Label(2, "Pinus taeda", "loblolly pine"),
                     Label(3, "background", "", is_background=True)))  # fmt: skip


def _card(folder: Path) -> Path:
    """Three sequences of three photos ten minutes apart: red, green, grey (no plant)."""
    photos = folder / "DCIM" / "100RECNX"
    for n, colour in enumerate((0, 1, 3)):
        for i in range(3):
            make_photo(photos / f"RCNX{3 * n + i + 31:04d}.JPG", colour=colour,
                       taken=LOCAL0 + timedelta(minutes=10 * n, seconds=i), make="RECONYX",
                       model="HYPERFIRE 2 COVERT")  # fmt: skip
    return folder


def _export(db: Path, out: Path, *more: str) -> Path:
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "-o", str(out),
                 *more]) == 0  # fmt: skip
    return out


@pytest.fixture(scope="module")
def trip(tmp_path_factory) -> Iterator[Trip]:
    from fieldtool.pipeline import inputs

    tmp = tmp_path_factory.mktemp("trip")
    where = ["--lat", PLACE[0], "--lon", PLACE[1], "--tz", "America/Chicago", "--quiet"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inputs, "classifier_from_config",
                      lambda config, log: ColourClassifier(_labels()))  # fmt: skip
        card = tmp / "card.duckdb"
        assert main(["run", str(_card(tmp / "card07")), "--db", str(card), *where]) == 0
        clip = write_video(tmp / "clip.avi", [(2, 5.0)])  # Pinus taeda, 5 s
        assert main(["run", str(clip), "--db", str(card), "--start-time",
                     "2021-04-11T21:31:00", *where]) == 0  # fmt: skip
        first = _export(card, tmp / "out" / "pkg")
        rt = tmp / "rt.duckdb"
        assert main(["run", str(first), "--db", str(rt), "--quiet"]) == 0
        lines: list[str] = []
        from fieldtool.camtrap.write import write_package

        second = tmp / "out" / "pkg2"
        write_package(rt, second, package_id=None, log=lines.append)
        again_db = tmp / "again.duckdb"
        assert main(["run", str(first), "--db", str(again_db), "--quiet"]) == 0
        (video,) = [d["deploymentID"] for d in read_csv(first / "deployments.csv")
                    if "clip.avi" in d["deploymentComments"]]  # fmt: skip
        yield Trip(first, second, again_db, video, "\n".join(lines))


def _descriptor(out: Path) -> dict[str, object]:
    return dict(json.loads((out / "datapackage.json").read_text(encoding="utf-8")))


def _rows(out: Path, table: str, dep: str, drop: tuple[str, ...] = ()) -> Counter[tuple]:
    return Counter(tuple((k, v) for k, v in row.items() if k not in drop)
                   for row in read_csv(out / f"{table}.csv") if row["deploymentID"] == dep)  # fmt: skip


def test_a_package_read_back_keeps_its_id_and_name(trip: Trip, tmp_path):
    """Defect 1: the id (derived from the new file's earliest session) and the name
    (fieldtool-<file>) changed in a round trip. A filtered export is still another
    dataset, derived from the package's id: the same from any file it was run into."""
    first, second = _descriptor(trip.first), _descriptor(trip.second)
    assert (second["id"], second["name"]) == (first["id"], first["name"])
    # through the command line, as the trial did
    rt = trip.second.parent.parent / "rt.duckdb"
    again = _descriptor(_export(rt, tmp_path / "cli"))
    assert (again["id"], again["name"]) == (first["id"], first["name"])
    species = ("--species", "Acer rubrum")
    one = _descriptor(_export(rt, tmp_path / "f1", *species))["id"]
    other = _descriptor(_export(trip.again, tmp_path / "f2", *species))["id"]
    assert one == other != first["id"]
    pinned = _descriptor(_export(rt, tmp_path / "p", "--dataset-id", "urn:x:1"))["id"]
    assert pinned == "urn:x:1"


def test_a_deployment_no_session_ran_comes_back_whole(trip: Trip):
    """Defect 2: the video session's deployment (no media rows) and its observation were
    dropped from the second export without a word. They come back as the package wrote
    them: the deployment row, its observations (its sighting)."""
    dep = trip.video_dep
    for table in ("deployments", "media", "observations"):
        assert _rows(trip.second, table, dep) == _rows(trip.first, table, dep), table
    (sighting,) = [o for o in read_csv(trip.second / "observations.csv")
                   if o["deploymentID"] == dep]  # fmt: skip
    assert sighting["scientificName"] == "Pinus taeda"
    said = "1 deployment no session of this file ran carried through as the package wrote it"
    assert said in trip.log and f"{dep}: 0 media, 1 observation" in trip.log, trip.log


def test_round_tripped_times_keep_the_packages_offset(trip: Trip):
    """Defect 3: the re-run session's times were written in UTC (``2021-04-12T02:31:10Z``),
    the first export's at ``-05:00``. Every row of the photos' deployment comes back: the
    media as written, the observations the run makes again the same but for their ids and
    classification times, every time at -05:00."""
    (dep,) = [d["deploymentID"] for d in read_csv(trip.first / "deployments.csv")
              if d["deploymentID"] != trip.video_dep]  # fmt: skip
    assert _rows(trip.second, "media", dep) == _rows(trip.first, "media", dep)
    assert _rows(trip.second, "observations", dep, RUN_OWN) == \
        _rows(trip.first, "observations", dep, RUN_OWN)
    comments = ("deploymentComments",)
    assert _rows(trip.second, "deployments", dep, comments) == \
        _rows(trip.first, "deployments", dep, comments)
    starts = [o["eventStart"] for o in read_csv(trip.second / "observations.csv")]
    assert starts and all(s.endswith("-05:00") for s in starts), starts


def test_exports_of_a_round_trip_are_deterministic(trip: Trip, tmp_path):
    """Two exports of one file write the same tables and id (created aside)."""
    rt = trip.second.parent.parent / "rt.duckdb"
    a, b = _export(rt, tmp_path / "a"), _export(rt, tmp_path / "b")
    for table in ("deployments", "media", "observations"):
        assert (a / f"{table}.csv").read_bytes() == (b / f"{table}.csv").read_bytes()
    assert _descriptor(a)["id"] == _descriptor(b)["id"]


def test_filters_keep_what_they_say_of_a_deployment_no_session_ran(trip: Trip, tmp_path):
    """``--until`` before the video leaves its deployment out (nothing of it in the
    window); ``--species`` keeps the deployment and its observations of that species;
    ``--session`` (another session's business) none of it."""
    rt = trip.second.parent.parent / "rt.duckdb"

    def deployments(out: Path) -> set[str]:
        return {d["deploymentID"] for d in read_csv(out / "deployments.csv")}

    early = _export(rt, tmp_path / "early", "--until", "2021-04-12T02:00:00Z")
    assert trip.video_dep not in deployments(early)
    pine = _export(rt, tmp_path / "pine", "--species", "Pinus taeda")
    assert trip.video_dep in deployments(pine)
    assert [o["scientificName"] for o in read_csv(pine / "observations.csv")
            if o["deploymentID"] == trip.video_dep] == ["Pinus taeda"]  # fmt: skip
    oak = _export(rt, tmp_path / "oak", "--species", "Quercus alba")
    assert not [o for o in read_csv(oak / "observations.csv")
                if o["deploymentID"] == trip.video_dep]  # fmt: skip
    import duckdb

    with duckdb.connect(str(rt), read_only=True) as con:
        (session,) = con.execute("SELECT session_id FROM sessions").fetchone() or ("",)
    alone = _export(rt, tmp_path / "alone", "--session", session)
    assert trip.video_dep not in deployments(alone)


def test_a_deployment_id_the_file_holds_already_is_not_reused(trip: Trip, tmp_path, capsys):
    """The package run into the file it was exported from: the video's deploymentID is
    that file's own video session's; the package's copy gets a suffix (a primary key),
    said in its line."""
    import shutil

    from fieldtool.pipeline import inputs

    same = tmp_path / "same.duckdb"
    shutil.copy(trip.second.parent.parent / "card.duckdb", same)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inputs, "classifier_from_config",
                      lambda config, log: ColourClassifier(_labels()))  # fmt: skip
        assert main(["run", str(trip.first), "--db", str(same), "--quiet"]) == 0
    capsys.readouterr()
    out = _export(same, tmp_path / "out")
    ids = [d["deploymentID"] for d in read_csv(out / "deployments.csv")]
    assert len(ids) == len(set(ids)) == 4, ids
    (copy,) = [i for i in ids if i.startswith(f"{trip.video_dep}-")]
    err = capsys.readouterr().err
    assert f"{trip.video_dep} as {copy}, its ID another deployment's" in err, err
    observations = [o["observationID"] for o in read_csv(out / "observations.csv")]
    assert len(observations) == len(set(observations))


def test_a_time_is_written_in_the_offset_of_the_packages_nearest():
    """A package written across a daylight saving change keeps each side's offset."""
    from fieldtool.camtrap.origin import offset_at

    zones = [(datetime(2021, 3, 14, 7), "-06:00"), (datetime(2021, 3, 14, 9), "-05:00")]
    assert offset_at(zones, datetime(2021, 3, 14, 7, 30)) == "-06:00"
    assert offset_at(zones, datetime(2021, 3, 14, 8, 40)) == "-05:00"
    assert offset_at(zones, datetime(2021, 3, 14, 8)) == "-06:00"  # a tie: the earlier
    assert offset_at(zones, datetime(2022, 1, 1)) == "-05:00"
    assert offset_at([], datetime(2022, 1, 1)) is None
