"""Camera-trap cards in ``fieldtool batch``: a card is one unit, as ``fieldtool run CARD``
makes one session of it; a photo already run (the same picture: copied, or re-tagged) is not
run again in another unit of the batch or of a later batch into the same database, and is
left out only in favour of work done (the database's, or a killed run's finished parts)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldtool.photos import expand_photos
from fieldtool.photos.same import picture_sha256
from fieldtool.scale import BatchOptions, run_batch
from fieldtool.scale.copies import next_turn, photos_run_before
from fieldtool.scale.plan import PlanRow, batch_key, find_inputs, with_hash
from fieldtool.sources import source_key
from fieldtool.store import SightingStore, connect, query
from fieldtool.types import SessionInfo, SessionStatus
from tests.photos.conftest import make_photo
from tests.photos.test_photo_copies import retagged
from tests.scale.conftest import demo_config


def _card(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())


def test_a_card_with_sibling_dcf_folders_is_one_unit(tmp_path) -> None:
    """Defect: a unit per DCIM sub-folder (100RECNX, 101RECNX), where ``run CARD`` makes
    one session of the card (a burst across the rollover one event)."""
    season = tmp_path / "season"
    _card(season, "card07/DCIM/100RECNX/RCNX9999.JPG", "card07/DCIM/101RECNX/RCNX0001.JPG",
          "card08/DCIM/100MEDIA/IMG_0001.JPG", "plots/p1.jpg")  # fmt: skip
    rows = find_inputs(str(season))
    assert [(r.path, r.kind) for r in rows] == [
        (str(season / "card07"), "photos"), (str(season / "card08"), "photos"),
        (str(season / "plots"), "photos")]  # fmt: skip
    # the card's DCIM folder given: that folder is the unit (as `run DCIM`), not its parent
    (dcim,) = find_inputs(str(season / "card07" / "DCIM"))
    assert dcim.path == str(season / "card07" / "DCIM")
    # one DCF folder given: that folder
    (one,) = find_inputs(str(season / "card07" / "DCIM" / "100RECNX"))
    assert one.path == str(season / "card07" / "DCIM" / "100RECNX")
    # folders with DCF-like names outside a DCIM folder stay units of their own
    _card(tmp_path / "loose", "100RECNX/a.JPG", "101RECNX/b.JPG")
    assert [r.path for r in find_inputs(str(tmp_path / "loose"))] == [
        str(tmp_path / "loose" / "100RECNX"), str(tmp_path / "loose" / "101RECNX")]  # fmt: skip


T0 = datetime(2021, 5, 31, 9, 0, 0)
PLACE = {"position.lat": 51.18, "position.lon": 5.65, "model.batch_size": 4,
         "store.snapshots": False}  # fmt: skip
COUNTS = ("SELECT (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM media) AS "
          "media, (SELECT count(DISTINCT parse_filename(path)) FROM media) AS names, "
          "(SELECT count(DISTINCT event_id) FROM media) AS events, (SELECT count(*) FROM "
          "sightings) AS sightings")  # fmt: skip


def trap_card(card: Path, names: range = range(1, 7), start: int = 9996) -> Path:
    """A Reconyx card: photos ``RCNX<start + n>`` a second apart, the first ones in
    ``DCIM/100RECNX`` and from ``RCNX10000`` on in ``101RECNX`` (the folder's rollover: one
    burst across it)."""
    for n in names:
        number = start + n
        folder = "100RECNX" if number < 10000 else "101RECNX"
        make_photo(card / "DCIM" / folder / f"RCNX{number % 10000:04d}.JPG", colour=n % 3,
                   taken=T0 + timedelta(seconds=n), make="RECONYX", model="HYPERFIRE 2")  # fmt: skip
    return card


def _lines(say: list[str], word: str) -> list[str]:
    return [line for line in say if word in line]


def test_a_card_copied_twice_into_the_season_counts_once(ray_local, tmp_path) -> None:
    """Defect: ``season/card07`` and ``season/card07_copy`` (a card copied in twice) were
    two units keyed by their paths: every photo ran twice, sightings and events doubled.
    The copy is not run; a later copy of the card with more photos runs those only; a
    rerun with nothing changed runs nothing, saying so in one line."""
    season = tmp_path / "season"
    card = trap_card(season / "card07")
    shutil.copytree(card, season / "card07_copy")
    db = tmp_path / "season.duckdb"
    config = demo_config(db, **PLACE)
    said: list[str] = []
    first = run_batch(str(season), db, config, log=said.append)
    assert [f.path for f in first.done] == [str(card)] and not first.failed
    counts = query(db, COUNTS).iloc[0].to_dict()
    assert counts["sessions"] == 1 and counts["media"] == 6 and counts["names"] == 6
    assert counts["events"] == 1  # one burst across 100RECNX/101RECNX: one event
    (line,) = _lines(said, "were run before")
    assert line == (f"batch: {season / 'card07_copy'}: its 6 photo(s) were run before (the "
                    f"same picture) in {card} (6): not run again"), line
    assert "1 with every photo run before" in first.lines()[0], first.lines()
    rows = query(db, "SELECT path, status, coalesce(identical_to, '') FROM batch_files "
                     "ORDER BY path")  # fmt: skip
    assert rows.values.tolist() == [[str(card), "done", ""],
                                    [str(season / "card07_copy"), "identical", str(card)]]  # fmt: skip

    # the card copied again after more photos: its new photos run, the others not again
    later = shutil.copytree(card, season / "card07_2021-06")
    trap_card(later, range(7, 9))
    said.clear()
    second = run_batch(str(season), db, config, log=said.append)
    assert [f.path for f in second.done] == [str(later)] and second.skipped == [str(card)]
    (line,) = [x for x in _lines(said, "were run before") if "card07_2021-06" in x]
    assert line == (f"batch: {later}: 6 of its 8 photo(s) were run before (the same picture) "
                    f"in {card} (6): left out, its 2 other photo(s) run"), line
    counts = query(db, COUNTS).iloc[0].to_dict()
    assert counts["sessions"] == 2 and counts["media"] == 8 and counts["names"] == 8

    # nothing changed: nothing runs, each copy said in one line
    said.clear()
    third = run_batch(str(season), db, config, log=said.append)
    assert not third.done and sorted(third.skipped) == [str(card), str(later)]
    assert len(_lines(said, "were run before")) == 1
    assert query(db, COUNTS).iloc[0].to_dict() == counts


def test_a_card_batched_per_dcf_folder_before_is_not_run_again_as_one_card(
    ray_local, tmp_path
) -> None:
    """A batch before this change made a unit of each DCF folder of a card (as a manifest
    naming them does); the card is one unit now (another key): its photos, all run before,
    are not run again, said in one line; sightings are not doubled."""
    season = tmp_path / "season"
    card = trap_card(season / "card07")
    db = tmp_path / "season.duckdb"
    config = demo_config(db, **PLACE)
    manifest = tmp_path / "earlier.csv"
    manifest.write_text("path\nseason/card07/DCIM/100RECNX\nseason/card07/DCIM/101RECNX\n")
    earlier = run_batch(str(manifest), db, config, log=lambda line: None)
    assert len(earlier.done) == 2
    before = query(db, COUNTS).iloc[0].to_dict()
    assert before["sessions"] == 2 and before["media"] == 6
    said: list[str] = []
    again = run_batch(str(season), db, config, log=said.append)
    assert not again.done and not again.failed
    (line,) = _lines(said, "were run before")
    assert line.startswith(f"batch: {card}: its 6 photo(s) were run before (the same picture) in "
                           f"{card / 'DCIM' / '100RECNX'} (3), "), line
    assert line.endswith(f"{card / 'DCIM' / '101RECNX'} (3): not run again"), line
    assert query(db, COUNTS).iloc[0].to_dict() == before


def _session(db: Path, session_id: str, folder: Path, at: datetime, hashed: bool = False) -> None:
    """A finished session of ``folder``'s photos in ``db`` (as ``run FOLDER`` leaves it;
    ``hashed``: with each photo's picture hash, as since schema 10)."""
    store = SightingStore(db)
    store.record_session(SessionInfo(session_id, source_key(str(folder)), "m", at,
                                     status=SessionStatus.FINISHED))  # fmt: skip
    for n, photo in enumerate(expand_photos(str(folder))):
        store.record_media(session_id, n, source_key(str(photo)), T0, camera="RECONYX",
                           picture_sha256=picture_sha256(photo) if hashed else None)  # fmt: skip
    store.close()


def _batch_row(db: Path, key: str, path: Path, session_id: str) -> None:
    with connect(db, read_only=False) as con:
        con.execute("INSERT INTO batch_files VALUES (?, ?, 'c', 's', 'done', NULL, ?, ?, NULL)",
                    [key, str(path), session_id, T0])  # fmt: skip


def _hashed(*folders: Path) -> list[dict[str, Any]]:
    return [with_hash(PlanRow(str(f), kind="photos").as_row(), "settings") for f in folders]


def test_photos_a_database_holds_from_another_input_are_found_by_their_pictures(
    tmp_path, monkeypatch
) -> None:
    """A card batched (or run) into the database from elsewhere, then a copy of it with a
    new photo: only the new photo is left to run. A photo at that other path (a row
    without a hash) is read only where its name and size are a photo's of the batch (RCNX
    photos are on every card)."""
    from fieldtool.scale import copies

    elsewhere = trap_card(tmp_path / "backup" / "card07", range(1, 4))
    db = tmp_path / "s.duckdb"
    _session(db, "s-backup", elsewhere, datetime(2021, 6, 1))
    season = tmp_path / "season"
    copy = shutil.copytree(elsewhere, season / "card07_copy")
    trap_card(copy, range(4, 5))
    # another card's photo of the same name, other bytes and size: not read
    make_photo(season / "card08" / "DCIM" / "100RECNX" / "RCNX9997.JPG", taken=T0,
               size=(80, 60), make="RECONYX", model="HYPERFIRE 2")  # fmt: skip
    hashed = _hashed(copy, season / "card08")
    read: list[str] = []
    real = copies.picture_sha256

    def counted(path: str) -> str:
        read.append(path)
        return real(path)

    monkeypatch.setattr(copies, "picture_sha256", counted)
    found = photos_run_before(db, hashed, hashed)
    assert sorted(Path(p).name for p in read) == ["RCNX9997.JPG", "RCNX9998.JPG", "RCNX9999.JPG"]
    assert all(str(elsewhere) in p for p in read)
    assert list(found) == [hashed[0]["batch_key"]]
    unit = found[hashed[0]["batch_key"]]
    assert unit.total == 4 and not unit.none_left and not unit.waits_for
    assert sorted(Path(p).name for p in unit.left_out) == [
        "RCNX9997.JPG", "RCNX9998.JPG", "RCNX9999.JPG"]  # fmt: skip
    assert set(unit.left_out.values()) == {source_key(str(elsewhere))}
    assert unit.line().endswith("(3): left out, its 1 other photo(s) run"), unit.line()


def _paths(rows: list[dict[str, Any]]) -> list[str]:
    return [r["path"] for r in rows]


def test_a_unit_run_before_at_its_own_path_keeps_its_photos(tmp_path) -> None:
    """``season/b`` was batched; it changed (a photo added) and runs again, replacing its
    session; ``season/a``, a copy of its photos, comes first by path but is the copy: it
    waits for b's outcome, and then leaves out what b ran."""
    season = tmp_path / "season"
    b = trap_card(season / "b", range(1, 3))
    a = shutil.copytree(b, season / "a")
    db = tmp_path / "s.duckdb"
    _session(db, "s-b", b, datetime(2021, 6, 1))
    _batch_row(db, "old-key", b, "s-b")
    trap_card(b, range(3, 4))
    hashed = _hashed(a, b)
    turn = next_turn(db, hashed, hashed)
    assert _paths(turn.run) == [str(b)] and _paths(turn.waiting) == [str(a)]
    assert json.loads(turn.run[0]["leave_out"]) == {} and not turn.copies and not turn.lines()
    # b ran: its new session replaced s-b; a's photos are all b's
    with connect(db, read_only=False) as con:
        con.execute("DELETE FROM media; DELETE FROM sessions; DELETE FROM batch_files")
    _session(db, "s-b2", b, datetime(2021, 7, 1), hashed=True)
    _batch_row(db, hashed[1]["batch_key"], b, "s-b2")
    after = next_turn(db, hashed, turn.waiting)
    assert not after.run and not after.waiting and [c.name for c in after.copies] == [str(a)]
    assert after.lines() == [f"{a}: its 2 photo(s) were run before (the same picture) in {b} "
                             "(2): not run again"], after.lines()


def test_a_retagged_copy_in_another_unit_or_in_the_database_counts_once(tmp_path) -> None:
    """Defect: a card re-tagged (its EXIF rewritten by a tagging tool, the same pictures) in
    another unit of a batch, or already in the database, counted twice, silently: a photo
    was told by its file's bytes."""
    season = tmp_path / "season"
    card = trap_card(season / "card07", range(1, 4))
    tagged = season / "card07_tagged"
    for photo in sorted(card.rglob("*.JPG")):
        retagged(photo, tagged / photo.relative_to(card))
    trap_card(tagged, range(4, 5))  # and a photo of its own
    hashed = _hashed(card, tagged)
    db = tmp_path / "s.duckdb"
    turn = next_turn(db, hashed, hashed)
    assert _paths(turn.run) == [str(card)] and _paths(turn.waiting) == [str(tagged)]
    _session(db, "s-card", card, datetime(2021, 6, 1), hashed=True)  # card07 ran
    after = next_turn(db, hashed, turn.waiting)
    assert _paths(after.run) == [str(tagged)] and not after.waiting
    left = json.loads(after.run[0]["leave_out"])
    assert sorted(Path(p).name for p in left) == ["RCNX9997.JPG", "RCNX9998.JPG", "RCNX9999.JPG"]
    assert after.lines() == [f"{tagged}: 3 of its 4 photo(s) were run before (the same "
                             f"picture) in {card} (3): left out, its 1 other photo(s) run"]


def test_a_killed_batch_resumed_runs_every_photo_once(ray_local, tmp_path) -> None:
    """Defect: a killed batch's finished part counted every photo of its unit as run, those
    it had left out for another unit too; resumed, that unit left them out as well and no
    session held them. A part counts what it ran."""
    season = tmp_path / "season"
    b = trap_card(season / "b", range(1, 3))
    a = shutil.copytree(b, season / "a")
    trap_card(a, range(5, 6))  # a's own photo
    db = tmp_path / "s.duckdb"
    _session(db, "s-b", b, datetime(2021, 6, 1))
    _batch_row(db, "old-key", b, "s-b")
    trap_card(b, range(3, 4))  # b changed: runs again, replacing s-b, and keeps its photos
    config = demo_config(db, **PLACE)
    options = BatchOptions(chunk_files=1)

    def killed_after_the_first_file(line: str) -> None:
        if " file(s) done: " in line:  # its part finished, not merged
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(str(season), db, config, options, killed_after_the_first_file)
    said: list[str] = []
    again = run_batch(str(season), db, config, options, said.append)
    assert not again.failed, again.lines()
    names = query(db, "SELECT parse_filename(path) AS name FROM media ORDER BY 1").name.tolist()
    assert names == ["RCNX0001.JPG", "RCNX9997.JPG", "RCNX9998.JPG", "RCNX9999.JPG"], said


def test_a_copy_of_a_unit_that_fails_runs_in_its_own_unit(ray_local, tmp_path) -> None:
    """Defect: a copy was left out in favour of a unit that then failed (its track cannot
    be read), said as "run before ... not run again" before anything ran and recorded
    ``identical``; every rerun did the same, its photos never recorded. The copy waits for
    the unit's outcome, and runs its photos itself."""
    season = tmp_path / "season"
    card = trap_card(season / "card07", range(1, 4))
    copy = shutil.copytree(card, season / "card07_copy")
    (tmp_path / "bad.gpx").write_text("<gpx>not a track")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,track\n{card},{tmp_path / 'bad.gpx'}\n{copy},\n")
    db = tmp_path / "s.duckdb"
    said: list[str] = []
    summary = run_batch(str(manifest), db, demo_config(db, **PLACE), log=said.append)
    assert [f.path for f in summary.failed] == [str(card)]
    assert [f.path for f in summary.done] == [str(copy)]
    assert not _lines(said, "run before") and not summary.copies, said
    rows = query(db, "SELECT path, status FROM batch_files ORDER BY path").values.tolist()
    assert rows == [[str(card), "failed"], [str(copy), "done"]]
    assert query(db, COUNTS).iloc[0].media == 3


def test_a_photo_units_key_is_what_earlier_batches_stored(tmp_path) -> None:
    """Each photo's hash now travels with the unit: its key is the one an earlier batch
    stored for the same photos (the sha256 of each photo's path and bytes, in path order;
    neither the photos' list nor what the unit leaves out is keyed)."""
    import hashlib

    card = trap_card(tmp_path / "card07", range(1, 3))
    photos = sorted(str(p) for p in card.rglob("*.JPG"))
    digest = hashlib.sha256()
    for photo in photos:
        digest.update(f"{photo}\0{hashlib.sha256(Path(photo).read_bytes()).hexdigest()}\0".encode())
    row = with_hash(PlanRow(str(card), kind="photos").as_row(), "settings")
    assert row["content_sha256"] == digest.hexdigest()
    assert row["batch_key"] == batch_key(digest.hexdigest(), "settings",
                                         PlanRow(str(card), kind="photos"))  # fmt: skip
    assert [p for p, *_ in json.loads(row["photo_sha256"])] == photos
    # each photo's picture hash, from the same read: what a photo is told by
    assert [pic for *_, pic in json.loads(row["photo_sha256"])] == [picture_sha256(p)
                                                                    for p in photos]
    left = with_hash({**row, "leave_out": json.dumps({photos[0]: "elsewhere"})}, "settings")
    assert left["batch_key"] == row["batch_key"]
