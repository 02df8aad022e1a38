"""Time and place of a session's frames, decided once before the run (``docs/time.md``).

:func:`place_session` picks the positions (fixed point, gpsd, a track file, or one found by
itself: the video's own, the GoPro GPMF inside it or the DJI ``.SRT`` beside it, then a GPS
logger's ``.gpx`` beside it, else the one place a phone recorded in it), brings a local
camera clock (a DJI SRT's, a GoPro's, a DJI drone's or another camera's ``mvhd``: a trail
camera's clip, told by its maker or its card's photos, :func:`dcf_photos`; a GPX without
zones) to UTC where its zone can be known, and decides the time of media t=0
(:class:`fieldtool.timebase.TimeBasis`), ``--time-offset`` added to a camera clock (not to
GPS time): the corrected clock is both stored and looked up. :func:`overlap_warning` is the check that the video and the
track meet: before a file runs, and after the first minute of a live source.
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from fieldtool.config import Config
from fieldtool.timebase import (
    TimeBasis,
    ZoneChoice,
    to_utc,
    utc_naive,
    utc_now,
    utc_offset,
    zone_at,
)
from fieldtool.tracks import (
    FixedPosition,
    PositionProvider,
    TrackPositions,
    TrackRead,
    has_gpmf,
    one_position_source,
    positions_from_config,
    read_track,
    track_in_utc,
)
from fieldtool.tracks.camclock import read_photo_exif
from fieldtool.tracks.exif import PhotoExif
from fieldtool.tracks.filetime import (
    MP4_SUFFIXES,
    camera_clock_clip,
    copied_file_time,
    file_mtime_warning,
    file_time,
)
from fieldtool.tracks.gpmf import gps_timed, read_moov
from fieldtool.tracks.videoplace import video_place
from fieldtool.types import FieldtoolError, Fix

OVERLAP_MIN_SHARE = 0.5  # fewer frames than this with a position: warn
HELD_WARN_S = 2.0  # video beyond either end of its track for longer than this: warn
_GPMF_SOURCES = {"utc": "gpmf-gpsu", "local": "gpmf-creation-time"}
_SRT_SOURCES = {"local": "srt-clock", "file-mtime": "srt-file-mtime", "utc": "srt-clock"}
# A track this much longer than the video it dates by its first fix (s): said
TRACK_LONGER_S = 600.0
# The video's own track (a DJI SRT) this much longer than the video (s, and share of the
# video): drone and SRT stop together, so it is another recording's (or a trimmed video)
OWN_TRACK_LONGER_S = 5.0
OWN_TRACK_LONGER_SHARE = 0.1
# A given start time, named by its config key: it comes from --start-time or a TOML file
_GIVEN = "source.start_time (--start-time)"
# Time sources that are a track's own clock (its reading at media t=0, or its first fix)
_TRACK_CLOCKS = ("srt-clock", "gpmf-creation-time", "track-start")
# Time sources that are GPS time: no camera clock's --time-offset applies to them
_GPS_TIMES = ("gpmf-gpsu",)
# Photos read beside a clip in a camera card's DCF folder, each side of it in file order:
# enough to name its camera, few enough for a card of thousands
PHOTOS_EACH_SIDE = 3


@dataclass(frozen=True)
class Placement:
    """Positions and time basis of one session, with what the log should say."""

    positions: PositionProvider | None
    time: TimeBasis
    notes: tuple[str, ...]
    track_name: str | None = None  # the track file's name (given, or found beside the video)


def sidecar_srt(video: Path) -> Path | None:
    """The DJI subtitle file beside a video (``DJI_0001.MP4`` → ``DJI_0001.SRT``/``.srt``)."""
    return _beside(video, "srt")


def sidecar_gpx(video: Path) -> Path | None:
    """A GPS logger's track saved beside a video with its name (``walk.mp4`` → ``walk.gpx``/
    ``.GPX``): not the video's own (:func:`own_track`), so matched by clock as ``--gpx``."""
    return _beside(video, "gpx")


def _beside(video: Path, ext: str) -> Path | None:
    for suffix in (ext.upper(), ext, ext.capitalize()):
        candidate = video.with_suffix(f".{suffix}")
        if candidate.is_file():
            return candidate
    return None


class DcfFolders:
    """The photos of the camera cards' DCF folders clips lie in (``DCIM/100RECNX``:
    :func:`fieldtool.photos.source.camera_folder`), for :func:`clock_markers` of many clips:
    each folder listed and sorted once, a clip's neighbours found in it by bisection, each
    photo's EXIF read once for the clips beside it. One per batch plan, its folders listed
    before its rows go to the tasks that hash them, each with a copy
    (:func:`fieldtool.scale.plan.hash_options`); none kept between plans."""

    def __init__(self) -> None:
        self._names: dict[Path, list[str]] = {}  # folder -> its photos' names, sorted
        self._exif: dict[Path, PhotoExif | None] = {}

    def beside(self, video: Path) -> list[Path] | None:
        """The photos named nearest ``video`` in its folder, up to :data:`PHOTOS_EACH_SIDE`
        each side in name order (the camera's file counter), where that folder is a camera
        card's DCF folder; None where it is not one (no photos: a folder not listed)."""
        from fieldtool.photos.source import camera_folder  # the photos' rules: for a clip only

        folder = video.parent
        if camera_folder(video) == folder:
            return None
        if (names := self._names.get(folder)) is None:
            names = self._names[folder] = _photo_names(folder)
        before, after = bisect_left(names, video.name), bisect_right(names, video.name)
        near = names[max(0, before - PHOTOS_EACH_SIDE) : before]
        return [folder / name for name in near + names[after : after + PHOTOS_EACH_SIDE]]

    def listing(self, videos: Iterable[Path]) -> DcfFolders:
        """These folders, with the DCF folders of ``videos`` listed now."""
        for video in videos:
            self.beside(video)
        return self

    def exif(self, photo: Path) -> PhotoExif | None:
        """``photo``'s EXIF, read once (:func:`~fieldtool.tracks.camclock.read_photo_exif`)."""
        if photo not in self._exif:
            self._exif[photo] = read_photo_exif(photo)
        return self._exif[photo]


def _photo_names(folder: Path) -> list[str]:
    """The names of the photos in ``folder`` (:func:`fieldtool.photos.files.is_photo`),
    sorted; none where it cannot be listed."""
    from fieldtool.photos.files import is_photo, photo_suffixes

    known = photo_suffixes()
    try:  # the names' ends first: a path made only of a photo's (thousands on a card)
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries
                          if e.name.lower().endswith(known) and is_photo(Path(e.name), known))
    except OSError:  # the folder cannot be listed: no photos beside
        return []


def dcf_photos(video: Path) -> list[Path] | None:
    """:meth:`DcfFolders.beside` of one clip (its run's): read by
    :func:`fieldtool.tracks.filetime.file_time`."""
    return DcfFolders().beside(video)


def clock_markers(
    uri: str,
    folders: DcfFolders | None = None,
    *,
    mvhd: bool = True,
    gps: bool = False,
    remote: Callable[[str], tuple[Any, str]] | None = None,
) -> tuple[str, str]:
    """What a batch key says of how a video's start is read where its results differ from
    those batches stored before (:func:`fieldtool.scale.plan.batch_key`), from one read of
    its ``moov``: ``camera`` where its ``mvhd`` is read as its camera's local clock, by the
    clip or the photos beside it (``mp4-camera-clock`` since 2026-11-30: UTC before), asked
    with ``mvhd`` (no start time given); ``no_offset`` where its start is GPS time (a
    GoPro's GPSU: ``--time-offset`` not added since 2026-12-01), asked with ``gps`` (an
    offset given, and the clip's own GPMF read: no start time, track, place or SRT). ""
    each otherwise, and for a file that cannot be read (its decode says why).
    ``folders``: a plan's :class:`DcfFolders`. ``remote``: the pyarrow filesystem and path
    of a remote URI (its run has the clip alone: no photos beside); None: "" for one."""
    local = "://" not in uri or uri.startswith("file://")
    video = Path(uri.removeprefix("file://"))
    if not (mvhd or gps) or video.suffix.lower() not in MP4_SUFFIXES:
        return "", ""
    try:
        if local:
            with video.open("rb") as fh:
                return _markers(video, fh, folders or DcfFolders(), mvhd, gps)
        if remote is None:
            return "", ""
        filesystem, path = remote(uri)
        with filesystem.open_input_file(path) as fh:
            return _markers(Path(path), fh, None, mvhd, gps)
    except (OSError, FieldtoolError):  # cannot be read: its decode says why
        return "", ""


def _markers(
    video: Path, fh: BinaryIO, folders: DcfFolders | None, mvhd: bool, gps: bool
) -> tuple[str, str]:
    """:func:`clock_markers` of a clip open as ``fh`` (``folders``: None: no photos beside)."""
    if (moov := read_moov(fh, video)) is None:
        return "", ""
    beside = partial(folders.beside, video) if folders is not None else lambda: None
    read = folders.exif if folders is not None else read_photo_exif
    camera = mvhd and camera_clock_clip(video, beside, moov, read)
    return "camera" if camera else "", "no_offset" if gps and gps_timed(fh, moov[0]) else ""


def own_track(video: Path, track: Path) -> bool:
    """Whether ``track`` is the video's own: the same file (GPMF) or its SRT sidecar."""
    try:
        if track.resolve() == video.resolve():
            return True
    except OSError:
        return False
    return track.suffix.lower() == ".srt" and track.with_suffix("").resolve() == (
        video.with_suffix("").resolve()
    )


def _is_gopro(video: Path) -> bool:
    """An MP4/MOV with a GPMF track: a GoPro camera's file."""
    return video.suffix.lower() in MP4_SUFFIXES and has_gpmf(video)


def _discover(video: Path, gopro: bool) -> list[tuple[Path, str]]:
    """The tracks ``auto_track`` finds, in the order tried (``docs/time.md``), each with how
    the log names it: the camera's own (the DJI SRT beside the video, else the GoPro GPMF
    inside it; matched by media time), then a GPS logger's GPX beside it (by clock)."""
    found = []
    if (srt := sidecar_srt(video)) is not None:
        found.append((srt, f"{srt.name}, the DJI telemetry beside the video"))
    elif gopro:
        found.append((video, f"the GoPro GPMF track inside {video.name}"))
    if (gpx := sidecar_gpx(video)) is not None:
        found.append((gpx, f"{gpx.name} beside the video"))
    return found


def _read_found(
    found: list[tuple[Path, str]], read: Callable[[Path], TrackRead], notes: list[str]
) -> TrackRead | None:
    """The first of ``found`` (:func:`_discover`) that ``read`` reads, said; one that does
    not is said not used (a GPX, which the user put there, in a warning), and so is a GPX
    after the camera's own track that was used. None where none reads."""
    for i, (path, what) in enumerate(found):
        gpx = path.suffix.lower() == ".gpx"
        try:
            track = read(path)
        except FieldtoolError as exc:  # a GoPro clip without GPS, a GPX cut off
            notes.append(f"{'warning: ' if gpx else ''}position: {what} not used ({exc})")
            continue
        notes.append(f"position: using {what}" + (" (a GPS logger's track: matched by clock)"
                                                  if gpx else ""))  # fmt: skip
        notes += [f"position: {what2} not used: the camera's own track ({what}) places the "
                  f"video by media time; give --gpx {path2.name} to place it by that instead"
                  for path2, what2 in found[i + 1:]]  # fmt: skip
        return track
    return None


def _recorded_place(video: Path, notes: list[str]) -> FixedPosition | None:
    """The place a phone wrote into ``video`` as the session's fixed point, said; None
    where it wrote none."""
    place = video_place(video)
    if place is None:
        return None
    notes.append(f"position: {place[0]:.5f}, {place[1]:.5f}, the place recorded in "
                 f"{video.name} (where recording began: one point for the whole video; "
                 "--track or --lat/--lon to place it otherwise)")  # fmt: skip
    return FixedPosition(*place, source="video-place")


def place_session(
    config: Config,
    *,
    live: bool,
    fps: float | None = None,
    now: datetime | None = None,
    log: Callable[[str], None] | None = None,
) -> Placement:
    """Positions and time basis for ``config``'s source (see the module doc).

    ``fps``: the video's frame rate (SRT files that count frames need it). ``now``: the
    processing time (UTC), used only when a file carries no time at all. ``log``: lines
    gpsd's connection says while the session runs.
    """
    pos, src = config.position, config.source
    notes: list[str] = []
    if live:  # its frames are timed by this computer's clock; --time-offset corrects it
        added = f"; --time-offset {pos.time_offset_s:+g} s added" if pos.time_offset_s else ""
        how = f"the machine's clock at each frame{added}"
        return Placement(positions_from_config(pos, log, tz=src.tz),
                         TimeBasis(None, "wall-clock", "UTC", True, how), ())  # fmt: skip
    one_position_source(pos)  # files too: their track is read here, not by positions_from_config
    video = Path(src.uri)
    gopro = _is_gopro(video)  # read once: discovery and the creation time's zone ask
    found = _discover(video, gopro) if pos.looks_for_track() else []
    clock_was = "utc"
    local: datetime | None = None  # a local-clock track's reading at media t=0 / first fix
    positions: PositionProvider | None = None
    choice = ZoneChoice(src.tz, "--tz") if src.tz else ZoneChoice(None, "unknown")
    read = partial(read_track, fmt=pos.track_format, fps=fps, nmea_date=pos.track_date,
                   srt_order=pos.srt_order)  # fmt: skip
    # a track the user named: its error stops the run; one found: said, the next tried
    track = read(pos.track) if pos.track is not None else _read_found(found, read, notes)
    if track is None:
        positions = positions_from_config(pos, log)
        if pos.gpsd is not None:  # its fixes are now's; a file's frames carry the file's times
            notes.append(f"warning: position: gpsd gives live fixes at this machine's clock; "
                         f"{video.name}'s frames are placed only where their times are now's "
                         "(a file being recorded now): for a recorded file give its track "
                         "(--gpx/--track) or --lat/--lon")  # fmt: skip
        if positions is None and pos.auto_track and video.suffix.lower() in MP4_SUFFIXES:
            positions = _recorded_place(video, notes)
    else:
        clock_was = track.clock
        if track.clock == "local":
            local = track.media_start or track.fixes[0].time
        track, choice, note = track_in_utc(track, src.tz)
        notes += [note] if note else []
        positions = TrackPositions(  # --time-offset moves the clock (the basis), not this
            track.fixes, pos.max_fix_gap_s, source=track.format,
            media_start=track.media_start, notes=(track.summary(), *track.notes),
            by_media_time=own_track(video, track.path),
        )  # fmt: skip
    basis = _time_basis(config, video, gopro, track, choice, positions, now, clock_was, notes)
    if local is not None and basis.zone_known and basis.source in _TRACK_CLOCKS:
        basis = replace(basis, local=local)  # its reading: one the zone skips is said
    if pos.time_offset_s and basis.source in _GPS_TIMES:  # the satellites' clock: right
        notes.append(f"time: time offset not applied: the start is GPS time ({basis.source}, "
                     f"the satellites' clock, whatever the camera's): --time-offset "
                     f"{pos.time_offset_s:+g} s corrects a camera clock")  # fmt: skip
    elif pos.time_offset_s and basis.start is not None:  # a camera clock that is off, corrected
        basis = replace(basis, start=basis.start + timedelta(seconds=pos.time_offset_s),
                        how=f"{basis.how}; --time-offset {pos.time_offset_s:+g} s added")  # fmt: skip
    if src.tz and basis.zone != src.tz and clock_was != "local":
        notes.append(f"time: --tz {src.tz} not used: nothing read is a local clock (media t=0 "
                     f"from {basis.source}: {basis.how}; zone {basis.zone or 'unknown'})")  # fmt: skip
    if src.tz and (basis.zone == src.tz or clock_was == "local"):  # --tz converted a clock
        where = track.fixes[0] if track is not None and track.fixes else positions
        if isinstance(where, Fix | FixedPosition):
            camera = f"{video.name}'s camera clock"
            what = {"start-time": "--start-time", "mp4-creation-time": camera,
                    "mp4-camera-clock": camera}.get(basis.source)  # fmt: skip
            if what is None or clock_was == "local":
                what = f"{track.path.name if track else video.name}'s local clock"
            warning = tz_place_warning(src.tz, (where.lat, where.lon), basis.start, what,
                                       "the track's" if track is not None else "the")  # fmt: skip
            if warning is not None:
                notes.append(warning)
    return Placement(positions, basis, tuple(notes), track.path.name if track else None)


def tz_place_warning(
    tz: str, place: tuple[float, float], when: datetime | None, what: str, whose: str = "the"
) -> str | None:
    """A warning when ``--tz`` gives a clock another UTC offset than the zone at ``place``
    (lat, lon, degrees) at ``when`` (UTC, naive; None: now) does: --tz comes first for a
    local clock (``docs/time.md``), so a slip shifts every time by whole hours. ``what``:
    the clock it converted. None where they agree, or the place's zone is not known."""
    zone = zone_at(*place)
    if zone is None:
        return None
    moment = when or utc_now()
    apart = (utc_offset(zone, moment) - utc_offset(tz, moment)).total_seconds() / 3600.0
    if not apart:
        return None
    return (f"warning: --tz {tz} disagrees with the zone of {whose} place, {zone} "
            f"({abs(apart):g} h apart), for {what}; --tz used (it comes first): leave it "
            "out if the clock was set to the local time there")  # fmt: skip


def _time_basis(
    config: Config,
    video: Path,
    gopro: bool,
    track: TrackRead | None,
    choice: ZoneChoice,
    positions: PositionProvider | None,
    now: datetime | None,
    clock_was: str,
    notes: list[str],
) -> TimeBasis:
    """The time basis (module doc order); ``clock_was``: the track's clock before any
    conversion to UTC ("utc", "local", "file-mtime"). A warning goes to ``notes``."""
    src = config.source
    if src.start_time is not None:
        given = src.start_time
        if given.tzinfo is not None:
            return TimeBasis(utc_naive(given), "start-time", "UTC", True, f"{_GIVEN}, its offset")
        if src.tz:
            return TimeBasis(to_utc(given, src.tz), "start-time", src.tz, True,
                             f"{_GIVEN} in source.tz", local=given)  # fmt: skip
        return TimeBasis(given, "start-time", "UTC", True, f"{_GIVEN} without offset: UTC")
    if (
        track is not None
        and track.media_start is not None
        and isinstance(positions, TrackPositions)
        and positions.by_media_time
    ):
        table = _GPMF_SOURCES if track.format == "gpmf" else _SRT_SOURCES
        source = table.get(clock_was, table["local"])
        copied = copied_file_time(video, track, clock_was, choice, notes)
        if copied is not None:
            return copied
        if clock_was == "file-mtime":
            file_mtime_warning(video, track, notes)
        if clock_was != "local":  # GPS time, or a file time: UTC already
            return TimeBasis(track.media_start, source, "UTC", True, track.path.name)
        how = f"{track.path.name}, local clock, zone {choice.how}"
        return TimeBasis(track.media_start, source, choice.zone, choice.zone is not None, how)
    own = file_time(video, gopro, choice, positions, notes, partial(dcf_photos, video),
                    config.position.time_offset_s)  # fmt: skip
    if own is not None:
        return own
    if isinstance(positions, TrackPositions):
        zone = ("UTC", True) if clock_was != "local" else (choice.zone, choice.zone is not None)
        return TimeBasis(positions.start, "track-start", *zone,
                         f"first fix of {track.path.name if track else 'the track'}: camera and "
                         "logger started together")  # fmt: skip
    return TimeBasis(now or utc_now(), "processing-time", "UTC", True,
                     "no time in the video: the time of processing, not of the event")  # fmt: skip


def _span(start: datetime, end: datetime) -> str:
    return f"{start.isoformat(sep=' ', timespec='seconds')} .. {end.isoformat(sep=' ', timespec='seconds')}"


def overlap_share(
    positions: TrackPositions, start: datetime, duration_s: float, sample_fps: float
) -> float:
    """Fraction (0..1) of a video's analysed frames that will get a position from the track.

    ``start``: time of media t=0 on the session's clock; frames every ``1 / sample_fps``
    seconds of media time, at most 2,000 of them evenly spread.
    """
    n = int(min(2000, max(2, duration_s * sample_fps)))
    ts = np.linspace(0.0, max(duration_s, 0.0), n)
    return positions.share_positioned(
        positions.lookup_time(float(t), start + timedelta(seconds=float(t))) for t in ts
    )


def overlap_warning(
    positions: TrackPositions,
    basis: TimeBasis,
    duration_s: float,
    share: float,
    given_offset_s: float = 0.0,
) -> str | None:
    """One warning line when fewer than half of the frames can be placed, else None.

    Names the video's span, the track's span (both on the session's clock) and the fix:
    the whole ``--time-offset`` that would align their starts, ``given_offset_s`` (one
    already in ``basis``) included.
    """
    if share >= OVERLAP_MIN_SHARE or basis.start is None:
        return None
    start = basis.start
    offset = positions.time_offset_s
    video = _span(start, start + timedelta(seconds=duration_s))
    track = _span(positions.fixes[0].time, positions.end)
    if positions.by_media_time:  # the video's own: no offset or start time moves it
        covers = (positions.end - positions.fixes[0].time).total_seconds()
        return (
            f"warning: only {100 * share:.0f}% of the video's frames can get a position: "
            f"its track is the video's own ({positions.source}), matched by media time, and "
            f"covers {covers:.0f} s of the video's {duration_s:.0f} s (--time-offset and "
            "--start-time do not move it); give a track that covers the video"
        )
    lead = (positions.fixes[0].time - (start + timedelta(seconds=offset))).total_seconds()
    hint = "fix with --time-offset SECONDS (added to frame times), --start-time or --tz"
    if abs(lead) >= 60:
        hours = lead / 3600.0
        whole = abs(hours - round(hours)) < 0.05 and round(hours) != 0
        side = "after" if lead > 0 else "before"
        given = f" (with --time-offset {given_offset_s:+g} s given)" if given_offset_s else ""
        hint = (
            f"the track starts {abs(lead):.0f} s {side} the video{given}"
            + (f" (~{round(hours):+d} h: a time zone error? try --tz)" if whole else "")
            + f"; --time-offset {given_offset_s + lead:+.0f} in all aligns their starts, or "
            "give --start-time or --tz"
        )
    return (
        f"warning: only {100 * share:.0f}% of the video's frames can get a position: "
        f"video {video} ({basis.source}, {'UTC' if basis.zone_known else 'local time'}), "
        f"track {track} ({positions.source}); {hint}"
    )


def track_start_warning(
    positions: TrackPositions, basis: TimeBasis, duration_s: float, track: str
) -> str | None:
    """A warning when a track (``track``, its name) runs much longer than the video
    (``duration_s``, s) it places. A video with no time of its own dated by the first fix
    of a track more than :data:`TRACK_LONGER_S` longer: "camera and logger started
    together" is then a guess, and the video could lie anywhere in it (a day's walk,
    several days' tracks in one GPX). The video's own track (a DJI SRT, matched by media
    time) more than :data:`OWN_TRACK_LONGER_S` and :data:`OWN_TRACK_LONGER_SHARE` longer:
    drone and SRT stop together, so it is likely another recording's. None otherwise."""
    span = (positions.end - positions.fixes[0].time).total_seconds()
    if positions.by_media_time:
        if span - duration_s <= max(OWN_TRACK_LONGER_S, OWN_TRACK_LONGER_SHARE * duration_s):
            return None
        return (f"warning: position: {track} runs {span:.0f} s, the video only "
                f"{duration_s:.0f} s: the video's own track is written with it and ends with "
                "it, so a much longer one is likely another recording's (or the video was "
                f"trimmed): check that {track} belongs to this video")  # fmt: skip
    if basis.source != "track-start" or basis.start is None:
        return None
    if span - duration_s <= TRACK_LONGER_S:
        return None
    return (f"warning: time: the video has no time of its own: dated by the first fix of "
            f"{track} ({positions.fixes[0].time:%Y-%m-%d %H:%M:%S} UTC), as if camera and "
            f"logger started together; the track runs {span / 3600:.1f} h, the video "
            f"{duration_s:.0f} s, so it may lie anywhere in it: give --start-time if it did "
            "not start with the track")  # fmt: skip


def start_time_warning(positions: TrackPositions, basis: TimeBasis) -> str | None:
    """A warning when ``--start-time`` puts a video whose own track has a clock (a DJI
    SRT's dates, a GoPro's GPS time) a whole number of hours from that clock: a local time
    written as UTC (or the reverse). The track still places the frames by media time; the
    sightings' times are the start time's. None otherwise."""
    own = positions.media_start
    if basis.source != "start-time" or basis.start is None or own is None:
        return None
    hours = (basis.start - own).total_seconds() / 3600.0
    if abs(hours) < 0.95 or abs(hours - round(hours)) > 0.05:
        return None
    return (f"warning: --start-time {basis.start:%Y-%m-%d %H:%M:%S} UTC is {round(hours):+d} h "
            f"from the clock of the video's own track ({positions.source}: "
            f"{own:%Y-%m-%d %H:%M:%S} UTC): a time zone error? (a time with Z or no --tz "
            "is UTC; give the offset, e.g. +10:00, or leave --start-time out)")  # fmt: skip


def held_warning(positions: TrackPositions, start: datetime, duration_s: float) -> str | None:
    """One warning line when more than :data:`HELD_WARN_S` of the video is placed at an end
    fix of the track: beyond either end the end fix is held for ``max_fix_gap_s`` (the gap
    rule), so those frames are placed where the track ended while the camera may have moved
    on (a drone's short SRT: hundreds of metres), and counted as positioned. A track wholly
    before or after the video is said as such. None otherwise, and where no frame is near
    enough to an end to be held (the overlap warning says that).

    ``start``: time of media t=0 on the session's clock; ``duration_s``: the video's length.
    """
    ends = [positions.lookup_time(t, start + timedelta(seconds=t)) for t in (0.0, duration_s)]
    a, b = (float(v) for v in positions.seconds(ends))  # the video, s since the first fix
    end, gap = (positions.end - positions.fixes[0].time).total_seconds(), positions.max_gap_s
    parts = []
    if a < 0:  # video before the first fix: [a, min(b, 0)), held within gap of it
        held = max(0.0, min(b, 0.0) - max(a, -gap))
        what = (f"starts {-b:.1f} s after the video ends" if b < 0
                else f"starts {-a:.1f} s after the video begins")  # fmt: skip
        parts.append((held, min(b, 0.0) - a - held, what, "first"))
    if b > end:  # video after the last fix: (max(a, end), b], held within gap of it
        held = max(0.0, min(b, end + gap) - max(a, end))
        what = (f"ends {a - end:.1f} s before the video begins" if a > end
                else f"ends {b - end:.1f} s before the video")  # fmt: skip
        parts.append((held, b - max(a, end) - held, what, "last"))
    said = [f"the track {what}: {held:.1f} s of video are placed at its {fix} fix "
            f"(position.max_fix_gap_s)" + (f", the {none:.1f} s beyond get none"
                                           if none > 0.05 else "")
            for held, none, what, fix in parts if held > HELD_WARN_S]  # fmt: skip
    if not said:
        return None
    return (f"warning: {'; '.join(said)}; a moving camera was elsewhere by then: give a "
            "track that covers the video")  # fmt: skip


def live_overlap_warning(source: str, analysed: int, positioned: int) -> str | None:
    """After the first minute of a live source: a warning when under half the frames got
    a position (no fix yet, a track that does not cover now)."""
    if analysed == 0 or positioned / analysed >= OVERLAP_MIN_SHARE:
        return None
    return (
        f"warning: only {positioned} of {analysed} frames of the first minute got a position "
        f"from {source}; check the GPS (gpsd fix) or the track's times (--time-offset, --tz)"
    )
