"""Journal recovery: damaged lines, the ``recover`` command and exports, the file's identity
through a symlink, liveness that survives a wall-clock step, idempotent replays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import duckdb
import pytest

from fieldtool.store import HOST, SIGHTING_COLUMNS, SightingStore, maintenance, process, query
from fieldtool.types import SessionInfo, Sighting
from tests.conftest import REPO_ROOT

T0 = datetime(2026, 6, 1, 9)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def sighting_row(sighting_id: str, **changes) -> dict:
    values = ["x", "sess", "Quercus alba", "", T0.isoformat(), T0.isoformat(), 5.0, 6.0, 3, 0.9,
              0.8, None, None, "m", None, "closed", T0.isoformat(), 5.5, None, "species", None]  # fmt: skip
    row = dict(zip(SIGHTING_COLUMNS, values, strict=True))
    row.update(sighting_id=sighting_id, **changes)
    return row


def detection_row(frame: int) -> dict:
    return {"session_id": "sess", "frame_index": frame, "t": frame / 10, "time": T0.isoformat(),
            "raw_species": ["a"], "raw_scores": [0.5]}  # fmt: skip


def line(table: str, row: dict) -> bytes:
    return (json.dumps({"table": table, "row": row}) + "\n").encode()


def dead_journal(db, lines: list[bytes], pid: int | None = None):
    """A journal left beside ``db`` by a writer process that is gone."""
    pid = pid or dead_pid()
    path = db.with_name(f"{db.name}.journal-x-{pid}-1.jsonl")
    header = {"journal": 1, "host": HOST, "pid": pid, "pid_started_at": None}
    path.write_bytes(json.dumps(header).encode() + b"\n" + b"".join(lines))
    return path


def new_file(db) -> None:
    store = SightingStore(db)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0, status="finished"))
    store.close()


# (a) damaged lines ----------------------------------------------------------------------
def test_damaged_journal_lines_are_quarantined_and_the_good_ones_replayed(tmp_path):
    db = tmp_path / "s.duckdb"
    new_file(db)
    good = [line("sightings", sighting_row("s3")), line("detections", detection_row(0))]
    bad = [
        b'{"table": "detections", "row": {"session_id": "sess", "frame_\xff\xfe\n',  # not UTF-8
        b'{"table": "detections", "row": {"session_id": "se\n',  # cut short by power loss
        line("sightings", sighting_row("s4", frames="many")),  # not a number
    ]
    journal = dead_journal(db, [good[0], bad[0], bad[1], good[1], bad[2]])
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert query(db, "SELECT sighting_id FROM sightings").sighting_id.tolist() == ["s3"]
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 1
    assert not journal.exists()
    damaged = journal.with_name(journal.name + ".damaged")
    assert damaged.read_bytes() == b"".join(bad)
    assert any("3 damaged line(s)" in m and damaged.name in m for m in logs), logs
    SightingStore(db).close()  # the quarantined lines are not read again
    assert damaged.read_bytes() == b"".join(bad)


# (b) recover command and exports ----------------------------------------------------------
def test_recover_command_replays_and_says_what_it_did(tmp_path, capsys):
    from fieldtool.cli import main

    db = tmp_path / "s.duckdb"
    new_file(db)
    journal = dead_journal(db, [line("sightings", sighting_row("s3")),
                                line("detections", detection_row(0))])  # fmt: skip
    assert main(["recover", "--db", str(db)]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"recovered 2 rows from {journal.name}" in text, text
    assert not journal.exists()
    assert query(db, "SELECT sighting_id FROM sightings").sighting_id.tolist() == ["s3"]
    assert main(["recover", "--db", str(db)]) == 0
    out = capsys.readouterr()
    assert "nothing to recover" in out.out + out.err
    assert main(["recover", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "none.duckdb: sightings database not found" in capsys.readouterr().err


def test_export_replays_pending_journals_first(tmp_path, capsys):
    from fieldtool.cli import main

    db = tmp_path / "s.duckdb"
    new_file(db)
    dead_journal(db, [line("sightings", sighting_row("s3"))])
    out = tmp_path / "o.csv"
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(out)]) == 0
    assert "s3" in out.read_text()
    assert "recovered 1 rows" in capsys.readouterr().err


def test_export_says_what_it_lacks_when_it_cannot_replay(tmp_path, capsys, monkeypatch):
    from fieldtool import export
    from fieldtool.cli import main

    monkeypatch.setattr(export, "REPLAY_TIMEOUT_S", 0.1)
    db = tmp_path / "s.duckdb"
    new_file(db)
    store = SightingStore(db)
    store.record_sighting(Sighting("s1", "sess", "Acer rubrum", "", T0, T0, 0.0, 1.0, 3, 0.9,
                                   2.4, status="closed"))  # fmt: skip
    store.close()
    journal = dead_journal(db, [line("sightings", sighting_row("s3")),
                                line("detections", detection_row(0))])  # fmt: skip
    holder = duckdb.connect(str(db), read_only=True)  # no write lock to be had
    try:
        out = tmp_path / "o.csv"
        assert main(["export", "--db", str(db), "--format", "csv", "-o", str(out)]) == 0
    finally:
        holder.close()
    err = capsys.readouterr().err
    pending = [m for m in err.splitlines() if "journal" in m]
    assert len(pending) == 1 and "2 rows" in pending[0] and "lacks" in pending[0], err
    assert journal.exists() and "s3" not in out.read_text() and "s1" in out.read_text()


# (c) the file's identity ----------------------------------------------------------------
WRITER_THROUGH = """
import sys, os
from datetime import datetime
from fieldtool.store import SightingStore
from fieldtool.types import SessionInfo
store = SightingStore(sys.argv[1], lock_timeout_s=0.1)
store.record_session(SessionInfo("sess", "cam0", "m", datetime(2026, 6, 1, 9)))
store.record_detection("sess", 0, 0.0, datetime(2026, 6, 1, 9), None, (["a"], [0.5]), (["a"], [0.5]))
print(store.flush(timeout_s=0.1).written, store.journal_path, flush=True)
os._exit(0)  # killed: no close
"""


def test_journals_follow_the_file_not_the_name_it_was_opened_by(tmp_path):
    real = tmp_path / "data" / "real.duckdb"
    real.parent.mkdir()
    new_file(real)
    link = tmp_path / "link.duckdb"
    link.symlink_to(real)
    holder = duckdb.connect(str(real), read_only=True)  # the writer journals its rows
    try:
        out = subprocess.run([sys.executable, "-c", WRITER_THROUGH, str(link)], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        holder.close()
    written, journal = out.stdout.split()
    assert written == "False", out.stderr
    assert os.path.dirname(journal) == str(real.parent) and "real.duckdb.journal-" in journal
    logs: list[str] = []
    SightingStore(real, log=logs.append).close()  # opened by its real name: recovered
    assert query(real, "SELECT count(*) FROM detections").iloc[0, 0] == 1
    assert not os.path.exists(journal), logs


def test_a_journal_of_another_file_with_this_name_is_left_alone(tmp_path):
    db = tmp_path / "s.duckdb"
    new_file(db)
    journal = dead_journal(db, [line("sightings", sighting_row("s3"))])
    text = journal.read_text().splitlines()
    header = json.loads(text[0]) | {"db_dev": os.stat(db).st_dev, "db_ino": os.stat(db).st_ino + 1}
    journal.write_text("\n".join([json.dumps(header), *text[1:]]) + "\n")
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert journal.exists() and query(db, "SELECT count(*) FROM sightings").iloc[0, 0] == 0
    assert any("another file" in m for m in logs), logs


# (d) liveness ---------------------------------------------------------------------------
def test_a_wall_clock_step_does_not_make_a_live_writer_look_dead(tmp_path, monkeypatch):
    """A board without RTC syncs its clock an hour forward while a writer runs: the writer's
    journal is not replayed by the next store, and its rows are written once."""
    db = tmp_path / "s.duckdb"
    new_file(db)
    holder = duckdb.connect(str(db), read_only=True)
    writer = SightingStore(db, lock_timeout_s=0.1)
    writer.record_session(SessionInfo("cam", "cam0", "m", T0))
    writer.record_detection("cam", 0, 0.0, T0, None, (["a"], [0.5]), (["a"], [0.5]))
    assert not writer.flush(timeout_s=0.1).written
    holder.close()
    boot = process._boot_time()
    monkeypatch.setattr(process, "_boot_time", lambda: boot + 3600 if boot else None)
    SightingStore(db).close()  # another writer opens the file
    assert writer.journal_path.exists()
    assert query(db, "SELECT status FROM sessions WHERE session_id = 'cam'").empty
    assert writer.close().written
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 1
    assert query(db, "SELECT status FROM sessions WHERE session_id = 'cam'").status[0] == "running"


def test_liveness_is_the_boot_and_the_start_ticks(monkeypatch):
    me = process.ProcessIdentity.current()
    if me.boot_id is None or me.start_ticks is None:
        pytest.skip("no /proc here")
    alive = process.process_alive
    assert alive(me.pid, None, boot_id=me.boot_id, start_ticks=me.start_ticks)
    assert not alive(me.pid, None, boot_id=me.boot_id, start_ticks=me.start_ticks + 1)  # reused
    assert not alive(me.pid, None, boot_id="another-boot", start_ticks=me.start_ticks)
    boot = process._boot_time()
    monkeypatch.setattr(process, "_boot_time", lambda: boot - 7200 if boot else None)
    assert alive(me.pid, me.started_at, boot_id=me.boot_id, start_ticks=me.start_ticks)


# (e) idempotent replays -----------------------------------------------------------------
def test_rows_already_in_the_file_are_not_written_twice(tmp_path, monkeypatch):
    """A writer whose journal another store replayed (it took the writer for dead) writes
    the same rows later: track points, detections and gaps are not doubled."""
    db = tmp_path / "s.duckdb"
    new_file(db)
    holder = duckdb.connect(str(db), read_only=True)
    writer = SightingStore(db, lock_timeout_s=0.1)
    writer.record_detection("sess", 0, 0.0, T0, None, (["a"], [0.5]), (["a"], [0.5]))
    from fieldtool.types import Position

    writer.record_track("sess", T0, 0.0, Position(44.0, -123.0))
    writer.record_gap("sess", 1.0, 5.0, T0, T0, "stream lost")
    assert not writer.flush(timeout_s=0.1).written
    holder.close()
    monkeypatch.setattr(maintenance, "_alive", lambda owner, path: False)
    SightingStore(db).close()  # replays the "dead" writer's journal
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 1
    monkeypatch.undo()
    assert writer.close().written
    for table in ("detections", "track", "source_gaps"):
        assert query(db, f"SELECT count(*) FROM {table}").iloc[0, 0] == 1, table


def test_a_closed_stores_journal_is_replayed_in_the_same_process(tmp_path):
    db = tmp_path / "s.duckdb"
    new_file(db)
    holder = duckdb.connect(str(db), read_only=True)
    writer = SightingStore(db, lock_timeout_s=0.1)
    writer.record_detection("sess", 0, 0.0, T0, None, (["a"], [0.5]), (["a"], [0.5]))
    result = writer.close()
    holder.close()
    assert not result.written and result.journal is not None and result.journal.exists()
    SightingStore(db).close()
    assert not result.journal.exists()
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 1
