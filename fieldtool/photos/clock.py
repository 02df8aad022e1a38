"""A photo's time by the rule of ``docs/photos.md`` (:meth:`PhotoClock.time`) and the log's
warnings on the clocks that dated a set (:meth:`PhotoClock.warnings`).

The rule, first that exists: a timestamp given with the photo (``given``); EXIF GPSDateStamp +
GPSTimeStamp (``exif-gps``, UTC: the satellites' clock); EXIF DateTimeOriginal with
OffsetTimeOriginal (``exif-offset``); DateTimeOriginal alone, a local clock, converted from
``--tz``, else the deployment's zone, else the zone at the photo's place, the session's
place, or where the session's track starts (``exif-zone``), else kept local (``exif-local``,
zone unknown); without DateTimeOriginal, EXIF DateTime by the same rule, named apart
(``exif-datetime-offset``, ``exif-datetime-zone``, ``exif-datetime-local``: when the file
was last changed, which an editor's export sets); no EXIF time: the file's modification
time (``file-mtime``).

``--time-offset`` (``position.time_offset_s``) corrects a camera clock that is off: it is
added to the times the camera's clock gave (:data:`CAMERA_CLOCKS`), so the corrected time is
what is stored, what the photo's deployment is matched by and what the track is looked up at
(once: the session's track adds nothing again, :func:`fieldtool.photos.session.photo_positions`).
Times of other clocks (GPS, given, the file's) are kept, and a line says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fieldtool.timebase import (
    CAMERA_CLOCKS,
    EDITED,
    UNKNOWN_ZONE_CLOCKS,
    ZONE_CLOCKS,
    ZoneChoice,
    repeated_local_time,
    repeated_offsets,
    skipped_local_time,
    to_utc,
    utc_naive,
    utc_offset,
    zone_at,
)
from fieldtool.tracks.exif import PhotoExif
from fieldtool.types import Deployment, Position

CLOCK_RESET_S = 86400.0  # s; a camera clock this far behind its previous photo was reset
# What dates the photos --time-offset leaves as they are, for its line
_OTHER_CLOCKS = {
    "exif-gps": "their EXIF GPS time stamp (the satellites' clock)",
    "given": "the timestamp given with them",
    "file-mtime": "their file's modification time",
}


@dataclass(frozen=True, slots=True)
class PhotoTime:
    """A photo's time and how it was found."""

    time: datetime  # naive: UTC when ``zone`` is known, else the camera's clock
    source: str  # Photo.time_source
    zone: str | None
    how: str = ""  # where a local clock's zone came from
    camera_utc: datetime | None = None  # exif-gps: the camera's clock in UTC, when known
    offset_s: float = 0.0  # s of --time-offset added to the clock's reading (``time``)


@dataclass(frozen=True, slots=True)
class Dated:
    """A photo as the clock's warnings see it: its file name, its camera (deployment id,
    else folder), EXIF, time, deployment, own place (EXIF GPS) and path (whose order within
    a camera is the camera's file counter: ``DCIM/100RECNX/IMG_9999`` then ``101RECNX/IMG_0001``)."""

    name: str
    camera: str
    exif: PhotoExif
    when: PhotoTime
    deployment: Deployment | None
    own: Position | None
    path: str = ""


def zone_name(offset: timedelta) -> str:
    """An EXIF offset as the zone it names (``-07:00``; ``UTC`` for +00:00)."""
    minutes = round(offset.total_seconds() / 60)
    if minutes == 0:
        return "UTC"
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def first_names(items: list[str], most: int = 5) -> str:
    """The first ``most`` of ``items``, comma-separated, with how many more there are."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


class PhotoClock:
    """The time rule of one photo set (module doc). ``tz``: ``--tz``; ``place``: (lat, lon)
    of the session's fallback position; ``track_zone``: the zone where the session's track
    starts; ``time_offset_s``: ``--time-offset``, s added to the camera clock's times."""

    def __init__(
        self, tz: str | None, place: tuple[float, float] | None, track_zone: ZoneChoice,
        time_offset_s: float = 0.0,
    ) -> None:  # fmt: skip
        self.tz = tz
        self.place = place
        self.track_zone = track_zone
        self.time_offset_s = float(time_offset_s)

    def time(
        self, exif: PhotoExif, mtime: datetime, given: datetime | None, own: Position | None,
        deployment: Deployment | None,
    ) -> PhotoTime:  # fmt: skip
        """The photo's time by the module doc's rule. ``mtime``: the file's modification
        time (naive UTC); ``given``: a timestamp given with it; ``own``: its EXIF GPS."""
        if given is not None:
            return PhotoTime(utc_naive(given), "given", "UTC")
        camera = self._camera_time(exif, mtime, own, deployment)
        if (gps := exif.gps_time) is not None:  # the receiver's clock: UTC, and set
            in_utc = camera.source in CAMERA_CLOCKS and camera.source not in UNKNOWN_ZONE_CLOCKS
            return PhotoTime(gps, "exif-gps", "UTC", camera_utc=camera.time if in_utc else None)
        if camera.source in CAMERA_CLOCKS and self.time_offset_s:  # a clock that is off
            shift = self.time_offset_s
            return replace(camera, time=camera.time + timedelta(seconds=shift), offset_s=shift)
        return camera

    def _camera_time(
        self, exif: PhotoExif, mtime: datetime, own: Position | None,
        deployment: Deployment | None,
    ) -> PhotoTime:  # fmt: skip
        """The camera clock's time (DateTimeOriginal, else DateTime: :data:`EDITED`) as it
        reads, else the file's."""
        if exif.taken is None:
            return PhotoTime(mtime, "file-mtime", "UTC")
        tag = EDITED if exif.taken_changed else "exif-"
        if (utc := exif.taken_utc) is not None and exif.offset is not None:
            return PhotoTime(utc, f"{tag}offset", zone_name(exif.offset))
        zone, how = self.clock_zone(own, deployment, self.tz)
        if zone is None:
            return PhotoTime(exif.taken, f"{tag}local", None)
        return PhotoTime(to_utc(exif.taken, zone), f"{tag}zone", zone, how)

    def clock_zone(
        self, own: Position | None, deployment: Deployment | None, tz: str | None
    ) -> tuple[str | None, str]:
        """(zone, how) of a local camera clock: ``tz`` (``--tz``), else the deployment's
        zone, else the zone at the photo's place, the session's place, the track's start."""
        zone, how = tz, "--tz"
        if zone is None and deployment is not None:
            zone, how = deployment.time_zone, "deployment"
        where = own or (Position(deployment.lat, deployment.lon) if deployment else None)
        if zone is None and where is not None:
            zone, how = zone_at(where.lat, where.lon), "place"
        if zone is None and self.place is not None:
            zone, how = zone_at(*self.place), "place"
        if zone is None:
            zone, how = self.track_zone.zone, "track"
        return zone, how

    def added(self, offsets: list[float]) -> str:
        """What the session's time line adds for ``--time-offset``, given the s added to
        each photo's time: ``; --time-offset -300 s added`` (to how many, where not all);
        "" where none took it."""
        shifted = sum(s != 0 for s in offsets)
        if not shifted:
            return ""
        which = "" if shifted == len(offsets) else f" to {shifted} of {len(offsets)} (camera clock)"
        return f"; --time-offset {self.time_offset_s:+g} s added{which}"

    # the log's warnings

    def warnings(self, dated: list[Dated]) -> list[str]:
        """Lines on the set's clocks: ``--tz`` against the photos' place or the set's EXIF
        offsets; a daylight saving change within a camera's photos; local times repeated or
        skipped; ``--time-offset`` left out of photos not dated by the camera's clock; a
        camera clock that went back (reset)."""
        return [*(self._tz(dated) if self.tz is not None else ()), *self._dst(dated),
                *self._repeated(dated), *self._not_added(dated), *self._reset(dated)]  # fmt: skip

    def _reset(self, dated: list[Dated]) -> list[str]:
        """A warning per camera naming the photos whose camera clock reads more than
        :data:`CLOCK_RESET_S` before a photo it took earlier, in its file counter's order
        (path order): a clock set back, mostly to its default after a battery change.
        Other clocks (GPS, the file's) are left out: they are not the camera's counter's."""
        by_camera: dict[str, list[Dated]] = {}
        for d in dated:
            if d.when.source in CAMERA_CLOCKS:
                by_camera.setdefault(d.camera, []).append(d)
        lines = []
        for camera, found in by_camera.items():
            back: list[tuple[str, float]] = []  # (photo, days behind the latest before it)
            latest: datetime | None = None
            for d in sorted(found, key=lambda d: d.path or d.name):
                behind = (latest - d.when.time).total_seconds() if latest else 0.0
                if behind > CLOCK_RESET_S:
                    back.append((d.name, behind / 86400))
                latest = d.when.time if latest is None else max(latest, d.when.time)
            if back:
                least, most = (f"{f(days for _, days in back):,.0f}" for f in (min, max))
                span = least if least == most else f"{least} to {most}"
                lines.append(f"warning: time: {len(back)} photo(s) of {camera} go back {span} "
                             "days against the photo before them (a camera clock reset? e.g. "
                             "after a battery change): "
                             f"{first_names([n for n, _ in back])}; their times are kept as read")  # fmt: skip
        return lines

    def _not_added(self, dated: list[Dated]) -> list[str]:
        """One line naming the photos ``--time-offset`` did not move (another clock dated
        them), by what dated them; none without an offset."""
        kept = [d for d in dated if self.time_offset_s and d.when.source in _OTHER_CLOCKS]
        if not kept:
            return []
        kinds = Counter(d.when.source for d in kept)
        by = ", ".join(f"{n} by {_OTHER_CLOCKS[kind]}" for kind, n in kinds.most_common())
        return [f"time: --time-offset {self.time_offset_s:+g} s (a camera clock's correction) "
                f"not added to {len(kept)} photo(s) not dated by the camera's clock: {by}; "
                f"their times kept: {first_names([d.name for d in kept])}"]  # fmt: skip

    def _dst(self, dated: list[Dated]) -> list[str]:
        """A warning per camera (deployment, else folder) whose local clock was converted by
        a zone that changes its UTC offset within its photos (daylight saving time): trail
        cameras mostly keep one offset, so one side of the change may be an hour off."""
        groups: dict[tuple[str, str], list[datetime]] = {}  # (camera, zone): local times
        for d in dated:
            w = d.when
            if w.source in ZONE_CLOCKS and w.zone is not None and d.exif.taken is not None:
                groups.setdefault((d.camera, w.zone), []).append(d.exif.taken)
        lines = []
        for (where, zone), found in groups.items():
            # the zone's offsets over the camera's photos, in time order (one zone each:
            # several zones in a folder are places, not a change of clock)
            offsets = list(dict.fromkeys(zone_name(utc_offset(zone, t)) for t in sorted(found)))
            if len(offsets) > 1:
                lines.append(f"warning: time: {len(found)} photo(s) of {where} span a daylight "
                             f"saving change in {zone}: converted with {' and '.join(offsets)}; "
                             "trail cameras often keep one offset all year: if this one did, "
                             f"give --tz {offsets[0]} (its offset when it was set)")  # fmt: skip
        return lines

    def _repeated(self, dated: list[Dated]) -> list[str]:
        """A warning per zone naming the photos whose local clock reads a time that occurs
        twice there (the hour repeated when summer time ends): taken as the first; and one
        naming those at a time it skips (when summer time begins): the offset before."""
        by_zone: dict[str, list[tuple[str, datetime]]] = {}
        skipped: dict[str, list[tuple[str, datetime]]] = {}
        for d in dated:
            w = d.when
            if w.source in ZONE_CLOCKS and w.zone is not None:
                # the clock's reading in UTC: before --time-offset, which does not change it
                twice = repeated_local_time(w.time - timedelta(seconds=w.offset_s), w.zone)
                if twice is not None:
                    by_zone.setdefault(w.zone, []).append((d.name, twice))
                elif d.exif.taken is not None and skipped_local_time(d.exif.taken, w.zone):
                    skipped.setdefault(w.zone, []).append((d.name, d.exif.taken))
        lines = []
        for zone, found in by_zone.items():
            first, second = repeated_offsets(found[0][1], zone)
            lines.append(f"warning: time: {len(found)} photo(s) at a local time that occurs "
                         f"twice in {zone} (the hour repeated when daylight saving time ends), "
                         f"taken as the first ({first}); if the camera meant the second "
                         f"({second}), an hour later: {first_names([n for n, _ in found])}")  # fmt: skip
        for zone, found in skipped.items():
            before, after = repeated_offsets(found[0][1], zone)
            lines.append(f"warning: time: {len(found)} photo(s) at a local time that does not "
                         f"occur in {zone} (the hour skipped when daylight saving time begins), "
                         f"taken as {before}, a clock not yet changed; if the camera had changed "
                         f"({after}), an hour earlier: {first_names([n for n, _ in found])}")  # fmt: skip
        return lines

    def _tz(self, dated: list[Dated]) -> list[str]:
        """Warnings where ``--tz``, which comes first for a local clock (``docs/time.md``),
        gives the photos it converted another UTC offset than the zone of their place or
        than the EXIF offsets written in photos of the same set: a silent shift otherwise."""
        tz = str(self.tz)
        by_tz = [(d, taken) for d in dated
                 if d.when.how == "--tz" and (taken := d.exif.taken) is not None]  # fmt: skip
        if not by_tz:
            return []
        lines = []
        apart: dict[str, list[tuple[str, float]]] = {}  # the place's zone: (photo, hours off)
        for d, taken in by_tz:
            zone, _ = self.clock_zone(d.own, d.deployment, None)
            if zone is not None:
                off = utc_offset(zone, taken) - utc_offset(tz, taken)
                if off:
                    apart.setdefault(zone, []).append((d.name, off.total_seconds() / 3600))
        for zone, found in apart.items():
            by = "/".join(f"{h:g}" for h in sorted({abs(h) for _, h in found}))
            lines.append(f"warning: --tz {tz} disagrees with the zone of the photos' place, "
                         f"{zone} ({by} h apart), for {len(found)} photo(s) with a local clock; "
                         f"--tz used (it comes first): {first_names([n for n, _ in found])}; "
                         "leave --tz out if their clocks were set to the local time")  # fmt: skip
        written: Counter[str] = Counter()
        for d in dated:
            offset, taken = d.exif.offset, d.exif.taken
            if offset is not None and taken is not None and offset != utc_offset(tz, taken):
                written[zone_name(offset)] += 1
        if written:
            offsets = ", ".join(f"{name} in {n} photo(s)" for name, n in written.most_common())
            lines.append(f"warning: --tz {tz} disagrees with the EXIF offset written in the same "
                         f"set ({offsets}: their own offset used); {len(by_tz)} photo(s) without "
                         f"an offset converted from --tz {tz}: "
                         f"{first_names([d.name for d, _ in by_tz])}")  # fmt: skip
        return lines
