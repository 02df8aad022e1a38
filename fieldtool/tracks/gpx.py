"""GPX 1.0/1.1 tracks: track points (``trkpt``) and route points (``rtept``).

Times are xsd:dateTime. GPX 1.1 asks for UTC (written with ``Z``), and most files have it;
a file whose times all carry no zone (no ``Z``, no offset: some exporters write the
device's local time) is a local clock (``TrackRead.clock``), zoned as every local clock is
(``docs/time.md``: ``--tz``, else the zone where the track starts). The XML is parsed with the standard library after refusing any DTD (no entity expansion).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from xml.parsers import expat

from fieldtool.inputs import read_input_bytes
from fieldtool.tracks.base import DEFAULT_MAX_SPEED_MPS, TrackRead, finish_track
from fieldtool.types import FieldtoolError, Fix

_TIME_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def parse_gpx_time(text: str) -> datetime:
    """ISO 8601 / xsd:dateTime as in GPX → naive datetime: UTC where it carries a zone, else
    the clock's reading as written (:func:`gpx_time`)."""
    return gpx_time(text)[0]


def gpx_time(text: str) -> tuple[datetime, bool]:
    """ISO 8601 / xsd:dateTime as in GPX → (naive datetime, whether it carried a zone).

    Accepts ``Z``, ``±HH:MM`` / ``±HHMM`` / ``±HH`` offsets and any number of fractional
    digits (kept to microseconds, truncated); a time with a zone is converted to UTC, one
    without is returned as written (a local clock: the caller zones it). Raises
    ValueError on anything else.
    """
    m = _TIME_RE.match(text)
    if m is None:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7), m.group(8)
    micro = int((frac or "0")[:6].ljust(6, "0"))
    dt = datetime(year, month, day, hour, minute, second, micro)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        dt -= sign * offset
    return dt, bool(zone)


@dataclass(frozen=True, slots=True)
class GpxTrack:
    """What :func:`read_gpx` found in one file."""

    path: Path
    fixes: tuple[Fix, ...]  # sorted by time, UTC
    points: int  # trkpt + rtept elements seen
    no_time: int  # skipped: no <time>
    bad_time: int  # skipped: <time> that does not parse
    bad_coords: int  # skipped: lat/lon missing, not a number or out of range
    no_zone: int = 0  # fixes whose time carries no zone (no Z, no offset)

    @property
    def skipped(self) -> int:
        return self.no_time + self.bad_time + self.bad_coords

    def summary(self) -> str:
        """One line for the log."""
        z = "" if self.no_zone == len(self.fixes) else "Z"  # all zone-less: a local clock
        line = (
            f"{self.path}: {len(self.fixes)} fixes, "
            f"{self.fixes[0].time.isoformat()}{z} .. {self.fixes[-1].time.isoformat()}{z}"
        )
        skips = [
            f"{n} {what}"
            for n, what in (
                (self.no_time, "without time"),
                (self.bad_time, "with a bad time"),
                (self.bad_coords, "with bad coordinates"),
            )
            if n
        ]
        if skips:
            line += f" ({', '.join(skips)} skipped)"
        return line


def _local(tag: str) -> str:
    """Element name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(elem: ET.Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _refuse_dtd(*_args: object) -> None:
    raise ValueError("a DOCTYPE/entity declaration (refused: GPX needs none)")


def _parse_xml(data: bytes, path: Path) -> ET.Element:
    """Parse with the stdlib, refusing any DTD first (no entity-expansion attacks)."""
    scan = expat.ParserCreate()
    scan.StartDoctypeDeclHandler = _refuse_dtd
    scan.EntityDeclHandler = _refuse_dtd
    try:
        scan.Parse(data, True)
    except expat.ExpatError as exc:
        raise FieldtoolError(f"{path}: not an XML file ({exc})") from None
    except ValueError as exc:
        raise FieldtoolError(f"{path}: not accepted: {exc}") from None
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:  # pragma: no cover - expat accepted it above
        raise FieldtoolError(f"{path}: not an XML file ({exc})") from None


def read_gpx(path: str | Path) -> GpxTrack:
    """Read the track points (``trkpt``) and route points (``rtept``) of a GPX 1.0/1.1 file.

    Points without a usable time or position are skipped and counted. Raises
    :class:`FieldtoolError` (one line naming the file) for a missing or unreadable file,
    non-XML, a non-GPX root, or when no point has a time.
    """
    path = Path(path)
    root = _parse_xml(read_input_bytes(path, "GPX"), path)
    if _local(root.tag) != "gpx":
        raise FieldtoolError(f"{path}: not a GPX file (root element <{_local(root.tag)}>)")

    fixes: list[Fix] = []
    points = no_time = bad_time = bad_coords = no_zone = 0
    for elem in root.iter():
        if _local(elem.tag) not in ("trkpt", "rtept"):
            continue
        points += 1
        try:
            lat = float(elem.attrib["lat"])
            lon = float(elem.attrib["lon"])
        except (KeyError, ValueError):
            bad_coords += 1
            continue
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
            bad_coords += 1
            continue
        text = _child_text(elem, "time")
        if not text:
            no_time += 1
            continue
        try:
            when, zoned = gpx_time(text)
        except ValueError:
            bad_time += 1
            continue
        no_zone += not zoned
        ele_text = _child_text(elem, "ele")
        try:
            ele = float(ele_text) if ele_text else None
        except ValueError:
            ele = None
        if ele is not None and not math.isfinite(ele):
            ele = None
        fixes.append(Fix(time=when, lat=lat, lon=lon, elevation_m=ele))

    if not fixes:
        if points == 0:
            raise FieldtoolError(f"{path}: no track points (trkpt/rtept) in the file")
        raise FieldtoolError(
            f"{path}: no track points with a time ({points} points: {no_time} without time, "
            f"{bad_time} with a bad time, {bad_coords} with bad coordinates)"
        )
    fixes.sort(key=lambda f: f.time)
    return GpxTrack(path, tuple(fixes), points, no_time, bad_time, bad_coords, no_zone)


def read_gpx_track(path: str | Path, *, max_speed_mps: float = DEFAULT_MAX_SPEED_MPS) -> TrackRead:
    """The plausible fixes of a GPX file (:func:`read_gpx`, then the plausibility rule).
    Times that all carry no zone are a local clock (``clock="local"``), said in its notes;
    some without among others with one are taken as UTC, said too."""
    path = Path(path)
    gpx = read_gpx(path)
    clock = "utc"
    notes: tuple[str, ...] = ()
    if gpx.no_zone == len(gpx.fixes):
        clock = "local"
        notes = (f"time: {path.name}: its times are without a zone (no Z or offset; GPX "
                 "asks for UTC): read as a local clock",)  # fmt: skip
    elif gpx.no_zone:
        notes = (f"warning: time: {path.name}: {gpx.no_zone} of {len(gpx.fixes)} times carry "
                 "no zone (no Z or offset) among times that do: taken as UTC",)  # fmt: skip
    return finish_track(
        path,
        "gpx",
        gpx.fixes,
        {"no_time": gpx.no_time, "bad_time": gpx.bad_time, "bad_coords": gpx.bad_coords},
        clock=clock,
        notes=notes,
        max_speed_mps=max_speed_mps,
    )
