from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta

import pytest

from fieldtool.store import SCHEMA_VERSION, SIGHTING_COLUMNS, SightingStore, query
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Position, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)


def sighting(i: int, status: str = "open") -> Sighting:
    return Sighting(
        f"s{i}", "sess", "Acer rubrum", "red maple", T0, T0, float(i), float(i + 1),
        frames=3, peak_score=0.9, score_sum=2.4, latitude=44.0, longitude=-123.0, status=status,
    )  # fmt: skip


def test_rows_reach_the_file_and_sightings_upsert(tmp_path):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0))
    store.record_sighting(sighting(1))
    store.record_track("sess", T0, 0.0, Position(44.0, -123.0))
    store.record_track("sess", T0, 1.0, Position(44.0, -123.0, elevation_m=117.5))  # a drone's
    store.record_detection("sess", 0, 0.0, T0, None, (["a", "b"], [0.6, 0.3]), (["a"], [0.9]))
    assert store.flush().written
    store.record_sighting(sighting(1, "closed"))
    store.close()
    rows = query(db, "SELECT sighting_id, status, mean_score FROM sightings")
    assert rows.values.tolist() == [["s1", "closed", pytest.approx(0.8)]]
    assert query(db, "SELECT elevation_m FROM track ORDER BY t").elevation_m.tolist()[1] == 117.5
    det = query(db, "SELECT raw_species, fused_scores FROM detections").iloc[0]
    assert list(det.raw_species) == ["a", "b"] and list(det.fused_scores) == [pytest.approx(0.9)]
    assert query(db, "SELECT value FROM meta").iloc[0, 0] == str(SCHEMA_VERSION)


def test_query_uses_parameters_not_text(tmp_path):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_sighting(sighting(1))
    store.close()
    evil = "x' OR '1'='1"
    assert query(db, "SELECT * FROM sightings WHERE species = ?", [evil]).empty


def test_query_is_read_only(tmp_path):
    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    with pytest.raises(FieldtoolError, match="query failed"):
        query(db, "DELETE FROM sightings")


@pytest.mark.parametrize("make", ["missing_folder", "folder"])
def test_bad_db_paths(tmp_path, make):
    path = tmp_path / "no" / "s.duckdb" if make == "missing_folder" else tmp_path
    with pytest.raises(FieldtoolError) as err:
        SightingStore(path)
    assert str(path) in str(err.value)


def test_not_a_database(tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_text("hello")
    with pytest.raises(FieldtoolError, match="s.duckdb"):
        SightingStore(path)


def test_writer_keeps_rows_while_another_process_holds_the_file(tmp_path):
    """A reader in another process holds the file: the flush waits, keeps rows, catches up."""
    db = tmp_path / "s.duckdb"
    store = SightingStore(db, lock_timeout_s=0.3)
    store.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(db)!r}, read_only=True)
            print("held", flush=True)
            time.sleep(2.0)
            con.close()
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    logs: list[str] = []
    store._log = logs.append
    store.record_sighting(sighting(7, "closed"))
    result = store.flush(timeout_s=0.3)
    assert not result.written and result.rows == 1 and store.pending_rows == 1
    assert "keeping 1 rows" in logs[-1]
    holder.wait(timeout=10)
    time.sleep(0.1)
    assert store.flush().written
    assert query(db, "SELECT sighting_id FROM sightings").iloc[0, 0] == "s7"


def test_reviews_keep_the_prediction(tmp_path):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_sighting(sighting(1, "closed"))
    store.close()
    from fieldtool.store import add_review

    add_review(db, "s1", "relabel", reviewer="ana", species="Acer macrophyllum")
    add_review(db, "s1", "confirm", reviewer="ben")
    rows = query(db, "SELECT decision, species, reviewer FROM reviews ORDER BY reviewed_at")
    assert rows.values.tolist() == [
        ["relabel", "Acer macrophyllum", "ana"],
        ["confirm", "Acer rubrum", "ben"],
    ]
    assert query(db, "SELECT species FROM sightings").iloc[0, 0] == "Acer rubrum"


@pytest.mark.parametrize(
    ("sighting_id", "decision", "kw", "fragment"),
    [("s1", "maybe", {}, "expected one of"), ("s1", "relabel", {}, "needs the new species"),
     ("nope", "confirm", {}, "no sighting 'nope'")],
)  # fmt: skip
def test_bad_reviews_are_refused(tmp_path, sighting_id, decision, kw, fragment):
    from fieldtool.store import add_review

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_sighting(sighting(1, "closed"))
    store.close()
    with pytest.raises(FieldtoolError, match=fragment):
        add_review(db, sighting_id, decision, reviewer="ana", **kw)


# Schema versions and migrations ------------------------------------------------------
def make_v1_file(db) -> None:
    """A file as the first fieldtool wrote it: schema 1, a session left running, a sighting."""
    import duckdb

    from fieldtool.store import SCHEMA_V1

    con = duckdb.connect(str(db))
    con.execute(SCHEMA_V1)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        "INSERT INTO sessions VALUES ('old', 'walk.mp4', 'm', '', '{}', 'h', ?, NULL, "
        "'running', 10, 10, 0)",
        [T0],
    )
    con.execute(
        "INSERT INTO sightings VALUES ('s1', 'old', 'Acer rubrum', 'red maple', ?, ?, 1, 2, 3, "
        "0.9, 0.8, 44.5, -123.3, 'm', NULL, 'closed', ?)",
        [T0, T0, T0],
    )
    con.execute("INSERT INTO track VALUES ('old', ?, 0.0, 44.5, -123.3, 'gpx')", [T0])
    con.close()


def test_a_v1_file_is_migrated_on_open(tmp_path):
    import h3

    from fieldtool.store import MIGRATIONS

    db = tmp_path / "old.duckdb"
    make_v1_file(db)
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert len(MIGRATIONS) == SCHEMA_VERSION - 1
    assert logs == [f"{db}: schema upgraded from version 1 to {SCHEMA_VERSION}"]
    assert query(db, "SELECT value FROM meta").iloc[0, 0] == str(SCHEMA_VERSION)
    assert query(db, "SELECT * FROM species").values.tolist() == [
        ["Acer rubrum", "red maple", "Acer", None]
    ]
    row = query(db, "SELECT h3_cell, peak_t, status FROM sightings").iloc[0]
    assert row.h3_cell == h3.latlng_to_cell(44.5, -123.3, 8) and row.status == "closed"
    cols = set(query(db, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'sessions'")
               .column_name)  # fmt: skip
    assert {"pid", "pid_started_at", "updated_at"} <= cols
    assert query(db, "SELECT count(*) FROM track WHERE accuracy_m IS NULL").iloc[0, 0] == 1
    assert query(db, "SELECT count(*) FROM track WHERE elevation_m IS NULL").iloc[0, 0] == 1
    # A session left running by a pre-pid fieldtool cannot be checked: it stays as it was.
    assert query(db, "SELECT status FROM sessions").iloc[0, 0] == "running"
    # Opening again changes nothing and says nothing.
    SightingStore(db, log=logs.append).close()
    assert len(logs) == 1


def test_new_and_migrated_files_have_the_same_schema(tmp_path):
    new, old = tmp_path / "new.duckdb", tmp_path / "old.duckdb"
    SightingStore(new).close()
    make_v1_file(old)
    SightingStore(old).close()
    sql = ("SELECT table_name, column_name, data_type FROM duckdb_columns() "
           "ORDER BY table_name, column_index")  # fmt: skip
    assert query(new, sql).equals(query(old, sql))


def test_a_newer_schema_is_refused(tmp_path):
    import duckdb

    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(FieldtoolError, match=r"s.duckdb: schema version 99 is newer"):
        SightingStore(db)


# Views and retention -----------------------------------------------------------------
def test_views_apply_reviews_and_measure_effort(tmp_path):
    import h3

    from fieldtool.store import add_review
    from fieldtool.store.views import VIEW_NAMES

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0))
    for i, (species, lat) in enumerate([("Acer rubrum", 44.0), ("Quercus alba", 44.1),
                                        ("Pinus taeda", 44.2)]):  # fmt: skip
        s = sighting(i, "closed")
        s.species, s.latitude, s.first_seen = species, lat, T0 + timedelta(days=i % 2)
        store.record_sighting(s)
    for k in range(11):  # 10 steps of 0.001 degrees of latitude north, one per second
        store.record_track("sess", T0 + timedelta(seconds=k), float(k),
                           Position(44.0 + 0.001 * k, -123.0, 4.0, "gpx"))  # fmt: skip
    store.close()
    add_review(db, "s1", "reject", reviewer="ana")
    add_review(db, "s2", "confirm", reviewer="ana")
    add_review(db, "s2", "relabel", reviewer="ben", species="Pinus echinata", note="cones")
    views = query(db, "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal")
    assert set(views.view_name) == set(VIEW_NAMES) and views.comment.str.len().min() > 40
    reviewed = query(db, "SELECT * FROM sightings_reviewed ORDER BY sighting_id")
    assert reviewed.species.tolist() == ["Acer rubrum", "Pinus echinata"]  # s1 rejected
    assert reviewed.predicted_species.tolist() == ["Acer rubrum", "Pinus taeda"]
    assert reviewed.review.tolist()[1] == "relabel" and reviewed.reviewer.tolist()[1] == "ben"
    per_day = query(db, "SELECT day, species, sightings FROM species_per_day")
    assert [(str(d)[:10], s, n) for d, s, n in per_day.values] == [
        ("2026-06-01", "Acer rubrum", 1), ("2026-06-01", "Pinus echinata", 1)]  # fmt: skip
    cells = query(db, "SELECT h3_cell, species FROM species_per_cell ORDER BY species")
    assert cells.h3_cell.tolist()[0] == h3.latlng_to_cell(44.0, -123.0, 8)
    assert query(db, "SELECT count(*) FROM first_last_seen").iloc[0, 0] == 2
    assert query(db, "SELECT sightings FROM species_per_session").sightings.sum() == 2
    effort = query(db, "SELECT * FROM effort").iloc[0]
    expected = 10 * 2 * 6_371_008.8 * math.asin(math.sin(math.radians(0.001) / 2))
    assert effort.distance_m == pytest.approx(expected, rel=1e-6)  # about 1112 m
    assert effort.track_points == 11 and effort.surveyed_s == 10.0 and effort.species == 2
    assert (
        query(db, "SELECT genus FROM species WHERE species = 'Pinus echinata'").iloc[0, 0]
        == "Pinus"
    )


def test_prune_detections_keeps_sightings(tmp_path):
    from fieldtool.store import prune_detections

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    # a live source's session: its detections were written as their frames arrived (an age
    # by when rows were written: tests/store/test_prune_age.py)
    store.record_session(SessionInfo("sess", "rtsp://cam/1", "m", T0))
    store.record_sighting(sighting(1, "closed"))
    for day in range(10):
        store.record_detection("sess", day, float(day), T0 + timedelta(days=day), None,
                               (["a"], [0.5]), (["a"], [0.5]))  # fmt: skip
    store.close()
    now = T0 + timedelta(days=10)
    assert prune_detections(db, 3.5, now=now) == 7  # days 0..6 are older than 3.5 days
    assert query(db, "SELECT min(frame_index) FROM detections").iloc[0, 0] == 7
    assert prune_detections(db, 3.5, now=now) == 0
    assert query(db, "SELECT count(*) FROM sightings").iloc[0, 0] == 1
    with pytest.raises(FieldtoolError, match="older_than_days"):
        prune_detections(db, -1)


def test_prune_command(tmp_path, capsys):
    from fieldtool.cli import main

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_sighting(sighting(1, "closed"))
    old, new = utc_now() - timedelta(days=40), utc_now()
    store.record_session(SessionInfo("sess", "rtsp://cam/1", "m", old - timedelta(days=1)))
    for i, when in enumerate([old, old, new]):
        store.record_detection("sess", i, float(i), when, None, (["a"], [0.5]), (["a"], [0.5]))
    store.close()
    assert main(["prune", "--db", str(db), "--older-than-days", "30"]) == 0
    assert "2 detections written more than 30 days ago deleted" in capsys.readouterr().err
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 1
    assert query(db, "SELECT count(*) FROM sightings").iloc[0, 0] == 1
    assert main(["prune", "--db", str(tmp_path / "nope.duckdb"), "--older-than-days", "1"]) == 2
    assert "sightings database not found" in capsys.readouterr().err


def test_forget_source_removes_reviews_too(tmp_path):
    from fieldtool.store import add_review

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0))
    store.record_sighting(sighting(1, "closed"))
    store.close()
    add_review(db, "s1", "confirm", reviewer="ana")
    assert store.forget_source("walk.mp4") == ["sess"]
    assert query(db, "SELECT count(*) FROM reviews").iloc[0, 0] == 0


# Journal and recovery ----------------------------------------------------------------
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_writers_journal_and_running_session_are_recovered(tmp_path):
    """A journal left by a killed writer is replayed once; its session ends as interrupted."""
    import json

    from fieldtool.store import HOST

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    info = SessionInfo("sess", "walk.mp4", "m", T0)
    store.record_session(info)
    store.record_sighting(sighting(1, "closed"))
    store.record_sighting(sighting(2, "open"))
    store.close()
    pid = dead_pid()
    import duckdb

    con = duckdb.connect(str(db))  # as if the dead process had written them
    con.execute("UPDATE sessions SET pid = ?, pid_started_at = NULL, updated_at = ?",
                [pid, T0 + timedelta(minutes=5)])  # fmt: skip
    con.close()
    journal = db.with_name(f"{db.name}.journal-x-{pid}-1.jsonl")
    rows = [{"journal": 1, "host": HOST, "pid": pid, "pid_started_at": None}]
    closed = {c: v for c, v in zip(SIGHTING_COLUMNS, [
        "s3", "sess", "Quercus alba", "", T0.isoformat(), T0.isoformat(), 5.0, 6.0, 3, 0.9, 0.8,
        None, None, "m", None, "closed", T0.isoformat(), 5.5, None, "species", None], strict=True)}  # fmt: skip
    rows.append({"table": "sightings", "row": closed})
    for i in range(3):
        det = {"session_id": "sess", "frame_index": i, "t": i / 10, "time": T0.isoformat(),
               "raw_species": ["a"], "raw_scores": [0.5]}  # fmt: skip
        rows.append({"table": "detections", "row": det})
    text = "".join(json.dumps(r) + "\n" for r in rows)
    journal.write_text(text + text[:-40])  # written twice (a replay cut short), the end torn
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert not journal.exists()
    got = query(db, "SELECT sighting_id, status FROM sightings ORDER BY sighting_id")
    assert got.values.tolist() == [["s1", "closed"], ["s2", "closed"], ["s3", "closed"]]
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 3  # replay is idempotent
    session = query(db, "SELECT status, ended_at FROM sessions").iloc[0]
    assert session.status == "interrupted" and session.ended_at == T0 + timedelta(minutes=5)
    assert any("recovered" in line and "damaged line" in line for line in logs), logs
    assert any(f"left running by process {pid}" in line for line in logs), logs


def test_a_live_writers_session_is_left_alone(tmp_path):
    db = tmp_path / "s.duckdb"
    writer = SightingStore(db)
    writer.record_session(SessionInfo("sess", "walk.mp4", "m", T0))
    writer.flush()
    SightingStore(db).close()  # this process is alive: its session keeps running
    row = query(db, "SELECT status, pid, host FROM sessions").iloc[0]
    assert row.status == "running" and row.pid == os.getpid() and row.host


def _forked_writer(db: str, session_id: str, store: SightingStore | None, out) -> None:
    """In a forked child: write one session, report (pid, journal name, row pid)."""
    try:
        store = store or SightingStore(db)
        store.record_session(SessionInfo(session_id, "walk.mp4", "m", T0))
        assert store.flush().written
        name = store.journal_path.name
        store.close()
        row_pid = int(
            query(db, "SELECT pid FROM sessions WHERE session_id = ?", [session_id]).pid[0]
        )
        out.put((os.getpid(), name, row_pid))
    except BaseException as exc:  # reported to the parent, which fails the test
        out.put(repr(exc))


def test_a_forked_worker_writes_under_its_own_pid(tmp_path):
    """Workers forked after the import (multiprocessing, Ray) record and journal their own pid.

    Two children forked from one parent must not share a journal either (a journal is
    deleted by the store that wrote it: a shared one loses the other store's rows)."""
    import multiprocessing

    import fieldtool.store  # noqa: F401 - imported before the fork, as a worker pool does

    ctx = multiprocessing.get_context("fork")
    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    inherited = SightingStore(db)  # made before the fork, used in the child
    out = ctx.Queue()
    children = [
        ctx.Process(target=_forked_writer, args=(str(db), "a", None, out)),
        ctx.Process(target=_forked_writer, args=(str(db), "b", None, out)),
        ctx.Process(target=_forked_writer, args=(str(db), "c", inherited, out)),
    ]
    reports = []
    for child in children:
        child.start()
        reports.append(out.get(timeout=60))
        child.join(timeout=10)
        assert child.exitcode == 0, reports
    inherited.close()
    assert all(isinstance(r, tuple) for r in reports), reports
    assert sorted(pid for pid, _, _ in reports) == sorted(c.pid for c in children)
    for pid, journal, row_pid in reports:
        assert pid != os.getpid()
        assert row_pid == pid, (row_pid, pid)
        assert f"-{pid}-" in journal and f"-{os.getpid()}-" not in journal, journal
    assert len({journal for _, journal, _ in reports}) == len(reports)


def test_process_alive(tmp_path):
    from fieldtool.store import process_alive, process_started_at

    me = process_started_at(os.getpid())
    assert process_alive(os.getpid(), me)
    assert not process_alive(dead_pid())
    if me is not None:  # a reused pid: same number, another start time
        assert not process_alive(os.getpid(), me - timedelta(hours=1))


def test_a_signal_during_a_commit_is_delivered_after_it():
    """Ctrl-C (or SIGTERM via the CLI) while rows commit: they leave the buffer first."""
    import signal

    from fieldtool.store.writer import _signals_deferred

    done: list[str] = []
    # A process started in the background inherits SIGINT ignored; make it Python's Ctrl-C.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), _signals_deferred():
            signal.raise_signal(signal.SIGINT)
            done.append("committed and forgotten")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done == ["committed and forgotten"]


def test_readers_let_a_waiting_writer_in_first_for_one_window(tmp_path, monkeypatch):
    """A writer's turnstile keeps new fieldtool reads back, but never for long."""
    from fieldtool.store import locking
    from fieldtool.store.locking import Turnstile

    monkeypatch.setattr(locking, "TURNSTILE_PRIORITY_S", 0.5)
    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    gate = Turnstile(db)  # a writer that found the file busy
    gate.claim()
    assert gate.claimed_at is not None and not gate.open_for_readers()
    start = time.monotonic()
    assert query(db, "SELECT 1 AS one").one.tolist() == [1]  # waits, then goes anyway
    assert 0.45 <= time.monotonic() - start < 1.5
    time.sleep(0.2)  # the window has passed: the claim lapses by itself
    assert gate.spent and gate.open_for_readers()
    gate.claim()  # no new claim until the writer got in
    assert gate.claimed_at is None
    gate.reset()
    gate.claim()
    assert not gate.open_for_readers()
    gate.close()
    assert gate.open_for_readers()


def test_a_reader_waits_for_a_writer_in_the_same_process(tmp_path):
    """DuckDB refuses a read-only connection beside a read-write one in one process: retried."""
    import threading

    import duckdb

    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    held = duckdb.connect(str(db))
    threading.Timer(0.5, held.close).start()
    assert query(db, "SELECT count(*) AS n FROM sightings", timeout_s=5).n[0] == 0


def test_the_package_exports_its_names_lazily():
    """``from fieldtool.store import X`` works for every exported name; the views (which
    ``fieldtool export`` imports with every CLI call) load without DuckDB or pandas."""
    import importlib

    import fieldtool.store as package

    assert sorted(package.__all__) == sorted(package._MODULE_OF)
    for name, module in package._MODULE_OF.items():
        defined = getattr(importlib.import_module(f"fieldtool.store.{module}"), name)
        assert getattr(package, name) is defined, name
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018
    code = (
        "import sys, fieldtool.store.views, fieldtool.store; "
        "print(sorted(m for m in ('duckdb', 'pandas', 'pyarrow', 'h3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_connections_never_install_or_load_extensions(tmp_path):
    from fieldtool.store import connect

    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    settings = (
        "SELECT current_setting('autoinstall_known_extensions'), "
        "current_setting('autoload_known_extensions')"
    )
    for read_only in (True, False):
        with connect(db, read_only=read_only) as con:
            assert con.execute(settings).fetchone() == (False, False)
