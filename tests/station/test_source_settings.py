"""A station's per-source settings: a source's own position source replaces the shared
one, every source is checked before any starts, one preview video per source, and names
made from several sources' URIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtool.station import Station, StationConfig, load_station_config
from fieldtool.station.config import source_names
from fieldtool.types import FieldtoolError

from ..conftest import ColourClassifier, write_video


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_source_track_replaces_the_shared_lat_lon(tmp_path):
    cfg = load_station_config(_toml(tmp_path / "st.toml", """
[position]
lat = 44.56
lon = -123.30
[[sources]]
name = "west"
uri = "walk_west.mp4"
[[sources]]
name = "east"
uri = "walk_east.mp4"
[sources.position]
track = "walk_east.gpx"
"""))
    west, east = (cfg.session_config(e).position for e in cfg.sources)
    assert (west.lat, west.lon, west.track) == (44.56, -123.30, None)
    assert (east.lat, east.lon, east.gpsd) == (None, None, None)
    assert east.track == tmp_path / "walk_east.gpx"


def test_a_source_lat_lon_replaces_a_shared_track_or_gpsd():
    cfg = StationConfig.model_validate({
        "position": {"track": "shared.nmea", "track_format": "nmea", "time_offset_s": 2.0},
        "sources": [{"name": "a", "uri": "a.mp4", "position": {"lat": 1.0, "lon": 2.0}},
                    {"name": "b", "uri": "b.mp4", "position": {"gpsd": "localhost:2947"}},
                    {"name": "c", "uri": "c.mp4"}],
    })  # fmt: skip
    a, b, c = (cfg.session_config(e).position for e in cfg.sources)
    assert (a.lat, a.lon, a.track, a.gpsd) == (1.0, 2.0, None, None)
    assert a.time_offset_s == 2.0  # not a position source: still shared
    assert (b.gpsd, b.track, b.lat) == ("localhost:2947", None, None)
    assert b.track_format == "auto"  # the shared track's format went with it
    assert (c.track, c.track_format) == (Path("shared.nmea"), "nmea")


def test_two_position_sources_in_one_entry_are_refused_naming_the_source(tmp_path):
    path = _toml(tmp_path / "st.toml", """
[[sources]]
name = "west"
uri = "walk_west.mp4"
[[sources]]
name = "east"
uri = "walk_east.mp4"
[sources.position]
lat = 1.0
lon = 2.0
track = "walk_east.gpx"
""")
    with pytest.raises(FieldtoolError) as err:
        load_station_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: source east: position: give one of")
    assert "\n" not in message


def test_a_source_that_cannot_open_stops_the_station_before_any_starts(tmp_path, labels):
    good = write_video(tmp_path / "good.avi", [(0, 1.0)])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"garbage")
    db = tmp_path / "s.duckdb"
    for bad in (tmp_path / "nosuch.mp4", broken):
        cfg = StationConfig.model_validate({
            "store": {"db": str(db), "live_frame_interval_s": 0},
            "sources": [{"name": "good", "uri": str(good)}, {"name": "bad", "uri": str(bad)}],
        })  # fmt: skip
        logs: list[str] = []
        station = Station(cfg, classifier=ColourClassifier(labels), log=logs.append)
        with pytest.raises(FieldtoolError, match=r"^source bad: "):
            station.run()
        assert not any("started" in line for line in logs), logs
        assert not db.exists()  # no session, not even an empty database file


def test_each_source_gets_its_own_preview_video(tmp_path):
    cfg = StationConfig.model_validate({
        "store": {"preview": str(tmp_path / "out.mp4")},
        "sources": [{"name": "a", "uri": "a.mp4"}, {"name": "b-2", "uri": "b.mp4"}],
    })  # fmt: skip
    previews = [cfg.session_config(e).store.preview for e in cfg.sources]
    assert previews == [tmp_path / "out-a.mp4", tmp_path / "out-b-2.mp4"]


def test_source_names_are_readable_distinct_topic_levels():
    names = source_names([
        "tcp://127.0.0.1:9011", "tcp://127.0.0.1:9012", "rtsp://a/stream",
        "rtsp://user:secret@cam1:554/live?tcp", "/data/walk.mp4", "/other/walk.mp4",
        "camA/clip.mp4", "0", "http://a/stream",
    ])  # fmt: skip
    assert names == ["127.0.0.1-9011", "127.0.0.1-9012", "a-stream", "cam1-554-live", "walk",
                     "walk-2", "clip", "0", "a-stream-2"]  # fmt: skip
    assert not any(c in n for n in names for c in "/+#")
    assert "secret" not in " ".join(names)


def test_a_shared_section_with_two_position_sources_is_said_once_as_shared(tmp_path):
    path = _toml(tmp_path / "st.toml", '[position]\nlat = 1.0\nlon = 2.0\ngpsd = "h"\n'
                 '[[sources]]\nname = "a"\nuri = "a.mp4"\n')  # fmt: skip
    with pytest.raises(FieldtoolError) as err:
        load_station_config(path)
    assert str(err.value) == (f"{path}: position: give one of lat/lon, a track or gpsd, "
                              "not lat/lon and gpsd")  # fmt: skip
    # every source giving its own: the shared one is never used, nothing to refuse
    ok = _toml(tmp_path / "ok.toml", '[position]\nlat = 1.0\nlon = 2.0\ngpsd = "h"\n'
               '[[sources]]\nname = "a"\nuri = "a.mp4"\n'
               '[sources.position]\ntrack = "a.gpx"\n')  # fmt: skip
    cfg = load_station_config(ok)
    assert cfg.session_config(cfg.sources[0]).position.gpsd is None


def test_the_config_reference_lists_a_station_files_keys():
    """docs/config.md (generated: tests/test_package.py holds it to the code) has every key
    of a station file: [station], [worker], [[sources]] and the notification targets'."""
    from fieldtool.notify.config import MqttConfig, WebhookConfig
    from fieldtool.station.config import SourceEntry, StationSection, WorkerConfig

    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text("utf-8")
    for title, model in (("[station]", StationSection), ("[worker]", WorkerConfig),
                         ("[[sources]]", SourceEntry), ("[notify.mqtt]", MqttConfig),
                         ("[[notify.webhooks]]", WebhookConfig)):  # fmt: skip
        section = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
        keys = [k for k, info in model.model_fields.items() if k != "filters"]
        assert all(f"| `{k}` |" in section for k in keys), (title, keys)
