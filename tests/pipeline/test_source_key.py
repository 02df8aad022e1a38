"""A session records its file by its absolute, normalised path, so the same file named
another way (``./walk.mp4`` from its folder, ``../x/walk.mp4``, the full path, a folder
with a trailing slash, a package's folder or its ``datapackage.json``) is known as one:
the "already holds" warning and ``--replace`` find the earlier run (they matched the text
as typed, and a rerun doubled every sighting without a word)."""

from __future__ import annotations

import os
import shutil

from fieldtool.cli import DEMO_DATA
from fieldtool.pipeline import run_from_config
from fieldtool.pipeline.inputs import earlier_runs
from fieldtool.sources import source_key
from fieldtool.store import query
from tests.scale.conftest import demo_config


def test_one_file_however_it_is_named(tmp_path, monkeypatch):
    (tmp_path / "clips").mkdir()
    monkeypatch.chdir(tmp_path / "clips")
    full = str(tmp_path / "clips" / "walk.mp4")
    for spelling in ("walk.mp4", "./walk.mp4", "../clips/walk.mp4", full, f"{tmp_path}//clips/"
                     "./walk.mp4"):
        assert source_key(spelling) == full, spelling
    assert source_key(".") == source_key("./") == str(tmp_path / "clips")
    package = tmp_path / "pkg"
    assert source_key(str(package / "datapackage.json")) == source_key(str(package) + "/")
    for live in ("0", "rtsp://127.0.0.1:8554/cam", "http://cam.local/mjpg"):
        assert source_key(live) == live  # cameras and streams as given


def test_a_rerun_named_otherwise_is_warned_of_and_replaced(tmp_path, monkeypatch):
    shutil.copy(DEMO_DATA / "walk_west.mp4", tmp_path / "walk.mp4")
    db = tmp_path / "s.duckdb"
    monkeypatch.chdir(tmp_path)
    quiet = {"source.max_frames": 40, "source.start_time": "2026-06-01T09:00:00Z",
             "position.lat": 44.56, "position.lon": -123.3}  # fmt: skip
    run_from_config(demo_config(db, **{"source.uri": "./walk.mp4"}, **quiet), log=lambda m: None)
    stored = query(db, "SELECT source FROM sessions").source.tolist()
    assert stored == [str(tmp_path / "walk.mp4")]
    again = str(tmp_path / "walk.mp4")
    warning = earlier_runs(db, again)
    assert warning is not None and "already holds 1 session" in warning
    lines: list[str] = []
    run_from_config(demo_config(db, **{"source.uri": again}, **quiet), log=lines.append,
                    replace_earlier=True)  # fmt: skip
    assert query(db, "SELECT count(*) AS n FROM sessions").n.iloc[0] == 1
    assert any("replaced" in line or "deleted" in line for line in lines), lines
    os.chdir(tmp_path / "..")  # from elsewhere, relative again: the same file still
    assert earlier_runs(db, os.path.relpath(again)) is not None
