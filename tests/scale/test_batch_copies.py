"""Each path of a batch has its ``batch_files`` row: an identical copy of another path (the
same key: same bytes, track and settings) is not run, and its row says so (status
``identical``, ``identical_to`` that path) and points at that path's session. Reruns and
replacements stay keyed by content. A schema 8 file (``batch_key`` the primary key)
migrates, keeping its rows."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fieldtool.scale import run_batch
from fieldtool.scale.merge import FileOutcome, merge, part_dir, prepare_db
from fieldtool.store import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION, SightingStore, query
from fieldtool.store.schema import TABLES
from tests.scale.conftest import demo_config

T0 = datetime(2026, 6, 1, 9, 0, 0)
ROWS = ("SELECT path, status, identical_to, session_id FROM batch_files "
        "ORDER BY status, path")  # fmt: skip


def _part(parts: Path, key: str, session: str, source: str) -> None:
    folder = part_dir(parts, key)
    folder.mkdir(parents=True)
    row = {"session_id": session, "source": source, "model_id": "m", "started_at": T0,
           "status": "finished"}  # fmt: skip
    schema = pa.schema(list(TABLES["sessions"].items()))
    table = pa.table({name: [row.get(name)] for name in TABLES["sessions"]}, schema=schema)
    pq.write_table(table, folder / "sessions.parquet")


def _copy(key: str, path: str) -> FileOutcome:
    return FileOutcome(key, path, "c", "x", "identical")


def _rows(db: Path) -> list[list[object]]:
    frame = query(db, ROWS)
    return frame.astype(object).where(pd.notna(frame), None).values.tolist()


def test_an_identical_copy_gets_its_own_row_naming_the_path_it_copies(tmp_path) -> None:
    db, parts = tmp_path / "b.duckdb", tmp_path / "parts"
    prepare_db(db, log=lambda m: None)
    _part(parts, "k1", "s1", "/cards/1/a.mp4")
    merge(db, parts, [FileOutcome("k1", "/cards/1/a.mp4", "c", "x", "done", session_id="s1")],
          copies=[_copy("k1", "/cards/2/a.mp4")])  # fmt: skip
    assert _rows(db) == [["/cards/1/a.mp4", "done", None, "s1"],
                         ["/cards/2/a.mp4", "identical", "/cards/1/a.mp4", "s1"]]  # fmt: skip
    # a later batch meets a third copy (its key done before) and the second again: the
    # third gets its row, the second's stays as it was; the original's own row is its own
    merge(db, parts, [], copies=[_copy("k1", "/cards/3/a.mp4"), _copy("k1", "/cards/2/a.mp4"),
                                 _copy("k1", "/cards/1/a.mp4")])  # fmt: skip
    assert _rows(db) == [["/cards/1/a.mp4", "done", None, "s1"],
                         ["/cards/2/a.mp4", "identical", "/cards/1/a.mp4", "s1"],
                         ["/cards/3/a.mp4", "identical", "/cards/1/a.mp4", "s1"]]  # fmt: skip


def test_a_copy_of_a_failed_file_says_so_without_a_session(tmp_path) -> None:
    db, parts = tmp_path / "b.duckdb", tmp_path / "parts"
    prepare_db(db, log=lambda m: None)
    merge(db, parts, [FileOutcome("k1", "a.mp4", "c", "x", "failed", error="cannot open")],
          copies=[_copy("k1", "b.mp4")])  # fmt: skip
    assert _rows(db) == [["a.mp4", "failed", None, None], ["b.mp4", "identical", "a.mp4", None]]
    # the file is tried again (failed) and done: its copy's row follows it
    _part(parts, "k1", "s1", "a.mp4")
    merge(db, parts, [FileOutcome("k1", "a.mp4", "c", "x", "done", session_id="s1")],
          copies=[_copy("k1", "b.mp4")])  # fmt: skip
    assert _rows(db) == [["a.mp4", "done", None, "s1"], ["b.mp4", "identical", "a.mp4", "s1"]]


def test_replacing_a_session_takes_its_copies_rows_with_it_and_says_so(tmp_path) -> None:
    """Keyed by content: the original's content changed, so its key's rows (the copy's
    too, whose session that was) go; a copy run later on its own has no stale row."""
    db, parts, said = tmp_path / "b.duckdb", tmp_path / "parts", []
    prepare_db(db, log=lambda m: None)
    _part(parts, "k1", "s1", "a.mp4")
    merge(db, parts, [FileOutcome("k1", "a.mp4", "c", "x", "done", session_id="s1")],
          copies=[_copy("k1", "b.mp4")])  # fmt: skip
    _part(parts, "k2", "s2", "a.mp4")
    merge(db, parts, [FileOutcome("k2", "a.mp4", "c2", "x", "done", session_id="s2")],
          log=said.append)  # fmt: skip
    assert _rows(db) == [["a.mp4", "done", None, "s2"]]
    line = [m for m in said if "replaced its earlier session s1" in m]
    assert len(line) == 1 and "identical copy b.mp4" in line[0], said
    # the copy, now run on its own under another key after being a copy: one row for it
    merge(db, parts, [FileOutcome("k1", "a.mp4", "c", "x", "done", session_id="s1")],
          copies=[_copy("k1", "b.mp4")])  # fmt: skip
    _part(parts, "k3", "s3", "b.mp4")
    merge(db, parts, [FileOutcome("k3", "b.mp4", "c3", "x", "done", session_id="s3")])
    assert [r for r in _rows(db) if r[0] == "b.mp4"] == [["b.mp4", "done", None, "s3"]]


def make_v8_file(db: Path) -> None:
    con = duckdb.connect(str(db))
    con.execute(SCHEMA_V1)
    for migrate in MIGRATIONS[:7]:
        migrate(con)
    con.execute("INSERT INTO meta VALUES ('schema_version', '8')")
    con.execute("INSERT INTO sessions (session_id, source, status) VALUES ('s1', 'a.mp4', "
                "'finished')")  # fmt: skip
    con.execute("INSERT INTO batch_files VALUES ('k1', 'a.mp4', 'c', 'x', 'done', NULL, 's1', ?)",
                [T0])  # fmt: skip
    con.close()


def test_a_version_8_file_migrates_and_keeps_its_batch_rows(tmp_path) -> None:
    db = tmp_path / "v8.duckdb"
    make_v8_file(db)
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert logs == [f"{db}: schema upgraded from version 8 to {SCHEMA_VERSION}"]
    assert _rows(db) == [["a.mp4", "done", None, "s1"]]
    assert query(db, "SELECT finished_at FROM batch_files").finished_at[0] == T0
    merge(db, tmp_path / "parts", [], copies=[_copy("k1", "b.mp4")])
    assert _rows(db) == [["a.mp4", "done", None, "s1"], ["b.mp4", "identical", "a.mp4", "s1"]]


def test_a_batch_gives_a_copy_its_row_and_a_later_copy_too(ray_local, walks, tmp_path) -> None:
    folder = tmp_path / "cards"
    (folder / "1").mkdir(parents=True)
    shutil.copy(walks / "walk_east.mp4", folder / "1" / "east.mp4")
    shutil.copytree(folder / "1", folder / "2")
    db = tmp_path / "copies.duckdb"
    config = demo_config(db, **{"source.max_frames": 20, "store.snapshots": False})
    summary = run_batch(str(folder), db, config, log=lambda message: None)
    assert len(summary.done) == 1 and len(summary.identical) == 1
    first, second, third = (str(folder / n / "east.mp4") for n in ("1", "2", "3"))
    (session,) = query(db, "SELECT session_id FROM sessions").session_id
    assert _rows(db) == [[first, "done", None, session], [second, "identical", first, session]]
    shutil.copytree(folder / "1", folder / "3")  # a third card: done before at another path
    again = run_batch(str(folder), db, config, log=lambda message: None)
    assert not again.done and again.skipped == [first, second]
    assert again.identical == [(third, first)]  # a copy met now: identical, not done before
    assert _rows(db) == [[first, "done", None, session], [second, "identical", first, session],
                         [third, "identical", first, session]]  # fmt: skip
