"""Time-stamped GPS fixes from the files cameras, drones and loggers write, and from gpsd.

Formats (:func:`read_track` picks one from the file's extension and content):

* ``gpx``  — GPX 1.0/1.1 track and route points (:mod:`fieldtool.tracks.gpx`).
* ``nmea`` — NMEA 0183 sentences (``.nmea``, ``.txt``, ``.log``): RMC gives date, time and
  position; GGA fix quality, HDOP and altitude; GST error estimates; ZDA the date. Every
  sentence's checksum is verified; bad or garbled lines are skipped and counted
  (:mod:`fieldtool.tracks.nmea`).
* ``gpmf`` — the GoPro telemetry track (``gpmd``) inside an MP4/MOV, parsed in pure Python:
  GPS5 (HERO5..HERO10, MAX) or GPS9 (HERO11+) samples, GPSU (UTC), GPSF (fix), GPSP (DOP)
  (:mod:`fieldtool.tracks.gpmf`).
* ``srt``  — DJI drone subtitle files, any firmware generation: the position is found by
  the fields' meaning (``[latitude: ..] [longitude: ..]``, consumer ``GPS(lon, lat, sats)``,
  enterprise ``GPS(lat, lon, altM)``), the coordinate order decided once per file and
  checked against ``HOME(lon, lat)``; cues with or without SubRip ``-->`` timecodes
  (:mod:`fieldtool.tracks.srt`).
* ``gpsd`` — a gpsd JSON log (``gpspipe -w``): its TPV reports, read by the live reader's
  parser (:func:`fieldtool.tracks.gpsd.read_gpsd_log`).
* ``exif`` — the GPS block of a photo (JPEG/TIFF/...), one fix (Pillow;
  :mod:`fieldtool.tracks.exif`).
* the place a phone writes into its video (ISO 6709 in the MP4/MOV), one point, no time
  (:mod:`fieldtool.tracks.videoplace`; not a track: placement uses it as a fixed point).

Live positions come from a gpsd daemon (:class:`GpsdPositions`).

Times are naive ``datetime`` values, UTC where the file says so. Tracks embedded in a
video (GPMF, SRT) also give ``media_start``: the time of media t=0 on the fixes' clock, and
each fix's time is ``media_start + its media time``, so the video and its own track match
exactly, whatever the clock. :func:`fieldtool.placement.place_session` hands ``media_start`` to the
pipeline as the video's start, which is how ``fieldtool run clip.mp4 --track clip.mp4``
places frames.

Clocks (``TrackRead.clock``):

* ``"utc"``   — GPS time (GPX, NMEA, gpsd, GPMF's GPSU, EXIF GPSDateStamp/GPSTimeStamp).
* ``"local"`` — a clock without a zone (DJI SRT date lines, EXIF DateTimeOriginal
  without OffsetTimeOriginal, a GPX whose times carry none): :meth:`TrackRead.in_utc`
  moves it to UTC once its zone is known (``--tz``, else where the track starts). Matching
  a video to its own SRT is unaffected.
* ``"file-mtime"`` — no time in the file at all (older DJI SRTs): media t=0 is estimated
  as the file's modification time minus the track's duration.

Implausible fixes (NaN, out of range, (0, 0), before 1980, a jump faster than
``max_speed_mps``) are dropped and counted by :func:`plausible_mask`, the same for every
format (:mod:`fieldtool.tracks.base`); gpsd applies the same per-fix rules as fixes
arrive. Every track, file or live, is looked up by one rule
(:func:`fieldtool.tracks.positions.interpolate`: the gap rule, longitude across ±180°).

Modules: ``base`` (TrackRead, plausibility) ← ``gpx``, ``nmea``, ``srt``, ``gpmf``,
``exif`` (one format each); ``positions`` (providers, interpolation) ← ``gpsd`` (live);
``read`` (format detection, dispatch, the config's provider) imports them all. No module
imports this package or ``read``, so there is no import circle.
"""

from fieldtool.tracks.base import (
    DEFAULT_MAX_SPEED_MPS,
    DEFAULT_SLACK_M,
    GPS_EPOCH,
    UERE_M,
    TrackRead,
    clean_fixes,
    consistent,
    fix_problem,
    plausible_mask,
    valid_fix,
)
from fieldtool.tracks.exif import read_exif, read_exif_fix
from fieldtool.tracks.gpmf import (
    GpmfSample,
    has_gpmf,
    mp4_creation_time,
    read_gpmf,
    read_gpmf_samples,
)
from fieldtool.tracks.gpsd import GpsdPositions, parse_address, parse_tpv
from fieldtool.tracks.gpx import GpxTrack, parse_gpx_time, read_gpx, read_gpx_track
from fieldtool.tracks.nmea import NmeaParser, nmea_checksum, parse_nmea, read_nmea
from fieldtool.tracks.positions import (
    FixedPosition,
    PositionProvider,
    TrackPositions,
    interpolate,
)
from fieldtool.tracks.read import (
    FORMATS,
    detect_format,
    one_position_source,
    positions_from_config,
    read_track,
    track_in_utc,
)
from fieldtool.tracks.srt import (
    SRT_HOME_RADIUS_M,
    SrtCue,
    SrtParse,
    parse_dji_srt,
    parse_dji_srt_cue,
    read_dji_srt,
)

__all__ = [
    "DEFAULT_MAX_SPEED_MPS",
    "DEFAULT_SLACK_M",
    "FORMATS",
    "GPS_EPOCH",
    "SRT_HOME_RADIUS_M",
    "UERE_M",
    "FixedPosition",
    "GpmfSample",
    "GpsdPositions",
    "GpxTrack",
    "NmeaParser",
    "PositionProvider",
    "SrtCue",
    "SrtParse",
    "TrackPositions",
    "TrackRead",
    "clean_fixes",
    "consistent",
    "detect_format",
    "fix_problem",
    "has_gpmf",
    "interpolate",
    "mp4_creation_time",
    "nmea_checksum",
    "parse_address",
    "parse_dji_srt",
    "parse_dji_srt_cue",
    "parse_gpx_time",
    "parse_nmea",
    "parse_tpv",
    "plausible_mask",
    "one_position_source",
    "positions_from_config",
    "read_dji_srt",
    "read_exif",
    "read_exif_fix",
    "read_gpmf",
    "read_gpmf_samples",
    "read_gpx",
    "read_gpx_track",
    "read_nmea",
    "read_track",
    "track_in_utc",
    "valid_fix",
]
