"""Tests for fieldtool.tracks formats: NMEA, GoPro GPMF, DJI SRT, EXIF, plausibility, dispatch."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.config import Config, PositionConfig
from fieldtool.tracks import (
    NmeaParser,
    TrackPositions,
    clean_fixes,
    detect_format,
    nmea_checksum,
    parse_dji_srt_cue,
    parse_nmea,
    plausible_mask,
    positions_from_config,
    read_exif_fix,
    read_gpmf_samples,
    read_track,
)
from fieldtool.types import FieldtoolError, Fix
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA
TELEMETRY = SHARED / "telemetry"
GOPRO = TELEMETRY / "gopro" / "max-heromode.mp4"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder absent")
T0 = datetime(2024, 5, 1, 12, 0, 0)


def _s(body: str) -> str:
    """A sentence with its checksum."""
    return f"${body}*{nmea_checksum(body):02X}"


def _fix(seconds: float, lat: float, lon: float) -> Fix:
    return Fix(T0 + timedelta(seconds=seconds), lat, lon)


# ------------------------------------------------------------------------ NMEA

HAND_MADE = [
    _s("GPGGA,235958.00,4807.0380,N,01131.0000,E,1,08,0.9,545.4,M,46.9,M,,"),
    "garbage line from a serial port",
    _s("GPRMC,235958.00,A,4807.0380,N,01131.0000,E,0.5,84.4,130694,003.1,W"),
    _s("GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00"),
    _s("GPRMC,235959.00,A,4807.0390,N,01131.0010,E,0.5,84.4,130694,003.1,W"),
    "$GPRMC,000000.00,A,4807.0400,N,01131.0020,E,0.5,84.4,140694,003.1,W*00",  # bad sum
    _s("GNGGA,000000.00,4807.0400,N,01131.0020,E,2,08,1.2,546.0,M,46.9,M,,"),
    _s("GPGST,000000.00,1.2,0.9,0.6,23.1,0.6,0.8,1.5"),
    _s("GPGGA,000001.00,4807.0410,N,01131.0030,E,0,00,,,M,,M,,"),  # no fix
    "$GPGGA,000002.00,4807.0420,N,01131.0040,E,1,08,0.9,545.4,M,46.9,M,,",  # no checksum
    _s("GPRMC,000003.00,V,,,,,,,140694,,"),  # void
    _s("GPRMC,000004.00,A,4807.0440,S,01131.0060,W,0.5,84.4,140694,,,A"),
]


def test_hand_made_nmea_file(tmp_path: Path) -> None:
    path = tmp_path / "walk.nmea"
    path.write_text("\n".join(HAND_MADE) + "\n", encoding="ascii")
    track = read_track(path)
    assert track.format == "nmea" and track.clock == "utc"
    times = [f.time for f in track.fixes]
    # 23:59:58 and :59 on 13 June, past midnight on the 14th (GGA-only epoch dated by rollover)
    assert times[:3] == [
        datetime(1994, 6, 13, 23, 59, 58),
        datetime(1994, 6, 13, 23, 59, 59),
        datetime(1994, 6, 14, 0, 0, 0),
    ]
    first = track.fixes[0]
    assert first.lat == pytest.approx(48 + 7.038 / 60) and first.lon == pytest.approx(11 + 31 / 60)
    assert first.elevation_m == 545.4 and first.accuracy_m == pytest.approx(0.9 * 5.0)
    assert track.fixes[2].accuracy_m == pytest.approx(math.hypot(0.6, 0.8))  # from GST
    # the southern/western fix at 00:00:04 jumps ~12,000 km in 4 s, a lone spike at the end:
    # with 3 consistent fixes before it, it is dropped as a jump
    assert len(track.fixes) == 3
    assert track.skipped["jump"] == 1
    assert track.skipped["bad_checksum"] == 1 and track.skipped["garbage"] == 1
    assert track.skipped["no_checksum"] == 1 and track.skipped["no_fix"] == 2
    assert track.skipped["other_sentence"] == 1
    assert "nmea fixes" in track.summary()


def test_nmea_gga_only_needs_a_date_and_dates_held_epochs_backwards() -> None:
    lines = [
        _s("GPGGA,235959.0,0100.0000,N,00100.0000,E,1,08,1.0,10,M,0,M,,"),
        _s("GPGGA,000000.0,0100.0001,N,00100.0000,E,1,08,1.0,10,M,0,M,,"),
    ]
    fixes, counts = parse_nmea(lines)
    assert fixes == [] and counts["no_date"] == 2
    fixes, _ = parse_nmea(lines, default_date=date(2024, 1, 2))
    assert [f.time for f in fixes] == [datetime(2024, 1, 2, 23, 59, 59), datetime(2024, 1, 3)]
    # a later RMC dates the held GGA epochs, walking back across midnight
    lines.append(_s("GPRMC,000001.0,A,0100.0002,N,00100.0000,E,0,0,030124,,"))
    fixes, _ = parse_nmea(lines)
    assert [f.time.day for f in fixes] == [2, 3, 3]


def test_nmea_parser_is_incremental() -> None:
    parser = NmeaParser()
    assert parser.feed(_s("GPRMC,120000,A,4500.0,N,00700.0,E,0,0,010524,,")) == []
    out = parser.feed(_s("GPRMC,120001,A,4500.0,N,00700.0,E,0,0,010524,,"))
    assert [f.time for f in out] == [datetime(2024, 5, 1, 12)]
    assert [f.time for f in parser.flush()] == [datetime(2024, 5, 1, 12, 0, 1)]


def test_nmea_without_fixes_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_text("hello\n$GPRMC,bad*00\n", encoding="ascii")
    with pytest.raises(FieldtoolError) as info:
        read_track(path, "nmea")
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


# ------------------------------------------------------------------ plausibility


def test_plausible_mask_drops_invalid_and_spikes() -> None:
    fixes = [
        _fix(0, 45.0, 7.0),
        _fix(1, 45.00001, 7.0),
        _fix(2, float("nan"), 7.0),
        _fix(3, 95.0, 7.0),
        _fix(4, 0.0, 0.0),
        _fix(5, 46.0, 7.0),  # 111 km in 4 s: a spike
        _fix(6, 45.00003, 7.0),
        _fix(7, 45.00004, 7.0),
    ]
    mask, counts = plausible_mask(fixes)
    assert mask.tolist() == [True, True, False, False, False, False, True, True]
    assert counts == {"invalid": 3, "before_1980": 0, "jump": 1}


def test_wrong_first_fix_is_outvoted_and_two_fixes_are_kept() -> None:
    fixes = [_fix(0, 10.0, 10.0)] + [_fix(i, 45.0 + i * 1e-5, 7.0) for i in range(1, 6)]
    kept, counts = clean_fixes(fixes)
    assert len(kept) == 5 and kept[0].lat > 40 and counts["jump"] == 1
    # two fixes that disagree: no majority, nothing to drop
    kept, counts = clean_fixes([_fix(0, 1.0, 2.0), _fix(10, 2.0, 2.0)])
    assert len(kept) == 2 and counts["jump"] == 0
    # the speed limit is settable: a 330 m step in 1 s is a spike at 100 m/s, not at 500
    spiky = [_fix(i, 45.0 + (0.003 if i == 3 else 0.0), 7.0) for i in range(6)]
    assert len(clean_fixes(spiky)[0]) == 5
    assert len(clean_fixes(spiky, max_speed_mps=500.0)[0]) == 6
    # a lasting move (two long segments) is kept: it is where the track went
    moved = [_fix(i, 45.0 + (0.01 if i >= 4 else 0.0), 7.0) for i in range(8)]
    assert len(clean_fixes(moved)[0]) == 8


# ------------------------------------------------------------------------ DJI SRT


@pytest.mark.parametrize(
    ("text", "lat", "lon", "alt"),
    [
        ("[iso : 100] [latitude: 22.1] [longitude: 113.9] [altitude: 20.5]", 22.1, 113.9, 20.5),
        ("[latitude : 22.1] [longtitude : 113.9] [rel_alt: 1.3 abs_alt: 101.9]", 22.1, 113.9, 101.9),
        ("HOME(149.0,-20.0) 2017.08.05 14:11:51\nGPS(149.0251,-20.2533,16) BAROMETER:1.9",
         -20.2533, 149.0251, None),
        ("F/2.8, SS 200, ISO 100, EV 0, GPS (-121.7458, 48.0771, 17), D 221m, H 200m",
         48.0771, -121.7458, None),
        ("GPS(-122.3965,37.7959,12.5M) BAROMETER:30.2", 37.7959, -122.3965, 12.5),
        ('<font size="28">SrtCnt : 1, DiffTime : 33ms\n2021-06-13 13:08:38,123,456\n'
         "[unknown_thing : 5] [lat: 1.5] [lon: 2.5]</font>", 1.5, 2.5, None),
    ],
)  # fmt: skip
def test_srt_cue_fields_by_meaning(text: str, lat: float, lon: float, alt: float | None) -> None:
    cue = parse_dji_srt_cue(1.0, text)
    assert (cue.lat, cue.lon, cue.alt_m) == (lat, lon, alt)


def test_srt_date_time_line() -> None:
    cue = parse_dji_srt_cue(0.0, "2021-06-13 13:08:38,123,456 [latitude: 1] [longitude: 2]")
    assert cue.stamp == datetime(2021, 6, 13, 13, 8, 38, 123456)
    assert parse_dji_srt_cue(0.0, "HOME(1,2) 2017.8.5 14:11:51").stamp == datetime(
        2017, 8, 5, 14, 11, 51
    )


SRT_COUNTS = {
    "air2s.srt": (17, "local", (41.42, 2.23)),
    "mavic_mini.SRT": (117, "file-mtime", (48.08, -121.75)),
    "mavic_pro.SRT": (468, "local", (-20.25, 149.03)),
    "old_format.SRT": (468, "local", (-20.25, 149.03)),
    "p4_rtk.SRT": (55, "file-mtime", (-34.24, -58.85)),
}


@needs_shared
@pytest.mark.parametrize("name", sorted(SRT_COUNTS))
def test_real_dji_srt_files_yield_fixes(name: str) -> None:
    count, clock, (lat, lon) = SRT_COUNTS[name]
    track = read_track(TELEMETRY / "dji_srt" / name)
    assert track.format == "srt" and track.clock == clock
    assert len(track.fixes) == count and track.media_start is not None
    assert track.fixes[0].lat == pytest.approx(lat, abs=0.01)
    assert track.fixes[0].lon == pytest.approx(lon, abs=0.01)
    times = [track.media_time(f) for f in track.fixes]
    assert times == sorted(times) and times[0] is not None and 0 <= times[0] <= 1.0


@needs_shared
def test_real_srt_media_start_matches_its_date_lines() -> None:
    track = read_track(TELEMETRY / "dji_srt" / "mavic_pro.SRT")
    # cue 1 starts at 00:00:01 and says 2017.08.05 14:11:51 → media t=0 at 14:11:50
    assert track.media_start == datetime(2017, 8, 5, 14, 11, 50)


# ------------------------------------------------------------------ GoPro GPMF


@needs_shared
def test_real_gopro_gpmf_track() -> None:
    samples, created = read_gpmf_samples(GOPRO)
    assert len(samples) == 191 and created is not None
    assert all(s.fix == 3 for s in samples)
    track = read_track(GOPRO)
    assert track.format == "gpmf" and track.clock == "utc"
    assert len(track.fixes) == 191
    for f in track.fixes:  # Carlsbad, California (GoPro's home)
        assert 33.12 < f.lat < 33.13 and -117.33 < f.lon < -117.32
        assert f.accuracy_m is not None and 5.0 < f.accuracy_m < 10.0
    times = [f.time for f in track.fixes]
    assert all(a < b for a, b in zip(times, times[1:], strict=False))
    # media t=0 ↔ UTC: the median of GPSU − media time over the clip
    assert track.media_start == datetime(2019, 11, 18, 23, 45, 15, 425000)
    assert track.media_time(track.fixes[0]) == 0.0
    assert track.media_time(track.fixes[-1]) == pytest.approx(10.49, abs=0.01)


@needs_shared
def test_gopro_clip_run_with_its_own_track_places_frames(tmp_path: Path, colour_classifier) -> None:
    from fieldtool.pipeline import run_session
    from fieldtool.sources import VideoSource
    from fieldtool.store import SightingStore, query

    positions = positions_from_config(PositionConfig(track=GOPRO))
    assert isinstance(positions, TrackPositions) and positions.source == "gpmf"
    assert positions.start == datetime(2019, 11, 18, 23, 45, 15, 425000)
    cfg = Config()
    cfg.store.db = tmp_path / "s.duckdb"
    cfg.store.snapshots = False
    source = VideoSource(str(GOPRO), sample_fps=2, start_time=positions.start, max_frames=150)
    result = run_session(
        source, colour_classifier, SightingStore(cfg.store.db), cfg, positions=positions
    )
    assert result.session.status == "finished"
    rows = query(cfg.store.db, "SELECT * FROM detections ORDER BY t")
    assert len(rows) >= 8 and rows.latitude.notna().all()
    assert rows.latitude.between(33.12, 33.13).all()
    assert rows.longitude.between(-117.33, -117.32).all()
    assert rows.time.iloc[0] == pd_timestamp(positions.start)


def pd_timestamp(when: datetime):
    import pandas as pd

    return pd.Timestamp(when)


def test_not_an_mp4_or_no_gpmd(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00")
    with pytest.raises(FieldtoolError, match="moov"):
        read_track(path)


# ------------------------------------------------------------------------ EXIF


@needs_shared
def test_real_photo_exif_gps() -> None:
    photo = SHARED / "photos" / "cc_plants" / "images"
    fix, clock = read_exif_fix(photo / "magnify_default_calamagrostis_rubescens.jpg")
    assert fix is not None and clock == "local"  # DateTimeOriginal, no zone
    assert fix.lat == pytest.approx(45 + 15.71757 / 60)
    assert fix.lon == pytest.approx(-(110 + 30.21469 / 60))
    assert fix.time == datetime(2009, 7, 25, 14, 31, 33)  # DateTimeOriginal, not DateTime
    track = read_track(photo / "magnify_default_calamagrostis_rubescens.jpg")
    assert track.format == "exif" and len(track.fixes) == 1
    assert read_exif_fix(photo / "magnify_default_glyceria_striata.jpg")[0] is None


def test_exif_gps_written_by_pillow(tmp_path: Path) -> None:
    from PIL import Image

    exif = Image.Exif()
    gps = {1: "S", 2: (33.0, 52.0, 4.2), 3: "E", 4: (151.0, 12.0, 36.0), 6: 12.5,
           7: (1.0, 2.0, 3.5), 29: "2023:02:01", 31: 4.0}  # fmt: skip
    exif[0x8825] = gps
    path = tmp_path / "p.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    fix, clock = read_exif_fix(path)
    assert clock == "utc" and fix is not None
    assert fix.lat == pytest.approx(-(33 + 52 / 60 + 4.2 / 3600))
    assert fix.lon == pytest.approx(151.21)
    assert fix.time == datetime(2023, 2, 1, 1, 2, 3, 500000)
    assert (fix.elevation_m, fix.accuracy_m) == (12.5, 4.0)


# --------------------------------------------------------------------- dispatch


def test_detect_format_by_content_and_extension(tmp_path: Path) -> None:
    cases = {
        "a.dat": _s("GPRMC,120000,A,4500.0,N,00700.0,E,0,0,010524,,"),
        "b.xml": '<?xml version="1.0"?><gpx></gpx>',
        "c.dat": "1\n00:00:00,000 --> 00:00:01,000\nGPS(1,2,3)\n",
        "d.txt": "",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="ascii")
    assert detect_format(tmp_path / "a.dat") == "nmea"
    assert detect_format(tmp_path / "b.xml") == "gpx"
    assert detect_format(tmp_path / "c.dat") == "srt"
    assert detect_format(tmp_path / "d.txt") == "nmea"
    with pytest.raises(FieldtoolError, match="not found"):
        read_track(tmp_path / "missing.gpx")
    with pytest.raises(FieldtoolError, match="unknown track format"):
        read_track(tmp_path / "a.dat", "kml")


def test_positions_from_config_reads_nmea(tmp_path: Path) -> None:
    path = tmp_path / "walk.nmea"
    path.write_text("\n".join(HAND_MADE), encoding="ascii")
    positions = positions_from_config(PositionConfig(track=path, track_format="nmea"))
    assert isinstance(positions, TrackPositions) and positions.source == "nmea"
    assert positions.start == datetime(1994, 6, 13, 23, 59, 58)  # no media start: first fix
    assert positions.position_at(datetime(1994, 6, 13, 23, 59, 58, 500000)) is not None
