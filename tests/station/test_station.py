"""A station of real parts on 127.0.0.1: MJPEG cameras, a file, one model worker, one
store writer, a mosquitto broker; cameras killed and the broker restarted mid-run."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from fieldtool.station import Station, StationConfig, read_status
from fieldtool.store import query
from fieldtool.types import SessionStatus

from ..conftest import ColourClassifier, write_video
from .conftest import wait_for

SMOOTH = {"tau_s": 0.1, "enter": 0.5, "exit": 0.3, "min_duration_s": 0.1, "max_gap_s": 30.0}
LIVE = {"sample_fps": 10.0, "read_timeout_s": 2.0, "open_timeout_s": 2.0,
        "reconnect_backoff_s": 0.1, "reconnect_backoff_max_s": 0.5}  # fmt: skip


def station_config(db: Path, sources: list[dict[str, Any]], **extra: Any) -> StationConfig:
    data: dict[str, Any] = {
        "station": {"name": "ridge", "status_interval_s": 0.2},
        "worker": {"max_batch": 4, "max_wait_ms": 10},
        "smoothing": SMOOTH, "source": LIVE,
        "store": {"db": str(db), "flush_interval_s": 0.2, "live_frame_interval_s": 0},
        "sources": sources, **extra,
    }  # fmt: skip
    return StationConfig.model_validate(data)


class Running:
    """A station running on a background thread (signals are the CLI's, tested there)."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.results: list = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.results = self.station.run()
        except BaseException as exc:  # handed to the test
            self.error = exc

    def analysed(self, name: str) -> int:
        feed = self.station.by_name.get(name)
        return feed.step.session.frames_analysed if feed and feed.step else 0

    def stop(self) -> list:
        self.station.stop()
        self.thread.join(120)
        assert not self.thread.is_alive(), "the station did not stop"
        if self.error is not None:
            raise self.error
        return self.results


def test_files_share_one_model_and_one_store(tmp_path, labels):
    """Three files on one worker: each its own session and sightings, batches mixed."""
    videos = [write_video(tmp_path / f"v{i}.avi", [(i, 2.0), (3, 0.5)]) for i in range(3)]
    db = tmp_path / "s.duckdb"
    cfg = station_config(db, [{"name": f"f{i}", "uri": str(v), "source": {"sample_fps": 10}}
                              for i, v in enumerate(videos)])  # fmt: skip
    logs: list[str] = []
    station = Station(cfg, classifier=ColourClassifier(labels), log=logs.append)
    results = station.run()  # files end: the station ends
    assert sorted(r.session.status for r in results) == [SessionStatus.FINISHED] * 3
    rows = query(db, "SELECT ss.source_name, s.species, s.status FROM sightings s "
                 "JOIN sessions ss USING (session_id) ORDER BY 1")  # fmt: skip
    assert rows.values.tolist() == [["f0", "Acer rubrum", "closed"],
                                    ["f1", "Quercus alba", "closed"],
                                    ["f2", "Pinus taeda", "closed"]]  # fmt: skip
    sessions = query(db, "SELECT frames_analysed FROM sessions")
    assert (sessions["frames_analysed"] >= 20).all()
    assert station.worker.frames == sessions["frames_analysed"].sum()
    assert station.worker.frames / station.worker.batches > 1  # sources batched together
    status = read_status(station.status_file)
    assert status is not None and not status["running"]
    assert {s["name"] for s in status["sources"]} == {"f0", "f1", "f2"}


def _events(subscriber) -> set[tuple[str, str]]:
    return {(m["sighting_id"], m["event"]) for m in subscriber.sightings()}


def test_four_cameras_and_a_file_over_mqtt_through_a_camera_death_and_a_broker_restart(
    tmp_path, labels, broker, subscriber, cameras
):
    """Every sighting's start and end reaches the subscriber, those made while the broker
    was away too; a killed camera's outage is a gap and the others go on."""
    cams = [cameras(cls) for cls in (0, 1, 2, 0)]
    video = write_video(tmp_path / "walk.avi", [(1, 1.5), (3, 0.5), (2, 1.5)])
    db = tmp_path / "station.duckdb"
    sources = [{"name": f"cam{i}", "uri": c.url} for i, c in enumerate(cams)]
    sources.append({"name": "walk", "uri": str(video), "source": {"sample_fps": 10}})
    cfg = station_config(db, sources, notify={"mqtt": {"port": broker.port}})
    logs: list[str] = []
    run = Running(Station(cfg, classifier=ColourClassifier(labels), log=logs.append))
    try:
        wait_for(lambda: len({m["source"] for m in subscriber.sightings()
                              if m["event"] == "start"}) == 5,
                 what="a start from every source")  # fmt: skip
        assert subscriber.on("fieldtool/ridge/status")[-1] == b"online"
        cams[3].kill()  # one camera dies; the others go on
        before = {f"cam{i}": run.analysed(f"cam{i}") for i in range(3)}
        broker.stop()  # the broker goes away ...
        wait_for(lambda: all(run.analysed(n) > before[n] + 10 for n in before),
                 what="the live cameras to go on")  # fmt: skip
        late = cameras(1)  # ... a camera added while it is away opens a sighting ...
        cfg2 = run.station.config.model_copy(
            update={"sources": [*run.station.config.sources,
                                *station_config(db, [{"name": "late", "uri": late.url}]).sources]}
        )  # fmt: skip
        run.station.config = cfg2
        run.station.add(cfg2.entry("late"))
        wait_for(lambda: run.station.by_name["late"].step is not None
                 and run.station.by_name["late"].step.last_sighting is not None,
                 what="the late camera's sighting")  # fmt: skip
        broker.start()  # ... and is back: the queued messages go out
        wait_for(lambda: any(m["source"] == "late" for m in subscriber.sightings()),
                 what="the start made while the broker was away")
    finally:
        results = run.stop()
    sightings = query(db, "SELECT sighting_id, status FROM sightings")
    assert len(sightings) >= 7 and set(sightings["status"]) == {"closed"}
    expected = {(sid, kind) for sid in sightings["sighting_id"] for kind in ("start", "end")}
    wait_for(lambda: _events(subscriber) >= expected, what="every start and end")
    assert _events(subscriber) == expected  # nothing lost, nothing invented
    ends = [m for m in subscriber.sightings() if m["event"] == "end"]
    assert all(m["scores"]["raw"] is not None and m["scores"]["fused"] is not None and
               m["scores"]["peak"] >= 0.5 and m["place"] == {"lat": None, "lon": None}
               for m in ends)  # fmt: skip
    assert subscriber.on("fieldtool/ridge/status")[-1] == b"offline"
    by_name = {r.session.source_name: r.session for r in results}
    assert by_name["walk"].status == SessionStatus.FINISHED
    assert {by_name[f"cam{i}"].status for i in range(4)} == {SessionStatus.INTERRUPTED}
    gaps = query(db, "SELECT ss.source_name FROM source_gaps g JOIN sessions ss "
                 "USING (session_id)")  # fmt: skip
    assert "cam3" in set(gaps["source_name"])
    status = json.loads(run.station.status_file.read_text())
    figures = {s["name"]: s for s in status["sources"]}
    assert figures["cam0"]["frames_analysed"] > 0 and figures["cam0"]["lag_p95_s"] is not None
    assert figures["cam3"]["gaps"] >= 1


def test_a_source_that_cannot_open_names_the_station_file(tmp_path, labels):
    """A station that cannot start says which file holds the source (a station may be one of
    several TOML files on a machine); nothing is written."""
    import pytest

    from fieldtool.types import FieldtoolError

    good = write_video(tmp_path / "good.avi", [(0, 1.0)])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"garbage")
    db = tmp_path / "s.duckdb"
    toml = tmp_path / "ridge.toml"
    cfg = station_config(db, [{"name": "good", "uri": str(good)},
                              {"name": "cam2", "uri": str(broken)}])  # fmt: skip
    station = Station(cfg, path=toml, classifier=ColourClassifier(labels), log=lambda _: None)
    with pytest.raises(FieldtoolError, match=rf"^{toml}: source cam2: .*broken\.mp4"):
        station.run()
    assert not db.exists()  # not even an empty database file


def test_a_stations_views_draw_each_tile_where_the_model_saw_it(tmp_path, labels,
                                                                  monkeypatch):  # fmt: skip
    """A station's sessions are given the classifier's seen tiles, as ``fieldtool run``'s
    are (fieldtool.preview.tiles_seen_by): their snapshots label each tile at its kept part,
    not in a grid cell."""
    from fieldtool.station.feed import StationStep

    def seen(height: int, width: int) -> list[tuple[int, int, int, int]]:
        return [(0, height, 0, width)]

    classifier = ColourClassifier(labels)
    classifier.seen_tiles = seen  # type: ignore[attr-defined]
    given: list[object] = []
    made = StationStep.for_session.__func__  # type: ignore[attr-defined]

    def for_session(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        given.append(kwargs.get("seen_tiles"))
        return made(cls, *args, **kwargs)

    monkeypatch.setattr(StationStep, "for_session", classmethod(for_session))
    video = write_video(tmp_path / "v.avi", [(0, 1.0)])
    cfg = station_config(tmp_path / "s.duckdb", [{"name": "f", "uri": str(video),
                                                  "source": {"sample_fps": 5}}])  # fmt: skip
    Station(cfg, classifier=classifier, log=lambda _: None).run()
    assert given == [seen]
