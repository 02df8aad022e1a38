"""A file-size limit (``ulimit -f``) on a writer must never damage what the file held.

DuckDB 2.0.1 corrupts the file when a catalog change is followed by ``close()`` under
RLIMIT_FSIZE; a writer opening an up-to-date file therefore changes no catalog entry
(:func:`fieldtool.store.schema.ensure_schema`). The writes run in a child process with the
limit set and SIGXFSZ ignored (so a write past the limit fails with EFBIG, as under a shell's
``ulimit -f`` with the signal handled), on a copy of a small database.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from fieldtool.store import SightingStore
from fieldtool.store.schema import SCHEMA_VERSION, ensure_schema
from fieldtool.types import Position, SessionInfo, SessionStatus, Sighting

T0 = datetime(2026, 6, 1, 9)

CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from datetime import datetime
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    """
)

STORE_WRITE = """
from fieldtool.store import SightingStore
from fieldtool.types import SessionInfo
T0 = datetime(2026, 6, 1, 10)
store = SightingStore(sys.argv[1], log=lambda m: print(m, file=sys.stderr))
store.record_session(SessionInfo("late", "cam1", "m", T0))
for i in range(60_000):
    store.record_detection("late", i, float(i), T0, None, (["Acer rubrum"] * 5, [0.5] * 5),
                           (["Acer rubrum"] * 5, [0.5] * 5))
result = store.close()
print("written" if result.written else f"unwritten {result.unwritten}")
"""

PLAIN_INSERT = """
import duckdb
con = duckdb.connect(sys.argv[1])
try:
    con.execute("INSERT INTO track SELECT 'late', TIMESTAMP '2026-06-01 10:00:00', i, 44.5, "
                "-123.3, 'gps', NULL FROM range(400000) t(i)")
except duckdb.Error as exc:
    print("insert failed:", exc, file=sys.stderr)
try:
    con.execute("CHECKPOINT")
except duckdb.Error as exc:
    print("checkpoint failed:", exc, file=sys.stderr)
try:
    con.close()
except duckdb.Error as exc:
    print("close failed:", exc, file=sys.stderr)
"""


def small_db(path: Path) -> int:
    """A finished session with 20 sightings, track and detections, written in five flushes
    (each a checkpoint: the free blocks this leaves are what the corruption needed); returns
    the sightings written."""
    store = SightingStore(path)
    info = SessionInfo("early", "cam0", "m", T0)
    for k in range(5):
        store.record_session(info)
        for i in range(4 * k, 4 * k + 4):
            store.record_sighting(
                Sighting(f"s{i}", "early", "Acer rubrum", "red maple", T0, T0, float(i),
                         float(i + 1), frames=3, peak_score=0.9, score_sum=2.4, status="closed")
            )  # fmt: skip
        for i in range(30 * k, 30 * k + 30):
            store.record_detection("early", i, float(i), T0, None, (["Acer rubrum"], [0.5]),
                                   (["Acer rubrum"], [0.5]))  # fmt: skip
            store.record_track("early", T0, float(i), Position(44.5, -123.3, 5.0, "gpx"))
        assert store.flush().written
    info.status = SessionStatus.FINISHED.value
    store.record_session(info)
    assert store.close().written
    return 20


LIMIT = 100 * 1024  # `ulimit -f 100`: below the database's size, as in the trial


def run_limited(body: str, db: Path) -> subprocess.CompletedProcess:
    """Run ``body`` in a child that may not write past :data:`LIMIT` bytes of any file."""
    assert db.stat().st_size > LIMIT
    limit = LIMIT
    return subprocess.run(
        [sys.executable, "-c", CHILD + body,
         str(db), str(limit)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


CATALOG_CHANGE = """
import duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE OR REPLACE VIEW zz AS SELECT 1")
con.close()
"""


def readable_sightings(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM sightings WHERE session_id = 'early'").fetchone()
    assert row is not None
    return int(row[0])


def catalog(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT view_name, sql, comment FROM duckdb_views() WHERE NOT internal "
            "UNION ALL SELECT table_name, sql, comment FROM duckdb_tables() ORDER BY 1"
        ).fetchall()


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "f.duckdb"
    small_db(path)
    return path


class Recording:
    """A connection that records every statement it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args):
        self.statements.append(" ".join(sql.split()))
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.con, name)


CHANGES = ("CREATE", "ALTER", "DROP", "COMMENT", "INSERT", "UPDATE", "DELETE")


def test_opening_an_up_to_date_file_changes_no_catalog_entry(db):
    before = catalog(db)
    with duckdb.connect(str(db)) as con:
        recording = Recording(con)
        con.execute("BEGIN TRANSACTION")
        assert ensure_schema(recording, db) == (SCHEMA_VERSION, SCHEMA_VERSION)  # type: ignore[arg-type]
        con.execute("COMMIT")
    changed = [s for s in recording.statements if s.upper().startswith(CHANGES)]
    assert recording.statements and not changed, changed
    assert catalog(db) == before


def test_a_view_that_differs_or_is_missing_is_made_again(db):
    original = catalog(db)
    with duckdb.connect(str(db)) as con:
        con.execute("DROP VIEW effort")
        con.execute("CREATE OR REPLACE VIEW species_per_day AS SELECT 1 AS x")
        con.execute(f"UPDATE meta SET value = ' {SCHEMA_VERSION}' WHERE key = 'schema_version'")
    damaged = catalog(db)
    assert "effort" not in {row[0] for row in damaged}
    SightingStore(db).close()
    assert catalog(db) == original  # both views as a new file has them, with their comments
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT value FROM meta").fetchall() == [(str(SCHEMA_VERSION),)]


def test_a_writer_past_the_file_size_limit_keeps_earlier_sightings_readable(db):
    done = run_limited(STORE_WRITE, db)
    assert "unwritten" in done.stdout or "write failed" in done.stderr, (done.stdout, done.stderr)
    assert readable_sightings(db) == 20, done.stderr


def test_a_plain_insert_and_failing_checkpoint_past_the_limit_keep_the_file_readable(db):
    done = run_limited(PLAIN_INSERT, db)
    assert "failed" in done.stderr, done.stderr
    assert readable_sightings(db) == 20


def test_the_database_in_these_tests_is_one_a_catalog_change_past_the_limit_damages(db):
    """The other limit tests would prove nothing on a file DuckDB does not damage."""
    run_limited(CATALOG_CHANGE, db)
    with pytest.raises(duckdb.Error, match="Corrupt|checksum"):
        readable_sightings(db)
