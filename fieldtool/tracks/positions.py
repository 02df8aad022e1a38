"""Where was the camera at a time: a fixed point, a track file, or a live receiver.

One lookup rule for every track, read from a file (:class:`TrackPositions`) or fed live
by gpsd (:class:`fieldtool.tracks.gpsd.GpsdPositions`): :func:`interpolate`. A track
embedded in the video itself (GoPro MP4, DJI SRT) knows the time of its media t=0;
:attr:`TrackPositions.start` then gives that time, and the pipeline anchors the video
there, so ``fieldtool run clip.mp4 --track clip.mp4`` places each frame where the
camera's GPS says.

Times are UTC naive ``datetime`` values (the project's convention). A track is looked up
by linear interpolation in time between the two fixes around the wanted time, longitude
the short way round (a track may cross ±180°).

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fieldtool.geo import wrap_lon
from fieldtool.timebase import utc_naive
from fieldtool.types import FieldtoolError, Fix, Position

Floats = NDArray[np.float64]


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
    source: str = "fixed"  # each position's source ("video-place": the video's own point)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise FieldtoolError(f"position: latitude {self.lat} is outside -90..90")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise FieldtoolError(f"position: longitude {self.lon} is outside -180..180")

    def position_at(self, when: datetime) -> Position | None:
        return Position(self.lat, self.lon, self.accuracy_m, self.source)


def interpolate(
    times: ArrayLike,
    lats: ArrayLike,
    lons: ArrayLike,
    accs: ArrayLike,
    t: ArrayLike,
    max_gap_s: float,
) -> tuple[Floats, Floats, Floats]:
    """Positions at times ``t`` along a track, by the gap rule (see the module doc).

    ``times``: (M,) seconds of the fixes, sorted ascending (any origin); ``lats``,
    ``lons``: (M,) degrees; ``accs``: (M,) metres, NaN where a fix has no accuracy.
    ``t``: (N,) seconds on the same origin. Returns ``(lat, lon, accuracy_m)``, each (N,)
    float64, NaN where there is no position (accuracy also NaN where the fixes carry
    none). Longitude is interpolated the short way round, so a track crossing ±180°
    stays near ±180° instead of swinging through 0°.
    """
    times_a = np.asarray(times, dtype=np.float64).reshape(-1)
    lat_a = np.asarray(lats, dtype=np.float64).reshape(-1)
    lon_a = np.asarray(lons, dtype=np.float64).reshape(-1)
    acc_a = np.asarray(accs, dtype=np.float64).reshape(-1)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    n, gap = len(times_a), float(max_gap_s)
    nan = np.full_like(t, np.nan)
    if n == 0:
        return nan, nan.copy(), nan.copy()
    # right: first fix strictly after t; left: last fix at or before t.
    right = np.searchsorted(times_a, t, side="right")
    left = right - 1
    li = np.clip(left, 0, n - 1)
    ri = np.clip(right, 0, n - 1)
    has_left = left >= 0
    has_right = right < n
    d_left = np.where(has_left, t - times_a[li], np.inf)
    d_right = np.where(has_right, times_a[ri] - t, np.inf)

    both = has_left & has_right
    span = times_a[ri] - times_a[li]
    interp = both & (span <= 2.0 * gap)
    # outside interpolation: hold the nearer fix when it is within max_gap_s
    take_left = ~interp & (d_left <= d_right) & (d_left <= gap)
    take_right = ~interp & (d_right < d_left) & (d_right <= gap)

    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(interp & (span > 0), d_left / np.where(span > 0, span, 1.0), 0.0)
    lat = lat_a[li] + frac * (lat_a[ri] - lat_a[li])
    # longitude the short way round (a track may cross ±180°)
    dlon = wrap_lon(lon_a[ri] - lon_a[li])
    lon = lon_a[li] + frac * dlon
    lon = np.where(lon > 180.0, lon - 360.0, np.where(lon < -180.0, lon + 360.0, lon))
    acc_l, acc_r = acc_a[li], acc_a[ri]
    acc = np.where(
        np.isnan(acc_l) | np.isnan(acc_r), np.fmax(acc_l, acc_r), acc_l + frac * (acc_r - acc_l)
    )

    lat = np.where(take_left, lat_a[li], np.where(take_right, lat_a[ri], lat))
    lon = np.where(take_left, lon_a[li], np.where(take_right, lon_a[ri], lon))
    acc = np.where(take_left, acc_a[li], np.where(take_right, acc_a[ri], acc))
    ok = interp | take_left | take_right
    return np.where(ok, lat, nan), np.where(ok, lon, nan), np.where(ok, acc, nan)


class TrackPositions:
    """Positions interpolated from a time-stamped track (see the module doc for the gap rule).

    ``time_offset_s`` is added to each asked time before the lookup (camera clock vs GPS
    clock); a video's, a live source's and a photo set's offset moves their stored clock
    instead (:func:`fieldtool.placement.place_session`, ``VideoSource.clock_offset_s``,
    :class:`fieldtool.photos.PhotoSource`), and their track adds none. Fixes need not be sorted; fixes sharing a time are kept in the
    given order.
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
        ele = [f.elevation_m for f in ordered]
        self._ele = np.array([np.nan if e is None else e for e in ele], dtype=np.float64)
        self._has_ele = bool(np.isfinite(self._ele).any())
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

    def seconds(self, times: Iterable[datetime]) -> Floats:
        """(N,) float64 lookup times: seconds since the first fix, offset applied."""
        return np.array(
            [(utc_naive(w) - self._t0).total_seconds() + self.time_offset_s for w in times],
            dtype=np.float64,
        )

    def interpolate(self, t: ArrayLike) -> tuple[Floats, Floats, Floats]:
        """Vectorised lookup (:func:`interpolate` on this track).

        ``t``: (N,) seconds since the first fix (see :meth:`seconds`). Returns ``(lat, lon,
        accuracy_m)``, each (N,) float64, NaN where there is no position (accuracy also NaN
        where the fixes carry none).
        """
        return interpolate(self._t, self._lat, self._lon, self._acc, t, self.max_gap_s)

    def elevation(self, t: ArrayLike) -> Floats:
        """(N,) float64 elevations (m, as the fixes give them: :mod:`fieldtool.store.track`
        says what each format's are measured from) at ``t`` (seconds since the first fix),
        NaN where there is no position or no fix near it has one. Interpolated as accuracy
        is (:func:`interpolate`'s third value): linearly by the gap rule, a fix that has one
        lending it where its neighbour lacks it."""
        if not self._has_ele:
            return np.full(np.asarray(t, dtype=np.float64).reshape(-1).shape, np.nan)
        return interpolate(self._t, self._lat, self._lon, self._ele, t, self.max_gap_s)[2]

    def latlon_at(self, times: Iterable[datetime]) -> Floats:
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
        t = self.seconds([when])
        lat, lon, acc = self.interpolate(t)
        if np.isnan(lat[0]):
            return None
        accuracy = None if np.isnan(acc[0]) else float(acc[0])
        ele = self.elevation(t)[0]
        return Position(float(lat[0]), float(lon[0]), accuracy, self.source,
                        None if np.isnan(ele) else float(ele))  # fmt: skip
