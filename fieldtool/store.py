"""Pipeline stage "store": sightings, GPS track and per-frame detections in a DuckDB file.

DuckDB lets one process hold a file read-write, or many read-only, never both. So no
process keeps the file open: the writer buffers rows in memory and writes them in one
short transaction every ``flush_interval_s`` (and at every sighting start/end), readers
open read-only for one query. A writer or reader that meets a lock retries with backoff
for up to ``lock_timeout_s``; a writer that still cannot get the file keeps its buffer
and tries again at the next flush, so nothing is lost while a reader holds the file.

Schema (version 1), all times UTC (naive TIMESTAMP), media times in seconds:

- ``sessions``: session_id, source, model_id, model_sha256, config_json, host, started_at, ended_at,
  status (running / finished / failed / interrupted), frames_read, frames_analysed,
  frames_dropped.
- ``sightings``: sighting_id, session_id, species, common_name, first_seen, last_seen,
  first_t, last_t, frames, peak_score, mean_score, latitude, longitude, model_id,
  snapshot_path (relative to the database's folder), status (open / closed), updated_at.
- ``track``: session_id, time, t, latitude, longitude, source.
- ``detections``: session_id, frame_index, t, time, latitude, longitude, raw_species[],
  raw_scores[], fused_species[], fused_scores[] (top-k per analysed frame, best first).
- ``reviews``: review_id, sighting_id, decision (confirm / reject / relabel), species (the
  reviewer's species: the predicted one when confirming), reviewer, reviewed_at, note. A
  review never changes the sighting row: the prediction stays beside the decision, and the
  newest review of a sighting is the one in force.
- ``meta``: key, value (``schema_version``).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from fieldtool.types import FieldtoolError, Position, SessionInfo, Sighting

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS sessions (
    session_id VARCHAR PRIMARY KEY, source VARCHAR, model_id VARCHAR, model_sha256 VARCHAR,
    config_json VARCHAR,
    host VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR,
    frames_read BIGINT, frames_analysed BIGINT, frames_dropped BIGINT);
CREATE TABLE IF NOT EXISTS sightings (
    sighting_id VARCHAR PRIMARY KEY, session_id VARCHAR, species VARCHAR, common_name VARCHAR,
    first_seen TIMESTAMP, last_seen TIMESTAMP, first_t DOUBLE, last_t DOUBLE, frames INTEGER,
    peak_score DOUBLE, mean_score DOUBLE, latitude DOUBLE, longitude DOUBLE, model_id VARCHAR,
    snapshot_path VARCHAR, status VARCHAR, updated_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS track (
    session_id VARCHAR, time TIMESTAMP, t DOUBLE, latitude DOUBLE, longitude DOUBLE,
    source VARCHAR);
CREATE TABLE IF NOT EXISTS detections (
    session_id VARCHAR, frame_index BIGINT, t DOUBLE, time TIMESTAMP, latitude DOUBLE,
    longitude DOUBLE, raw_species VARCHAR[], raw_scores FLOAT[], fused_species VARCHAR[],
    fused_scores FLOAT[]);
CREATE TABLE IF NOT EXISTS reviews (
    review_id VARCHAR PRIMARY KEY, sighting_id VARCHAR, decision VARCHAR, species VARCHAR,
    reviewer VARCHAR, reviewed_at TIMESTAMP, note VARCHAR);
"""

SIGHTING_COLUMNS = [
    "sighting_id", "session_id", "species", "common_name", "first_seen", "last_seen",
    "first_t", "last_t", "frames", "peak_score", "mean_score", "latitude", "longitude",
    "model_id", "snapshot_path", "status", "updated_at",
]  # fmt: skip
SESSION_COLUMNS = [
    "session_id", "source", "model_id", "model_sha256", "config_json", "host", "started_at", "ended_at",
    "status", "frames_read", "frames_analysed", "frames_dropped",
]  # fmt: skip
TRACK_COLUMNS = ["session_id", "time", "t", "latitude", "longitude", "source"]
DETECTION_COLUMNS = [
    "session_id", "frame_index", "t", "time", "latitude", "longitude",
    "raw_species", "raw_scores", "fused_species", "fused_scores",
]  # fmt: skip


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "different configuration" in text


@contextmanager
def connect(
    path: Path | str, *, read_only: bool, timeout_s: float = 10.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the file for one short piece of work, retrying while another process holds it."""
    path = Path(path)
    if read_only and not path.is_file():
        raise FieldtoolError(f"{path}: sightings database not found")
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    raise StoreLocked(
                        f"{path}: locked by another process for {timeout_s:.0f} s"
                    ) from None
                raise FieldtoolError(f"{path}: cannot open database ({exc})") from None
        except duckdb.Error as exc:
            raise FieldtoolError(f"{path}: not a readable DuckDB file ({exc})") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    try:
        yield con
    finally:
        con.close()


class StoreLocked(FieldtoolError):
    """Another process held the database for longer than the timeout."""


def query(
    path: Path | str, sql: str, params: Sequence | dict | None = None, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """Run one read-only query and return its rows."""
    with connect(path, read_only=True, timeout_s=timeout_s) as con:
        try:
            return con.execute(sql, params).df() if params else con.execute(sql).df()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            raise FieldtoolError(f"query failed: {first}") from None


REVIEW_DECISIONS = ("confirm", "reject", "relabel")


def add_review(
    path: Path | str,
    sighting_id: str,
    decision: str,
    *,
    reviewer: str,
    species: str | None = None,
    note: str = "",
    timeout_s: float = 10.0,
) -> str:
    """Store a person's decision on a sighting (one short write); returns the review id."""
    if decision not in REVIEW_DECISIONS:
        raise FieldtoolError(f"review decision {decision!r}: expected one of {REVIEW_DECISIONS}")
    if decision == "relabel" and not species:
        raise FieldtoolError("review decision 'relabel' needs the new species")
    if not reviewer.strip():
        raise FieldtoolError("review needs a reviewer name")
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        row = con.execute(
            "SELECT species FROM sightings WHERE sighting_id = ?", [sighting_id]
        ).fetchone()
        if row is None:
            raise FieldtoolError(f"{path}: no sighting {sighting_id!r}")
        review_id = uuid.uuid4().hex
        con.execute(
            "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?)",
            [review_id, sighting_id, decision, species or row[0], reviewer.strip(),
             datetime.now(timezone.utc).replace(tzinfo=None), note],
        )  # fmt: skip
    return review_id


def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> tuple[list[str], list[float]]:
    """The k best classes of a (C,) probability vector, best first."""
    order = np.argsort(-probs)[:k]
    return [names[i] for i in order], [float(probs[i]) for i in order]


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
        self._track: list[tuple] = []
        self._detections: list[tuple] = []
        self._last_flush = time.monotonic()
        self._pending_since: float | None = None
        if self.path.parent and not self.path.parent.exists():
            raise FieldtoolError(f"{self.path}: folder {self.path.parent} does not exist")
        if self.path.exists() and self.path.is_dir():
            raise FieldtoolError(f"{self.path}: is a folder, expected a database file")
        with connect(self.path, read_only=False, timeout_s=lock_timeout_s) as con:
            con.execute(SCHEMA)
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
            elif int(row[0]) > SCHEMA_VERSION:
                raise FieldtoolError(
                    f"{self.path}: schema version {row[0]} is newer than this fieldtool ({SCHEMA_VERSION})"
                )

    @property
    def folder(self) -> Path:
        """Folder that relative snapshot paths start from."""
        return self.path.parent

    def snapshot_dir(self, session_id: str) -> Path:
        return self.folder / f"{self.path.stem}_snapshots" / session_id

    # Buffered records -------------------------------------------------------------
    def record_session(self, info: SessionInfo) -> None:
        self._sessions[info.session_id] = info
        self._mark()

    def record_sighting(self, sighting: Sighting) -> None:
        self._sightings[sighting.sighting_id] = sighting
        self._mark()

    def record_track(self, session_id: str, when: datetime, t: float, position: Position) -> None:
        self._track.append((session_id, when, t, position.lat, position.lon, position.source))
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
        return len(self._sessions) + len(self._sightings) + len(self._track) + len(self._detections)

    # Writing ----------------------------------------------------------------------
    def maybe_flush(self) -> FlushResult | None:
        """Flush when the interval has passed since the last write."""
        if self.pending_rows and time.monotonic() - self._last_flush >= self.flush_interval_s:
            return self.flush(timeout_s=0.5)
        return None

    def flush(self, timeout_s: float | None = None) -> FlushResult:
        """Write all buffered rows in one transaction; on a lock keep them for later."""
        rows = self.pending_rows
        if not rows:
            return FlushResult(True, 0, 0.0)
        start = time.monotonic()
        timeout = self.lock_timeout_s if timeout_s is None else timeout_s
        try:
            with connect(self.path, read_only=False, timeout_s=timeout) as con:
                con.execute("BEGIN TRANSACTION")
                self._write(con)
                con.execute("COMMIT")
        except StoreLocked:
            self._last_flush = time.monotonic()
            self._log(f"{self.path}: held by another process; keeping {rows} rows in memory")
            return FlushResult(False, rows, time.monotonic() - start)
        except duckdb.Error as exc:
            raise FieldtoolError(f"{self.path}: write failed ({exc}); {rows} rows kept") from None
        self._sessions.clear()
        self._sightings.clear()
        self._track.clear()
        self._detections.clear()
        self._pending_since = None
        self._last_flush = time.monotonic()
        return FlushResult(True, rows, self._last_flush - start)

    def _write(self, con: duckdb.DuckDBPyConnection) -> None:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        if self._sessions:
            frame = pd.DataFrame(
                [
                    (s.session_id, s.source, s.model_id, s.model_sha256, s.config_json, s.host, s.started_at,
                     s.ended_at, s.status, s.frames_read, s.frames_analysed, s.frames_dropped)
                    for s in self._sessions.values()
                ],
                columns=SESSION_COLUMNS,
            )  # fmt: skip
            _upsert(con, "sessions", frame)
        if self._sightings:
            frame = pd.DataFrame(
                [
                    (s.sighting_id, s.session_id, s.species, s.common_name, s.first_seen,
                     s.last_seen, s.first_t, s.last_t, s.frames, s.peak_score, s.mean_score,
                     s.latitude, s.longitude, s.model_id, s.snapshot_path, s.status, now)
                    for s in self._sightings.values()
                ],
                columns=SIGHTING_COLUMNS,
            )  # fmt: skip
            _upsert(con, "sightings", frame)
        if self._track:
            _append(con, "track", pd.DataFrame(self._track, columns=TRACK_COLUMNS))
        if self._detections:
            _append(con, "detections", pd.DataFrame(self._detections, columns=DETECTION_COLUMNS))

    def forget_source(self, source: str) -> list[str]:
        """Delete every earlier session of ``source`` and its rows; returns their ids."""
        with connect(self.path, read_only=False, timeout_s=self.lock_timeout_s) as con:
            ids = [r[0] for r in con.execute(
                "SELECT session_id FROM sessions WHERE source = ?", [source]).fetchall()]  # fmt: skip
            for table in ("detections", "track", "sightings", "sessions"):
                con.execute(f"DELETE FROM {table} WHERE session_id IN (SELECT unnest(?))", [ids])
        for session_id in ids:
            shutil.rmtree(self.snapshot_dir(session_id), ignore_errors=True)
        return ids

    def close(self) -> FlushResult:
        """Final flush, waiting up to the full lock timeout."""
        return self.flush()


def _upsert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("incoming", frame)
    try:
        con.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM incoming")
    finally:
        con.unregister("incoming")


def _append(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
    finally:
        con.unregister("incoming")


def config_json(data: dict) -> str:
    return json.dumps(data, default=str, sort_keys=True)
