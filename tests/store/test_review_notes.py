"""A review without a note has no note: ``reviews.note`` is NULL, and so is
``sightings_reviewed.review_note`` (and the note of the review in force), as the exports
write it; an empty or blank note is no note, in rows written before this rule too."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.store import ReviewRow, SightingStore, add_review, add_reviews, connect
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)
SPECIES = "Thuja plicata"
IDS = ["s1", "s2", "s3", "s4"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("sess", "walk.mp4", "m", T0, status="finished"))
    store.record_species("Quercus garryana", "Oregon white oak")
    for sid in IDS:
        store.record_sighting(Sighting(sid, "sess", SPECIES, "", T0, T0 + timedelta(seconds=5),
                                       0.0, 5.0, frames=3, peak_score=0.9, score_sum=2.4,
                                       status="closed"))  # fmt: skip
    store.close()
    return path


def stored_notes(db: Path) -> dict[str, str | None]:
    with connect(db, read_only=True) as con:
        return dict(con.execute("SELECT sighting_id, note FROM reviews").fetchall())


def view_notes(db: Path) -> dict[str, object]:
    """sighting_id -> review_note of the view, where the sighting has a review in force."""
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT sighting_id, review_note FROM sightings_reviewed "
                           "WHERE review IS NOT NULL").fetchall()  # fmt: skip
        latest = dict(
            con.execute(f"SELECT sighting_id, note FROM ({LATEST_REVIEW_SQL})").fetchall()
        )
    assert {sid: note for sid, note in rows} == {sid: latest[sid] for sid, _ in rows}
    return dict(rows)


def test_the_cli_stores_no_note_as_null_for_reject_relabel_and_confirm(db, capsys):
    assert main(["review", "confirm", "--db", str(db), "s1", "--by", "ana"]) == 0
    assert main(["review", "relabel", "--db", str(db), "s2", "--species", "Quercus garryana",
                 "--by", "ana"]) == 0  # fmt: skip
    assert main(["review", "relabel", "--db", str(db), "s3", "--species", "Quercus garryana",
                 "--by", "ana", "--note", "   "]) == 0  # fmt: skip
    assert main(["review", "confirm", "--db", str(db), "s4", "--by", "ana", "--note",
                 "leaf scar"]) == 0  # fmt: skip
    assert stored_notes(db) == {"s1": None, "s2": None, "s3": None, "s4": "leaf scar"}
    assert view_notes(db) == {"s1": None, "s2": None, "s3": None, "s4": "leaf scar"}
    # a reject leaves the view: the review in force still has no note
    assert main(["review", "reject", "--db", str(db), "s1", "--by", "ben"]) == 0
    with connect(db, read_only=True) as con:
        latest = con.execute(f"SELECT decision, note FROM ({LATEST_REVIEW_SQL}) "
                             "WHERE sighting_id = 's1'").fetchall()  # fmt: skip
    assert latest == [("reject", None)]


def test_the_library_stores_an_empty_or_blank_note_as_null(db):
    add_review(db, "s1", "reject", reviewer="ana")
    add_review(db, "s2", "confirm", reviewer="ana", note="")
    add_reviews(db, [ReviewRow("s3", "confirm", SPECIES, "ana", T0, note=" \t\n"),
                     ReviewRow("s4", "confirm", SPECIES, "ana", T0, note=" kept as given ")])  # fmt: skip
    assert stored_notes(db) == {"s1": None, "s2": None, "s3": None, "s4": " kept as given "}


def test_empty_notes_of_earlier_rows_read_as_null_in_the_view(db):
    add_review(db, "s1", "confirm", reviewer="ana", note="x")
    with connect(db, read_only=False) as con:  # as an earlier fieldtool or a SQL user wrote them
        con.execute("UPDATE reviews SET note = '' WHERE sighting_id = 's1'")
        con.execute("INSERT INTO reviews (review_id, sighting_id, decision, species, reviewer, "
                    "reviewed_at, note) VALUES ('r2', 's2', 'confirm', ?, 'ana', ?, ?), "
                    "('r3', 's3', 'confirm', ?, 'ana', ?, ?)",
                    [SPECIES, T0, "  \t", SPECIES, T0, "ok"])  # fmt: skip
    assert view_notes(db) == {"s1": None, "s2": None, "s3": "ok"}
