"""A running station's status, as the dashboard finds it: fresh and running, or nothing;
each station on a database its own file, so two stations on one file are both seen."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import pytest

from fieldtool.station import Station, read_status, running_statuses, status_file_of
from fieldtool.timebase import utc_now

from ..conftest import ColourClassifier, write_video
from .conftest import wait_for
from .test_station import Running, station_config

NOW = datetime(2026, 6, 1, 12, 0, 0)


def _write(into, *, running: bool, updated: datetime, station: str = "ridge", **extra) -> None:
    status = {"station": station, "running": running, "updated_at": updated.isoformat() + "Z",
              "sources": [{"name": "cam1"}], **extra}  # fmt: skip
    status_file_of(into, station).write_text(json.dumps(status), encoding="utf-8")


def test_only_a_fresh_running_station_counts(tmp_path):
    db = tmp_path / "station.duckdb"
    assert status_file_of(db, "ridge") == tmp_path / "station_station-ridge.json"
    assert running_statuses(db, NOW) == []  # no file
    _write(db, running=True, updated=NOW - timedelta(seconds=5))
    assert [s["station"] for s in running_statuses(db, NOW)] == ["ridge"]
    _write(db, running=True, updated=NOW - timedelta(minutes=5))  # died without a last write
    assert running_statuses(db, NOW) == []
    _write(db, running=False, updated=NOW)  # ended
    assert running_statuses(db, NOW) == []
    status_file_of(db, "ridge").write_text("{half", encoding="utf-8")  # being replaced
    assert running_statuses(db, NOW) == []


def test_every_station_of_a_database_is_found_and_no_other(tmp_path):
    db = tmp_path / "s.duckdb"
    _write(db, running=True, updated=NOW, station="north", db=str(db))
    _write(db, running=True, updated=NOW, station="south")  # older files carry no db
    other = tmp_path / "s_station-x.duckdb"  # a database whose stem starts as s's files do
    _write(other, running=True, updated=NOW, station="y", db=str(other))
    assert status_file_of(other, "y").name.startswith("s_station-")  # s's pattern: its db says
    found = running_statuses(db, NOW)
    assert [s["station"] for s in found] == ["north", "south"]
    assert found[0]["status_file"] == str(status_file_of(db, "north"))


def test_two_stations_on_one_database_write_two_status_files(tmp_path, labels, cameras):
    db = tmp_path / "s.duckdb"
    logs: dict[str, list[str]] = {"s1": [], "s2": []}
    runs = []
    try:
        for name, cam in (("s1", cameras(0)), ("s2", cameras(1))):
            cfg = station_config(db, [{"name": f"cam-{name}", "uri": cam.url}],
                                 station={"name": name, "status_interval_s": 0.2})  # fmt: skip
            station = Station(cfg, classifier=ColourClassifier(labels), log=logs[name].append)
            runs.append(Running(station))
            wait_for(lambda s=station: (read_status(s.status_file) or {}).get("running"),
                     what=f"{name}'s status")  # fmt: skip
        wait_for(lambda: {s["station"] for s in running_statuses(db, utc_now())}
                 == {"s1", "s2"}, what="both stations' status")  # fmt: skip
    finally:
        for run in runs:
            run.stop()
    files = [run.station.status_file for run in runs]
    assert files == [status_file_of(db, "s1"), status_file_of(db, "s2")]
    assert [read_status(f)["sources"][0]["name"] for f in files] == ["cam-s1", "cam-s2"]
    said = [line for line in logs["s2"] if "s1" in line and "runs into" in line]
    assert len(said) == 1, logs["s2"]
    assert not any("runs into" in line for line in logs["s1"])


@pytest.mark.parametrize("configured", [False, True])
def test_a_second_station_of_the_same_name_gets_a_status_file_of_its_own(tmp_path, labels,
                                                                         configured):  # fmt: skip
    """Another live process (here: this test's parent) already writes ridge's file (the
    default one, or the one [station] status_file names). The second station's own
    ``-<pid>`` file is removed when it stops: one left by every such run piled up."""
    db = tmp_path / "s.duckdb"
    _write(db, running=True, updated=utc_now(), db=str(db), pid=os.getppid())
    shared = status_file_of(db, "ridge")
    if configured:
        shared = shared.rename(tmp_path / "s_station-ridge-west.json")  # found as theirs
    theirs = shared.read_text()
    video = write_video(tmp_path / "walk.avi", [(0, 1.0)])
    logs: list[str] = []
    seen: list[dict | None] = []  # its status file as the station stops (its last progress)
    station_table = {"name": "ridge", "status_interval_s": 0.2,
                     **({"status_file": str(shared)} if configured else {})}  # fmt: skip
    def progress(sources: list[dict]) -> None:
        seen.append(read_status(station.status_file))

    station = Station(station_config(db, [{"name": "walk", "uri": str(video)}],
                                     station=station_table),
                      classifier=ColourClassifier(labels), log=logs.append,
                      progress=progress)  # fmt: skip
    station.run()
    assert station.status_file == tmp_path / f"{shared.stem}-{os.getpid()}.json"
    assert seen and seen[-1] is not None and seen[-1]["sources"][0]["name"] == "walk"
    assert not station.status_file.exists() and not station.status_written  # removed
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [shared.name]
    assert shared.read_text() == theirs  # not overwritten
    said = [line for line in logs if "another station named ridge" in line]
    assert len(said) == 1 and str(station.status_file) in said[0], logs


def test_a_station_alone_keeps_its_final_status(tmp_path, labels):
    """The name's own file is written again by the next run: its final write stays."""
    db = tmp_path / "s.duckdb"
    video = write_video(tmp_path / "walk.avi", [(0, 1.0)])
    station = Station(station_config(db, [{"name": "walk", "uri": str(video)}]),
                      classifier=ColourClassifier(labels))  # fmt: skip
    station.run()
    final = read_status(status_file_of(db, "ridge"))
    assert final is not None and final["running"] is False and final["pid"] == os.getpid()
    assert station.status_written  # the CLI's last line names it


def test_a_status_file_put_elsewhere_is_found_while_its_station_runs(tmp_path, labels,
                                                                     cameras):  # fmt: skip
    """Defect: a ``[station] status_file`` outside ``<db stem>_station*.json`` beside the
    database was never found by the dashboard's Live page. The station says where its
    status is in an entry of the database's station registry (``<db stem>_stations/``),
    removed when it stops; the station ended is not live."""
    db = tmp_path / "data" / "s.duckdb"
    db.parent.mkdir()
    elsewhere = tmp_path / "run" / "ridge-live.json"
    elsewhere.parent.mkdir()
    cfg = station_config(db, [{"name": "cam", "uri": cameras(0).url}],
                         station={"name": "ridge", "status_interval_s": 0.2,
                                  "status_file": str(elsewhere)})  # fmt: skip
    run = Running(Station(cfg, classifier=ColourClassifier(labels)))
    try:
        wait_for(lambda: [s["status_file"] for s in running_statuses(db, utc_now())]
                 == [str(elsewhere)], what="the status put elsewhere")  # fmt: skip
        assert running_statuses(db, utc_now())[0]["sources"][0]["name"] == "cam"
    finally:
        run.stop()
    assert read_status(elsewhere)["running"] is False  # its final write, where it was put
    assert running_statuses(db, utc_now()) == []
    assert not list((tmp_path / "data").glob("s_stations/*")), "its entry is removed"


def test_a_registry_entry_vouches_only_for_its_own_live_station(tmp_path):
    """An entry left behind (its station killed) or pointing at a status that is not its
    run's, not running, or old, shows no station; one of a process gone from this host is
    removed by the next station's entry."""
    import subprocess
    import sys

    from fieldtool.station.status import register_station, unregister_station

    db = tmp_path / "s.duckdb"
    status = tmp_path / "elsewhere" / "ridge.json"
    status.parent.mkdir()
    now = utc_now()
    entry = register_station(db, "ridge", status)
    assert entry.parent == tmp_path / "s_stations"

    def write(**fields) -> None:
        data = {"station": "ridge", "running": True, "updated_at": now.isoformat() + "Z",
                "pid": os.getpid(), "db": str(db), "sources": [], **fields}  # fmt: skip
        status.write_text(json.dumps(data), encoding="utf-8")

    assert running_statuses(db, now) == []  # no status written yet
    write()
    assert [s["status_file"] for s in running_statuses(db, now)] == [str(status)]
    write(running=False)  # ended
    assert running_statuses(db, now) == []
    write(updated_at=(now - timedelta(minutes=5)).isoformat() + "Z")  # died long ago
    assert running_statuses(db, now) == []
    write(pid=os.getpid() + 1)  # another run writes that file now: not this entry's
    assert running_statuses(db, now) == []
    write(db=str(tmp_path / "other.duckdb"))  # of another database
    assert running_statuses(db, now) == []
    unregister_station(entry)
    write()
    assert running_statuses(db, now) == [] and not entry.exists()

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a station killed: its entry stays, its process is gone
    left = register_station(db, "ridge", status, pid=gone.pid)
    write(pid=gone.pid)
    assert running_statuses(db, now) == []  # its process is gone: not live
    mine = register_station(db, "pond", status)  # the next station's start removes it
    assert not left.exists() and mine.exists()
