"""A gpsd JSON log (``gpspipe -w > walk.log``) given as a track: read by the live reader's
own TPV parser, not refused as NMEA garbage."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from fieldtool.tracks import detect_format, read_track
from fieldtool.types import FieldtoolError


def _log(path: Path, fixes: int = 5) -> Path:
    lines = [{"class": "VERSION", "release": "3.25"},
             {"class": "TPV", "mode": 1, "time": "2026-06-30T23:59:49.000Z"}]  # fmt: skip
    lines += [{"class": "TPV", "mode": 3, "time": f"2026-06-30T23:59:5{i}.000Z",
               "lat": -34.6 - i * 2e-5, "lon": -58.4 - i * 3e-5, "altMSL": -12.5}
              for i in range(fixes)]  # fmt: skip
    lines.append({"class": "SKY", "satellites": []})
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_gpsd_json_log_is_read_as_a_track(tmp_path: Path) -> None:
    """Defect: ``--track n4_gpsd.log`` said "no NMEA position fixes (41 lines, 41 garbage)"."""
    log = _log(tmp_path / "walk.log")
    assert detect_format(log) == "gpsd"
    track = read_track(log)
    assert track.format == "gpsd" and track.clock == "utc" and len(track.fixes) == 5
    first = track.fixes[0]
    assert first.time == datetime(2026, 6, 30, 23, 59, 50)
    assert (first.lat, first.lon, first.elevation_m) == (-34.6, -58.4, -12.5)
    assert track.skipped.get("no_fix") == 1
    assert len(read_track(log, "gpsd").fixes) == 5  # named


def test_a_gpsd_log_without_a_fix_is_one_line(tmp_path: Path) -> None:
    log = _log(tmp_path / "nofix.log", fixes=0)
    with pytest.raises(FieldtoolError, match=r"nofix.log: no gpsd position fixes \(1 TPV"):
        read_track(log)
