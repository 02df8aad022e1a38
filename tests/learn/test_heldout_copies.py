"""The held-out part of ``learn`` never shares a frame with what is learnt from: a video run
twice (two sessions with byte-identical kept frames) stays on one side, copies within the
held-out part count once, and too little left after that judges nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from fieldtool.learn.update import learn
from tests.learn.conftest import HELDOUT_REVIEW_SEED, LearnWorld, copy_db

TRAINED_SEED = 2  # a review session learnt from


def _rerun(db: Path, session_id: str, new_id: str) -> None:
    """A second session of the same video: the same source, and every sighting, kept frame
    (the same bytes) and review again under new ids, as two runs of one file give."""
    con = duckdb.connect(str(db))
    try:
        con.execute("INSERT INTO sessions SELECT * REPLACE (? AS session_id) FROM sessions "
                    "WHERE session_id = ?", [new_id, session_id])  # fmt: skip
        for table in ("sightings", "sighting_frames"):
            con.execute(f"INSERT INTO {table} SELECT * REPLACE (sighting_id || '-again' AS "
                        f"sighting_id, ? AS session_id) FROM {table} WHERE session_id = ?",
                        [new_id, session_id])  # fmt: skip
        con.execute("""
            INSERT INTO reviews SELECT r.* REPLACE (r.review_id || '-again' AS review_id,
                                                    r.sighting_id || '-again' AS sighting_id)
            FROM reviews r JOIN sightings s USING (sighting_id) WHERE s.session_id = ?""",
                    [session_id])  # fmt: skip
    finally:
        con.close()


def _hashes(db: Path, sessions: list[str]) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT sha256 FROM sighting_frames WHERE list_contains(?, session_id)",
                           [sessions]).fetchall()  # fmt: skip
    finally:
        con.close()
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def cache(learn_world: LearnWorld, tmp_path_factory) -> Path:
    """A features cache for the tests here, seeded from ``learn_world``'s when it has one,
    never written back (test_learn_demo counts what its first run computes)."""
    folder = tmp_path_factory.mktemp("features")
    theirs = learn_world.db.parent / f"{learn_world.db.stem}_learn_cache"
    if theirs.is_dir():
        shutil.copytree(theirs, folder, dirs_exist_ok=True)
    return folder


def test_a_rerun_of_a_session_learnt_from_is_not_held_out_against_it(
    learn_world: LearnWorld, tmp_path, cache
):
    db = copy_db(learn_world.db, tmp_path / "rerun")
    trained = learn_world.sessions[TRAINED_SEED]
    _rerun(db, trained, "rerun")
    lines: list[str] = []
    result = learn(db, learn_world.old_model, tmp_path / "out", heldout_sessions=["rerun"],
                   cache_dir=cache, log=lines.append)  # fmt: skip
    card = result.card
    # its copies go with it: nothing held out shares a frame with what was learnt from
    assert not _hashes(db, card.train_sessions) & _hashes(db, card.heldout_sessions)
    assert set(card.heldout_sessions) == {"rerun", trained}
    con = duckdb.connect(str(db), read_only=True)
    # each distinct sighting is one held-out example, not two
    (reviewed,), = con.execute(
        "SELECT count(DISTINCT sighting_id) FROM sightings JOIN reviews USING (sighting_id) "
        "WHERE session_id = ?", [trained]).fetchall()  # fmt: skip
    assert card.after.sightings == reviewed > 0
    # the copies: every frame of the rerun, and any the walks had in common already
    (copies, repeats), = con.execute("""
        SELECT count(*) - count(DISTINCT sha256),
               count(*) FILTER (WHERE session_id IN (?, 'rerun'))
               - count(DISTINCT sha256) FILTER (WHERE session_id IN (?, 'rerun'))
        FROM sighting_frames WHERE sighting_id IN (SELECT sighting_id FROM reviews)""",
        [trained, trained]).fetchall()  # fmt: skip
    con.close()
    assert repeats >= len(_hashes(db, [trained])) > 0
    assert card.duplicates["copies"] == copies and card.duplicates["heldout_repeats"] == repeats
    assert card.duplicates["heldout_copies_of_train"] == 0
    assert any("same SHA-256" in line for line in lines), lines
    assert "same SHA-256" in card.markdown() and f"{repeats} repeats" in card.markdown()


def test_two_runs_of_one_walk_judge_nothing(learn_world: LearnWorld, tmp_path, cache):
    """The trial: one video run twice, both reviewed; the second run's frames are all
    copies of the first's, so nothing can be held out honestly: refused, in one line."""
    db = copy_db(learn_world.db, tmp_path / "twice")
    first = learn_world.sessions[HELDOUT_REVIEW_SEED]
    _rerun(db, first, "second-run")
    con = duckdb.connect(str(db))
    for table in ("reviews", "sighting_frames", "sightings"):
        where = ("sighting_id IN (SELECT sighting_id FROM sightings WHERE session_id NOT IN "
                 "(?, 'second-run'))" if table == "reviews"
                 else "session_id NOT IN (?, 'second-run')")  # fmt: skip
        con.execute(f"DELETE FROM {table} WHERE {where}", [first])
    con.close()
    out = tmp_path / "out"
    result = learn(db, learn_world.old_model, out, cache_dir=cache)
    assert not result.written and not out.exists()
    assert "\n" not in result.message
    assert result.message.startswith("not written: nothing held out"), result.message
    assert "same SHA-256" in result.message
    assert result.card.after.sightings == 0 and result.card.duplicates["copies"] > 0
