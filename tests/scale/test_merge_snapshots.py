"""A replaced earlier session's snapshot files go with its rows: exactly the files its rows
named (a sighting's snapshot, its kept frames), only inside the store's snapshot folder, and
never one a row of another session still names; the line that says the session was replaced
counts them. ``fieldtool run --replace`` (``pipeline.inputs.earlier_sessions``) deletes them
by the same function. Nothing is deleted when the merge does not commit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fieldtool.scale import merge as merging
from fieldtool.scale.merge import FileOutcome, merge, part_dir, prepare_db
from fieldtool.store import SightingStore, query
from fieldtool.store.schema import TABLES
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 6, 1, 9, 0, 0)
VIDEO = "/data/a.mp4"


def _part(parts: Path, key: str, session: str, stem: str, *, shared: str = "") -> list[str]:
    """A finished part of one file: its session, a sighting with a snapshot and a kept
    frame (files in the part's snapshot folder), and, with ``shared``, a kept frame row
    naming that file too. Returns the files its rows name, relative to the db's folder."""
    folder = part_dir(parts, key)
    folder.mkdir(parents=True)
    snap = f"{stem}_snapshots/{session}/{session}-1.jpg"
    kept = f"{stem}_snapshots/{session}/learn/{session}-1_0.jpg"
    for name in (snap, kept):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"jpeg")
    rows = {
        "sessions": [{"session_id": session, "source": VIDEO, "model_id": "m",
                      "started_at": T0, "status": "finished"}],
        "sightings": [{"sighting_id": f"{session}-1", "session_id": session,
                       "species": "Acer rubrum", "first_seen": T0, "last_seen": T0,
                       "first_t": 0.0, "last_t": 1.0, "frames": 3, "status": "closed",
                       "snapshot_path": snap}],
        "sighting_frames": [{"sighting_id": f"{session}-1", "session_id": session,
                             "frame_index": i, "t": float(i), "path": path, "sha256": "ab"}
                            for i, path in enumerate(p for p in (snap, kept, shared) if p)],
    }  # fmt: skip
    for table, table_rows in rows.items():
        schema = pa.schema(list(TABLES[table].items()))
        full = {name: [row.get(name) for row in table_rows] for name in TABLES[table]}
        pq.write_table(pa.table(full, schema=schema), folder / f"{table}.parquet")
    return [snap, kept]


def _other_session_naming(db: Path, path: str) -> None:
    """Another file's session whose sighting's snapshot is ``path``."""
    store = SightingStore(db)
    store.record_session(SessionInfo("s-other", "/data/other.mp4", "m", T0, status="finished"))
    store.record_sighting(Sighting("o-1", "s-other", "Acer rubrum", "", T0, T0, 0.0, 1.0,
                                   snapshot_path=path, status="closed"))  # fmt: skip
    store.close()


def test_a_replaced_sessions_snapshots_are_deleted_and_counted(tmp_path) -> None:
    db, parts, said = tmp_path / "b.duckdb", tmp_path / "parts", []
    prepare_db(db, log=said.append)
    shared = "b_snapshots/shared.jpg"  # the old session's kept frame; another's snapshot
    outside = "photos/IMG_1.JPG"  # named by the old session, outside the snapshot folder
    old = _part(parts, "k-old", "s-old", "b", shared=shared)
    frames = pa.concat_tables([pq.read_table(part_dir(parts, "k-old") / "sighting_frames.parquet"),
                               pa.table({"sighting_id": ["s-old-1"], "session_id": ["s-old"],
                                         "frame_index": [9], "t": [9.0], "path": [outside],
                                         "sha256": ["ab"]},
                                        schema=pa.schema(list(TABLES["sighting_frames"].items())))])  # fmt: skip
    pq.write_table(frames, part_dir(parts, "k-old") / "sighting_frames.parquet")
    merge(db, parts, [FileOutcome("k-old", VIDEO, "c", "x", "done", session_id="s-old")])
    for name in (shared, outside):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"keep")
    _other_session_naming(db, shared)
    stray = tmp_path / "b_snapshots" / "s-old" / "notes.txt"  # named by no row
    stray.write_text("mine")
    assert all((tmp_path / name).is_file() for name in old)
    new = _part(parts, "k-new", "s-new", "b")  # its track was corrected: another key
    merge(db, parts, [FileOutcome("k-new", VIDEO, "c", "x", "done", session_id="s-new")],
          log=said.append)  # fmt: skip
    assert not any((tmp_path / name).exists() for name in old), old
    assert not (tmp_path / "b_snapshots" / "s-old" / "learn").exists()  # left empty: gone
    assert stray.read_text() == "mine"  # no row named it
    assert (tmp_path / shared).read_bytes() == b"keep"  # s-other still names it
    assert (tmp_path / outside).read_bytes() == b"keep"  # not in the snapshot folder
    assert all((tmp_path / name).is_file() for name in new)
    line = [m for m in said if "replaced its earlier session s-old" in m]
    assert len(line) == 1 and "2 snapshot file(s)" in line[0], said


def test_a_merge_that_does_not_commit_deletes_no_snapshot(tmp_path, monkeypatch) -> None:
    db, parts, said = tmp_path / "b.duckdb", tmp_path / "parts", []
    prepare_db(db, log=said.append)
    old = _part(parts, "k-old", "s-old", "b")
    merge(db, parts, [FileOutcome("k-old", VIDEO, "c", "x", "done", session_id="s-old")])
    _part(parts, "k-new", "s-new", "b")

    def fails(*args: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(merging, "_record", fails)
    with pytest.raises(RuntimeError):
        merge(db, parts, [FileOutcome("k-new", VIDEO, "c", "x", "done", session_id="s-new")],
              log=said.append)  # fmt: skip
    assert all((tmp_path / name).is_file() for name in old)
    assert query(db, "SELECT session_id FROM sessions").session_id.tolist() == ["s-old"]
    assert not any("replaced" in m for m in said), said  # nothing claimed


def test_run_replace_deletes_the_files_its_rows_named_and_counts_them(tmp_path) -> None:
    from fieldtool.pipeline.inputs import earlier_sessions

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    video = str(tmp_path / "clip.mp4")
    store.record_session(SessionInfo("s1", video, "m", T0, status="finished"))
    snap = store.snapshot_dir("s1") / "g1.jpg"
    snap.parent.mkdir(parents=True)
    snap.write_bytes(b"jpeg")
    shared = store.snapshot_dir("s1") / "g2.jpg"
    shared.write_bytes(b"keep")
    rel = [p.relative_to(tmp_path).as_posix() for p in (snap, shared)]
    store.record_sighting(Sighting("g1", "s1", "Acer rubrum", "", T0, T0, 0.0, 1.0,
                                   snapshot_path=rel[0], status="closed"))  # fmt: skip
    store.record_sighting(Sighting("g2", "s1", "Acer rubrum", "", T0, T0, 0.0, 1.0,
                                   snapshot_path=rel[1], status="closed"))  # fmt: skip
    store.close()
    _other_session_naming(db, rel[1])
    stray = store.snapshot_dir("s1") / "notes.txt"
    stray.write_text("mine")
    said: list[str] = []
    earlier_sessions(SightingStore(db), video, live=False, replace=True, log=said.append)
    assert not snap.exists() and shared.read_bytes() == b"keep" and stray.read_text() == "mine"
    assert any("replaced 1 earlier session(s)" in m and "1 snapshot file(s)" in m
               for m in said), said  # fmt: skip


def test_prune_keeps_the_snapshots_of_the_sightings_it_keeps(tmp_path) -> None:
    """``fieldtool prune`` deletes detections only: sightings, and their snapshots, stay."""
    from fieldtool.store import prune_detections

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("s1", "clip.mp4", "m", T0, status="finished"))
    snap = store.snapshot_dir("s1") / "g1.jpg"
    snap.parent.mkdir(parents=True)
    snap.write_bytes(b"jpeg")
    store.record_sighting(Sighting("g1", "s1", "Acer rubrum", "", T0, T0, 0.0, 1.0,
                                   snapshot_path=snap.relative_to(tmp_path).as_posix(),
                                   status="closed"))  # fmt: skip
    store.record_detection("s1", 0, 0.0, T0, None, (["a"], [0.5]), (["a"], [0.5]))
    store.close()
    assert prune_detections(db, 1, now=datetime(2030, 1, 1)) == 1
    assert snap.is_file()
