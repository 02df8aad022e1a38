"""The review in force (:data:`fieldtool.store.views.LATEST_REVIEW_SQL`) against what a new
user met: earlier reviews stamped later than this clock (a package's timestamps in the
future, a laptop clock behind), decisions written by SQL in another case, and reviews that
go with sessions a ``--replace`` deletes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.store import ReviewRow, SightingStore, add_review, add_reviews, connect, query
from fieldtool.store.reviews import undo_review
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.timebase import utc_now
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)


def sighting(sid: str, species: str = "Thuja plicata", session: str = "sess") -> Sighting:
    return Sighting(sid, session, species, "", T0, T0 + timedelta(seconds=5), 0.0, 5.0,
                    frames=3, peak_score=0.9, score_sum=2.4, status="closed",
                    snapshot_path=f"snaps/{sid}.jpg")  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0, status="finished"))
    for sid in ("s1", "s2", "s3"):
        store.record_sighting(sighting(sid))
    store.close()
    (tmp_path / "snaps").mkdir()
    for sid in ("s1", "s2", "s3"):
        (tmp_path / "snaps" / f"{sid}.jpg").write_bytes(b"not really a jpeg " + sid.encode())
    return path


def in_force(db: Path) -> dict[str, tuple[str, str]]:
    frame = query(db, f"SELECT sighting_id, decision, reviewer FROM ({LATEST_REVIEW_SQL})")
    return {r.sighting_id: (r.decision, r.reviewer) for r in frame.itertuples(index=False)}


# 1. A review made now is the newest of its sighting ----------------------------------


def test_a_new_review_is_in_force_over_an_earlier_one_stamped_in_the_future(db, caplog):
    later = utc_now() + timedelta(days=365)  # a package's classificationTimestamp
    add_reviews(db, [ReviewRow("s1", "confirm", "Thuja plicata", "Ann", later)])
    assert in_force(db)["s1"] == ("confirm", "Ann")
    with caplog.at_level("WARNING", logger="fieldtool"):
        add_review(db, "s1", "reject", reviewer="Bob")
    assert in_force(db)["s1"] == ("reject", "Bob")
    stamped = query(db, "SELECT max(reviewed_at) AS t FROM reviews WHERE reviewer = 'Bob'")
    assert stamped["t"].iloc[0].to_pydatetime() == later + timedelta(microseconds=1)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(said) == 1 and "s1" in said[0] and "Ann" in said[0], said
    # Undo takes Bob's reject back: Ann's confirm again, not the other way round.
    _, now = undo_review(db, "s1", reviewer="Bob")
    assert now == "confirm"
    assert in_force(db)["s1"][0] == "confirm"


def test_a_review_after_one_in_the_past_keeps_this_clock_and_says_nothing(db, caplog):
    with caplog.at_level("WARNING", logger="fieldtool"):
        add_review(db, "s2", "confirm", reviewer="Ann")
        before = utc_now()
        add_review(db, "s2", "reject", reviewer="Bob")
    assert in_force(db)["s2"] == ("reject", "Bob")
    stamped = query(db, "SELECT reviewed_at AS t FROM reviews WHERE reviewer = 'Bob'")
    assert stamped["t"].iloc[0].to_pydatetime() >= before  # this clock, not moved
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


# 2. Decisions written by SQL in another case -----------------------------------------


def sql_review(db: Path, review_id: str, sighting_id: str, decision: str, when: str) -> None:
    with connect(db, read_only=False) as con:
        con.execute(
            f"INSERT INTO reviews VALUES ('{review_id}', '{sighting_id}', '{decision}', "
            f"'Thuja plicata', 'sqluser', TIMESTAMP '{when}', 'caps', NULL)"
        )


def test_a_decision_in_another_case_counts_everywhere(db):
    from fieldtool.learn.collect import collect

    sql_review(db, "b1", "s1", "Reject", "2026-11-29 12:00:00")
    sql_review(db, "b2", "s2", " CONFIRM ", "2026-11-29 12:00:00")
    assert in_force(db) == {"s1": ("reject", "sqluser"), "s2": ("confirm", "sqluser")}
    SightingStore(db).close()  # a writer opening the file (re)creates the views
    reviewed = query(db, "SELECT sighting_id, coalesce(review, '-') AS review "
                         "FROM sightings_reviewed ORDER BY 1")  # fmt: skip
    assert reviewed.values.tolist() == [["s2", "confirm"], ["s3", "-"]]  # s1 rejected
    frames, _ = collect(db)
    assert {(f.sighting_id, f.decision) for f in frames} == {("s1", "reject"), ("s2", "confirm")}


def test_an_unknown_decision_is_not_in_force_and_the_one_before_it_is(db):
    from fieldtool.learn.collect import collect
    from fieldtool.store.reviews import unknown_decisions

    add_review(db, "s1", "confirm", reviewer="Ann")
    sql_review(db, "b1", "s1", "maybe", "2099-01-01 00:00:00")
    sql_review(db, "b2", "s2", "Rejected", "2026-11-29 12:00:00")
    assert in_force(db) == {"s1": ("confirm", "Ann")}
    frames, _ = collect(db)  # learn reads the same: no crash on the unknown ones
    assert {(f.sighting_id, f.decision) for f in frames} == {("s1", "confirm")}
    with connect(db, read_only=True) as con:
        assert sorted(unknown_decisions(con)) == [("s1", "maybe"), ("s2", "Rejected")]


def test_undo_reads_decisions_in_another_case(db):
    sql_review(db, "b1", "s1", "Confirm", "2026-11-29 12:00:00")
    add_review(db, "s1", "reject", reviewer="Bob")
    _, now = undo_review(db, "s1", reviewer="Bob")
    assert now == "confirm"
    assert in_force(db)["s1"] == ("confirm", "Bob")


def test_a_relabel_written_in_another_case_names_a_species_of_the_file(db):
    from fieldtool.store.reviews import species_names

    with connect(db, read_only=False) as con:
        con.execute("INSERT INTO reviews VALUES ('b1', 's1', 'RELABEL', 'Cornus kousa', "
                    "'sqluser', TIMESTAMP '2026-11-29 12:00:00', '', NULL)")  # fmt: skip
    assert "Cornus kousa" in species_names(db)


# 5. --replace says how many reviews went with the sessions ---------------------------


def test_replacing_a_source_says_how_many_reviews_went_with_it(db):
    from fieldtool.pipeline.inputs import earlier_sessions

    add_review(db, "s1", "confirm", reviewer="Ann")
    add_review(db, "s1", "reject", reviewer="Bob")
    add_review(db, "s2", "confirm", reviewer="Ann")
    said: list[str] = []
    store = SightingStore(db)
    try:
        earlier_sessions(store, "walk.mp4", live=False, replace=True, log=said.append)
    finally:
        store.close()
    assert len(said) == 1 and "replaced 1 earlier session(s)" in said[0], said
    assert "and their 3 review(s)" in said[0], said
    assert query(db, "SELECT count(*) AS n FROM reviews")["n"].iloc[0] == 0


def test_replacing_a_source_without_reviews_says_only_the_sessions(db):
    from fieldtool.pipeline.inputs import earlier_sessions

    said: list[str] = []
    store = SightingStore(db)
    try:
        earlier_sessions(store, "walk.mp4", live=False, replace=True, log=said.append)
    finally:
        store.close()
    assert len(said) == 1 and "replaced 1 earlier session(s)" in said[0], said
    assert "review" not in said[0], said
