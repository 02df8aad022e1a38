"""A merge whose COMMIT went through but whose checkpoint then failed (DuckDB 2.0:
"Transaction COMMIT succeeded and is durable, but the autocheckpoint failed", a disk that
filled up): the outcome is in the file, and the error says it was merged, not that it
failed (an error never claims what did not happen)."""

from __future__ import annotations

import duckdb
import pytest

from fieldtool.scale.merge import FileOutcome, merge, prepare_db
from fieldtool.store import maintenance, query
from fieldtool.types import FieldtoolError

DURABLE_ERROR = ("FATAL Error: Transaction COMMIT succeeded and is durable, but the "
                 "autocheckpoint failed: could not write file: No space left on device")


def test_a_durable_commit_whose_checkpoint_failed_is_said_merged(tmp_path, monkeypatch):
    db = tmp_path / "batch.duckdb"
    prepare_db(db, log=lambda message: None)
    real = maintenance.commit

    def commit_then_checkpoint_fails(con: duckdb.DuckDBPyConnection) -> str | None:
        assert real(con) is None  # the rows are in the file
        return DURABLE_ERROR

    monkeypatch.setattr(maintenance, "commit", commit_then_checkpoint_fails)
    outcomes = [FileOutcome("k1", "a.mp4", "c1", "s1", "failed", error="unreadable"),
                FileOutcome("k2", "b.mp4", "c2", "s1", "failed", error="unreadable")]  # fmt: skip
    with pytest.raises(FieldtoolError) as raised:
        merge(db, tmp_path / "parts", outcomes)
    message = str(raised.value)
    assert "\n" not in message and str(db) in message
    assert "a.mp4" in message and "recorded" in message and "No space left" in message
    assert "b.mp4" in message and "not" in message  # what was not recorded, named
    assert query(db, "SELECT path FROM batch_files").path.tolist() == ["a.mp4"]
