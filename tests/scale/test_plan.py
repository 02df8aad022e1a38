"""The plan without Ray: what an input names, the keys that make reruns skip done work."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fieldtool.scale.plan import (
    PlanRow,
    batch_key,
    content_sha256,
    find_inputs,
    settings_sha256,
    with_hash,
)
from fieldtool.types import FieldtoolError
from tests.scale.conftest import demo_config


@pytest.fixture
def tree(tmp_path) -> Path:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/one.mp4", "a/deep/two.MOV", "a/notes.txt", "three.mp4"):
        (tmp_path / name).write_bytes(name.encode())
    return tmp_path


def test_a_folder_names_its_videos_recursively_a_glob_what_it_matches(tree):
    assert [r.path for r in find_inputs(str(tree))] == [
        str(tree / "a/deep/two.MOV"), str(tree / "a/one.mp4"), str(tree / "three.mp4"),
    ]  # fmt: skip
    assert [r.path for r in find_inputs(str(tree / "a" / "*.mp4"))] == [str(tree / "a/one.mp4")]
    assert [r.path for r in find_inputs(str(tree / "three.mp4"))] == [str(tree / "three.mp4")]


def test_a_manifest_gives_each_file_its_track_relative_to_the_manifest(tree):
    (tree / "m.csv").write_text("path,track,start_time\na/one.mp4,a/one.gpx,\nthree.mp4,,"
                                "2026-06-01T09:00:00+00:00\n")  # fmt: skip
    rows = find_inputs(str(tree / "m.csv"))
    assert rows[0] == PlanRow(str(tree / "a/one.mp4"), track=str(tree / "a/one.gpx"))
    assert rows[1].track == "" and rows[1].start_time == "2026-06-01T09:00:00+00:00"
    pq.write_table(pa.table({"path": [str(tree / "three.mp4")], "camera_id": ["cam7"]}),
                   tree / "m.parquet")  # fmt: skip
    (row,) = find_inputs(str(tree / "m.parquet"))
    assert row.path == str(tree / "three.mp4") and row.camera_id == "cam7"


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [("m.csv", "file,track\nx.mp4,\n", "no 'path' column"),
     ("m.csv", "path,speed\nx.mp4,3\n", "unknown manifest columns"),
     ("missing.csv", None, "manifest not found"),
     ("nothing", None, "not found")],
)  # fmt: skip
def test_bad_inputs_say_what_is_wrong(tmp_path, name, text, says):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(FieldtoolError, match=says):
        find_inputs(str(tmp_path / name))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FieldtoolError, match="no video files"):
        find_inputs(str(tmp_path / "empty"))


def test_the_key_changes_with_content_settings_and_track_but_not_with_the_store(tree):
    base = demo_config(tree / "a.duckdb")
    same = settings_sha256(demo_config(tree / "b.duckdb", **{"source.uri": "x.mp4"}), "m")
    assert settings_sha256(base, "m") == same  # where rows go and which file: not settings
    assert settings_sha256(base, "other weights") != same
    assert settings_sha256(demo_config(tree / "a.duckdb", **{"smoothing.tau_s": 9.0}), "m") != same
    row = PlanRow(str(tree / "three.mp4"))
    content = content_sha256(row.path)
    assert batch_key(content, same, row) != batch_key(content, same, PlanRow(row.path, "t.gpx"))
    hashed = with_hash(row.as_row(), same)
    assert hashed["content_sha256"] == content
    assert hashed["batch_key"] == batch_key(content, same, row)
    (tree / "three.mp4").write_bytes(b"changed")
    assert with_hash(row.as_row(), same)["batch_key"] != hashed["batch_key"]
