"""Apple's QuickTime metadata keys in an MP4/MOV ``moov/meta`` box (``keys`` + ``ilst``).

iPhones (and FFmpeg with ``movflags=use_metadata_tags``) write their metadata there, by
name: ``com.apple.quicktime.location.ISO6709`` (the place, read by
:mod:`fieldtool.tracks.videoplace`) and ``com.apple.quicktime.creationdate``: when the
recording began, as ISO 8601 with the phone's UTC offset (``2026-06-14T09:12:33+0200``).
Editing or exporting a clip on the phone rewrites the ``mvhd`` creation time to when the
file was saved and keeps this key, so it dates the recording where ``mvhd`` may not
(``docs/time.md``). Pure Python, reading the ``moov`` box only.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.timebase import offset_name
from fieldtool.tracks.gpmf import EARLIEST_VIDEO, _boxes, moov_box

CREATIONDATE_KEY = b"com.apple.quicktime.creationdate"
# ISO 8601 as phones write it: date, time, optional fraction, optional offset (Z, ±HHMM,
# ±HH:MM, ±HH; a space before it is tolerated)
_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"\s?(Z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


@dataclass(frozen=True, slots=True)
class CreationDate:
    """A recording's start from Apple's key: ``time`` naive, UTC when ``zone`` (the
    offset it was converted from, ``+02:00``) is given, else the phone's local clock."""

    time: datetime
    zone: str | None


def parse_creationdate(text: str) -> CreationDate | None:
    """The :class:`CreationDate` of an ISO 8601 creation date, None where the text is no
    time or one before :data:`~fieldtool.tracks.gpmf.EARLIEST_VIDEO` (a clock never set)."""
    m = _ISO.match(text.replace("\x00", ""))  # a C string's NUL kept in the value
    if m is None:
        return None
    try:
        fraction = float(m.group(7) or 0.0)
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        local = datetime(year, month, day, hour, minute, second)
        local += timedelta(microseconds=round(fraction * 1e6))
    except ValueError:  # month 13, hour 25: no time
        return None
    offset = m.group(8)
    if offset is None:
        return None if local < EARLIEST_VIDEO else CreationDate(local, None)
    digits = offset.replace(":", "")
    hours, minutes = (0, 0) if digits == "Z" else (int(digits[1:3]), int(digits[3:5] or 0))
    if hours * 60 + minutes > 14 * 60 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes) * (-1 if digits.startswith("-") else 1)
    utc = local - delta
    if utc < EARLIEST_VIDEO:
        return None
    if digits == "-0000":  # RFC 3339: the time is UTC, the place's offset unknown
        return CreationDate(utc, "UTC")
    return CreationDate(utc, offset_name(delta))


def quicktime_creation_date(path: str | Path) -> CreationDate | None:
    """The recording start Apple's creationdate key gives an MP4/MOV, None where the file
    has none (or no ``moov``, or a damaged one)."""
    found = moov_box(path)
    return None if found is None else moov_creationdate(*found)


def moov_creationdate(moov: bytes, head: int) -> CreationDate | None:
    """:func:`quicktime_creation_date` of a ``moov`` box read
    (:func:`fieldtool.tracks.gpmf.moov_box`)."""
    try:
        for s, e in meta_boxes(moov, head, len(moov)):
            for text in apple_values(moov, s, e, CREATIONDATE_KEY):
                if (when := parse_creationdate(text)) is not None:
                    return when
    except (struct.error, IndexError, UnicodeDecodeError, ValueError):
        return None  # a damaged box: as if none
    return None


def meta_boxes(moov: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """(payload start, end) of the ``meta`` boxes in ``moov[start:end]`` and in its
    ``udta`` (iPhones write ``moov/meta``; FFmpeg writes ``moov/udta/meta``)."""
    found: list[tuple[int, int]] = []
    for kind, s, e in _boxes(moov, start, end):
        if kind == b"meta":
            found.append((s, e))
        elif kind == b"udta":
            found += meta_boxes(moov, s, e)
    return found


def apple_values(moov: bytes, start: int, end: int, key: bytes) -> list[str]:
    """The text values of ``key`` in the QuickTime ``meta`` box ``moov[start:end]``
    (:func:`apple_items`). UnicodeDecodeError for one that is no UTF-8 text."""
    return [value.decode("utf-8") for name, value in apple_items(moov, start, end)
            if name == key]  # fmt: skip


def apple_items(moov: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of each entry of the QuickTime ``meta`` box ``moov[start:end]``, in
    order (``keys`` names the entries, ``ilst`` holds them by 1-based index, each in a
    ``data`` box); a value as written (text, or a number's bytes: decoded by the caller)."""
    if moov[start + 4 : start + 8] != b"hdlr":  # an ISO ``meta`` is a full box: 4 more bytes
        start += 4
    keys: list[bytes] = []
    values: dict[int, bytes] = {}
    for kind, s, e in _boxes(moov, start, end):
        if kind == b"keys":
            at = s + 8  # version, flags, entry count
            while at + 8 <= e:
                size = struct.unpack_from(">I", moov, at)[0]
                if size < 8:
                    break
                keys.append(moov[at + 8 : at + size])  # after size and namespace
                at += size
        elif kind == b"ilst":
            for item, s2, e2 in _boxes(moov, s, e):
                for inner, s3, e3 in _boxes(moov, s2, e2):
                    if inner == b"data":  # type indicator, locale, value
                        values[struct.unpack(">I", item)[0]] = moov[s3 + 8 : e3]
    return [(name, values[i + 1]) for i, name in enumerate(keys) if i + 1 in values]
