"""The dead-letter file of a target: events it did not take, one JSON object a line.

Appends are whole lines, flushed and fsynced (a crash loses at most the line being
written; a torn last line is skipped on reading). :meth:`DeadLetter.take` hands every
waiting entry back for a replay and empties the file; entries that fail again are
appended again by their sender. Used by one target from its own thread(s) under a lock.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class DeadLetter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        """Add one entry (JSON-able)."""
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())

    def entries(self) -> list[dict[str, Any]]:
        """Every entry waiting, oldest first (a torn or foreign line is skipped)."""
        with self._lock:
            return self._read()

    def _read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                found.append(entry)
        return found

    def take(self) -> list[dict[str, Any]]:
        """Every entry waiting, and the file emptied (the caller sends them again)."""
        with self._lock:
            found = self._read()
            self.path.unlink(missing_ok=True)
            return found

    def __len__(self) -> int:
        return len(self.entries())
