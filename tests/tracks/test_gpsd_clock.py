"""gpsd's fixes carry GPS time: a computer clock more than 2 s off it is warned once, with
the difference and the way to fix it, and GPS time is offered to live sources
(:meth:`GpsdPositions.gps_now`).

A fix is stamped when the reader thread gets it, which a busy machine holds up: lateness
only makes GPS time look older, so GPS time is the newest estimate over recent fixes, and
a change of it is taken only once it holds over three fixes. The reader is fed scripted
chunks of gpsd's output (what one ``recv`` gives) on injected clocks: nothing here waits
on real time or on a socket (the instance's own connection, to port 1, is never answered).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from fieldtool.tracks.gpsd import HOLD_FIXES, GpsdPositions
from fieldtool.wallclock import LiveClock, steady

from .test_gpsd import T0, _tpv

START = 100.0  # s on the fake steady clock when the fix for T0 comes, on time


class Mono:
    """The steady clock (s) the reader stamps fixes by: moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Feed:
    """A gpsd connection as the reader sees it: each ``recv`` moves the clock to when the
    chunk came and gives its lines; then b"" (gpsd closed it)."""

    def __init__(self, mono: Mono, chunks: list[tuple[float, list[bytes]]]) -> None:
        self.mono, self.chunks = mono, list(chunks)

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        at, lines = self.chunks.pop(0)
        self.mono.now = at
        return b"".join(lines)


def _fix(seconds: float) -> bytes:
    """The TPV report of GPS time T0 + ``seconds`` (a walker moving ~1 m/s)."""
    return _tpv(seconds, 44.0 + seconds * 1e-5, -123.0)


def _on_time(*seconds: float, late_s: float = 0.0) -> list[tuple[float, list[bytes]]]:
    """One chunk a fix, each read ``late_s`` after its GPS time (START: T0)."""
    return [(START + s + late_s, [_fix(s)]) for s in seconds]


@pytest.fixture
def made() -> Iterator[list[GpsdPositions]]:
    kept: list[GpsdPositions] = []
    yield kept
    for gps in kept:
        gps.close()


def _gps(made: list[GpsdPositions], mono: Mono, logs: list[str],
         clock_off_s: float = 0.0, offset_s: float = 0.0) -> GpsdPositions:  # fmt: skip
    """Positions from gpsd on the fake clocks; this computer's clock is ``clock_off_s``
    from GPS time; ``offset_s``: the run's --time-offset."""

    def wall() -> datetime:
        return T0 + timedelta(seconds=mono.now - START + clock_off_s)

    gps = GpsdPositions("127.0.0.1:1", max_gap_s=2.0, log=logs.append, wall=wall, clock=mono,
                        offset_s=offset_s)  # fmt: skip
    made.append(gps)
    return gps


def _warned(logs: list[str]) -> list[str]:
    return [line for line in logs if "GPS time" in line]


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_clock_ten_minutes_slow_is_warned_once_with_the_offset_that_fixes_it(made):
    """Defect: a Raspberry Pi whose clock was never set got fixes 10 minutes from its own
    frame times and said nothing (every frame then fell outside the fixes' hold)."""
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs, clock_off_s=-600.0)
    gps._read(Feed(mono, _on_time(0, 1, 2, 3)))
    (line,) = _warned(logs)
    assert line.startswith("warning: time: ") and "127.0.0.1" in line
    assert "+600.0 s" in line and "--time-offset +600.0" in line and "set" in line
    assert "2026-06-01 09:00:02" in line and "2026-06-01 08:50:02" in line  # GPS, clock
    assert gps.clock_error_s == pytest.approx(600.0)
    assert gps.fixes_read == 4


def test_a_clock_ahead_gets_a_negative_offset(made):
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs, clock_off_s=42.5)
    gps._read(Feed(mono, _on_time(0, 1, 2)))
    (line,) = _warned(logs)
    assert "-42.5 s" in line and "--time-offset -42.5" in line


@pytest.mark.parametrize(("offset", "said"), [(600.0, None), (300.0, "+300.0 s")])
def test_the_time_offset_given_is_counted_before_warning(made, offset, said):
    """Defect (a user's trial): with the advised --time-offset given, frames were on GPS
    time, yet the warning came again: it compares GPS time with the clock frames are
    timed by (this computer's + the offset); a partial offset is advised to the whole."""
    logs: list[str] = []
    mono = Mono()
    _gps(made, mono, logs, clock_off_s=-600.0, offset_s=offset)._read(
        Feed(mono, _on_time(0, 1, 2, 3)))  # fmt: skip
    if said is None:
        assert _warned(logs) == []
    else:
        (line,) = _warned(logs)
        assert f"is {said} from" in line and "--time-offset +600.0" in line


def test_a_clock_within_two_seconds_is_not_warned_and_gps_time_runs_on(made):
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs, clock_off_s=1.5)
    gps._read(Feed(mono, _on_time(0, 1, 2)))
    assert not _warned(logs), logs
    assert gps.clock_error_s == pytest.approx(-1.5)
    mono.now += 12.5  # 12.5 s after the newest fix came
    assert gps.gps_now() == _at(2 + 12.5)


def test_no_gps_time_before_three_fixes_nor_from_a_fix_before_1980(made):
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs, clock_off_s=-600.0)
    before_gps = (b'{"class":"TPV","mode":3,"time":"1970-01-01T00:00:05Z",'
                  b'"lat":44.0,"lon":-123.0}\n')  # fmt: skip
    gps._read(Feed(mono, [(START, [before_gps])]))
    assert gps.dropped == 1 and gps.gps_now() is None and gps.clock_error_s is None
    gps._read(Feed(mono, _on_time(0, 1)))  # one fix is no time yet: it may have come late
    assert HOLD_FIXES == 3 and gps.gps_now() is None and not _warned(logs)
    gps._read(Feed(mono, _on_time(2)))
    assert gps.gps_now() == _at(2) and len(_warned(logs)) == 1


def test_a_reader_held_on_a_busy_machine_makes_gps_time_no_later(made):
    """Defect: each fix was taken as now when the reader got it; held 2.2 s (a loaded Pi,
    the classifier on its CPUs), it made GPS time 2.2 s late, and a live source timed by GPS
    time saw a -2.2 s step (then one back). A late fix only looks older: it moves nothing."""
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs)  # this computer's clock is right
    gps._read(Feed(mono, _on_time(0, 1, 2)))
    live = LiveClock(mono, gps._wall, gps=gps.gps_now, synchronised=lambda: False)
    said: list[str] = []
    live.start("rtsp://cam", said.append)
    assert live.time(0.0) == _at(2)  # GPS time from the start

    gps._read(Feed(mono, _on_time(3, late_s=2.2)))  # the reader was held
    assert gps.gps_now() == _at(5.2)
    assert live.check(3.2, 30, "rtsp://cam", said.append).step is None
    gps._read(Feed(mono, [(105.25, [_fix(4), _fix(5)])]))  # the backlog, read at once
    assert gps.gps_now() == _at(5.25)
    assert live.check(3.25, 31, "rtsp://cam", said.append).step is None
    assert not [line for line in said if "step" in line or "GPS time (gpsd) is" in line], said
    assert not _warned(logs), logs
    assert gps.clock_error_s == pytest.approx(0.0)


def test_one_late_fix_is_not_warned(made):
    """Defect: the clock was compared with each fix as it came: one fix 3 s late warned
    that this computer's clock, which was right, was 3 s off."""
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs)
    gps._read(Feed(mono, _on_time(0, 1, 2) + _on_time(3, late_s=3.0) + _on_time(7)))
    assert not _warned(logs), logs
    assert gps.gps_now() == _at(7)


def test_a_long_backlog_is_timed_by_its_newest_fix(made):
    """Held 20 s: the 20 fixes queued meanwhile come in one read; only the newest says when
    it came (the older ones only look older), so no run of late fixes steps GPS time."""
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs)
    gps._read(Feed(mono, _on_time(*range(10))))
    backlog = [_fix(s) for s in range(10, 30)]
    gps._read(Feed(mono, [(START + 29.1, backlog)]))
    assert gps.fixes_read == 30  # every fix is a position all the same
    assert gps.gps_now() == _at(29.1)  # on time: the backlog's fixes were no later
    assert not _warned(logs), logs


def test_a_step_of_gps_time_is_taken_once_it_holds_for_three_fixes(made):
    """GPS time that moves (a receiver's reset, its week number put right) is followed only
    once three fixes agree; a report repeated for one fix counts once."""
    logs: list[str] = []
    mono = Mono()
    gps = _gps(made, mono, logs)
    gps._read(Feed(mono, _on_time(0, 1, 2)))
    jumped = [(START + 3, [_fix(3603)]), (START + 4, [_fix(3604)]),
              (START + 4.5, [_fix(3604)]), (START + 4.6, [_fix(3604), _fix(3604)])]  # fmt: skip
    gps._read(Feed(mono, jumped))
    assert gps.gps_now() == _at(4.6)  # still the time it was
    gps._read(Feed(mono, [(START + 5, [_fix(3605)])]))
    assert gps.gps_now() == _at(3605)
    (line,) = _warned(logs)  # the computer's clock is now 3600 s from GPS time
    assert "-3600.0 s" not in line and "+3600.0 s" in line


def test_fixes_are_stamped_by_a_clock_that_counts_a_suspend(made):
    """On resume GPS time must run on from the fixes before the sleep: the default clock
    counts a suspend (CLOCK_BOOTTIME where there is one), as the monotonic clock does not."""
    gps = GpsdPositions("127.0.0.1:1")
    made.append(gps)
    assert gps._clock is steady
