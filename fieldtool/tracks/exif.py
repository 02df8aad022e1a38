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

from fieldtool.tracks.base import GPS_EPOCH, UERE_M, TrackRead, finish_track, valid_fix
from fieldtool.types import FieldtoolError, Fix, Position

if TYPE_CHECKING:
    import PIL.Image
    from PIL.Image import Exif

# iPhones' photos: read through pillow-heif (the ``heic`` extra), where it is installed
HEIF_SUFFIXES = (".heic", ".heif")
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


NO_HEMISPHERE = "EXIF GPS without N/S/E/W reference (hemisphere unknown)"


def _dms(value: object) -> float | None:
    """Degrees, minutes, seconds as degrees (unsigned, as EXIF writes them); None unreadable."""
    try:
        d, m, s = _triple(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return abs(d + m / 60.0 + s / 3600.0)


def _signed(degrees: float, ref: object, hemispheres: str) -> float | None:
    """``degrees`` signed by its ref (``"NS"`` or ``"EW"``: the second is negative). EXIF
    rationals are unsigned and the ref has no default, so without a ref (or with one that
    is no hemisphere of this axis) the sign is unknown: None, unless the value is 0."""
    hemisphere = _text(ref).upper()[:1] if ref is not None else ""
    if hemisphere == hemispheres[1]:
        return -degrees
    if hemisphere == hemispheres[0] or degrees == 0:
        return degrees
    return None


@dataclass(frozen=True, slots=True)
class PhotoExif:
    """What a photo's EXIF says about when, where and with what it was taken.

    ``taken``: DateTimeOriginal (else DateTime, ``taken_changed``: when the file was last
    changed, which an editor's export sets) with SubSecTimeOriginal, as written (the
    camera's clock); ``offset``: OffsetTimeOriginal (else OffsetTime), the clock's offset
    from UTC, None when not written. ``taken_text``: the DateTimeOriginal written when it
    is no time (``0000:00:00 00:00:00`` from a clock never set, blank), else None.
    ``place``: the GPS block's position (``source`` ``exif``, accuracy in m), with or
    without any time: None without a GPS block or with an implausible one (then
    ``gps_problem`` says why, e.g. 0, 0, or no N/S/E/W reference: EXIF
    rationals are unsigned, so the hemisphere is unknown). ``gps_time``: GPSDateStamp + GPSTimeStamp (UTC),
    None when absent or not a time after GPS time began (1980-01-06).
    ``orientation``: the EXIF Orientation tag, 1 (upright) to 8.
    """

    taken: datetime | None = None
    offset: timedelta | None = None
    place: Position | None = None
    gps_time: datetime | None = None
    orientation: int = 1
    make: str = ""
    model: str = ""
    serial: str = ""
    taken_text: str | None = None
    gps_problem: str | None = None
    elevation_m: float | None = None  # m above sea level, with ``place``
    # ``taken`` is IFD0 DateTime, when the file was last changed (no DateTimeOriginal)
    taken_changed: bool = False

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


def _taken(exif: Exif, sub: Mapping[int, object]) -> tuple[datetime | None, str | None, bool]:
    """(DateTimeOriginal, else DateTime, as a time; the text written when neither is one;
    whether the time is DateTime's: when the file was last changed)."""
    unreadable = None
    for raw, changed in ((sub.get(0x9003), False), (exif.get(0x0132), True)):
        if raw is None:
            continue
        try:
            return datetime.strptime(_text(raw), "%Y:%m:%d %H:%M:%S"), None, changed
        except ValueError:
            unreadable = _text(raw) if unreadable is None else unreadable
    return None, unreadable, False


def _gps_time(gps: Mapping[int, object]) -> datetime | None:
    """GPSDateStamp + GPSTimeStamp (UTC); None when absent, no time, or before GPS time
    began (a receiver that never had a fix writes 1970 or 0000)."""
    if 29 not in gps or 7 not in gps:
        return None
    try:
        day = datetime.strptime(_text(gps[29]), "%Y:%m:%d")
        h, m, s = _triple(gps[7])
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):  # NaN fails too
        return None
    when = day + timedelta(hours=h, minutes=m, seconds=s)
    return when if when >= GPS_EPOCH else None


def _place_problem(lat: float, lon: float) -> str | None:
    """Why a GPS block's position is no place, by the tracks' one rule (:func:`valid_fix`:
    finite, in range, not exactly 0, 0); None when it is one."""
    if valid_fix(Fix(GPS_EPOCH, lat, lon)):  # the rule looks at the place; any time will do
        return None
    if lat == 0 and lon == 0:
        return "EXIF GPS 0, 0 (a receiver without a fix, not a place)"
    return f"EXIF GPS {lat:g}, {lon:g} is not a place"


def _gps_place(
    gps: Mapping[int, object],
) -> tuple[Position | None, float | None, str | None]:
    """(position, elevation in m, why there is none) of a GPS block; the elevation (m above
    sea level, negative below) is the position's too, so a photo's own place keeps it."""
    if not gps or 2 not in gps or 4 not in gps:
        return None, None, None
    lat, lon = _dms(gps[2]), _dms(gps[4])
    if lat is None or lon is None:
        return None, None, "EXIF GPS latitude/longitude unreadable"
    lat, lon = _signed(lat, gps.get(1), "NS"), _signed(lon, gps.get(3), "EW")
    if lat is None or lon is None:  # not north and east by default: China for Oregon
        return None, None, NO_HEMISPHERE
    problem = _place_problem(lat, lon)
    if problem is not None:
        return None, None, problem
    alt = None
    if 6 in gps:
        try:
            # GPSAltitudeRef 1: below sea level; absent: 0, above (EXIF 2.3 gives it that
            # default, unlike the latitude/longitude refs, which have none)
            alt = _rational(gps[6]) * (-1.0 if gps.get(5) in (1, b"\x01") else 1.0)
        except (TypeError, ValueError, ZeroDivisionError):
            alt = None
        if alt is not None and not math.isfinite(alt):  # a zero denominator: no altitude
            alt = None
    acc = None
    for tag, factor in ((31, 1.0), (11, UERE_M)):
        if tag in gps:
            try:
                acc = _rational(gps[tag]) * factor
                break
            except (TypeError, ValueError, ZeroDivisionError):
                continue
    return Position(lat, lon, acc, "exif", alt), alt, None


def photo_exif(exif: Exif) -> PhotoExif:
    """The time, place, orientation and camera in an image's EXIF (Pillow's ``getexif()``);
    unreadable or absent tags are left at their defaults. The place is read whatever the
    times say: a photo's place does not need its time."""
    sub: Mapping[int, object] = exif.get_ifd(0x8769)
    taken, taken_text, changed = _taken(exif, sub)
    subsec = _text(sub.get(0x9291) or sub.get(0x9290))
    if taken is not None and subsec.isdigit():
        taken += timedelta(seconds=int(subsec) / 10 ** len(subsec))
    offset = _offset(sub.get(0x9011) or sub.get(0x9010))
    gps: Mapping[int, object] = exif.get_ifd(0x8825)
    place, elevation, problem = _gps_place(gps)
    try:
        orientation = int(_number(exif.get(0x0112, 1)))
    except (TypeError, ValueError):
        orientation = 1
    return PhotoExif(
        taken, offset, place, _gps_time(gps) if gps else None,
        orientation if 1 <= orientation <= 8 else 1,
        _text(exif.get(0x010F)), _text(exif.get(0x0110)), _text(sub.get(0xA431)),
        taken_text, problem, elevation, changed,
    )  # fmt: skip


def read_exif_fix(path: str | Path) -> tuple[Fix | None, str]:
    """The GPS position of a photo as a Fix, and its clock ("utc" or "local").

    Time: GPSDateStamp + GPSTimeStamp (UTC), else DateTimeOriginal with
    OffsetTimeOriginal (UTC), else DateTimeOriginal as the camera's local clock. Accuracy:
    GPSHPositioningError, else GPSDOP × ``UERE_M``. None when the photo has no plausible
    GPS position (none, 0, 0) or no time (a fix needs one; :func:`photo_exif` keeps the
    place without).
    """
    return _gps_fix(_read_photo(Path(path)))


def heif_readable() -> bool:
    """Whether HEIC/HEIF photos can be read here (the ``heic`` extra: pillow-heif)."""
    try:
        import pillow_heif  # noqa: F401  (installed: a look-up in sys.modules after the first)
    except ImportError:
        return False
    return True


def open_image(path: Path) -> PIL.Image.Image:
    """Pillow's image of a photo file; a HEIC/HEIF one through pillow-heif (its opener is
    registered with Pillow here, where it is needed). FieldtoolError for a HEIC photo
    without it; OSError / ``UnidentifiedImageError`` as Pillow raises them."""
    from PIL import Image  # heavy, optional: only to read a photo

    if path.suffix.lower() in HEIF_SUFFIXES:
        try:
            import pillow_heif
        except ImportError:
            raise FieldtoolError(f"{path}: a HEIC photo: pip install 'fieldtool[heic]' "
                                 "(pillow-heif), or convert it to JPEG") from None  # fmt: skip
        pillow_heif.register_heif_opener()  # idempotent
    return Image.open(path)


def _read_photo(path: Path) -> PhotoExif:
    from PIL import UnidentifiedImageError  # heavy, optional: only to read a photo

    try:
        with open_image(path) as image:
            exif = image.getexif()
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: photo not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise FieldtoolError(f"{path}: not a readable image ({exc})") from None
    return photo_exif(exif)


def _gps_fix(read: PhotoExif) -> tuple[Fix | None, str]:
    """The GPS place as a Fix and its clock (see :func:`read_exif_fix`)."""
    place = read.place
    if place is None:
        return None, "utc"
    if read.gps_time is not None:
        when, clock = read.gps_time, "utc"
    elif read.taken_utc is not None:
        when, clock = read.taken_utc, "utc"
    elif read.taken is not None:
        when, clock = read.taken, "local"
    else:
        return None, "utc"
    return Fix(when, place.lat, place.lon, read.elevation_m, place.accuracy_m), clock


def read_exif(path: str | Path) -> TrackRead:
    """A one-fix track from a photo's EXIF GPS block."""
    path = Path(path)
    read = _read_photo(path)
    fix, clock = _gps_fix(read)
    if fix is None:
        why = f" ({read.gps_problem})" if read.gps_problem else ""
        raise FieldtoolError(f"{path}: no EXIF GPS position with a time in the photo{why}")
    return finish_track(path, "exif", [fix], {}, clock=clock)
