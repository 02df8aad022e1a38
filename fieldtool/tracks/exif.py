"""The GPS block of a photo's EXIF (JPEG/TIFF/HEIC/...): a one-fix track (Pillow).

Pillow is imported when a photo is read, not with this module: it is a heavy optional
dependency (it comes with streamlit).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fieldtool.tracks.base import UERE_M, TrackRead, finish_track
from fieldtool.types import FieldtoolError, Fix

if TYPE_CHECKING:
    from PIL.Image import Exif

_OFFSET_RE = re.compile(r"([+-])(\d{2}):(\d{2})")


def _number(value: object) -> float:
    if isinstance(value, (int, float, str, numbers.Real)):
        return float(value)
    raise TypeError(f"not a number: {value!r}")


def _rational(value: object) -> float:
    """An EXIF rational (Pillow's IFDRational, a ``(num, den)`` pair, a number) as a float;
    NaN for a zero denominator."""
    if isinstance(value, tuple) and len(value) == 2:
        num, den = _number(value[0]), _number(value[1])
        return num / den if den else math.nan
    return _number(value)


def _triple(value: object) -> tuple[float, float, float]:
    """Three rationals (degrees/minutes/seconds, hours/minutes/seconds)."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise TypeError(f"not three rationals: {value!r}")
    a, b, c = value
    return _rational(a), _rational(b), _rational(c)


def _dms(value: object, ref: object) -> float | None:
    try:
        d, m, s = _triple(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    out = d + m / 60.0 + s / 3600.0
    return -out if str(ref).strip().upper() in ("S", "W") else out


@dataclass(frozen=True, slots=True)
class PhotoExif:
    """What a photo's EXIF says about when, where and with what it was taken.

    ``taken``: DateTimeOriginal (else DateTime) with SubSecTimeOriginal, as written (the
    camera's clock); ``offset``: OffsetTimeOriginal (else OffsetTime), the clock's offset
    from UTC, None when not written. ``fix``: the GPS block (None without one; its time is
    GPS UTC, else ``taken``). ``orientation``: the EXIF Orientation tag, 1 (upright) to 8.
    """

    taken: datetime | None = None
    offset: timedelta | None = None
    fix: Fix | None = None
    orientation: int = 1
    make: str = ""
    model: str = ""
    serial: str = ""

    @property
    def camera(self) -> str:
        """Make, model and serial number, as far as written ("" when none is)."""
        model = self.model
        if self.make and model.lower().startswith(self.make.lower()):
            model = model[len(self.make) :].strip()  # "Canon" + "Canon EOS 5D"
        return " ".join(p for p in (self.make, model, self.serial) if p)

    @property
    def taken_utc(self) -> datetime | None:
        """``taken`` in UTC when the offset is written, else None."""
        if self.taken is None or self.offset is None:
            return None
        return self.taken - self.offset


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").replace("\x00", "").strip()


def _offset(text: object) -> timedelta | None:
    found = _OFFSET_RE.fullmatch(_text(text)) if text else None
    if not found:
        return None
    sign = 1 if found.group(1) == "+" else -1
    return sign * timedelta(hours=int(found.group(2)), minutes=int(found.group(3)))


def photo_exif(exif: Exif) -> PhotoExif:
    """The time, place, orientation and camera in an image's EXIF (Pillow's ``getexif()``);
    unreadable or absent tags are left at their defaults."""
    sub: Mapping[int, object] = exif.get_ifd(0x8769)
    taken = None
    raw = sub.get(0x9003) or exif.get(0x0132)
    if raw:
        try:
            taken = datetime.strptime(_text(raw), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            taken = None
    subsec = _text(sub.get(0x9291) or sub.get(0x9290))
    if taken is not None and subsec.isdigit():
        taken += timedelta(seconds=int(subsec) / 10 ** len(subsec))
    offset = _offset(sub.get(0x9011) or sub.get(0x9010))
    gps: Mapping[int, object] = exif.get_ifd(0x8825)
    fix = _gps_fix(exif, gps)[0] if gps else None
    try:
        orientation = int(_number(exif.get(0x0112, 1)))
    except (TypeError, ValueError):
        orientation = 1
    return PhotoExif(
        taken, offset, fix, orientation if 1 <= orientation <= 8 else 1,
        _text(exif.get(0x010F)), _text(exif.get(0x0110)), _text(sub.get(0xA431)),
    )  # fmt: skip


def read_exif_fix(path: str | Path) -> tuple[Fix | None, str]:
    """The GPS position of a photo as a Fix, and its clock ("utc" or "local").

    Time: GPSDateStamp + GPSTimeStamp (UTC), else DateTimeOriginal with
    OffsetTimeOriginal (UTC), else DateTimeOriginal as the camera's local clock. Accuracy:
    GPSHPositioningError, else GPSDOP × ``UERE_M``. None when the photo has no GPS block
    or no time.
    """
    from PIL import Image, UnidentifiedImageError  # heavy, optional: only to read a photo

    path = Path(path)
    try:
        with Image.open(path) as image:
            exif = image.getexif()
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: photo not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise FieldtoolError(f"{path}: not a readable image ({exc})") from None
    return _gps_fix(exif, exif.get_ifd(0x8825))


def _gps_fix(exif: Exif, gps: Mapping[int, object]) -> tuple[Fix | None, str]:
    """The GPS block as a Fix and its clock (see :func:`read_exif_fix`)."""
    if not gps or 2 not in gps or 4 not in gps:
        return None, "utc"
    lat, lon = _dms(gps[2], gps.get(1, "N")), _dms(gps[4], gps.get(3, "E"))
    if lat is None or lon is None:
        return None, "utc"
    alt = None
    if 6 in gps:
        try:
            alt = _rational(gps[6]) * (-1.0 if gps.get(5) in (1, b"\x01") else 1.0)
        except (TypeError, ValueError, ZeroDivisionError):
            alt = None
    acc = None
    for tag, factor in ((31, 1.0), (11, UERE_M)):
        if tag in gps:
            try:
                acc = _rational(gps[tag]) * factor
                break
            except (TypeError, ValueError, ZeroDivisionError):
                continue
    when, clock = _exif_time(exif, gps)
    if when is None:
        return None, clock
    return Fix(when, lat, lon, elevation_m=alt, accuracy_m=acc), clock


def _exif_time(exif: Exif, gps: Mapping[int, object]) -> tuple[datetime | None, str]:
    if 29 in gps and 7 in gps:
        try:
            day = datetime.strptime(str(gps[29]).strip(), "%Y:%m:%d")
            h, m, s = _triple(gps[7])
            return day + timedelta(hours=h, minutes=m, seconds=s), "utc"
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    sub: Mapping[int, object] = exif.get_ifd(0x8769)
    text = sub.get(0x9003) or exif.get(0x0132)
    if not text:
        return None, "utc"
    try:
        when = datetime.strptime(str(text).strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, "utc"
    zone = sub.get(0x9011)
    offset = _OFFSET_RE.fullmatch(str(zone).strip()) if zone else None
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        return when - sign * delta, "utc"
    return when, "local"


def read_exif(path: str | Path) -> TrackRead:
    """A one-fix track from a photo's EXIF GPS block."""
    path = Path(path)
    fix, clock = read_exif_fix(path)
    if fix is None:
        raise FieldtoolError(f"{path}: no EXIF GPS position with a time in the photo")
    return finish_track(path, "exif", [fix], {}, clock=clock)
