"""The buffered writer: a session's rows into the file in short transactions.

No process keeps the file open: :class:`SightingStore` buffers rows in memory and writes
them in one short transaction every ``flush_interval_s`` (and at every sighting start/end).
A writer that cannot get the file within ``lock_timeout_s`` keeps its rows in memory *and*
appends them to its journal (:mod:`fieldtool.store.journal`), says so, and from then on
waits at most :data:`HELD_RETRY_S` per flush, so the session never stalls; once the file
is free it writes everything and deletes the journal. Its first transaction creates or
migrates the schema and recovers what dead writers left (:mod:`fieldtool.store.maintenance`).

A write that fails for another reason (a full disk, a damaged file) is handled the same
way: the rows are journaled (or, when the journal cannot be written either, kept in
memory only, at most ``max_memory_rows`` track/detection rows), every later flush tries
again, and the error is raised once (:class:`StoreWriteError`) with where the rows are.
``close()`` never raises for either: its :class:`FlushResult` says what is unwritten and
where. Rows that may already be in the file (journaled, or a commit whose outcome is
unknown) are written idempotently.

The writer process (pid, boot and start ticks, in ``sessions`` rows and the journal) is
read when it writes, so a worker forked after the import, or after the store was made,
writes under its own pid and to its own journal.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from fieldtool.store import journal, maintenance
from fieldtool.store.locking import StoreLocked, Turnstile, connect, open_connection
from fieldtool.store.outcome import FlushResult, StoreWriteError, kept, left_behind, reason_of
from fieldtool.store.process import HOST, ProcessIdentity
from fieldtool.store.process import signals_deferred as _signals_deferred
from fieldtool.store.schema import (
    APPEND_KEYS,
    TABLES,
    UPSERT_KEYS,
    ensure_schema,
    h3_cell,
    insert_rows,
    new_file_views,
    upgrade_notice,
)
from fieldtool.store.writer_rows import config_json as config_json  # re-exported: what
from fieldtool.store.writer_rows import top_k as top_k  # the pipeline records
from fieldtool.store.writer_rows import track_row
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Position, SessionInfo, SessionStatus, Sighting

HELD_RETRY_S = 0.1  # how long a flush waits while the file is known to be held
MAX_MEMORY_ROWS = 100_000  # track/detection rows kept when neither file nor journal takes them
# Errors of a write that are not a lock: the rows stay, in the journal where it can be written.
WRITE_ERRORS = (duckdb.Error, OSError, FieldtoolError, pa.ArrowException)


class SightingStore:
    """Buffered writer of one or more sessions into a DuckDB file."""

    def __init__(
        self,
        path: Path | str,
        *,
        lock_timeout_s: float = 30.0,
        flush_interval_s: float = 2.0,
        max_memory_rows: int = MAX_MEMORY_ROWS,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.flush_interval_s = flush_interval_s
        self.max_memory_rows = max_memory_rows
        self._log = log or (lambda message: None)
        self._logs = log is not None  # whether what this store logs is heard
        self._sessions: dict[str, SessionInfo] = {}
        self._sightings: dict[str, Sighting] = {}
        self._species: dict[str, tuple] = {}
        self._appends: dict[str, list[tuple]] = {t: [] for t in APPEND_KEYS}
        self._running: set[str] = set()  # sessions of this store still running (heartbeat)
        self._dirty: dict[str, set[str]] = {t: set() for t in UPSERT_KEYS}  # not yet journaled
        # keys of upserted rows the journal holds (a version; a dirty one's is earlier)
        self._in_journal: dict[str, set[str]] = {t: set() for t in UPSERT_KEYS}
        self._journaled = {t: 0 for t in APPEND_KEYS}  # leading rows already journaled
        self._journal_error: str | None = None  # why the last journal append failed
        self._writer = ProcessIdentity.current()  # read again after a fork: _process()
        self._journal_token = uuid.uuid4().hex[:8]  # this store's journal, within the process
        self._gate = Turnstile(self.path)
        self._held_since: float | None = None  # monotonic time the file was first found held
        self._held_logged = 0.0
        self._failed: str | None = None  # the write error of the current episode
        self._failed_since = self._failed_logged = 0.0
        self._uncertain = False  # rows buffered may be in the file already: write idempotently
        self._dropped = 0
        self._unchecked = False  # a checkpoint after a commit has failed (said once)
        self._schema_ready = False
        self._last_flush = time.monotonic()
        self._pending_since: float | None = None
        if self.path.parent and not self.path.parent.exists():
            raise FieldtoolError(f"{self.path}: folder {self.path.parent} does not exist")
        if self.path.exists() and self.path.is_dir():
            raise FieldtoolError(f"{self.path}: is a folder, expected a database file")
        new_file_views()  # rendered by DuckDB once per process, before the file is held
        try:
            with connect(self.path, read_only=False, timeout_s=min(lock_timeout_s, 2.0)) as con:
                self._prepare(con)
        except StoreLocked as exc:
            # Another process holds the file: start anyway, set it up at the first write.
            self._held_since = self._held_logged = time.monotonic()
            self._log(
                f"{self.path}: held by another process{self._by(exc)}; the session starts and "
                "writes once the file is free"
            )

    @staticmethod
    def _by(exc: StoreLocked) -> str:
        return f" ({exc.holder})" if exc.holder else ""

    def _process(self) -> ProcessIdentity:
        """The writer process, read once per pid: in a child forked with this store in
        memory, the child's own, with a journal of its own holding all its buffered rows."""
        if not self._writer.is_current:
            self._writer = ProcessIdentity.current()
            self._journaled = {t: 0 for t in APPEND_KEYS}
            self._in_journal = {t: set() for t in UPSERT_KEYS}
            self._dirty = {
                "sessions": set(self._sessions),
                "sightings": set(self._sightings),
                "species": set(self._species),
            }
        return self._writer

    @property
    def journal_path(self) -> Path:
        """Where this store journals rows it cannot write yet (in this process): beside
        the file itself, symlinks resolved."""
        return journal.journal_path(self.path, self._process(), self._journal_token)

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Schema, migrations, views and recovery, once, in the first write transaction."""
        con.execute("BEGIN TRANSACTION")
        old, new = ensure_schema(con, self.path)
        done = maintenance.recover(con, self.path, self._log)
        self._commit(con)
        if notice := upgrade_notice(self.path, old, new):
            self._log(notice)
        maintenance.finish(self.path, done, self._log)
        self._schema_ready = True

    @property
    def folder(self) -> Path:
        """Folder that relative snapshot paths start from."""
        return self.path.parent

    def snapshot_dir(self, session_id: str) -> Path:
        return maintenance.snapshot_folder(self.path) / session_id

    # Buffered records -------------------------------------------------------------
    def record_session(self, info: SessionInfo) -> None:
        self._sessions[info.session_id] = info
        self._dirty["sessions"].add(info.session_id)
        if info.status == SessionStatus.RUNNING:
            self._running.add(info.session_id)
        else:
            self._running.discard(info.session_id)
        self._mark()

    def record_sighting(self, sighting: Sighting) -> None:
        self._sightings[sighting.sighting_id] = sighting
        self._dirty["sightings"].add(sighting.sighting_id)
        self._mark()

    def record_species(
        self,
        species: str,
        common_name: str = "",
        genus: str | None = None,
        family: str | None = None,
    ) -> None:
        """Names and taxonomy of a species (a value left empty keeps the file's)."""
        if genus is None and re.match(r"^[A-Z][a-z-]+ [a-z]", species):
            genus = species.split(" ", 1)[0]
        self._species[species] = (species, common_name, genus, family)
        self._dirty["species"].add(species)
        self._mark()

    def record_track(self, session_id: str, when: datetime, t: float, position: Position) -> None:
        self._appends["track"].append(track_row(session_id, when, t, position))
        self._mark()

    def record_detection(
        self,
        session_id: str,
        frame_index: int,
        t: float,
        when: datetime,
        position: Position | None,
        raw: tuple[list[str], list[float]],
        fused: tuple[list[str], list[float]],
    ) -> None:
        lat = position.lat if position else None
        lon = position.lon if position else None
        row = (session_id, frame_index, t, when, lat, lon, *raw, *fused)
        self._appends["detections"].append(row)
        self._mark()

    def record_gap(
        self,
        session_id: str,
        start_t: float,
        end_t: float,
        started_at: datetime | None,
        ended_at: datetime | None,
        reason: str,
    ) -> None:
        """A time the source was away (media seconds ``start_t``..``end_t``; wall times,
        ``ended_at`` None when it never came back): the ``effort`` view leaves it out.
        Buffered like track points; one gap per (session, start_t)."""
        row = (session_id, float(start_t), float(end_t), started_at, ended_at, reason)
        self._appends["source_gaps"].append(row)
        self._mark()

    def record_media(
        self,
        session_id: str,
        frame_index: int,
        path: str,
        captured_at: datetime | None,
        *,
        event_id: str | None = None,
        camera: str | None = None,
        position: Position | None = None,
        size: tuple[int, int] | None = None,
        time_source: str | None = None, picture_sha256: str | None = None,
    ) -> None:  # fmt: skip
        """One photo of a session: its file, capture time (UTC naive), sequence, camera, own
        EXIF position (None without GPS), ``size`` (width, height) px, picture hash (None)."""
        width, height = size if size is not None else (None, None)
        row = (session_id, frame_index, path, captured_at, event_id, camera,
               position.lat if position else None, position.lon if position else None,
               width, height, time_source, picture_sha256)  # fmt: skip
        self._appends["media"].append(row)
        self._mark()

    def record_sighting_frame(
        self, sighting_id: str, session_id: str, frame_index: int, t: float, path: str,
        sha256: str,
    ) -> None:  # fmt: skip
        """A frame kept for learning: ``path`` relative to :attr:`folder`, ``sha256`` of
        the JPEG's bytes."""
        row = (sighting_id, session_id, frame_index, float(t), path, sha256)
        self._appends["sighting_frames"].append(row)
        self._mark()

    def _mark(self) -> None:
        if self._pending_since is None:
            self._pending_since = time.monotonic()

    @property
    def pending_rows(self) -> int:
        return (
            len(self._sessions) + len(self._sightings) + len(self._species)
            + sum(len(rows) for rows in self._appends.values())
        )  # fmt: skip

    @property
    def held(self) -> bool:
        """Whether the last write found the file held by another process."""
        return self._held_since is not None

    @property
    def failed(self) -> str | None:
        """The error of the last write when it failed for another reason than a lock."""
        return self._failed

    @property
    def dropped_rows(self) -> int:
        """Rows this store gave up (its memory bound reached with no journal to take them)."""
        return self._dropped

    # Writing ----------------------------------------------------------------------
    def maybe_flush(self) -> FlushResult | None:
        """Flush when the interval has passed since the last write."""
        if self.pending_rows and time.monotonic() - self._last_flush >= self.flush_interval_s:
            return self.flush(timeout_s=0.5)
        return None

    def flush(self, timeout_s: float | None = None) -> FlushResult:
        """Write all buffered rows in one transaction; on a lock keep them for later.

        Waits up to ``timeout_s`` (default ``lock_timeout_s``) for the file, but at most
        ``HELD_RETRY_S`` while the file is known to be held, so a session never stalls on
        it. Rows that cannot be written are kept in memory and appended to the journal.
        A write that fails for another reason raises :class:`StoreWriteError`, once: the
        flushes after it (a clean-up path's) try again and return the error in their
        result instead, until a write succeeds.
        """
        rows = self.pending_rows
        if not rows and self._schema_ready:
            return FlushResult(True, 0, 0.0, dropped=self._dropped)
        start = time.monotonic()
        timeout = self.lock_timeout_s if timeout_s is None else timeout_s
        if self._held_since is not None:
            timeout = min(timeout, HELD_RETRY_S)
        return self._flush(rows, timeout, start, raise_first=True)

    @contextmanager
    def _writing(self, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """The write connection: the turnstile claim outlives a failed attempt. Closing
        never replaces an error of the work (an aborted transaction is rolled back)."""
        con = open_connection(self.path, False, timeout_s, self._gate)
        self._gate.reset()
        try:
            yield con
        except BaseException:
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            with suppress(duckdb.Error):
                con.close()

    def _flush(self, rows: int, timeout: float, start: float, *, raise_first: bool) -> FlushResult:
        batch = self._batch()
        try:
            with self._writing(timeout) as con:
                if not self._schema_ready:
                    self._prepare(con)
                con.execute("BEGIN TRANSACTION")
                for table, table_rows in batch.items():
                    insert_rows(con, table, table_rows, idempotent=self._uncertain)
                beat = sorted(self._running - {s[0] for s in batch["sessions"]})
                if beat:  # heartbeat of running sessions not rewritten in this batch
                    con.execute(
                        "UPDATE sessions SET updated_at = ? WHERE status = ? "
                        "AND session_id IN (SELECT unnest(?))",
                        [utc_now(), SessionStatus.RUNNING.value, beat],
                    )
                with _signals_deferred():  # committed rows leave the buffer, uninterrupted
                    self._commit(con)
                    self._written(rows)
        except StoreLocked as exc:
            return self._held(exc, batch, rows, start)
        except WRITE_ERRORS as exc:
            return self._write_failed(exc, batch, rows, start, raise_first)
        return FlushResult(True, rows, self._last_flush - start, dropped=self._dropped)

    def _held(
        self, exc: StoreLocked, batch: dict[str, list[tuple]], rows: int, start: float
    ) -> FlushResult:
        self._last_flush = now = time.monotonic()
        self._keep(batch)
        result = self._result(rows, start)
        if self._held_since is None:
            self._held_since = self._held_logged = now
            self._log(f"{self.path}: held by another process{self._by(exc)}; {self._kept(result)}")
        elif now - self._held_logged >= 30.0:
            self._held_logged = now
            self._log(
                f"{self.path}: still held{self._by(exc)} after {now - self._held_since:.0f} s; "
                f"{rows} rows waiting"
            )
        return result

    def _commit(self, con: duckdb.DuckDBPyConnection) -> None:
        """COMMIT; a commit that went through before its checkpoint failed is written (and
        said once): DuckDB folds its WAL into the file at the next open with room."""
        if (unchecked := maintenance.commit(con)) is not None and not self._unchecked:
            self._unchecked = True
            self._log(f"{self.path}: written; the checkpoint after it failed ({unchecked})")

    def _write_failed(
        self,
        exc: BaseException,
        batch: dict[str, list[tuple]],
        rows: int,
        start: float,
        raise_first: bool,
    ) -> FlushResult:
        """Keep the rows (journal, else memory), say where, raise once per episode."""
        reason = reason_of(exc, self.path)
        self._uncertain = True  # the commit may have gone through before the error
        self._last_flush = now = time.monotonic()
        self._keep(batch)
        first = self._failed is None
        if first:
            self._failed_since = now
        self._failed = reason
        result = self._result(rows, start, reason)
        message = f"{self.path}: write failed ({reason}); {self._kept(result)}"
        if first or now - self._failed_logged >= 30.0:
            self._failed_logged = now
            self._log(message)
        if raise_first and first:
            raise StoreWriteError(message, result, logged=self._logs)
        return result

    def _keep(self, batch: dict[str, list[tuple]]) -> None:
        """Rows that could not be written: into the journal, and within the memory bound."""
        self._uncertain = self._journal(batch) or self._uncertain
        self._bound()

    def _result(self, rows: int, start: float, error: str | None = None) -> FlushResult:
        unwritten = self.pending_rows
        memory_only = self._memory_only()
        path = self.journal_path
        on_disk = unwritten > memory_only and path.exists()
        stale = sum(len(self._dirty[t] & self._in_journal[t]) for t in UPSERT_KEYS)
        return FlushResult(False, rows, time.monotonic() - start, unwritten,
                           path if on_disk else None, memory_only, error, self._dropped,
                           self._journal_error if memory_only or stale else None,
                           stale=stale if on_disk else 0)  # fmt: skip

    def _kept(self, result: FlushResult) -> str:
        return kept(result, self.max_memory_rows)

    def _memory_only(self) -> int:
        """Buffered rows that no journal holds (in any version: recover replays an earlier
        one, so it is counted as journaled; :attr:`FlushResult.stale` says how many)."""
        upserts = sum(len(self._dirty[t] - self._in_journal[t]) for t in UPSERT_KEYS)
        return upserts + sum(len(self._appends[t]) - self._journaled[t] for t in APPEND_KEYS)

    def _bound(self) -> None:
        """Drop the oldest track/detection rows held in memory only beyond the bound."""
        excess = sum(len(self._appends[t]) - self._journaled[t] for t in APPEND_KEYS)
        excess -= self.max_memory_rows
        dropped = 0
        for table in ("detections", "track", "source_gaps"):
            if excess <= 0:
                break
            first = self._journaled[table]
            k = min(excess, len(self._appends[table]) - first)
            del self._appends[table][first : first + k]
            excess, dropped = excess - k, dropped + k
        if dropped:
            self._dropped += dropped
            self._log(
                f"{self.path}: neither the file nor the journal can be written: dropped the "
                f"{dropped} oldest track/detection rows kept in memory only ({self._dropped} "
                f"in all; at most {self.max_memory_rows} are kept)"
            )

    def _written(self, rows: int) -> None:
        """Forget the rows just committed."""
        self._sessions.clear()
        self._sightings.clear()
        self._species.clear()
        for table_rows in self._appends.values():
            table_rows.clear()
        self._pending_since = None
        self._last_flush = time.monotonic()
        self._uncertain = False
        self._drop_journal()
        if self._held_since is not None:
            self._log(
                f"{self.path}: free again after {self._last_flush - self._held_since:.1f} s; "
                f"wrote {rows} waiting rows"
            )
            self._held_since = None
        if self._failed is not None:
            self._log(
                f"{self.path}: written again after {self._last_flush - self._failed_since:.1f} "
                f"s ({self._failed} before); wrote {rows} waiting rows"
            )
            self._failed = None

    def _batch(self) -> dict[str, list[tuple]]:
        now = utc_now()
        me = self._process()
        sessions = [
            (s.session_id, s.source, s.model_id, s.model_sha256, s.config_json, s.host or HOST,
             s.started_at, s.ended_at, s.status, s.frames_read, s.frames_analysed,
             s.frames_dropped, me.pid, me.started_at, now, s.time_source, s.time_zone,
             s.time_zone_known, s.frames_positioned, s.end_reason, me.boot_id, me.start_ticks,
             s.source_name)
            for s in self._sessions.values()
        ]  # fmt: skip
        sightings = [
            (s.sighting_id, s.session_id, s.species, s.common_name, s.first_seen, s.last_seen,
             s.first_t, s.last_t, s.frames, s.peak_score, s.mean_score, s.latitude,
             s.longitude, s.model_id, s.snapshot_path, s.status, now, s.peak_t,
             h3_cell(s.latitude, s.longitude), s.rank, s.event_id)
            for s in self._sightings.values()
        ]  # fmt: skip
        return {
            "sessions": sessions,
            "species": list(self._species.values()),
            "sightings": sightings,
            **{table: list(rows) for table, rows in self._appends.items()},
        }

    def _journal(self, batch: dict[str, list[tuple]]) -> bool:
        """Append the rows not yet journaled to this store's journal (fsynced, all or
        nothing); False when it cannot be written (they stay marked for the next try)."""
        me = self._process()
        lines: list[str] = []
        keys: dict[str, set[str]] = {}  # the upserted rows journaled now, by key
        for table, key in UPSERT_KEYS.items():
            names = list(TABLES[table])
            at = names.index(key)
            rows = [row for row in batch[table] if row[at] in self._dirty[table]]
            keys[table] = {row[at] for row in rows}
            lines += [journal.journal_line(table, names, row) for row in rows]
        for table in APPEND_KEYS:
            names = list(TABLES[table])
            lines += [
                journal.journal_line(table, names, row)
                for row in batch[table][self._journaled[table] :]
            ]
        if not lines:
            return self.journal_path.exists()
        path = journal.journal_path(self.path, me, self._journal_token)
        try:
            journal.append_journal(path, self.path, me, lines)
        except OSError as exc:
            self._journal_error = exc.strerror or str(exc)
            return path.exists()
        self._journal_error = None
        for table in UPSERT_KEYS:  # keys dirtied after the batch was taken stay dirty
            self._dirty[table] -= keys[table]
            self._in_journal[table] |= keys[table]
        for table in APPEND_KEYS:
            self._journaled[table] = len(batch[table])
        return True

    def _drop_journal(self) -> None:
        for table in self._dirty:
            self._dirty[table].clear()
            self._in_journal[table].clear()
        self._journaled = {t: 0 for t in APPEND_KEYS}
        self.journal_path.unlink(missing_ok=True)

    def forget_source(self, source: str, source_name: str | None = None) -> maintenance.Forgotten:
        """Delete the sessions of ``source`` (``source_name``: of that name), their rows and
        the snapshot files only they named (``.removed``: :func:`maintenance.remove_snapshots`)."""
        with connect(self.path, read_only=False, timeout_s=self.lock_timeout_s) as con:
            if not self._schema_ready:
                self._prepare(con)
            ids = maintenance.forget_source(con, source, source_name)  # each DELETE commits
            maintenance.remove_snapshots(con, self.path, ids)
        return ids

    def close(self) -> FlushResult:
        """Final flush, waiting up to the full lock timeout; never raises for a lock or a
        write error: the result says what is unwritten and where.

        Rows still unwritten stay in the journal: ``fieldtool recover``, an export, or the
        next store opened on this file (in this process too) writes them. Rows the journal
        could not take either are lost when the process ends; the log says so.
        """
        try:
            if not self.pending_rows and self._schema_ready:
                return FlushResult(True, 0, 0.0, dropped=self._dropped)
            if self._held_since is not None or self._failed is not None:
                self._keep(self._batch())  # safe on disk before a possibly long wait
            start = time.monotonic()
            result = self._flush(self.pending_rows, self.lock_timeout_s, start, raise_first=False)
            if not result.written and (result.memory_only or result.stale):
                self._record_ends(result)
            if not result.written:
                if result.journal is not None:
                    journal.release(result.journal)  # a later store of this process may replay it
                if (said := left_behind(self.path, result)) is not None:
                    self._log(said)
            return result
        finally:
            self._gate.close()

    def _record_ends(self, result: FlushResult) -> None:
        """Write the last rows of ended sessions held in memory only, alone: a few bytes
        may fit where the whole batch did not, and the file then says why they ended.
        ``result`` is updated: those rows leave its counts; ``ends_unrecorded`` lists the
        sessions whose end is neither in the file nor in a journal."""
        ended = sorted(sid for sid in self._dirty["sessions"]
                       if self._sessions[sid].status != SessionStatus.RUNNING)  # fmt: skip
        # A journal holding an older row of theirs would undo this write when replayed.
        free = self._schema_ready and self._held_since is None
        if ended and free and not self.journal_path.exists():
            rows = [row for row in self._batch()["sessions"] if row[0] in ended]
            try:
                with self._writing(min(self.lock_timeout_s, 2.0)) as con:
                    con.execute("BEGIN TRANSACTION")
                    insert_rows(con, "sessions", rows)
                    self._commit(con)
            except (StoreLocked, *WRITE_ERRORS):
                pass
            else:
                for sid in ended:
                    del self._sessions[sid]
                    self._dirty["sessions"].discard(sid)
                result.unwritten -= len(ended)
                result.memory_only -= len(ended)
                ended = []
        result.ends_unrecorded = tuple(ended)
