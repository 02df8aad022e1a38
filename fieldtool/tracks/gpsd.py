"""Live positions from a gpsd daemon (a GPS receiver on a laptop, vehicle or drone link).

A background thread keeps a connection to gpsd (``?WATCH={"enable":true,"json":true}``),
reads its JSON reports and keeps the recent TPV fixes (mode 2 or 3: a 2D or 3D fix).
Frames are looked up by the same rule as a track file (:func:`fieldtool.tracks.positions.
interpolate`): interpolated between the two fixes around the frame's time (longitude the
short way round ±180°), or the nearest fix held for up to ``max_gap_s`` (a live frame is
usually a little newer than the last fix); older or farther than that gives no position
rather than a wrong one. A dropped connection is reopened with backoff.

A gpsd JSON log (``gpspipe -w > walk.log``: one report a line) is a track file too
(:func:`read_gpsd_log`): its TPV reports, read by the same :func:`parse_tpv`.

Each incoming fix meets the plausibility rule of the file readers
(:func:`fieldtool.tracks.base.fix_problem`: NaN, out of range, (0, 0), before 1980; and
:func:`fieldtool.tracks.base.consistent`: a step from the last kept fix faster than
``max_speed_mps``); implausible fixes are dropped and counted by reason. Unlike a file,
a live track cannot look ahead, so every jump is dropped as a spike.

A fix carries GPS time, but it is stamped when the reader thread gets it, which a busy
machine (a loaded Pi, a remote gpsd) holds up: lateness only makes a fix look older. So GPS
time is estimated as GPS time - the steady clock at reception (:func:`fieldtool.wallclock.
steady`: it runs on while the computer is suspended), the greatest over the last
:data:`WINDOW_FIXES` fixes timed; of a read that gave several, only the newest is timed (the
others came earlier and only look older), and a fix not newer than the one before it (a
report repeated) is not. A change of more than 2 s is taken once :data:`HOLD_FIXES` newer
fixes agree (a step back: once every fix in the window does). The estimate is compared with
this computer's clock, and a clock more than 2 s off is warned once, with the
``--time-offset`` that corrects it. :meth:`GpsdPositions.gps_now` offers GPS time to a live
source, which takes it where the clock is not known to be synchronised and no
``--time-offset`` is given (:class:`fieldtool.wallclock.LiveClock`).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.inputs import read_input_text
from fieldtool.timebase import utc_now
from fieldtool.tracks.base import (
    DEFAULT_MAX_SPEED_MPS,
    DEFAULT_SLACK_M,
    TrackRead,
    consistent,
    finish_track,
    fix_problem,
)
from fieldtool.tracks.gpx import parse_gpx_time
from fieldtool.tracks.positions import TrackPositions
from fieldtool.types import FieldtoolError, Fix, Position
from fieldtool.wallclock import STEP_S, steady

DEFAULT_PORT = 2947
WATCH = b'?WATCH={"enable":true,"json":true};\n'
WINDOW_FIXES = 10  # the recent fixes GPS time is estimated from (the least late of them)
HOLD_FIXES = 3  # newer fixes that must agree before GPS time moves more than STEP_S


def parse_address(address: str) -> tuple[str, int]:
    """``host[:port]`` -> (host, port); gpsd's port 2947 by default."""
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
    try:
        return (host or "localhost"), int(port) if port else DEFAULT_PORT
    except ValueError:
        raise FieldtoolError(f"gpsd address {address!r}: expected host[:port]") from None


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, str)):
        return float(value)
    raise TypeError(f"not a number: {value!r}")


def parse_tpv(line: str) -> Fix | None:
    """A gpsd JSON report -> Fix, for TPV reports with a 2D/3D fix and a time; else None.

    A report with a field of the wrong type (a mode, position, time, altitude or error
    that is not a number) is None too, never an exception in the reader thread.
    """
    try:
        report = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(report, dict) or report.get("class") != "TPV":
        return None
    mode = report.get("mode", 0)
    if not isinstance(mode, (int, float)) or mode < 2:
        return None
    try:
        lat, lon = float(report["lat"]), float(report["lon"])
        when = parse_gpx_time(str(report["time"]))
        accuracy = _optional_float(report.get("eph") or report.get("epx"))
        alt = _optional_float(report.get("altMSL", report.get("alt")))
    except (KeyError, TypeError, ValueError):
        return None
    return Fix(when, lat, lon, alt, accuracy)


def looks_like_gpsd(text: str) -> bool:
    """Whether the start of a file is a gpsd JSON log: a report object with a class."""
    return text.lstrip().startswith("{") and '"class"' in text.split("\n", 1)[0]


def read_gpsd_log(path: str | Path, *, max_speed_mps: float = DEFAULT_MAX_SPEED_MPS) -> TrackRead:
    """The fixes of a gpsd JSON log (``gpspipe -w``; a prefix before a line's ``{``, as
    ``gpspipe -t`` writes, is skipped): its TPV reports with a 2D/3D fix (:func:`parse_tpv`;
    times UTC), then the plausibility rule. TPV reports without a fix are counted as
    ``no_fix``; other reports (VERSION, SKY, ...) are not fixes. Raises
    :class:`FieldtoolError` (one line naming the file) when no TPV report has a fix."""
    path = Path(path)
    text = read_input_text(path, "gpsd log")
    raw: list[Fix] = []
    tpv = 0
    for line in text.splitlines():
        report = line[line.find("{") :] if "{" in line else ""
        if '"TPV"' not in report:
            continue
        tpv += 1
        if (fix := parse_tpv(report)) is not None:
            raw.append(fix)
    if not raw:
        raise FieldtoolError(f"{path}: no gpsd position fixes ({tpv} TPV reports, none with a "
                             "2D/3D fix and a time)")  # fmt: skip
    return finish_track(path, "gpsd", raw, {"no_fix": tpv - len(raw)},
                        max_speed_mps=max_speed_mps)  # fmt: skip


class GpsdPositions:
    """A :class:`fieldtool.tracks.positions.PositionProvider` fed live by gpsd.

    ``keep``: how many recent fixes are kept for lookups. ``dropped``: implausible fixes
    dropped, by reason in ``drop_reasons`` (``invalid``, ``before_1980``, ``jump``).
    ``log``: called with one line when the connection fails or the clock is off GPS time
    (default: silent). ``wall``, ``clock``: this computer's clock (naive UTC) and the
    steady one (s; :func:`~fieldtool.wallclock.steady`), as fixes arrive (tests).
    ``clock_error_s``: GPS time (as estimated) minus this computer's clock as the newest fix
    came (s; None before :data:`HOLD_FIXES` fixes).
    """

    def __init__(
        self,
        address: str = "localhost",
        *,
        max_gap_s: float = 5.0,
        max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
        keep: int = 3600,
        connect_timeout_s: float = 3.0,
        log: Callable[[str], None] | None = None,
        wall: Callable[[], datetime] = utc_now,
        clock: Callable[[], float] = steady,
        offset_s: float = 0.0,
    ) -> None:
        if not max_gap_s > 0:
            raise ValueError(f"max_gap_s must be > 0, got {max_gap_s}")
        self.host, self.port = parse_address(address)
        self.max_gap_s = max_gap_s
        self.max_speed_mps = max_speed_mps
        self.connect_timeout_s = connect_timeout_s
        self.fixes_read = 0
        self.dropped = 0
        self.drop_reasons: Counter[str] = Counter()
        self.reconnects = 0
        self._log: Callable[[str], None] = log or (lambda message: None)
        self._wall, self._clock = wall, clock
        self.offset_s = offset_s  # --time-offset: frames are timed by the clock + this
        self.clock_error_s: float | None = None
        self._heard: deque[datetime] = deque(maxlen=WINDOW_FIXES)  # GPS time - steady, by fix
        self._gps_base: datetime | None = None  # GPS time at steady 0: the estimate in force
        self._timed_last: datetime | None = None  # the time of the last fix offered to time
        self._clock_warned = False
        self._fixes: deque[Fix] = deque(maxlen=keep)
        self._track: TrackPositions | None = None  # lookup over _fixes; None: to rebuild
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fieldtool-gpsd", daemon=True)
        self._thread.start()

    @property
    def notes(self) -> tuple[str, ...]:
        return (f"gpsd at {self.host}:{self.port}: live positions (hold {self.max_gap_s:g} s)",)

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with socket.create_connection(
                    (self.host, self.port), self.connect_timeout_s
                ) as sock:
                    sock.settimeout(1.0)
                    sock.sendall(WATCH)
                    delay = 0.5
                    self._read(sock)
            except OSError as exc:
                if self._stop.is_set():
                    return
                self._log(f"gpsd at {self.host}:{self.port}: {exc}; retrying in {delay:.1f} s")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 10.0)
            self.reconnects += 1

    def _read(self, sock: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return  # gpsd closed the connection
            received, at = self._wall(), self._clock()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            newest: Fix | None = None  # of this read: the one that tells GPS time best
            for raw in lines:
                fix = parse_tpv(raw.decode("utf-8", "replace"))
                if fix is not None:
                    self.add(fix)
                    if fix_problem(fix) is None and (newest is None or fix.time > newest.time):
                        newest = fix
            if newest is not None:
                self._timed(newest, received, at)

    def _timed(self, fix: Fix, wall: datetime | None = None, at: float | None = None) -> None:
        """A fix as it came (``wall``, ``at``: this computer's clock and the steady one then;
        None: now): its GPS time taken into the estimate (:meth:`gps_now`), which is compared
        with the computer's clock (warned once when more than
        :data:`~fieldtool.wallclock.STEP_S` apart). An implausible fix (one before 1980: a
        receiver without GPS time yet) tells no time; one not newer than the fix before it
        (a report repeated, or late) tells none either."""
        wall = self._wall() if wall is None else wall
        at = self._clock() if at is None else at
        if fix_problem(fix) is not None:
            return
        with self._lock:
            last, self._timed_last = self._timed_last, fix.time
            if last is not None and fix.time <= last:
                return
            self._heard.append(fix.time - timedelta(seconds=at))
            self._gps_base = base = self._estimate()
            if base is None:
                return
            gps = base + timedelta(seconds=at)
            self.clock_error_s = error = (gps - wall).total_seconds()
            # what times the frames is the clock + --time-offset: the advice once taken is
            # not given again
            if abs(error - self.offset_s) <= STEP_S or self._clock_warned:
                return
            self._clock_warned = True
        given = f" + --time-offset {self.offset_s:+g} s" if self.offset_s else ""
        self._log(f"warning: time: GPS time from gpsd at {self.host}:{self.port} "
                  f"({gps:%Y-%m-%d %H:%M:%S} UTC) is {error - self.offset_s:+.1f} s from this "
                  f"computer's clock{given} ({wall:%Y-%m-%d %H:%M:%S} UTC as the fix came): "
                  "times read from the clock are off by as much; set it (NTP, or chrony with "
                  f"gpsd as a time source) or give --time-offset {error:+.1f}")  # fmt: skip

    def _estimate(self) -> datetime | None:
        """GPS time at steady time 0 from the fixes heard (under the lock): the greatest of
        them (a late fix only looks older); a move of more than STEP_S from the estimate in
        force only once the last HOLD_FIXES are all beyond it (a step back: all heard)."""
        heard, base = list(self._heard), self._gps_base
        if base is None:
            return max(heard) if len(heard) >= HOLD_FIXES else None
        newest, step = max(heard), timedelta(seconds=STEP_S)
        if abs(newest - base) <= step or newest < base - step:  # within, or all heard older
            return newest
        recent = heard[-HOLD_FIXES:]
        if len(recent) == HOLD_FIXES and min(recent) > base + step:  # later, and holding
            self._heard = deque(recent, maxlen=WINDOW_FIXES)  # the fixes before: another time
            return max(recent)
        return base

    def gps_now(self) -> datetime | None:
        """GPS time now (naive UTC): the estimate (:meth:`_timed`) + the steady clock now
        (gpsd's report delay, under a second, not taken off); None before
        :data:`HOLD_FIXES` fixes (one may have come late)."""
        with self._lock:
            base = self._gps_base
        return None if base is None else base + timedelta(seconds=self._clock())

    def add(self, fix: Fix) -> bool:
        """Take one fix (as the reader thread does): False when it is dropped as
        implausible, or ignored as not newer than the last kept fix."""
        problem = fix_problem(fix)
        with self._lock:
            last = self._fixes[-1] if self._fixes else None
            if problem is None and last is not None:
                if fix.time <= last.time:
                    return False  # repeated or out-of-order report
                if not consistent(last, fix, self.max_speed_mps, DEFAULT_SLACK_M):
                    problem = "jump"
            if problem is not None:
                self.dropped += 1
                self.drop_reasons[problem] += 1
                return False
            self._fixes.append(fix)
            self._track = None
            self.fixes_read += 1
            return True

    def position_at(self, when: datetime) -> Position | None:
        """Position at ``when`` (UTC; naive or aware) from the fixes so far, by the track
        rule (:func:`fieldtool.tracks.positions.interpolate`), or None."""
        with self._lock:
            if self._track is None and self._fixes:
                self._track = TrackPositions(tuple(self._fixes), self.max_gap_s, source="gpsd")
            track = self._track
        return None if track is None else track.position_at(when)

    def wait_for_fix(self, timeout_s: float) -> bool:
        """True once a fix has arrived (for start-up messages and tests)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._fixes:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
