"""Pipeline stage "where was this frame taken": a fixed point or a track file.

Track files of every supported format (GPX, NMEA, GoPro GPMF, DJI SRT, EXIF) are read by
:func:`fieldtool.telemetry.read_track`. A track embedded in the video itself (GoPro MP4,
DJI SRT) knows the time of its media t=0; :attr:`TrackPositions.start` then gives that
time, and the pipeline anchors the video there, so ``fieldtool run clip.mp4 --track
clip.mp4`` places each frame where the camera's GPS says.

Times are UTC naive ``datetime`` values (the project's convention). A track is looked up
by linear interpolation in time between the two fixes around the wanted time.

The gap rule (``max_gap_s``, config ``position.max_fix_gap_s``): a time gets a position
only when it lies within ``max_gap_s`` of a fix.

* Between two neighbouring fixes at most ``2 * max_gap_s`` apart, every time is within
  ``max_gap_s`` of one of them: the position is interpolated linearly in time.
* Across a longer hole in the track no straight line is drawn (the walker may have gone
  anywhere): within ``max_gap_s`` of either side the nearer fix is held, and the middle
  of the hole gives ``None``.
* Before the first fix or after the last, the end fix is held for ``max_gap_s``; farther
  out the answer is ``None``. Positions are never extrapolated.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable
from xml.parsers import expat

import numpy as np

from fieldtool.config import PositionConfig
from fieldtool.inputs import read_input_bytes
from fieldtool.timebase import utc_naive
from fieldtool.types import FieldtoolError, Fix, Position


@runtime_checkable
class PositionProvider(Protocol):
    """Anything that can say where the camera was at a UTC time."""

    def position_at(self, when: datetime) -> Position | None:
        """Position at ``when`` (UTC, naive), or None when unknown."""
        ...


@dataclass(frozen=True, slots=True)
class FixedPosition:
    """The same position for every frame (a tripod, a plot, a fixed camera)."""

    lat: float  # degrees, WGS84
    lon: float  # degrees, WGS84
    accuracy_m: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise FieldtoolError(f"position: latitude {self.lat} is outside -90..90")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise FieldtoolError(f"position: longitude {self.lon} is outside -180..180")

    def position_at(self, when: datetime) -> Position | None:
        return Position(self.lat, self.lon, self.accuracy_m, "fixed")


class TrackPositions:
    """Positions interpolated from a time-stamped track (see the module doc for the gap rule).

    ``time_offset_s`` is added to each asked time before the lookup (camera clock vs GPS
    clock). Fixes need not be sorted; fixes sharing a time are kept in the given order.
    ``media_start``: the time of the video's media t=0 on the fixes' clock, when the
    track came from the video file (GoPro GPMF, DJI SRT); it becomes :attr:`start`.
    ``notes``: lines worth logging (the reader's summary, clock assumptions).
    ``by_media_time``: the track is the video's own (its GPMF, the SRT beside it): the
    pipeline looks frames up at ``start + media time``, whatever clock the session's
    frames carry, so a wrong zone or ``--start-time`` cannot unplace them.
    """

    def __init__(
        self,
        fixes: Sequence[Fix],
        max_gap_s: float,
        time_offset_s: float = 0.0,
        source: str = "gpx",
        media_start: datetime | None = None,
        notes: Sequence[str] = (),
        by_media_time: bool = False,
    ) -> None:
        if not fixes:
            raise ValueError("TrackPositions needs at least one fix")
        if not max_gap_s > 0:
            raise ValueError(f"max_gap_s must be > 0, got {max_gap_s}")
        ordered = sorted(fixes, key=lambda f: f.time)
        self._fixes: tuple[Fix, ...] = tuple(ordered)
        self._t0 = ordered[0].time
        self._t = np.array([(f.time - self._t0).total_seconds() for f in ordered], dtype=np.float64)
        self._lat = np.array([f.lat for f in ordered], dtype=np.float64)
        self._lon = np.array([f.lon for f in ordered], dtype=np.float64)
        acc = [f.accuracy_m for f in ordered]
        self._acc = np.array([np.nan if a is None else a for a in acc], dtype=np.float64)
        self.max_gap_s = float(max_gap_s)
        self.time_offset_s = float(time_offset_s)
        self.source = source
        self.media_start = None if media_start is None else utc_naive(media_start)
        self.notes = tuple(notes)  # lines for the log: what was read, skipped, assumed
        self.by_media_time = bool(by_media_time and media_start is not None)

    @property
    def fixes(self) -> tuple[Fix, ...]:
        """The fixes, sorted by time."""
        return self._fixes

    @property
    def start(self) -> datetime:
        """Time of media t=0 for a video's own track (``media_start``), else of the first fix.

        UTC, naive, no offset applied. The pipeline anchors a video file's t=0 here when
        no ``source.start_time`` is given.
        """
        if self.media_start is not None:
            return self.media_start
        return self._fixes[0].time

    @property
    def end(self) -> datetime:
        """Time of the last fix (UTC, naive; no offset applied)."""
        return self._fixes[-1].time

    def __len__(self) -> int:
        return len(self._fixes)

    def seconds(self, times: Iterable[datetime]) -> np.ndarray:
        """(N,) float64 lookup times: seconds since the first fix, offset applied."""
        return np.array(
            [(utc_naive(w) - self._t0).total_seconds() + self.time_offset_s for w in times],
            dtype=np.float64,
        )

    def interpolate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectorised lookup.

        ``t``: (N,) seconds since the first fix (see :meth:`seconds`). Returns ``(lat, lon,
        accuracy_m)``, each (N,) float64, NaN where there is no position (accuracy also NaN
        where the fixes carry none).
        """
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        times, n, gap = self._t, len(self._t), self.max_gap_s
        # right: first fix strictly after t; left: last fix at or before t.
        right = np.searchsorted(times, t, side="right")
        left = right - 1
        li = np.clip(left, 0, n - 1)
        ri = np.clip(right, 0, n - 1)
        has_left = left >= 0
        has_right = right < n
        d_left = np.where(has_left, t - times[li], np.inf)
        d_right = np.where(has_right, times[ri] - t, np.inf)

        both = has_left & has_right
        span = times[ri] - times[li]
        interp = both & (span <= 2.0 * gap)
        # outside interpolation: hold the nearer fix when it is within max_gap_s
        take_left = ~interp & (d_left <= d_right) & (d_left <= gap)
        take_right = ~interp & (d_right < d_left) & (d_right <= gap)

        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(interp & (span > 0), d_left / np.where(span > 0, span, 1.0), 0.0)
        lat = self._lat[li] + frac * (self._lat[ri] - self._lat[li])
        # longitude the short way round (a track may cross ±180°)
        dlon = (self._lon[ri] - self._lon[li] + 180.0) % 360.0 - 180.0
        lon = self._lon[li] + frac * dlon
        lon = np.where(lon > 180.0, lon - 360.0, np.where(lon < -180.0, lon + 360.0, lon))
        acc_l, acc_r = self._acc[li], self._acc[ri]
        acc = np.where(
            np.isnan(acc_l) | np.isnan(acc_r), np.fmax(acc_l, acc_r), acc_l + frac * (acc_r - acc_l)
        )

        lat = np.where(take_left, self._lat[li], np.where(take_right, self._lat[ri], lat))
        lon = np.where(take_left, self._lon[li], np.where(take_right, self._lon[ri], lon))
        acc = np.where(take_left, self._acc[li], np.where(take_right, self._acc[ri], acc))
        ok = interp | take_left | take_right
        nan = np.full_like(t, np.nan)
        return np.where(ok, lat, nan), np.where(ok, lon, nan), np.where(ok, acc, nan)

    def latlon_at(self, times: Iterable[datetime]) -> np.ndarray:
        """(N, 2) float64 ``[lat, lon]`` for UTC times, NaN rows where there is no position."""
        lat, lon, _ = self.interpolate(self.seconds(times))
        return np.column_stack([lat, lon])

    def lookup_time(self, t: float, wall_time: datetime) -> datetime:
        """The time to look a frame up at: ``start + t`` for the video's own track
        (``by_media_time``), else the frame's wall time. ``t``: media seconds."""
        if self.by_media_time:
            return self.start + timedelta(seconds=t)
        return wall_time

    def share_positioned(self, times: Iterable[datetime]) -> float:
        """Fraction (0..1) of ``times`` (UTC or the track's clock) that get a position."""
        lat, _, _ = self.interpolate(self.seconds(times))
        return float(np.mean(~np.isnan(lat))) if len(lat) else 0.0

    def position_at(self, when: datetime) -> Position | None:
        lat, lon, acc = self.interpolate(self.seconds([when]))
        if np.isnan(lat[0]):
            return None
        accuracy = None if np.isnan(acc[0]) else float(acc[0])
        return Position(float(lat[0]), float(lon[0]), accuracy, self.source)


# ---------------------------------------------------------------------------- GPX reading

_TIME_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def parse_gpx_time(text: str) -> datetime:
    """ISO 8601 / xsd:dateTime as in GPX → UTC naive datetime.

    Accepts ``Z``, ``±HH:MM`` / ``±HHMM`` / ``±HH`` offsets and any number of fractional
    digits (kept to microseconds, truncated). A time without a zone is taken as UTC, which
    is what the GPX schema prescribes. Raises ValueError on anything else.
    """
    m = _TIME_RE.match(text)
    if m is None:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7), m.group(8)
    micro = int((frac or "0")[:6].ljust(6, "0"))
    dt = datetime(year, month, day, hour, minute, second, micro)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        dt -= sign * offset
    return dt


@dataclass(frozen=True, slots=True)
class GpxTrack:
    """What :func:`read_gpx` found in one file."""

    path: Path
    fixes: tuple[Fix, ...]  # sorted by time, UTC
    points: int  # trkpt + rtept elements seen
    no_time: int  # skipped: no <time>
    bad_time: int  # skipped: <time> that does not parse
    bad_coords: int  # skipped: lat/lon missing, not a number or out of range

    @property
    def skipped(self) -> int:
        return self.no_time + self.bad_time + self.bad_coords

    def summary(self) -> str:
        """One line for the log."""
        line = (
            f"{self.path}: {len(self.fixes)} fixes, "
            f"{self.fixes[0].time.isoformat()}Z .. {self.fixes[-1].time.isoformat()}Z"
        )
        skips = [
            f"{n} {what}"
            for n, what in (
                (self.no_time, "without time"),
                (self.bad_time, "with a bad time"),
                (self.bad_coords, "with bad coordinates"),
            )
            if n
        ]
        if skips:
            line += f" ({', '.join(skips)} skipped)"
        return line


def _local(tag: str) -> str:
    """Element name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(elem: ET.Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _refuse_dtd(*_args: object) -> None:
    raise ValueError("a DOCTYPE/entity declaration (refused: GPX needs none)")


def _parse_xml(data: bytes, path: Path) -> ET.Element:
    """Parse with the stdlib, refusing any DTD first (no entity-expansion attacks)."""
    scan = expat.ParserCreate()
    scan.StartDoctypeDeclHandler = _refuse_dtd
    scan.EntityDeclHandler = _refuse_dtd
    try:
        scan.Parse(data, True)
    except expat.ExpatError as exc:
        raise FieldtoolError(f"{path}: not an XML file ({exc})") from None
    except ValueError as exc:
        raise FieldtoolError(f"{path}: not accepted: {exc}") from None
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:  # pragma: no cover - expat accepted it above
        raise FieldtoolError(f"{path}: not an XML file ({exc})") from None


def read_gpx(path: str | Path) -> GpxTrack:
    """Read the track points (``trkpt``) and route points (``rtept``) of a GPX 1.0/1.1 file.

    Points without a usable time or position are skipped and counted. Raises
    :class:`FieldtoolError` (one line naming the file) for a missing or unreadable file,
    non-XML, a non-GPX root, or when no point has a time.
    """
    path = Path(path)
    root = _parse_xml(read_input_bytes(path, "GPX"), path)
    if _local(root.tag) != "gpx":
        raise FieldtoolError(f"{path}: not a GPX file (root element <{_local(root.tag)}>)")

    fixes: list[Fix] = []
    points = no_time = bad_time = bad_coords = 0
    for elem in root.iter():
        if _local(elem.tag) not in ("trkpt", "rtept"):
            continue
        points += 1
        try:
            lat = float(elem.attrib["lat"])
            lon = float(elem.attrib["lon"])
        except (KeyError, ValueError):
            bad_coords += 1
            continue
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
            bad_coords += 1
            continue
        text = _child_text(elem, "time")
        if not text:
            no_time += 1
            continue
        try:
            when = parse_gpx_time(text)
        except ValueError:
            bad_time += 1
            continue
        ele_text = _child_text(elem, "ele")
        try:
            ele = float(ele_text) if ele_text else None
        except ValueError:
            ele = None
        if ele is not None and not math.isfinite(ele):
            ele = None
        fixes.append(Fix(time=when, lat=lat, lon=lon, elevation_m=ele))

    if not fixes:
        if points == 0:
            raise FieldtoolError(f"{path}: no track points (trkpt/rtept) in the file")
        raise FieldtoolError(
            f"{path}: no track points with a time ({points} points: {no_time} without time, "
            f"{bad_time} with a bad time, {bad_coords} with bad coordinates)"
        )
    fixes.sort(key=lambda f: f.time)
    return GpxTrack(path, tuple(fixes), points, no_time, bad_time, bad_coords)


def positions_from_config(cfg: PositionConfig) -> PositionProvider | None:
    """The provider a config asks for: fixed lat/lon, a track file, or None (no position).

    ``cfg.track`` is read with ``cfg.track_format`` ("auto": from extension and content;
    see :mod:`fieldtool.telemetry`); implausible fixes are dropped there.
    """
    given = [
        name
        for name, v in (("lat/lon", cfg.lat), ("track", cfg.track), ("gpsd", cfg.gpsd))
        if v is not None
    ]
    if len(given) > 1:
        raise FieldtoolError(
            f"position: give one of lat/lon, a track or gpsd, not {' and '.join(given)}"
        )
    if cfg.gpsd is not None:
        from fieldtool.gpsd import GpsdPositions

        return GpsdPositions(cfg.gpsd, max_gap_s=cfg.max_fix_gap_s)
    if cfg.track is not None:
        from fieldtool.telemetry import read_track  # telemetry imports read_gpx from here

        track = read_track(cfg.track, cfg.track_format)
        return TrackPositions(
            track.fixes,
            cfg.max_fix_gap_s,
            cfg.time_offset_s,
            source=track.format,
            media_start=track.media_start,
            notes=(track.summary(), *track.notes),
        )
    if cfg.lat is not None and cfg.lon is not None:
        return FixedPosition(cfg.lat, cfg.lon)
    return None
