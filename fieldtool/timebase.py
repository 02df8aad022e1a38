"""When was each frame taken: one rule for every input (``docs/time.md``).

A session's frames are timed as ``start + media time`` (files) or by the wall clock
(live sources). :func:`fieldtool.placement.place_session` decides ``start`` for a video
file and says where it came from (:class:`TimeBasis`), in this order:

1. ``source.start_time`` (``--start-time``): an ISO 8601 time; one with an offset is
   converted to UTC, one without is taken in ``source.tz`` when given, else as UTC.
2. The video's own track: GoPro GPMF (GPSU, UTC) or the DJI SRT beside the video (the
   drone's local clock). Positions from these are matched by media time, not by clock.
3. The MP4/MOV's own time: Apple's ``com.apple.quicktime.creationdate`` key (iPhones:
   when recording began, with the phone's UTC offset), else the ``creation_time``
   (``mvhd``): UTC by the ISO base media file format, which phones follow; GoPro cameras,
   DJI drones and other cameras (a trail camera's clip, told by the maker it names or by
   its camera's photos beside it on the card: ``mp4-camera-clock``) write their local
   clock there instead.
4. The start of a separate track (GPX, NMEA): the camera and the logger started together.
5. Nothing: the processing time, with a warning (the event time is then wrong).

Local clocks (SRT, EXIF without OffsetTime, a camera's creation_time, a GPX without zones) get
their zone from ``source.tz`` (``--tz``), else from the track's own position (the offline
``tzfpy`` time zone map), else stay local with ``zone_known = False``: stored as they are,
never labelled UTC (exports write them without ``Z`` and say so). A reading in the hour
repeated when summer time ends, or in the one skipped when it begins, is said
(:meth:`TimeBasis.describe`).

All datetimes returned here are naive: UTC when ``zone_known``, else the local clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fieldtool.types import FieldtoolError, Fix

# Where a session's times come from (sessions.time_source).
TIME_SOURCES = (
    "start-time",  # --start-time / source.start_time
    "gpmf-gpsu",  # GoPro GPMF GPS time
    "gpmf-creation-time",  # GoPro without GPS time: the camera's clock
    "srt-clock",  # DJI SRT date lines (the drone's local clock)
    "srt-file-mtime",  # DJI SRT without any date: the file's modification time
    "quicktime-creationdate",  # Apple's com.apple.quicktime.creationdate key (iPhones)
    "mp4-creation-time",  # MP4/MOV mvhd creation_time
    "mp4-camera-clock",  # mvhd of a camera's clip (a trail camera's): its local clock
    "track-start",  # first fix of a separate track (GPX, NMEA, EXIF)
    "processing-time",  # nothing known: the time the session ran
    "photos",  # still photos: each its own time (media.time_source; docs/photos.md)
    "wall-clock",  # live sources: the machine's clock at each frame
)
# Photos' times (media.time_source; fieldtool.photos.clock decides them):
# A time from EXIF DateTime (no DateTimeOriginal: when the file was last changed, which an
# editor's export sets) is named apart from DateTimeOriginal's: ``exif-datetime-zone``
# beside ``exif-zone``, so media.time_source tells a reader which tag dated the photo.
EDITED = "exif-datetime-"
# Time sources that are the camera's clock (DateTimeOriginal, else DateTime): --time-offset
# corrects them
CAMERA_CLOCKS = ("exif-offset", "exif-zone", "exif-local",
                 f"{EDITED}offset", f"{EDITED}zone", f"{EDITED}local")  # fmt: skip
# ... of them, a local clock converted by a zone found for it (--tz, deployment, place)
ZONE_CLOCKS = ("exif-zone", f"{EDITED}zone")
# ... of them, a local clock whose zone is unknown: stored as it reads, not UTC
UNKNOWN_ZONE_CLOCKS = ("exif-local", f"{EDITED}local")
_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?$")


@dataclass(frozen=True, slots=True)
class TimeBasis:
    """Where media t=0 of a session's video got its time, and in what zone.

    ``start``: naive; UTC when ``zone_known``, else the local clock (None for live
    sources and when nothing is known). ``zone``: the IANA name, ``UTC`` or an offset
    the times were converted from; None when unknown. ``how``: one line for the log.
    ``local``: the local clock's reading ``start`` was converted from (naive), where it
    was one: a reading the zone skips is said (:func:`skipped_local_time`).
    """

    start: datetime | None
    source: str
    zone: str | None
    zone_known: bool
    how: str
    local: datetime | None = None

    def __post_init__(self) -> None:
        if self.source not in TIME_SOURCES:  # the stored vocabulary (sessions.time_source)
            raise ValueError(f"time source {self.source!r} is not one of {TIME_SOURCES}")

    def describe(self) -> str:
        """One log line: the time, its source and its zone."""
        when = "each frame's wall clock" if self.start is None else self.start.isoformat()
        if self.zone_known:
            zone = f"UTC (converted from {self.zone})" if self.zone not in (None, "UTC") else "UTC"
        else:
            zone = "local time, zone unknown: stored without a zone (give --tz to fix)"
        line = f"time: media t=0 = {when} from {self.source} ({self.how}); {zone}"
        twice = None
        # photos: said per zone for the photos in it (their basis is only the first photo)
        if (self.zone_known and self.start is not None and self.zone is not None
                and self.source != "photos"):  # fmt: skip
            twice = repeated_local_time(self.start, self.zone)
        if twice is not None and self.zone is not None:
            first, second = repeated_offsets(twice, self.zone)
            line += (f"; warning: the local time {twice:%Y-%m-%d %H:%M:%S} occurs twice in "
                     f"{self.zone} (the hour repeated when daylight saving time ends): taken "
                     f"as the first ({first}); if the clock meant the second ({second}), times "
                     "are an hour later (--start-time with an offset settles it)")  # fmt: skip
        if self.local is not None and self.zone and skipped_local_time(self.local, self.zone):
            before, after = repeated_offsets(self.local, self.zone)
            line += (f"; warning: the local time {self.local:%Y-%m-%d %H:%M:%S} does not occur "
                     f"in {self.zone} (the hour skipped when daylight saving time begins): taken "
                     f"as {before}, a clock not yet changed; if it had changed ({after}), times "
                     "are an hour earlier (--start-time with an offset settles it)")  # fmt: skip
        return line


def parse_zone(text: str) -> tzinfo:
    """An IANA zone name (``Europe/Madrid``), ``UTC`` or a fixed offset (``+02:00``)."""
    name = text.strip()
    m = _OFFSET_RE.match(name)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise FieldtoolError(f"time zone {text!r}: offset out of range (-14:00..+14:00)")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    if name.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldtoolError(
            f"time zone {text!r}: unknown (give an IANA name like Europe/Madrid or an offset "
            "like +02:00)"
        ) from None


def to_utc(local: datetime, zone: str) -> datetime:
    """A naive local time in ``zone`` as naive UTC (daylight saving time applied)."""
    aware = local.replace(tzinfo=parse_zone(zone))
    return aware.astimezone(timezone.utc).replace(tzinfo=None)


def utc_offset(zone: str, local: datetime) -> timedelta:
    """The UTC offset of ``zone`` at the naive local time ``local`` (daylight saving time
    applied): two zones that give the same offset give a clock the same UTC time."""
    return parse_zone(zone).utcoffset(local) or timedelta(0)


def repeated_local_time(utc: datetime, zone: str) -> datetime | None:
    """The wall time of naive-UTC ``utc`` in ``zone`` where that wall time occurs twice
    there (the hour repeated when daylight saving time ends), else None. A local clock read
    then is ambiguous: :func:`to_utc` takes the first of the two."""
    tz = parse_zone(zone)
    local = utc.replace(tzinfo=timezone.utc).astimezone(tz)
    if local.replace(fold=1 - local.fold).utcoffset() == local.utcoffset():
        return None
    return local.replace(tzinfo=None, fold=0)


def skipped_local_time(local: datetime, zone: str) -> bool:
    """Whether the naive wall time ``local`` does not occur in ``zone`` (the hour skipped
    when daylight saving time begins: 02:30 on 2026-03-29 in Europe/Amsterdam). A local
    clock that reads it was not changed, or is wrong: :func:`to_utc` takes the offset
    before the change."""
    tz = parse_zone(zone)
    back = local.replace(tzinfo=tz).astimezone(timezone.utc).astimezone(tz)
    return back.replace(tzinfo=None) != local.replace(tzinfo=None)


def repeated_offsets(local: datetime, zone: str) -> tuple[str, str]:
    """The UTC offsets (``±HH:MM``) of the first and second occurrence of a repeated wall
    time ``local`` in ``zone`` (:func:`repeated_local_time`); for a skipped one
    (:func:`skipped_local_time`), the offsets before and after the change."""
    tz = parse_zone(zone)
    first, second = (local.replace(tzinfo=tz, fold=f).utcoffset() for f in (0, 1))
    return offset_name(first or timedelta(0)), offset_name(second or timedelta(0))


def offset_name(delta: timedelta) -> str:
    """A UTC offset as ``±HH:MM`` (``+00:00`` for none)."""
    return timezone(delta).tzname(None).removeprefix("UTC") or "+00:00"


def utc_now() -> datetime:
    """The current time, naive UTC (the store's convention)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def utc_naive(when: datetime, zone: str | None = None) -> datetime:
    """Aware → UTC; naive → taken in ``zone`` when given, else already UTC."""
    if when.tzinfo is not None:
        return when.astimezone(timezone.utc).replace(tzinfo=None)
    return to_utc(when, zone) if zone else when


def zone_at(lat: float, lon: float) -> str | None:
    """The IANA time zone at a place, from the offline ``tzfpy`` map; None without it.

    Open sea gives ``Etc/GMT±N`` zones (nautical time), which are still right for a clock.
    """
    try:
        import tzfpy  # optional at import time: the GPU machine may lack it
    except ImportError:
        return None
    name = tzfpy.get_tz(float(lon), float(lat))
    return name or None


@dataclass(frozen=True, slots=True)
class ZoneChoice:
    """The zone of a local clock and how it was found."""

    zone: str | None
    how: str  # "--tz", "track position (tzfpy)", "unknown"


def local_zone(tz: str | None, fixes: tuple[Fix, ...] | list[Fix] = ()) -> ZoneChoice:
    """The zone for a local camera clock: ``tz`` (``--tz``), else where the track starts."""
    if tz:
        parse_zone(tz)
        return ZoneChoice(tz, "--tz")
    if fixes:
        found = zone_at(fixes[0].lat, fixes[0].lon)
        if found:
            return ZoneChoice(found, "from the track's position (tzfpy)")
    return ZoneChoice(None, "unknown")


def shift_fixes(fixes: tuple[Fix, ...], delta: timedelta) -> tuple[Fix, ...]:
    """The same fixes ``delta`` later (a local clock moved to UTC)."""
    return tuple(replace(f, time=f.time + delta) for f in fixes)
