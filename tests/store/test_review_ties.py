"""Reviews of one sighting stored at equal times: the later-written one is in force
(:data:`fieldtool.store.views.LATEST_REVIEW_SQL`), whatever their review ids; rows a SQL
user writes at equal times are ordered by review id, the same on every read."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.store import ReviewRow, SightingStore, add_reviews, connect, query
from fieldtool.store.reviews import undo_review
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.timebase import utc_now
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)
AT = datetime(2026, 6, 2, 10, 30)  # both reviews' time (a package's classificationTimestamp)
SPECIES = "Thuja plicata"
IDS = [f"s{i}" for i in range(12)]  # many sightings: a coin toss cannot pass them all


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0, status="finished"))
    for sid in IDS:
        store.record_sighting(Sighting(sid, "sess", SPECIES, "", T0, T0 + timedelta(seconds=5),
                                       0.0, 5.0, frames=3, peak_score=0.9, score_sum=2.4,
                                       status="closed"))  # fmt: skip
    store.close()
    return path


def in_force(db: Path) -> dict[str, str]:
    frame = query(db, f"SELECT sighting_id, decision FROM ({LATEST_REVIEW_SQL})")
    return dict(zip(frame["sighting_id"], frame["decision"], strict=True))


def test_of_a_reject_and_a_confirm_written_together_at_one_time_the_later_is_in_force(db):
    first, second = IDS[:6], IDS[6:]
    add_reviews(db, [r for sid in first for r in (ReviewRow(sid, "reject", SPECIES, "Ann", AT),
                                                  ReviewRow(sid, "confirm", SPECIES, "Bob", AT))]
                + [r for sid in second for r in (ReviewRow(sid, "confirm", SPECIES, "Bob", AT),
                                                  ReviewRow(sid, "reject", SPECIES, "Ann", AT))])  # fmt: skip
    force = in_force(db)
    assert {sid: force[sid] for sid in first} == dict.fromkeys(first, "confirm")
    assert {sid: force[sid] for sid in second} == dict.fromkeys(second, "reject")
    # the later one is stamped past the earlier by the least step; nothing else moves
    times = query(db, "SELECT decision, reviewed_at FROM reviews WHERE sighting_id = 's0'")
    stamped = {d: t.to_pydatetime() for d, t in zip(times["decision"], times["reviewed_at"],
                                                    strict=True)}  # fmt: skip
    assert stamped == {"reject": AT, "confirm": AT + timedelta(microseconds=1)}


def test_a_review_written_at_the_time_of_a_stored_one_is_in_force_over_it(db):
    for sid in IDS:
        add_reviews(db, [ReviewRow(sid, "confirm", SPECIES, "Bob", AT)])
    add_reviews(db, [ReviewRow(sid, "reject", SPECIES, "Ann", AT) for sid in IDS])
    assert in_force(db) == dict.fromkeys(IDS, "reject")
    # an undo takes back that later one, and the confirm is in force again
    _, now = undo_review(db, "s3", reviewer="Ann")
    assert now == "confirm" and in_force(db)["s3"] == "confirm"


def test_an_older_review_written_later_stays_older(db):
    """Only an equal time is moved: a time the package gives that is earlier is kept, and
    the newer review stays in force."""
    add_reviews(db, [ReviewRow("s1", "confirm", SPECIES, "Bob", AT)])
    add_reviews(db, [ReviewRow("s1", "reject", SPECIES, "Ann", AT - timedelta(seconds=1))])
    assert in_force(db)["s1"] == "confirm"
    kept = query(db, "SELECT reviewed_at FROM reviews WHERE decision = 'reject'")
    assert kept["reviewed_at"].iloc[0].to_pydatetime() == AT - timedelta(seconds=1)


def test_rows_a_sql_user_writes_at_one_time_are_ordered_by_review_id(db):
    with connect(db, read_only=False) as con:
        for review_id, sid, decision in (
            ("b", "s1", "reject"),
            ("a", "s1", "confirm"),
            ("a", "s2", "reject"),
            ("b", "s2", "confirm"),
        ):
            con.execute("INSERT INTO reviews VALUES (?, ?, ?, ?, 'sqluser', ?, '', NULL)",
                        [f"{review_id}-{sid}", sid, decision, SPECIES, AT])  # fmt: skip
    assert in_force(db) == {"s1": "reject", "s2": "confirm"}


def test_a_review_at_a_stored_ones_time_is_not_moved_past_a_later_review(db):
    """Defect (a reviewer's): a review stamped T beside a stored one at T was walked
    forward 1 µs at a time to a free time, past an undo stamped T+1 µs, and overrode it:
    an older review in force over a later one. A later stored review stays in force."""
    ahead = utc_now().replace(microsecond=0) + timedelta(days=30)  # past this clock's time
    later = {sid: ahead for sid in IDS}  # a package's times
    add_reviews(db, [ReviewRow(sid, "confirm", SPECIES, "Ann", later[sid]) for sid in IDS])
    for sid in IDS:
        undo_review(db, sid, reviewer="Me")  # stamped 1 µs past Ann's
    assert in_force(db) == {}
    add_reviews(db, [ReviewRow(sid, "reject", SPECIES, "Bob", later[sid]) for sid in IDS])
    assert in_force(db) == {}, "an older review took the undo's place"
    three = [ReviewRow("s0", d, SPECIES, "Cy", ahead + timedelta(days=1))
             for d in ("confirm", "reject", "confirm")]  # fmt: skip
    add_reviews(db, three)  # written together at one time: the last written is in force
    assert in_force(db)["s0"] == "confirm"
