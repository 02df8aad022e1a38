"""Pipeline stage "store": sightings, GPS track and per-frame detections in a DuckDB file.

DuckDB lets one process hold a file read-write, or many read-only, never both. So no
process keeps the file open: the writer buffers rows in memory and writes them in one
short transaction every ``flush_interval_s`` (and at every sighting start/end), readers
open read-only for one query. A writer or reader that meets a lock retries with backoff
for up to ``lock_timeout_s``. A writer that still cannot get the file keeps its rows in
memory *and* appends them to a journal beside the file (``<db>.journal-<host>-<pid>-<n>.jsonl``,
fsynced), says so, and from then on waits at most ``HELD_RETRY_S`` per flush, so the session
never stalls; once the file is free it writes everything and deletes the journal. A writer
that has to wait takes a turnstile (``<db>.turnstile``) so that fieldtool readers let it in
before starting new reads.

Crash safety: a SIGKILLed writer loses at most the rows buffered since its last flush
(sighting starts and ends are flushed at once). The next :class:`SightingStore` opened on
the same host replays the journals of dead processes and marks sessions left ``running``
by a dead process (``sessions.host``, ``pid``, ``pid_started_at``) as ``interrupted``,
closing their open sightings. See ``docs/storage.md`` for the design and its measurements.

Schema (version 5; migrations in :data:`MIGRATIONS` upgrade older files on open), times
naive TIMESTAMP in UTC, except for sessions whose ``time_zone_known`` is false (a camera's
local clock of unknown zone; see docs/time.md), media times in seconds:

- ``sessions``: session_id, source, model_id, model_sha256, config_json, host, started_at,
  ended_at, status (running / finished / failed / interrupted), frames_read,
  frames_analysed, frames_dropped, pid, pid_started_at (the writer process and its start
  time), updated_at (the writer's last flush: a heartbeat), time_source (where media t=0's
  time came from: start-time, gpmf-gpsu, srt-clock, mp4-creation-time, track-start,
  wall-clock, ...; "unrecorded" for sessions older than version 5), time_zone (IANA name or
  UTC the times were converted from; NULL when unknown), time_zone_known,
  frames_positioned (analysed frames that got a position).
- ``sightings``: sighting_id, session_id, species, common_name, first_seen, last_seen,
  first_t, last_t, frames, peak_score, mean_score, latitude, longitude, model_id,
  snapshot_path (relative to the database's folder), status (open / closed), updated_at,
  peak_t (media seconds of the peak, where latitude/longitude were taken), h3_cell (H3
  resolution 8 cell of latitude/longitude), rank (species, or genus when congeners shared
  the score: species is then "Genus sp.").
- ``track``: session_id, time, t, latitude, longitude, source, accuracy_m.
- ``detections``: session_id, frame_index, t, time, latitude, longitude, raw_species[],
  raw_scores[], fused_species[], fused_scores[] (top-k per analysed frame, best first).
- ``reviews``: review_id, sighting_id, decision (confirm / reject / relabel), species (the
  reviewer's species: the predicted one when confirming), reviewer, reviewed_at, note. A
  review never changes the sighting row: the prediction stays beside the decision, and the
  newest review of a sighting is the one in force.
- ``species``: species (scientific name), common_name, genus, family; filled from the
  sightings written (genus from the binomial) and :meth:`SightingStore.record_species`.
- ``meta``: key, value (``schema_version``).

Named views for ``fieldtool sql`` are defined in :mod:`fieldtool.views`.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no turnstile
    fcntl = None  # type: ignore[assignment]

import duckdb
import h3
import numpy as np
import pandas as pd
import pyarrow as pa

from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Position, SessionInfo, Sighting

SCHEMA_VERSION = 5
HELD_RETRY_S = 0.1  # how long a flush waits while the file is known to be held
H3_RESOLUTION = 8  # sightings.h3_cell: cells of about 0.7 km²

# The first schema, verbatim: new files are created with it and then migrated, so a new
# file and an upgraded one are identical.
SCHEMA_V1 = """
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
SCHEMA = SCHEMA_V1  # kept for older imports; the current schema is SCHEMA_V1 + MIGRATIONS


def _h3_cell(lat: float | None, lon: float | None) -> str | None:
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return h3.latlng_to_cell(float(lat), float(lon), H3_RESOLUTION)


def _v1_to_v2(con: duckdb.DuckDBPyConnection) -> None:
    """Species table (filled from the sightings); writer process and heartbeat on sessions."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS species (species VARCHAR PRIMARY KEY, common_name VARCHAR, "
        "genus VARCHAR, family VARCHAR)"
    )
    con.execute("ALTER TABLE sessions ADD COLUMN pid BIGINT")
    con.execute("ALTER TABLE sessions ADD COLUMN pid_started_at TIMESTAMP")
    con.execute("ALTER TABLE sessions ADD COLUMN updated_at TIMESTAMP")
    con.execute(f"INSERT INTO species {_SPECIES_FROM.format(src='sightings')}")


def _v2_to_v3(con: duckdb.DuckDBPyConnection) -> None:
    """Peak time and H3 cell on sightings (cells computed for the existing rows); GPS accuracy."""
    con.execute("ALTER TABLE sightings ADD COLUMN peak_t DOUBLE")
    con.execute("ALTER TABLE sightings ADD COLUMN h3_cell VARCHAR")
    con.execute("ALTER TABLE track ADD COLUMN accuracy_m DOUBLE")
    rows = con.execute(
        "SELECT sighting_id, latitude, longitude FROM sightings "
        "WHERE latitude IS NOT NULL AND longitude IS NOT NULL"
    ).fetchall()
    if rows:
        cells = pa.table(
            {"sighting_id": [r[0] for r in rows], "h3_cell": [_h3_cell(r[1], r[2]) for r in rows]}
        )
        con.register("cells", cells)
        try:
            con.execute(
                "UPDATE sightings SET h3_cell = cells.h3_cell FROM cells "
                "WHERE sightings.sighting_id = cells.sighting_id"
            )
        finally:
            con.unregister("cells")


def _v3_to_v4(con: duckdb.DuckDBPyConnection) -> None:
    """Taxonomic rank of a sighting: species, or genus when congeners shared the score."""
    con.execute("ALTER TABLE sightings ADD COLUMN rank VARCHAR DEFAULT 'species'")
    con.execute("UPDATE sightings SET rank = 'species' WHERE rank IS NULL")


def _v4_to_v5(con: duckdb.DuckDBPyConnection) -> None:
    """Where a session's times came from and whether their zone is known; frames placed.

    Sessions written before version 5 stored every time as UTC without saying so; their
    source is unknown, and the zone is left unknown too rather than claimed.
    """
    con.execute("ALTER TABLE sessions ADD COLUMN time_source VARCHAR")
    con.execute("ALTER TABLE sessions ADD COLUMN time_zone VARCHAR")
    con.execute("ALTER TABLE sessions ADD COLUMN time_zone_known BOOLEAN")
    con.execute("ALTER TABLE sessions ADD COLUMN frames_positioned BIGINT")
    con.execute("UPDATE sessions SET time_source = 'unrecorded'")


# MIGRATIONS[i] takes a file from version i + 1 to i + 2, inside the opening transaction.
MIGRATIONS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (
    _v1_to_v2,
    _v2_to_v3,
    _v3_to_v4,
    _v4_to_v5,
)
assert len(MIGRATIONS) == SCHEMA_VERSION - 1

# Species rows for new species of a sightings relation (genus from a binomial name).
_SPECIES_FROM = """
SELECT species, any_value(common_name) AS common_name,
       CASE WHEN regexp_matches(species, '^[A-Z][a-z-]+ [a-z]') THEN split_part(species, ' ', 1)
       END AS genus, CAST(NULL AS VARCHAR) AS family
FROM {src} WHERE species IS NOT NULL AND species NOT IN (SELECT species FROM species)
GROUP BY species
"""

_TS, _STR, _F64, _I64 = pa.timestamp("us"), pa.string(), pa.float64(), pa.int64()
# Column types of the tables the writer fills, in the file's column order.
TABLES: dict[str, dict[str, pa.DataType]] = {
    "sessions": {
        "session_id": _STR, "source": _STR, "model_id": _STR, "model_sha256": _STR,
        "config_json": _STR, "host": _STR, "started_at": _TS, "ended_at": _TS, "status": _STR,
        "frames_read": _I64, "frames_analysed": _I64, "frames_dropped": _I64, "pid": _I64,
        "pid_started_at": _TS, "updated_at": _TS, "time_source": _STR, "time_zone": _STR,
        "time_zone_known": pa.bool_(), "frames_positioned": _I64,
    },
    "sightings": {
        "sighting_id": _STR, "session_id": _STR, "species": _STR, "common_name": _STR,
        "first_seen": _TS, "last_seen": _TS, "first_t": _F64, "last_t": _F64,
        "frames": pa.int32(), "peak_score": _F64, "mean_score": _F64, "latitude": _F64,
        "longitude": _F64, "model_id": _STR, "snapshot_path": _STR, "status": _STR,
        "updated_at": _TS, "peak_t": _F64, "h3_cell": _STR, "rank": _STR,
    },
    "track": {
        "session_id": _STR, "time": _TS, "t": _F64, "latitude": _F64, "longitude": _F64,
        "source": _STR, "accuracy_m": _F64,
    },
    "detections": {
        "session_id": _STR, "frame_index": _I64, "t": _F64, "time": _TS, "latitude": _F64,
        "longitude": _F64, "raw_species": pa.list_(_STR), "raw_scores": pa.list_(pa.float32()),
        "fused_species": pa.list_(_STR), "fused_scores": pa.list_(pa.float32()),
    },
    "species": {"species": _STR, "common_name": _STR, "genus": _STR, "family": _STR},
}  # fmt: skip
UPSERT_KEYS = {"sessions": "session_id", "sightings": "sighting_id", "species": "species"}
# Appended tables: the natural key that makes a journal replay idempotent.
APPEND_KEYS = {"track": ("session_id", "t"), "detections": ("session_id", "frame_index")}

SIGHTING_COLUMNS = list(TABLES["sightings"])
SESSION_COLUMNS = list(TABLES["sessions"])
TRACK_COLUMNS = list(TABLES["track"])
DETECTION_COLUMNS = list(TABLES["detections"])


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "different configuration" in text


def _holder(exc: Exception) -> str:
    """'PID 1234' of the process DuckDB names as the lock holder, or ''."""
    found = re.search(r"\(PID (\d+)\)", str(exc))
    return f"PID {found.group(1)}" if found else ""


class StoreLocked(FieldtoolError):
    """Another process held the database for longer than the timeout."""

    def __init__(self, message: str, holder: str = "") -> None:
        super().__init__(message)
        self.holder = holder  # "PID 1234" where DuckDB said, else ""


# A writer that has to wait for the file takes a turnstile (an flock on ``<db>.turnstile``)
# for up to TURNSTILE_PRIORITY_S: fieldtool readers start no new read while it is taken, so
# the writer waits for the reads in flight to end instead of for a gap between reads. A
# store keeps it across flush attempts; a holder that outlasts the window (an external
# reader) gets no more priority until the writer next gets in.
TURNSTILE = os.environ.get("FIELDTOOL_STORE_TURNSTILE", "1") != "0"  # "0": benchmark baseline
TURNSTILE_PRIORITY_S = 2.0


class _Turnstile:
    """Writer preference among fieldtool processes on one host (no-op without flock)."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(f"{path.name}.turnstile")
        self.fd: int | None = None
        self.claimed_at: float | None = None
        self.spent = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def open_for_readers(self) -> bool:
        """Reader: True unless a writer is waiting. Readers never create the file."""
        if fcntl is None or not TURNSTILE:
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return False
        finally:
            os.close(fd)  # closing drops the shared lock too
        return True

    def claim(self) -> None:
        """Writer: take the turnstile; it is given up by itself after the window."""
        if fcntl is None or not TURNSTILE:
            return
        with self._lock:
            if self.spent or self.claimed_at is not None:
                return
            try:
                if self.fd is None:
                    self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another writer has it, a reader is passing, or no write access
            self.claimed_at = time.monotonic()
            self._timer = threading.Timer(TURNSTILE_PRIORITY_S, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        """A holder outlasted the window (an external reader): stop keeping readers out."""
        with self._lock:
            self._release()
            self.spent = True

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.fd is not None and self.claimed_at is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.claimed_at = None

    def reset(self) -> None:
        """The writer got in: release, and claim again next time it has to wait."""
        with self._lock:
            self._release()
            self.spent = False

    def close(self) -> None:
        with self._lock:
            self._release()
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


def _open(
    path: Path, read_only: bool, timeout_s: float, gate: _Turnstile
) -> duckdb.DuckDBPyConnection:
    now = time.monotonic()
    deadline, bypass = now + timeout_s, now + TURNSTILE_PRIORITY_S
    delay, cap = 0.01, (0.25 if read_only else 0.05)
    while True:
        error: Exception | None = None
        # A reader honours the turnstile for one window at most, whatever the writer does.
        if not read_only or time.monotonic() > bypass or gate.open_for_readers():
            try:
                return duckdb.connect(str(path), read_only=read_only)
            # ConnectionException: this process already holds the file in the other mode.
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not _is_lock_error(exc):
                    raise FieldtoolError(f"{path}: cannot open database ({exc})") from None
                error = exc
            except duckdb.Error as exc:
                raise FieldtoolError(f"{path}: not a readable DuckDB file ({exc})") from None
        if not read_only:
            gate.claim()
        if time.monotonic() >= deadline:
            holder = _holder(error) if error else "a writer is waiting"
            by = f" ({holder})" if holder else ""
            raise StoreLocked(
                f"{path}: locked by another process{by} for {timeout_s:.1f} s", holder
            )
        # Jitter keeps retrying processes from falling into step with each other.
        time.sleep(min(delay * random.uniform(0.5, 1.0), max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, cap)


@contextmanager
def connect(
    path: Path | str, *, read_only: bool, timeout_s: float = 10.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the file for one short piece of work, retrying while another process holds it.

    ``timeout_s=0`` tries once. Raises :class:`StoreLocked` when the file stays locked.
    A writer that has to wait takes the turnstile, so fieldtool readers let it in first.
    """
    path = Path(path)
    if read_only and not path.is_file():
        raise FieldtoolError(f"{path}: sightings database not found")
    gate = _Turnstile(path)
    try:
        con = _open(path, read_only, timeout_s, gate)
    finally:
        gate.close()
    try:
        yield con
    finally:
        con.close()


@contextmanager
def _writing(store: SightingStore, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A store's write connection: its turnstile claim outlives a failed attempt."""
    con = _open(store.path, False, timeout_s, store._gate)
    store._gate.reset()
    try:
        yield con
    finally:
        con.close()


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
             utc_now(), note],
        )  # fmt: skip
        if decision == "relabel" and _has_table(con, "species"):
            new = _SPECIES_FROM.format(src="(SELECT ? AS species, '' AS common_name)")
            con.execute(f"INSERT INTO species {new}", [species])
    return review_id


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    return bool(found.fetchone()[0])


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
        deleted = con.execute("DELETE FROM detections WHERE time < ?", [cutoff]).fetchone()[0]
        con.execute("CHECKPOINT")
    return int(deleted)


def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> tuple[list[str], list[float]]:
    """The k best classes of a (C,) probability vector, best first."""
    order = np.argsort(-probs)[:k]
    return [names[i] for i in order], [float(probs[i]) for i in order]


# Writer processes -------------------------------------------------------------------
def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def process_started_at(pid: int) -> datetime | None:
    """Start time (UTC, naive) of process ``pid`` from /proc; None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    boot = _boot_time()
    fields = stat.rsplit(")", 1)[-1].split()
    if boot is None or len(fields) < 20:
        return None
    start = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return datetime.fromtimestamp(start, timezone.utc).replace(tzinfo=None)


def process_alive(pid: int, started_at: datetime | None = None) -> bool:
    """Whether ``pid`` on this host is still the process that started at ``started_at``.

    A missing or zombie process is dead; so is a live one whose start time differs by
    more than 2 s (the pid was reused). Without /proc only the pid is checked.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass
    if started_at is not None:
        actual = process_started_at(pid)
        if actual is not None and abs((actual - started_at).total_seconds()) > 2.0:
            return False
    return True


HOST = socket.gethostname()
_SAFE_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", HOST) or "host"
_PID = os.getpid()
_PID_STARTED = process_started_at(_PID)
_ACTIVE_JOURNALS: set[Path] = set()  # journals of stores alive in this process
_journal_count = 0


# Journal ------------------------------------------------------------------------------
def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_row(table: str, row: dict) -> dict:
    types = TABLES[table]
    out = {}
    for key, value in row.items():
        if key in types:
            if types[key] == _TS and isinstance(value, str):
                value = datetime.fromisoformat(value)
            out[key] = value
    return out


def _read_journal(path: Path) -> tuple[dict, dict[str, list[dict]], int]:
    """(header, rows per table, damaged lines) of a journal; upserts keep the last row."""
    header: dict = {}
    upserts: dict[str, dict[str, dict]] = {t: {} for t in UPSERT_KEYS}
    appends: dict[str, list[dict]] = {t: [] for t in APPEND_KEYS}
    damaged = 0
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            try:
                item = json.loads(line)
                if n == 0 and "journal" in item:
                    header = item
                    continue
                table, row = item["table"], _decode_row(item["table"], item["row"])
            except (ValueError, KeyError, TypeError):
                damaged += 1  # a line cut short by a kill
                continue
            if table in upserts:
                upserts[table][row[UPSERT_KEYS[table]]] = row
            elif table in appends:
                appends[table].append(row)
    rows: dict[str, list[dict]] = {t: list(r.values()) for t, r in upserts.items()}
    rows.update(appends)
    return header, rows, damaged


def _journal_owner(path: Path, header: dict) -> tuple[str | None, int, datetime | None]:
    """(host, pid, pid start) of a journal's writer, from its header or else its name."""
    if header:
        started = header.get("pid_started_at")
        started = datetime.fromisoformat(started) if started else None
        return header.get("host"), int(header.get("pid", -1)), started
    found = re.search(r"\.journal-(.+)-(\d+)-\d+\.jsonl$", path.name)
    if found is None:
        return None, -1, None
    host = HOST if found.group(1) == _SAFE_HOST else found.group(1)
    return host, int(found.group(2)), None


def _arrow(table: str, rows: list[dict] | list[tuple]) -> pa.Table:
    types = TABLES[table]
    if rows and isinstance(rows[0], dict):
        columns = {name: [r.get(name) for r in rows] for name in types}
    else:
        columns = {
            name: list(values) for name, values in zip(types, zip(*rows, strict=True), strict=True)
        }
    return pa.table({name: pa.array(columns[name], type=typ) for name, typ in types.items()})


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: list, *, idempotent: bool = False
) -> None:
    """Upsert (sessions, sightings, species) or append (track, detections) ``rows``."""
    if not rows:
        return
    con.register("incoming", _arrow(table, rows))
    try:
        if table in UPSERT_KEYS:
            con.execute(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM incoming")
        elif idempotent:
            on = " AND ".join(f"d.{k} IS NOT DISTINCT FROM i.{k}" for k in APPEND_KEYS[table])
            keys = ", ".join(f"i.{k}" for k in APPEND_KEYS[table])
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT DISTINCT ON ({keys}) i.* FROM incoming i "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} d WHERE {on})"
            )
        else:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
        if table == "sightings":
            con.execute(f"INSERT INTO species {_SPECIES_FROM.format(src='incoming')}")
    finally:
        con.unregister("incoming")


# Schema -------------------------------------------------------------------------------
def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The file's schema version; None for an empty file."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "meta" in tables:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None:
            return int(row[0])
    return 1 if tables & {"sessions", "sightings"} else None


def ensure_schema(con: duckdb.DuckDBPyConnection, path: Path | str) -> tuple[int, int]:
    """Create or migrate the schema and (re)create the views; returns (old, new) version."""
    from fieldtool.views import create_views

    found = schema_version(con)
    if found is not None and found > SCHEMA_VERSION:
        raise FieldtoolError(
            f"{path}: schema version {found} is newer than this fieldtool ({SCHEMA_VERSION})"
        )
    version = found or 1
    con.execute(SCHEMA_V1)  # a new file, or a v1 file missing a table
    for migrate in MIGRATIONS[version - 1 :]:
        migrate(con)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    create_views(con)
    return found or 0, SCHEMA_VERSION


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
        global _journal_count
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
        self._journaled = {"track": 0, "detections": 0}
        _journal_count += 1
        self.journal_path = self.path.with_name(
            f"{self.path.name}.journal-{_SAFE_HOST}-{_PID}-{_journal_count}.jsonl"
        )
        self._gate = _Turnstile(self.path)
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

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Schema, migrations, views and recovery, once, in the first write transaction."""
        con.execute("BEGIN TRANSACTION")
        old, new = ensure_schema(con, self.path)
        done = self._recover(con)
        con.execute("COMMIT")
        for journal in done:
            journal.unlink(missing_ok=True)
        if 0 < old < new:
            self._log(f"{self.path}: schema upgraded from version {old} to {new}")
        self._schema_ready = True

    def _recover(self, con: duckdb.DuckDBPyConnection) -> list[Path]:
        """Replay journals of dead writers on this host; end their sessions as interrupted.

        Returns the journals replayed (deleted once the transaction commits).
        """
        replayed: list[Path] = []
        for journal in sorted(
            self.path.parent.glob(f"{glob_escape(self.path.name)}.journal-*.jsonl")
        ):
            if journal in _ACTIVE_JOURNALS:
                continue
            try:
                header, rows, damaged = _read_journal(journal)
            except OSError as exc:
                self._log(f"{journal}: cannot read ({exc}); left alone")
                continue
            host, pid, started = _journal_owner(journal, header)
            if host != HOST:
                self._log(f"{journal}: written on host {host!r}; left alone")
                continue
            if process_alive(pid, started):
                continue  # a live writer's buffer
            for table, table_rows in rows.items():
                _insert(con, table, table_rows, idempotent=True)
            n = sum(len(r) for r in rows.values())
            extra = f", {damaged} damaged line(s) skipped" if damaged else ""
            self._log(f"{self.path}: recovered {n} rows from {journal.name}{extra}")
            replayed.append(journal)
        running = con.execute(
            "SELECT session_id, pid, pid_started_at FROM sessions "
            "WHERE status = 'running' AND host = ? AND pid IS NOT NULL",
            [HOST],
        ).fetchall()
        for session_id, pid, pid_started in running:
            if process_alive(int(pid), pid_started):
                continue
            con.execute(
                "UPDATE sessions SET status = 'interrupted', "
                "ended_at = coalesce(ended_at, updated_at, started_at) WHERE session_id = ?",
                [session_id],
            )
            closed = con.execute(
                "UPDATE sightings SET status = 'closed', updated_at = ? "
                "WHERE session_id = ? AND status = 'open'",
                [utc_now(), session_id],
            ).fetchone()[0]
            self._log(
                f"{self.path}: session {session_id} was left running by process {pid}, which "
                f"is gone: marked interrupted, {closed} open sighting(s) closed"
            )
        return replayed

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
        if info.status == "running":
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

    def _flush(self, rows: int, timeout: float, start: float) -> FlushResult:
        batch = self._batch()
        try:
            with _writing(self, timeout) as con:
                if not self._schema_ready:
                    self._prepare(con)
                con.execute("BEGIN TRANSACTION")
                for table, table_rows in batch.items():
                    _insert(con, table, table_rows)
                beat = sorted(self._running - {s[0] for s in batch["sessions"]})
                if beat:  # heartbeat of running sessions not rewritten in this batch
                    con.execute(
                        "UPDATE sessions SET updated_at = ? WHERE status = 'running' "
                        "AND session_id IN (SELECT unnest(?))",
                        [utc_now(), beat],
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
        sessions = [
            (s.session_id, s.source, s.model_id, s.model_sha256, s.config_json, s.host or HOST,
             s.started_at, s.ended_at, s.status, s.frames_read, s.frames_analysed,
             s.frames_dropped, _PID, _PID_STARTED, now, s.time_source, s.time_zone,
             s.time_zone_known, s.frames_positioned)
            for s in self._sessions.values()
        ]  # fmt: skip
        sightings = [
            (s.sighting_id, s.session_id, s.species, s.common_name, s.first_seen, s.last_seen,
             s.first_t, s.last_t, s.frames, s.peak_score, s.mean_score, s.latitude,
             s.longitude, s.model_id, s.snapshot_path, s.status, now, s.peak_t,
             _h3_cell(s.latitude, s.longitude), s.rank)
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
        lines: list[str] = []
        for table, key in UPSERT_KEYS.items():
            names = list(TABLES[table])
            for row in batch[table]:
                if row[names.index(key)] in self._dirty[table]:
                    lines.append(self._line(table, names, row))
            self._dirty[table].clear()
        for table in APPEND_KEYS:
            names = list(TABLES[table])
            lines += [
                self._line(table, names, row) for row in batch[table][self._journaled[table] :]
            ]
            self._journaled[table] = len(batch[table])
        if not lines:
            return
        new = not self.journal_path.exists()
        try:
            with self.journal_path.open("a", encoding="utf-8") as out:
                if new:
                    header = {"journal": 1, "db": self.path.name, "host": HOST, "pid": _PID,
                              "pid_started_at": _encode(_PID_STARTED)}  # fmt: skip
                    out.write(json.dumps(header) + "\n")
                out.write("".join(lines))
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            self._log(f"{self.journal_path}: cannot write the journal ({exc}); rows kept in memory")
            return
        _ACTIVE_JOURNALS.add(self.journal_path)

    @staticmethod
    def _line(table: str, names: list[str], row: tuple) -> str:
        data = {name: _encode(value) for name, value in zip(names, row, strict=True)}
        return json.dumps({"table": table, "row": data}) + "\n"

    def _drop_journal(self) -> None:
        for table in self._dirty:
            self._dirty[table].clear()
        self._journaled = {"track": 0, "detections": 0}
        _ACTIVE_JOURNALS.discard(self.journal_path)
        self.journal_path.unlink(missing_ok=True)

    def forget_source(self, source: str) -> list[str]:
        """Delete every earlier session of ``source`` and its rows; returns their ids."""
        with connect(self.path, read_only=False, timeout_s=self.lock_timeout_s) as con:
            if not self._schema_ready:
                self._prepare(con)
            ids = [r[0] for r in con.execute(
                "SELECT session_id FROM sessions WHERE source = ?", [source]).fetchall()]  # fmt: skip
            con.execute(
                "DELETE FROM reviews WHERE sighting_id IN (SELECT sighting_id FROM sightings "
                "WHERE session_id IN (SELECT unnest(?)))",
                [ids],
            )
            for table in ("detections", "track", "sightings", "sessions"):
                con.execute(f"DELETE FROM {table} WHERE session_id IN (SELECT unnest(?))", [ids])
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
            _ACTIVE_JOURNALS.discard(self.journal_path)  # orphaned: the next store replays it
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
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(ValueError, OSError):
            old[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in caught[:1]:
            handler = old.get(sig)
            if callable(handler):
                handler(sig, None)
            elif sig == signal.SIGINT and handler != signal.SIG_IGN:
                raise KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), sig)


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def config_json(data: dict) -> str:
    return json.dumps(data, default=str, sort_keys=True)
