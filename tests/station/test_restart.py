"""A station started again: a file source's earlier sessions are said with what works for
``fieldtool station`` (``--replace`` or ``[station] replace_earlier``), and replaced when
asked; a live camera's earlier sessions are its history and stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.station import Station, load_station_config
from fieldtool.store import query

from ..conftest import ColourClassifier, write_video
from .conftest import wait_for
from .test_reload import toml
from .test_station import Running


@pytest.fixture
def colour_model(monkeypatch, labels):
    """The station's model is the colour classifier (no model folder loaded)."""
    monkeypatch.setattr("fieldtool.station.runner.classifier_from_config",
                        lambda config, log: ColourClassifier(labels))  # fmt: skip


def _sessions(db: Path) -> list[str]:
    return query(db, "SELECT source_name FROM sessions ORDER BY 1")["source_name"].tolist()


def test_a_station_run_again_names_its_own_remedy_and_replace_replaces(
    tmp_path, colour_model, capsys
):
    video = write_video(tmp_path / "walk.avi", [(0, 2.0)])
    db = tmp_path / "s.duckdb"
    path = tmp_path / "st.toml"
    path.write_text(toml(db, {"walk": str(video)}))
    assert main(["station", str(path)]) == 0  # a file: the station ends with it
    capsys.readouterr()
    assert main(["station", str(path)]) == 0  # a restart: said, added beside
    warnings = [line for line in capsys.readouterr().err.splitlines() if "already holds" in line]
    assert len(warnings) == 1, warnings
    assert "fieldtool station --replace" in warnings[0]
    assert "replace_earlier" in warnings[0] and "--db" not in warnings[0]  # no such flag here
    assert _sessions(db) == ["walk", "walk"]
    assert main(["station", str(path), "--replace"]) == 0
    err = capsys.readouterr().err
    assert "walk: replaced 2 earlier session(s)" in err and "already holds" not in err
    assert _sessions(db) == ["walk"]


def test_the_station_file_can_ask_for_the_replacement(tmp_path, colour_model, capsys):
    video = write_video(tmp_path / "walk.avi", [(0, 2.0)])
    db = tmp_path / "s.duckdb"
    path = tmp_path / "st.toml"
    path.write_text(toml(db, {"walk": str(video)}).replace(
        "status_interval_s = 0.2", "status_interval_s = 0.2\nreplace_earlier = true"))  # fmt: skip
    assert main(["station", str(path)]) == 0
    assert main(["station", str(path)]) == 0
    err = capsys.readouterr().err
    assert "walk: replaced 1 earlier session(s)" in err and "already holds" not in err
    assert _sessions(db) == ["walk"]


def test_replace_leaves_a_live_cameras_history(tmp_path, labels, cameras):
    """A camera's earlier sessions are other hours of it, not a duplicate: kept."""
    cam = cameras(0)
    video = write_video(tmp_path / "walk.avi", [(0, 2.0)])
    db = tmp_path / "s.duckdb"
    path = tmp_path / "st.toml"
    path.write_text(toml(db, {"cam": cam.url, "walk": str(video)}))
    for replace in (False, True):
        logs: list[str] = []
        station = Station(load_station_config(path), path=path, log=logs.append,
                          classifier=ColourClassifier(labels), replace_earlier=replace)  # fmt: skip
        run = Running(station)
        try:
            wait_for(lambda r=run: r.analysed("cam") > 3
                     and r.station.by_name["walk"].status == "ended",
                     what="the camera and the file")  # fmt: skip
        finally:
            run.stop()
    assert _sessions(db) == ["cam", "cam", "walk"]
    assert any(line.startswith("walk: replaced 1 earlier session(s)") for line in logs), logs
    assert not any(line.startswith("cam: replaced") for line in logs)


@pytest.mark.parametrize("replace", [False, True])
def test_a_file_source_added_by_reload_is_checked_as_at_start_up(tmp_path, labels, cameras,
                                                                 replace):  # fmt: skip
    """Defect: a file source that a SIGHUP reload added was started beside its earlier
    sessions without a word (and ``--replace`` did not replace them); it gets the start-up's
    check. A source the reload restarts on a file this run has read already is not checked
    again: this run's own session of it is no earlier one (and is never deleted)."""
    cam = cameras(0)
    video = write_video(tmp_path / "walk.avi", [(0, 2.0)])
    db = tmp_path / "s.duckdb"
    path = tmp_path / "st.toml"
    path.write_text(toml(db, {"walk": str(video)}))
    Station(load_station_config(path), path=path, classifier=ColourClassifier(labels)).run()
    assert _sessions(db) == ["walk"]  # an earlier run of the file
    path.write_text(toml(db, {"cam": cam.url}))
    logs: list[str] = []
    station = Station(load_station_config(path), path=path, log=logs.append,
                      classifier=ColourClassifier(labels), replace_earlier=replace)  # fmt: skip

    def walk_ended(count: int) -> bool:
        done = [r for r in run.station.results if r.session.source_name == "walk"]
        return len(done) == count

    run = Running(station)
    try:
        wait_for(lambda: run.analysed("cam") > 3, what="the camera")
        path.write_text(toml(db, {"cam": cam.url, "walk": str(video)}))  # walk added
        station.request_reload()
        wait_for(lambda: walk_ended(1), what="the added file to end")
        path.write_text(toml(db, {"cam": cam.url, "walk": str(video)})
                        .replace(f'uri = "{video}"', f'uri = "{video}"\nsource = {{sample_fps = 5}}'))
        station.request_reload()  # walk restarted with new settings, on the file read already
        wait_for(lambda: walk_ended(2), what="the restarted file to end")
    finally:
        run.stop()
    walk = [line for line in logs if line.startswith("walk: ")]
    warned = [line for line in walk if "already holds" in line]
    replaced = [line for line in walk if "replaced" in line and "earlier session" in line]
    if replace:
        assert len(replaced) == 1, logs
        assert replaced[0].startswith(f"walk: replaced 1 earlier session(s) of {video}")
        assert not warned, logs
        assert _sessions(db) == ["cam", "walk", "walk"]  # this run's two
    else:
        assert len(warned) == 1 and "1 session(s)" in warned[0], logs
        assert "fieldtool station --replace" in warned[0], warned
        assert not replaced, logs
        assert _sessions(db) == ["cam", "walk", "walk", "walk"]
