"""A running station's status file: what it writes every ``status_interval_s`` and how a
reader (the dashboard's live page) finds it. Light: no model, no broker, no store.

Each station writing a database keeps its own file beside it,
``<db stem>_station-<station>.json``, so two stations on one database are both seen."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fieldtool.store.process import process_alive
from fieldtool.timebase import utc_now


def read_status(path: Path) -> dict[str, Any] | None:
    """The status a station wrote (None: none, or being replaced); for the dashboard."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


STALE_AFTER = timedelta(seconds=30)  # a status older than this: the station is not running


def status_file_of(db: Path, station: str) -> Path:
    """Where the station named ``station`` writing ``db`` keeps its status by default."""
    return db.parent / f"{db.stem}_station-{station}.json"


def running_statuses(db: Path, now: datetime | None = None) -> list[dict[str, Any]]:
    """The status of every station running into ``db`` (the status files beside it,
    ``<db stem>_station*.json``, whose ``db`` is this file; a file without one, of an older
    station, counts), by station name, each with ``status_file`` (its path) added. A
    status counts when ``running`` and not older than :data:`STALE_AFTER` (a station that
    died without its last write does not)."""
    db = Path(db)
    found = []
    for path in sorted(db.parent.glob(f"{_escaped(db.stem)}_station*.json")):
        data = read_status(path)
        if data is None or not data.get("running") or not _fresh(data, now or utc_now()):
            continue
        written_for = data.get("db")
        if written_for is not None and not _same_file(Path(str(written_for)), db):
            continue  # another database whose stem starts as this one's
        found.append({**data, "status_file": str(path)})
    return sorted(found, key=lambda s: (str(s.get("station", "")), s["status_file"]))


def alive(status: dict[str, Any], elsewhere_than: int | None = None) -> bool:
    """Whether the process that wrote a running status (:func:`running_statuses`) still
    runs (on this host: one that died within :data:`STALE_AFTER` does not count; a status
    without a pid: as fresh as it is); ``elsewhere_than``: and is not this pid."""
    pid = status.get("pid")
    if not isinstance(pid, int):
        return elsewhere_than is None
    return pid != elsewhere_than and process_alive(pid)


def _fresh(data: dict[str, Any], now: datetime) -> bool:
    try:
        updated = datetime.fromisoformat(str(data.get("updated_at", "")).removesuffix("Z"))
    except ValueError:
        return False
    return now - updated <= STALE_AFTER


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def _escaped(text: str) -> str:
    """``text`` as a literal part of a glob pattern."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)
