"""A file that is not a (sound) sightings database: one line naming it, exit code 2, and
nothing written into it; DuckDB is never asked to open what is not a DuckDB file (a SQLite
file would make it fetch the sqlite extension from the network)."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from fieldtool.cli import main
from fieldtool.store import SightingStore
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)


def sound_file(db: Path, n: int = 2000) -> Path:
    store = SightingStore(db)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0, status="finished"))
    for i in range(n):
        store.record_sighting(Sighting(f"s{i}", "sess", "Acer rubrum", "red maple", T0, T0,
                                       float(i), i + 1.0, 3, 0.9, 2.4, status="closed"))  # fmt: skip
        store.record_detection("sess", i, float(i), T0, None, ([uuid.uuid4().hex] * 5, [0.2] * 5),
                               (["a"] * 5, [0.2] * 5))  # fmt: skip
    store.close()
    return db


def truncated(tmp: Path) -> Path:
    db = sound_file(tmp / "half.duckdb")
    size = db.stat().st_size
    with db.open("r+b") as fh:
        fh.truncate(size // 2)
    return db


def bit_flipped(tmp: Path) -> Path:
    db = sound_file(tmp / "flip.duckdb", 10)
    with db.open("r+b") as fh:  # one bit of the database header
        fh.seek(8192 + 40)
        byte = fh.read(1)[0]
        fh.seek(8192 + 40)
        fh.write(bytes([byte ^ 0x04]))
    return db


def text_file(tmp: Path) -> Path:
    db = tmp / "notes.duckdb"
    db.write_text("species,count\nAcer rubrum,3\n")
    return db


def schema_four(tmp: Path) -> Path:
    db = sound_file(tmp / "four.duckdb", 3)
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = 'four' WHERE key = 'schema_version'")
    con.close()
    return db


def sqlite_file(tmp: Path) -> Path:
    db = tmp / "old.duckdb"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE sightings (sighting_id TEXT)")
    con.commit()
    con.close()
    return db


def folder(tmp: Path) -> Path:
    return Path(".")


CASES = {
    "folder": (folder, "is a folder"),
    "truncated": (truncated, "truncated"),
    "bit-flipped": (bit_flipped, "damaged"),
    "text": (text_file, "not a DuckDB database file"),
    "schema-four": (schema_four, "schema_version"),
    "sqlite": (sqlite_file, "SQLite"),
}
COMMANDS = {
    "sql": lambda db, tmp: ["sql", "--db", db, "SELECT count(*) FROM sightings"],
    "export": lambda db, tmp: ["export", "--db", db, "--format", "csv", "-o", str(tmp / "o.csv")],
    "prune": lambda db, tmp: ["prune", "--db", db, "--older-than-days", "1"],
    "recover": lambda db, tmp: ["recover", "--db", db],
}


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_database_is_one_line_and_left_as_it_was(
    tmp_path, monkeypatch, capsys, case, command
):
    monkeypatch.chdir(tmp_path)
    make, fragment = CASES[case]
    db = make(tmp_path)
    before, files = digest(db), sorted(p.name for p in tmp_path.iterdir())
    opened: list[str] = []
    real_connect = duckdb.connect

    def connect(database=":memory:", *args, **kwargs):
        opened.append(str(database))
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect)
    code = main(COMMANDS[command](str(db), tmp_path))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fieldtool: error: {db}: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert digest(db) == before  # nothing written into it
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no WAL, journal or output
    if case in ("sqlite", "text"):
        assert not any(Path(o).name == db.name for o in opened), opened


def test_a_bad_database_stops_run_before_anything_is_written(
    tmp_path, monkeypatch, capsys, tiny_model_dir
):
    from tests.conftest import write_video

    video = write_video(tmp_path / "walk.avi", [(0, 1.0)])
    for case in ("truncated", "sqlite", "schema-four"):
        make, fragment = CASES[case]
        db = make(tmp_path)
        before = digest(db)
        code = main(["run", str(video), "--model", str(tiny_model_dir), "--db", str(db), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, err
        errors = [m for m in err.splitlines() if m.startswith("fieldtool: error:")]
        assert len(errors) == 1 and fragment in errors[0] and str(db) in errors[0], err
        assert digest(db) == before, case


def test_every_connection_switches_extension_loading_off(tmp_path, monkeypatch):
    """Each DuckDB connection fieldtool opens (writer, reader, query, export, review, prune,
    recover, the SQL box, the dashboard's loaders) gets the settings before any query."""
    from fieldtool.dashboard import data
    from fieldtool.export import export
    from fieldtool.sqlbox import run_readonly_sql
    from fieldtool.store import add_review, locking, prune_detections, query
    from fieldtool.store.maintenance import recover_file

    db = sound_file(tmp_path / "s.duckdb", 3)
    opened: list[int] = []
    applied: list[int] = []
    real_connect, real_apply = duckdb.connect, locking.apply_settings

    def connect(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        opened.append(id(con))
        return con

    def apply(con):
        applied.append(id(con))
        real_apply(con)

    monkeypatch.setattr(duckdb, "connect", connect)
    monkeypatch.setattr(locking, "apply_settings", apply)
    store = SightingStore(db)
    store.record_session(SessionInfo("b", "walk.mp4", "m", T0))
    store.close()
    query(db, "SELECT 1")
    export(db, "csv", tmp_path / "o.csv")
    add_review(db, "s1", "confirm", reviewer="ana")
    prune_detections(db, 1)
    recover_file(db)
    run_readonly_sql(db, "SELECT count(*) FROM sightings")
    data.load_sessions(db)
    assert opened and set(opened) <= set(applied)


def test_a_database_error_that_escapes_a_command_is_one_line(tmp_path, monkeypatch, capsys):
    import fieldtool.store

    def fails(*args, **kwargs):
        raise duckdb.IOException("IO Error: disk I/O error\n\nFor more info, see duckdb.org")

    monkeypatch.setattr(fieldtool.store, "prune_detections", fails)
    db = tmp_path / "s.duckdb"
    assert main(["prune", "--db", str(db), "--older-than-days", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"fieldtool: error: {db}: IO Error: disk I/O error"]
