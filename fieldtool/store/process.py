"""Which process writes, and whether a writer process is still alive.

A writer records its host, pid, the boot it runs in (``/proc/sys/kernel/random/boot_id``)
and the pid's start in clock ticks since that boot (``/proc/PID/stat`` field 22), in
``sessions`` (``host``, ``pid``, ``boot_id``, ``pid_start_ticks``) and its journal's
header, so that the next writer on the same host can tell a live writer from a dead one,
also when the pid has since been reused. Neither depends on the wall clock: a board
without a real-time clock that syncs its clock later does not make a live writer look
dead. (``pid_started_at``, a wall time, is kept for people and for older rows.)

The pid is read when it is needed (:meth:`ProcessIdentity.current`), never at import:
workers forked after the import (multiprocessing, Ray) are other processes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

HOST = socket.gethostname()
SAFE_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", HOST) or "host"  # the host in file names


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def current_boot_id() -> str | None:
    """This boot's id (Linux: changes at every boot); None where unknown."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (after the command name); None where unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (/proc/PID/stat field 22)."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


def process_started_at(pid: int) -> datetime | None:
    """Start time (UTC, naive) of process ``pid`` from /proc; None where unknown.

    A wall time: it moves when the clock is stepped. Liveness uses the start ticks."""
    ticks = process_start_ticks(pid)
    boot = _boot_time()
    if boot is None or ticks is None:
        return None
    start = boot + ticks / os.sysconf("SC_CLK_TCK")
    return datetime.fromtimestamp(start, timezone.utc).replace(tzinfo=None)


def process_alive(
    pid: int,
    started_at: datetime | None = None,
    *,
    boot_id: str | None = None,
    start_ticks: int | None = None,
) -> bool:
    """Whether ``pid`` on this host is still the writer recorded as (boot, start ticks).

    A writer of another boot is dead, whatever runs under its pid now; in this boot, a
    missing or zombie process is dead, and so is one whose start ticks differ (the pid was
    reused). Records without a boot id (older ones) fall back to ``started_at``, a wall
    time compared within 2 s. Without /proc only the pid is checked.
    """
    same_boot = False
    if boot_id is not None:
        current = current_boot_id()
        if current is not None:
            if current != boot_id:
                return False
            same_boot = True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    except OSError:
        return False
    fields = _stat_fields(pid)
    if fields and fields[0] in ("Z", "X"):
        return False
    if same_boot and start_ticks is not None:
        ticks = process_start_ticks(pid)
        if ticks is not None:
            return ticks == start_ticks
    if started_at is not None:
        actual = process_started_at(pid)
        if actual is not None and abs((actual - started_at).total_seconds()) > 2.0:
            return False
    return True


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A writer process: host, pid, the pid's start time (a wall time), the boot it runs
    in and its start in clock ticks since that boot (None where unknown)."""

    host: str
    pid: int
    started_at: datetime | None
    boot_id: str | None = None
    start_ticks: int | None = None

    @classmethod
    def current(cls) -> ProcessIdentity:
        """This process, read now (after a fork, the child's own pid)."""
        pid = os.getpid()
        return cls(HOST, pid, process_started_at(pid), current_boot_id(), process_start_ticks(pid))

    @property
    def alive(self) -> bool:
        """Whether this writer still runs (on this host; see :func:`process_alive`)."""
        return process_alive(
            self.pid, self.started_at, boot_id=self.boot_id, start_ticks=self.start_ticks
        )

    @property
    def is_current(self) -> bool:
        """Whether this is still the calling process (False in a forked child)."""
        return self.pid == os.getpid()


@contextmanager
def signals_deferred() -> Iterator[None]:
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
