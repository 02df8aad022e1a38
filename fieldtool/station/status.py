"""A running station's status file: what it writes every ``status_interval_s`` and how a
reader (the dashboard's live page) finds it. Light: no model, no broker, no store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fieldtool.timebase import utc_now


def read_status(path: Path) -> dict[str, Any] | None:
    """The status a station wrote (None: none, or being replaced); for the dashboard."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


STALE_AFTER = timedelta(seconds=30)  # a status older than this: the station is not running


def status_file_of(db: Path) -> Path:
    """Where a station writing ``db`` keeps its status by default."""
    return db.parent / f"{db.stem}_station.json"


def running_status(db: Path, now: datetime | None = None) -> dict[str, Any] | None:
    """The status of a station running into ``db`` (its default status file), or None when
    there is none, it ended (``running`` false) or it is older than :data:`STALE_AFTER`
    (the station died without its last write)."""
    data = read_status(status_file_of(Path(db)))
    if data is None or not data.get("running"):
        return None
    try:
        updated = datetime.fromisoformat(str(data.get("updated_at", "")).removesuffix("Z"))
    except ValueError:
        return None
    return data if (now or utc_now()) - updated <= STALE_AFTER else None
