"""Which process writes, and whether a writer process is still alive.

A writer records its host, pid and the pid's start time (``sessions.host``, ``pid``,
``pid_started_at`` and its journal's header), so that the next writer on the same host
can tell a live writer from a dead one, also when the pid has since been reused.

The pid is read when it is needed (:meth:`ProcessIdentity.current`), never at import:
workers forked after the import (multiprocessing, Ray) are other processes.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A writer process: host, pid and the pid's start time (None where unknown)."""

    host: str
    pid: int
    started_at: datetime | None

    @classmethod
    def current(cls) -> ProcessIdentity:
        """This process, read now (after a fork, the child's own pid)."""
        pid = os.getpid()
        return cls(HOST, pid, process_started_at(pid))

    @property
    def is_current(self) -> bool:
        """Whether this is still the calling process (False in a forked child)."""
        return self.pid == os.getpid()
