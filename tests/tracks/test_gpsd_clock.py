"""gpsd's fixes carry GPS time: a computer clock more than 2 s off it is warned once, with
the difference and the way to fix it, and GPS time is offered to live sources
(:meth:`GpsdPositions.gps_now`). A fake gpsd on 127.0.0.1; injected clocks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from fieldtool.tracks.gpsd import GpsdPositions

from .test_gpsd import T0, _serve_once, _tpv


class Mono:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _wait(gps: GpsdPositions, reports: int) -> None:
    """Until the reader took ``reports`` fixes (generous: busy machines run beside)."""
    deadline = datetime.now() + timedelta(seconds=30)
    while gps.fixes_read + gps.dropped < reports and datetime.now() < deadline:
        threading.Event().wait(0.02)
    assert gps.fixes_read + gps.dropped == reports


@pytest.fixture
def received() -> Iterator[list[GpsdPositions]]:
    made: list[GpsdPositions] = []
    yield made
    for gps in made:
        gps.close()


def _gps(made: list[GpsdPositions], lines: list[bytes], wall: datetime, logs: list[str],
         mono: Mono) -> GpsdPositions:  # fmt: skip
    gps = GpsdPositions(f"127.0.0.1:{_serve_once(lines)}", max_gap_s=2.0, log=logs.append,
                        wall=lambda: wall, clock=mono)  # fmt: skip
    made.append(gps)
    return gps


def test_a_clock_ten_minutes_slow_is_warned_once_with_the_offset_that_fixes_it(received):
    """Defect: a Raspberry Pi whose clock was never set got fixes 10 minutes from its own
    frame times and said nothing (every frame then fell outside the fixes' hold)."""
    logs: list[str] = []
    slow = T0 - timedelta(seconds=600)  # the computer's clock as each fix arrives
    gps = _gps(received, [_tpv(0, 44.0, -123.0), _tpv(1, 44.00001, -123.0),
                          _tpv(2, 44.00002, -123.0)], slow, logs, Mono())  # fmt: skip
    _wait(gps, 3)
    warned = [line for line in logs if "GPS time" in line]
    assert len(warned) == 1, logs
    line = warned[0]
    assert line.startswith("warning: time: ") and "127.0.0.1" in line
    assert "+600.0 s" in line and "--time-offset +600.0" in line and "set" in line
    assert "2026-06-01 09:00:00" in line and "2026-06-01 08:50:00" in line  # GPS, clock
    assert gps.clock_error_s == pytest.approx(602.0)  # the newest fix's


def test_a_clock_ahead_gets_a_negative_offset(received):
    logs: list[str] = []
    gps = _gps(received, [_tpv(0, 44.0, -123.0)], T0 + timedelta(seconds=42.5), logs, Mono())
    _wait(gps, 1)
    (line,) = [line for line in logs if "GPS time" in line]
    assert "-42.5 s" in line and "--time-offset -42.5" in line


def test_a_clock_within_two_seconds_is_not_warned_and_gps_time_runs_on(received):
    logs: list[str] = []
    mono = Mono()
    gps = _gps(received, [_tpv(0, 44.0, -123.0), _tpv(1, 44.00001, -123.0)],
               T0 + timedelta(seconds=1.5), logs, mono)  # fmt: skip
    assert gps.gps_now() is None or gps.fixes_read  # none before a fix
    _wait(gps, 2)
    assert not [line for line in logs if "GPS time" in line], logs
    mono.now += 12.5  # 12.5 s after the newest fix came
    assert gps.gps_now() == T0 + timedelta(seconds=1 + 12.5)


def test_no_gps_time_before_a_fix_nor_from_a_fix_before_1980(received):
    logs: list[str] = []
    before_gps = (b'{"class":"TPV","mode":3,"time":"1970-01-01T00:00:05Z",'
                  b'"lat":44.0,"lon":-123.0}\n')  # fmt: skip
    gps = _gps(received, [before_gps], T0, logs, Mono())
    _wait(gps, 1)
    assert gps.dropped == 1 and gps.gps_now() is None and gps.clock_error_s is None
    assert not [line for line in logs if "GPS time" in line], logs
