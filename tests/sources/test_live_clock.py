"""A live source on a computer whose clock is set while it runs (a Raspberry Pi booted at
an old time, set by NTP, GPS or a phone hotspot minutes later): the step is seen, said in
one line, recorded in the session's gaps, and later frames are timed by the clock as set.

Fake captures, a fake monotonic clock and a fake wall clock that follows it: nothing here
waits on real time, and the machine's own clock (synchronised or not) plays no part."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.sources import VideoSource
from fieldtool.wallclock import (
    CLOCK_STEP,
    STA_UNSYNC,
    TIME_ERROR,
    LiveClock,
    boottime,
    clock_synchronised,
    read_adjtimex,
)

from .test_live_retry import URL, Camera, FakeClock

BOOTED = datetime(2025, 11, 3, 17, 42, 0)  # fake-hwclock: the time the Pi last shut down
SET_BY = 600.0  # s: NTP later sets the clock this far forward


class Wall:
    """``utc_now`` stand-in following the fake monotonic clock; ``steps``: (monotonic time
    from which, seconds added), as a clock set while the session runs."""

    def __init__(self, clock: FakeClock, steps: list[tuple[float, float]] | None = None):
        self.clock = clock
        self.steps = steps if steps is not None else []  # a list given is shared

    def __call__(self) -> datetime:
        added = sum(s for at, s in self.steps if self.clock.now >= at)
        return BOOTED + timedelta(seconds=self.clock.now - 1000.0 + added)


class Boot:
    """``CLOCK_BOOTTIME`` stand-in: the fake monotonic clock + the time this computer slept;
    ``sleeps``: (monotonic time from which, seconds asleep). The monotonic clock stops while
    asleep and the wall clock runs on: a sleep is ``Wall(clock, sleeps)`` with ``Boot(clock,
    sleeps)``."""

    def __init__(self, clock: FakeClock, sleeps: list[tuple[float, float]] | None = None):
        self.clock = clock
        self.sleeps = sleeps if sleeps is not None else []  # a list given is shared

    def __call__(self) -> float:
        return self.clock.now + sum(s for at, s in self.sleeps if self.clock.now >= at)


def _answers(*values: bool | None) -> Callable[[], bool | None]:
    """The kernel's word on the clock, one answer a call (the last one repeats)."""
    left = list(values)
    return lambda: left.pop(0) if len(left) > 1 else left[0]


def _live(clock: FakeClock, wall: Callable[[], datetime], logs: list[str], frames: int = 10,
          synchronised: Callable[[], bool | None] = lambda: None,
          boot: Callable[[], float | None] | None = None) -> VideoSource:  # fmt: skip
    """A live source of ``frames`` frames on fake clocks; ``boot`` None: no suspend clock
    (a system without ``CLOCK_BOOTTIME``)."""
    more = {} if boot is None else {"boot": boot}
    return VideoSource(URL, sample_fps=1e9, max_frames=frames, open_capture=Camera([frames], clock),
                       clock=clock, wall=wall, synchronised=synchronised, log=logs.append,
                       **more)  # fmt: skip


def _seconds(when: datetime) -> float:
    return (when - BOOTED).total_seconds()


def test_a_clock_set_mid_session_re_times_later_frames_and_is_said_and_recorded():
    """Defect: the wall clock was read once when the stream opened; a clock set minutes
    later (NTP after a Pi's boot) left every frame of the session at the boot clock's
    date, and nothing said so."""
    clock = FakeClock()
    logs: list[str] = []
    # set after the 5th frame (each read takes 0.1 s); not synchronised before, then it is;
    # the suspend clock says this computer did not sleep meanwhile
    source = _live(clock, Wall(clock, [(1000.55, SET_BY)]), logs,
                   synchronised=_answers(False, True), boot=Boot(clock))  # fmt: skip
    frames = list(source.frames())
    assert len(frames) == 10
    for frame in frames[:5]:  # timed by the clock as it read then
        assert _seconds(frame.wall_time) == pytest.approx(frame.t)
    for frame in frames[5:]:  # re-anchored: the clock as set
        assert _seconds(frame.wall_time) == pytest.approx(SET_BY + frame.t)
    assert [f.t for f in frames] == pytest.approx([0.1 * (i + 1) for i in range(10)])  # media

    (step,) = source.stats.gaps  # recorded where outages are: one row, no time away
    assert step.start_t == step.end_t == pytest.approx(frames[5].t)
    assert step.ended_at is not None
    assert (step.ended_at - step.started_at).total_seconds() == pytest.approx(SET_BY)
    assert _seconds(step.started_at) == pytest.approx(frames[5].t)  # the old clock's reading
    assert step.reason.startswith("clock stepped +600.0 s")
    assert "stored ones +600.0 s" in step.reason

    said = [line for line in logs if "stepped" in line]
    assert len(said) == 1, logs
    line = said[0]
    assert line.startswith(f"{URL}: ") and "+600.0 s" in line and "t 0.6 s" in line
    assert "2025-11-03 17:42:00" in line and "2025-11-03 17:52:00" in line  # when, both clocks
    assert "now synchronised" in line and "5 frame(s) before" in line
    assert "their true times are the stored ones +600.0 s" in line
    start = [line for line in logs if "not synchronised" in line]
    assert len(start) == 1 and start[0].startswith(f"{URL}: ")
    assert "frame times are its reading (2025-11-03 17:42:00 UTC now)" in start[0]


def test_a_step_of_a_clock_not_known_to_be_set_leaves_earlier_frames_open():
    """Stepped back with nothing saying the clock was set: the frames before keep their
    times, and the line says what they are if the old reading was wrong (no claim)."""
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock, [(1000.35, -3600.0)]), logs)  # unknown sync
    frames = list(source.frames())
    assert _seconds(frames[2].wall_time) == pytest.approx(frames[2].t)
    assert _seconds(frames[3].wall_time) == pytest.approx(frames[3].t - 3600.0)
    (step,) = source.stats.gaps
    assert step.reason.startswith("clock stepped -3600.0 s")
    (line,) = [line for line in logs if "stepped" in line]
    assert "3 frame(s) before" in line
    assert "keep the times of this computer's clock before it" in line
    assert "off by -3600.0 s if it was wrong then" in line
    assert not [line for line in logs if "not synchronised" in line]  # unknown: not claimed


def test_small_differences_and_an_interrupted_reading_are_no_step():
    """Under 2 s is no step; a reading taken while the process was held between its two
    monotonic readings (a busy machine) is not compared, so no step is invented."""
    clock = FakeClock()
    logs: list[str] = []
    held = Wall(clock, [(1000.25, 1.5)])  # 1.5 s: within the bound

    def busy() -> datetime:  # the 6th reading waits 5 s between the monotonic readings
        busy.calls += 1  # type: ignore[attr-defined]
        if busy.calls == 6:  # type: ignore[attr-defined]
            clock.now += 5.0
        return held()

    busy.calls = 0  # type: ignore[attr-defined]
    source = _live(clock, busy, logs)
    frames = list(source.frames())
    assert len(frames) == 10 and source.stats.gaps == []
    assert not [line for line in logs if "stepped" in line], logs
    assert frames[-1].t == pytest.approx(1.0 + 5.0)  # the hold is media time, as it was


def test_only_a_fake_monotonic_clock_is_not_compared_with_the_real_wall_clock():
    """Tests (and callers) giving only ``clock=`` keep one reading of the wall clock: a
    fake monotonic clock racing ahead of the real one is no clock step."""
    clock = FakeClock()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    logs: list[str] = []
    source = VideoSource(URL, sample_fps=1e9, retry=3, open_capture=Camera([3, 3], clock, 0.1),
                         sleep=sleep, clock=clock, reconnect_backoff_s=30.0,
                         log=logs.append)  # fmt: skip
    frames = list(source.frames())
    assert len(frames) == 6 and sleeps
    assert not [g for g in source.stats.gaps if g.reason.startswith("clock")]
    gap = source.stats.gaps[0]
    assert gap.ended_at is not None
    assert (gap.ended_at - gap.started_at).total_seconds() == pytest.approx(gap.end_t - gap.start_t)


@pytest.mark.parametrize("synchronised", [True, None])
def test_a_synchronised_or_unknown_clock_is_not_called_unsynchronised(synchronised):
    clock = FakeClock()
    logs: list[str] = []
    list(_live(clock, Wall(clock), logs, synchronised=lambda: synchronised).frames())
    assert not [line for line in logs if "synchronised" in line], logs


def test_the_unsynchronised_line_names_a_time_offset_given():
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock), logs, synchronised=lambda: False)
    source.clock_offset_s = -300.0
    frames = list(source.frames())
    (line,) = [line for line in logs if "not synchronised" in line]
    assert "(2025-11-03 17:42:00 UTC now + --time-offset -300 s)" in line
    assert _seconds(frames[0].wall_time) == pytest.approx(frames[0].t - 300.0)


# ------------------------------------------------------------- this computer asleep (suspend)

ASLEEP = 3600.0  # s: suspended for an hour (a laptop's lid closed, a Pi's sleep schedule)


def test_a_suspend_is_no_clock_step_frames_either_side_are_right_and_the_sleep_is_a_gap():
    """Defect: Linux's monotonic clock stops while the computer is suspended and the wall
    clock runs on, so on resume wall - monotonic jumped by the sleep and was taken for the
    clock being set; with NTP synchronised meanwhile, the log and the stored row said the
    frames before were 3600 s off (adding it to them, as the docs say, corrupts right times).
    The suspend clock (CLOCK_BOOTTIME) moved as far: it is a sleep, a gap in the survey."""
    clock = FakeClock()
    logs: list[str] = []
    asleep = [(1000.55, ASLEEP)]  # during the 6th read
    source = _live(clock, Wall(clock, asleep), logs, synchronised=_answers(False, True),
                   boot=Boot(clock, asleep))  # fmt: skip
    frames = list(source.frames())
    assert len(frames) == 10
    for frame in frames:  # every frame at its true time; media time counts the sleep
        assert _seconds(frame.wall_time) == pytest.approx(frame.t)
    assert [f.t for f in frames[5:]] == pytest.approx([ASLEEP + 0.1 * i for i in range(6, 11)])

    (gap,) = source.stats.gaps  # no frames while asleep: a gap, as an outage; no step
    assert gap.start_t == pytest.approx(0.6) and gap.end_t == pytest.approx(frames[5].t)
    assert gap.ended_at is not None
    assert _seconds(gap.started_at) == pytest.approx(0.6)
    assert _seconds(gap.ended_at) == pytest.approx(frames[5].t)
    assert gap.reason.startswith("this computer slept 3600.0 s")
    assert not gap.reason.startswith(CLOCK_STEP) and "true times" not in gap.reason

    assert not [line for line in logs if "stepped" in line or "true times" in line], logs
    (line,) = [line for line in logs if "slept" in line]
    assert line.startswith(f"{URL}: time: this computer slept 3600.0 s (frames before and "
                           "after are right)")  # fmt: skip
    assert "2025-11-03 17:42:00" in line and "2025-11-03 18:42:00" in line


def test_a_clock_set_while_asleep_is_a_sleep_and_a_step():
    """NTP set the clock 600 s forward while the computer slept an hour: the hour is a gap,
    the 600 s a step, and only the step is said to correct the frames before."""
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock, [(1000.55, ASLEEP + SET_BY)]), logs,
                   synchronised=_answers(False, True),
                   boot=Boot(clock, [(1000.55, ASLEEP)]))  # fmt: skip
    frames = list(source.frames())
    for frame in frames[:5]:
        assert _seconds(frame.wall_time) == pytest.approx(frame.t)
    for frame in frames[5:]:  # the clock as set, the sleep in media time
        assert _seconds(frame.wall_time) == pytest.approx(frame.t + SET_BY)
        assert frame.t > ASLEEP
    slept, step = source.stats.gaps
    assert slept.reason.startswith("this computer slept 3600.0 s")
    assert slept.end_t - slept.start_t == pytest.approx(ASLEEP)
    assert step.reason.startswith("clock stepped +600.0 s (this computer's clock)")
    assert "their true times are the stored ones +600.0 s" in step.reason
    assert step.start_t == step.end_t == pytest.approx(frames[5].t)
    assert step.ended_at is not None
    assert (step.ended_at - step.started_at).total_seconds() == pytest.approx(SET_BY)


def test_a_sleep_while_the_stream_was_away_is_told_in_its_outage():
    """Asleep during a reconnect's wait: one gap, the outage, from the drop to the frames
    again (the hour included), its reason naming the sleep; frames keep their true times."""
    clock = FakeClock()
    logs: list[str] = []
    asleep: list[tuple[float, float]] = []

    def wait(seconds: float) -> None:  # the backoff wait; the computer sleeps in the first
        if not asleep:
            asleep.append((clock.now + seconds / 2, ASLEEP))
        clock.now += seconds

    source = VideoSource(URL, sample_fps=1e9, max_frames=6, retry=3,
                         open_capture=Camera([3, 3], clock), sleep=wait, clock=clock,
                         wall=Wall(clock, asleep), boot=Boot(clock, asleep),
                         synchronised=lambda: None, log=logs.append)  # fmt: skip
    frames = list(source.frames())
    assert len(frames) == 6
    for frame in frames:
        assert _seconds(frame.wall_time) == pytest.approx(frame.t)
    (gap,) = source.stats.gaps
    assert gap.start_t == pytest.approx(0.3) and gap.end_t == pytest.approx(frames[3].t)
    assert gap.end_t - gap.start_t == pytest.approx(0.01 + 1.0 + 0.1 + ASLEEP)
    assert gap.reason.startswith("stream dropped") and "this computer slept 3600.0 s" in gap.reason
    assert not [line for line in logs if "stepped" in line], logs


def test_without_a_suspend_clock_a_forward_step_claims_nothing_of_the_frames_before():
    """No CLOCK_BOOTTIME (another system): a sleep cannot be told from a clock set forward.
    The step is kept as before (later frames follow the clock), but the frames before are
    not said to be wrong, though the kernel says the clock was synchronised meanwhile."""
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock, [(1000.55, ASLEEP)]), logs,
                   synchronised=_answers(False, True))  # fmt: skip
    frames = list(source.frames())
    assert _seconds(frames[5].wall_time) == pytest.approx(frames[5].t + ASLEEP)
    (step,) = source.stats.gaps
    assert step.reason.startswith("clock stepped +3600.0 s")
    (line,) = [line for line in logs if "stepped" in line]
    for said in (step.reason, line):
        assert "true times" not in said
        assert "right if this computer slept" in said and "+3600.0 s if the clock was set" in said


def test_a_backward_step_to_a_synchronised_clock_is_told_without_a_suspend_clock():
    """No sleep moves the clock back: without CLOCK_BOOTTIME a backward step to a clock now
    synchronised still corrects the frames before."""
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock, [(1000.35, -SET_BY)]), logs,
                   synchronised=_answers(False, True))  # fmt: skip
    list(source.frames())
    (step,) = source.stats.gaps
    assert "their true times are the stored ones -600.0 s" in step.reason


def test_the_suspend_clock_is_read_on_this_machine_and_not_beside_fake_clocks():
    """The machine's own clocks: CLOCK_BOOTTIME where the system has it (Linux); a fake
    monotonic clock is never compared with it."""
    assert LiveClock(time.monotonic).boot is boottime
    assert LiveClock(FakeClock(), Wall(FakeClock())).boot is None
    first = boottime()
    if not sys.platform.startswith("linux"):
        assert first is None or isinstance(first, float)
        return
    assert isinstance(first, float)
    second = boottime()
    assert second is not None and second >= first


# ------------------------------------------------------------------------ GPS time (gpsd)


class Gps:
    """GPS time now as :meth:`GpsdPositions.gps_now` gives it: None until ``fix_at`` on the
    monotonic clock, then the true time (the boot clock + ``ahead_s``)."""

    def __init__(self, clock: FakeClock, ahead_s: float, fix_at: float = 0.0) -> None:
        self.clock, self.ahead_s, self.fix_at = clock, ahead_s, fix_at

    def __call__(self) -> datetime | None:
        if self.clock.now < self.fix_at:
            return None
        return BOOTED + timedelta(seconds=self.clock.now - 1000.0 + self.ahead_s)


def test_gps_time_times_frames_from_its_first_fix_when_the_clock_is_not_set():
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock), logs, synchronised=lambda: False, boot=Boot(clock))
    source.gps_time = Gps(clock, ahead_s=SET_BY, fix_at=1000.35)  # the first fix after 3 frames
    frames = list(source.frames())
    for frame in frames[:3]:
        assert _seconds(frame.wall_time) == pytest.approx(frame.t)
    for frame in frames[3:]:
        assert _seconds(frame.wall_time) == pytest.approx(SET_BY + frame.t)
    (step,) = source.stats.gaps
    assert step.reason.startswith("clock stepped +600.0 s (GPS time, gpsd)")
    (line,) = [line for line in logs if "GPS time (gpsd) is +600.0 s at t 0.4 s" in line]
    assert "3 frame(s) before" in line and "their true times are the stored ones +600.0 s" in line
    (start,) = [line for line in logs if "not synchronised" in line]
    assert "GPS time (gpsd) instead, once a fix comes" in start


def test_gps_time_at_start_times_every_frame_and_is_said():
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock), logs, synchronised=lambda: None)  # not known to be set
    source.gps_time = Gps(clock, ahead_s=-90.0)
    frames = list(source.frames())
    assert all(_seconds(f.wall_time) == pytest.approx(f.t - 90.0) for f in frames)
    assert source.stats.gaps == []  # no frame was timed otherwise
    (line,) = [line for line in logs if "GPS time" in line]
    assert "frames are timed by GPS time (gpsd)" in line and "-90.0 s" in line


def test_gps_time_agreeing_at_start_still_says_the_clock_is_not_synchronised():
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock), logs, synchronised=lambda: False)
    source.gps_time = Gps(clock, ahead_s=0.8)
    frames = list(source.frames())
    assert all(_seconds(f.wall_time) == pytest.approx(f.t + 0.8) for f in frames)
    assert source.stats.gaps == []
    (line,) = logs
    assert "not synchronised (2025-11-03 17:42:00 UTC now)" in line
    assert "frames are timed by GPS time (gpsd), within 2 s of it" in line


def test_a_jump_of_gps_time_itself_claims_nothing_of_the_frames_before():
    """A receiver's time that jumps (a reset, a week-number rollover) is no correction of
    this computer's clock: the frames before keep GPS time's reading, said as such."""
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock), logs, synchronised=lambda: None, boot=Boot(clock))
    gps = Gps(clock, ahead_s=-90.0)
    source.gps_time = lambda: (gps() or BOOTED) + timedelta(
        seconds=86400.0 if clock.now >= 1000.45 else 0.0)  # fmt: skip
    list(source.frames())
    (step,) = source.stats.gaps
    assert step.reason.startswith("clock stepped +86400.0 s (GPS time, gpsd)")
    assert "keep the times of GPS time before it (off by +86400.0 s if it was wrong then)" \
        in step.reason  # fmt: skip
    assert "true times" not in step.reason


@pytest.mark.parametrize("why", ["offset", "synchronised"])
def test_gps_time_stays_out_with_a_time_offset_or_a_synchronised_clock(why):
    """--time-offset is the user's correction; a synchronised clock is trusted over a
    receiver (gpsd's own warning says where they differ)."""
    clock = FakeClock()
    logs: list[str] = []
    source = _live(clock, Wall(clock), logs, synchronised=lambda: why == "synchronised")
    source.clock_offset_s = 30.0 if why == "offset" else 0.0
    source.gps_time = Gps(clock, ahead_s=SET_BY)
    frames = list(source.frames())
    assert all(_seconds(f.wall_time) == pytest.approx(f.t + source.clock_offset_s)
               for f in frames)  # fmt: skip
    assert source.stats.gaps == [] and not [line for line in logs if "GPS time" in line]


# ------------------------------------------------------------ the kernel's word on the clock


@pytest.mark.parametrize(
    ("state", "expected"),
    [((0, 0), True), ((0, 0x2001), True), ((TIME_ERROR, STA_UNSYNC), False),
     ((0, STA_UNSYNC), False), ((TIME_ERROR, 0), False), (None, None)],
)  # fmt: skip
def test_clock_synchronised_reads_adjtimex_state(state, expected):
    assert clock_synchronised(lambda: state) is expected


def test_the_kernel_reader_answers_on_any_machine():
    """Linux answers a read-only adjtimex without privilege: a state the kernel's own rules
    hold for (a misread ``struct timex`` gives bits no kernel sets); elsewhere no answer."""
    state = read_adjtimex()
    if not sys.platform.startswith("linux"):
        assert state is None and clock_synchronised() is None
        return
    if state is None:
        pytest.skip("adjtimex is refused here (a sandbox's system call filter)")
    returned, status = state
    assert 0 <= returned <= TIME_ERROR  # TIME_OK .. TIME_ERROR
    assert status & ~0xFFFF == 0, hex(status)  # only STA_* bits (STA_CLK is 0x8000)
    if status & STA_UNSYNC:  # the kernel returns TIME_ERROR while STA_UNSYNC is set
        assert returned == TIME_ERROR


def _stored(tmp_path: Path, labels: list[str], steps: list[tuple[float, float]],
            sleeps: list[tuple[float, float]]) -> Path:  # fmt: skip
    """A 40-frame live session run into a store (the wall clock stepped by ``steps``, the
    computer asleep for ``sleeps``; not synchronised, then it is); the store's path."""
    from fieldtool.pipeline import run_session
    from fieldtool.store import SightingStore
    from tests.conftest import ColourClassifier
    from tests.test_pipeline import make_config

    clock = FakeClock()
    turn = threading.Semaphore(1)  # a frame is read only once the one before was classified

    class Gated(ColourClassifier):
        def predict(self, images, prepared=None):
            try:
                return super().predict(images, prepared)
            finally:
                for _ in images:
                    turn.release()

    camera = Camera([40], clock)

    def gated(target):
        connection = camera(target)
        read = connection.read
        connection.read = lambda: (turn.acquire(timeout=60), read())[1]
        return connection

    source = VideoSource(URL, sample_fps=1e9, max_frames=40, open_capture=gated, clock=clock,
                         wall=Wall(clock, steps + sleeps), boot=Boot(clock, sleeps),
                         synchronised=_answers(False, True), log=lambda line: None)  # fmt: skip
    config = make_config(tmp_path / "s.duckdb")
    run_session(source, Gated(labels), SightingStore(config.store.db), config)
    return config.store.db


def test_a_clock_step_is_kept_in_the_store_and_its_row_corrects_earlier_frames(
    tmp_path, colour_classifier
):
    """The step is durable: a source_gaps row the effort view ignores (no time away), whose
    ended_at - started_at, added to the rows before its start_t, gives their true times."""
    from fieldtool.store import query

    db = _stored(tmp_path, colour_classifier.labels, [(1002.05, SET_BY)], [])
    (row,) = query(db, "SELECT * FROM source_gaps").itertuples()
    assert row.start_t == row.end_t == pytest.approx(2.1)
    assert (row.ended_at - row.started_at).total_seconds() == pytest.approx(SET_BY)
    assert row.reason.startswith("clock stepped +600.0 s (this computer's clock)")
    fixed = query(db, "SELECT d.t, d.time + CASE WHEN d.t < g.start_t THEN g.ended_at - "
                      "g.started_at ELSE INTERVAL 0 SECOND END AS true_time "
                      "FROM detections d JOIN source_gaps g USING (session_id)")  # fmt: skip
    assert len(fixed) == 40 and min(fixed.t) < 2.1 <= max(fixed.t)  # frames on both sides
    for r in fixed.itertuples():
        assert _seconds(r.true_time.to_pydatetime()) == pytest.approx(SET_BY + r.t, abs=1e-3)
    assert query(db, "SELECT gap_s FROM effort").gap_s[0] == 0.0


def test_a_sleep_is_kept_in_the_store_as_time_away_from_the_survey(tmp_path, colour_classifier):
    """Asleep an hour after 20 frames: a source_gaps row of the hour, which the effort view
    takes out of the surveyed time, and stored times that need no correction."""
    from fieldtool.store import query

    db = _stored(tmp_path, colour_classifier.labels, [], [(1002.05, ASLEEP)])
    (row,) = query(db, "SELECT * FROM source_gaps").itertuples()
    assert row.start_t == pytest.approx(2.1) and row.end_t == pytest.approx(2.1 + ASLEEP)
    assert (row.ended_at - row.started_at).total_seconds() == pytest.approx(ASLEEP)
    assert row.reason.startswith("this computer slept 3600.0 s")
    stored = query(db, "SELECT t, time FROM detections")
    assert len(stored) == 40
    for r in stored.itertuples():
        assert _seconds(r.time.to_pydatetime()) == pytest.approx(r.t, abs=1e-3)
    effort = query(db, "SELECT gap_s, surveyed_s FROM effort").iloc[0]
    assert effort.gap_s == pytest.approx(ASLEEP)
    assert effort.surveyed_s == pytest.approx(3.9)  # 0.1 .. 4.0 s of frames, the hour out
