"""Keeping the file right: recovery after dead writers, pruning, forgetting a source.

Crash safety: a SIGKILLed writer loses at most the rows buffered since its last flush
(sighting starts and ends are flushed at once). The next writer opened on the same host
replays the journals of dead processes and marks sessions left ``running`` by a dead
process (``sessions.host``, ``pid``, ``pid_started_at``) as ``interrupted``, closing their
open sightings (:func:`recover`, in its first transaction). See ``docs/storage.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fieldtool.store.journal import journal_owner, journals_of, read_journal
from fieldtool.store.locking import connect
from fieldtool.store.process import HOST, process_alive
from fieldtool.store.schema import insert_rows
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, SessionStatus


def recover(con: duckdb.DuckDBPyConnection, db: Path, log: Callable[[str], None]) -> list[Path]:
    """Replay journals of dead writers on this host; end their sessions as interrupted.

    Runs inside the caller's transaction. Returns the journals replayed: the caller
    deletes them once the transaction commits. Journals of live processes (this one
    included) and of other hosts are left alone.
    """
    replayed: list[Path] = []
    for journal in journals_of(db):
        try:
            header, rows, damaged = read_journal(journal)
        except OSError as exc:
            log(f"{journal}: cannot read ({exc}); left alone")
            continue
        owner = journal_owner(journal, header)
        if owner is None or owner.host != HOST:
            log(f"{journal}: written on host {owner.host if owner else None!r}; left alone")
            continue
        if process_alive(owner.pid, owner.started_at):
            continue  # a live writer's buffer
        for table, table_rows in rows.items():
            insert_rows(con, table, table_rows, idempotent=True)
        n = sum(len(r) for r in rows.values())
        extra = f", {damaged} damaged line(s) skipped" if damaged else ""
        log(f"{db}: recovered {n} rows from {journal.name}{extra}")
        replayed.append(journal)
    running = con.execute(
        "SELECT session_id, pid, pid_started_at FROM sessions "
        "WHERE status = ? AND host = ? AND pid IS NOT NULL",
        [SessionStatus.RUNNING.value, HOST],
    ).fetchall()
    for session_id, pid, pid_started in running:
        if process_alive(int(pid), pid_started):
            continue
        con.execute(
            "UPDATE sessions SET status = ?, "
            "ended_at = coalesce(ended_at, updated_at, started_at) WHERE session_id = ?",
            [SessionStatus.INTERRUPTED.value, session_id],
        )
        row = con.execute(
            "UPDATE sightings SET status = 'closed', updated_at = ? "
            "WHERE session_id = ? AND status = 'open'",
            [utc_now(), session_id],
        ).fetchone()
        closed = row[0] if row is not None else 0  # DuckDB answers an UPDATE with its count
        log(
            f"{db}: session {session_id} was left running by process {pid}, which "
            f"is gone: marked interrupted, {closed} open sighting(s) closed"
        )
    return replayed


def forget_source(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    """Delete every session of ``source`` and its rows (reviews too); returns their ids."""
    ids = [r[0] for r in con.execute(
        "SELECT session_id FROM sessions WHERE source = ?", [source]).fetchall()]  # fmt: skip
    con.execute(
        "DELETE FROM reviews WHERE sighting_id IN (SELECT sighting_id FROM sightings "
        "WHERE session_id IN (SELECT unnest(?)))",
        [ids],
    )
    for table in ("detections", "track", "sightings", "sessions"):
        con.execute(f"DELETE FROM {table} WHERE session_id IN (SELECT unnest(?))", [ids])
    return ids


def prune_detections(
    path: Path | str,
    older_than_days: float,
    *,
    now: datetime | None = None,
    timeout_s: float = 30.0,
) -> int:
    """Delete per-frame detections whose frame time is older than ``older_than_days``.

    Sightings, sessions, track and reviews are never pruned. Returns the rows deleted;
    DuckDB reuses the freed space for later rows.
    """
    if not older_than_days >= 0:
        raise FieldtoolError(f"{path}: older_than_days must be >= 0, got {older_than_days}")
    if not Path(path).is_file():
        raise FieldtoolError(f"{path}: sightings database not found")
    cutoff = (now or utc_now()) - timedelta(days=older_than_days)
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        row = con.execute("DELETE FROM detections WHERE time < ?", [cutoff]).fetchone()
        con.execute("CHECKPOINT")
    return int(row[0]) if row is not None else 0  # DuckDB answers a DELETE with its count
