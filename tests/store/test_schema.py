"""Schema version 7: a version 6 file keeps its rows and gains the photo, learning, batch and
undo columns; the writer fills the new tables."""

from __future__ import annotations

from datetime import datetime

import duckdb

from fieldtool.store import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION, SightingStore, query
from fieldtool.types import Position, SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9)


def make_v6_file(db) -> None:
    con = duckdb.connect(str(db))
    con.execute(SCHEMA_V1)
    for migrate in MIGRATIONS[:5]:
        migrate(con)
    con.execute("INSERT INTO meta VALUES ('schema_version', '6')")
    con.execute(
        "INSERT INTO sessions (session_id, source, status) VALUES ('old', 'cam0', 'finished')"
    )
    con.execute(
        "INSERT INTO sightings (sighting_id, session_id, species, first_seen, last_seen, first_t, "
        "last_t, status) VALUES ('s1', 'old', 'Acer rubrum', ?, ?, 1, 2, 'closed')",
        [T0, T0],
    )
    con.execute("INSERT INTO reviews VALUES ('r1', 's1', 'confirm', 'Acer rubrum', 'ann', ?, '')",
                [T0])  # fmt: skip
    con.close()


def test_a_v6_file_gains_the_v7_tables_and_keeps_its_rows(tmp_path):
    db = tmp_path / "v6.duckdb"
    make_v6_file(db)
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert logs == [f"{db}: schema upgraded from version 6 to {SCHEMA_VERSION}"]
    review = query(db, "SELECT review_id, decision, supersedes FROM reviews").iloc[0]
    assert review.review_id == "r1" and review.decision == "confirm" and review.supersedes is None
    sighting = query(db, "SELECT sighting_id, event_id FROM sightings").iloc[0]
    assert sighting.sighting_id == "s1" and sighting.event_id is None
    assert query(db, "SELECT source_name FROM sessions").source_name[0] is None
    for table in ("media", "sighting_frames", "batch_files"):
        assert query(db, f"SELECT count(*) FROM {table}").iloc[0, 0] == 0


def test_the_writer_fills_media_and_kept_frames(tmp_path):
    db = tmp_path / "new.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("s", "photos/", "m", T0, source_name="cam-A"))
    sighting = Sighting("g1", "s", "Vulpes vulpes", "red fox", T0, T0, 0.0, 2.0, event_id="e1")
    store.record_sighting(sighting)
    store.record_media("s", 0, "photos/IMG_1.JPG", T0, event_id="e1", camera="Reconyx",
                       position=Position(51.5, 4.7), size=(2048, 1536), time_source="exif-offset")  # fmt: skip
    store.record_sighting_frame("g1", "s", 0, 0.0, "new_snapshots/s/g1_0.jpg", "ab" * 32)
    store.close()
    media = query(db, "SELECT * FROM media").iloc[0]
    assert (media.path, media.event_id, media.camera) == ("photos/IMG_1.JPG", "e1", "Reconyx")
    assert (media.latitude, media.longitude, media.width, media.height) == (51.5, 4.7, 2048, 1536)
    assert query(db, "SELECT event_id FROM sightings").event_id[0] == "e1"
    assert query(db, "SELECT source_name FROM sessions").source_name[0] == "cam-A"
    kept = query(db, "SELECT sighting_id, path FROM sighting_frames").iloc[0]
    assert (kept.sighting_id, kept.path) == ("g1", "new_snapshots/s/g1_0.jpg")


def test_a_review_into_a_v6_file_upgrades_it_first_so_undo_works(tmp_path):
    """The dashboard may be the first v7 writer of an old file: a review migrates it."""
    from fieldtool.store.reviews import add_review, undo_review

    db = tmp_path / "v6.duckdb"
    make_v6_file(db)
    add_review(db, "s1", "reject", reviewer="bo")
    review_id, decision = undo_review(db, "s1", reviewer="bo")
    assert decision == "confirm"  # the review before the rejection is in force again
    rows = query(db, "SELECT decision, supersedes FROM reviews ORDER BY reviewed_at")
    assert rows.decision.tolist() == ["confirm", "reject", "confirm"]
    assert rows.supersedes.isna().tolist() == [True, True, False]
    version = query(db, "SELECT value FROM meta WHERE key = 'schema_version'").value[0]
    assert version == str(SCHEMA_VERSION)
    assert query(db, "SELECT review FROM sightings_reviewed").review[0] == "confirm"
