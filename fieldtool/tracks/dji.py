"""Whether an MP4/MOV is a DJI drone's, by what DJI writes in the file itself.

DJI drones write their own clock, the local time they were set to, into the ``mvhd``
creation time (as GoPro cameras do, and as into the date lines of their ``.SRT``), where
ISO/IEC 14496-12 asks for UTC: :func:`fieldtool.placement.place_session` converts it as a
local clock (``docs/time.md``). They name their tracks' handlers in the ``hdlr`` box:
``DJI.AVC`` for the video of the Phantom and Mavic generations (a QuickTime string whose
length byte counts its NUL padding), ``DJI meta`` / ``DJI dbgi`` for the telemetry tracks
of newer drones and Osmo cameras (sample entries ``djmd`` and ``dbgi``). Those newer files
write UTC into ``mvhd`` (their local clock goes into the timecode and the file name, e.g.
``DJI_20230701103032_0001_D.MP4`` with ``mvhd`` 15:30:37 UTC), so a ``djmd``/``dbgi``
track marks a DJI file whose ``mvhd`` is UTC after all (:attr:`DjiFile.telemetry`).

Pure Python, reading the ``moov`` box only (the box walker of :mod:`fieldtool.tracks.gpmf`).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from fieldtool.tracks.gpmf import _boxes, moov_box

# Sample entries of the telemetry tracks of DJI's newer drones and cameras
_TELEMETRY = (b"djmd", b"dbgi")
# DJI's handler names: "DJI" then a dot, a space or nothing ("DJI.AVC", "DJI meta"; not
# "Djinn" or "DJIBOUTI")
_DJI_NAME = re.compile(r"^DJI(?![A-Za-z0-9])")


@dataclass(frozen=True, slots=True)
class DjiFile:
    """What marks a file as DJI's: ``marker`` says it for the log (``handler "DJI.AVC"``);
    ``telemetry``: it has a ``djmd``/``dbgi`` track, the generation that writes UTC into
    ``mvhd``."""

    marker: str
    telemetry: bool


def hdlr_name(payload: bytes) -> str:
    """The component name of an ``hdlr`` box (``payload``: the box after its size and
    type): version and flags, component type, subtype, 12 reserved bytes, then the name,
    a QuickTime counted string (its length byte may count NUL padding) or a C string."""
    name = payload[24:]
    if name and name[0] < 0x20:  # a length byte, not a character
        name = name[1 : 1 + name[0]]
    return name.split(b"\0", 1)[0].decode("latin-1").strip()


def dji_file(path: str | Path) -> DjiFile | None:
    """The :class:`DjiFile` marks of an MP4/MOV: a track handler named ``DJI.``/``DJI `` or a
    ``djmd``/``dbgi`` track. None where it has neither (or no ``moov``, or a damaged one)."""
    found = moov_box(path)
    if found is None:
        return None
    moov, head = found
    names: list[str] = []
    entries: list[bytes] = []
    try:
        for kind, s, e in _boxes(moov, head, len(moov)):
            if kind == b"trak":
                _track(moov, s, e, names, entries)
    except (struct.error, IndexError):
        return None  # a damaged box: as if none
    telemetry = any(entry in _TELEMETRY for entry in entries)
    named = [n for n in names if _DJI_NAME.match(n)]
    if named:
        return DjiFile(f'handler "{named[0]}"', telemetry)
    if telemetry:
        return DjiFile(f"a {'/'.join(e.decode() for e in _TELEMETRY)} track", True)
    return None


def _track(moov: bytes, start: int, end: int, names: list[str], entries: list[bytes]) -> None:
    """The handler names and first sample entry types of the track ``moov[start:end]``
    (its ``mdia/hdlr`` and ``mdia/minf/stbl/stsd``), added to ``names`` and ``entries``."""
    for kind, s, e in _boxes(moov, start, end):
        if kind in (b"mdia", b"minf", b"stbl"):
            _track(moov, s, e, names, entries)
        elif kind == b"hdlr":
            names.append(hdlr_name(moov[s:e]))
        elif kind == b"stsd" and e - s >= 16:  # version, flags, count, then size and type
            entries.append(moov[s + 12 : s + 16])
