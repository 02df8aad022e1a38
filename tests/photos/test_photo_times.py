"""Time and place of photos where the camera's clock, its GPS and a track disagree or are
missing (docs/time.md, docs/photos.md): the silent errors a new-user trial found."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from fieldtool.cli import main
from fieldtool.photos import PhotoSource
from fieldtool.types import Fix
from tests.photos.conftest import data_strip, make_photo

WALK_START = datetime(2026, 6, 1, 9, 0, 0)  # UTC; 02:00 PDT in Oregon
OREGON = (44.56, -123.30)


def _gpx(path: Path, start: datetime = WALK_START, seconds: int = 75) -> Path:
    """A walk in Oregon, one fix a second, in UTC (as GPX is)."""
    points = "".join(
        f'<trkpt lat="{OREGON[0] + i * 1e-5:.7f}" lon="{OREGON[1]:.7f}"><time>'
        f"{(start + timedelta(seconds=i)).isoformat()}Z</time></trkpt>"
        for i in range(seconds + 1)
    )
    path.write_text('<?xml version="1.0"?><gpx version="1.1" '
                    'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
                    f"{points}</trkseg></trk></gpx>", encoding="utf-8")  # fmt: skip
    return path


def _walk_fixes() -> list[Fix]:
    return [Fix(WALK_START + timedelta(seconds=i), OREGON[0], OREGON[1]) for i in range(76)]


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _raw_photo(path: Path, taken: str | None, gps: dict[int, object] | None) -> Path:
    """A JPEG with DateTimeOriginal written as given (even when it is no time)."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
    if gps is not None:
        exif[0x8825] = gps
    path.parent.mkdir(parents=True, exist_ok=True)
    data_strip(Image.new("RGB", (32, 24), (90, 120, 60)), taken, gps).save(path, exif=exif)
    return path


_GPS_CORVALLIS = {1: "N", 2: (IFDRational(44), IFDRational(33), IFDRational(3636, 100)),
                  3: "W", 4: (IFDRational(123), IFDRational(17), IFDRational(59640, 1000))}  # fmt: skip


# ------------------------------------------------------------- 1: zone from the track


def test_a_local_clock_without_a_place_takes_the_zone_of_the_tracks_position(tmp_path) -> None:
    photo = make_photo(tmp_path / "p.jpg", taken=datetime(2026, 6, 1, 2, 0, 5))
    lines: list[str] = []
    p = PhotoSource([photo], track=_walk_fixes(), log=lines.append).photos[0]
    assert p.zone == "America/Los_Angeles" and p.time_source == "exif-zone"
    assert p.captured_at == datetime(2026, 6, 1, 9, 0, 5)  # 02:00:05 PDT
    assert any("America/Los_Angeles" in line and "track" in line for line in lines), lines
    # the photo's own place and --tz still come first
    madrid = make_photo(tmp_path / "m.jpg", taken=datetime(2026, 6, 1, 2, 0, 5),
                        gps=(40.4168, -3.7038))  # fmt: skip
    assert PhotoSource([madrid], track=_walk_fixes()).photos[0].zone == "Europe/Madrid"
    by_tz = PhotoSource([photo], tz="Asia/Tokyo", track=_walk_fixes()).photos[0]
    assert by_tz.zone == "Asia/Tokyo"


def test_photos_with_a_gpx_are_placed_in_the_tracks_zone_and_the_rest_said(
    tmp_path, capsys, tiny_model_dir
) -> None:
    folder = tmp_path / "ph"
    for name, taken in (("p1", "2026:06:01 02:00:05"), ("p2", "2026:06:01 02:00:40"),
                        ("p3", "2026:06:01 09:00:40")):  # p3: 7 h after the walk  # fmt: skip
        _raw_photo(folder / f"{name}.jpg", taken, None)
    db = tmp_path / "x.duckdb"
    code = main(["run", str(folder), "--gpx", str(_gpx(tmp_path / "walk.gpx")), "--db", str(db),
                 "--model", str(tiny_model_dir), "--no-snapshots", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    media = _rows(db, "SELECT frame_index, path, captured_at FROM media ORDER BY frame_index")
    names = {Path(m[1]).stem: m[0] for m in media}
    assert [m[2] for m in media] == [datetime(2026, 6, 1, 9, 0, 5), datetime(2026, 6, 1, 9, 0, 40),
                                     datetime(2026, 6, 1, 16, 0, 40)]  # fmt: skip
    placed = dict(_rows(db, "SELECT frame_index, latitude FROM detections"))
    assert placed[names["p1"]] is not None and placed[names["p2"]] is not None
    assert placed[names["p3"]] is None  # outside the walk: not placed on it
    assert _rows(db, "SELECT time_zone, time_zone_known FROM sessions") == [
        ("America/Los_Angeles", True)
    ]
    assert "unknown zone" not in err and "no place" not in err
    assert "zone America/Los_Angeles (from the track's position" in err
    [overlap] = [line for line in err.splitlines() if "outside the track" in line]
    assert "warning" in overlap and "1 of 3" in overlap and "p3.jpg" in overlap, overlap
    assert "--time-offset" in overlap


def test_a_photo_session_reads_its_track_once(tmp_path, monkeypatch, tiny_model_dir) -> None:
    """A day's NMEA log is read in seconds: the photos' zone and the session's positions
    come from one reading of it."""
    import fieldtool.photos.session
    import fieldtool.tracks.read

    calls: list[str] = []
    real = fieldtool.tracks.read.read_track

    def counted(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    for module in (fieldtool.tracks.read, fieldtool.photos.session):
        monkeypatch.setattr(module, "read_track", counted)
    _raw_photo(tmp_path / "ph" / "p1.jpg", "2026:06:01 02:00:05", None)
    gpx = _gpx(tmp_path / "walk.gpx")
    db = tmp_path / "x.duckdb"
    code = main(["run", str(tmp_path / "ph"), "--gpx", str(gpx), "--db", str(db),
                 "--model", str(tiny_model_dir), "--no-snapshots", "--quiet"])  # fmt: skip
    assert code == 0
    assert calls == [str(gpx)]
    assert _rows(db, "SELECT count(latitude) FROM detections") == [(1,)]


# ---------------------------------------------------------------- 2: GPS time first


def test_gps_time_comes_before_the_camera_clock_and_a_disagreement_is_said(tmp_path) -> None:
    trial = make_photo(tmp_path / "trial.jpg", taken=datetime(2026, 6, 1, 10, 0, 0),
                       gps=(44.5601, -123.2999), gps_time=datetime(2026, 6, 1, 16, 59, 0))  # fmt: skip
    p = PhotoSource([trial]).photos[0]  # camera 10:00:00 PDT = 17:00:00 UTC
    assert p.captured_at == datetime(2026, 6, 1, 16, 59, 0)
    assert p.time_source == "exif-gps" and p.zone == "UTC"
    off = make_photo(tmp_path / "off.jpg", taken=datetime(2026, 6, 1, 10, 0, 0),
                     gps=(44.5601, -123.2999), gps_time=datetime(2026, 6, 1, 16, 58, 0))  # fmt: skip
    lines: list[str] = []
    p = PhotoSource([off], log=lines.append).photos[0]
    assert p.captured_at == datetime(2026, 6, 1, 16, 58, 0)
    [said] = [line for line in lines if "off.jpg" in line]
    assert "GPS" in said and "120 s ahead" in said, said  # more than a minute off: said
    agree = make_photo(tmp_path / "agree.jpg", taken=datetime(2026, 6, 1, 10, 0, 0),
                       gps=(44.5601, -123.2999), gps_time=datetime(2026, 6, 1, 17, 0, 20))  # fmt: skip
    lines.clear()
    p = PhotoSource([agree], log=lines.append).photos[0]
    assert p.captured_at == datetime(2026, 6, 1, 17, 0, 20) and p.time_source == "exif-gps"
    assert not [line for line in lines if "agree.jpg" in line]
    lines.clear()  # a camera clock never set is no clock to compare: the file's time is not
    gps = {**_GPS_CORVALLIS, 29: "2026:06:01",
           7: (IFDRational(16), IFDRational(59), IFDRational(0))}  # fmt: skip
    unset = _raw_photo(tmp_path / "unset.jpg", "0000:00:00 00:00:00", gps)
    p = PhotoSource([unset], log=lines.append).photos[0]
    assert p.captured_at == datetime(2026, 6, 1, 16, 59, 0) and p.time_source == "exif-gps"
    assert not [line for line in lines if "differ" in line], lines


def test_an_implausible_gps_time_is_not_used(tmp_path) -> None:
    gps = {**_GPS_CORVALLIS, 29: "1970:01:01", 7: (IFDRational(0), IFDRational(0),
                                                   IFDRational(0))}  # fmt: skip
    path = _raw_photo(tmp_path / "p.jpg", "2026:06:01 10:00:00", gps)
    p = PhotoSource([path]).photos[0]  # before GPS time began: a receiver without a clock
    assert p.time_source == "exif-zone" and p.captured_at == datetime(2026, 6, 1, 17, 0, 0)


# ------------------------------------------------- 3: no valid time keeps the position


def test_an_unset_camera_clock_keeps_the_photos_gps_position(tmp_path) -> None:
    unset = _raw_photo(tmp_path / "unset.jpg", "0000:00:00 00:00:00", dict(_GPS_CORVALLIS))
    blank = _raw_photo(tmp_path / "blank.jpg", "    :  :     :  :  ", dict(_GPS_CORVALLIS))
    lines: list[str] = []
    photos = PhotoSource([unset, blank], log=lines.append).photos
    for p in photos:
        assert p.time_source == "file-mtime"
        assert p.own_position is not None and p.position == p.own_position
        assert (round(p.own_position.lat, 4), round(p.own_position.lon, 4)) == (44.5601, -123.2999)
    [said] = [line for line in lines if "no time" in line]
    assert "unset.jpg" in said and "0000:00:00 00:00:00" in said and "position" in said, said


# ------------------------------------------------------------- 4: (0, 0) is no fix


def test_gps_zero_zero_is_no_position_and_no_zone_and_is_said(tmp_path) -> None:
    path = make_photo(tmp_path / "null.jpg", taken=datetime(2026, 6, 1, 10, 0, 0), gps=(0.0, 0.0))
    lines: list[str] = []
    p = PhotoSource([path], log=lines.append).photos[0]
    assert p.own_position is None and p.position is None
    assert p.zone is None and p.time_source == "exif-local"  # not Africa/Lagos nor Etc/GMT
    [said] = [line for line in lines if "null.jpg" in line]
    assert "0, 0" in said and "warning" in said, said


# ------------------------------------------------------------ 5: the session's zone


def test_the_sessions_zone_is_the_zone_its_photos_were_converted_from(tmp_path) -> None:
    pdt = [make_photo(tmp_path / f"o{n}.jpg", taken=datetime(2026, 6, 1, 2, 0, n),
                      offset="-07:00") for n in range(2)]  # fmt: skip
    source = PhotoSource(pdt)
    assert {p.zone for p in source.photos} == {"-07:00"}
    assert source.time_basis().zone == "-07:00" and source.time_basis().zone_known
    local = make_photo(tmp_path / "l.jpg", taken=datetime(2026, 6, 1, 2, 0, 5))
    gps = make_photo(tmp_path / "g.jpg", taken=datetime(2026, 6, 1, 2, 0, 9),
                     gps=(44.5601, -123.2999), gps_time=datetime(2026, 6, 1, 9, 0, 9))  # fmt: skip
    mixed = PhotoSource([local, gps], tz="America/Los_Angeles")
    assert {p.time_source for p in mixed.photos} == {"exif-zone", "exif-gps"}
    assert mixed.time_basis().zone == "America/Los_Angeles"  # GPS time was UTC already
    two = PhotoSource([local, pdt[0]], tz="Europe/Madrid")
    assert two.time_basis().zone == "UTC"  # two zones: the stored times are UTC


def test_a_photo_dated_only_by_exif_datetime_is_said(tmp_path):
    """EXIF DateTime (IFD0) is when the file was last changed (an editor's export sets it):
    a photo without DateTimeOriginal is still dated by it, but the log names it, so an
    edit date is not taken silently for the day it was taken."""
    folder = tmp_path / "edited"
    folder.mkdir()
    make_photo(folder / "original.jpg", taken=datetime(2022, 8, 1, 9, 0, 0))
    exif = Image.Exif()
    exif[0x0132] = "2022:08:16 12:27:55"  # DateTime only
    Image.new("RGB", (64, 48)).save(folder / "exported.jpg", exif=exif)
    lines: list[str] = []
    source = PhotoSource(sorted(folder.iterdir()), place=(44.5, -123.3), log=lines.append)
    exported = next(p for p in source.photos if p.path.name == "exported.jpg")
    assert exported.captured_at.date().isoformat() == "2022-08-16"  # still dated by it
    (line,) = [x for x in lines if "DateTimeOriginal" in x]
    assert line.startswith("warning: 1 photo(s)") and "exported.jpg" in line
    assert "original.jpg" not in line and "last changed" in line


def test_a_byte_identical_copy_in_the_set_counts_once(tmp_path):
    """A card's DCIM folder copied twice into the folder run: each photo once (the first
    by path), the copies named in one warning and in the skipped list."""
    folder = tmp_path / "card"
    (folder / "backup").mkdir(parents=True)
    for n in range(3):
        make_photo(folder / f"IMG_{n}.jpg", colour=n, taken=datetime(2026, 6, 1, 9, 0, n))
    for n in (0, 2):
        (folder / "backup" / f"IMG_{n}.jpg").write_bytes((folder / f"IMG_{n}.jpg").read_bytes())
    lines: list[str] = []
    paths = sorted(p for p in folder.rglob("*.jpg"))
    source = PhotoSource(paths, place=(44.5, -123.3), log=lines.append)
    assert sorted(p.path.name for p in source.photos) == ["IMG_0.jpg", "IMG_1.jpg", "IMG_2.jpg"]
    assert {p.path.parent for p in source.photos} == {folder}  # the first by path kept
    (line,) = [x for x in lines if "copies" in x]
    assert line.startswith("warning: 2 photo(s) are byte-identical copies") and "left out" in line
    assert len(source.skipped) == 2 and all("copy of" in why for _, why in source.skipped)
