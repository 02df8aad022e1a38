"""EXIF GPS reference tags (GPSLatitudeRef, GPSLongitudeRef, GPSAltitudeRef): EXIF rationals
are unsigned, so the hemisphere is only in the ref; without one it is unknown, not north/east."""

from __future__ import annotations

import pytest
from PIL import Image

from fieldtool.tracks.exif import photo_exif

_LAT = (44.0, 33.0, 36.0)  # 44.56
_LON = (123.0, 17.0, 60.0)  # 123.3 (W in Oregon)


def _read(tmp_path, gps: dict[int, object]):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:06:01 10:00:00"
    exif[0x8825] = gps
    path = tmp_path / "p.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    with Image.open(path) as image:
        return photo_exif(image.getexif())


@pytest.mark.parametrize("gps", [
    {2: _LAT, 4: _LON},  # neither ref
    {1: "N", 2: _LAT, 4: _LON},  # no GPSLongitudeRef
    {2: _LAT, 3: "W", 4: _LON},  # no GPSLatitudeRef
    {1: "N", 2: _LAT, 3: "X", 4: _LON},  # a ref that is no hemisphere
    {1: "E", 2: _LAT, 3: "W", 4: _LON},  # a longitude ref on the latitude
])  # fmt: skip
def test_gps_without_a_hemisphere_is_no_place_and_says_why(tmp_path, gps) -> None:
    read = _read(tmp_path, gps)
    assert read.place is None and read.elevation_m is None
    assert read.gps_problem is not None
    assert "without N/S/E/W reference" in read.gps_problem and "hemisphere" in read.gps_problem


def test_gps_with_refs_is_signed_by_them(tmp_path) -> None:
    read = _read(tmp_path, {1: "S", 2: _LAT, 3: "W", 4: _LON})
    assert read.place is not None and read.gps_problem is None
    assert read.place.lat == pytest.approx(-44.56) and read.place.lon == pytest.approx(-123.3)
    read = _read(tmp_path, {1: "N", 2: _LAT, 3: "E", 4: _LON})
    assert read.place is not None
    assert read.place.lat == pytest.approx(44.56) and read.place.lon == pytest.approx(123.3)


def test_a_ref_less_axis_at_zero_is_unambiguous(tmp_path) -> None:
    read = _read(tmp_path, {1: "N", 2: _LAT, 4: (0.0, 0.0, 0.0)})  # on the prime meridian
    assert read.place is not None and read.gps_problem is None
    assert read.place.lat == pytest.approx(44.56) and read.place.lon == 0.0


def test_altitude_ref_absent_is_above_sea_level_as_exif_defines(tmp_path) -> None:
    gps = {1: "N", 2: _LAT, 3: "W", 4: _LON, 6: 12.5}
    assert _read(tmp_path, gps).elevation_m == pytest.approx(12.5)  # EXIF: default 0, above
    assert _read(tmp_path, {**gps, 5: b"\x01"}).elevation_m == pytest.approx(-12.5)
    assert _read(tmp_path, {**gps, 5: b"\x00"}).elevation_m == pytest.approx(12.5)


def test_gps_time_without_its_date_is_no_gps_time(tmp_path) -> None:
    gps = {1: "N", 2: _LAT, 3: "W", 4: _LON, 7: (16.0, 59.0, 0.0)}  # no GPSDateStamp
    read = _read(tmp_path, gps)
    assert read.gps_time is None and read.place is not None  # not "today", not 1970


def test_a_photo_without_refs_is_no_one_fix_track_and_the_error_says_why(tmp_path) -> None:
    from fieldtool.tracks import read_exif, read_exif_fix
    from fieldtool.types import FieldtoolError

    _read(tmp_path, {2: _LAT, 4: _LON})  # writes tmp_path / "p.jpg"
    assert read_exif_fix(tmp_path / "p.jpg")[0] is None
    with pytest.raises(FieldtoolError, match="hemisphere unknown"):
        read_exif(tmp_path / "p.jpg")
