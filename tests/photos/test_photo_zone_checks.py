"""Silent time/place errors of photo sessions a new-user trial found (docs/time.md): EXIF GPS
without its N/S/E/W reference, and ``--tz`` that disagrees with the place or the EXIF offsets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
from PIL import Image

from fieldtool.cli import main
from fieldtool.photos import PhotoSource
from tests.photos.conftest import data_strip, make_photo

OREGON = (44.56, -123.3)
_LAT, _LON = (44.0, 33.0, 36.0), (123.0, 17.0, 60.0)  # 44.56, 123.3


def _gps_photo(path: Path, gps: dict[int, object], taken: str = "2026:06:01 10:00:00") -> Path:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken
    exif[0x8825] = gps
    path.parent.mkdir(parents=True, exist_ok=True)
    data_strip(Image.new("RGB", (32, 24), (90, 120, 60)), taken, gps).save(path, exif=exif)
    return path


# ------------------------------------------------- 1: GPS without N/S/E/W reference


def test_gps_without_refs_is_not_the_photos_place_nor_its_zone_and_is_said(tmp_path) -> None:
    noref = _gps_photo(tmp_path / "noref.jpg", {2: _LAT, 4: _LON})
    withref = _gps_photo(tmp_path / "withref.jpg", {1: "N", 2: _LAT, 3: "W", 4: _LON})
    lines: list[str] = []
    source = PhotoSource([noref, withref], place=OREGON, log=lines.append)
    by = {p.path.name: p for p in source.photos}
    # not China: no own position, so the session's (--lat/--lon) places it
    assert by["noref.jpg"].own_position is None and by["noref.jpg"].position is None
    assert by["withref.jpg"].own_position is not None
    for p in by.values():  # 10:00 PDT, zone from the place both are at: one event
        assert p.zone == "America/Los_Angeles" and p.captured_at == datetime(2026, 6, 1, 17)
    assert by["noref.jpg"].event_id == by["withref.jpg"].event_id
    [said] = [line for line in lines if "noref.jpg" in line]
    assert said.startswith("warning: 1 photo(s)") and "without N/S/E/W reference" in said
    assert "hemisphere unknown" in said and "withref.jpg" not in said, said


# ------------------------------------------------ 2: --tz against the place and EXIF


def _traps(tmp_path: Path) -> list[Path]:
    """cam_01 without an offset, cam_02 with -07:00: both in Oregon at 10:00 local."""
    return [make_photo(tmp_path / "cam_01" / f"a{i}.jpg", colour=i % 3,
                       taken=datetime(2026, 6, 1, 10, 0, i)) for i in range(3)] + [
        make_photo(tmp_path / "cam_02" / f"b{i}.jpg", colour=i % 3,
                   taken=datetime(2026, 6, 1, 10, 0, i), offset="-07:00") for i in range(2)
    ]  # fmt: skip


def test_tz_that_disagrees_with_the_place_and_the_exif_offsets_is_said(tmp_path) -> None:
    lines: list[str] = []
    source = PhotoSource(_traps(tmp_path), tz="Europe/Berlin", place=OREGON, log=lines.append)
    by = {p.path.name: p for p in source.photos}
    for name in ("b0.jpg", "b1.jpg"):  # an offset written in the photo wins over --tz
        assert by[name].time_source == "exif-offset" and by[name].zone == "-07:00"
        assert by[name].captured_at.hour == 17
    for name in ("a0.jpg", "a1.jpg", "a2.jpg"):  # --tz comes first for a local clock
        assert by[name].zone == "Europe/Berlin" and by[name].captured_at.hour == 8
    [place] = [line for line in lines if "America/Los_Angeles" in line]
    assert place.startswith("warning: ") and "--tz Europe/Berlin" in place
    assert "3 photo(s)" in place and "9 h" in place, place
    [offsets] = [line for line in lines if "-07:00" in line]
    assert offsets.startswith("warning: ") and "--tz Europe/Berlin" in offsets
    assert "2 photo(s)" in offsets and "3 photo(s)" in offsets, offsets


def test_tz_that_agrees_is_not_said(tmp_path) -> None:
    for tz in ("America/Los_Angeles", "-07:00"):  # same offset on the day: same times
        lines: list[str] = []
        source = PhotoSource(_traps(tmp_path), tz=tz, place=OREGON, log=lines.append)
        assert {p.captured_at.hour for p in source.photos} == {17}
        assert not [line for line in lines if "--tz" in line], lines
    lines = []  # nothing to disagree with: no place, no offsets
    alone = [make_photo(tmp_path / "x.jpg", taken=datetime(2026, 6, 1, 10))]
    PhotoSource(alone, tz="Europe/Berlin", log=lines.append)
    assert not [line for line in lines if "--tz" in line], lines


def test_the_run_says_both_disagreements(tmp_path, capsys, tiny_model_dir) -> None:
    _traps(tmp_path / "traps")
    db = tmp_path / "x.duckdb"
    code = main(["run", str(tmp_path / "traps"), "--tz", "Europe/Berlin", "--lat", "44.56",
                 "--lon", "-123.3", "--db", str(db), "--model", str(tiny_model_dir),
                 "--no-snapshots", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    warned = [line for line in err.splitlines() if "--tz Europe/Berlin" in line]
    assert len(warned) == 2 and all("warning" in line for line in warned), err
    with duckdb.connect(str(db), read_only=True) as con:
        hours = con.execute("SELECT time_source, hour(captured_at) FROM media").fetchall()
    assert sorted(set(hours)) == [("exif-offset", 17), ("exif-zone", 8)]


# ------------------------------------ 3: a camera's clock across a daylight saving change

BRUSSELS = (50.85, 4.35)  # Europe/Brussels: summer time from 2026-03-29 01:00 UTC


def test_a_cameras_photos_across_a_daylight_saving_change_are_said(tmp_path) -> None:
    """Trail cameras mostly keep one UTC offset all year. A deployment's photos with a
    local clock, converted by a zone that changes offset within them, are an hour off on
    one side of the change if the camera did not change with it: nothing can tell which,
    so the log says so, with the offset to give."""
    cam = [make_photo(tmp_path / "trap_07" / f"IMG_{i}.JPG", taken=when)
           for i, when in enumerate((datetime(2026, 3, 27, 12), datetime(2026, 3, 28, 12),
                                     datetime(2026, 3, 30, 12)))]  # fmt: skip
    lines: list[str] = []
    source = PhotoSource(cam, place=BRUSSELS, log=lines.append)
    assert [p.captured_at.hour for p in source.photos] == [11, 11, 10]  # +01:00, +01:00, +02:00
    said = [line for line in lines if "daylight saving" in line]
    assert len(said) == 1, lines
    assert "3 photo(s)" in said[0] and "trap_07" in said[0] and "Europe/Brussels" in said[0]
    assert "+01:00" in said[0] and "+02:00" in said[0] and "--tz" in said[0]


def test_photos_on_one_side_of_a_change_or_with_offsets_say_nothing(tmp_path) -> None:
    winter = [make_photo(tmp_path / "trap_08" / f"IMG_{i}.JPG", taken=datetime(2026, 3, 2 + i, 12))
              for i in range(3)]  # fmt: skip
    written = [make_photo(tmp_path / "trap_09" / f"IMG_{i}.JPG", offset="+01:00",
                          taken=datetime(2026, 3, 27 + 2 * i, 12)) for i in range(2)]  # fmt: skip
    fixed = [make_photo(tmp_path / "trap_10" / f"IMG_{i}.JPG",
                        taken=datetime(2026, 3, 27 + 2 * i, 12)) for i in range(2)]  # fmt: skip
    lines: list[str] = []
    PhotoSource(winter + written, place=BRUSSELS, log=lines.append)
    PhotoSource(fixed, place=BRUSSELS, tz="+01:00", log=lines.append)  # the advice taken
    assert not [line for line in lines if "daylight saving" in line], lines


def test_photos_of_two_zones_in_one_folder_are_no_daylight_saving_change(tmp_path) -> None:
    """A review found: one folder of a traveller's photos, one in Denver and one in San
    Francisco, was said to span a daylight saving change, with advice (--tz -06:00) that
    would have moved the San Francisco photo an hour. Each zone is asked on its own."""
    photos = [make_photo(tmp_path / "trip" / "den.jpg", taken=datetime(2026, 6, 14, 12),
                         gps=(39.74, -104.99)),
              make_photo(tmp_path / "trip" / "sf.jpg", taken=datetime(2026, 6, 15, 12),
                         gps=(37.77, -122.42))]  # fmt: skip
    lines: list[str] = []
    PhotoSource(photos, log=lines.append)
    assert not [line for line in lines if "daylight saving" in line], lines


def test_photos_in_the_hour_repeated_when_summer_time_ends_are_said(tmp_path) -> None:
    """Defect: a local time in the hour that occurs twice (2026-10-25 02:00–03:00 in
    Brussels) was taken as the first of the two without a word: an hour off if the camera
    meant the second. Only those photos are named, with how they were taken."""
    fold = make_photo(tmp_path / "trap_11" / "IMG_1.JPG", taken=datetime(2026, 10, 25, 2, 30))
    clear = make_photo(tmp_path / "trap_11" / "IMG_2.JPG", colour=1,
                       taken=datetime(2026, 10, 25, 1, 30))  # fmt: skip
    lines: list[str] = []
    source = PhotoSource([fold, clear], place=BRUSSELS, log=lines.append)
    by = {p.path.name: p for p in source.photos}
    assert by["IMG_1.JPG"].captured_at == datetime(2026, 10, 25, 0, 30)  # the first: +02:00
    said = [line for line in lines if "occurs twice" in line]
    assert len(said) == 1, lines
    assert "1 photo(s)" in said[0] and "IMG_1.JPG" in said[0] and "IMG_2.JPG" not in said[0]
    assert "Europe/Brussels" in said[0] and "+02:00" in said[0] and "+01:00" in said[0]
    PhotoSource([fold], place=BRUSSELS, tz="+01:00", log=lines.append)  # an offset: one time
    assert len([line for line in lines if "occurs twice" in line]) == 1
