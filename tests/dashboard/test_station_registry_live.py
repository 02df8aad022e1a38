"""The Live page shows a running station whose ``[station] status_file`` lies outside the
``<db stem>_station*.json`` names beside the database: the station's registry entry
(``<db stem>_stations/``) says where it is. A left entry shows nothing."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

from fieldtool.station.status import register_station
from fieldtool.store import SightingStore

from .test_station_live import APP


def test_the_live_page_finds_a_status_file_put_elsewhere(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "data" / "station.duckdb"
    db.parent.mkdir()
    SightingStore(db).close()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    status = {"station": "ridge", "running": True, "updated_at": now.isoformat() + "Z",
              "pid": os.getpid(), "db": str(db), "worker": {},
              "sources": [{"name": "feeder", "status": "running"}]}  # fmt: skip
    live = tmp_path / "run" / "ridge-live.json"
    live.parent.mkdir()
    live.write_text(json.dumps(status), encoding="utf-8")
    register_station(db, "ridge", live)
    # an entry left behind: its status is old (the station died without its last write)
    old = tmp_path / "run" / "pond-live.json"
    old.write_text(json.dumps({**status, "station": "pond",
                               "updated_at": (now - timedelta(minutes=5)).isoformat() + "Z"}),
                   encoding="utf-8")  # fmt: skip
    register_station(db, "pond", old)
    monkeypatch.setenv("FIELDTOOL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at = at.switch_page("fieldtool/dashboard/screens/live.py").run()
    assert not at.exception
    heads = [h.value for h in at.subheader]
    assert "Station ridge" in heads and "Station pond" not in heads, heads
    assert list(at.dataframe[0].value["Source"]) == ["feeder"]
