"""Opening the file: one writer or many readers, retried while another process holds it.

DuckDB lets one process hold a file read-write, or many read-only, never both. So no
process keeps the file open: a writer opens it for one short transaction, readers open it
read-only for one query. A writer or reader that meets a lock retries with backoff (and
jitter) for up to its timeout, then raises :class:`StoreLocked`. A writer that has to wait
takes a turnstile (``<db>.turnstile``) so that fieldtool readers let it in before starting
new reads.

Every connection gets :data:`DUCKDB_SETTINGS`: DuckDB never installs or loads extensions
by itself (from the network or the extension folder) when a query names one. What is not
a DuckDB file (a SQLite one would make DuckDB fetch its extension while connecting) never
reaches DuckDB, and a damaged file is refused before anything reads or writes it
(:mod:`fieldtool.store.files`).
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no turnstile
    fcntl = None  # type: ignore[assignment]  # the module is None there; checked before use

import duckdb
import pandas as pd

from fieldtool.store.files import check_before_open, check_opened, first_line, open_error
from fieldtool.types import FieldtoolError

# Set on each connection once open, not passed to duckdb.connect(config=...): DuckDB
# refuses a second connection to a file with other settings in one process ("different
# configuration", the same error as read-only beside read-write), so a reader would wait
# for as long as a plain duckdb.connect() of the user's stayed open in the same process.
# These options belong to the database instance that connections of one process share.
DUCKDB_SETTINGS: dict[str, bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def apply_settings(con: duckdb.DuckDBPyConnection) -> None:
    """Switch extension auto-install and auto-load off for ``con``'s database."""
    for name, value in DUCKDB_SETTINGS.items():
        try:
            con.execute(f"SET {name} = {str(value).lower()}")
        except duckdb.InvalidInputException as exc:
            # A connection sharing the instance locked the configuration (the SQL box
            # does, on a connection that got these settings here first): keep it.
            if "locked" not in str(exc):
                raise


def is_lock_error(exc: Exception) -> bool:
    """Whether a DuckDB error says another connection holds the file."""
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "different configuration" in text


def lock_holder(exc: Exception) -> str:
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


class Turnstile:
    """Writer preference among fieldtool processes on one host (no-op without flock)."""

    def __init__(self, path: Path) -> None:
        real = path.resolve()  # one turnstile per file, whatever name opened it
        self.path = real.with_name(f"{real.name}.turnstile")
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


def open_connection(
    path: Path, read_only: bool, timeout_s: float, gate: Turnstile
) -> duckdb.DuckDBPyConnection:
    """Connect, retrying with backoff while the file is held; a waiting writer claims
    ``gate``, a reader honours it for one window at most. Raises :class:`StoreLocked`,
    or FieldtoolError (one line naming ``path``) for what is not a sound DuckDB file."""
    maybe_short = check_before_open(path)
    if maybe_short and not read_only:
        # Shorter than its header says: look read-only first, so that a file cut short is
        # refused before a writer (or DuckDB's WAL replay) writes into it.
        open_connection(path, True, timeout_s, gate).close()
    now = time.monotonic()
    deadline, bypass = now + timeout_s, now + TURNSTILE_PRIORITY_S
    delay, cap = 0.01, (0.25 if read_only else 0.05)
    while True:
        error: Exception | None = None
        # A reader honours the turnstile for one window at most, whatever the writer does.
        if not read_only or time.monotonic() > bypass or gate.open_for_readers():
            try:
                con = duckdb.connect(str(path), read_only=read_only)
            # ConnectionException: this process already holds the file in the other mode.
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not is_lock_error(exc):
                    raise FieldtoolError(f"{path}: {open_error(exc)}") from None
                error = exc
            except duckdb.Error as exc:
                raise FieldtoolError(f"{path}: {open_error(exc)}") from None
            else:
                try:
                    apply_settings(con)
                    check_opened(con, path, maybe_short)
                except BaseException:
                    con.close()
                    raise
                return con
        if not read_only:
            gate.claim()
        if time.monotonic() >= deadline:
            holder = lock_holder(error) if error else "a writer is waiting"
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
    if read_only and path.is_dir():
        raise FieldtoolError(f"{path}: is a folder, expected a database file")
    if read_only and not path.is_file():
        raise FieldtoolError(f"{path}: sightings database not found")
    gate = Turnstile(path)
    try:
        con = open_connection(path, read_only, timeout_s, gate)
    finally:
        gate.close()
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
            raise FieldtoolError(f"{path}: query failed: {first_line(exc)}") from None
