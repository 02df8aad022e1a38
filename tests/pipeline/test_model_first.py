"""A model folder that cannot load is said before anything else opens: before the video is
read and placed (its time lines), before a batch plans its files or creates its database."""

from __future__ import annotations

import shutil

import pytest

from fieldtool.cli import DEMO_DATA, main
from fieldtool.config import DEMO_MODEL

MISSING = ("config.json", "fieldtool.json", "labels.csv", "model.safetensors")


@pytest.mark.parametrize("missing", MISSING)
def test_run_says_the_model_is_incomplete_before_opening_the_video(tmp_path, capsys, missing):
    model = tmp_path / "model"
    shutil.copytree(DEMO_MODEL, model)
    (model / missing).unlink()
    db = tmp_path / "out.duckdb"
    code = main(["run", str(DEMO_DATA / "walk_west.mp4"), "--model", str(model), "--db", str(db)])
    assert code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines  # no "time: ..." line: the video was not opened
    assert str(model) in lines[0] and "error" in lines[0]
    assert not db.exists()


def test_a_folder_of_something_else_is_not_a_model_folder(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    code = main(["run", str(DEMO_DATA / "walk_west.mp4"), "--model", str(tmp_path / "photos"),
                 "--db", str(tmp_path / "out.duckdb")])  # fmt: skip
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "photos: not a model folder (no config.json)" in line


def test_batch_with_a_wrong_model_creates_no_database(tmp_path, capsys):
    pytest.importorskip("ray", reason="fieldtool[scale] not installed")
    db = tmp_path / "batch.duckdb"
    code = main(["batch", str(DEMO_DATA), "--db", str(db), "--model", str(tmp_path / "none")])
    assert code == 2
    assert "none: model folder not found" in capsys.readouterr().err
    assert not db.exists()
