"""The buffered writer: a session's rows into the file in short transactions.

No process keeps the file open: :class:`SightingStore` buffers rows in memory and writes
them in one short transaction every ``flush_interval_s`` (and at every sighting start/end).
A writer that cannot get the file within ``lock_timeout_s`` keeps its rows in memory *and*
appends them to its journal (:mod:`fieldtool.store.journal`), says so, and from then on
waits at most :data:`HELD_RETRY_S` per flush, so the session never stalls; once the file
is free it writes everything and deletes the journal. Its first transaction creates or
migrates the schema and recovers what dead writers left (:mod:`fieldtool.store.maintenance`).

The writer process (pid and start time, in ``sessions`` rows and the journal) is read when
it writes, so a worker forked after the import, or after the store was made, writes under
its own pid and to its own journal.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
import numpy as np

from fieldtool.store import journal, maintenance
from fieldtool.store.locking import StoreLocked, Turnstile, connect, open_connection
from fieldtool.store.process import HOST, ProcessIdentity
from fieldtool.store.schema import (
    APPEND_KEYS,
    TABLES,
    UPSERT_KEYS,
    ensure_schema,
    h3_cell,
    insert_rows,
)
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Position, SessionInfo, SessionStatus, Sighting

HELD_RETRY_S = 0.1  # how long a flush waits while the file is known to be held


@dataclass
class FlushResult:
    written: bool
    rows: int
    waited_s: float


class SightingStore:
    """Buffered writer of one or more sessions into a DuckDB file."""

    def __init__(
        self,
        path: Path | str,
        *,
        lock_timeout_s: float = 30.0,
        flush_interval_s: float = 2.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.flush_interval_s = flush_interval_s
        self._log = log or (lambda message: None)
        self._sessions: dict[str, SessionInfo] = {}
        self._sightings: dict[str, Sighting] = {}
        self._species: dict[str, tuple] = {}
        self._track: list[tuple] = []
        self._detections: list[tuple] = []
        self._running: set[str] = set()  # sessions of this store still running (heartbeat)
        self._dirty: dict[str, set[str]] = {t: set() for t in UPSERT_KEYS}  # not yet journaled
        self._journaled = {t: 0 for t in APPEND_KEYS}
        self._writer = ProcessIdentity.current()  # read again after a fork: _process()
        self._journal_token = uuid.uuid4().hex[:8]  # this store's journal, within the process
        self._gate = Turnstile(self.path)
        self._held_since: float | None = None  # monotonic time the file was first found held
        self._held_logged = 0.0
        self._schema_ready = False
        self._last_flush = time.monotonic()
        self._pending_since: float | None = None
        if self.path.parent and not self.path.parent.exists():
            raise FieldtoolError(f"{self.path}: folder {self.path.parent} does not exist")
        if self.path.exists() and self.path.is_dir():
            raise FieldtoolError(f"{self.path}: is a folder, expected a database file")
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
            self._dirty = {
                "sessions": set(self._sessions),
                "sightings": set(self._sightings),
                "species": set(self._species),
            }
        return self._writer

    @property
    def journal_path(self) -> Path:
        """Where this store journals rows it cannot write yet (in this process)."""
        return journal.journal_path(self.path, self._process(), self._journal_token)

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Schema, migrations, views and recovery, once, in the first write transaction."""
        con.execute("BEGIN TRANSACTION")
        old, new = ensure_schema(con, self.path)
        done = maintenance.recover(con, self.path, self._log)
        con.execute("COMMIT")
        for replayed in done:
            replayed.unlink(missing_ok=True)
        if 0 < old < new:
            self._log(f"{self.path}: schema upgraded from version {old} to {new}")
        self._schema_ready = True

    @property
    def folder(self) -> Path:
        """Folder that relative snapshot paths start from."""
        return self.path.parent

    def snapshot_dir(self, session_id: str) -> Path:
        return self.folder / f"{self.path.stem}_snapshots" / session_id

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
        """Names and taxonomy of a species (replaces what the file had for it)."""
        if genus is None and re.match(r"^[A-Z][a-z-]+ [a-z]", species):
            genus = species.split(" ", 1)[0]
        self._species[species] = (species, common_name, genus, family)
        self._dirty["species"].add(species)
        self._mark()

    def record_track(self, session_id: str, when: datetime, t: float, position: Position) -> None:
        acc = position.accuracy_m
        acc = None if acc is None or not math.isfinite(acc) else float(acc)
        self._track.append((session_id, when, t, position.lat, position.lon, position.source, acc))
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
        self._detections.append((session_id, frame_index, t, when, lat, lon, *raw, *fused))
        self._mark()

    def _mark(self) -> None:
        if self._pending_since is None:
            self._pending_since = time.monotonic()

    @property
    def pending_rows(self) -> int:
        return (
            len(self._sessions) + len(self._sightings) + len(self._species)
            + len(self._track) + len(self._detections)
        )  # fmt: skip

    @property
    def held(self) -> bool:
        """Whether the last write found the file held by another process."""
        return self._held_since is not None

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
        """
        rows = self.pending_rows
        if not rows and self._schema_ready:
            return FlushResult(True, 0, 0.0)
        start = time.monotonic()
        timeout = self.lock_timeout_s if timeout_s is None else timeout_s
        if self._held_since is not None:
            timeout = min(timeout, HELD_RETRY_S)
        return self._flush(rows, timeout, start)

    @contextmanager
    def _writing(self, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """The write connection: the turnstile claim outlives a failed attempt."""
        con = open_connection(self.path, False, timeout_s, self._gate)
        self._gate.reset()
        try:
            yield con
        finally:
            con.close()

    def _flush(self, rows: int, timeout: float, start: float) -> FlushResult:
        batch = self._batch()
        try:
            with self._writing(timeout) as con:
                if not self._schema_ready:
                    self._prepare(con)
                con.execute("BEGIN TRANSACTION")
                for table, table_rows in batch.items():
                    insert_rows(con, table, table_rows)
                beat = sorted(self._running - {s[0] for s in batch["sessions"]})
                if beat:  # heartbeat of running sessions not rewritten in this batch
                    con.execute(
                        "UPDATE sessions SET updated_at = ? WHERE status = ? "
                        "AND session_id IN (SELECT unnest(?))",
                        [utc_now(), SessionStatus.RUNNING.value, beat],
                    )
                with _signals_deferred():  # committed rows leave the buffer, uninterrupted
                    con.execute("COMMIT")
                    self._written(rows)
        except StoreLocked as exc:
            self._last_flush = now = time.monotonic()
            self._journal(batch)
            if self._held_since is None:
                self._held_since = self._held_logged = now
                self._log(
                    f"{self.path}: held by another process{self._by(exc)}; keeping {rows} rows "
                    f"in memory and in {self.journal_path.name} until it is free"
                )
            elif now - self._held_logged >= 30.0:
                self._held_logged = now
                self._log(
                    f"{self.path}: still held{self._by(exc)} after {now - self._held_since:.0f} s; "
                    f"{rows} rows waiting"
                )
            return FlushResult(False, rows, now - start)
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            raise FieldtoolError(f"{self.path}: write failed ({first}); {rows} rows kept") from None
        return FlushResult(True, rows, self._last_flush - start)

    def _written(self, rows: int) -> None:
        """Forget the rows just committed."""
        self._sessions.clear()
        self._sightings.clear()
        self._species.clear()
        self._track.clear()
        self._detections.clear()
        self._pending_since = None
        self._last_flush = time.monotonic()
        self._drop_journal()
        if self._held_since is not None:
            self._log(
                f"{self.path}: free again after {self._last_flush - self._held_since:.1f} s; "
                f"wrote {rows} waiting rows"
            )
            self._held_since = None

    def _batch(self) -> dict[str, list[tuple]]:
        now = utc_now()
        me = self._process()
        sessions = [
            (s.session_id, s.source, s.model_id, s.model_sha256, s.config_json, s.host or HOST,
             s.started_at, s.ended_at, s.status, s.frames_read, s.frames_analysed,
             s.frames_dropped, me.pid, me.started_at, now, s.time_source, s.time_zone,
             s.time_zone_known, s.frames_positioned)
            for s in self._sessions.values()
        ]  # fmt: skip
        sightings = [
            (s.sighting_id, s.session_id, s.species, s.common_name, s.first_seen, s.last_seen,
             s.first_t, s.last_t, s.frames, s.peak_score, s.mean_score, s.latitude,
             s.longitude, s.model_id, s.snapshot_path, s.status, now, s.peak_t,
             h3_cell(s.latitude, s.longitude), s.rank)
            for s in self._sightings.values()
        ]  # fmt: skip
        return {
            "sessions": sessions,
            "species": list(self._species.values()),
            "sightings": sightings,
            "track": self._track,
            "detections": self._detections,
        }

    def _journal(self, batch: dict[str, list[tuple]]) -> None:
        """Append the rows not yet journaled to this store's journal (fsynced)."""
        me = self._process()
        lines: list[str] = []
        for table, key in UPSERT_KEYS.items():
            names = list(TABLES[table])
            for row in batch[table]:
                if row[names.index(key)] in self._dirty[table]:
                    lines.append(journal.journal_line(table, names, row))
            self._dirty[table].clear()
        for table in APPEND_KEYS:
            names = list(TABLES[table])
            lines += [
                journal.journal_line(table, names, row)
                for row in batch[table][self._journaled[table] :]
            ]
            self._journaled[table] = len(batch[table])
        if not lines:
            return
        path = journal.journal_path(self.path, me, self._journal_token)
        try:
            journal.append_journal(path, self.path, me, lines)
        except OSError as exc:
            self._log(f"{path}: cannot write the journal ({exc}); rows kept in memory")

    def _drop_journal(self) -> None:
        for table in self._dirty:
            self._dirty[table].clear()
        self._journaled = {t: 0 for t in APPEND_KEYS}
        self.journal_path.unlink(missing_ok=True)

    def forget_source(self, source: str) -> list[str]:
        """Delete every earlier session of ``source`` and its rows; returns their ids."""
        with connect(self.path, read_only=False, timeout_s=self.lock_timeout_s) as con:
            if not self._schema_ready:
                self._prepare(con)
            ids = maintenance.forget_source(con, source)
        for session_id in ids:
            shutil.rmtree(self.snapshot_dir(session_id), ignore_errors=True)
        return ids

    def close(self) -> FlushResult:
        """Final flush, waiting up to the full lock timeout.

        Rows still unwritten stay in the journal: the next store opened on this file
        after this process ends writes them.
        """
        if not self.pending_rows and self._schema_ready:
            self._gate.close()
            return FlushResult(True, 0, 0.0)
        if self._held_since is not None:
            self._journal(self._batch())  # safe on disk before a possibly long wait
        start = time.monotonic()
        result = self._flush(self.pending_rows, self.lock_timeout_s, start)
        self._gate.close()
        if not result.written:
            self._log(
                f"{self.path}: {result.rows} rows are kept in {self.journal_path.name}; the next "
                "fieldtool run on this file writes them"
            )
        return result


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM (main thread only) and deliver them after the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    old: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(ValueError, OSError):
            old[sig] = signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for signum in caught[:1]:
            previous = old.get(signal.Signals(signum))
            if callable(previous):
                previous(signum, None)
            elif signum == signal.SIGINT and previous != signal.SIG_IGN:
                raise KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


# What the pipeline records --------------------------------------------------------------
def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> tuple[list[str], list[float]]:
    """The k best classes of a (C,) probability vector, best first."""
    order = np.argsort(-probs)[:k]
    return [names[i] for i in order], [float(probs[i]) for i in order]


def config_json(data: dict) -> str:
    """A session's settings as ``sessions.config_json`` holds them (sorted keys)."""
    return json.dumps(data, default=str, sort_keys=True)
