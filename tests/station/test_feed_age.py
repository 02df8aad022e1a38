"""A station source's newest frame is aged on the clock it arrived by (monotonic), never by
its stored time: ``--time-offset`` (or a clock step) corrects the frame's time, not its age."""

from __future__ import annotations

from datetime import datetime, timedelta

from fieldtool.config import Config
from fieldtool.sources import Gap, VideoSource
from fieldtool.station import Station, read_status
from fieldtool.station.feed import Feed
from fieldtool.station.worker import Slot
from fieldtool.wallclock import CLOCK_STEP

from ..conftest import ColourClassifier
from .conftest import wait_for
from .test_station import Running, station_config

NOW = datetime(2026, 6, 1, 12, 0, 0)


def _age(status: dict, source: dict) -> float:
    """As the dashboard's live page ages it: the status's own clock, its newest_frame_at."""
    then = datetime.fromisoformat(str(source["newest_frame_at"]).removesuffix("Z"))
    written = datetime.fromisoformat(str(status["updated_at"]).removesuffix("Z"))
    return (written - then).total_seconds()


def test_the_newest_frames_age_is_its_monotonic_age_on_this_computers_clock():
    mono = [500.0]
    source = VideoSource("rtsp://127.0.0.1:1/cam")
    feed = Feed("cam#1", "cam", Config(), source, Slot("cam#1", True), None, None, None,
                clock=lambda: mono[0], wall=lambda: NOW)  # fmt: skip
    assert feed.figures()["newest_frame_at"] is None
    feed.analysed(0.25, arrived=499.75)  # came in 0.25 s before the model took it
    mono[0] += 30.0
    figures = feed.figures()
    assert figures["newest_frame_at"] == (NOW - timedelta(seconds=30.25)).isoformat() + "Z"


def test_a_time_offset_is_not_the_newest_frames_age(tmp_path, labels, cameras):
    """Defect: with --time-offset -3600 (a computer clock an hour fast) the status said
    the newest frame was an hour old while frames came in every 50 ms."""
    db = tmp_path / "s.duckdb"
    cfg = station_config(db, [{"name": "cam", "uri": cameras(0).url}],
                         position={"time_offset_s": -3600.0})  # fmt: skip
    run = Running(Station(cfg, classifier=ColourClassifier(labels)))
    try:
        wait_for(lambda: (read_status(run.station.status_file) or {}).get("sources")
                 and read_status(run.station.status_file)["sources"][0].get("newest_frame_at"),
                 what="a status with a newest frame")  # fmt: skip
        status = read_status(run.station.status_file)
        assert status is not None
        (source,) = status["sources"]
    finally:
        run.stop()
    assert _age(status, source) < 600  # seconds at most on a busy machine, never the hour


def test_a_clock_step_is_counted_apart_from_the_sources_gaps():
    """A clock step is kept as a zero-length ``source_gaps`` row (fieldtool.wallclock), but
    it is no outage: the status counts it as ``clock_steps``, not in ``gaps``."""
    source = VideoSource("rtsp://127.0.0.1:1/cam")
    source.stats.gaps += [
        Gap(1.0, 4.0, NOW, NOW + timedelta(seconds=3), "stream lost"),
        Gap(9.0, 9.0, NOW, NOW + timedelta(seconds=600), f"{CLOCK_STEP} by +600.0 s"),
    ]
    feed = Feed("cam#1", "cam", Config(), source, Slot("cam#1", True), None, None, None,
                clock=lambda: 0.0, wall=lambda: NOW)  # fmt: skip
    figures = feed.figures()
    assert (figures["gaps"], figures["clock_steps"]) == (1, 1)
