"""NMEA 0183 logs (``.nmea``, ``.txt``, ``.log``): RMC, GGA, GST and ZDA sentences.

RMC gives date, time and position; GGA fix quality, HDOP and altitude; GST error
estimates; ZDA the date. Every sentence's checksum is verified; bad or garbled lines are
skipped and counted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from fieldtool.inputs import read_input_text
from fieldtool.tracks.base import (
    DEFAULT_MAX_SPEED_MPS,
    UERE_M,
    TrackRead,
    count_text,
    finish_track,
)
from fieldtool.types import FieldtoolError, Fix

_SNIFF_RE = re.compile(r"[$!][A-Z]{2}(RMC|GGA|GLL|GSA|GSV|VTG|ZDA|GST),")


def looks_like_nmea(text: str) -> bool:
    """Whether the start of a file holds a common NMEA sentence (for format detection)."""
    return _SNIFF_RE.search(text) is not None


_NMEA_RE = re.compile(r"[$!]([A-Z0-9]{3,10}),([^*$!]*)(?:\*([0-9A-Fa-f]{2}))?\s*$")


def nmea_checksum(body: str) -> int:
    """XOR of the characters between ``$`` and ``*``."""
    value = 0
    for ch in body.encode("ascii", "replace"):
        value ^= ch
    return value


def _nmea_latlon(value: str, hemi: str, degree_digits: int) -> float | None:
    """``ddmm.mmmm`` / ``dddmm.mmmm`` + hemisphere → signed degrees, None when empty/bad."""
    if not value or hemi not in ("N", "S", "E", "W"):
        return None
    dot = value.find(".")
    head = value if dot < 0 else value[:dot]
    if len(head) < degree_digits + 2 or not head.isdigit():
        return None
    try:
        deg = int(value[: len(head) - 2])
        minutes = float(value[len(head) - 2 :])
    except ValueError:
        return None
    if minutes >= 60:
        return None
    out = deg + minutes / 60.0
    return -out if hemi in ("S", "W") else out


def _nmea_tod(value: str) -> float | None:
    """``hhmmss.sss`` → seconds since midnight, None when empty/bad."""
    if len(value) < 6 or not value[:6].isdigit():
        return None
    h, m = int(value[:2]), int(value[2:4])
    try:
        s = float(value[4:])
    except ValueError:
        return None
    if h > 23 or m > 59 or not 0 <= s < 61:
        return None
    return h * 3600 + m * 60 + s


def _float(value: str) -> float | None:
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


@dataclass(slots=True)
class _Epoch:
    """Sentences of one receiver epoch (same time of day)."""

    tod: float
    day: date | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    hdop: float | None = None
    error_m: float | None = None  # from GST
    valid: bool | None = None  # RMC status / GGA quality; None: not said


class NmeaParser:
    """Incremental NMEA 0183 parser: ``feed`` lines (a file, a serial port, gpsd's raw mode).

    Sentences sharing a time of day form one epoch, which becomes one :class:`Fix` when
    the next epoch starts (or on :meth:`flush`). The date comes from RMC or ZDA; epochs
    before the first date are held until one arrives (``default_date``, when given, is
    the date of the first epoch instead; flushed epochs still without one are dropped
    and counted as ``no_date``). A time of
    day that falls by more than 12 h without a new date is taken as the next day
    (midnight). Accuracy: GST's error estimates where sent, else HDOP × ``UERE_M``.
    """

    def __init__(self, default_date: date | None = None, require_checksum: bool = True) -> None:
        self.default_date = default_date
        self.require_checksum = require_checksum
        self.counts: Counter[str] = Counter()
        self._epoch: _Epoch | None = None
        self._held: list[_Epoch] = []  # epochs waiting for a date
        self._last_day: date | None = default_date  # the log's first day, when given
        self._last_tod: float | None = None

    def feed(self, line: str) -> list[Fix]:
        """Parse one line; returns the fixes completed by it (usually none or one)."""
        self.counts["lines"] += 1
        text = line.strip()
        if not text:
            return []
        start = max(text.rfind("$"), text.rfind("!"))
        m = _NMEA_RE.match(text[start:]) if start >= 0 else None
        if m is None:
            self.counts["garbage"] += 1
            return []
        name, rest, check = m.groups()
        if check is None:
            if self.require_checksum:
                self.counts["no_checksum"] += 1
                return []
        elif nmea_checksum(f"{name},{rest}") != int(check, 16):
            self.counts["bad_checksum"] += 1
            return []
        kind = name[-3:] if name[0] != "P" else "PROPRIETARY"
        fields = rest.split(",")
        handler = {"RMC": self._rmc, "GGA": self._gga, "GST": self._gst, "ZDA": self._zda}
        if kind not in handler:
            self.counts["other_sentence"] += 1
            return []
        self.counts["sentences"] += 1
        try:
            return handler[kind](fields)
        except (IndexError, ValueError):
            self.counts["garbage"] += 1
            return []

    def flush(self) -> list[Fix]:
        """Finish the current epoch and any epochs still waiting for a date."""
        out = self._close()
        self._epoch = None
        self.counts["no_date"] += len(self._held)
        self._held.clear()
        return out

    # -- sentences

    def _epoch_at(self, tod: float) -> tuple[_Epoch, list[Fix]]:
        done: list[Fix] = []
        if self._epoch is None or abs(self._epoch.tod - tod) > 1e-6:
            done = self._close()
            self._epoch = _Epoch(tod)
        return self._epoch, done

    def _take_position(self, epoch: _Epoch, fields: list[str]) -> bool:
        """Set the epoch's position from ``lat, N/S, lon, E/W`` fields; False (and one
        garbage line counted) when they do not parse."""
        lat, lon = _nmea_latlon(fields[0], fields[1], 2), _nmea_latlon(fields[2], fields[3], 3)
        if lat is None or lon is None:
            self.counts["garbage"] += 1
            return False
        epoch.valid = True
        epoch.lat, epoch.lon = lat, lon
        return True

    def _rmc(self, f: list[str]) -> list[Fix]:
        tod = _nmea_tod(f[0])
        if tod is None:
            self.counts["garbage"] += 1
            return []
        epoch, done = self._epoch_at(tod)
        if len(f) > 8 and len(f[8]) == 6 and f[8].isdigit():
            d, mo, yy = int(f[8][:2]), int(f[8][2:4]), int(f[8][4:])
            epoch.day = date(2000 + yy if yy < 80 else 1900 + yy, mo, d)
        mode_void = len(f) > 11 and f[11][:1] == "N"
        if f[1] != "A" or mode_void:
            epoch.valid = False if epoch.valid is None else epoch.valid
            return done
        self._take_position(epoch, f[2:6])
        return done

    def _gga(self, f: list[str]) -> list[Fix]:
        tod = _nmea_tod(f[0])
        if tod is None:
            self.counts["garbage"] += 1
            return []
        epoch, done = self._epoch_at(tod)
        quality = int(f[5]) if f[5].isdigit() else 0
        if quality == 0:
            epoch.valid = False if epoch.valid is None else epoch.valid
            return done
        if self._take_position(epoch, f[1:5]):
            epoch.hdop = _float(f[7]) if len(f) > 7 else None
            epoch.alt = _float(f[8]) if len(f) > 8 else None
        return done

    def _gst(self, f: list[str]) -> list[Fix]:
        tod = _nmea_tod(f[0])
        if tod is None:
            return []
        epoch, done = self._epoch_at(tod)
        lat_err, lon_err = _float(f[5]), _float(f[6])
        if lat_err is not None and lon_err is not None:
            epoch.error_m = math.hypot(lat_err, lon_err)
        return done

    def _zda(self, f: list[str]) -> list[Fix]:
        tod = _nmea_tod(f[0])
        if tod is None:
            return []
        epoch, done = self._epoch_at(tod)
        epoch.day = date(int(f[3]), int(f[2]), int(f[1]))
        return done

    # -- epochs → fixes

    def _close(self) -> list[Fix]:
        epoch = self._epoch
        self._epoch = None
        if epoch is None:
            return []
        if not epoch.valid or epoch.lat is None or epoch.lon is None:
            self.counts["no_fix"] += 1
            return []
        if epoch.day is None:
            if self._last_day is None:
                self._held.append(epoch)
                return []
            day = self._last_day
            if self._last_tod is not None and epoch.tod < self._last_tod - 43200:
                day += timedelta(days=1)  # passed midnight
            epoch.day = day
        out = self._date_held(epoch.day, epoch.tod) if self._held else []
        self._last_day, self._last_tod = epoch.day, epoch.tod
        out.append(self._to_fix(epoch))
        return out

    def _date_held(self, day: date, tod: float | None) -> list[Fix]:
        """Date the held epochs, walking back from ``day`` at ``tod`` across midnight."""
        out: list[Fix] = []
        for epoch in reversed(self._held):
            if tod is not None and epoch.tod > tod + 43200:
                day -= timedelta(days=1)
            epoch.day, tod = day, epoch.tod
            out.append(self._to_fix(epoch))
        self._held.clear()
        return out[::-1]

    def _to_fix(self, epoch: _Epoch) -> Fix:
        assert epoch.day is not None and epoch.lat is not None and epoch.lon is not None
        when = datetime(epoch.day.year, epoch.day.month, epoch.day.day) + timedelta(
            seconds=epoch.tod
        )
        acc = epoch.error_m
        if acc is None and epoch.hdop is not None and epoch.hdop > 0:
            acc = epoch.hdop * UERE_M
        return Fix(when, epoch.lat, epoch.lon, elevation_m=epoch.alt, accuracy_m=acc)


def parse_nmea(
    lines: Iterable[str], default_date: date | None = None, require_checksum: bool = True
) -> tuple[list[Fix], dict[str, int]]:
    """Fixes from NMEA lines and the parser's counts (see :class:`NmeaParser`)."""
    parser = NmeaParser(default_date, require_checksum)
    fixes: list[Fix] = []
    for line in lines:
        fixes.extend(parser.feed(line))
    fixes.extend(parser.flush())
    return fixes, dict(parser.counts)


def read_nmea(
    path: str | Path,
    default_date: date | None = None,
    require_checksum: bool = True,
    *,
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
) -> TrackRead:
    """Fixes from an NMEA 0183 log file (plausibility-checked)."""
    path = Path(path)
    text = read_input_text(path, "NMEA")
    raw, counts = parse_nmea(text.splitlines(), default_date, require_checksum)
    if not raw:
        if counts.get("no_date"):
            raise FieldtoolError(
                f"{path}: NMEA fixes without a date (no RMC or ZDA sentence gives one); give "
                "the UTC date of its first fix: --track-date YYYY-MM-DD (position.track_date)"
            )
        raise FieldtoolError(
            f"{path}: no NMEA position fixes ({count_text(counts, ('lines', 'sentences'))})"
        )
    skipped = {k: v for k, v in counts.items() if k not in ("lines", "sentences")}
    return finish_track(path, "nmea", raw, skipped, max_speed_mps=max_speed_mps)
