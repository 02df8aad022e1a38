"""A batch run again with the same weights in a model folder at another path (a moved or
copied folder; the bundled demo model of a new install) is the same work: skipped, its
sessions kept. Its key still names the path it ran with (earlier databases' keys stay),
so the earlier row is recognised through the session's recorded ``model.path``; a folder
whose labels or input settings differ from the one it ran with, or one no longer there to
compare with, is run again and the line says that, not "content, track or settings"."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from fieldtool.config import DEMO_MODEL
from fieldtool.scale import run_batch
from fieldtool.store import query
from tests.scale.conftest import demo_config


def _edit_labels(folder: Path) -> None:
    """Swap the first two species names (same weights, other names for its outputs)."""
    path = folder / "labels.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["species"], rows[1]["species"] = rows[1]["species"], rows[0]["species"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_model_folder_elsewhere_is_the_same_model_only_with_the_same_contents(tmp_path):
    """Nothing for a byte copy; else what differs, naming both folders."""
    from fieldtool.scale.earlier import model_change

    first, copy, relabelled, reseen = (tmp_path / n for n in ("a", "b", "c", "d"))
    for folder in (first, copy, relabelled, reseen):
        shutil.copytree(DEMO_MODEL, folder)
    assert model_change(str(first), copy) == ""
    _edit_labels(relabelled)
    said = model_change(str(first), relabelled)
    assert "labels.csv" in said and str(first) in said and str(relabelled) in said, said
    info = json.loads((reseen / "fieldtool.json").read_text())
    info["mean"] = [0.5, 0.5, 0.5]
    (reseen / "fieldtool.json").write_text(json.dumps(info))
    said = model_change(str(first), reseen)
    assert "fieldtool.json" in said and "labels.csv" not in said, said
    said = model_change(str(tmp_path / "gone"), copy)
    assert "not there" in said and str(tmp_path / "gone") in said, said


def test_a_batch_with_the_model_folder_elsewhere_skips_what_it_did(ray_local, walks, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(walks / "walk_east.mp4", videos / "east.mp4")
    shutil.copy(walks / "walk_east.mp4", videos / "east_copy.mp4")  # identical: one session
    db = tmp_path / "moved.duckdb"
    models = {n: tmp_path / n for n in ("first", "copied", "relabelled", "renamed")}
    shutil.copytree(DEMO_MODEL, models["first"])

    def batch(model: str) -> tuple[object, list[str]]:
        said: list[str] = []
        config = demo_config(db, **{"source.max_frames": 20, "store.snapshots": False,
                                    "model.path": str(models[model])})  # fmt: skip
        return run_batch(str(videos), db, config, log=said.append), said

    def sessions() -> list[str]:
        return sorted(query(db, "SELECT session_id FROM sessions").session_id)

    first, _ = batch("first")
    assert len(first.done) == 1 and len(first.identical) == 1
    (session,) = sessions()
    rows = query(db, "SELECT * FROM batch_files ORDER BY path")

    shutil.copytree(models["first"], models["copied"])  # same weights, labels, inputs
    again, said = batch("copied")
    assert not again.done and len(again.skipped) == 2, said
    assert sessions() == [session]
    earlier = query(db, "SELECT * FROM batch_files WHERE list_contains(?, batch_key) ORDER BY "
                        "path", [list(rows.batch_key)])  # fmt: skip
    assert earlier.equals(rows)  # the rows it ran under stay as they were
    assert not [line for line in said if "replaced" in line], said

    shutil.copytree(models["first"], models["relabelled"])
    _edit_labels(models["relabelled"])  # other species names: other sightings
    relabelled, said = batch("relabelled")
    assert len(relabelled.done) == 1 and not relabelled.skipped, said
    (line,) = [line for line in said if "replaced its earlier session" in line]
    assert session in line and "labels.csv" in line and str(models["relabelled"]) in line, line
    assert "content, track or settings" not in line, line
    assert len(sessions()) == 1 and sessions() != [session]

    models["relabelled"].rename(models["renamed"])  # moved: nothing left to compare with
    moved, said = batch("renamed")
    assert len(moved.done) == 1, said
    (line,) = [line for line in said if "replaced its earlier session" in line]
    assert str(models["relabelled"]) in line and "not there" in line, line


def test_a_row_done_with_the_folder_elsewhere_is_done_before_under_this_batchs_key(tmp_path):
    """Its copy (the ``batch_files`` row to be) keeps this batch's key: the merge records
    the earlier key's done row under it too (``moved``), and an identical path's row
    points at that."""
    from fieldtool.scale.plan import PlanRow
    from fieldtool.scale.runner import sort_plan

    hashed = [{**PlanRow(p).as_row(), "batch_key": "k-now", "content_sha256": "c"}
              for p in ("a.mp4", "copy_of_a.mp4")]  # fmt: skip
    plan = sort_plan(hashed, set(), tmp_path / "parts", "s", moved={"k-now": "k-then"})
    assert plan.todo == [] and plan.done_before == ["a.mp4", "copy_of_a.mp4"]
    assert [r["batch_key"] for r in plan.copies] == ["k-now", "k-now"]


def test_a_copied_model_folder_once_accepted_needs_no_original(ray_local, walks, tmp_path):
    """Accepted as the same model, the copy's work stayed recorded under the original
    folder's key only: once that folder was deleted, the next batch ran everything again
    ("not there to compare")."""
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(walks / "walk_east.mp4", videos / "east.mp4")
    shutil.copy(walks / "walk_east.mp4", videos / "east_copy.mp4")  # identical: one session
    db = tmp_path / "copied.duckdb"
    first, copied = tmp_path / "first", tmp_path / "copied"
    shutil.copytree(DEMO_MODEL, first)

    def batch(model: Path) -> tuple[object, list[str]]:
        said: list[str] = []
        config = demo_config(db, **{"source.max_frames": 20, "store.snapshots": False,
                                    "model.path": str(model)})  # fmt: skip
        return run_batch(str(videos), db, config, log=said.append), said

    assert len(batch(first)[0].done) == 1
    shutil.copytree(first, copied)
    again, said = batch(copied)
    assert not again.done and len(again.skipped) == 2, said
    rows = query(db, "SELECT * FROM batch_files ORDER BY batch_key, path")
    sessions = query(db, "SELECT session_id FROM sessions").session_id.tolist()
    shutil.rmtree(first)  # only the copy is left
    after, said = batch(copied)
    assert not after.done and len(after.skipped) == 2, said
    assert not [line for line in said if "not there" in line or "replaced" in line], said
    assert query(db, "SELECT session_id FROM sessions").session_id.tolist() == sessions
    assert query(db, "SELECT * FROM batch_files ORDER BY batch_key, path").equals(rows)
