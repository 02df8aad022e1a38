"""Live positions from a gpsd daemon (a GPS receiver on a laptop, vehicle or drone link).

A background thread keeps a connection to gpsd (``?WATCH={"enable":true,"json":true}``),
reads its JSON reports and keeps the recent TPV fixes (mode 2 or 3: a 2D or 3D fix). A
frame's position is interpolated between the two fixes around its time, or the newest fix
is held for up to ``max_gap_s`` (a live frame is usually a little newer than the last
fix); older or farther than that gives no position rather than a wrong one. A dropped
connection is reopened with backoff; implausible fixes (NaN, out of range, faster than
``max_speed_mps``) are dropped and counted.
"""

from __future__ import annotations

import bisect
import json
import math
import socket
import threading
import time
from collections import deque
from datetime import datetime, timezone

from fieldtool.position import parse_gpx_time
from fieldtool.types import FieldtoolError, Fix, Position

DEFAULT_PORT = 2947
WATCH = b'?WATCH={"enable":true,"json":true};\n'


def parse_address(address: str) -> tuple[str, int]:
    """``host[:port]`` -> (host, port); gpsd's port 2947 by default."""
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
    try:
        return (host or "localhost"), int(port) if port else DEFAULT_PORT
    except ValueError:
        raise FieldtoolError(f"gpsd address {address!r}: expected host[:port]") from None


def parse_tpv(line: str) -> Fix | None:
    """A gpsd JSON report -> Fix, for TPV reports with a 2D/3D fix and a time; else None."""
    try:
        report = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(report, dict) or report.get("class") != "TPV" or report.get("mode", 0) < 2:
        return None
    try:
        lat, lon = float(report["lat"]), float(report["lon"])
        when = parse_gpx_time(str(report["time"]))
    except (KeyError, TypeError, ValueError):
        return None
    accuracy = report.get("eph") or report.get("epx")
    alt = report.get("altMSL", report.get("alt"))
    return Fix(when, lat, lon, float(alt) if alt is not None else None,
               float(accuracy) if accuracy is not None else None)  # fmt: skip


def _metres(a: Fix, b: Fix) -> float:
    mean_lat = math.radians((a.lat + b.lat) / 2)
    dy = (b.lat - a.lat) * 111_320.0
    dx = (b.lon - a.lon) * 111_320.0 * math.cos(mean_lat)
    return math.hypot(dx, dy)


class GpsdPositions:
    """A :class:`fieldtool.position.PositionProvider` fed live by gpsd."""

    def __init__(
        self,
        address: str = "localhost",
        *,
        max_gap_s: float = 5.0,
        max_speed_mps: float = 100.0,
        keep: int = 3600,
        connect_timeout_s: float = 3.0,
        log=None,
    ) -> None:
        self.host, self.port = parse_address(address)
        self.max_gap_s = max_gap_s
        self.max_speed_mps = max_speed_mps
        self.connect_timeout_s = connect_timeout_s
        self.fixes_read = 0
        self.dropped = 0
        self.reconnects = 0
        self._log = log or (lambda message: None)
        self._fixes: deque[Fix] = deque(maxlen=keep)
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
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                fix = parse_tpv(raw.decode("utf-8", "replace"))
                if fix is not None:
                    self._add(fix)

    def _add(self, fix: Fix) -> None:
        with self._lock:
            last = self._fixes[-1] if self._fixes else None
            implausible = not (-90 <= fix.lat <= 90 and -180 <= fix.lon <= 180) or math.isnan(
                fix.lat + fix.lon
            )
            if last is not None and not implausible:
                dt = (fix.time - last.time).total_seconds()
                if dt <= 0:
                    return  # repeated or out-of-order report
                implausible = _metres(last, fix) > self.max_speed_mps * dt + 20.0
            if implausible:
                self.dropped += 1
                return
            self._fixes.append(fix)
            self.fixes_read += 1

    def position_at(self, when: datetime) -> Position | None:
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc).replace(tzinfo=None)
        with self._lock:
            fixes = list(self._fixes)
        if not fixes:
            return None
        times = [f.time for f in fixes]
        i = bisect.bisect_left(times, when)
        if i < len(fixes) and times[i] == when:
            return Position(fixes[i].lat, fixes[i].lon, fixes[i].accuracy_m, "gpsd")
        before = fixes[i - 1] if i > 0 else None
        after = fixes[i] if i < len(fixes) else None
        if before and after:
            span = (after.time - before.time).total_seconds()
            if span <= 2 * self.max_gap_s:
                w = (when - before.time).total_seconds() / span
                return Position(before.lat + w * (after.lat - before.lat),
                                before.lon + w * (after.lon - before.lon), before.accuracy_m, "gpsd")  # fmt: skip
        nearest = min(
            (f for f in (before, after) if f), key=lambda f: abs((f.time - when).total_seconds())
        )
        if abs((nearest.time - when).total_seconds()) <= self.max_gap_s:
            return Position(nearest.lat, nearest.lon, nearest.accuracy_m, "gpsd")
        return None

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
