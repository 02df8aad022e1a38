"""A file run again because its content changed (an edited video, a corrected track or SRT,
or a key of a newer fieldtool) replaces its earlier session instead of doubling every
sighting; an earlier session with reviews is kept, said, since deleting it would lose them."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq

from fieldtool.scale.merge import FileOutcome, merge, part_dir, prepare_db
from fieldtool.store import query
from fieldtool.store.reviews import add_review
from fieldtool.store.schema import TABLES

T0 = datetime(2026, 6, 1, 9, 0, 0)


def _part(parts, key: str, session: str) -> None:
    """A finished part of one file: its session and one sighting."""
    folder = part_dir(parts, key)
    folder.mkdir(parents=True)
    rows = {
        "sessions": {"session_id": session, "source": "/data/a.mp4", "model_id": "m",
                     "started_at": T0, "status": "finished"},
        "sightings": {"sighting_id": f"{session}-1", "session_id": session, "species": "Acer rubrum",
                      "first_seen": T0, "last_seen": T0, "first_t": 0.0, "last_t": 1.0,
                      "frames": 3, "status": "closed"},
    }  # fmt: skip
    for table, row in rows.items():
        schema = pa.schema(list(TABLES[table].items()))
        full = {name: [row.get(name)] for name in TABLES[table]}
        pq.write_table(pa.table(full, schema=schema), folder / f"{table}.parquet")


def _sessions(db) -> list[str]:
    return query(db, "SELECT session_id FROM sessions ORDER BY 1").session_id.tolist()


def test_a_file_run_again_replaces_its_earlier_session(tmp_path) -> None:
    db, parts, said = tmp_path / "b.duckdb", tmp_path / "parts", []
    prepare_db(db, log=said.append)
    _part(parts, "k-old", "s-old")
    merge(db, parts, [FileOutcome("k-old", "/data/a.mp4", "c", "x", "done", session_id="s-old")])
    _part(parts, "k-new", "s-new")  # its track was corrected: another key
    merge(db, parts, [FileOutcome("k-new", "/data/a.mp4", "c", "x", "done", session_id="s-new")],
          log=said.append)  # fmt: skip
    assert _sessions(db) == ["s-new"]
    assert query(db, "SELECT batch_key FROM batch_files").batch_key.tolist() == ["k-new"]
    assert any("replaced" in line and "s-old" in line for line in said), said


def test_an_earlier_session_with_reviews_is_kept_and_said(tmp_path) -> None:
    db, parts, said = tmp_path / "b.duckdb", tmp_path / "parts", []
    prepare_db(db, log=said.append)
    _part(parts, "k-old", "s-old")
    merge(db, parts, [FileOutcome("k-old", "/data/a.mp4", "c", "x", "done", session_id="s-old")])
    add_review(db, "s-old-1", "confirm", reviewer="ana")
    _part(parts, "k-new", "s-new")
    merge(db, parts, [FileOutcome("k-new", "/data/a.mp4", "c", "x", "done", session_id="s-new")],
          log=said.append)  # fmt: skip
    assert _sessions(db) == ["s-new", "s-old"]
    assert any("kept" in line and "s-old" in line and "1 review" in line for line in said), said


def test_two_rows_of_one_batch_for_the_same_video_both_stay(tmp_path) -> None:
    """A manifest may run one video with two tracks: different work, both kept."""
    db, parts = tmp_path / "b.duckdb", tmp_path / "parts"
    prepare_db(db, log=lambda m: None)
    _part(parts, "k-1", "s-1")
    _part(parts, "k-2", "s-2")
    merge(db, parts, [FileOutcome("k-1", "/data/a.mp4", "c", "x", "done", session_id="s-1"),
                      FileOutcome("k-2", "/data/a.mp4", "c", "x", "done", session_id="s-2")])  # fmt: skip
    assert _sessions(db) == ["s-1", "s-2"]
