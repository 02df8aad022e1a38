"""A photo's EXIF: its place does not need its time; (0, 0) is no place."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from fieldtool.tracks import read_exif_fix
from fieldtool.tracks.exif import photo_exif

_GPS = {1: "N", 2: (44.0, 33.0, 36.36), 3: "W", 4: (123.0, 17.0, 59.64)}


def _exif(taken: str | None, gps: dict[int, object]) -> Image.Exif:
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
    exif[0x8825] = gps
    return exif


def _saved(tmp_path: Path, exif: Image.Exif) -> Path:
    path = tmp_path / "p.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    return path


@pytest.mark.parametrize("taken", ["0000:00:00 00:00:00", "    :  :     :  :  ", None])
def test_a_photo_without_a_valid_time_keeps_its_gps_place(tmp_path, taken) -> None:
    read = photo_exif(Image.open(_saved(tmp_path, _exif(taken, dict(_GPS)))).getexif())
    assert read.taken is None and read.gps_time is None
    assert read.place is not None
    assert read.place.lat == pytest.approx(44.5601) and read.place.lon == pytest.approx(-123.2999)
    assert read.place.source == "exif"
    assert read.taken_text == (taken.strip() if taken else None)  # what was written, said


def test_gps_time_is_read_beside_the_camera_clock(tmp_path) -> None:
    gps = {**_GPS, 29: "2026:06:01", 7: (16.0, 59.0, 0.0)}
    read = photo_exif(Image.open(_saved(tmp_path, _exif("2026:06:01 10:00:00", gps))).getexif())
    assert read.gps_time == datetime(2026, 6, 1, 16, 59, 0)
    assert read.taken == datetime(2026, 6, 1, 10, 0, 0)


def test_gps_before_1980_is_no_gps_time(tmp_path) -> None:
    gps = {**_GPS, 29: "1970:01:01", 7: (0.0, 0.0, 0.0)}
    read = photo_exif(Image.open(_saved(tmp_path, _exif("2026:06:01 10:00:00", gps))).getexif())
    assert read.gps_time is None and read.place is not None


def test_gps_zero_zero_is_no_fix_and_says_why(tmp_path) -> None:
    gps = {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0), 29: "2026:06:01",
           7: (16.0, 59.0, 0.0)}  # fmt: skip
    path = _saved(tmp_path, _exif("2026:06:01 10:00:00", gps))
    read = photo_exif(Image.open(path).getexif())
    assert read.place is None and read.gps_problem is not None and "0, 0" in read.gps_problem
    assert read_exif_fix(path)[0] is None  # nor as a one-fix track
