"""A run on a full disk says truly what became of its rows and of its session.

Full disk is simulated as tests/store/test_write_failures.py does (inserts that raise
``No space left on device``; journal appends that fail with ENOSPC), so these run without
mount rights. Project rule: an error never claims what did not happen; nothing already
recorded is lost.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
import sys
from datetime import datetime

import duckdb
import pytest

from fieldtool.cli import common
from fieldtool.config import Config, SmoothingConfig
from fieldtool.pipeline import run_session
from fieldtool.pipeline.steps import SessionResult
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore, journal, query, recover_file, writer

from ..conftest import write_video

START = datetime(2026, 6, 1, 9, 0, 0)
# species 0 (3 s), background (2 s), species 1 (3 s), background (1 s)
SCHEDULE = [(3, 1.0), (0, 3.0), (3, 2.0), (1, 3.0), (3, 1.0)]
NOSPC = "IO Error: No space left on device"


def make_config(db, snapshots: bool = True) -> Config:
    cfg = Config()
    cfg.smoothing = SmoothingConfig(tau_s=0.3, enter=0.5, exit=0.3, min_duration_s=0.5,
                                    max_gap_s=0.5)  # fmt: skip
    cfg.store.db = db
    cfg.store.snapshots = snapshots
    cfg.source.sample_fps = 10.0
    return cfg


def disk_full(monkeypatch: pytest.MonkeyPatch, *, small_writes: bool = False) -> None:
    """Every write after the session's start row fails with ENOSPC, journal appends too;
    ``small_writes``: a write of session rows alone still fits (a few bytes were left)."""
    real = writer.insert_rows

    def insert(con, table, rows, **kwargs):
        fits = table == "sessions" and (small_writes or all(r[8] == "running" for r in rows))
        if rows and not fits:
            raise duckdb.IOException(NOSPC)
        return real(con, table, rows, **kwargs)

    def append(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, "insert_rows", insert)
    monkeypatch.setattr(journal, "append_journal", append)


def run(tmp_path, classifier, config: Config, lines: list[str]) -> SessionResult:
    video = write_video(tmp_path / "walk.avi", SCHEDULE)
    store = SightingStore(config.store.db, log=lines.append)
    source = VideoSource(str(video), sample_fps=10, start_time=START)
    return run_session(source, classifier, store, config, log=lines.append)


def session_row(db) -> dict:
    return query(db, "SELECT status, end_reason FROM sessions").iloc[0].to_dict()


def test_rows_in_no_journal_are_said_lost_never_sent_to_recover(
    tmp_path, colour_classifier, monkeypatch
):
    db = tmp_path / "f.duckdb"
    lines: list[str] = []
    disk_full(monkeypatch)
    result = run(tmp_path, colour_classifier, make_config(db), lines)
    sid = result.session.session_id
    assert result.session.status == "failed" and len(result.sightings) >= 2
    assert result.unwritten_rows > 0
    note = result.unwritten_note
    assert "recover" not in note and "journal" in note, note  # nothing for recover to find
    assert f"{result.unwritten_rows} rows" in note and "lost" in note and sid in note, note
    # the end could not be recorded either, and the note says what the file shows instead
    assert session_row(db)["status"] == "running"
    assert "not recorded" in note and "interrupted" in note, note
    assert not list(tmp_path.glob("f.duckdb.journal-*"))
    # once its writer is gone, the next writer marks it interrupted and says why
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE sessions SET pid = ?", [dead_pid()])
    monkeypatch.undo()  # space again
    assert recover_file(db).interrupted == [sid]
    row = session_row(db)
    assert row["status"] == "interrupted" and "without recording" in row["end_reason"], row


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_end_of_a_failed_run_is_recorded_where_a_small_write_still_fits(
    tmp_path, colour_classifier, monkeypatch
):
    db = tmp_path / "f.duckdb"
    lines: list[str] = []
    disk_full(monkeypatch, small_writes=True)
    result = run(tmp_path, colour_classifier, make_config(db), lines)
    row = session_row(db)
    assert row["status"] == "failed", (row, lines)
    assert "No space left on device" in (row["end_reason"] or ""), row
    note = result.unwritten_note
    assert "lost" in note and "recover" not in note and "not recorded" not in note, note
    assert result.unwritten_rows > 0 and f"{result.unwritten_rows} rows" in note, note


def test_a_failed_write_is_said_once(tmp_path, colour_classifier, monkeypatch):
    lines: list[str] = []
    disk_full(monkeypatch)
    run(tmp_path, colour_classifier, make_config(tmp_path / "f.duckdb"), lines)
    said = [line for line in lines if "write failed" in line]
    assert len(said) == 1, lines


def test_no_snapshots_means_no_word_of_snapshots_skipped(tmp_path, colour_classifier):
    db = tmp_path / "f.duckdb"
    (tmp_path / "f_snapshots").write_text("a file where the pictures' folder would be")
    lines: list[str] = []
    result = run(tmp_path, colour_classifier, make_config(db, snapshots=False), lines)
    assert result.session.status == "finished"
    assert not [line for line in lines if "snapshots skipped" in line], lines
    assert any("live view" in line and "skipped" in line for line in lines), lines


def test_a_journaled_remainder_is_sent_to_recover(tmp_path, colour_classifier, monkeypatch):
    """Where a journal does hold the rows, the note names it and recover."""
    db = tmp_path / "f.duckdb"
    lines: list[str] = []
    real = writer.insert_rows

    def insert(con, table, rows, **kwargs):
        if rows and not (table == "sessions" and all(r[8] == "running" for r in rows)):
            raise duckdb.IOException(NOSPC)
        return real(con, table, rows, **kwargs)

    monkeypatch.setattr(writer, "insert_rows", insert)
    result = run(tmp_path, colour_classifier, make_config(db), lines)
    note = result.unwritten_note
    journals = list(tmp_path.glob("f.duckdb.journal-*"))
    assert len(journals) == 1 and journals[0].name in note, (note, journals)
    assert f"recover --db {db}" in note and "lost" not in note, note


def test_a_session_whose_every_row_is_recovered_reads_finished(
    tmp_path, colour_classifier, monkeypatch
):
    """Defect (trial): after ``recover`` wrote every journaled row, the session still read
    "failed" ("writes failed: File too large"): a complete session an ecologist may throw
    away. It reads finished now, its end_reason saying the rows came by recovery."""
    db = tmp_path / "f.duckdb"
    lines: list[str] = []
    real = writer.insert_rows

    def insert(con, table, rows, **kwargs):
        if rows and not (table == "sessions" and all(r[8] == "running" for r in rows)):
            raise duckdb.IOException("IO Error: File too large")
        return real(con, table, rows, **kwargs)

    monkeypatch.setattr(writer, "insert_rows", insert)
    result = run(tmp_path, colour_classifier, make_config(db, snapshots=False), lines)
    assert result.session.status == "failed"
    monkeypatch.setattr(writer, "insert_rows", real)  # the space is back
    said: list[str] = []
    recover_file(db, log=said.append)
    row = session_row(db)
    assert row["status"] == "finished", row
    assert "File too large" in row["end_reason"] and "recover" in row["end_reason"], row
    assert query(db, "SELECT count(*) FROM sightings").iloc[0, 0] == len(result.sightings) > 0
    assert any("finished" in line for line in said), said


def test_a_session_that_failed_otherwise_stays_failed_after_recovery(
    tmp_path, colour_classifier, monkeypatch
):
    """Only a session that failed for its writes alone reads finished once they are
    written: a model error stays what it was."""
    from fieldtool.types import SessionInfo

    db = tmp_path / "g.duckdb"
    real = writer.insert_rows

    def insert(con, table, rows, **kwargs):  # the ended session's row goes to the journal
        if rows and not (table == "sessions" and all(r[8] == "running" for r in rows)):
            raise duckdb.IOException("IO Error: File too large")
        return real(con, table, rows, **kwargs)

    store = SightingStore(db)
    session = SessionInfo(session_id="s1", source="x.mp4", model_id="m", started_at=START)
    store.record_session(session)
    assert store.flush().written
    monkeypatch.setattr(writer, "insert_rows", insert)
    for reason in ("model error: out of memory",
                   "writes failed: File too large; 40 rows dropped (memory bound)"):  # fmt: skip
        session.status, session.end_reason = "failed", reason
        store.record_session(session)
        with contextlib.suppress(Exception):  # said once per episode; the row is kept
            store.flush()
    store.close()
    assert list(tmp_path.glob("g.duckdb.journal-*"))  # the row is journaled
    monkeypatch.setattr(writer, "insert_rows", real)
    recover_file(db)
    assert session_row(db)["status"] == "failed"  # rows were dropped: not all are written


def test_the_cli_prints_the_note_as_it_is(tmp_path, monkeypatch, capsys):
    from fieldtool import pipeline
    from fieldtool.types import SessionInfo

    info = SessionInfo("sess-1", "walk.avi", "m", START, status="failed", end_reason="x")
    done = SessionResult(info, unwritten_rows=7, unwritten_note="7 rows are lost (test)")
    monkeypatch.setattr(pipeline, "run_from_config", lambda *a, **k: done)
    config = make_config(tmp_path / "f.duckdb")
    common.run_one(config, "walk.avi", quiet=True)
    err = capsys.readouterr().err
    assert "7 rows are lost (test)" in err and "recover" not in err, err
