"""The review queue's order: what teaches most first, newest first on ties or on request."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fieldtool.learn.queue import review_priority
from fieldtool.store import SightingStore, add_review
from fieldtool.store.locking import connect
from fieldtool.types import FieldtoolError, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)
CORVALLIS = (44.56, -123.30)
ATHENS = (33.95, -83.38)


def _sighting(i: int, species: str, where: tuple[float, float]) -> Sighting:
    return Sighting(
        f"s{i}", "sess", species, "", T0 + timedelta(seconds=10 * i),
        T0 + timedelta(seconds=10 * i + 5), 10.0 * i, 10.0 * i + 5, frames=5, peak_score=0.9,
        score_sum=4.0, latitude=where[0], longitude=where[1], status="closed",
    )  # fmt: skip


def _detections(store: SightingStore, i: int, raw: list[str], fused: list[str],
                scores: list[float]) -> None:  # fmt: skip
    for k in range(5):  # five frames inside sighting i's span
        t = 10.0 * i + k
        store.record_detection("sess", int(t * 10), t, T0 + timedelta(seconds=t), None,
                               (raw, scores), (fused, scores))  # fmt: skip


@pytest.fixture
def db(tmp_path):
    db = tmp_path / "q.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0))
    common = "Acer rubrum"
    # s0..s4: a common species at one place, confident, classifier and prior agree
    for i in range(5):
        store.record_sighting(_sighting(i, common, CORVALLIS))
        _detections(store, i, [common, "x"], [common, "x"], [0.95, 0.03])
    # s5: same place and species, but the prior overruled the classifier, close call
    store.record_sighting(_sighting(5, common, CORVALLIS))
    _detections(store, 5, ["Acer macrophyllum", common], [common, "Acer macrophyllum"],
                [0.5, 0.45])
    # s6: a rare species at a new place, confident
    store.record_sighting(_sighting(6, "Pinus taeda", ATHENS))
    _detections(store, 6, ["Pinus taeda", "x"], ["Pinus taeda", "x"], [0.97, 0.01])
    store.close()
    return db


def test_the_queue_puts_what_teaches_most_first(db):
    queue = review_priority(db)
    ids = [item.sighting_id for item in queue]
    assert ids[:2] == ["s6", "s5"]  # rare + new place (2), then disagreement + low margin
    s6, s5 = queue[0], queue[1]
    assert any("rare species (1 sighting)" in r for r in s6.reasons)
    assert any("new place" in r for r in s6.reasons)
    assert any("disagree on 100% of frames" in r for r in s5.reasons)
    assert any("low margin 0.05" in r for r in s5.reasons)
    # the confident common ones: s0 is the first in its cell (new place), the rest tie,
    # newest first
    assert ids[2] == "s0" and ids[3:] == ["s4", "s3", "s2", "s1"]
    assert all(item.reasons == () for item in queue[3:])


def test_reviewed_sightings_leave_the_queue_and_newest_first_is_available(db):
    add_review(db, "s6", "confirm", reviewer="ann")
    assert "s6" not in [item.sighting_id for item in review_priority(db)]
    newest = [item.sighting_id for item in review_priority(db, order="newest")]
    assert newest == ["s5", "s4", "s3", "s2", "s1", "s0"]
    with connect(db, read_only=True) as con:  # an open connection works the same
        assert [i.sighting_id for i in review_priority(con, limit=2)] == ["s5", "s0"]
    with pytest.raises(FieldtoolError, match="queue order"):
        review_priority(db, order="oldest")
