"""``fieldtool run SRC1 SRC2 ...``: sources checked before any starts, one preview per
source, ``--replace`` and ``--quiet`` as for one source."""

from __future__ import annotations

import cv2

from fieldtool.cli import main
from fieldtool.store import query

from ..conftest import write_video

SETTINGS = ["--set", "smoothing.enter=0.01", "--set", "smoothing.exit=0.005",
            "--set", "smoothing.min_duration_s=0.1"]  # fmt: skip


def _sessions(db) -> list[str]:
    return query(db, "SELECT source_name FROM sessions ORDER BY 1")["source_name"].tolist()


def test_a_missing_file_is_one_line_before_anything_starts(tmp_path, capsys):
    a = write_video(tmp_path / "a.avi", [(0, 1.0)], size=(96, 96))
    db = tmp_path / "s.duckdb"
    code = main(["run", str(a), str(tmp_path / "nosuch.mp4"), "--db", str(db), *SETTINGS])
    assert code == 2
    err = capsys.readouterr().err
    assert "nosuch.mp4" in err and ": started" not in err
    assert len([line for line in err.splitlines() if "nosuch" in line]) == 1
    assert not db.exists()  # not even opened


def test_a_file_that_cannot_open_stops_the_run_before_any_source_starts(tmp_path, capsys):
    a = write_video(tmp_path / "a.avi", [(0, 1.0)], size=(96, 96))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"garbage")
    db = tmp_path / "s.duckdb"
    assert main(["run", str(a), str(broken), "--db", str(db), *SETTINGS]) == 2
    err = capsys.readouterr().err
    assert "source broken:" in err and ": started" not in err
    assert not db.exists()  # not even an empty database file


def test_each_source_writes_its_own_preview(tmp_path, capsys):
    a = write_video(tmp_path / "a.avi", [(0, 2.0)], size=(96, 96))
    b = write_video(tmp_path / "b.avi", [(1, 1.0)], size=(96, 96))
    db = tmp_path / "s.duckdb"
    out = tmp_path / "out.mp4"
    code = main(["run", str(a), str(b), "--db", str(db), "--preview", str(out),
                 "--sample-fps", "5", *SETTINGS])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert not out.exists()
    counts = {}
    for name in ("a", "b"):
        path = tmp_path / f"out-{name}.mp4"
        assert f"{name}: preview video {path}" in err
        cap = cv2.VideoCapture(str(path))
        counts[name] = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
    analysed = dict(query(db, "SELECT source_name, frames_analysed FROM sessions").values)
    assert counts == analysed and counts["a"] > counts["b"] > 0  # each its own frames


def test_several_sources_honour_replace_and_quiet(tmp_path, capsys):
    a = write_video(tmp_path / "a.avi", [(0, 1.0)], size=(96, 96))
    b = write_video(tmp_path / "b.avi", [(1, 1.0)], size=(96, 96))
    db = tmp_path / "s.duckdb"
    run = ["run", str(a), str(b), "--db", str(db), *SETTINGS]
    assert main([*run, "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "progress:" not in err and "already holds" not in err
    assert main(run) == 0  # again: added beside the first, said for each file
    err = capsys.readouterr().err
    assert "progress: a " in err  # at least the last line: not timing
    assert err.count("already holds 1 session(s)") == 2
    assert _sessions(db) == ["a", "a", "b", "b"]
    assert main([*run, "--replace", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "a: replaced 2 earlier session(s)" in err and "b: replaced 2" in err
    assert "already holds" not in err and "progress:" not in err
    assert _sessions(db) == ["a", "b"]


def test_settings_a_station_refuses_are_one_line(tmp_path, capsys):
    a = write_video(tmp_path / "a.avi", [(0, 1.0)], size=(96, 96))
    b = write_video(tmp_path / "b.avi", [(1, 1.0)], size=(96, 96))
    db = tmp_path / "s.duckdb"
    code = main(["run", str(a), str(b), "--db", str(db), "--lat", "1", "--lon", "2",
                 "--gpx", str(tmp_path / "t.gpx")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fieldtool: error: position: give one of lat/lon, a track or gpsd, "
                   "not lat/lon and track"]  # fmt: skip
    assert not db.exists()
