"""Time-stamped GPS fixes from the files cameras, drones and loggers write.

Formats (``read_track`` picks one from the file's extension and content):

* ``gpx``  — GPX 1.0/1.1 track and route points (see :func:`fieldtool.position.read_gpx`).
* ``nmea`` — NMEA 0183 sentences (``.nmea``, ``.txt``, ``.log``): RMC gives date, time and
  position; GGA fix quality, HDOP and altitude; GST error estimates; ZDA the date. Every
  sentence's checksum is verified; bad or garbled lines are skipped and counted.
* ``gpmf`` — the GoPro telemetry track (``gpmd``) inside an MP4/MOV, parsed in pure Python:
  GPS5 (HERO5..HERO10, MAX) or GPS9 (HERO11+) samples, GPSU (UTC), GPSF (fix), GPSP (DOP).
* ``srt``  — DJI drone subtitle files, any firmware generation: the position is found by
  the fields' meaning (``[latitude: ..] [longitude: ..]``, consumer ``GPS(lon, lat, sats)``,
  enterprise ``GPS(lat, lon, altM)``), the coordinate order decided once per file and
  checked against ``HOME(lon, lat)``; cues with or without SubRip ``-->`` timecodes.
* ``exif`` — the GPS block of a photo (JPEG/TIFF/...), one fix (Pillow).

Times are naive ``datetime`` values, UTC where the file says so. Tracks embedded in a
video (GPMF, SRT) also give ``media_start``: the time of media t=0 on the fixes' clock, and
each fix's time is ``media_start + its media time``, so the video and its own track match
exactly, whatever the clock. ``positions_from_config`` hands ``media_start`` to the pipeline
as the video's start, which is how ``fieldtool run clip.mp4 --track clip.mp4`` places frames.

Clocks (``TrackRead.clock``):

* ``"utc"``   — GPS time (GPX, NMEA, GPMF's GPSU, EXIF GPSDateStamp/GPSTimeStamp).
* ``"local"`` — a camera clock without a zone (DJI SRT date lines, EXIF DateTimeOriginal
  without OffsetTimeOriginal). Matching a video to its own SRT is unaffected; matching
  to another device's UTC track needs ``position.time_offset_s`` (the zone's offset).
* ``"file-mtime"`` — no time in the file at all (older DJI SRTs): media t=0 is estimated
  as the file's modification time minus the track's duration.

Implausible fixes (NaN, out of range, (0, 0), a jump faster than ``max_speed_mps``) are
dropped and counted by :func:`plausible_mask`, the same for every format.
"""

from __future__ import annotations

import math
import re
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import numpy as np

from fieldtool.geo import haversine_m
from fieldtool.inputs import read_input_text
from fieldtool.types import FieldtoolError, Fix

UERE_M = 5.0  # m; typical user-equivalent range error: accuracy ≈ DOP × UERE_M
DEFAULT_MAX_SPEED_MPS = 100.0  # m/s; a faster step between fixes is a jump
DEFAULT_SLACK_M = 20.0  # m; position noise allowed on top of max_speed × dt
GPS_EPOCH = datetime(1980, 1, 6)  # start of GPS time: no fix is older
FORMATS = ("gpx", "nmea", "srt", "gpmf", "exif")
_ALIASES = MappingProxyType(
    {"gopro": "gpmf", "mp4": "gpmf", "mov": "gpmf", "jpeg": "exif", "jpg": "exif"}
)
_EXTENSIONS = MappingProxyType(
    {
        ".gpx": "gpx",
        ".nmea": "nmea",
        ".nma": "nmea",
        ".txt": "nmea",
        ".log": "nmea",
        ".srt": "srt",
        ".mp4": "gpmf",
        ".mov": "gpmf",
        ".360": "gpmf",
        ".lrv": "gpmf",
        ".jpg": "exif",
        ".jpeg": "exif",
        ".tif": "exif",
        ".tiff": "exif",
        ".heic": "exif",
        ".webp": "exif",
        ".png": "exif",
    }
)


@dataclass(frozen=True, slots=True)
class TrackRead:
    """What :func:`read_track` found in one file."""

    path: Path
    format: str  # one of FORMATS
    fixes: tuple[Fix, ...]  # plausible fixes, sorted by time
    clock: str = "utc"  # "utc", "local" or "file-mtime" (see the module doc)
    media_start: datetime | None = None  # time of media t=0 (video-embedded tracks)
    skipped: Mapping[str, int] = field(default_factory=dict)  # reason → count
    notes: tuple[str, ...] = ()

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def media_time(self, fix: Fix) -> float | None:
        """Seconds from media t=0 to a fix (video-embedded tracks), else None."""
        if self.media_start is None:
            return None
        return (fix.time - self.media_start).total_seconds()

    def summary(self) -> str:
        """One line for the log."""
        line = f"{self.path}: {len(self.fixes)} {self.format} fixes"
        if self.fixes:
            line += f", {self.fixes[0].time.isoformat()} .. {self.fixes[-1].time.isoformat()}"
            line += f" ({self.clock})"
        if self.media_start is not None:
            line += f", media t=0 at {self.media_start.isoformat()}"
        skips = [f"{n} {why}" for why, n in sorted(self.skipped.items()) if n]
        if skips:
            line += f"; skipped: {', '.join(skips)}"
        return line


# ------------------------------------------------------------------ plausibility


def _valid(fix: Fix) -> bool:
    lat, lon = fix.lat, fix.lon
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if abs(lat) > 90 or abs(lon) > 180:
        return False
    return not (lat == 0 and lon == 0)  # "null island": an unset receiver, not a place


def plausible_mask(
    fixes: Sequence[Fix],
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    slack_m: float = DEFAULT_SLACK_M,
    lookahead: int = 20,
    min_segment: int = 3,
) -> tuple[np.ndarray, dict[str, int]]:
    """Which fixes are plausible: ``(mask (N,) bool in the given order, counts)``.

    ``invalid``: NaN, latitude/longitude out of range, or exactly (0, 0). ``before_1980``:
    a time before the GPS epoch (a placeholder, not a fix time). ``jump``: a step
    from the last kept fix (in time order) longer than ``max_speed_mps × dt + slack_m``:

    * a spike — a later fix among the next ``lookahead`` is consistent with the last
      kept one again — is dropped;
    * a lasting jump starts a new segment. When some segment has ``min_segment`` fixes or
      more, segments shorter than that are dropped too (a wrong first fix, a short burst).
      With only short segments there is no majority, and nothing more is dropped.
    """
    n = len(fixes)
    mask = np.zeros(n, dtype=bool)
    counts = {"invalid": 0, "before_1980": 0, "jump": 0}
    order = sorted(range(n), key=lambda i: fixes[i].time)
    valid = [i for i in order if _valid(fixes[i])]
    counts["invalid"] = n - len(valid)
    # GPS time began on 1980-01-06: earlier stamps are a logger without a clock (e.g.
    # 1901-12-13T20:45:52, the 32-bit Unix time minimum), never a real fix time.
    good = [i for i in valid if fixes[i].time >= GPS_EPOCH]
    counts["before_1980"] = len(valid) - len(good)

    def consistent(a: Fix, b: Fix) -> bool:
        dt = abs((b.time - a.time).total_seconds())
        return float(haversine_m(a.lat, a.lon, b.lat, b.lon)) <= max_speed_mps * dt + slack_m

    segments: list[list[int]] = []
    for k, i in enumerate(good):
        if not segments:
            segments.append([i])
            continue
        last = fixes[segments[-1][-1]]
        if consistent(last, fixes[i]):
            segments[-1].append(i)
            continue
        ahead = good[k + 1 : k + 1 + lookahead]
        if any(consistent(last, fixes[j]) for j in ahead):
            counts["jump"] += 1  # a spike: the track comes back
            continue
        segments.append([i])
    if segments and max(len(s) for s in segments) >= min_segment:
        for seg in segments:
            if len(seg) < min_segment:
                counts["jump"] += len(seg)
                seg.clear()
    for seg in segments:
        mask[seg] = True
    return mask, counts


def clean_fixes(
    fixes: Iterable[Fix],
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    slack_m: float = DEFAULT_SLACK_M,
) -> tuple[list[Fix], dict[str, int]]:
    """Plausible fixes sorted by time, and counts of dropped ones (see :func:`plausible_mask`)."""
    items = list(fixes)
    mask, counts = plausible_mask(items, max_speed_mps, slack_m)
    kept = sorted((f for f, ok in zip(items, mask, strict=True) if ok), key=lambda f: f.time)
    return kept, counts


def _merge(*counts: Mapping[str, int]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for c in counts:
        total.update({k: v for k, v in c.items() if v})
    return dict(total)


# ------------------------------------------------------------------------ NMEA

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
                f"{path}: NMEA fixes without a date (no RMC/ZDA sentence); give the date"
            )
        raise FieldtoolError(
            f"{path}: no NMEA position fixes ({_count_text(counts, ('lines', 'sentences'))})"
        )
    skipped = {k: v for k, v in counts.items() if k not in ("lines", "sentences")}
    return _finish(path, "nmea", raw, skipped, max_speed_mps=max_speed_mps)


# ------------------------------------------------------------------------ DJI SRT

_CUE_RE = re.compile(
    r"^\s*\d+\s*\n\s*(\d+):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*"
    r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})[^\n]*\n",
    re.MULTILINE,
)
_TAG_RE = re.compile(r"<[^>]*>")
_PAIR_RE = re.compile(r"([A-Za-z][A-Za-z_.]*(?: [A-Za-z_.]+)?)\s*:\s*(-?\d+(?:\.\d+)?)")
_GPS_RE = re.compile(r"\bGPS\s*\(([^)]*)\)", re.IGNORECASE)
_GPS_COMMA_RE = re.compile(r"\bGPS\s*\([^)]*\)\s*,", re.IGNORECASE)
_HOME_RE = re.compile(r"\bHOME\s*\(([^)]*)\)", re.IGNORECASE)
_NUM_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)")
_DATE_RE = re.compile(
    r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})[ T]+(\d{1,2}):(\d{2}):(\d{2})"
    r"(?:[,.](\d{1,3}))?(?:,(\d{1,3}))?"
)
_COUNTER_RE = re.compile(r"\b(?:FrameCnt|SrtCnt)\s*:\s*(\d+)", re.IGNORECASE)
_COUNTER_LINE_RE = re.compile(
    r"^[^\n]*\b(?:FrameCnt|SrtCnt)\s*:\s*\d+", re.IGNORECASE | re.MULTILINE
)
_INDEX_RE = re.compile(r"\A\s*(\d+)[ \t]*\n")  # a cue's SubRip number on its own line
_DIFFTIME_RE = re.compile(r"\bDiffTime\s*:\s*(\d+(?:\.\d+)?)\s*(ms|s)?\b", re.IGNORECASE)
# what a DJI SRT without "-->" timecodes shows near its start (see detect_format)
_SRT_HINT_RE = re.compile(
    r"<font\b|\b(?:FrameCnt|SrtCnt)\s*:|\[\s*lat(?:itude)?\s*:|\b(?:GPS|HOME)\s*\(",
    re.IGNORECASE,
)
_SRT_START_RE = re.compile(
    r"(?:<font[^>]*>\s*)?(?:(?:FrameCnt|SrtCnt)\s*:|\[\s*lat(?:itude)?\s*:)", re.IGNORECASE
)
_LAT_KEYS = {"latitude", "lat"}
_LON_KEYS = {"longitude", "longtitude", "lon", "lng", "long"}
_ALT_KEYS = {"altitude", "abs_alt", "absalt", "alt"}
# m; a drone flies within this of its HOME point (consumer range ~10-15 km, with margin),
# so GPS positions farther than this from HOME in one order, and nearer in the other, are
# read in the wrong order
SRT_HOME_RADIUS_M = 50_000.0

_LAYOUT_KEYS = "bracketed [latitude] [longitude] keys (Mavic 2/3, Air 2/2S, Mini 2/3)"
_LAYOUT_ENTERPRISE = "enterprise GPS(lat, lon, altM) (Matrice 300, M30, RTK)"
_LAYOUT_LON_ALT = "GPS(lon, lat, altM)"
_LAYOUT_COMMA = "consumer comma GPS (lon, lat, satellites) (Mavic Mini/Air, Phantom 4 RTK)"
_LAYOUT_PHANTOM = "GPS(lon, lat, satellites) with HOME/barometer (Phantom 3/4, Mavic Pro)"


def _srt_seconds(h: str, m: str, s: str, frac: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000.0


@dataclass(frozen=True, slots=True)
class SrtCue:
    """The telemetry of one subtitle cue."""

    start_s: float  # media seconds
    lat: float | None
    lon: float | None
    alt_m: float | None  # absolute altitude where the file gives one
    stamp: datetime | None  # the cue's date-time line (camera clock, no zone)


@dataclass(frozen=True, slots=True)
class _CueFields:
    """What one cue says, before the file's coordinate order is known."""

    lat: float | None  # degrees, from a named key ([latitude: ..])
    lon: float | None  # degrees, from a named key ([longitude: ..], [longtitude: ..])
    alt: float | None  # m, from a named key ([altitude: ..], abs_alt)
    gps: tuple[tuple[float, str], ...]  # the numbers of GPS(a, b, c) and their unit suffixes
    home: tuple[float, float] | None  # HOME(lon, lat), degrees: always written lon-first
    stamp: datetime | None  # the date-time line (camera clock, no zone)
    counter: int | None  # FrameCnt / SrtCnt, else the cue's SubRip number
    diff_s: float | None  # DiffTime: seconds since the previous cue
    comma: bool  # "GPS (..), D ..": the consumer comma layout

    @property
    def named(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def tuple_pos(self) -> bool:
        """Whether the position comes from ``GPS(a, b, ..)`` (order still to decide)."""
        return not self.named and len(self.gps) >= 2

    @property
    def is_cue(self) -> bool:
        """Anything telemetry-like (a text block with none of it is not a cue)."""
        return (
            self.named
            or len(self.gps) >= 2
            or self.stamp is not None
            or self.counter is not None
            or self.diff_s is not None
        )


def _scan_cue(text: str) -> _CueFields:
    body = _TAG_RE.sub(" ", text)
    lat = lon = alt = None
    for key, value in _PAIR_RE.findall(body):
        k = key.strip().lower().replace(" ", "_")
        if k in _LAT_KEYS:
            lat = float(value)
        elif k in _LON_KEYS:
            lon = float(value)
        elif k in _ALT_KEYS:
            alt = float(value)
    gps: tuple[tuple[float, str], ...] = ()
    m = _GPS_RE.search(body)
    if m:
        gps = tuple((float(v), unit) for v, unit in _NUM_RE.findall(m.group(1)))
    home = None
    m = _HOME_RE.search(body)
    if m:
        nums = _NUM_RE.findall(m.group(1))
        if len(nums) >= 2:
            home = (float(nums[0][0]), float(nums[1][0]))
    stamp = None
    d = _DATE_RE.search(body)
    if d:
        y, mo, day, h, mi, s = (int(g) for g in d.groups()[:6])
        micro = int((d.group(7) or "0").ljust(3, "0")) * 1000 + int(d.group(8) or 0)
        try:
            stamp = datetime(y, mo, day, h, mi, s, micro)
        except ValueError:
            stamp = None
    counter = None
    m = _COUNTER_RE.search(body) or _INDEX_RE.match(text)
    if m:
        counter = int(m.group(1))
    diff_s = None
    m = _DIFFTIME_RE.search(body)
    if m:
        diff_s = float(m.group(1)) / (1.0 if (m.group(2) or "ms").lower() == "s" else 1000.0)
    comma = _GPS_COMMA_RE.search(body) is not None
    return _CueFields(lat, lon, alt, gps, home, stamp, counter, diff_s, comma)


def _reading(gps: tuple[tuple[float, str], ...], lat_first: bool) -> tuple[float, float]:
    """(lat, lon) of ``GPS(a, b, ..)`` in the given order."""
    a, b = gps[0][0], gps[1][0]
    return (a, b) if lat_first else (b, a)


def _order_name(lat_first: bool) -> str:
    return "GPS(lat, lon)" if lat_first else "GPS(lon, lat)"


def _decide_order(cues: Sequence[_CueFields]) -> tuple[bool, str, list[str]]:
    """The file's ``GPS(a, b, ..)`` order: ``(lat_first, layout, notes)``.

    Decided once for the whole file, so that one cue cannot be read lat-first and its
    neighbour lon-first. Evidence, strongest first: a first value beyond ±90° is a
    longitude; a third value with a metre unit (``0.0M``) is an altitude, which marks the
    lat-first enterprise layout; otherwise DJI's consumer lon-first. Then two checks that
    catch a wrong guess, each said in ``notes``: a latitude beyond ±90°, and GPS positions
    far (> ``SRT_HOME_RADIUS_M``) from ``HOME(lon, lat)`` that lie near it when swapped.
    """
    groups = [c.gps for c in cues if c.tuple_pos]
    if not groups:
        return False, _LAYOUT_KEYS, []
    alt_third = 2 * sum(len(g) >= 3 and g[2][1].lower() == "m" for g in groups) > len(groups)
    # a latitude cannot exceed 90°: a first value beyond it is a longitude, in every cue
    lat_first = alt_third and not any(abs(g[0][0]) > 90 for g in groups)
    if alt_third:
        layout = _LAYOUT_ENTERPRISE if lat_first else _LAYOUT_LON_ALT
    elif 2 * sum(c.comma for c in cues if c.tuple_pos) > len(groups):
        layout = _LAYOUT_COMMA
    else:
        layout = _LAYOUT_PHANTOM

    def in_range(lat_first: bool) -> list[bool]:
        return [
            abs(lat) <= 90 and abs(lon) <= 180
            for lat, lon in (_reading(g, lat_first) for g in groups)
        ]

    notes: list[str] = []
    kept = in_range(lat_first)
    if not all(kept) and all(in_range(not lat_first)):
        notes.append(
            f"coordinates swapped: read as {_order_name(lat_first)}, {kept.count(False)} of "
            f"{len(kept)} cues have a latitude beyond ±90°; read as {_order_name(not lat_first)}"
        )
        lat_first = not lat_first
    homes = [
        (c.gps, c.home)
        for c in cues
        if c.tuple_pos and c.home is not None and c.home != (0.0, 0.0) and c.gps[0][0] != 0.0
    ]
    if homes and all(in_range(not lat_first)):

        def median_km(lat_first: bool) -> float:
            dists = [float(haversine_m(*_reading(g, lat_first), h[1], h[0])) for g, h in homes]
            return float(np.median(dists)) / 1000.0

        far, near = median_km(lat_first), median_km(not lat_first)
        if far * 1000.0 > SRT_HOME_RADIUS_M >= near * 1000.0:
            notes.append(
                f"coordinates swapped: read as {_order_name(lat_first)} the GPS positions lie "
                f"{far:.0f} km from HOME(lon, lat), read as {_order_name(not lat_first)} "
                f"{near:.1f} km"
            )
            lat_first = not lat_first
    return lat_first, layout, notes


def _srt_cue(start_s: float, fields: _CueFields, lat_first: bool) -> SrtCue:
    lat, lon, alt = fields.lat, fields.lon, fields.alt
    if fields.tuple_pos:
        lat, lon = _reading(fields.gps, lat_first)
        gps = fields.gps
        # a third number with a unit is an altitude; a bare one is a satellite count
        if len(gps) >= 3 and gps[2][1].lower() == "m" and alt is None:
            alt = gps[2][0]
    return SrtCue(start_s, lat, lon, alt, fields.stamp)


def parse_dji_srt_cue(start_s: float, text: str) -> SrtCue:
    """Position, altitude and date-time of one cue, by the fields' meaning.

    ``[latitude: 41.4] [longitude: 2.2] [altitude: 117]`` (also ``latitude :``, ``lat``,
    the misspelt ``longtitude``, ``abs_alt``), or ``GPS(a, b, c)`` / ``GPS (a, b, c)``,
    whose order is decided from this cue alone as :func:`parse_dji_srt` does for a file:
    lon-first unless a metre unit on the third number (``0.0M``, an altitude) marks the
    lat-first enterprise layout and the first number is within ±90°. A bare third number is
    a satellite count and ignored. Camera settings and unknown fields are ignored.
    """
    fields = _scan_cue(text)
    lat_first, _, _ = _decide_order([fields])
    return _srt_cue(start_s, fields, lat_first)


@dataclass(frozen=True, slots=True)
class SrtParse:
    """What :func:`parse_dji_srt` found in the text of one SRT file."""

    cues: tuple[SrtCue, ...]  # cues with a position, in file order
    missing: int  # cues without a position
    notes: tuple[str, ...]  # the layout, a coordinate swap, how untimed cues were timed
    needs_fps: bool = False  # positions found, but untimed cues and no way to time them


def _srt_blocks(norm: str) -> tuple[list[tuple[float | None, str]], bool]:
    """``([(media start s or None, cue text)], timecoded)``.

    SubRip cues (``00:00:01,000 --> ..``) where there are any; else cues split at each
    frame-counter line (``FrameCnt : 12``, ``SrtCnt : 12``), else at blank lines.
    """
    heads = list(_CUE_RE.finditer(norm))
    if heads:
        ends = [h.start() for h in heads[1:]] + [len(norm)]
        return [
            (_srt_seconds(*h.groups()[:4]), norm[h.end() : end])
            for h, end in zip(heads, ends, strict=True)
        ], True
    starts = [m.start() for m in _COUNTER_LINE_RE.finditer(norm)]
    if starts:
        bounds = [*starts, len(norm)]
        bodies = [norm[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    else:
        bodies = re.split(r"\n[ \t]*\n", norm)
    return [(None, b) for b in bodies if b.strip()], False


def _untimed_starts(cues: Sequence[_CueFields], fps: float | None) -> tuple[list[float], str]:
    """Media start (s) of cues without timecodes, and how; ``([], "")`` when unknowable."""
    diffs = [c.diff_s for c in cues]
    if all(d is not None for d in diffs):
        starts, t = [], 0.0
        for d in diffs:  # DiffTime is the time since the previous cue: cue 1 starts at 0
            starts.append(t)
            t += d or 0.0
        return starts, "media time of each cue = cumulative DiffTime"
    counts = [c.counter for c in cues]
    if fps is not None and all(n is not None for n in counts):
        first = counts[0] or 0
        return [
            ((n or 0) - first) / fps for n in counts
        ], f"media time of each cue = (frame counter − {first}) / {fps:g} fps"
    positioned = [c for c in cues if c.named or c.tuple_pos]
    if all(c.stamp is not None for c in positioned):
        t0 = next(c.stamp for c in cues if c.stamp is not None)
        return [
            (c.stamp - t0).total_seconds() if c.stamp is not None else 0.0 for c in cues
        ], "media time of each cue = its date-time line − the first"
    return [], ""


def parse_dji_srt(text: str, *, fps: float | None = None) -> SrtParse:
    """Cues with a position from the text of a DJI SRT file, any layout.

    The ``GPS(a, b, ..)`` order is decided once for the file (see :func:`_decide_order`).
    Cues without ``-->`` timecodes are timed by the cumulative ``DiffTime``, else by the
    frame counter and ``fps`` (the video's frame rate, frames/s), else by their date-time
    lines relative to the first; with none of these ``needs_fps`` is set and no cues are
    returned.
    """
    norm = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks, timecoded = _srt_blocks(norm)
    scanned = [(start, _scan_cue(body)) for start, body in blocks]
    if not timecoded:  # a text block with nothing of a cue is not counted as one
        scanned = [(start, f) for start, f in scanned if f.is_cue]
    fields = [f for _, f in scanned]
    positioned = [f for f in fields if f.named or f.tuple_pos]
    missing = len(fields) - len(positioned)
    if not positioned:
        return SrtParse((), missing, ())
    lat_first, layout, notes = _decide_order(fields)
    notes = [f"SRT layout: {layout}", *notes]
    if timecoded:
        starts = [s or 0.0 for s, _ in scanned]
    else:
        starts, how = _untimed_starts(fields, fps)
        if not starts:
            return SrtParse((), missing, tuple(notes), needs_fps=True)
        notes.append(f"SRT cues have no timecodes: {how}")
    cues = tuple(
        _srt_cue(s, f, lat_first)
        for s, f in zip(starts, fields, strict=True)
        if f.named or f.tuple_pos
    )
    return SrtParse(cues, missing, tuple(notes))


def read_dji_srt(
    path: str | Path,
    *,
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    fps: float | None = None,
) -> TrackRead:
    """Fixes from a DJI ``.SRT`` file; media time from each cue's start.

    ``fps``: the video's frame rate (frames/s), which times cues that have neither
    ``-->`` timecodes nor ``DiffTime`` (see :func:`parse_dji_srt`).
    """
    path = Path(path)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise FieldtoolError(f"{path}: the video's frame rate must be positive, not {fps!r}")
    text = read_input_text(path, "SRT")
    parsed = parse_dji_srt(text, fps=fps)
    cues, missing = parsed.cues, parsed.missing
    if parsed.needs_fps:
        raise FieldtoolError(
            f"{path}: the SRT cues have no timecodes, DiffTime or date-time lines; "
            "the video's frame rate is needed to place them (fps)"
        )
    if not cues:
        what = "no subtitle cues" if missing == 0 else f"{missing} cues, none with a position"
        raise FieldtoolError(f"{path}: no GPS position in the SRT file ({what})")
    stamps = [(c.stamp - timedelta(seconds=c.start_s)) for c in cues if c.stamp is not None]
    notes = list(parsed.notes)
    if stamps:
        base = stamps[0]
        offsets = sorted((s - base).total_seconds() for s in stamps)
        media_start = base + timedelta(seconds=offsets[len(offsets) // 2])
        clock = "local"
        notes.append("SRT date-time lines are the camera clock, zone unknown")
    else:
        end_s = max(c.start_s for c in cues)
        mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None)
        media_start = mtime - timedelta(seconds=end_s)
        clock = "file-mtime"
        notes.append("no date-time in the SRT: media t=0 estimated from the file's mtime")
    raw = [
        Fix(media_start + timedelta(seconds=c.start_s), c.lat, c.lon, elevation_m=c.alt_m)
        for c in cues
        if c.lat is not None and c.lon is not None
    ]
    return _finish(
        path,
        "srt",
        raw,
        {"no_position": missing},
        clock=clock,
        media_start=media_start,
        notes=tuple(notes),
        max_speed_mps=max_speed_mps,
    )


# ------------------------------------------------------------------ MP4 / GPMF

_MP4_EPOCH = datetime(1904, 1, 1)


def _boxes(data: bytes, off: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the ISO BMFF boxes in ``data[off:end]``."""
    while off + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, off)
        head = 8
        if size == 1:
            if off + 16 > end:
                return
            size = struct.unpack_from(">Q", data, off + 8)[0]
            head = 16
        elif size == 0:
            size = end - off
        if size < head or off + size > end:
            return
        yield kind, off + head, off + size
        off += size


def _read_moov(fh: BinaryIO, path: Path) -> bytes:
    """The ``moov`` box of an MP4/MOV file (seeking over ``mdat``)."""
    fh.seek(0, 2)
    file_end = fh.tell()
    off = 0
    while off + 8 <= file_end:
        fh.seek(off)
        head = fh.read(16)
        size, kind = struct.unpack_from(">I4s", head, 0)
        if size == 1:
            size = struct.unpack_from(">Q", head, 8)[0]
        elif size == 0:
            size = file_end - off
        if size < 8:
            break
        if kind == b"moov":
            fh.seek(off)
            return fh.read(size)
        off += size
    raise FieldtoolError(f"{path}: not an MP4/MOV file with a 'moov' box")


@dataclass(frozen=True, slots=True)
class _Samples:
    """Sample table of one track: file offsets, sizes, start times and durations (s)."""

    offsets: list[int]
    sizes: list[int]
    starts: list[float]
    durations: list[float]


def _sample_table(stbl: bytes, timescale: int) -> _Samples:
    boxes = {kind: (s, e) for kind, s, e in _boxes(stbl, 0, len(stbl))}

    def body(kind: bytes) -> bytes:
        s, e = boxes[kind]
        return stbl[s:e]

    stsz = body(b"stsz")
    fixed, count = struct.unpack_from(">II", stsz, 4)
    sizes = [fixed] * count if fixed else list(struct.unpack_from(f">{count}I", stsz, 12))
    if b"stco" in boxes:
        b = body(b"stco")
        n = struct.unpack_from(">I", b, 4)[0]
        chunks = list(struct.unpack_from(f">{n}I", b, 8))
    else:
        b = body(b"co64")
        n = struct.unpack_from(">I", b, 4)[0]
        chunks = list(struct.unpack_from(f">{n}Q", b, 8))
    b = body(b"stsc")
    n = struct.unpack_from(">I", b, 4)[0]
    runs = [struct.unpack_from(">III", b, 8 + 12 * i)[:2] for i in range(n)]
    offsets: list[int] = []
    for r, (first, per_chunk) in enumerate(runs):
        last = runs[r + 1][0] - 1 if r + 1 < len(runs) else len(chunks)
        for chunk in range(first, last + 1):
            pos = chunks[chunk - 1]
            for _ in range(per_chunk):
                if len(offsets) >= count:
                    break
                offsets.append(pos)
                pos += sizes[len(offsets) - 1]
    b = body(b"stts")
    n = struct.unpack_from(">I", b, 4)[0]
    durations: list[float] = []
    for i in range(n):
        repeat, delta = struct.unpack_from(">II", b, 8 + 8 * i)
        durations.extend([delta / timescale] * repeat)
    durations = (durations + [durations[-1] if durations else 1.0] * count)[:count]
    starts = list(np.concatenate([[0.0], np.cumsum(durations)[:-1]])) if count else []
    return _Samples(offsets[:count], sizes[:count], [float(s) for s in starts], durations)


def _find_gpmd(moov: bytes) -> tuple[_Samples, datetime | None] | None:
    """The sample table of the GPMF ('gpmd') track and the movie's creation time."""
    created = None
    head = 16 if struct.unpack_from(">I", moov, 0)[0] == 1 else 8
    for kind, s, e in _boxes(moov, head, len(moov)):
        if kind == b"mvhd":
            secs = struct.unpack_from(">I" if moov[s] == 0 else ">Q", moov, s + 4)[0]
            if secs:
                created = _MP4_EPOCH + timedelta(seconds=secs)
        if kind != b"trak":
            continue
        for k2, s2, e2 in _boxes(moov, s, e):
            if k2 != b"mdia":
                continue
            parts = {k: (a, b) for k, a, b in _boxes(moov, s2, e2)}
            if b"hdlr" not in parts or b"mdhd" not in parts or b"minf" not in parts:
                continue
            ha = parts[b"hdlr"][0]
            if moov[ha + 8 : ha + 12] != b"meta":
                continue
            ma = parts[b"mdhd"][0]
            timescale = struct.unpack_from(">I", moov, ma + (12 if moov[ma] == 0 else 20))[0]
            for k3, s3, e3 in _boxes(moov, *parts[b"minf"]):
                if k3 != b"stbl":
                    continue
                stbl = moov[s3:e3]
                stsd = next((a, b) for k, a, b in _boxes(stbl, 0, len(stbl)) if k == b"stsd")
                if stbl[stsd[0] + 12 : stsd[0] + 16] == b"gpmd":
                    return _sample_table(stbl, max(1, timescale)), created
    return None


# KLV value types of GPMF → struct codes
_GPMF_TYPES = MappingProxyType(
    {
        ord("b"): "b",
        ord("B"): "B",
        ord("s"): "h",
        ord("S"): "H",
        ord("l"): "i",
        ord("L"): "I",
        ord("f"): "f",
        ord("d"): "d",
        ord("j"): "q",
        ord("J"): "Q",
    }
)


def _klv(buf: bytes, off: int, end: int) -> Iterator[tuple[bytes, int, int, int, int]]:
    """(key, type, struct size, repeat, data offset) of the GPMF KLV items in a range."""
    while off + 8 <= end:
        key = buf[off : off + 4]
        if key == b"\0\0\0\0":
            return
        typ, ssize = buf[off + 4], buf[off + 5]
        repeat = int.from_bytes(buf[off + 6 : off + 8], "big")
        size = ssize * repeat
        if off + 8 + size > end:
            return
        yield key, typ, ssize, repeat, off + 8
        off += 8 + ((size + 3) & ~3)


def _values(buf: bytes, typ: int, ssize: int, repeat: int, at: int) -> list[float]:
    code = _GPMF_TYPES.get(typ)
    if code is None:
        return []
    n = ssize * repeat // struct.calcsize(code)
    return list(struct.unpack_from(f">{n}{code}", buf, at))


def _parse_gpsu(raw: bytes) -> datetime | None:
    """GPSU ``yymmddhhmmss.sss`` → datetime (UTC)."""
    try:
        text = raw[:16].decode("ascii")
        stamp = datetime.strptime(text[:12], "%y%m%d%H%M%S")
        return stamp + timedelta(seconds=float(text[12:16] or 0))
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass(slots=True)
class _GpsBlock:
    """GPS samples of one STRM of one payload."""

    rows: np.ndarray  # (n, k) scaled values
    kind: str  # "GPS5" or "GPS9"
    utc: datetime | None = None  # GPSU
    fix: int | None = None  # GPSF: 0 none, 2 2D, 3 3D
    dop: float | None = None  # GPSP / 100


def _gps_blocks(payload: bytes) -> list[_GpsBlock]:
    blocks: list[_GpsBlock] = []
    for key, typ, _, _, at in _klv(payload, 0, len(payload)):
        if key != b"DEVC" or typ != 0:
            continue
        end = at + int.from_bytes(payload[at - 2 : at], "big") * payload[at - 3]
        for k2, t2, _, _, at2 in _klv(payload, at, end):
            if k2 != b"STRM" or t2 != 0:
                continue
            size2 = int.from_bytes(payload[at2 - 2 : at2], "big") * payload[at2 - 3]
            block = _strm_gps(payload, at2, at2 + size2)
            if block is not None:
                blocks.append(block)
    return blocks


def _strm_gps(buf: bytes, start: int, end: int) -> _GpsBlock | None:
    scale: list[float] = [1.0]
    utc = fix = dop = None
    type_desc = b""
    found: _GpsBlock | None = None
    for key, typ, ssize, repeat, at in _klv(buf, start, end):
        if key == b"SCAL":
            scale = [float(v) or 1.0 for v in _values(buf, typ, ssize, repeat, at)] or [1.0]
        elif key == b"GPSU":
            utc = _parse_gpsu(buf[at : at + ssize])
        elif key == b"GPSF":
            vals = _values(buf, typ, ssize, repeat, at)
            fix = int(vals[0]) if vals else None
        elif key == b"GPSP":
            vals = _values(buf, typ, ssize, repeat, at)
            dop = vals[0] / 100.0 if vals else None
        elif key == b"TYPE":
            type_desc = buf[at : at + ssize * repeat].rstrip(b"\0")
        elif key == b"GPS5" and typ == ord("l") and ssize == 20:
            rows = np.frombuffer(buf, dtype=">i4", count=5 * repeat, offset=at)
            found = _GpsBlock(_scaled(rows.reshape(repeat, 5), scale), "GPS5")
        elif key == b"GPS9" and typ == ord("?") and type_desc:
            codes = "".join(_GPMF_TYPES.get(c, "x") for c in type_desc)
            if "x" in codes or struct.calcsize(f">{codes}") != ssize:
                continue
            rows9 = np.array(
                [struct.unpack_from(f">{codes}", buf, at + i * ssize) for i in range(repeat)],
                dtype=np.float64,
            ).reshape(repeat, len(codes))
            found = _GpsBlock(_scaled(rows9, scale), "GPS9")
    if found is None:
        return None
    found.utc, found.fix, found.dop = utc, fix, dop
    return found


def _scaled(rows: np.ndarray, scale: list[float]) -> np.ndarray:
    k = rows.shape[1]
    s = np.array(scale if len(scale) == k else [scale[0]] * k, dtype=np.float64)
    return rows.astype(np.float64) / s


@dataclass(frozen=True, slots=True)
class GpmfSample:
    """One GPS sample of a GoPro clip."""

    media_t: float  # seconds from media t=0
    utc: datetime | None  # GPS time (GPSU + spread; GPS9 carries its own)
    lat: float
    lon: float
    alt_m: float
    speed_mps: float  # 2D ground speed
    fix: int | None  # GPSF / GPS9 fix: 0 none, 2 2D, 3 3D
    dop: float | None


def read_gpmf_samples(path: str | Path) -> tuple[list[GpmfSample], datetime | None]:
    """All GPS samples of a GoPro MP4 and the file's creation time (camera clock).

    Each payload of the 'gpmd' track covers [start, start + duration) of media time; its
    n GPS5 samples are spread evenly over it, and GPSU (the payload's UTC time) plus the
    same spread gives each one's UTC time. GPS9 samples carry their own time.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            moov = _read_moov(fh, path)
            found = _find_gpmd(moov)
            if found is None:
                raise FieldtoolError(f"{path}: no GoPro GPMF ('gpmd') telemetry track")
            table, created = found
            samples: list[GpmfSample] = []
            for off, size, start, dur in zip(
                table.offsets, table.sizes, table.starts, table.durations, strict=True
            ):
                fh.seek(off)
                payload = fh.read(size)
                for block in _gps_blocks(payload):
                    samples.extend(_block_samples(block, start, dur))
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: video file not found") from None
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (struct.error, KeyError, StopIteration, IndexError, ValueError) as exc:
        raise FieldtoolError(f"{path}: damaged MP4/GPMF structure ({exc})") from None
    return samples, created


def mp4_creation_time(path: str | Path) -> datetime | None:
    """The ``mvhd`` creation time of an MP4/MOV file (naive, as written), None if unset.

    Reads the box headers and the ``moov`` box only. Zero (unset: encoders that do not
    know the time write it) and times before 1970 are None.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            moov = _read_moov(fh, path)
    except (OSError, FieldtoolError, struct.error):
        return None
    head = 16 if struct.unpack_from(">I", moov, 0)[0] == 1 else 8
    for kind, s, _ in _boxes(moov, head, len(moov)):
        if kind == b"mvhd":
            secs = struct.unpack_from(">I" if moov[s] == 0 else ">Q", moov, s + 4)[0]
            when = _MP4_EPOCH + timedelta(seconds=secs)
            return when if secs and when.year >= 1970 else None
    return None


def has_gpmf(path: str | Path) -> bool:
    """Whether an MP4/MOV file carries a GoPro GPMF ('gpmd') track (a GoPro camera's file)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return _find_gpmd(_read_moov(fh, path)) is not None
    except (OSError, FieldtoolError, struct.error, KeyError, StopIteration, IndexError,
            ValueError):  # fmt: skip
        return False


def _block_samples(block: _GpsBlock, start: float, dur: float) -> list[GpmfSample]:
    n = len(block.rows)
    out: list[GpmfSample] = []
    for i, row in enumerate(block.rows):
        step = dur * i / n
        if block.kind == "GPS9":
            utc = datetime(2000, 1, 1) + timedelta(days=float(row[5]), seconds=float(row[6]))
            dop, fix = float(row[7]), int(row[8])
        else:
            utc = block.utc + timedelta(seconds=step) if block.utc else None
            dop, fix = block.dop, block.fix
        out.append(
            GpmfSample(
                start + step,
                utc,
                float(row[0]),
                float(row[1]),
                float(row[2]),
                float(row[3]),
                fix,
                dop,
            )
        )
    return out


def read_gpmf(path: str | Path, *, max_speed_mps: float = DEFAULT_MAX_SPEED_MPS) -> TrackRead:
    """Fixes from a GoPro MP4's GPMF track, each at ``media_start + media time``.

    ``media_start`` (UTC of media t=0) is the median over samples of (UTC − media time),
    so a late or jittery GPSU does not shift the track. Samples without a lock (fix 0)
    are skipped; accuracy is DOP × ``UERE_M`` where GPSP is given.
    """
    path = Path(path)
    samples, created = read_gpmf_samples(path)
    if not samples:
        raise FieldtoolError(f"{path}: no GPS samples in its GPMF track")
    locked = [s for s in samples if s.fix is None or s.fix >= 2]
    skipped = {"no_fix": len(samples) - len(locked)}
    if not locked:
        raise FieldtoolError(f"{path}: the GPS had no fix during the clip ({len(samples)} samples)")
    offsets = sorted((s.utc - _MP4_EPOCH).total_seconds() - s.media_t for s in locked if s.utc)
    notes: list[str] = []
    if offsets:
        n = len(offsets)
        mid = offsets[n // 2]
        media_start = _MP4_EPOCH + timedelta(seconds=mid)
        clock = "utc"
        iqr = offsets[(3 * n) // 4] - offsets[n // 4]
        notes.append(f"UTC - media time: median of {n} samples, interquartile range {iqr:.3f} s")
    elif created is not None:
        media_start, clock = created, "local"
        notes.append("no GPSU time: media t=0 taken from the file's creation time")
    else:
        raise FieldtoolError(f"{path}: GPS samples carry no time (no GPSU)")
    raw = [
        Fix(
            media_start + timedelta(seconds=s.media_t),
            float(s.lat),
            float(s.lon),
            elevation_m=float(s.alt_m),
            accuracy_m=None if s.dop is None else s.dop * UERE_M,
        )
        for s in locked
    ]
    return _finish(
        path,
        "gpmf",
        raw,
        skipped,
        clock=clock,
        media_start=media_start,
        notes=tuple(notes),
        max_speed_mps=max_speed_mps,
    )


# ------------------------------------------------------------------------ EXIF


def _rational(value: object) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        return value[0] / value[1] if value[1] else math.nan
    return float(value)  # type: ignore[arg-type]


def _dms(value: object, ref: object) -> float | None:
    try:
        d, m, s = (_rational(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    out = d + m / 60.0 + s / 3600.0
    return -out if str(ref).strip().upper() in ("S", "W") else out


def read_exif_fix(path: str | Path) -> tuple[Fix | None, str]:
    """The GPS position of a photo as a Fix, and its clock ("utc" or "local").

    Time: GPSDateStamp + GPSTimeStamp (UTC), else DateTimeOriginal with
    OffsetTimeOriginal (UTC), else DateTimeOriginal as the camera's local clock. Accuracy:
    GPSHPositioningError, else GPSDOP × ``UERE_M``. None when the photo has no GPS block
    or no time.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow comes with streamlit

    path = Path(path)
    try:
        with Image.open(path) as image:
            exif = image.getexif()
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: photo not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise FieldtoolError(f"{path}: not a readable image ({exc})") from None
    gps = exif.get_ifd(0x8825)
    if not gps or 2 not in gps or 4 not in gps:
        return None, "utc"
    lat, lon = _dms(gps[2], gps.get(1, "N")), _dms(gps[4], gps.get(3, "E"))
    if lat is None or lon is None:
        return None, "utc"
    alt = None
    if 6 in gps:
        try:
            alt = _rational(gps[6]) * (-1.0 if gps.get(5) in (1, b"\x01") else 1.0)
        except (TypeError, ValueError, ZeroDivisionError):
            alt = None
    acc = None
    for tag, factor in ((31, 1.0), (11, UERE_M)):
        if tag in gps:
            try:
                acc = _rational(gps[tag]) * factor
                break
            except (TypeError, ValueError, ZeroDivisionError):
                continue
    when, clock = _exif_time(exif, gps)
    if when is None:
        return None, clock
    return Fix(when, lat, lon, elevation_m=alt, accuracy_m=acc), clock


def _exif_time(
    exif: Mapping[int, object], gps: Mapping[int, object]
) -> tuple[datetime | None, str]:
    if 29 in gps and 7 in gps:
        try:
            day = datetime.strptime(str(gps[29]).strip(), "%Y:%m:%d")
            h, m, s = (_rational(v) for v in gps[7])  # type: ignore[attr-defined]
            return day + timedelta(hours=h, minutes=m, seconds=s), "utc"
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    sub = exif.get_ifd(0x8769) if hasattr(exif, "get_ifd") else {}  # type: ignore[attr-defined]
    text = sub.get(0x9003) or exif.get(0x0132)
    if not text:
        return None, "utc"
    try:
        when = datetime.strptime(str(text).strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, "utc"
    zone = sub.get(0x9011)
    m = re.fullmatch(r"([+-])(\d{2}):(\d{2})", str(zone).strip()) if zone else None
    if m:
        sign = 1 if m.group(1) == "+" else -1
        return when - sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))), "utc"
    return when, "local"


def read_exif(path: str | Path) -> TrackRead:
    """A one-fix track from a photo's EXIF GPS block."""
    path = Path(path)
    fix, clock = read_exif_fix(path)
    if fix is None:
        raise FieldtoolError(f"{path}: no EXIF GPS position with a time in the photo")
    return _finish(path, "exif", [fix], {}, clock=clock)


# --------------------------------------------------------------------- dispatch


def _count_text(counts: Mapping[str, int], order: Sequence[str]) -> str:
    keys = list(order) + sorted(k for k in counts if k not in order)
    return ", ".join(f"{counts[k]} {k}" for k in keys if counts.get(k))


def _finish(
    path: Path,
    fmt: str,
    raw: Sequence[Fix],
    skipped: Mapping[str, int],
    *,
    clock: str = "utc",
    media_start: datetime | None = None,
    notes: tuple[str, ...] = (),
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
) -> TrackRead:
    kept, dropped = clean_fixes(raw, max_speed_mps)
    if not kept:
        raise FieldtoolError(
            f"{path}: no plausible fixes ({len(raw)} read, {_count_text(dropped, ())} dropped)"
        )
    return TrackRead(path, fmt, tuple(kept), clock, media_start, _merge(skipped, dropped), notes)


def detect_format(path: str | Path) -> str:
    """The track format of a file, from its extension, else its first bytes."""
    path = Path(path)
    by_ext = _EXTENSIONS.get(path.suffix.lower())
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: track file not found") from None
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head[4:8] == b"ftyp":
        return "gpmf"
    if head[:2] == b"\xff\xd8" or head[:4] in (b"II*\0", b"MM\0*"):
        return "exif"
    text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    if text.startswith("<") and "<gpx" in text:
        return "gpx"
    # SubRip cues ("1" then "00:00:01,000 --> .."), or DJI cues without timecodes: a cue
    # number then DJI fields (<font>, FrameCnt/SrtCnt, [latitude .., GPS(..), HOME(..)),
    # or a file that starts with the frame counter or the bracketed latitude
    if re.match(r"\d+\s*[\r\n]", text) and ("-->" in text or _SRT_HINT_RE.search(text)):
        return "srt"
    if _SRT_START_RE.match(text):
        return "srt"
    if re.search(r"[$!][A-Z]{2}(RMC|GGA|GLL|GSA|GSV|VTG|ZDA|GST),", text):
        return "nmea"
    if by_ext is not None:
        return by_ext
    raise FieldtoolError(f"{path}: unknown track format (give one of {', '.join(FORMATS)})")


def read_track(
    path: str | Path,
    fmt: str = "auto",
    *,
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    nmea_date: date | None = None,
    fps: float | None = None,
) -> TrackRead:
    """Plausible fixes from a track file of any supported format (see the module doc).

    ``fmt``: "auto" (extension and content), or one of ``FORMATS`` (also "gopro"/"mp4"
    for gpmf). ``nmea_date`` dates NMEA logs that carry no RMC/ZDA sentence. ``fps``: the
    video's frame rate (frames/s), when known; it times DJI SRT cues that have neither
    timecodes nor DiffTime (see :func:`read_dji_srt`).
    """
    path = Path(path)
    name = _ALIASES.get(fmt.lower(), fmt.lower())
    if name == "auto":
        name = detect_format(path)
    if name not in FORMATS:
        raise FieldtoolError(f"{path}: unknown track format {fmt!r} (use {', '.join(FORMATS)})")
    if name == "gpx":
        from fieldtool.position import read_gpx

        gpx = read_gpx(path)
        return _finish(
            path,
            "gpx",
            gpx.fixes,
            {"no_time": gpx.no_time, "bad_time": gpx.bad_time, "bad_coords": gpx.bad_coords},
            max_speed_mps=max_speed_mps,
        )
    if name == "nmea":
        return read_nmea(path, nmea_date, max_speed_mps=max_speed_mps)
    if name == "srt":
        return read_dji_srt(path, max_speed_mps=max_speed_mps, fps=fps)
    if name == "gpmf":
        return read_gpmf(path, max_speed_mps=max_speed_mps)
    return read_exif(path)
