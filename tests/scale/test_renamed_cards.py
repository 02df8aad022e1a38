"""A season folder reorganised after its batch (``season/card07`` renamed
``season/2026-06_site3_card07``, a card moved into a per-site folder) and batched again: each
photo counts once, wherever it now lives (``media.picture_sha256``), said in one line a unit.
A file at a new path with the bytes of one done before is identical to it, as in one batch."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.photos import PhotoSource, expand_photos
from fieldtool.photos.same import picture_sha256
from fieldtool.scale import run_batch
from fieldtool.scale.copies import photos_run_before
from fieldtool.scale.decode import unit_photos
from fieldtool.scale.merge import done_keys, prepare_db, recorded_paths
from fieldtool.scale.plan import PlanRow
from fieldtool.scale.runner import BatchSummary, sort_plan
from fieldtool.store import SightingStore, connect, query
from fieldtool.types import SessionInfo, SessionStatus
from tests.photos.conftest import make_photo
from tests.scale.conftest import demo_config
from tests.scale.test_photo_cards import COUNTS, PLACE, T0, _hashed, _lines, trap_card


def test_a_season_reorganised_after_its_batch_counts_each_photo_once(ray_local, tmp_path) -> None:
    """Defect: a renamed card's photos (and a card moved into a per-site folder) ran again
    in the next batch: the database knew a photo by its bytes only while its file was at
    its old path. Sightings and events doubled."""
    season = tmp_path / "season"
    card07 = trap_card(season / "card07")
    card08 = season / "card08"
    for n in range(1, 4):
        make_photo(card08 / f"IMG_{n:04d}.JPG", colour=n % 3, make="Browning", model="BTC-8E",
                   taken=T0 + timedelta(days=1, seconds=n))  # fmt: skip
    db = tmp_path / "season.duckdb"
    config = demo_config(db, **PLACE)
    first = run_batch(str(season), db, config, log=lambda line: None)
    assert sorted(f.path for f in first.done) == [str(card07), str(card08)]
    before = query(db, COUNTS).iloc[0].to_dict()
    assert before["sessions"] == 2 and before["media"] == 9 and before["names"] == 9
    stored = query(db, "SELECT path, picture_sha256 FROM media ORDER BY path")
    assert stored.picture_sha256.tolist() == [picture_sha256(p) for p in stored.path]

    site3 = card07.rename(season / "2026-06_site3_card07")
    (season / "site4").mkdir()
    site4 = card08.rename(season / "site4" / "card08")
    said: list[str] = []
    again = run_batch(str(season), db, config, log=said.append)
    assert not again.done and not again.failed
    lines = sorted(_lines(said, "were run before"))
    assert lines == [
        f"batch: {site3}: its 6 photo(s) were run before (the same picture) in {card07} (6): "
        "not run again",
        f"batch: {site4}: its 3 photo(s) were run before (the same picture) in {card08} (3): "
        "not run again"], lines  # fmt: skip
    assert query(db, COUNTS).iloc[0].to_dict() == before
    rows = query(db, "SELECT path, status, identical_to FROM batch_files WHERE path IN (?, ?) "
                     "ORDER BY path", [str(site3), str(site4)])  # fmt: skip
    assert rows.values.tolist() == [[str(site3), "identical", str(card07)],
                                    [str(site4), "identical", str(card08)]]  # fmt: skip


def _older_session(db: Path, folder: Path) -> None:
    """``folder``'s photos as a fieldtool before schema 10 stored them (no hash), each at
    the time and camera its run gives it."""
    source = PhotoSource(expand_photos(str(folder)), uri=str(folder))
    store = SightingStore(db)
    store.record_session(SessionInfo("s-old", str(folder), "m", datetime(2026, 6, 1),
                                     status=SessionStatus.FINISHED))  # fmt: skip
    for photo in source.photos:
        store.record_media("s-old", photo.index, str(photo.path), photo.captured_at,
                           camera=photo.camera, time_source=photo.time_source)  # fmt: skip
    store.close()


def test_a_renamed_card_whose_rows_have_no_hash_is_told_by_name_and_time(tmp_path) -> None:
    """Rows of an older file carry no hash, and the renamed card's old path is gone: its
    photos are told by file name, capture time and camera, the unit's photos timed as its
    run times them (``catalog``: their EXIF), read only for a unit with a photo of such a
    name."""
    old = trap_card(tmp_path / "season" / "card07", range(1, 4))
    db = tmp_path / "s.duckdb"
    _older_session(db, old)
    new = old.rename(tmp_path / "season" / "2026-06_site3_card07")
    trap_card(new, range(4, 5))  # a photo taken since
    other = tmp_path / "season" / "card09"  # another trap's names: not read
    make_photo(other / "IMG_0001.JPG", taken=T0)
    hashed = _hashed(new, other)
    read: list[str] = []

    config = demo_config(db)  # as the earlier run: no place, no zone (camera clocks kept)

    def catalog(row: dict) -> list:
        read.append(row["path"])
        return unit_photos(config, row)

    found = photos_run_before(db, hashed, hashed, catalog=catalog)
    assert read == [str(new)]
    unit = found[hashed[0]["batch_key"]]
    assert list(found) == [hashed[0]["batch_key"]] and unit.total == 4
    assert sorted(Path(p).name for p in unit.left_out) == [
        "RCNX9997.JPG", "RCNX9998.JPG", "RCNX9999.JPG"]  # fmt: skip
    assert unit.line() == (f"{new}: 3 of its 4 photo(s) were run before (the same file name "
                           f"and capture time) in {old} (3): left out, its 1 other photo(s) "
                           "run"), unit.line()
    # without a catalog the rule cannot be told: nothing is left out by it
    assert photos_run_before(db, hashed, hashed) == {}


def _row(path: str, key: str) -> dict[str, object]:
    return {**PlanRow(path).as_row(), "batch_key": key, "content_sha256": "c-" + key}


def test_a_file_at_a_new_path_with_the_bytes_of_one_done_before_is_identical_to_it(tmp_path):
    """Defect: a card's MP4 at a new path (the bytes of one an earlier batch ran) was counted
    "skipped (done before)", where a copy in one batch is "identical to another": "done
    before" is a path the database holds (done, or recorded as a copy before)."""
    db = tmp_path / "s.duckdb"
    prepare_db(db, lambda line: None)
    with connect(db, read_only=False) as con:
        for path, status in [("cards/1/east.mp4", "done"), ("cards/2/east.mp4", "identical")]:
            con.execute("INSERT INTO batch_files VALUES ('k1', ?, 'c', 's', ?, NULL, 's1', ?, "
                        "NULL)", [path, status, T0])  # fmt: skip
    hashed = [_row(f"cards/{n}/east.mp4", "k1") for n in (1, 2, 3)] + [_row("new.mp4", "k2")]
    plan = sort_plan(hashed, done_keys(db), tmp_path / "parts", "s", recorded=recorded_paths(db))
    assert plan.done_before == ["cards/1/east.mp4", "cards/2/east.mp4"]
    assert plan.identical == [("cards/3/east.mp4", "cards/1/east.mp4")]
    assert [r["path"] for r in plan.todo] == ["new.mp4"]
    assert [r["path"] for r in plan.copies] == ["cards/1/east.mp4", "cards/2/east.mp4",
                                                "cards/3/east.mp4"]  # fmt: skip
    lines = BatchSummary(skipped=plan.done_before, identical=plan.identical).lines()
    assert lines[0].startswith("batch: 0 done, 2 skipped (done before), 1 identical to another")
    assert ("identical: cards/3/east.mp4: identical to cards/1/east.mp4 (same bytes, track and "
            "settings): not run twice") in lines
