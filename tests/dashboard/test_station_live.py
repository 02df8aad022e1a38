"""The live page shows every source of a running station on one screen."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np

from fieldtool.station import status_file_of
from fieldtool.store import SightingStore

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "streamlit_app.py"


def test_the_live_page_lists_every_station_source(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "station.duckdb"
    SightingStore(db).close()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    sources = []
    for i in range(4):
        latest = tmp_path / "station_snapshots" / f"s{i}" / "latest.jpg"
        latest.parent.mkdir(parents=True)
        cv2.imwrite(str(latest), np.full((48, 64, 3), 60 * i, np.uint8))
        sources.append({
            "name": f"cam{i}", "status": "running", "live": True,
            "newest_frame_at": (now - timedelta(seconds=1)).isoformat() + "Z",
            "rate_fps": 2.0, "lag_s": 0.05, "lag_p95_s": 0.08, "dropped": i, "reconnects": 0,
            "gaps": 0, "open_sightings": 1,
            "last_sighting": {"species": "Vulpes vulpes", "event": "start"},
            "latest_jpeg": str(latest),
        })  # fmt: skip
    sources.append({"name": "elsewhere", "status": "running",
                    "latest_jpeg": "/etc/passwd"})  # fmt: skip  (outside the folder: not shown)
    status = {"station": "ridge", "running": True, "updated_at": now.isoformat() + "Z",
              "worker": {"frames": 40, "batches": 10, "mean_batch": 4.0, "max_batch": 8,
                         "max_wait_ms": 50}, "sources": sources}  # fmt: skip
    status_file_of(db, "ridge").write_text(json.dumps(status), encoding="utf-8")
    # a second station on the same database: its own status file, shown beside the first
    pond = {**status, "station": "pond", "db": str(db),
            "sources": [{"name": "pondcam", "status": "running"}]}  # fmt: skip
    status_file_of(db, "pond").write_text(json.dumps(pond), encoding="utf-8")
    monkeypatch.setenv("FIELDTOOL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at = at.switch_page("fieldtool/dashboard/screens/live.py").run()
    assert not at.exception
    assert [h.value for h in at.subheader][:2] == ["Station pond", "Station ridge"]
    tables = {str(t.value["Source"].iloc[0]): t.value for t in at.dataframe[:2]}
    table = tables["cam0"]
    assert list(table["Source"]) == ["cam0", "cam1", "cam2", "cam3", "elsewhere"]
    assert list(table["Dropped"])[:4] == [0, 1, 2, 3]
    assert list(tables["pondcam"]["Source"]) == ["pondcam"]
    assert len(at.image) == 4  # the four cameras' newest frames; none from outside
    assert not any("No session is running" in i.value for i in at.info)


def test_a_running_station_source_is_headed_by_its_name(tmp_path, monkeypatch):
    """Not by its URL's stem: a camera named cam on rtsp://.../walk is "cam"; a session
    without a name by the name ``fieldtool run`` gives its source."""
    from streamlit.testing.v1 import AppTest

    from fieldtool.types import SessionInfo

    db = tmp_path / "station.duckdb"
    store = SightingStore(db)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    store.record_session(SessionInfo("s1", "rtsp://127.0.0.1:8554/walk", "demo", started,
                                     source_name="cam"))  # fmt: skip
    store.record_session(SessionInfo("s2", "rtsp://127.0.0.1:8554/walk", "demo", started))
    store.close()
    monkeypatch.setenv("FIELDTOOL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at = at.switch_page("fieldtool/dashboard/screens/live.py").run()
    assert not at.exception
    heads = [h.value for h in at.subheader]
    assert "cam" in heads and "127.0.0.1-8554-walk" in heads and "walk" not in heads, heads
