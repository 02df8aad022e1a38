"""SIGHUP reload (adds, removes, restarts only what changed) and the CLI's clean stop on
SIGTERM, with real cameras on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fieldtool.station import Station, load_station_config, read_status, status_file_of
from fieldtool.station.reload import plan_reload
from fieldtool.store import query
from fieldtool.types import FieldtoolError, SessionStatus

from ..conftest import REPO_ROOT, ColourClassifier
from .conftest import wait_for
from .test_station import Running


def toml(db: Path, cams: dict[str, str], extra: str = "") -> str:
    text = f"""
[station]
name = "ridge"
status_interval_s = 0.2

[source]
sample_fps = 10
read_timeout_s = 2
open_timeout_s = 2
reconnect_backoff_s = 0.1
reconnect_backoff_max_s = 0.5

[smoothing]
tau_s = 0.1
enter = 0.5
exit = 0.3
min_duration_s = 0.1
max_gap_s = 30

[store]
db = "{db.as_posix()}"
flush_interval_s = 0.2
live_frame_interval_s = 0
{extra}
"""
    for name, url in cams.items():
        text += f'\n[[sources]]\nname = "{name}"\nuri = "{url}"\n'
    return text


def test_reload_adds_removes_and_restarts_only_what_changed(tmp_path, labels, cameras):
    a, b, c = cameras(0), cameras(1), cameras(2)
    db = tmp_path / "s.duckdb"
    path = tmp_path / "station.toml"
    path.write_text(toml(db, {"a": a.url, "b": b.url, "c": c.url}))
    logs: list[str] = []
    station = Station(load_station_config(path), path=path, classifier=ColourClassifier(labels),
                      log=logs.append)  # fmt: skip
    run = Running(station)
    try:
        wait_for(lambda: all(run.analysed(n) > 5 for n in "abc"), what="three cameras")
        first = {n: station.by_name[n].step.session.session_id for n in "abc"}
        d = cameras(1)
        # b removed, c moved to another camera, d added, a untouched
        path.write_text(toml(db, {"a": a.url, "c": d.url, "d": d.url}))
        station.request_reload()
        wait_for(lambda: run.analysed("d") > 5 and station.by_name["b"].status == "ended"
                 and station.by_name["c"].step is not None
                 and station.by_name["c"].step.session.session_id != first["c"],
                 what="the reload")  # fmt: skip
        assert station.by_name["a"].step.session.session_id == first["a"]
        assert station.by_name["a"].status == "running"
        analysed_a = run.analysed("a")
        wait_for(lambda: run.analysed("a") > analysed_a + 5, what="a to go on")
        path.write_text("not toml [")
        station.request_reload()  # a bad file: refused, the station runs on
        wait_for(lambda: any("reload refused" in line for line in logs), what="the refusal")
    finally:
        run.stop()
    rows = query(db, "SELECT source_name, status, end_reason FROM sessions ORDER BY started_at")
    by = {(r.source_name, r.status, r.end_reason) for r in rows.itertuples()}
    assert ("b", "interrupted", "removed from the station") in by
    assert ("c", "interrupted", "restarted with new settings") in by
    assert ("a", "interrupted", "station stopped") in by
    assert len(rows) == 5  # a, b, c, c again, d: a was never restarted
    open_rows = query(db, "SELECT count(*) AS n FROM sightings WHERE status <> 'closed'")
    assert open_rows["n"][0] == 0


def test_plan_reload_says_what_needs_a_restart(tmp_path):
    db = tmp_path / "s.duckdb"
    old = tmp_path / "old.toml"
    new = tmp_path / "new.toml"
    old.write_text(toml(db, {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"}))
    new.write_text(toml(db, {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"},
                        "[worker]\nmax_batch = 2\n").replace("tau_s = 0.1", "tau_s = 0.5"))
    plan = plan_reload(load_station_config(old), load_station_config(new))
    assert plan.changed == ["a", "b"]  # a shared section changed: both restart
    assert any("[worker] changed" in n for n in plan.notes)


def test_bad_station_files_are_one_line_errors(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(toml(tmp_path / "s.duckdb", {"a": "x.mp4", "a ": "y.mp4"}))
    with pytest.raises(FieldtoolError, match=r"sources\.1\.name: .*letters, digits"):
        load_station_config(path)
    path.write_text(toml(tmp_path / "s.duckdb", {"a": "x.mp4", "b": "y.mp4"}).replace(
        'name = "b"', 'name = "a"'))  # fmt: skip
    with pytest.raises(FieldtoolError, match="source names must differ: a more than once"):
        load_station_config(path)
    path.write_text(toml(tmp_path / "s.duckdb", {"a": "x.mp4"}) +
                    "[sources.smoothing]\nenterr = 0.7\n")  # fmt: skip
    with pytest.raises(FieldtoolError, match=r"sources\.a\.smoothing\.enterr: unknown key "
                       r"\(did you mean 'enter'\?\)"):  # fmt: skip
        load_station_config(path)
    path.write_text(toml(tmp_path / "s.duckdb", {"a": "x.mp4"}).replace("[[sources]]",
                    "[smoothin]\nenter = 0.7\n\n[[sources]]", 1))  # fmt: skip
    with pytest.raises(FieldtoolError, match=r"smoothin: unknown section \(did you mean "
                       r"'smoothing'\?\)"):  # fmt: skip
        load_station_config(path)
    path.write_text(toml(tmp_path / "s.duckdb", {}))
    with pytest.raises(FieldtoolError, match="no \\[\\[sources\\]\\]"):
        load_station_config(path)


def test_the_cli_reloads_on_sighup_stops_on_sigterm_and_stores_no_secret(
    tmp_path, cameras, broker
):
    """``fieldtool station`` with the demo model: SIGHUP adds the camera the file gained,
    SIGTERM ends it, exit 0, the open sightings closed and written, the status file final;
    the broker password is read from the environment and found nowhere in the database,
    the logs or the status file."""
    cam = cameras(0)
    db = tmp_path / "s.duckdb"
    path = tmp_path / "station.toml"
    mqtt = (f'[notify.mqtt]\nport = {broker.port}\nusername = "u"\n'
            'password_env = "FIELDTOOL_TEST_MQTT_PASSWORD"\n')  # fmt: skip
    path.write_text(toml(db, {"feeder": cam.url}, mqtt).replace("enter = 0.5", "enter = 0.01")
                    .replace("exit = 0.3", "exit = 0.005"))  # fmt: skip
    env = {**os.environ, "FIELDTOOL_TEST_MQTT_PASSWORD": "pw-never-stored-4711"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldtool.cli", "station", str(path)], cwd=REPO_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    status_file = status_file_of(db, "ridge")  # <db stem>_station-<station>.json
    try:
        def sighting_open() -> bool:
            status = read_status(status_file)
            return bool(status and status["sources"] and status["sources"][0]["open_sightings"])

        wait_for(sighting_open, 120, "an open sighting")
        second = cameras(1)  # SIGHUP: the edited file is read again, a camera added
        path.write_text(path.read_text() + f'\n[[sources]]\nname = "pond"\nuri = "{second.url}"\n')

        def pond_analysed() -> bool:
            status = read_status(status_file)
            return bool(status and any(s["name"] == "pond" and s["frames_analysed"] > 0
                                       for s in status["sources"]))  # fmt: skip

        proc.send_signal(signal.SIGHUP)
        wait_for(pond_analysed, 120, "the source added by SIGHUP")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    sessions = query(db, "SELECT source_name, status, end_reason, config_json FROM sessions "
                     "ORDER BY started_at")  # fmt: skip
    assert sessions["source_name"].tolist() == ["feeder", "pond"]  # feeder kept its session
    assert sessions["status"].tolist() == [SessionStatus.INTERRUPTED] * 2
    sightings = query(db, "SELECT status FROM sightings")
    assert len(sightings) >= 1 and set(sightings["status"]) == {"closed"}
    final = read_status(status_file)
    assert final is not None and final["running"] is False
    secret = "pw-never-stored-4711"
    assert secret not in (out + err).decode() and secret not in status_file.read_text()
    assert not any(secret in c for c in sessions["config_json"])
    assert secret.encode() not in db.read_bytes()


def test_the_documented_station_file_is_valid(tmp_path):
    text = (REPO_ROOT / "docs" / "station.md").read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "station.toml"
    path.write_text(block)
    config = load_station_config(path)
    assert [s.name for s in config.sources] == ["feeder", "trail-north", "drone"]
    north = config.session_config(config.entry("trail-north"))
    assert north.smoothing.enter == 0.7 and north.smoothing.exit == 0.35
    assert north.source.sample_fps == 2 and north.position.lat == 45.5102
    assert config.notify.mqtt is not None and config.notify.mqtt.password_env
    assert config.notify.webhooks[0].filters.new_today_only


def test_a_station_files_relative_paths_are_its_folders(tmp_path, monkeypatch):
    folder = tmp_path / "station"
    folder.mkdir()
    path = folder / "s.toml"
    path.write_text('[store]\ndb = "s.duckdb"\n[[sources]]\nname = "a"\nuri = "a.mp4"\n'
                    '[sources.position]\ntrack = "a.gpx"\n', encoding="utf-8")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    config = load_station_config(path)
    assert config.store.db == folder / "s.duckdb"
    session = config.session_config(config.entry("a"))
    assert session.position.track == folder / "a.gpx"  # a source's own section too
    assert session.source.uri == "a.mp4"  # a file, camera or URL: as written
