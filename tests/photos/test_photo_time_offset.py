"""``--time-offset`` over photos (docs/time.md, docs/photos.md): a camera clock that is off is
corrected in what is stored, and the track is looked up at the corrected time once; a photo
dated by its EXIF GPS time stamp (the satellites' clock) is not moved, and the log says so.
And a photo's own EXIF GPSAltitude is its position's elevation: stored and exported."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from fieldtool.config import load_config
from fieldtool.export import export
from fieldtool.pipeline import photo_placement, run_session
from fieldtool.store import SightingStore
from tests.conftest import ColourClassifier
from tests.photos.conftest import make_photo

WALK_START = datetime(2026, 6, 1, 9, 0, 0)  # UTC
LAT0, LON0 = 44.56, -123.30  # Oregon
LAT_PER_S = 1e-5  # the walk goes north this many degrees a second


def _gpx(path: Path, seconds: int = 1200) -> Path:
    """A 20-minute walk north, one fix every 10 s, in UTC (as GPX is)."""
    points = "".join(
        f'<trkpt lat="{LAT0 + i * LAT_PER_S:.7f}" lon="{LON0:.7f}"><time>'
        f"{(WALK_START + timedelta(seconds=i)).isoformat()}Z</time></trkpt>"
        for i in range(0, seconds + 1, 10)
    )
    path.write_text('<?xml version="1.0"?><gpx version="1.1" '
                    'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
                    f"{points}</trkseg></trk></gpx>", encoding="utf-8")  # fmt: skip
    return path


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _run(tmp_path: Path, folder: Path, labels, **settings: object) -> tuple[Path, list[str]]:
    """The photos run as ``fieldtool run`` sets them up (photo_placement: source, the
    config's positions, time basis); the database and the log's lines."""
    db = tmp_path / "s.duckdb"
    config = load_config(None, {"source.uri": str(folder), "store.db": str(db), **settings})
    config.store.snapshots = False
    lines: list[str] = []
    source, positions, basis = photo_placement(config, lines.append)
    run_session(source, ColourClassifier(labels), SightingStore(db), config,
                positions=positions, time_basis=basis, log=lines.append)  # fmt: skip
    return db, lines


def test_camera_clock_photos_are_stored_and_placed_at_their_time_plus_the_offset(
    tmp_path, labels
) -> None:
    folder = tmp_path / "ph"
    # a camera 5 minutes fast: its clock reads 09:10:00 (UTC offset written) at 09:05:00;
    # two photos 30 s apart: one event, one sighting
    camera = [WALK_START + timedelta(minutes=10), WALK_START + timedelta(minutes=10, seconds=30)]
    make_photo(folder / "a.jpg", colour=0, taken=camera[0], offset="+00:00")
    make_photo(folder / "b.jpg", colour=0, taken=camera[1], offset="+00:00")
    db, lines = _run(tmp_path, folder, labels, **{"position.track": str(_gpx(tmp_path / "w.gpx")),
                                                   "position.time_offset_s": -300.0})  # fmt: skip
    true = [t - timedelta(seconds=300) for t in camera]
    media = _rows(db, "SELECT captured_at, time_source FROM media ORDER BY frame_index")
    assert media == [(true[0], "exif-offset"), (true[1], "exif-offset")]
    detections = _rows(db, "SELECT time, latitude, longitude FROM detections ORDER BY frame_index")
    assert [d[0] for d in detections] == true
    for (_, lat, lon), when in zip(detections, true, strict=True):  # placed at the corrected time
        expect = LAT0 + (when - WALK_START).total_seconds() * LAT_PER_S
        assert lat == pytest.approx(expect, abs=1e-7) and lon == pytest.approx(LON0)
    track = _rows(db, "SELECT time, latitude FROM track ORDER BY t")
    assert [row[0] for row in track] == true
    assert [row[1] for row in track] == [d[1] for d in detections]
    [(first_seen, last_seen)] = _rows(db, "SELECT first_seen, last_seen FROM sightings")
    assert (first_seen, last_seen) == (true[0], true[1])
    assert _rows(db, "SELECT frames_positioned FROM sessions") == [(2,)]
    [time_line] = [line for line in lines if line.startswith("time: media t=0")]
    assert "--time-offset -300 s added" in time_line, time_line
    assert not [line for line in lines if "not added" in line], lines


def test_a_local_camera_clock_is_corrected_too(tmp_path) -> None:
    from fieldtool.photos import PhotoSource

    photo = make_photo(tmp_path / "p.jpg", taken=datetime(2026, 6, 1, 2, 10, 0))  # PDT, no offset
    zoned = PhotoSource([photo], tz="America/Los_Angeles", time_offset_s=-300.0).photos[0]
    assert zoned.time_source == "exif-zone"
    assert zoned.captured_at == datetime(2026, 6, 1, 9, 5, 0)
    local = PhotoSource([photo], time_offset_s=90.0).photos[0]  # zone unknown: the clock, +90 s
    assert local.time_source == "exif-local"
    assert local.captured_at == datetime(2026, 6, 1, 2, 11, 30)


def test_gps_timed_photos_are_not_shifted_and_the_log_says_so(tmp_path, labels) -> None:
    folder = tmp_path / "ph"
    gps_time = WALK_START + timedelta(minutes=5)
    # its own place: kept; its GPS time: the satellites' clock, already right
    make_photo(folder / "own.jpg", colour=0, taken=gps_time + timedelta(minutes=5),
               offset="+00:00", gps=(LAT0 + 0.5, LON0), gps_time=gps_time)  # fmt: skip
    # a GPS block at 0, 0 (no fix) but a GPS time: placed by the track at that time
    make_photo(folder / "nofix.jpg", colour=0, taken=gps_time + timedelta(minutes=6),
               offset="+00:00", gps=(0.0, 0.0),
               gps_time=gps_time + timedelta(minutes=1))  # fmt: skip
    make_photo(folder / "cam.jpg", colour=0, taken=gps_time + timedelta(minutes=7),
               offset="+00:00")  # fmt: skip
    db, lines = _run(tmp_path, folder, labels, **{"position.track": str(_gpx(tmp_path / "w.gpx")),
                                                   "position.time_offset_s": -300.0})  # fmt: skip
    media = {Path(p).name: (when, source) for p, when, source in
             _rows(db, "SELECT path, captured_at, time_source FROM media")}  # fmt: skip
    assert media == {
        "own.jpg": (gps_time, "exif-gps"),
        "nofix.jpg": (gps_time + timedelta(minutes=1), "exif-gps"),
        "cam.jpg": (gps_time + timedelta(minutes=2), "exif-offset"),  # 7 min - 5 min
    }
    placed = dict(_rows(db, "SELECT time, latitude FROM detections"))
    assert placed[gps_time] == pytest.approx(LAT0 + 0.5)  # its own EXIF GPS
    for when in (gps_time + timedelta(minutes=1), gps_time + timedelta(minutes=2)):
        expect = LAT0 + (when - WALK_START).total_seconds() * LAT_PER_S  # not moved again
        assert placed[when] == pytest.approx(expect, abs=1e-7)
    [said] = [line for line in lines if "not added" in line]
    assert "--time-offset -300 s" in said and "2 photo(s)" in said, said
    assert "EXIF GPS time" in said and "own.jpg" in said and "nofix.jpg" in said, said
    assert "cam.jpg" not in said
    [time_line] = [line for line in lines if line.startswith("time: media t=0")]
    assert "--time-offset -300 s added" in time_line and "1 of 3" in time_line, time_line


def test_without_an_offset_nothing_is_said(tmp_path) -> None:
    from fieldtool.photos import PhotoSource

    photo = make_photo(tmp_path / "p.jpg", taken=WALK_START, offset="+00:00",
                       gps=(LAT0, LON0), gps_time=WALK_START)  # fmt: skip
    lines: list[str] = []
    source = PhotoSource([photo], log=lines.append)
    assert not [line for line in lines if "--time-offset" in line]
    assert "--time-offset" not in source.time_basis().describe()


def _altitude_photo(path: Path, altitude: int, below: bool) -> Path:
    """A JPEG with EXIF GPS (Oregon), GPSAltitude ``altitude`` m and GPSAltitudeRef 1 (below
    sea level) or 0, and a time with its offset."""
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = WALK_START.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9011] = "+00:00"
    exif[0x8825] = {1: "N", 2: (44.0, 33.0, 36.0), 3: "W", 4: (123.0, 18.0, 0.0),
                    5: b"\x01" if below else b"\x00", 6: float(altitude)}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (0, 0, 200)).save(path, exif=exif)
    return path


def test_a_photos_gps_altitude_is_stored_and_exported(tmp_path, labels) -> None:
    folder = tmp_path / "ph"
    _altitude_photo(folder / "low.jpg", 5, below=True)
    db, _ = _run(tmp_path, folder, labels)
    assert _rows(db, "SELECT elevation_m, source FROM track") == [(-5.0, "exif")]
    out = tmp_path / "occ.csv"
    export(db, "csv", out, log=lambda _: None)
    with out.open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert float(row["elevation_m"]) == -5.0
    assert float(row["elevation_min_m"]) == float(row["elevation_max_m"]) == -5.0
    assert row["elevation_reference"] == "above sea level (exif)"


def test_a_repeated_local_time_is_said_of_the_clocks_reading_not_the_corrected_time(
    tmp_path,
) -> None:
    from fieldtool.photos import PhotoSource

    # 02:30 occurs twice in Amsterdam on 2026-10-25; two hours earlier it does not
    photo = make_photo(tmp_path / "p.jpg", taken=datetime(2026, 10, 25, 2, 30))
    lines: list[str] = []
    p = PhotoSource([photo], tz="Europe/Amsterdam", time_offset_s=-7200.0,
                    log=lines.append).photos[0]  # fmt: skip
    assert p.captured_at == datetime(2026, 10, 24, 22, 30)  # 00:30 UTC (+02:00), less 2 h
    assert [line for line in lines if "occurs twice" in line and "p.jpg" in line], lines
