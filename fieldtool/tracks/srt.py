"""DJI drone subtitle files (``.SRT``), any firmware generation.

The position is found by the fields' meaning (``[latitude: ..] [longitude: ..]``, consumer
``GPS(lon, lat, sats)``, enterprise ``GPS(lat, lon, altM)``), the coordinate order decided
once per file and checked against ``HOME(lon, lat)``; cues with or without SubRip ``-->``
timecodes (then timed by DiffTime, their date lines, else a counter at the frame rate). A
decimal comma inside a bracketed field is read (a comma-decimal locale's re-export); a
number with no single reading is an error naming the line. The date-time lines are the
drone's local clock (no zone); a file without any is anchored at its modification time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from fieldtool.geo import haversine_m
from fieldtool.inputs import read_input_text
from fieldtool.timebase import utc_naive
from fieldtool.tracks.base import DEFAULT_MAX_SPEED_MPS, TrackRead, finish_track
from fieldtool.types import FieldtoolError, Fix, SrtOrder

_CUE_RE = re.compile(
    r"^\s*\d+\s*\n\s*(\d+):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*"
    r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})[^\n]*\n",
    re.MULTILINE,
)
_TAG_RE = re.compile(r"<[^>]*>")
_PAIR_RE = re.compile(r"([A-Za-z][A-Za-z_.]*(?: [A-Za-z_.]+)?)\s*:\s*(-?\d+(?:\.\d+)?)")
# a bracketed field group, "[latitude: 41.4]" or "[rel_alt: 1.2 abs_alt: 117.0]", and its keys
_BRACKET_RE = re.compile(r"\[([^\[\]\n]*)\]")
_BRACKET_KEY_RE = re.compile(r"(?:^|(?<=[\s,;]))([A-Za-z][A-Za-z_.]*)\s*:\s*")
_DOT_VALUE_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*[A-Za-z°]*")
_COMMA_VALUE_RE = re.compile(r"(-?\d+),(\d+)\s*[A-Za-z°]*")  # a decimal comma, in brackets
_GPS_RE = re.compile(r"\bGPS\s*\(([^)]*)\)", re.IGNORECASE)
_GPS_COMMA_RE = re.compile(r"\bGPS\s*\([^)]*\)\s*,", re.IGNORECASE)
_HOME_RE = re.compile(r"\bHOME\s*\(([^)]*)\)", re.IGNORECASE)
_NUM_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)")
_DATE_RE = re.compile(
    r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})[ T]+(\d{1,2}):(\d{2}):(\d{2})"
    r"(?:[,.](\d{1,3}))?(?:,(\d{1,3}))?"
)
_COUNTER_RE = re.compile(r"\b(FrameCnt|SrtCnt)\s*:\s*(\d+)", re.IGNORECASE)
_COUNTER_LINE_RE = re.compile(
    r"^[^\n]*\b(?:FrameCnt|SrtCnt)\s*:\s*\d+", re.IGNORECASE | re.MULTILINE
)
_INDEX_RE = re.compile(r"\A\s*(\d+)[ \t]*\n")  # a cue's SubRip number on its own line
_DIFFTIME_RE = re.compile(r"\bDiffTime\s*:\s*(\d+(?:\.\d+)?)\s*(ms|s)?\b", re.IGNORECASE)
# what a DJI SRT without "-->" timecodes shows near its start (see looks_like_srt)
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
# Counter-timed cues whose span differs from their date lines' by more than this share
# (and more than the dates' resolution) are said: a wrong frame rate, or no frame counter
SRT_TIMING_TOLERANCE = 0.05
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
    frames: tuple[str, int] | None  # the drone's counter: (FrameCnt or SrtCnt, its value)
    index: int | None  # the cue's SubRip number (a subtitle's, not a frame's)
    diff_s: float | None  # DiffTime: seconds since the previous cue
    comma: bool  # "GPS (..), D ..": the consumer comma layout
    decimal_comma: bool = False  # a bracketed value written with a decimal comma

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
            or self.frames is not None
            or self.index is not None
            or self.diff_s is not None
        )


class _Unreadable(ValueError):
    """A field whose number cannot be read unambiguously, at ``at`` (a cue text offset)."""

    def __init__(self, at: int, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.at = at


def _bracket_value(value: str) -> tuple[float | None, bool]:
    """``(number, decimal comma)`` of a bracketed field's value; None where it is no number
    (``n/a``). Raises ValueError where digits are written in no single reading."""
    if m := _DOT_VALUE_RE.fullmatch(value):
        return float(m.group(1)), False
    if m := _COMMA_VALUE_RE.fullmatch(value):  # inside [ ] no comma separates values
        return float(f"{m.group(1)}.{m.group(2)}"), True
    if re.match(r"-?\d", value):
        raise ValueError(value)
    return None, False


def _bracket_fields(body: str) -> tuple[dict[str, float], bool]:
    """``({lat|lon|alt: value}, decimal comma seen)`` from the bracketed fields of a cue."""
    found: dict[str, float] = {}
    comma = False
    for group in _BRACKET_RE.finditer(body):
        inner = group.group(1)
        keys = list(_BRACKET_KEY_RE.finditer(inner))
        for key, nxt in zip(keys, [*keys[1:], None], strict=True):
            k = key.group(1).lower()
            if k not in _LAT_KEYS | _LON_KEYS | _ALT_KEYS:
                continue
            what = "lat" if k in _LAT_KEYS else "lon" if k in _LON_KEYS else "alt"
            # keys may be a comma apart in one bracket: "[lat: 41.4, lon: 2.1]"
            value = inner[key.end() : nxt.start() if nxt else len(inner)].strip().rstrip(",;")
            try:
                number, decimal = _bracket_value(value)
            except ValueError:
                raise _Unreadable(
                    group.start(), group.group(0),
                    "the number cannot be read unambiguously (a decimal comma and a point, "
                    "or digit groups); write it with one decimal point, e.g. 41.424724",
                ) from None  # fmt: skip
            if number is not None:
                found[what] = number
                comma = comma or decimal
    return found, comma


def _group_numbers(body: str, pattern: re.Pattern[str]) -> list[tuple[str, str]] | None:
    """The numbers (and unit suffixes) of ``GPS(..)`` / ``HOME(..)``; None where absent.
    Four or more numbers led by a whole one are decimal commas in a layout whose commas
    separate values (``GPS (-121,7458, 48,0771, 17)``): unreadable."""
    m = pattern.search(body)
    if m is None:
        return None
    nums: list[tuple[str, str]] = _NUM_RE.findall(m.group(1))
    if len(nums) >= 4 and "." not in nums[0][0]:
        raise _Unreadable(
            m.start(), m.group(0),
            f"{len(nums)} numbers where 2-3 are written: decimal commas in a layout whose "
            "commas separate the values cannot be read; re-export the file with decimal points",
        )  # fmt: skip
    return nums


def _scan_cue(text: str) -> _CueFields:
    # tags blanked, not removed: an offset in ``body`` is one in ``text`` (for line numbers)
    body = _TAG_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    named, decimal_comma = _bracket_fields(body)
    lat, lon, alt = named.get("lat"), named.get("lon"), named.get("alt")
    bare = _BRACKET_RE.sub(lambda m: " " * len(m.group()), body)
    for pair in _PAIR_RE.finditer(bare):
        k = pair.group(1).strip().lower().replace(" ", "_")
        if k not in _LAT_KEYS | _LON_KEYS | _ALT_KEYS:
            continue
        tail = re.match(r"[.,]\d[\d.,]*", bare[pair.end() :])
        if tail:  # "latitude: 41,424724" outside [ ]
            raise _Unreadable(
                pair.start(), pair.group(0) + tail.group(0),
                "a comma between digits outside [key: value] brackets may be a decimal comma "
                "or a separator between values; write it with a decimal point",
            )  # fmt: skip
        value = float(pair.group(2))
        if k in _LAT_KEYS:
            lat = value
        elif k in _LON_KEYS:
            lon = value
        else:
            alt = value
    gps: tuple[tuple[float, str], ...] = ()
    nums = _group_numbers(body, _GPS_RE)
    if nums:
        gps = tuple((float(v), unit) for v, unit in nums)
    home = None
    nums = _group_numbers(body, _HOME_RE)
    if nums and len(nums) >= 2:
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
    m = _COUNTER_RE.search(body)
    frames = (m.group(1), int(m.group(2))) if m else None
    m = _INDEX_RE.match(text)
    index = int(m.group(1)) if m else None
    diff_s = None
    m = _DIFFTIME_RE.search(body)
    if m:
        diff_s = float(m.group(1)) / (1.0 if (m.group(2) or "ms").lower() == "s" else 1000.0)
    comma = _GPS_COMMA_RE.search(body) is not None
    return _CueFields(lat, lon, alt, gps, home, stamp, frames, index, diff_s, comma, decimal_comma)


def _reading(gps: tuple[tuple[float, str], ...], lat_first: bool) -> tuple[float, float]:
    """(lat, lon) of ``GPS(a, b, ..)`` in the given order."""
    a, b = gps[0][0], gps[1][0]
    return (a, b) if lat_first else (b, a)


def _order_name(lat_first: bool) -> str:
    return "GPS(lat, lon)" if lat_first else "GPS(lon, lat)"


def _decide_order(
    cues: Sequence[_CueFields], order: SrtOrder = "auto"
) -> tuple[bool, str, list[str]]:
    """The file's ``GPS(a, b, ..)`` order: ``(lat_first, layout, notes)``; ``order``
    "lat-lon" or "lon-lat" (``--srt-order``) is followed as given.

    Decided once for the whole file, so that one cue cannot be read lat-first and its
    neighbour lon-first. Evidence, strongest first: a first value beyond ±90° is a
    longitude; a third value with a metre unit (``0.0M``) is an altitude, which marks the
    lat-first enterprise layout; otherwise DJI's consumer lon-first. Then two checks that
    catch a wrong guess, each said in ``notes``: a latitude beyond ±90°, and GPS positions
    far (> ``SRT_HOME_RADIUS_M``) from ``HOME(lon, lat)`` that lie near it when swapped.
    A metre altitude with both numbers within ±90° and no HOME line is a guess, warned
    with both readings: DJI writes that group in either order (enterprise lat-first,
    other firmware lon-first).
    """
    groups = [c.gps for c in cues if c.tuple_pos]
    if not groups:
        return False, _LAYOUT_KEYS, []
    if order != "auto":
        lat_first = order == "lat-lon"
        return lat_first, f"{_order_name(lat_first)} as given (--srt-order {order})", []
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
    if alt_third:  # the layout named as read, after a swap too
        layout = _LAYOUT_ENTERPRISE if lat_first else _LAYOUT_LON_ALT
    if alt_third and not homes and not notes and all(in_range(not lat_first)):
        a, b = _reading(groups[0], lat_first)
        notes.append(
            f"warning: SRT GPS order is a guess: read as {_order_name(lat_first)} the first "
            f"fix is at {a:.4f}, {b:.4f} (lat, lon), read the other way at {b:.4f}, {a:.4f}; "
            "no HOME line or value beyond ±90° decides (--srt-order lat-lon or lon-lat)"
        )
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
    a satellite count and ignored. Camera settings and unknown fields are ignored. A
    decimal comma inside ``[ ]`` is read; a number with no single reading is an error.
    """
    try:
        fields = _scan_cue(text)
    except _Unreadable as exc:
        line = text.count("\n", 0, exc.at) + 1
        raise FieldtoolError(f"SRT cue line {line}: {exc}") from None
    lat_first, _, _ = _decide_order([fields])
    return _srt_cue(start_s, fields, lat_first)


@dataclass(frozen=True, slots=True)
class SrtParse:
    """What :func:`parse_dji_srt` found in the text of one SRT file."""

    cues: tuple[SrtCue, ...]  # cues with a position, in file order
    missing: int  # cues without a position
    notes: tuple[str, ...]  # the layout, a coordinate swap, how untimed cues were timed
    needs_fps: bool = False  # positions found, but untimed cues and no way to time them
    clash: str | None = None  # untimed cues: a frame counter and the dates disagree


def _srt_blocks(norm: str) -> tuple[list[tuple[float | None, int, str]], bool]:
    """``([(media start s or None, offset of the text in norm, cue text)], timecoded)``.

    SubRip cues (``00:00:01,000 --> ..``) where there are any; else cues split at each
    frame-counter line (``FrameCnt : 12``, ``SrtCnt : 12``), else at blank lines.
    """
    heads = list(_CUE_RE.finditer(norm))
    if heads:
        ends = [h.start() for h in heads[1:]] + [len(norm)]
        return [
            (_srt_seconds(*h.groups()[:4]), h.end(), norm[h.end() : end])
            for h, end in zip(heads, ends, strict=True)
        ], True
    starts = [m.start() for m in _COUNTER_LINE_RE.finditer(norm)]
    if not starts:
        starts = [0, *(m.end() for m in re.finditer(r"\n[ \t]*\n", norm))]
    bounds = [*starts, len(norm)]
    return [
        (None, a, norm[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if norm[a:b].strip()
    ], False


def _dates_time_cues(stamps: Sequence[datetime]) -> bool:
    """Whether date lines can time the cues: never backwards, and (nearly) every cue
    later than the one before (dates to the second cannot time 30 cues a second)."""
    steps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    return all(d >= 0 for d in steps) and sum(d == 0 for d in steps) <= 0.1 * len(steps)


def _untimed_starts(
    cues: Sequence[_CueFields], fps: float | None
) -> tuple[list[float], str, str | None]:
    """Media start (s) of cues without timecodes, how, and where a counter and the date
    lines disagree, what they say (else None); ``([], "", None)`` when unknowable.

    Cumulative DiffTime, else the date lines where they time every cue, else a counter at
    ``fps``: the drone's FrameCnt/SrtCnt, else the SubRip cue number; else coarse dates.
    """
    diffs = [c.diff_s for c in cues]
    if all(d is not None for d in diffs):
        starts, t = [], 0.0
        for d in diffs:  # DiffTime is the time since the previous cue: cue 1 starts at 0
            starts.append(t)
            t += d or 0.0
        return starts, "media time of each cue = cumulative DiffTime", None
    placed = [i for i, c in enumerate(cues) if c.named or c.tuple_pos]
    stamps = [cues[i].stamp for i in placed]
    by_date: list[float] | None = None
    if all(s is not None for s in stamps):
        t0 = next(c.stamp for c in cues if c.stamp is not None)
        by_date = [(c.stamp - t0).total_seconds() if c.stamp is not None else 0.0 for c in cues]
    frames = [c.frames for c in cues if c.frames is not None]
    counted: tuple[list[int], str, bool] | None = None  # (counts, what, a frame counter)
    if len(frames) == len(cues):
        counted = [n for _, n in frames], f"frame counter ({frames[0][0]})", True
    elif all(c.index is not None for c in cues):
        counted = [c.index or 0 for c in cues], "SubRip cue number", False
    by_count = None
    if counted is not None and fps is not None:
        by_count = [(n - counted[0][0]) / fps for n in counted[0]]
    dated = "its date line − the first cue's"
    if by_date is not None and _dates_time_cues([s for s in stamps if s is not None]):
        starts, how = by_date, f"media time of each cue = {dated}"
        check = by_count if counted is not None and counted[2] else None
    elif by_count is not None and counted is not None:
        starts = by_count
        how = f"media time of each cue = ({counted[1]} − {counted[0][0]}) / {fps:g} fps"
        check = by_date
    elif by_date is not None:
        return by_date, f"media time of each cue = {dated} (to the dates' resolution)", None
    else:
        return [], "", None
    clash = None
    if check is not None and by_date is not None and by_count is not None and counted:
        a, b = placed[0], placed[-1]
        said, counts = by_date[b] - by_date[a], by_count[b] - by_count[a]
        coarse = all(s is not None and s.microsecond == 0 for s in stamps)
        if abs(counts - said) > max(SRT_TIMING_TOLERANCE * said, 1.0 if coarse else 0.001):
            used = "the dates" if starts is by_date else f"the {counted[1]}"
            clash = (f"the {counted[1]} at {fps:g} fps spans {counts:.3g} s of cues, their date "
                     f"lines {said:.3g} s; {used} used: check the video's frame rate and that "
                     "this SRT is the video's")  # fmt: skip
    return starts, how, clash


def parse_dji_srt(
    text: str, *, fps: float | None = None, name: str = "SRT", order: SrtOrder = "auto"
) -> SrtParse:
    """Cues with a position from the text of a DJI SRT file, any layout.

    The ``GPS(a, b, ..)`` order is decided once for the file (see :func:`_decide_order`),
    or ``order`` as given.
    A comma between digits inside a bracketed field (``[latitude: 41,424724]``, a
    re-export in a comma-decimal locale) is a decimal comma; a number with no single
    reading is a :class:`FieldtoolError` naming ``name`` (the file), the line and the field.
    Cues without ``-->`` timecodes are timed by the cumulative ``DiffTime``, else by their
    date lines (each cue's date − the first's) where those time every cue, else by a
    counter and ``fps`` (the video's frame rate, frames/s): FrameCnt/SrtCnt, else the
    SubRip cue number; else by dates to their resolution; with none of these ``needs_fps``
    is set and no cues are returned.
    """
    norm = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks, timecoded = _srt_blocks(norm)
    scanned = []
    for start, at, body in blocks:
        try:
            scanned.append((start, _scan_cue(body)))
        except _Unreadable as exc:
            line = norm.count("\n", 0, at + exc.at) + 1
            raise FieldtoolError(f"{name}: line {line}: field {exc}") from None
    if not timecoded:  # a text block with nothing of a cue is not counted as one
        scanned = [(start, f) for start, f in scanned if f.is_cue]
    fields = [f for _, f in scanned]
    positioned = [f for f in fields if f.named or f.tuple_pos]
    missing = len(fields) - len(positioned)
    if not positioned:
        return SrtParse((), missing, ())
    lat_first, layout, notes = _decide_order(fields, order)
    notes = [f"SRT layout: {layout}", *notes]
    if any(f.decimal_comma for f in fields):
        notes.append("SRT numbers with a decimal comma ([latitude: 41,424724]) read as decimals")
    clash = None
    if timecoded:
        starts = [s or 0.0 for s, _ in scanned]
    else:
        starts, how, clash = _untimed_starts(fields, fps)
        if not starts:
            return SrtParse((), missing, tuple(notes), needs_fps=True)
        notes.append(f"SRT cues have no timecodes: {how}")
    cues = tuple(
        _srt_cue(s, f, lat_first)
        for s, f in zip(starts, fields, strict=True)
        if f.named or f.tuple_pos
    )
    return SrtParse(cues, missing, tuple(notes), clash=clash)


def read_dji_srt(
    path: str | Path,
    *,
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    fps: float | None = None,
    order: SrtOrder = "auto",
) -> TrackRead:
    """Fixes from a DJI ``.SRT`` file; media time from each cue's start. ``order``: that
    of ``GPS(a, b, ..)`` groups (``--srt-order``), else decided from the file.

    ``fps``: the video's frame rate (frames/s), which times cues that have neither
    ``-->`` timecodes, ``DiffTime`` nor date lines that tell them apart (see
    :func:`parse_dji_srt`); where that counter and the dates disagree a warning is a note.
    """
    path = Path(path)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise FieldtoolError(f"{path}: the video's frame rate must be positive, not {fps!r}")
    text = read_input_text(path, "SRT")
    parsed = parse_dji_srt(text, fps=fps, name=str(path), order=order)
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
    if parsed.clash is not None:
        notes.append(f"warning: {path.name}: SRT cues without timecodes: {parsed.clash}")
    if stamps:
        base = stamps[0]
        offsets = sorted((s - base).total_seconds() for s in stamps)
        media_start = base + timedelta(seconds=offsets[len(offsets) // 2])
        clock = "local"
        notes.append("SRT date-time lines are the drone's local clock, which writes no zone")
    else:
        # the file is closed when recording ends: after the last cue's own span (the cues'
        # usual step), not at its start (that put t=0 one cue late)
        starts = sorted({c.start_s for c in cues})
        steps = sorted(b - a for a, b in zip(starts, starts[1:], strict=False))
        end_s = starts[-1] + (steps[len(steps) // 2] if steps else 0.0)
        mtime = utc_naive(datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
        media_start = mtime - timedelta(seconds=end_s)
        clock = "file-mtime"
        notes.append("no date-time in the SRT: media t=0 estimated from the file's mtime")
    raw = [
        Fix(media_start + timedelta(seconds=c.start_s), c.lat, c.lon, elevation_m=c.alt_m)
        for c in cues
        if c.lat is not None and c.lon is not None
    ]
    return finish_track(
        path,
        "srt",
        raw,
        {"no_position": missing},
        clock=clock,
        media_start=media_start,
        notes=tuple(notes),
        max_speed_mps=max_speed_mps,
    )


def looks_like_srt(text: str) -> bool:
    """Whether the start of a file is a DJI SRT (for format detection).

    SubRip cues (``1`` then ``00:00:01,000 --> ..``), or DJI cues without timecodes: a cue
    number then DJI fields (``<font>``, FrameCnt/SrtCnt, ``[latitude ..``, ``GPS(..)``,
    ``HOME(..)``), or a file that starts with the frame counter or the bracketed latitude.
    """
    if re.match(r"\d+\s*[\r\n]", text) and ("-->" in text or _SRT_HINT_RE.search(text)):
        return True
    return _SRT_START_RE.match(text) is not None
