"""A running station's status, as the dashboard finds it: fresh and running, or nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from fieldtool.station import running_status, status_file_of

NOW = datetime(2026, 6, 1, 12, 0, 0)


def _write(db, *, running: bool, updated: datetime) -> None:
    status = {"station": "ridge", "running": running, "updated_at": updated.isoformat() + "Z",
              "sources": [{"name": "cam1"}]}  # fmt: skip
    status_file_of(db).write_text(json.dumps(status), encoding="utf-8")


def test_only_a_fresh_running_station_counts(tmp_path):
    db = tmp_path / "station.duckdb"
    assert status_file_of(db) == tmp_path / "station_station.json"
    assert running_status(db, NOW) is None  # no file
    _write(db, running=True, updated=NOW - timedelta(seconds=5))
    status = running_status(db, NOW)
    assert status is not None and status["station"] == "ridge"
    _write(db, running=True, updated=NOW - timedelta(minutes=5))  # died without a last write
    assert running_status(db, NOW) is None
    _write(db, running=False, updated=NOW)  # ended
    assert running_status(db, NOW) is None
    status_file_of(db).write_text("{half", encoding="utf-8")  # being replaced
    assert running_status(db, NOW) is None
