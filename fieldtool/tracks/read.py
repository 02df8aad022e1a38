"""Any track file by its format (:func:`read_track`), its clock on UTC
(:func:`track_in_utc`), and the position source a config asks for
(:func:`positions_from_config`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import MappingProxyType

from fieldtool.config import PositionConfig
from fieldtool.timebase import ZoneChoice, local_zone
from fieldtool.tracks.base import DEFAULT_MAX_SPEED_MPS, TrackRead
from fieldtool.tracks.exif import read_exif
from fieldtool.tracks.gpmf import read_gpmf
from fieldtool.tracks.gpsd import GpsdPositions, looks_like_gpsd, read_gpsd_log
from fieldtool.tracks.gpx import read_gpx_track
from fieldtool.tracks.nmea import looks_like_nmea, read_nmea
from fieldtool.tracks.positions import FixedPosition, PositionProvider, TrackPositions
from fieldtool.tracks.srt import looks_like_srt, read_dji_srt
from fieldtool.types import FieldtoolError, SrtOrder

FORMATS = ("gpx", "nmea", "srt", "gpmf", "exif", "gpsd")
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
    if looks_like_srt(text):
        return "srt"
    if looks_like_gpsd(text):  # gpspipe -w: JSON reports (often named .log, as NMEA is)
        return "gpsd"
    if looks_like_nmea(text):
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
    srt_order: SrtOrder = "auto",
) -> TrackRead:
    """Plausible fixes from a track file of any supported format (see :mod:`fieldtool.tracks`).

    ``fmt``: "auto" (extension and content), or one of ``FORMATS`` (also "gopro"/"mp4"
    for gpmf). ``nmea_date`` dates NMEA logs that carry no RMC/ZDA sentence. ``fps``: the
    video's frame rate (frames/s), when known; it times DJI SRT cues that have neither
    timecodes nor DiffTime (see :func:`fieldtool.tracks.srt.read_dji_srt`); ``srt_order``
    that of their ``GPS(a, b, ..)`` groups (else decided from the file).
    """
    path = Path(path)
    name = _ALIASES.get(fmt.lower(), fmt.lower())
    if name == "auto":
        name = detect_format(path)
    if name not in FORMATS:
        raise FieldtoolError(f"{path}: unknown track format {fmt!r} (use {', '.join(FORMATS)})")
    if name == "gpx":
        return read_gpx_track(path, max_speed_mps=max_speed_mps)
    if name == "nmea":
        return read_nmea(path, nmea_date, max_speed_mps=max_speed_mps)
    if name == "srt":
        return read_dji_srt(path, max_speed_mps=max_speed_mps, fps=fps, order=srt_order)
    if name == "gpmf":
        return read_gpmf(path, max_speed_mps=max_speed_mps)
    if name == "gpsd":
        return read_gpsd_log(path, max_speed_mps=max_speed_mps)
    return read_exif(path)


def one_position_source(cfg: PositionConfig) -> None:
    """Refuse a config that names more than one of lat/lon, a track and gpsd (one line)."""
    given = [
        name
        for name, v in (("lat/lon", cfg.lat), ("track", cfg.track), ("gpsd", cfg.gpsd))
        if v is not None
    ]
    if len(given) > 1:
        raise FieldtoolError(
            f"position: give one of lat/lon, a track or gpsd, not {' and '.join(given)}"
        )


def track_in_utc(track: TrackRead, tz: str | None) -> tuple[TrackRead, ZoneChoice, str | None]:
    """``track`` with its clock on UTC, the one rule for every session that reads a track
    (a file's, a live source's, a photo set's; ``docs/time.md``): a local clock (a GPX of
    zone-less times, a DJI SRT's date lines, ...) converted in its zone, ``tz``
    (``--tz``) else the zone where its first fix lies (:meth:`TrackRead.in_utc`), kept as
    it reads where that is unknown. Returns the track, that zone and how it was found
    (asked of any track: a camera clock beside it takes it), and the log line saying so
    for a local clock (None for a track in UTC)."""
    choice = local_zone(tz, track.fixes)
    if track.clock != "local":
        return track, choice, None
    zone = (f"zone {choice.zone} ({choice.how})" if choice.zone else "zone unknown: its "
            "times are kept as the clock reads, not UTC (give --tz)")  # fmt: skip
    return track.in_utc(choice.zone), choice, f"time: {track.path.name} has a local clock; {zone}"


def positions_from_config(
    cfg: PositionConfig,
    log: Callable[[str], None] | None = None,
    track: TrackRead | None = None,
    *,
    tz: str | None = None,
) -> PositionProvider | None:
    """The provider a config asks for: fixed lat/lon, a track file, gpsd, or None (no position).

    ``cfg.track`` is read with ``cfg.track_format`` ("auto": from extension and content;
    see :func:`read_track`); implausible fixes are dropped there; a local clock is moved
    to UTC in ``tz`` (``source.tz``), else where the track starts (:func:`track_in_utc`,
    said in the provider's notes). ``log``: gpsd's lines (a connection refused or lost),
    which come from its thread while the session runs. ``track``: ``cfg.track`` as the
    caller has read it and moved to UTC already (a photo session's zone).
    ``cfg.time_offset_s`` is not added to the look-up here: it corrects the clock that
    times what is looked up (a video's media t=0, a photo's camera time, a live source's
    frames), which is then looked up as it is.
    """
    one_position_source(cfg)
    if cfg.gpsd is not None:
        return GpsdPositions(cfg.gpsd, max_gap_s=cfg.max_fix_gap_s, log=log,
                             offset_s=cfg.time_offset_s)  # fmt: skip
    if cfg.track is not None:
        said: tuple[str, ...] = ()
        if track is None:
            read = read_track(cfg.track, cfg.track_format, nmea_date=cfg.track_date,
                              srt_order=cfg.srt_order)  # fmt: skip
            track, _, note = track_in_utc(read, tz)
            said = (note,) if note else ()
        return TrackPositions(
            track.fixes,
            cfg.max_fix_gap_s,
            source=track.format,
            media_start=track.media_start,
            notes=(*said, track.summary(), *track.notes),
        )
    if cfg.lat is not None and cfg.lon is not None:
        return FixedPosition(cfg.lat, cfg.lon)
    return None
