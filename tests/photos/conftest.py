"""Photos made in the tests: solid colours (the colour classifier reads them) with the EXIF
a camera or phone writes (Pillow writes EXIF: no piexif needed)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from tests.conftest import COLOURS, SHARED_DATA

RECONYX = SHARED_DATA / "camtrap_dp" / "example" / "media"
CAMTRAP_EXAMPLE = SHARED_DATA / "camtrap_dp" / "example"


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return IFDRational(degrees), IFDRational(minutes), IFDRational(round(seconds * 10000), 10000)


def data_strip(picture: Image.Image, *facts: object) -> Image.Image:
    """``picture`` with the data strip a camera burns into each photo (its time, ...): the
    last row's last 8 pixels from ``facts``, so two shots of one scene (a solid colour) are
    two pictures, as a camera's are (a photo is its picture: :mod:`fieldtool.photos.same`);
    the same facts, the same picture. The colour's mean moves by well under one level."""
    marks = hashlib.sha256(repr(facts).encode()).digest()
    out = picture.convert("RGB")
    width, height = out.size
    for n in range(min(8, width)):
        out.putpixel((width - 1 - n, height - 1), (marks[n],) * 3)
    return out


def make_photo(
    path: Path,
    *,
    colour: int | tuple[int, int, int] = 0,
    image: np.ndarray | None = None,
    size: tuple[int, int] = (64, 48),
    taken: datetime | None = None,
    offset: str | None = None,
    subsec: str | None = None,
    gps: tuple[float, float] | None = None,
    gps_time: datetime | None = None,
    orientation: int | None = None,
    make: str = "",
    model: str = "",
) -> Path:
    """A JPEG (or PNG/TIFF by suffix) of one colour (index into COLOURS, or BGR) or of
    ``image`` (BGR), with the EXIF tags given (``gps_time``: GPSDateStamp + GPSTimeStamp,
    UTC, written with ``gps``)."""
    if image is None:
        bgr = COLOURS[colour] if isinstance(colour, int) else colour
        image = np.full((size[1], size[0], 3), bgr, np.uint8)
    picture = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))
    if path.suffix.lower() in (".jpg", ".jpeg"):  # no picture of its own but its colour
        picture = data_strip(picture, taken, offset, subsec, gps, gps_time, orientation, make,
                             model)  # fmt: skip
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation is not None:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if taken is not None:
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if offset is not None:
        sub[0x9011] = offset
    if subsec is not None:
        sub[0x9291] = subsec
    if gps is not None:
        block = exif.get_ifd(0x8825)
        block[1] = "N" if gps[0] >= 0 else "S"
        block[2] = _dms(gps[0])
        block[3] = "E" if gps[1] >= 0 else "W"
        block[4] = _dms(gps[1])
        if gps_time is not None:
            block[29] = gps_time.strftime("%Y:%m:%d")
            block[7] = (IFDRational(gps_time.hour), IFDRational(gps_time.minute),
                        IFDRational(gps_time.second))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    picture.save(path, exif=exif, **extra)
    return path
