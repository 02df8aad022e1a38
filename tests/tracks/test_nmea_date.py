"""An NMEA log with no date (GGA only, or RMC with an empty date field) is dated by
``--track-date`` (``position.track_date``); without it, one line says how."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from fieldtool.config import load_config
from fieldtool.tracks import nmea_checksum, positions_from_config
from fieldtool.types import FieldtoolError


def _sentence(body: str) -> str:
    return f"${body}*{nmea_checksum(body):02X}"


def _gga_log(path: Path, rmc_without_date: bool = False) -> Path:
    lines = []
    for s in range(0, 30, 5):
        hhmmss = f"0900{s:02d}.00"
        lines.append(_sentence(f"GPGGA,{hhmmss},4433.8760,N,12318.0000,W,1,08,0.9,71.0,M,,M,,"))
        if rmc_without_date:  # a receiver with no almanac yet: time, no date
            lines.append(_sentence(f"GPRMC,{hhmmss},A,4433.8760,N,12318.0000,W,0.5,0.0,,,"))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


@pytest.mark.parametrize("rmc", [False, True], ids=["gga-only", "rmc-without-date"])
def test_a_dateless_nmea_log_is_dated_by_track_date(tmp_path: Path, rmc: bool) -> None:
    """A new-user trial found: the error said "give the date" but no option took one, and
    said "no RMC/ZDA sentence" of a log full of RMC sentences with an empty date."""
    log = _gga_log(tmp_path / "walk.nmea", rmc_without_date=rmc)
    base = {"source.uri": "0", "position.track": str(log)}
    with pytest.raises(FieldtoolError) as err:
        positions_from_config(load_config(None, base).position)
    message = str(err.value)
    assert "walk.nmea" in message and "--track-date" in message and "\n" not in message
    assert "no RMC/ZDA sentence" not in message  # a date is what is missing, not RMC
    config = load_config(None, {**base, "position.track_date": "2026-06-01"})
    assert config.position.track_date == date(2026, 6, 1)
    positions = positions_from_config(config.position)
    fix = positions.position_at(datetime(2026, 6, 1, 9, 0, 10))  # type: ignore[union-attr]
    assert fix is not None and fix.lat == pytest.approx(44.5646, abs=1e-4)
