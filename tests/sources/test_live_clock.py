"""A live source on a computer whose clock is set while it runs (a Raspberry Pi booted at
an old time, set by NTP, GPS or a phone hotspot minutes later): the step is seen, said in
one line, recorded in the session's gaps, and later frames are timed by the clock as set.

Fake captures, a fake monotonic clock and a fake wall clock that follows it: nothing here
waits on real time, and the machine's own clock (synchronised or not) plays no part."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from fieldtool.sources import VideoSource
from fieldtool.wallclock import STA_UNSYNC, TIME_ERROR, clock_synchronised, read_adjtimex

from .test_live_retry import URL, Camera, FakeClock

BOOTED = datetime(2025, 11, 3, 17, 42, 0)  # fake-hwclock: the time the Pi last shut down
SET_BY = 600.0  # s: NTP later sets the clock this far forward


class Wall:
    """``utc_now`` stand-in following the fake monotonic clock; ``steps``: (monotonic time
    from which, seconds added), as a clock set while the session runs."""

    def __init__(self, clock: FakeClock, steps: list[tuple[float, float]] | None = None):
        self.clock = clock
        self.steps = steps or []

    def __call__(self) -> datetime:
        added = sum(s for at, s in self.steps if self.clock.now >= at)
        return BOOTED + timedelta(seconds=self.clock.now - 1000.0 + added)


def _answers(*values: bool | None) -> Callable[[], bool | None]:
    """The kernel's word on the clock, one answer a call (the last one repeats)."""
    left = list(values)
    return lambda: left.pop(0) if len(left) > 1 else left[0]


def _live(clock: FakeClock, wall: Callable[[], datetime], logs: list[str], frames: int = 10,
          synchronised: Callable[[], bool | None] = lambda: None) -> VideoSource:  # fmt: skip
    return VideoSource(URL, sample_fps=1e9, max_frames=frames, open_capture=Camera([frames], clock),
                       clock=clock, wall=wall, synchronised=synchronised,
                       log=logs.append)  # fmt: skip


def _seconds(when: datetime) -> float:
    return (when - BOOTED).total_seconds()


def test_a_clock_set_mid_session_re_times_later_frames_and_is_said_and_recorded():
    """Defect: the wall clock was read once when the stream opened; a clock set minutes
    later (NTP after a Pi's boot) left every frame of the session at the boot clock's
    date, and nothing said so."""
    clock = FakeClock()
    logs: list[str] = []
    # set after the 5th frame (each read takes 0.1 s); not synchronised before, then it is
    source = _live(clock, Wall(clock, [(1000.55, SET_BY)]), logs,
                   synchronised=_answers(False, True))  # fmt: skip
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
    source = _live(clock, Wall(clock), logs, synchronised=lambda: False)
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
    source = _live(clock, Wall(clock), logs, synchronised=lambda: None)
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
    state = read_adjtimex()
    assert state is None or (isinstance(state[0], int) and isinstance(state[1], int))
    assert clock_synchronised() in (True, False, None)


def test_a_clock_step_is_kept_in_the_store_and_its_row_corrects_earlier_frames(
    tmp_path, colour_classifier
):
    """The step is durable: a source_gaps row the effort view ignores (no time away), whose
    ended_at - started_at, added to the rows before its start_t, gives their true times."""
    from fieldtool.pipeline import run_session
    from fieldtool.store import SightingStore, query
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

    logs: list[str] = []
    source = VideoSource(URL, sample_fps=1e9, max_frames=40, open_capture=gated, clock=clock,
                         wall=Wall(clock, [(1002.05, SET_BY)]),
                         synchronised=_answers(False, True), log=logs.append)  # fmt: skip
    config = make_config(tmp_path / "s.duckdb")
    run_session(source, Gated(colour_classifier.labels), SightingStore(config.store.db), config)
    db = config.store.db
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
