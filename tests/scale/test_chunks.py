"""A batch runs in chunks, each merged as it ends: an interrupted batch keeps the chunks
before the one it stopped in (the group-by of a file's frames waits for every frame of its
chunk, so without chunks a stop lost every file's work)."""

from __future__ import annotations

import shutil

import pytest

from fieldtool.cli import DEMO_REGIONS, main
from fieldtool.scale import BatchOptions, run_batch
from fieldtool.scale.plan import content_sha256 as plan_content
from fieldtool.scale.runner import chunks
from fieldtool.store import query
from tests.scale.conftest import demo_config


def _rows(*sizes: int) -> list[dict[str, object]]:
    return [{"path": f"f{i}.mp4", "size_bytes": size} for i, size in enumerate(sizes)]


def _paths(groups: list[list[dict[str, object]]]) -> list[list[object]]:
    return [[row["path"] for row in group] for group in groups]


def test_chunks_hold_at_most_so_many_files_and_bytes_in_plan_order():
    rows = _rows(10, 10, 10, 10, 10)
    assert _paths(chunks(rows, 2, 1000)) == [["f0.mp4", "f1.mp4"], ["f2.mp4", "f3.mp4"],
                                             ["f4.mp4"]]  # fmt: skip
    assert _paths(chunks(rows, 64, 25)) == [["f0.mp4", "f1.mp4"], ["f2.mp4", "f3.mp4"],
                                            ["f4.mp4"]]  # fmt: skip
    assert _paths(chunks(_rows(5, 100, 5), 64, 25)) == [["f0.mp4"], ["f1.mp4"], ["f2.mp4"]]
    assert _paths(chunks(rows, 64, 2**30)) == [[r["path"] for r in rows]]
    assert chunks([], 4, 100) == []
    assert _paths(chunks(_rows(0, 0, 0), 0, 1)) == [["f0.mp4"], ["f1.mp4"], ["f2.mp4"]]


def test_an_interrupted_batch_keeps_the_chunks_before_and_the_rerun_skips_them(
    ray_local, walks, tmp_path
):
    folder = tmp_path / "two"
    folder.mkdir()
    for region in DEMO_REGIONS:
        shutil.copy(walks / f"walk_{region}.mp4", folder)
    db = tmp_path / "chunks.duckdb"
    config = demo_config(db, **{"source.max_frames": 30})
    lines: list[str] = []

    def stop_at_the_second_chunk(line: str) -> None:
        lines.append(line)
        if line.startswith("batch: chunk 2 of 2"):
            raise KeyboardInterrupt  # as Ctrl-C between the chunks

    with pytest.raises(KeyboardInterrupt):
        run_batch(str(folder), db, config, BatchOptions(chunk_files=1), stop_at_the_second_chunk)
    assert any(line.startswith("batch: chunk 1 of 2: 1 file(s)") for line in lines)
    kept = query(db, "SELECT path, status, session_id FROM batch_files")
    assert len(kept) == 1 and kept.status[0] == "done"
    assert query(db, "SELECT count(*) FROM sessions").iloc[0, 0] == 1

    again = run_batch(str(folder), db, config, BatchOptions(chunk_files=1), lambda line: None)
    assert again.skipped == [kept.path[0]]  # not decoded again
    assert len(again.done) == 1 and again.done[0].path != kept.path[0]
    assert query(db, "SELECT count(*) FROM sessions").iloc[0, 0] == 2


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--chunk-files", "0", "--chunk-files 0: expected 1 or more files"),
    ("--chunk-gib", "nan", "--chunk-gib nan: expected a size above 0 GiB"),
    ("--chunk-gib", "-1", "--chunk-gib -1.0: expected a size above 0 GiB"),
])  # fmt: skip
def test_chunk_flags_out_of_range_are_one_line_errors(tmp_path, capsys, flag, value, said):
    db = tmp_path / "none.duckdb"
    assert main(["batch", str(tmp_path), "--db", str(db), flag, value]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and not db.exists()


def test_one_video_with_two_tracks_in_two_chunks_keeps_both_sessions(ray_local, walks, tmp_path):
    """Two rows of one manifest for one video (two tracks) are different work of one batch:
    the second chunk's merge must not take the first chunk's session for an earlier one."""
    manifest = walks / "twice.csv"
    manifest.write_text("path,track\nwalk_east.mp4,walk_east.gpx\nwalk_east.mp4,walk_west.gpx\n")
    db = tmp_path / "twice.duckdb"
    config = demo_config(db, **{"source.max_frames": 30})
    lines: list[str] = []
    summary = run_batch(str(manifest), db, config, BatchOptions(chunk_files=1), lines.append)
    assert len(summary.done) == 2 and any("chunk 2 of 2" in line for line in lines)
    assert not [line for line in lines if "replaced" in line]
    assert query(db, "SELECT count(*) FROM sessions").iloc[0, 0] == 2


def test_a_copys_footage_stays_when_the_path_it_copied_is_run_again_changed(
    ray_local, walks, tmp_path
):
    """b.mp4 is a byte copy of a.mp4 (one session, b's row says so); a.mp4 is then
    replaced by other footage and the folder run again: a's new footage gets its session
    and b's footage keeps one (it is still on the card): nothing of it is lost."""
    folder = tmp_path / "card"
    folder.mkdir()
    east = (walks / "walk_east.mp4").read_bytes()
    (folder / "a.mp4").write_bytes(east)
    (folder / "b.mp4").write_bytes(east)
    db = tmp_path / "card.duckdb"
    config = demo_config(db, **{"source.max_frames": 30})
    first = run_batch(str(folder), db, config, log=lambda line: None)
    assert len(first.done) == 1 and len(first.identical) == 1
    (folder / "a.mp4").write_bytes((walks / "walk_west.mp4").read_bytes())
    run_batch(str(folder), db, config, log=lambda line: None)
    rows = query(db, "SELECT path, status, session_id, content_sha256 FROM batch_files "
                     "ORDER BY path, status")  # fmt: skip
    sessions = set(query(db, "SELECT session_id FROM sessions").session_id)
    for path in (folder / "a.mp4", folder / "b.mp4"):  # each file's footage has a session
        content = plan_content(str(path))
        held = rows[(rows.content_sha256 == content) & (rows.path == str(path))]
        assert len(held) == 1 and held.session_id.iloc[0] in sessions, (path, rows)
    assert len(sessions) == 2
