"""The time an MP4/MOV records of itself, and whose clock it is (``docs/time.md``).

:func:`file_time` is row 3 of the time rule (:mod:`fieldtool.timebase`): Apple's
``com.apple.quicktime.creationdate`` key (iPhones: when recording began, with the phone's
offset), else the ``mvhd`` creation time. That is UTC by the MP4 spec, as phones write it,
but a camera's local clock where a camera wrote it: a GoPro's, a DJI drone's
(:mod:`fieldtool.tracks.dji`), and a camera that names itself in the clip or whose photos
lie beside it on its card (:mod:`fieldtool.tracks.camclock`: ``mp4-camera-clock``). A local
clock is converted with the zone of ``--tz``, else of the track's start, else (a drone, a
camera) of the session's fixed point; else it stays local, zone unknown.
:func:`copied_file_time` dates a DJI clip whose SRT's file time is a copy's by its ``mvhd``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.timebase import TimeBasis, ZoneChoice, offset_name, to_utc, zone_at
from fieldtool.tracks.base import TrackRead
from fieldtool.tracks.camclock import (
    ExifRead,
    Mp4Maker,
    hours_apart_warning,
    maker_clock,
    moov_maker,
    photos_beside,
    photos_clock,
    read_photo_exif,
)
from fieldtool.tracks.dji import moov_dji
from fieldtool.tracks.gpmf import moov_box, moov_creation_time, moov_has_gpmf, mp4_creation_time
from fieldtool.tracks.positions import FixedPosition, PositionProvider
from fieldtool.tracks.qtmeta import moov_creationdate

# ISO base media files with an mvhd: phones' .3gp/.3g2, iTunes-style .m4v, GoPro's .360/.lrv
MP4_SUFFIXES = (".mp4", ".mov", ".m4v", ".3gp", ".3g2", ".360", ".lrv")
# A file's modification time this much after the video's creation time is a copy's: more
# than any time zone (14 h) and a flight apart
COPIED_AFTER = timedelta(days=1)
# An mvhd time this far from Apple's creationdate is a later save's (an edit, an export),
# not the recording's: longer than most phone clips, whose mvhd may mark their end
SAVED_APART = timedelta(hours=1)
# The photos in a clip's DCF folder (paths; None: the clip is in none), asked where needed
PhotosBeside = Callable[[], Sequence[Path] | None]
# An MP4's moov box and where its children start (fieldtool.tracks.gpmf.moov_box): read
# once, each check reads it there
Moov = tuple[bytes, int]


def _no_photos() -> None:
    return None


def file_time(
    video: Path,
    gopro: bool,
    choice: ZoneChoice,
    positions: PositionProvider | None,
    notes: list[str],
    beside: PhotosBeside = _no_photos,
    offset_s: float = 0.0,
) -> TimeBasis | None:
    """The time an MP4/MOV records of itself: Apple's creationdate key (when recording
    began, with the phone's offset; an edit or export on the phone rewrites ``mvhd`` and
    keeps it), else the ``mvhd`` creation time: UTC, but a GoPro's, a DJI drone's or
    another camera's local clock (module doc; ``beside``: the photos in the clip's DCF
    folder), whose zone is ``choice``'s, else a drone's or camera's fixed point's. None
    where it records neither. A warning goes to ``notes`` (``offset_s``: the --time-offset
    the run adds, which a warning that the clip lies hours from its photos counts). The
    ``moov`` is read once."""
    if video.suffix.lower() not in MP4_SUFFIXES or (moov := moov_box(video)) is None:
        return None
    created = moov_creation_time(*moov)
    apple = None if gopro else moov_creationdate(*moov)
    if apple is not None:
        key = "com.apple.quicktime.creationdate"
        saved = created is not None and abs(created - apple.time) > SAVED_APART
        if apple.zone is not None and created is not None and saved:
            later = "after" if created > apple.time else "before"
            notes.append(
                f"time: {video.name}'s mvhd time ({created:%Y-%m-%d %H:%M} UTC) is "
                f"{_apart(created - apple.time)} {later} its {key} ({apple.time:%Y-%m-%d %H:%M} "
                "UTC): mvhd is when the file was last saved (an edit or an export); dated by "
                "the creationdate, when recording began"
            )
        if apple.zone is not None:
            return TimeBasis(apple.time, "quicktime-creationdate", apple.zone, True,
                             f"{key}, offset {apple.zone}")  # fmt: skip
        if choice.zone is None and created is not None:  # an mvhd (UTC) of the same moment
            step = round((apple.time - created).total_seconds() / 900) * 900  # whole 15 min
            if abs(step) <= 14 * 3600 and abs((apple.time - created).total_seconds() - step) < 120:
                offset = offset_name(timedelta(seconds=step))
                return TimeBasis(apple.time - timedelta(seconds=step), "quicktime-creationdate",
                                 offset, True, f"{key} without an offset, {offset} by the file's "
                                 "mvhd (UTC)")  # fmt: skip
        if choice.zone is None:
            return TimeBasis(apple.time, "quicktime-creationdate", None, False,
                             f"{key} without an offset: the phone's local clock")  # fmt: skip
        return TimeBasis(to_utc(apple.time, choice.zone), "quicktime-creationdate", choice.zone,
                         True, f"{key}, local clock, zone {choice.how}", apple.time)  # fmt: skip
    if created is None:
        return None
    if gopro:  # GoPro cameras write their local clock into mvhd; zone as for the track
        return _local_mvhd(created, choice, "GoPro camera clock")
    dji = moov_dji(*moov)
    if dji is not None and not dji.telemetry:  # the drone's clock, as in its SRT's dates
        how = f"mvhd, the DJI camera's local clock ({dji.marker} in the file, no SRT)"
        return _local_mvhd(created, _place_zone(choice, positions), how)
    if dji is not None:
        return TimeBasis(created, "mp4-creation-time", "UTC", True,
                         f"mvhd, UTC: a DJI file with {dji.marker} and a djmd/dbgi telemetry "
                         "track, whose generation writes UTC there")  # fmt: skip
    zone = _place_zone(choice, positions)
    return _camera_or_utc(video, created, zone, notes, beside, moov_maker(*moov), offset_s)


def _camera_or_utc(
    video: Path,
    created: datetime,
    zone: ZoneChoice,
    notes: list[str],
    beside: PhotosBeside,
    maker: Mp4Maker,
    offset_s: float = 0.0,
) -> TimeBasis:
    """The ``mvhd`` time ``created`` of a clip that is no GoPro's or DJI's (``maker``: what
    it says of its maker): a camera's local clock in ``zone`` where the clip or the photos
    beside it tell a camera's, else UTC (a phone's, or the spec's), with a warning where it
    lies whole hours from those photos (:mod:`fieldtool.tracks.camclock`)."""
    clock = maker_clock(maker)
    paths = beside() if clock is None else None
    photos = photos_beside(paths, video) if paths else []
    folder = _dcf_name(video)
    clock = clock or photos_clock(photos, folder)
    if clock is not None and clock.camera:
        return _local_mvhd(created, zone, clock.how, "mp4-camera-clock")
    if clock is None and (said := hours_apart_warning(video.name, created, photos, zone.zone,
                                                      folder, offset_s)):  # fmt: skip
        notes.append(said)
    how = clock.how if clock is not None else "mvhd, UTC by the MP4 spec"
    return TimeBasis(created, "mp4-creation-time", "UTC", True, how)


def _dcf_name(video: Path) -> str:
    """The clip's folder as the log names it: ``DCIM/100RECNX``."""
    return f"{video.parent.parent.name}/{video.parent.name}"


def camera_clock_clip(
    video: Path, beside: PhotosBeside, moov: Moov | None = None, read: ExifRead = read_photo_exif
) -> bool:
    """Whether :func:`file_time` reads ``video``'s ``mvhd`` as a camera's local clock by
    the clip itself or the photos beside it (``mp4-camera-clock``): an MP4/MOV with an
    ``mvhd`` time and no Apple creationdate, neither a GoPro's nor a DJI drone's. ``moov``:
    its ``moov`` box, read by the caller (else read here, once); ``read``: a photo's EXIF
    (:func:`~fieldtool.tracks.camclock.photos_beside`)."""
    if video.suffix.lower() not in MP4_SUFFIXES:
        return False
    if moov is None and (moov := moov_box(video)) is None:
        return False
    clock = maker_clock(moov_maker(*moov))
    if clock is None and (paths := beside()):
        clock = photos_clock(photos_beside(paths, video, read), _dcf_name(video))
    if clock is None or not clock.camera:  # most clips: told by their moov's maker
        return False
    return (moov_creation_time(*moov) is not None and moov_creationdate(*moov) is None
            and not moov_has_gpmf(moov[0]) and moov_dji(*moov) is None)  # fmt: skip


def _local_mvhd(
    created: datetime, choice: ZoneChoice, how: str, source: str = "mp4-creation-time"
) -> TimeBasis:
    """An ``mvhd`` time (naive) that is a camera's local clock: converted to UTC with
    ``choice``'s zone; without one it stays the local clock, zone unknown."""
    if choice.zone is None:
        return TimeBasis(created, source, None, False, how)
    return TimeBasis(to_utc(created, choice.zone), source, choice.zone, True,
                     f"{how}, zone {choice.how}", created)  # fmt: skip


def _place_zone(choice: ZoneChoice, positions: PositionProvider | None) -> ZoneChoice:
    """``choice`` (``--tz``, else the track's start) where it has a zone, else the zone of
    the session's fixed point (``--lat/--lon``, or the place recorded in the video), where
    the camera stood: from the offline tzfpy map, as for a track."""
    if choice.zone is not None or not isinstance(positions, FixedPosition):
        return choice
    zone = zone_at(positions.lat, positions.lon)
    if zone is None:
        return choice
    recorded = positions.source == "video-place"
    where = "the place recorded in the video" if recorded else "--lat/--lon"
    return ZoneChoice(zone, f"from {where} (tzfpy)")


def _apart(delta: timedelta) -> str:
    """A time difference in words: whole days, else hours (one decimal)."""
    seconds = abs(delta.total_seconds())
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    days = round(seconds / 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def copied_file_time(
    video: Path, track: TrackRead, clock_was: str, choice: ZoneChoice, notes: list[str]
) -> TimeBasis | None:
    """The MP4's creation time where a track dated by its file's modification time (a DJI
    SRT without dates) is later than it by more than :data:`COPIED_AFTER`: copying the card
    reset that time, and the video's own clock, if hours off in zone, is years nearer.
    Said in a warning; None where they agree (the file time stays: UTC) or the MP4 carries
    none. The drone writes its own clock into ``mvhd``, as into its SRT's date lines: a
    local clock, converted with ``choice`` (``--tz``, else the zone where the SRT starts)
    as a GoPro's is; with no zone it stays local, zone unknown (``docs/time.md``)."""
    if clock_was != "file-mtime" or track.media_start is None:
        return None
    created = mp4_creation_time(video) if video.suffix.lower() in MP4_SUFFIXES else None
    if created is None or track.media_start - created <= COPIED_AFTER:
        return None
    modified, made = (f"{when:%Y-%m-%d %H:%M}" for when in (track.media_start, created))
    zone = f"zone {choice.zone} ({choice.how})" if choice.zone else "zone unknown"
    notes.append(
        f"warning: time: {track.path.name}'s modification time ({modified}) is "
        f"{(track.media_start - created).days} days after {video.name}'s creation time "
        f"({made}): the files were copied; dated by the creation time, the drone's clock "
        f"read as its local time, {zone}: give --start-time if you know better"
    )
    how = f"mvhd, the drone's local clock ({track.path.name}'s file time is a copy's)"
    return _local_mvhd(created, choice, how)


def file_mtime_warning(video: Path, track: TrackRead, notes: list[str]) -> None:
    """A warning (to ``notes``) where the video is dated by its SRT's modification time
    and the MP4 carries no creation time to check it by: copying the file sets that time
    (as for photos dated by their file)."""
    if video.suffix.lower() in MP4_SUFFIXES and mp4_creation_time(video) is not None:
        return  # checked against it by copied_file_time: within a day
    notes.append(
        f"warning: time: {video.name} carries no creation time and {track.path.name} no "
        f"date lines: dated by {track.path.name}'s modification time (less its length), "
        "which copying the file changes: give --start-time if you know when it was recorded"
    )
