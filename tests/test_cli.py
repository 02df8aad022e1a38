from __future__ import annotations

import json

import pytest

from fieldtool.cli import main
from fieldtool.store import query

from .conftest import write_video


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
