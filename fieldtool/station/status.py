"""A running station's status file: what it writes every ``status_interval_s`` and how a
reader (the dashboard's live page) finds it. Light: no model, no broker, no store.

Each station writing a database keeps its own file, by default beside it,
``<db stem>_station-<station>.json``, so two stations on one database are both seen; a
running station also says where its file is (``[station] status_file`` may put it anywhere)
in an entry of the database's station registry, ``<db stem>_stations/<station>-<pid>.json``
(:func:`register_station`): the dashboard cannot ask the database, which the station holds.
Only a fresh, running status counts; an entry left by a killed station vouches for nothing."""

from __future__ import annotations

import json
import os
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fieldtool.store.process import HOST, current_boot_id, process_alive, process_start_ticks
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


def registry_folder(db: Path) -> Path:
    """The station registry of ``db``: one small JSON entry per running station,
    ``<station>-<pid>.json``, naming its status file (:func:`register_station`)."""
    return db.parent / f"{db.stem}_stations"


def register_station(db: Path, station: str, status_file: Path, *, pid: int | None = None) -> Path:
    """Say in ``db``'s registry that ``station`` (process ``pid``, default this one) writes
    its status to ``status_file``; returns the entry, which :func:`unregister_station`
    removes when the station stops. Entries of processes gone from this host (stations
    killed) are removed first. Atomic: a reader sees a whole entry or none."""
    folder = registry_folder(db)
    folder.mkdir(exist_ok=True)
    for path in folder.glob("*.json"):
        left = read_status(path)
        if left is not None and _gone(left):
            path.unlink(missing_ok=True)
    pid = os.getpid() if pid is None else pid
    entry = folder / f"{station}-{pid}.json"
    # host, boot and the pid's start: a pid reused after the station died is not it
    data = {"station": station, "pid": pid, "host": HOST, "boot_id": current_boot_id(),
            "pid_start_ticks": process_start_ticks(pid),
            "status_file": str(Path(status_file).absolute()),
            "db": str(Path(db).absolute()), "registered_at": utc_now().isoformat() + "Z"}  # fmt: skip
    tmp = entry.with_name(entry.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    except FileNotFoundError:  # the last station before removed the emptied folder: again
        folder.mkdir(exist_ok=True)
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, entry)
    return entry


def unregister_station(entry: Path) -> None:
    """Remove a station's registry entry (it stopped); the folder too once empty."""
    entry.unlink(missing_ok=True)
    with suppress(OSError):  # another station's entry is there (or it is gone already)
        entry.parent.rmdir()


def running_statuses(db: Path, now: datetime | None = None) -> list[dict[str, Any]]:
    """The status of every station running into ``db``, by station name, each with
    ``status_file`` (its path) added: the files its registry's entries name (an entry
    counts only for its own process's status, and not when that process is gone from this
    host) and the status files beside it, ``<db stem>_station*.json`` (those of a station
    from before the registry too), each file once. A status counts when it is of this
    database (a file without ``db``, of an older station, counts), ``running`` and not
    older than :data:`STALE_AFTER` (a station that died without its last write does not)."""
    db = Path(db)
    now = now or utc_now()
    candidates: list[Path] = []
    for path in sorted(registry_folder(db).glob("*.json")):
        entry = read_status(path)
        if entry is None or _gone(entry) or not entry.get("status_file"):
            continue
        file = Path(str(entry["status_file"]))
        data = read_status(file)
        if data is not None and data.get("pid") == entry.get("pid"):  # its run's status
            candidates.append(file)
    candidates += sorted(db.parent.glob(f"{_escaped(db.stem)}_station*.json"))
    found, seen = [], set()
    for path in candidates:
        if (key := _resolved(path)) in seen:
            continue
        seen.add(key)
        data = read_status(path)
        if data is None or not data.get("running") or not _fresh(data, now):
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


def _gone(entry: dict[str, Any]) -> bool:
    """Whether a registry entry's process is known gone: on this host and not running."""
    pid, boot, ticks = entry.get("pid"), entry.get("boot_id"), entry.get("pid_start_ticks")
    if entry.get("host") != HOST or not isinstance(pid, int):
        return False  # another host's process: its own stations tell
    return not process_alive(pid, boot_id=boot if isinstance(boot, str) else None,
                             start_ticks=ticks if isinstance(ticks, int) else None)  # fmt: skip


def _fresh(data: dict[str, Any], now: datetime) -> bool:
    try:
        updated = datetime.fromisoformat(str(data.get("updated_at", "")).removesuffix("Z"))
    except ValueError:
        return False
    return now - updated <= STALE_AFTER


def _same_file(a: Path, b: Path) -> bool:
    return _resolved(a) == _resolved(b)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _escaped(text: str) -> str:
    """``text`` as a literal part of a glob pattern."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)
