"""``fieldtool run`` on a folder reorganised after it ran (a card's folder renamed, cards moved
into per-site folders): a photo the database already holds counts once, wherever it now
lives, re-tagged or not. ``media.picture_sha256`` knows it by its picture; a row of an
older file (no hash) by reading its old path again, or, its file gone, by file name and
capture time."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from fieldtool.cli import main
from fieldtool.config import DEMO_MODEL
from fieldtool.photos.same import picture_sha256
from fieldtool.store import SCHEMA_VERSION, query
from tests.conftest import ColourClassifier
from tests.photos.conftest import make_photo
from tests.photos.test_photo_copies import retagged

T0 = datetime(2026, 6, 3, 4, 10, 0)
COUNTS = ("SELECT (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM media) AS "
          "media, (SELECT count(DISTINCT parse_filename(path)) FROM media) AS names, "
          "(SELECT count(DISTINCT event_id) FROM media) AS events, (SELECT count(*) FROM "
          "sightings) AS sightings")  # fmt: skip


@pytest.fixture
def colours(monkeypatch, labels) -> None:
    """``run`` classifies by colour (a sighting per event, no model to load)."""
    monkeypatch.setattr("fieldtool.pipeline.inputs.classifier_from_config",
                        lambda config, log: ColourClassifier(labels))  # fmt: skip


def card(folder: Path, start: int = 1) -> Path:
    """A trap's card: two bursts (a fox, then an oak's shade an hour later), EXIF-timed."""
    for n, (colour, at) in enumerate([(1, 0), (1, 2), (2, 3600)], start=start):
        make_photo(folder / "DCIM" / "100RECNX" / f"RCNX{n:04d}.JPG", colour=colour,
                   taken=T0 + timedelta(seconds=at + n), make="RECONYX", model="HF2")  # fmt: skip
    return folder


def run(folder: Path, db: Path, capsys, *more: str) -> tuple[int, list[str]]:
    code = main(["run", str(folder), "--db", str(db), "--tz", "UTC", "--model", str(DEMO_MODEL),
                 "--quiet", *more])  # fmt: skip
    return code, capsys.readouterr().err.splitlines()


def _held(err: list[str]) -> list[str]:
    return [line.removeprefix("fieldtool: ") for line in err if "held in" in line]


def test_a_folder_renamed_after_it_ran_counts_once(tmp_path, capsys, colours) -> None:
    """Defect: ``season/card07`` run, renamed ``season/2026-06_site3_card07`` and run again:
    every photo counted twice (only a warning, by file name and capture time). Its photos
    are not run again, said in one line; a copy with a new photo runs the new one only;
    ``--run-again`` runs them anyway."""
    db = tmp_path / "season.duckdb"
    old = card(tmp_path / "season" / "card07")
    code, err = run(old, db, capsys)
    assert code == 0, err
    before = query(db, COUNTS).iloc[0].to_dict()
    assert before["media"] == 3 and before["events"] == 2 and before["sightings"] == 2
    shas = query(db, "SELECT parse_filename(path) AS name, picture_sha256 FROM media ORDER BY 1")
    assert shas.picture_sha256.tolist() == [picture_sha256(p) for p in sorted(old.rglob("*.JPG"))]

    new = old.rename(tmp_path / "season" / "2026-06_site3_card07")
    code, err = run(new, db, capsys)
    assert code == 0, err
    (line,) = _held(err)
    assert line == (f"{new}: its 3 photo(s) are held in {db} from another path, run before "
                    f"(the same picture) in {old} (3): not run again (each photo counts once; "
                    "--run-again runs them anyway)"), line
    assert query(db, COUNTS).iloc[0].to_dict() == before

    # moved into a per-site folder, with a photo taken since: that photo runs, alone
    site = shutil.copytree(new, tmp_path / "season" / "site3" / "card07")
    make_photo(site / "DCIM" / "100RECNX" / "RCNX0004.JPG", colour=2,
               taken=T0 + timedelta(hours=5), make="RECONYX", model="HF2")  # fmt: skip
    code, err = run(site, db, capsys)
    assert code == 0, err
    (line,) = _held(err)
    assert line == (f"{site}: 3 of its 4 photo(s) are held in {db} from another path, run "
                    f"before (the same picture) in {old} (3): left out (each photo counts once; "
                    "--run-again runs them anyway)"), line
    after = query(db, COUNTS).iloc[0].to_dict()
    assert (after["sessions"], after["media"], after["names"]) == (2, 4, 4)
    assert after["sightings"] == before["sightings"] + 1

    # asked for: run again beside the earlier ones
    code, err = run(new, db, capsys, "--run-again")
    assert code == 0 and not _held(err), err
    assert query(db, COUNTS).iloc[0].media == 7


def _as_version_9(db: Path) -> None:
    """``db`` as fieldtool wrote it before schema 10: media rows without a hash."""
    with duckdb.connect(str(db)) as con:
        con.execute("ALTER TABLE media DROP COLUMN IF EXISTS picture_sha256")
        con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")


def test_an_older_file_without_hashes_still_counts_a_renamed_folder_once(
    tmp_path, capsys, colours
) -> None:
    """A database of schema 9 keeps no photo's hash: upgraded, its rows stay without one. A
    copy of its folder at another path is known by reading the old path again; the folder
    renamed (its old path gone) by file name and capture time (and EXIF camera)."""
    db = tmp_path / "season.duckdb"
    old = card(tmp_path / "season" / "card07")
    code, err = run(old, db, capsys)
    assert code == 0, err
    _as_version_9(db)
    before = query(db, COUNTS).iloc[0].to_dict()

    copy = shutil.copytree(old, tmp_path / "backup" / "card07")
    code, err = run(copy, db, capsys)
    assert code == 0, err
    assert not [x for x in err if "schema upgraded" in x]  # nothing run, nothing written
    (line,) = _held(err)
    assert f"run before (the same picture) in {old} (3): not run again" in line, line

    new = old.rename(tmp_path / "season" / "2026-06_site3_card07")
    # another trap whose counter wrote the same name in the same second: not the same photo
    make_photo(new / "DCIM" / "101BTC" / "RCNX0001.JPG", colour=2, taken=T0 + timedelta(seconds=1),
               make="Browning", model="BTC-8E")  # fmt: skip
    code, err = run(new, db, capsys)
    assert code == 0, err
    (line,) = _held(err)
    assert line == (f"{new}: 3 of its 4 photo(s) are held in {db} from another path, run "
                    f"before (the same file name and capture time) in {old} (3): left out "
                    "(each photo counts once; --run-again runs them anyway)"), line
    assert f"fieldtool: {db}: schema upgraded from version 9 to {SCHEMA_VERSION}" in err
    after = query(db, COUNTS).iloc[0].to_dict()
    assert (after["sessions"], after["media"]) == (before["sessions"] + 1, before["media"] + 1)
    held = query(db, "SELECT picture_sha256 FROM media WHERE session_id IN (SELECT session_id "
                     "FROM sessions WHERE source = ?)", [str(new)])  # fmt: skip
    assert held.picture_sha256.notna().all()  # the new session's photos are hashed


def test_a_retagged_copy_of_a_card_run_before_is_held_by_its_picture(tmp_path, capsys, colours):
    """Defect: ``run season/card07_tagged`` (the card re-tagged: its EXIF rewritten by a
    tagging tool, the same pictures) after ``run season/card07`` counted every photo twice,
    saying nothing (other bytes); the advice once given pointed at the other path
    (``run season/card07 with --replace``: that would run it again and keep the copy)."""
    db = tmp_path / "season.duckdb"
    old = card(tmp_path / "season" / "card07")
    assert run(old, db, capsys)[0] == 0
    before = query(db, COUNTS).iloc[0].to_dict()
    tagged = tmp_path / "season" / "card07_tagged"
    for photo in sorted(old.rglob("*.JPG")):
        retagged(photo, tagged / photo.relative_to(old))
    code, err = run(tagged, db, capsys)
    assert code == 0, err
    (line,) = _held(err)
    assert line == (f"{tagged}: its 3 photo(s) are held in {db} from another path, run before "
                    f"(the same picture) in {old} (3): not run again (each photo counts once; "
                    "--run-again runs them anyway)"), line
    assert not [x for x in err if "--replace" in x], err
    assert query(db, COUNTS).iloc[0].to_dict() == before
