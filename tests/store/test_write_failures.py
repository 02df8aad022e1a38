"""Write errors that are not a lock (a full disk, a damaged file): the store keeps the rows
where it says it keeps them, reports the first error once, and ``close()`` always returns.

The failures are injected (an insert that raises ``duckdb.IOException``, a journal that
cannot be written), so these run everywhere; tests/faults/test_store_faults.py fills a
real file system.
"""

from __future__ import annotations

import errno
import json
from datetime import datetime

import duckdb
import pytest

from fieldtool.store import SightingStore, journal, query, writer
from fieldtool.store.schema import insert_rows
from fieldtool.types import FieldtoolError, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)
CORRUPT = "IO Error: Corrupt database file: computed checksum 1 does not match stored checksum 2"


def sighting(i: int, status: str = "closed") -> Sighting:
    return Sighting(f"s{i}", "sess", "Acer rubrum", "red maple", T0, T0, float(i), float(i + 1),
                    frames=3, peak_score=0.9, score_sum=2.4, status=status)  # fmt: skip


def detect(store: SightingStore, *frames: int) -> None:
    for i in frames:
        store.record_detection("sess", i, float(i), T0, None, (["a"], [0.5]), (["a"], [0.5]))


def failing_inserts(monkeypatch: pytest.MonkeyPatch) -> None:
    def insert(con, table, rows, **kwargs):
        raise duckdb.IOException(CORRUPT)

    monkeypatch.setattr(writer, "insert_rows", insert)


def full_journal(monkeypatch: pytest.MonkeyPatch, times: int | None = None) -> None:
    """Journal appends fail with ENOSPC (``times``: only the first so many)."""
    real = journal.append_journal
    left = [times]

    def append(*args, **kwargs):
        if left[0] is None or left[0] > 0:
            if left[0] is not None:
                left[0] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(journal, "append_journal", append)


def journal_rows(path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if "table" in line]


def new_store(tmp_path, logs: list[str], **kwargs) -> SightingStore:
    store = SightingStore(tmp_path / "s.duckdb", log=logs.append, **kwargs)
    store.record_session(SessionInfo("sess", "cam0", "m", T0))
    assert store.flush().written
    return store


def test_a_failed_write_is_journaled_reported_once_and_retried(tmp_path, monkeypatch):
    logs: list[str] = []
    store = new_store(tmp_path, logs)
    failing_inserts(monkeypatch)
    store.record_sighting(sighting(1))
    detect(store, 0, 1, 2)
    with pytest.raises(FieldtoolError) as err:
        store.flush()
    message = str(err.value)
    assert "Corrupt database file" in message and "aborted" not in message, message
    assert str(store.path) in message and "\n" not in message
    assert store.journal_path.name in message, message  # where the rows are, truly
    assert store.journal_path.exists()
    assert sorted(r["table"] for r in journal_rows(store.journal_path)) == [
        "detections", "detections", "detections", "sightings"]  # fmt: skip
    # The cleanup path flushes again: the same failure is not raised a second time.
    again = store.flush()
    assert not again.written and again.unwritten == 4
    assert again.journal == store.journal_path and again.memory_only == 0
    assert again.error is not None and "Corrupt database file" in again.error
    monkeypatch.undo()  # the file can be written again
    done = store.flush()
    assert done.written and done.rows == 4 and done.unwritten == 0 and done.journal is None
    assert not store.journal_path.exists()
    assert query(store.path, "SELECT count(*) FROM detections").iloc[0, 0] == 3
    assert any("write failed" in line for line in logs), logs
    assert any("written again" in line for line in logs), logs
    assert store.close().written


def test_close_never_raises_and_says_the_rows_are_in_memory_only(tmp_path, monkeypatch):
    logs: list[str] = []
    store = new_store(tmp_path, logs)
    failing_inserts(monkeypatch)
    full_journal(monkeypatch)
    store.record_sighting(sighting(1, "open"))
    detect(store, 0, 1, 2)
    with pytest.raises(FieldtoolError) as err:
        store.flush()
    assert "memory only" in str(err.value) and "No space left on device" in str(err.value)
    assert not store.journal_path.exists()
    result = store.close()  # never raises: says what it could not keep
    assert not result.written and result.unwritten == 4 and result.memory_only == 4
    assert result.journal is None and "Corrupt database file" in (result.error or "")
    assert result.journal_error == "No space left on device"
    assert "memory only" in logs[-1] and "4 rows" in logs[-1], logs[-1]


def test_close_journals_what_it_cannot_write(tmp_path, monkeypatch):
    """The first failure happens in close(): no exception, the rows are in the journal."""
    logs: list[str] = []
    store = new_store(tmp_path, logs)
    failing_inserts(monkeypatch)
    store.record_sighting(sighting(1))
    result = store.close()
    assert not result.written and result.unwritten == 1
    assert result.journal is not None and result.journal.exists()
    assert [r["table"] for r in journal_rows(result.journal)] == ["sightings"]
    assert result.journal.name in logs[-1], logs


def test_a_journal_that_failed_is_written_in_full_next_time(tmp_path, monkeypatch):
    logs: list[str] = []
    store = new_store(tmp_path, logs)
    failing_inserts(monkeypatch)
    full_journal(monkeypatch, times=1)
    store.record_sighting(sighting(1))
    detect(store, 0, 1)
    with pytest.raises(FieldtoolError):
        store.flush()
    detect(store, 2)
    result = store.flush()  # the journal takes rows again: all of them, not just the new one
    assert not result.written and result.memory_only == 0
    assert len(journal_rows(store.journal_path)) == 4


def test_memory_only_rows_are_bounded_and_the_loss_is_said(tmp_path, monkeypatch):
    logs: list[str] = []
    store = new_store(tmp_path, logs, max_memory_rows=10)
    failing_inserts(monkeypatch)
    full_journal(monkeypatch)
    store.record_sighting(sighting(1))
    detect(store, *range(25))
    with pytest.raises(FieldtoolError):
        store.flush()
    result = store.flush()
    assert result.dropped == 15 and result.unwritten == 11  # the sighting is never dropped
    assert any("dropped the 15 oldest" in line for line in logs), logs
    monkeypatch.undo()
    assert store.close().written
    frames = query(store.path, "SELECT frame_index FROM detections ORDER BY 1").frame_index
    assert frames.tolist() == list(range(15, 25))  # the newest ones were kept


def test_an_insert_error_is_not_hidden_by_the_cleanup():
    """A failed insert aborts the transaction; unregistering must not replace its error."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE track (session_id VARCHAR, time TIMESTAMP, t DOUBLE CHECK (t < 100), "
        "latitude DOUBLE, longitude DOUBLE, source VARCHAR, accuracy_m DOUBLE, elevation_m DOUBLE)"
    )
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(duckdb.ConstraintException):
        insert_rows(con, "track", [("sess", T0, 500.0, 44.0, -123.0, "gps", None, None)])
    con.close()
