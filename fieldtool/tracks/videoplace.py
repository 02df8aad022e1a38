"""The place a phone or camera wrote into its video: one point, where recording began.

Phones record it in the MP4/MOV ``moov`` box as an ISO 6709 string
(``+44.5646-123.2620+071.000/``: latitude, longitude, optional altitude, in degrees and
metres): Android's ``MediaRecorder`` in ``udta/©xyz``, iPhones (and FFmpeg with
``use_metadata_tags``) as the ``com.apple.quicktime.location.ISO6709`` key in
``meta/keys`` + ``meta/ilst``; 3GPP files (and FFmpeg's MP4s) in a ``udta/loci`` box of
16.16 fixed-point degrees. :func:`fieldtool.placement.place_session` uses it as the
session's fixed point when nothing better places the video (a track, a DJI sidecar, GoPro
GPS, ``--lat/--lon``), and says so: for a walk it is the start, not a track.

Pure Python, reading the ``moov`` box only (the box walker of :mod:`fieldtool.tracks.gpmf`,
Apple's keys by :mod:`fieldtool.tracks.qtmeta`).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from fieldtool.tracks.gpmf import _boxes, moov_box
from fieldtool.tracks.qtmeta import apple_values

_APPLE_KEY = b"com.apple.quicktime.location.ISO6709"
# decimal degrees, the form phones write: ±DD.DDDD±DDD.DDDD[±AAA.AAA][CRS...]/ (the
# DDMM/DDMMSS forms of ISO 6709 have more integer digits: not matched, not misread)
_ISO6709 = re.compile(
    r"^\s*([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?(?:CRS[^/]*)?/?\s*$"
)


def parse_iso6709(text: str) -> tuple[float, float] | None:
    """(lat, lon) in degrees of an ISO 6709 decimal-degree string, or None where it is
    not one or lies outside -90..90 / -180..180 (or is exactly 0, 0: no fix)."""
    match = _ISO6709.match(text)
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or (lat == 0.0 and lon == 0.0):
        return None
    return lat, lon


def video_place(path: str | Path) -> tuple[float, float] | None:
    """(lat, lon) a video's own metadata records (module doc), None where it records none
    or is not an MP4/MOV; a recorded value that is no place is None too."""
    found = moov_box(path)
    if found is None:
        return None
    moov, head = found
    try:
        return next(iter(_places(moov, head, len(moov))), None)
    except (struct.error, IndexError, UnicodeDecodeError, ValueError):
        return None  # a damaged box: as if none


def _places(moov: bytes, start: int, end: int) -> list[tuple[float, float]]:
    """The places recorded in the boxes of ``moov[start:end]`` (``moov`` itself or a
    ``udta`` in it), Apple's key first (it carries the most digits)."""
    apple: list[tuple[float, float]] = []
    other: list[tuple[float, float]] = []
    for kind, s, e in _boxes(moov, start, end):
        if kind == b"meta":
            apple += [p for t in apple_values(moov, s, e, _APPLE_KEY) if (p := parse_iso6709(t))]
        elif kind == b"udta":
            other += _places(moov, s, e)
        elif kind == b"\xa9xyz" and e - s >= 4:  # (length, language, ISO 6709 text)
            length = struct.unpack_from(">H", moov, s)[0]
            place = parse_iso6709(moov[s + 4 : min(e, s + 4 + length)].decode("utf-8"))
            other += [place] if place else []
        elif kind == b"loci":  # 3GPP: version, flags, language, name, role, lon, lat (16.16)
            at = moov.index(b"\0", s + 6, e) + 2  # after the name's NUL and the role
            lon, lat = (v / 65536.0 for v in struct.unpack_from(">ii", moov, at))
            ok = -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 and (lat, lon) != (0.0, 0.0)
            other += [(lat, lon)] if ok else []
    return apple + other

