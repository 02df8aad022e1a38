"""The sightings file shared by real processes: writer, dashboard, SQL user, external reader;
a writer killed with SIGKILL; ``fieldtool run`` ended with SIGTERM.

The multi-process runs use ``benchmarks/store_contention.py`` (the same workers print the
figures in docs/storage.md) and check its JSON summary.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from fieldtool.store import SightingStore, query
from tests.conftest import REPO_ROOT, write_video

BENCH = REPO_ROOT / "benchmarks" / "store_contention.py"


def run_bench(*args: str, timeout: float = 90.0) -> dict:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--json", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps({k: v for k, v in result.items() if k != "writer_logs"}, indent=1))
    return result


def assert_nothing_lost(r: dict) -> None:
    assert all(not errors for errors in r["errors"].values()), r["errors"]
    assert r["sightings_recorded"] >= 4
    assert not r["sightings_missing"] and not r["sightings_status_wrong"]
    # every row arrives; how many there are is the busy cores' pace (48 in 10 s beside two
    # busy loops), so the floor only says the writer wrote a good many
    assert r["detections_stored"] == r["detections_recorded"] >= 20
    assert r["track_stored"] == r["track_recorded"] >= 5
    assert r["reviews_stored"] == r["reviews_written"]
    assert r["final_written"] and not r["journal_left"]


def test_writer_dashboard_and_sql_user_at_once():
    """10 s: no error reaches anyone, every row arrives, closed sightings show within 5 s."""
    r = run_bench("--seconds", "10")
    assert_nothing_lost(r)
    assert r["reviews_written"] >= 1  # the SQL user's reviews are writes too
    # each reader got in again and again (how often is the cores' pace: 4 in 10 s beside
    # two busy loops)
    assert r["dashboard_refreshes"] >= 2 and r["sql_queries"] >= 2
    assert r["visible_after_s"]["n"] >= 3 and r["visible_after_s"]["max"] < 5.0


def test_an_external_reader_holding_the_file_stops_nothing():
    """A raw read-only connection holds the file 3 s: the writer buffers, says so, catches up."""
    r = run_bench("--seconds", "7", "--hold", "1.5:3")
    assert_nothing_lost(r)
    assert r["held_s"] >= 2.9 and r["flushes_deferred"] >= 1
    logs = r["writer_logs"]
    assert any("held by another process (PID" in line and "journal" in line for line in logs), logs
    assert any("free again after" in line for line in logs), logs
    # one 0.5 s retry, then single tries: the writer never waits the hold out (a bound
    # far from the 3 s hold, not a pace: busy cores stretched the 0.5 s to 1.2 s once)
    assert r["writer_stall_max_s"] < 0.6 * r["held_s"]


# SIGKILL -------------------------------------------------------------------------------
SESSION_SCRIPT = """
import json, sys, time
from datetime import datetime
from fieldtool.config import Config, SmoothingConfig
from fieldtool.pipeline import run_session
from fieldtool.tracks import FixedPosition
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore
from fieldtool.types import Label, LabelSet
from tests.conftest import ColourClassifier

class Paced(ColourClassifier):  # about 30 analysed frames per second, like a slow model
    def predict(self, images, prepared=None):
        time.sleep(0.03 * len(images))
        return super().predict(images)

labels = LabelSet((Label(0, "Acer rubrum", "red maple"), Label(1, "Quercus alba", "white oak"),
                   Label(2, "Pinus taeda", "loblolly pine"), Label(3, "background", "", is_background=True)))
db, video = sys.argv[1], sys.argv[2]
cfg = Config()
cfg.smoothing = SmoothingConfig(tau_s=0.3, enter=0.5, exit=0.3, min_duration_s=0.5, max_gap_s=0.5)
cfg.store.db, cfg.source.sample_fps, cfg.model.batch_size = db, 10.0, 4
store = SightingStore(db, flush_interval_s=1.0)
report = lambda p: print(json.dumps({"frames": p.frames_analysed, "fps": p.analysis_fps}), flush=True)
run_session(VideoSource(video, sample_fps=10, start_time=datetime(2026, 6, 1, 9)), Paced(labels),
            store, cfg, positions=FixedPosition(44.5, -123.3), progress=report, progress_interval_s=0.0)
"""


def test_sigkill_mid_session_loses_at_most_the_last_flush_interval(tmp_path):
    schedule = [(0, 1.5), (3, 1.0), (1, 1.5), (3, 1.0), (2, 1.5), (3, 1.0)] * 8  # 60 s
    video = write_video(tmp_path / "walk.avi", schedule)
    db = tmp_path / "s.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-c", SESSION_SCRIPT, str(db), str(video)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    reports: list[dict] = []
    reader = threading.Thread(
        target=lambda: [reports.append(json.loads(line)) for line in proc.stdout], daemon=True
    )
    reader.start()
    seen: set[str] = set()  # closed sightings a reader saw before the kill
    start = time.monotonic()
    # generous: on busy cores the session's start (imports, model) alone took 40 s
    while time.monotonic() - start < 150 and proc.poll() is None:
        if db.exists():
            rows = query(db, "SELECT sighting_id FROM sightings WHERE status = 'closed'")
            seen |= set(rows.sighting_id)
        # killed once a progress report has been read too (on busy cores the reader
        # thread can trail the session), so the frames analysed before the kill are known
        if len(seen) >= 2 and reports and time.monotonic() - start > 4.0:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    proc.kill()  # SIGKILL
    proc.wait(timeout=10)
    reader.join(timeout=30)
    analysed, fps = reports[-1]["frames"], reports[-1]["fps"]

    # The file opens read-only as it is, with everything flushed before the kill.
    stored = query(db, "SELECT sighting_id, status FROM sightings")
    status = dict(zip(stored.sighting_id, stored.status, strict=True))
    assert all(status.get(s) == "closed" for s in seen)
    detections = int(query(db, "SELECT count(*) FROM detections").iloc[0, 0])
    lost = analysed - detections  # frames analysed (reported) minus frames stored
    print(f"analysed {analysed} at {fps:.0f}/s, stored {detections}, lost {lost}")
    assert lost <= fps * 1.5 + 2 * 4  # one flush interval (1 s) and slack, a batch in flight
    assert query(db, "SELECT status FROM sessions").iloc[0, 0] == "running"

    # The next store on this host ends the dead process's session without help.
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    session = query(db, "SELECT status, ended_at FROM sessions").iloc[0]
    assert session.status == "interrupted" and session.ended_at is not None
    assert query(db, "SELECT count(*) FROM sightings WHERE status = 'open'").iloc[0, 0] == 0
    assert any("marked interrupted" in line for line in logs), logs


HELD_WRITER = """
import sys, time, uuid
from datetime import datetime
from fieldtool.store import SightingStore
from fieldtool.types import SessionInfo, Sighting
db = sys.argv[1]
store = SightingStore(db, flush_interval_s=0.2)
store.record_session(SessionInfo("held", "cam0", "m", datetime(2026, 6, 1, 9)))
store.flush()
print("ready", flush=True)
sys.stdin.readline()  # the test holds the file now
while True:
    t = datetime(2026, 6, 1, 9)
    s = Sighting(uuid.uuid4().hex, "held", "Acer rubrum", "", t, t, 0.0, 1.0, 3, 0.9, 2.5,
                 status="closed")
    store.record_sighting(s)
    store.flush(timeout_s=0.5)
    print(s.sighting_id, flush=True)
    time.sleep(0.1)
"""


def test_sigkill_while_the_file_is_held_keeps_closed_sightings(tmp_path):
    """Sightings closed while a reader held the file survive a SIGKILL through the journal."""
    db = tmp_path / "s.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-c", HELD_WRITER, str(db)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    hold = duckdb.connect(str(db), read_only=True)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    closed = [proc.stdout.readline().strip() for _ in range(4)]
    proc.kill()
    proc.wait(timeout=10)
    journals = list(tmp_path.glob("s.duckdb.journal-*.jsonl"))
    assert len(journals) == 1
    assert query(db, "SELECT count(*) FROM sightings").iloc[0, 0] == 0  # none reached the file
    hold.close()
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    got = query(db, "SELECT sighting_id, status FROM sightings")
    assert set(got.sighting_id) >= set(closed) and set(got.status) == {"closed"}
    assert not journals[0].exists()
    assert query(db, "SELECT status FROM sessions").iloc[0, 0] == "interrupted"
    assert any("recovered" in line for line in logs), logs


# SIGTERM -------------------------------------------------------------------------------
def test_sigterm_ends_fieldtool_run_cleanly(tmp_path: Path, tiny_model_dir: Path):
    video = write_video(tmp_path / "long.avi", [(0, 1200.0)])  # minutes of work: never ends
    db = tmp_path / "s.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldtool.cli", "run", str(video), "--model", str(tiny_model_dir),
         "--db", str(db), "--lat", "44.5", "--lon", "-123.3", "--quiet", "--tiles", "3",
         "--set", "smoothing.enter=0.05", "--set", "smoothing.exit=0.01",
         "--set", "store.flush_interval_s=0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    start = time.monotonic()
    while time.monotonic() - start < 60 and proc.poll() is None:
        open_ = "SELECT count(*) FROM sightings WHERE status = 'open'"
        if db.exists() and query(db, open_).iloc[0, 0] > 0:
            break  # a sighting is open: SIGTERM must close and write it
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    session = query(db, "SELECT * FROM sessions").iloc[0]
    assert session.status == "interrupted" and session.ended_at is not None
    assert 0 < session.frames_analysed < 6000
    sightings = query(db, "SELECT status FROM sightings")
    assert len(sightings) >= 1 and set(sightings.status) == {"closed"}
    detections = query(db, "SELECT count(*) FROM detections").iloc[0, 0]
    assert detections == session.frames_analysed  # everything buffered was written
    assert not list(tmp_path.glob("s.duckdb.journal-*"))
