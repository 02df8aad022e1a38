from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import datetime

import pytest

from fieldtool.store import SCHEMA_VERSION, SightingStore, query
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
    store.record_detection("sess", 0, 0.0, T0, None, (["a", "b"], [0.6, 0.3]), (["a"], [0.9]))
    assert store.flush().written
    store.record_sighting(sighting(1, "closed"))
    store.close()
    rows = query(db, "SELECT sighting_id, status, mean_score FROM sightings")
    assert rows.values.tolist() == [["s1", "closed", pytest.approx(0.8)]]
    assert query(db, "SELECT count(*) FROM track").iloc[0, 0] == 1
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
