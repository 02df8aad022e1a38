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

Pure Python, reading the ``moov`` box only (:func:`fieldtool.tracks.mp4layout.mp4_tracks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fieldtool.tracks.gpmf import moov_box
from fieldtool.tracks.mp4layout import hdlr_name as hdlr_name  # re-exported: read here too
from fieldtool.tracks.mp4layout import mp4_tracks

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


def dji_file(path: str | Path) -> DjiFile | None:
    """The :class:`DjiFile` marks of an MP4/MOV: a track handler named ``DJI.``/``DJI `` or a
    ``djmd``/``dbgi`` track. None where it has neither (or no ``moov``, or a damaged one)."""
    found = moov_box(path)
    return None if found is None else moov_dji(*found)


def moov_dji(moov: bytes, head: int) -> DjiFile | None:
    """:func:`dji_file` of a ``moov`` box read (:func:`fieldtool.tracks.gpmf.moov_box`)."""
    tracks = mp4_tracks(moov, head)  # none where a box is damaged: as if no mark
    telemetry = any(track.entry in _TELEMETRY for track in tracks)
    named = [n for track in tracks for n in track.names if _DJI_NAME.match(n)]
    if named:
        return DjiFile(f'handler "{named[0]}"', telemetry)
    if telemetry:
        return DjiFile(f"a {'/'.join(e.decode() for e in _TELEMETRY)} track", True)
    return None
