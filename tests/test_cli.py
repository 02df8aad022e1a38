from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.store import query
from tests.conftest import write_video


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("fieldtool: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "walk.avi", [(0, 2.0), (3, 1.0)])


def test_run_writes_a_session_with_a_real_model(tmp_path, capsys, video, tiny_model_dir):
    db = tmp_path / "s.duckdb"
    code, out, err = run_cli(capsys, "run", str(video), "--model", str(tiny_model_dir), "--db", str(db),
                             "--lat", "44.5", "--lon", "-123.3", "--sample-fps", "5", "--quiet")  # fmt: skip
    assert code == 0, err
    session = query(db, "SELECT * FROM sessions").iloc[0]
    assert (
        session.status == "finished"
        and session.frames_analysed == 15
        and session.model_id == "tiny-test"
    )
    assert json.loads(session.config_json)["position"]["lat"] == 44.5
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 15
    code, out, _ = run_cli(capsys, "sql", "--db", str(db), "SELECT count(*) AS n FROM detections")
    assert code == 0 and out.split() == ["n", "15"]


def _gpx(tmp_path):
    p = tmp_path / "bad.gpx"
    p.write_text("<gpx><trk><trkseg><trkpt lat='1' lon='2'></trkpt>")
    return p


def _range_without_geometry(tmp_path):
    p = tmp_path / "ranges.csv"
    p.write_text("species,x\nAcer rubrum,1\n")
    return p


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (lambda tmp, video, model: ["run", str(tmp / "missing.mp4"), "--model", str(model)], "missing.mp4: video file not found"),
        (lambda tmp, video, model: ["run", str(video), "--model", str(tmp / "nomodel")], "nomodel: model folder not found"),
        (lambda tmp, video, model: ["run", str(video), "--model", str(model), "--gpx", str(_gpx(tmp))], "bad.gpx"),
        (lambda tmp, video, model: ["run", str(video), "--model", str(model), "--lat", "1", "--lon", "2",
                                    "--ranges", str(_range_without_geometry(tmp))], "ranges.csv"),
        (lambda tmp, video, model: ["run", str(video), "--model", str(model), "--lat", "91", "--lon", "2"], "position.lat"),
        (lambda tmp, video, model: ["run", str(video), "--model", str(model), "--set", "model.tilez=2"], "model.tilez"),
        (lambda tmp, video, model: ["sql", "--db", str(tmp / "none.duckdb"), "SELECT 1"], "none.duckdb: sightings database not found"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_line(tmp_path, capsys, video, tiny_model_dir, extra, fragment):
    argv = extra(tmp_path, video, tiny_model_dir)
    if argv[0] == "run":
        argv += ["--db", str(tmp_path / "x.duckdb")]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert fragment in error_line(err)


def test_sightings_survive_a_failed_second_session(tmp_path, capsys, video, tiny_model_dir):
    db = tmp_path / "s.duckdb"
    assert (
        run_cli(
            capsys, "run", str(video), "--model", str(tiny_model_dir), "--db", str(db), "--quiet"
        )[0]
        == 0
    )
    before = query(db, "SELECT count(*) FROM sessions").iloc[0, 0]
    code, _, err = run_cli(
        capsys, "run", str(tmp_path / "gone.mp4"), "--model", str(tiny_model_dir), "--db", str(db)
    )
    assert code == 2 and "gone.mp4" in error_line(err)
    assert query(db, "SELECT count(*) FROM sessions").iloc[0, 0] == before


def test_preview_video_and_live_frame(tmp_path, capsys, video, tiny_model_dir):
    import cv2

    db, preview = tmp_path / "s.duckdb", tmp_path / "preview.mp4"
    code, _, err = run_cli(capsys, "run", str(video), "--model", str(tiny_model_dir), "--db", str(db),
                           "--tiles", "2", "--sample-fps", "5", "--preview", str(preview), "--quiet")  # fmt: skip
    assert code == 0, err
    cap = cv2.VideoCapture(str(preview))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 15
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (48, 64, 3)
    session = query(db, "SELECT session_id FROM sessions").iloc[0, 0]
    assert (tmp_path / "s_snapshots" / session / "latest.jpg").is_file()


@pytest.mark.parametrize(
    "sql",
    ["DELETE FROM sightings", "ATTACH 'other.duckdb' AS o", "SELECT * FROM read_csv('/etc/passwd')",
     "COPY sightings TO 'out.csv'", "SELECT 1; DROP TABLE sightings"],
)  # fmt: skip
def test_sql_command_refuses_writes_and_file_access(tmp_path, capsys, sql):
    from fieldtool.store import SightingStore

    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    code, _, err = run_cli(capsys, "sql", "--db", str(db), sql)
    assert code == 2 and error_line(err)
    assert query(db, "SELECT count(*) AS n FROM sessions").n[0] == 0


def _pipe_into_reader(argv: list[str], lines: int) -> tuple[str, int, str]:
    """Run the installed ``fieldtool`` into a reader that stops after ``lines`` lines, as
    ``| head -n LINES`` does: (the lines read, exit status, stderr). The pipe is shrunk to
    one page where Linux allows, so the command is still writing when the reader goes."""
    import fcntl  # POSIX only, like the pipe semantics tested

    read_end, write_end = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    fieldtool = Path(sys.executable).parent / "fieldtool"
    # stdout block-buffered, as usual in a pipe: the last block is written only at exit
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with subprocess.Popen([str(fieldtool), *argv], stdout=write_end, stderr=subprocess.PIPE,
                          env=env) as proc:  # fmt: skip
        os.close(write_end)
        read = b""
        while read.count(b"\n") < lines:
            byte = os.read(read_end, 1)  # byte by byte: take no more than the reader wants
            if not byte:
                break
            read += byte
        os.close(read_end)
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    return read.decode(), code, err


@pytest.mark.parametrize(
    ("argv", "lines", "read_pattern"),
    [
        (["sql", "--max-rows", "100000", "SELECT range AS n FROM range(100000)"], 1, r" *n\n"),
        (["species", "--lat", "44.56", "--lon", "-123.26", "--min-prior", "0"], 1,
         r"\d+ species expected at 44\.5600, -123\.2600 .*\n"),
        # a few lines, still in Python's buffer at exit, into a reader already gone
        (["species", "--lat", "44.56", "--lon", "-123.26", "--limit", "3"], 0, ""),
    ],
    ids=["sql", "species", "reader-gone-first"],
)  # fmt: skip
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, argv, lines, read_pattern):
    """``fieldtool sql ... | head``: no BrokenPipeError traceback, what was read is intact."""
    from fieldtool.store import SightingStore

    if argv[0] == "sql":
        db = tmp_path / "s.duckdb"
        SightingStore(db).close()
        argv = [argv[0], "--db", str(db), *argv[1:]]
    read, code, err = _pipe_into_reader(argv, lines)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert "Exception ignored" not in err, err
    assert code == 141, err  # 128 + SIGPIPE: what a shell reports for a writer whose reader went
    assert re.fullmatch(read_pattern, read), read


def test_dashboard_command_serves_the_app_on_localhost(tmp_path):
    """``fieldtool dashboard`` starts Streamlit on 127.0.0.1 with the packaged app."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.dashboard.test_pages import build_db

    db = build_db(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldtool", "dashboard", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # a bound for a slow machine, not a measurement
        while True:
            try:
                url = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=5) as reply:
                    assert reply.read() == b"ok"
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "dashboard did not come up"
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert b"<html" in page.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_run_replace_flag():
    from fieldtool.cli import build_parser

    assert build_parser().parse_args(["run", "clip.mp4", "--replace"]).replace is True
    assert build_parser().parse_args(["run", "clip.mp4"]).replace is False


def test_library_warnings_reach_stderr_as_fieldtool_warnings(capsys, monkeypatch):
    """A new-user trial found: a range file's "no presence field" warning (Python logging
    in fieldtool.priors) came out bare, without the "fieldtool: warning:" every other
    warning has."""
    import argparse
    import logging

    from fieldtool import cli

    def func(args) -> int:
        logging.getLogger("fieldtool.priors.polygons").warning("%s: no presence field", "r.gpkg")
        logging.getLogger("fieldtool.priors.polygons").info("not shown")
        return 0

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=func)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 0
    assert capsys.readouterr().err == "fieldtool: warning: r.gpkg: no presence field\n"
    assert not logging.getLogger("fieldtool").handlers  # nothing left behind after main
