"""Keeping the file right: recovery after dead writers, pruning, forgetting a source.

Crash safety: a SIGKILLed writer loses at most the rows buffered since its last flush
(sighting starts and ends are flushed at once). The next writer opened on the same host
(or ``fieldtool recover``, or ``fieldtool export``) replays the journals of dead processes
and of closed stores of its own process, and marks sessions left ``running`` by a dead
process as ``interrupted``, closing their open sightings (:func:`recover`, in its first
transaction). A process is dead when its boot is over or its pid now names a process
that started at another clock tick (:mod:`fieldtool.store.process`). See
``docs/storage.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fieldtool.store import journal as journals
from fieldtool.store.locking import connect
from fieldtool.store.process import HOST, ProcessIdentity, process_alive
from fieldtool.store.schema import TABLES, UPSERT_KEYS, ensure_schema, insert_rows, upgrade_notice
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, SessionStatus

# What DuckDB (2.0) raises when the checkpoint that follows a commit fails (a full disk):
# the commit itself went through, its rows are in the file (its WAL, folded in at the next
# open). Taken for a failed write, its rows would be journaled, said unwritten, and
# replayed again by recover.
DURABLE = "COMMIT succeeded and is durable"


def commit(con: duckdb.DuckDBPyConnection) -> str | None:
    """COMMIT the open transaction. Returns None, or the first line of the error of the
    checkpoint that failed after a commit that went through; any other error is raised
    (the transaction did not commit)."""
    try:
        con.execute("COMMIT")
    except duckdb.Error as exc:
        if DURABLE not in str(exc):
            raise
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return None


@dataclass
class Replayed:
    """A journal whose rows went into the file: once the transaction commits,
    :meth:`finish` sets its damaged lines aside and deletes it."""

    path: Path
    rows: int
    damaged: list[bytes] = field(default_factory=list)
    adopted_from: str | None = None  # adopted: the file the journal was written for
    written: int = 0  # adopted: rows written (the others were in the file already)

    def finish(self) -> Path | None:
        """Quarantine the damaged lines (returns where), then delete the journal. Raises
        OSError when the damaged lines cannot be set aside: the journal stays (its good
        rows are in the file; replaying them again changes nothing)."""
        target = journals.quarantine(self.path, self.damaged) if self.damaged else None
        self.path.unlink(missing_ok=True)
        journals.forget(self.path)
        return target


@dataclass
class Recovery:
    """What :func:`recover` did: journals replayed, journals left (a live writer's,
    another host's or another file's: their rows are not in the file), sessions ended."""

    replayed: list[Replayed] = field(default_factory=list)
    left: dict[Path, int] = field(default_factory=dict)  # journal -> rows it holds
    interrupted: list[str] = field(default_factory=list)

    @property
    def pending_rows(self) -> int:
        return sum(self.left.values())


def _alive(owner: ProcessIdentity, path: Path) -> bool:
    """Whether the journal's writer may still append to it."""
    if owner.pid == os.getpid() and journals.released(path):
        return False  # a store of this process closed it: nobody appends any more
    return owner.alive


def recover(
    con: duckdb.DuckDBPyConnection,
    db: Path,
    log: Callable[[str], None],
    *,
    adopt: bool = False,
    say_live: bool = False,
) -> Recovery:
    """Replay journals of dead writers on this host; end their sessions as interrupted.

    Runs inside the caller's transaction. The journals replayed are finished
    (:meth:`Replayed.finish`) by the caller once the transaction commits. Journals of live
    processes (this one included, unless its store closed) and of other hosts are left
    alone, each said in one line (a live writer's only with ``say_live``). A journal
    written for another file that had this name (device and inode differ) is adopted
    (:func:`_adopt`) when ``adopt`` asks, or by itself when it was plainly copied with this
    file: it lies in another folder than it was written in and this file holds a session
    its rows belong to; else it is left, said in one line naming ``--adopt``.
    """
    done = Recovery()
    whole: set[str] = set()  # sessions of journals replayed without a damaged line
    elsewhere: set[str] = set()  # sessions with rows in a journal left alone
    unreadable = False
    for path in journals.journals_of(db):
        try:
            contents = journals.read_journal(path)
        except OSError as exc:
            log(f"{path}: cannot read ({exc.strerror or exc}); left alone")
            unreadable = True  # its sessions are unknown: none is said to be whole
            continue
        owner = journals.journal_owner(path, contents.header)
        why = _left_because(con, db, path, contents, owner, adopt)
        if why is not None:
            if why or say_live:
                log(f"{path}: {contents.row_count} rows not replayed: "
                    f"{why or _live(owner, False, db)}")  # fmt: skip
            done.left[path] = contents.row_count
            elsewhere.update(_row_sessions(contents))
            continue
        replayed = Replayed(path, contents.row_count, contents.damaged)
        if journals.other_file(contents.header, db):
            replayed.adopted_from = str(contents.header.get("db_path") or "another file")
            replayed.written = _adopt(con, contents)
        else:
            for table, table_rows in contents.rows.items():
                insert_rows(con, table, table_rows, idempotent=True)
        done.replayed.append(replayed)
        if not contents.damaged:
            whole.update(_session_ids(contents))
    if not unreadable:
        _finished_once_written(con, db, whole - elsewhere, log)
    running = con.execute(
        "SELECT session_id, pid, pid_started_at, boot_id, pid_start_ticks FROM sessions "
        "WHERE status = ? AND host = ? AND pid IS NOT NULL",
        [SessionStatus.RUNNING.value, HOST],
    ).fetchall()
    for session_id, pid, pid_started, boot, ticks in running:
        if process_alive(int(pid), pid_started, boot_id=boot, start_ticks=ticks):
            continue
        if session_id in elsewhere:
            # its rows wait in a journal left (to adopt): ending it here would stamp its
            # open sightings newer than the journal's later versions of them
            continue
        why = f"its writer (process {pid}) ended without recording how the session ended"
        con.execute(
            "UPDATE sessions SET status = ?, end_reason = coalesce(end_reason, ?), "
            "ended_at = coalesce(ended_at, updated_at, started_at) WHERE session_id = ?",
            [SessionStatus.INTERRUPTED.value, why, session_id],
        )
        row = con.execute(
            "UPDATE sightings SET status = 'closed', updated_at = ? "
            "WHERE session_id = ? AND status = 'open'",
            [utc_now(), session_id],
        ).fetchone()
        closed = row[0] if row is not None else 0  # DuckDB answers an UPDATE with its count
        done.interrupted.append(session_id)
        log(
            f"{db}: session {session_id} was left running by process {pid}, which "
            f"is gone: marked interrupted, {closed} open sighting(s) closed"
        )
    return done


def _live(owner: ProcessIdentity | None, adopting: bool, db: Path) -> str:
    """Why a live writer's journal stays (one clause)."""
    pid = owner.pid if owner else "?"
    if adopting:
        return (f"its writer (process {pid}) still runs: not adopted; once it has ended, "
                f"fieldtool recover --db {db} --adopt replays them")  # fmt: skip
    return f"its writer (process {pid}) still runs and writes them itself once it can"


def _left_because(
    con: duckdb.DuckDBPyConnection,
    db: Path,
    path: Path,
    contents: journals.JournalContents,
    owner: ProcessIdentity | None,
    adopt: bool,
) -> str | None:
    """Why the journal at ``path`` is left alone (one clause); '' for a live writer's own
    (said only where asked); None when it is to be replayed (or adopted) now."""
    if owner is None or owner.host != HOST:
        return (f"written on host {owner.host if owner else None!r}, where its writer may "
                "still run; fieldtool recover there replays them")  # fmt: skip
    other = journals.other_file(contents.header, db)
    if _alive(owner, path):
        return _live(owner, True, db) if other else ""
    if not other or adopt:
        return None
    if journals.moved(contents.header, path) and _holds_session_of(con, contents):
        return None  # a copy of the folder: the file holds the sessions the rows extend
    origin = contents.header.get("db_path") or f"another file named {db.name}"
    return (f"written for {origin} (device and inode differ from {db.name}'s); if this "
            f"file is a copy of that one made with the journal, fieldtool recover --db {db} "
            "--adopt replays them")  # fmt: skip


def _row_sessions(contents: journals.JournalContents) -> set[str]:
    """The sessions a journal's rows belong to."""
    return {str(row["session_id"]) for rows in contents.rows.values() for row in rows
            if row.get("session_id") is not None}  # fmt: skip


def _holds_session_of(con: duckdb.DuckDBPyConnection, contents: journals.JournalContents) -> bool:
    """Whether the file holds a session the journal's rows belong to (ids are random 128-bit
    hex: a match means the journal's file and this one are copies of one file)."""
    ids = sorted(_row_sessions(contents))
    if not ids:
        return False
    found = con.execute(  # fetched to the end: DuckDB refuses the next statement otherwise
        "SELECT count(*) FROM sessions WHERE session_id IN (SELECT unnest(?))", [ids]
    ).fetchall()
    return found[0][0] > 0


def _adopt(con: duckdb.DuckDBPyConnection, contents: journals.JournalContents) -> int:
    """Write the rows of a journal written for a copy of this file that the file lacks:
    appended rows not already there (by their natural key), upserted ones where the file has
    no version of the row or an older one (``updated_at``; without one: none at all), so no
    row is written twice nor an older version over a newer one. Returns the rows written."""
    written = 0
    for table in sorted(contents.rows, key=lambda t: t != "species"):  # before sightings'
        rows = contents.rows[table]
        if table in UPSERT_KEYS:
            rows = _newer(con, table, rows)
            insert_rows(con, table, rows)
            written += len(rows)
        elif rows:
            before = _count(con, table)
            insert_rows(con, table, rows, idempotent=True)
            written += _count(con, table) - before
    return written


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _newer(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> list[dict]:
    """The upserted ``rows`` of ``table`` the file lacks, or holds in an older version."""
    if not rows:
        return []
    key = UPSERT_KEYS[table]
    stamped = "updated_at" in TABLES[table]
    have = dict(con.execute(
        f"SELECT {key}, {'updated_at' if stamped else 'NULL'} FROM {table} "
        f"WHERE {key} IN (SELECT unnest(?))", [[r[key] for r in rows]]).fetchall())  # fmt: skip

    def newer(row: dict) -> bool:
        if row[key] not in have:
            return True
        mine, theirs = row.get("updated_at"), have[row[key]]
        return stamped and mine is not None and (theirs is None or mine > theirs)

    return [r for r in rows if newer(r)]


# In a session's end_reason: rows the writer gave up (memory bound, no journal): recovery
# cannot write them, so such a session is never said to be whole.
DROPPED = "rows dropped"


def _session_ids(contents: journals.JournalContents) -> set[str]:
    """The sessions whose own row a journal holds."""
    return {str(row["session_id"]) for row in contents.rows.get("sessions", ())}


def _finished_once_written(
    con: duckdb.DuckDBPyConnection, db: Path, sessions: set[str], log: Callable[[str], None]
) -> None:
    """A session that failed for its writes alone (the source had ended: ``finish_session``
    turned finished into failed, "writes failed: ..."), all of whose rows are now in the
    file, reads finished, its end_reason saying so: complete, not to be thrown away."""
    for session_id in sorted(sessions):
        row = con.execute(
            "UPDATE sessions SET status = ?, end_reason = end_reason || ? WHERE session_id = ? "
            "AND status = ? AND starts_with(end_reason, 'writes failed:') "
            f"AND NOT contains(end_reason, '{DROPPED}') RETURNING session_id",
            [SessionStatus.FINISHED.value, f"; every row written by fieldtool recover at "
             f"{utc_now():%Y-%m-%d %H:%M:%S} UTC", session_id, SessionStatus.FAILED.value],
        ).fetchone()  # fmt: skip
        if row is not None:
            log(f"{db}: session {session_id} had failed for its writes alone; every row is "
                "written now: marked finished")  # fmt: skip


def finish(db: Path, done: Recovery, log: Callable[[str], None]) -> None:
    """After the commit: quarantine damaged lines, delete the replayed journals, say so."""
    for replayed in done.replayed:
        try:
            target = replayed.finish()
        except OSError as exc:
            log(f"{db}: recovered {replayed.rows} rows from {replayed.path.name}; its "
                f"{len(replayed.damaged)} damaged line(s) cannot be set aside "
                f"({exc.strerror or exc}): the journal stays")  # fmt: skip
            continue
        extra = (f", {len(replayed.damaged)} damaged line(s) moved to {target.name}"
                 if target else "")  # fmt: skip
        if replayed.adopted_from is None:
            log(f"{db}: recovered {replayed.rows} rows from {replayed.path.name}{extra}")
            continue
        log(f"{db}: adopted {replayed.path.name} (written for {replayed.adopted_from}): "
            f"replayed {replayed.written} rows, {replayed.rows - replayed.written} were in "
            f"the file already{extra}")  # fmt: skip


def recover_file(
    path: Path | str,
    *,
    log: Callable[[str], None] | None = None,
    timeout_s: float = 30.0,
    adopt: bool = False,
) -> Recovery:
    """``fieldtool recover``: replay what can be replayed now (one short write, which also
    upgrades an older schema), each journal left said in one line; ``adopt``: journals
    written for another file that had this name too (a copy), where their writer is gone
    (:func:`recover`). Raises StoreLocked when the file stays held."""
    path = Path(path)
    say = log or (lambda message: None)
    if not path.is_file():
        what = (
            "is a folder, expected a database file"
            if path.is_dir()
            else "sightings database not found"
        )
        raise FieldtoolError(f"{path}: {what}")
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        con.execute("BEGIN TRANSACTION")
        old, new = ensure_schema(con, path)
        done = recover(con, path, say, adopt=adopt, say_live=True)
        if (unchecked := commit(con)) is not None:
            say(f"{path}: written; the checkpoint after it failed ({unchecked})")
    if notice := upgrade_notice(path, old, new):
        say(notice)
    finish(path, done, say)
    return done


def pending_rows(path: Path | str) -> tuple[int, int]:
    """(rows, journals) waiting in journals beside ``path``; unreadable ones count as 0 rows."""
    rows = 0
    found = journals.journals_of(Path(path))
    for journal in found:
        with suppress(OSError):
            rows += journals.read_journal(journal).row_count
    return rows, len(found)


class Forgotten(list[str]):
    """The session ids :func:`forget_source` deleted; ``reviews``: how many reviews of
    their sightings went with them; ``snapshots``: the files their rows named (relative to
    the database's folder), for :func:`remove_snapshots`; ``removed``: how many of those it
    deleted."""

    reviews: int = 0
    snapshots: tuple[str, ...] = ()
    removed: int = 0


def forget_source(
    con: duckdb.DuckDBPyConnection, source: str, source_name: str | None = None
) -> Forgotten:
    """Delete every session of ``source`` (with ``source_name``: only those of that name, a
    Camtrap DP package's deployment) and its rows (reviews too); returns their ids, with
    the count of reviews deleted (``.reviews``)."""
    ids = Forgotten(r[0] for r in con.execute(
        "SELECT session_id FROM sessions WHERE source = ? AND (? IS NULL OR source_name = ?)",
        [source, source_name, source_name]).fetchall())  # fmt: skip
    return forget_sessions(con, ids)


def forget_sessions(con: duckdb.DuckDBPyConnection, session_ids: Iterable[str]) -> Forgotten:
    """Delete the sessions ``session_ids`` and their rows in every table (reviews of their
    sightings too); returns the ids, with the count of reviews deleted (``.reviews``) and
    the files their rows named (``.snapshots``: once committed, :func:`remove_snapshots`)."""
    ids = Forgotten(session_ids)
    named = con.execute(
        "SELECT DISTINCT p FROM (SELECT snapshot_path AS p FROM sightings WHERE session_id IN "
        "(SELECT unnest(?)) UNION ALL SELECT path FROM sighting_frames WHERE session_id IN "
        "(SELECT unnest(?))) WHERE p IS NOT NULL ORDER BY p",
        [list(ids), list(ids)],
    ).fetchall()
    ids.snapshots = tuple(str(r[0]) for r in named)
    row = con.execute(
        "DELETE FROM reviews WHERE sighting_id IN (SELECT sighting_id FROM sightings "
        "WHERE session_id IN (SELECT unnest(?)))",
        [list(ids)],
    ).fetchone()
    ids.reviews = int(row[0]) if row is not None else 0  # DuckDB answers a DELETE with its count
    # every table with a session_id, sessions last (from the schema: new tables included)
    tables = [t for t, cols in TABLES.items() if "session_id" in cols and t != "sessions"]
    for table in (*tables, "sessions"):
        con.execute(f"DELETE FROM {table} WHERE session_id IN (SELECT unnest(?))", [list(ids)])
    return ids


def snapshot_folder(db: Path) -> Path:
    """The folder of ``db``'s snapshots and kept frames: ``<db stem>_snapshots/`` beside it
    (``<session>/<sighting>.jpg``, ``<session>/learn/``, ``<session>/latest.jpg``)."""
    return db.parent / f"{db.stem}_snapshots"


def remove_snapshots(con: duckdb.DuckDBPyConnection, db: Path, forgotten: Forgotten) -> int:
    """Once the forgetting of ``forgotten`` is committed: delete the files its rows named
    (``.snapshots``) and each session's live-view frame, only inside ``db``'s
    :func:`snapshot_folder` and only those no row names now (a snapshot, a kept frame, a
    photo in ``media``); then the folders that leaves empty. Returns (and sets
    ``.removed``) the files deleted; one that cannot be deleted is left, not counted."""
    root = snapshot_folder(db)
    names = [*forgotten.snapshots, *(f"{root.name}/{s}/latest.jpg" for s in forgotten)]
    whole = {name: os.path.abspath(db.parent / name) for name in names}  # media: absolute
    still = {r[0] for r in con.execute(
        "SELECT p FROM (SELECT snapshot_path AS p FROM sightings UNION ALL SELECT path FROM "
        "sighting_frames UNION ALL SELECT path FROM media) WHERE p IN (SELECT unnest(?))",
        [[*names, *whole.values()]]).fetchall()} if names else set()  # fmt: skip
    top, emptied = root.resolve(), set()
    for name in dict.fromkeys(names):
        if name in still or whole[name] in still:
            continue
        target = Path(whole[name]).parent.resolve() / Path(whole[name]).name  # a link itself
        if not target.is_relative_to(top) or target.is_dir():
            continue
        with suppress(OSError):  # gone already, or not deletable: left
            target.unlink()
            forgotten.removed += 1
            emptied.add(target.parent)
    for folder in sorted(emptied, key=lambda f: len(f.parts), reverse=True):
        while folder != top and folder.is_relative_to(top):  # learn/, then the session's
            try:
                folder.rmdir()
            except OSError:  # not empty: something else is in it
                break
            folder = folder.parent
    return forgotten.removed


# When detection ``d`` of session ``s`` was written into the file (UTC): its frame's time
# where that lies within its session's run (a live source stamps each frame as it arrives),
# else when the session ended, or its last heartbeat while it runs or after it died (a file's
# frames carry their recording time, months old it may be, and were written while it was
# processed). NULL without a session row: its age is not known.
WRITTEN_AT_SQL = """
CASE WHEN d.time >= s.started_at AND d.time <= coalesce(s.ended_at, s.updated_at, d.time)
     THEN d.time ELSE coalesce(s.ended_at, s.updated_at, s.started_at) END"""


def prune_detections(
    path: Path | str,
    older_than_days: float,
    *,
    now: datetime | None = None,
    timeout_s: float = 30.0,
) -> int:
    """Delete per-frame detections written into the file more than ``older_than_days``
    days before ``now`` (UTC; default: the machine's clock).

    The age is the row's in this file (:data:`WRITTEN_AT_SQL`), not its recording's: a
    file processed today keeps its detections however old its footage, so ``fieldtool
    eval`` and ``learn`` find them; a live stream's are as old as their frames. Detections
    without a session row are kept (their age is not known). Sightings, sessions, track and
    reviews are never pruned. Returns the rows deleted; DuckDB reuses the freed space.
    """
    if not older_than_days >= 0:
        raise FieldtoolError(f"{path}: older_than_days must be >= 0, got {older_than_days}")
    if Path(path).is_dir():
        raise FieldtoolError(f"{path}: is a folder, expected a database file")
    if not Path(path).is_file():
        raise FieldtoolError(f"{path}: sightings database not found")
    cutoff = (now or utc_now()) - timedelta(days=older_than_days)
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        row = con.execute(
            "DELETE FROM detections d USING sessions s WHERE d.session_id = s.session_id "
            f"AND {WRITTEN_AT_SQL} < ?",
            [cutoff],
        ).fetchone()
        con.execute("CHECKPOINT")
    return int(row[0]) if row is not None else 0  # DuckDB answers a DELETE with its count
