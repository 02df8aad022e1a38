"""This computer's clock, as a live source times its frames by it (``docs/time.md``, "A live
source's clock").

A live frame's time is an anchor (the wall clock read as the stream opens, ``--time-offset``
added) + media time: monotonic seconds since, never set, so frames run evenly. A field
station often has no real-time clock: a Raspberry Pi boots at an old time (fake-hwclock)
that NTP, a GPS or a phone hotspot sets minutes later, or never. So :class:`LiveClock`
compares the wall clock with the monotonic one at each frame: one moved more than
:data:`STEP_S` against the other is a step, after which frames are timed by the clock as
set (re-anchored); :class:`ClockStep` says what that means for the frames before. Linux's
monotonic clock stops while the computer is suspended and the wall clock runs on: where
``CLOCK_BOOTTIME`` (:func:`boottime`, which counts a suspend) moved as far, it is a sleep
(:class:`Slept`), no step: media time counts it, and it is time away, as an outage is.
:func:`clock_synchronised` reads whether the kernel says the clock is set. With gpsd, GPS
time can stand in for a clock not known to be synchronised (``gps``).
"""

from __future__ import annotations

import ctypes
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from fieldtool.timebase import utc_now

STEP_S = 2.0  # s: a clock moving farther than this against the monotonic one stepped
BRACKET_S = 0.25  # s: a reading between monotonic readings farther apart is not compared
STA_UNSYNC = 0x0040  # adjtimex status bit: the clock is not synchronised (linux/timex.h)
TIME_ERROR = 5  # adjtimex's return value: the clock is not synchronised
CLOCK_STEP = "clock stepped"  # how a clock step's reason starts (source_gaps.reason)
SLEPT = "this computer slept"  # how a sleep's reason starts (source_gaps.reason)
COMPUTER, GPS = "this computer's clock", "GPS time, gpsd"  # what frames are timed by

Reading = Callable[[], tuple[int, int] | None]
_BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)  # Linux's; None elsewhere


def boottime() -> float | None:
    """Seconds on ``CLOCK_BOOTTIME`` (Linux): the monotonic clock with the time the computer
    was suspended counted in; None where the system has no such clock."""
    if _BOOTTIME is None:
        return None
    try:
        return time.clock_gettime(_BOOTTIME)
    except OSError:  # a kernel older than 2.6.39
        return None


def steady() -> float:
    """Seconds on a clock never set that runs on while the computer is suspended
    (:func:`boottime`) where there is one, else ``time.monotonic``: to carry a time read
    earlier (GPS time at a fix) on to now across a sleep."""
    boot = boottime()
    return time.monotonic() if boot is None else boot


class _Timex(ctypes.Structure):
    """Linux's ``struct timex`` up to ``status``, then room for the rest, which the kernel
    writes too (208 bytes on 64-bit; C longs are the platform's, as ctypes lays them)."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("rest", ctypes.c_char * 512)]  # fmt: skip


def read_adjtimex() -> tuple[int, int] | None:
    """``adjtimex``'s return value and ``status``, read only (``modes`` 0: no privilege
    needed); None off Linux or where the call is refused."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        timex = _Timex()
        state = int(ctypes.CDLL(None, use_errno=True).adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError):  # no C library to load, or no adjtimex in it
        return None
    return None if state < 0 else (state, int(timex.status))


def clock_synchronised(read: Reading = read_adjtimex) -> bool | None:
    """Whether the kernel says this computer's clock is synchronised (NTP, chrony, a GPS
    time source keep ``STA_UNSYNC`` clear; ``TIME_ERROR`` is returned while it is set);
    None where it cannot tell (another system). ``read``: the kernel's state (tests)."""
    state = read()
    if state is None:
        return None
    returned, status = state
    return not status & STA_UNSYNC and returned != TIME_ERROR


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class ClockStep:
    """The time frames are timed by moved ``step_s`` against the monotonic clock; the frame
    at media time ``t`` (s since the source opened) and those after are timed by the new
    reading. ``before``: the old reading at ``t`` (naive UTC); ``by``: what frames are timed
    by now (:data:`COMPUTER`, :data:`GPS`); ``frames``: frames timed by the old reading,
    since ``since`` (s); ``earlier``: what their times are, one clause."""

    t: float
    step_s: float
    before: datetime
    by: str
    frames: int
    since: float
    earlier: str

    @property
    def after(self) -> datetime:
        return self.before + timedelta(seconds=self.step_s)

    @property
    def reason(self) -> str:
        """The session's record of it (``source_gaps.reason``, a row from ``t`` to ``t``)."""
        return (f"{CLOCK_STEP} {self.step_s:+.1f} s ({self.by}): the frames before t "
                f"{self.t:.1f} s {self.earlier}")  # fmt: skip

    def line(self, uri: str) -> str:
        """One log line: the source, the step, when (both readings), the frames before."""
        what, then = (("GPS time (gpsd) is", "GPS time") if self.by == GPS else
                       ("this computer's clock stepped", "the clock as set"))  # fmt: skip
        return (f"{uri}: time: {what} {self.step_s:+.1f} s at t {self.t:.1f} s "
                f"({_when(self.before)} -> {_when(self.after)} UTC): frames are timed by "
                f"{then} from here on; the {self.frames} frame(s) before (from t "
                f"{self.since:.1f} s) {self.earlier}; recorded in source_gaps")  # fmt: skip


@dataclass(frozen=True)
class Slept:
    """This computer was suspended ``slept_s`` seconds (``CLOCK_BOOTTIME`` moved that far
    against the monotonic clock, which stops) before the frame at media time ``t`` (s, the
    sleep not yet counted), whose time was ``at`` (naive UTC). No frames came meanwhile; the
    times before and after are right. Media time counts it: that frame is at :attr:`end_t`."""

    t: float
    slept_s: float
    at: datetime

    @property
    def end_t(self) -> float:
        return self.t + self.slept_s

    @property
    def ended_at(self) -> datetime:
        return self.at + timedelta(seconds=self.slept_s)

    @property
    def reason(self) -> str:
        """The session's record of it (``source_gaps.reason``, a row from ``t`` to
        :attr:`end_t`: time away, as an outage)."""
        return (f"{SLEPT} {self.slept_s:.1f} s (suspended: no frames; the times either side "
                "are right)")  # fmt: skip

    def line(self, uri: str) -> str:
        return (f"{uri}: time: {SLEPT} {self.slept_s:.1f} s (frames before and after are "
                f"right) at t {self.t:.1f} s ({_when(self.at)} -> {_when(self.ended_at)} "
                "UTC): no frames while asleep; recorded in source_gaps")  # fmt: skip


class Checked(NamedTuple):
    """What :meth:`LiveClock.check` found before a frame: its media time ``t`` (s; later
    by a sleep seen), the sleep, the step (each None where there was none)."""

    t: float
    slept: Slept | None
    step: ClockStep | None


class LiveClock:
    """The time of a live source's frames: ``anchor + t``, ``t`` media time (:meth:`media`:
    monotonic seconds since the source opened, and the time asleep), re-anchored by
    :meth:`check` when the time it is read from steps.

    ``mono``, ``wall``: the monotonic clock (s) and this computer's (naive UTC; None:
    :func:`~fieldtool.timebase.utc_now`); they are compared only where both are the machine's
    or both are given (a test's fake monotonic clock is no step of the real wall clock).
    ``boot``: ``CLOCK_BOOTTIME`` (s, None where there is none; default: :func:`boottime`
    beside the machine's own clocks, else none), which tells a sleep from a step.
    ``offset_s``: ``--time-offset``, added to the wall clock; ``gps``: GPS time now (None
    before a fix), taken instead of the wall clock when no offset is given and the kernel
    does not say the clock is synchronised; ``synchronised``: the kernel's word on the clock.
    """

    def __init__(
        self,
        mono: Callable[[], float],
        wall: Callable[[], datetime] | None = None,
        *,
        boot: Callable[[], float | None] | None = None,
        offset_s: float = 0.0,
        gps: Callable[[], datetime | None] | None = None,
        synchronised: Callable[[], bool | None] = clock_synchronised,
    ) -> None:
        self._mono, self._wall, self._gps = mono, wall or utc_now, gps
        self.offset_s = offset_s
        self.watch = (wall is None) == (mono is time.monotonic)
        machine = wall is None and mono is time.monotonic
        self.boot: Callable[[], float | None] | None = boot or (boottime if machine else None)
        self._synchronised = synchronised
        self.opened = 0.0  # monotonic s when the source opened: media time 0
        self.slept = 0.0  # s this computer slept since: counted in media time
        self._asleep: float | None = None  # boot - monotonic (s) as last seen: time slept
        self.anchor = datetime(1970, 1, 1)  # the time at media time 0 (naive UTC)
        self.was_synchronised: bool | None = None  # the kernel's word at the start
        self._use_gps = False
        self._by = COMPUTER  # what the anchor was read from
        self._since = 0.0  # media s of the last step (frames since are on this anchor)
        self._frames = 0  # the source's frames timed before it

    def _read(self) -> tuple[datetime, str]:
        """The time now and what it was read from."""
        gps = self._gps() if self._use_gps and self._gps is not None else None
        if gps is not None:
            return gps, GPS
        return self._wall() + timedelta(seconds=self.offset_s), COMPUTER

    def _boot(self) -> float | None:
        return None if self.boot is None else self.boot()

    def media(self, mono: float) -> float:
        """Media time (s) at monotonic time ``mono``: since the source opened, the time this
        computer slept counted in (the monotonic clock stops while it sleeps)."""
        return mono - self.opened + self.slept

    def start(self, uri: str, log: Callable[[str], None]) -> float:
        """Anchor media time 0 now (the stream just opened): the monotonic time it is at;
        what is known of the clock goes to ``log``."""
        opened = self._mono()
        boot = self._boot()
        self._asleep = None if boot is None else boot - opened
        for line in self._started(opened, uri):
            log(line)
        return opened

    def _started(self, opened: float, uri: str) -> list[str]:
        self.opened = opened
        self.was_synchronised = self._synchronised()
        self._use_gps = (self._gps is not None and not self.offset_s
                         and self.was_synchronised is not True)  # fmt: skip
        clock = self._wall()
        gps = self._gps() if self._use_gps and self._gps is not None else None
        self.anchor = gps or clock + timedelta(seconds=self.offset_s)
        self._by = COMPUTER if gps is None else GPS
        now = f"{_when(clock)} UTC now"
        if gps is not None:  # no frame was timed otherwise: said, nothing to record
            off = (gps - clock).total_seconds()
            if abs(off) > STEP_S:
                return [f"{uri}: time: frames are timed by GPS time (gpsd): this computer's "
                        f"clock ({now}) is {off:+.1f} s off it"]  # fmt: skip
            if self.was_synchronised is False:
                return [f"{uri}: time: this computer's clock is not synchronised ({now}): "
                        "frames are timed by GPS time (gpsd), within 2 s of it"]  # fmt: skip
        if self.was_synchronised is not False or gps is not None:
            return []
        added = f" + --time-offset {self.offset_s:+g} s" if self.offset_s else ""
        then = ("GPS time (gpsd) instead, once a fix comes" if self._use_gps else
                "a step when it is set (NTP, GPS) is seen and said")  # fmt: skip
        fix = "" if self.offset_s or self._use_gps else "; set it, or give --time-offset"
        return [f"{uri}: time: this computer's clock is not synchronised: frame times are its "
                f"reading ({now}{added}); {then}{fix}"]  # fmt: skip

    def time(self, t: float) -> datetime:
        """The time of media time ``t`` (s since the source opened)."""
        return self.anchor + timedelta(seconds=t)

    def check(self, t: float, frames: int, uri: str, log: Callable[[str], None]) -> Checked:
        """Before the frame at media time ``t`` is timed (``frames``: the source's frames
        timed so far): a sleep, when ``CLOCK_BOOTTIME`` moved more than :data:`STEP_S`
        against the monotonic clock (counted into media time: the frame's ``t`` is later by
        it), and a step, when the time read now is, the sleep taken off, more than
        :data:`STEP_S` from the anchor's (re-anchored); each said in ``log``. A reading the
        process was held in (a busy machine) or suspended in is not compared."""
        nothing = Checked(t, None, None)
        if not self.watch:
            return nothing
        first = self._mono()
        boot = self._boot()
        reading, by = self._read()
        boot_after, last = self._boot(), self._mono()
        if last - first > BRACKET_S or (boot is not None and boot_after is not None
                                        and boot_after - boot > BRACKET_S):  # fmt: skip
            return nothing
        step = (reading - self.time(self.media((first + last) / 2))).total_seconds()
        slept = None
        if boot is not None and self._asleep is not None and boot - first - self._asleep > STEP_S:
            slept = Slept(t, boot - first - self._asleep, self.time(t))
            self._asleep, self.slept = boot - first, self.slept + slept.slept_s
            step, t = step - slept.slept_s, slept.end_t
            log(slept.line(uri))
        if abs(step) <= STEP_S:
            return Checked(t, slept, None)
        before = self.time(t)
        self.anchor += timedelta(seconds=step)
        done = ClockStep(t, step, before, by, frames - self._frames, self._since,
                         self._earlier(by, step, sleep_told=boot is not None))  # fmt: skip
        self._since, self._frames, self._by = t, frames, by
        log(done.line(uri))
        return Checked(t, slept, done)

    def _earlier(self, by: str, step: float, sleep_told: bool) -> str:
        """What the frames timed before a step are: known off where GPS time or a clock now
        synchronised (and not before) corrected it; else what they are if the old was wrong.
        A step forward where no ``CLOCK_BOOTTIME`` tells a sleep (``sleep_told`` False) may
        be one (the frames before are then right): no correction is claimed for it."""
        maybe_slept = step > 0 and not sleep_told

        def either(wrong: str) -> str:
            return (f"they are right if this computer slept, or off by {step:+.1f} s if "
                    f"{wrong} (no suspend clock here tells which)")  # fmt: skip

        if by == GPS and self._by == COMPUTER:
            off = f"were timed by this computer's clock, {step:+.1f} s off GPS time: "
            if maybe_slept:
                return off + either("the clock was wrong")
            return off + f"their true times are the stored ones {step:+.1f} s"
        if by == COMPUTER and self.was_synchronised is not True and self._synchronised():
            if maybe_slept:
                return ("were timed by the clock before it was synchronised: "
                        + either("the clock was set (now synchronised)"))  # fmt: skip
            return (f"were timed by the clock before it was set (now synchronised): their true "
                    f"times are the stored ones {step:+.1f} s")  # fmt: skip
        slept = ", right if this computer slept" if maybe_slept else ""
        return (f"keep the times of {'GPS time' if by == GPS else by} before it (off by "
                f"{step:+.1f} s if it was wrong then{slept})")  # fmt: skip
