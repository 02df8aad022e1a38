"""A file that takes no write when a session starts (a full disk): the run stops there, and
its error says what was recorded — nothing, or what a journal holds — not "keeping rows in
memory" as a session that runs on would."""

from __future__ import annotations

import pytest

from fieldtool.config import load_config
from fieldtool.pipeline.steps import start_session
from fieldtool.store import FlushResult, SightingStore, StoreWriteError
from fieldtool.types import FieldtoolError
from tests.conftest import ColourClassifier, write_video


@pytest.mark.parametrize("journaled", [False, True])
def test_a_first_write_that_fails_says_what_is_recorded(tmp_path, labels, monkeypatch, journaled):
    from fieldtool.sources import VideoSource

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    journal = tmp_path / "s.duckdb.journal" if journaled else None
    result = FlushResult(False, 1, 0.0, unwritten=1, journal=journal,
                         memory_only=0 if journaled else 1, error="No space left on device")  # fmt: skip

    def full(timeout_s=None):  # type: ignore[no-untyped-def]
        raise StoreWriteError(f"{db}: write failed (No space left on device); keeping 1 rows "
                              "in memory only", result, logged=True)  # fmt: skip

    monkeypatch.setattr(store, "flush", full)
    video = write_video(tmp_path / "v.avi", [(0, 1.0)])
    config = load_config(None, {"source.uri": str(video), "store.db": str(db)})
    with pytest.raises(FieldtoolError) as caught:
        start_session(VideoSource(str(video)), ColourClassifier(labels), store, config)
    message = str(caught.value)
    assert "\n" not in message and "did not start" in message and "No space left" in message
    assert "in memory" not in message
    if journaled:
        assert "s.duckdb.journal" in message and "fieldtool recover" in message
    else:
        assert "nothing of it was recorded" in message
