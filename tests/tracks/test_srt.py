"""DJI SRT layouts, one test per layout from a written sample, and the coordinate order.

Each sample is a short SRT as the drone writes it (2-3 cues). The order of ``GPS(a, b, c)``
is decided once per file from what the fields mean, then checked against ``HOME(lon, lat)``
and the latitude range; a swap is said in ``TrackRead.notes``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from fieldtool.tracks import TrackRead, detect_format, read_dji_srt, read_track
from fieldtool.types import FieldtoolError
from tests.conftest import SHARED_DATA

DJI_SRT = SHARED_DATA / "telemetry" / "dji_srt"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data folder absent")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _layout(track: TrackRead) -> str:
    lines = [n for n in track.notes if n.startswith("SRT layout: ")]
    assert len(lines) == 1, track.notes
    return lines[0]


def _swaps(track: TrackRead) -> list[str]:
    return [n for n in track.notes if n.startswith("coordinates swapped: ")]


def _media_times(track: TrackRead) -> list[float]:
    out = [track.media_time(f) for f in track.fixes]
    assert all(t is not None for t in out)
    return [t for t in out if t is not None]


# ------------------------------------------------ old Phantom 3/4 / Mavic Pro (2017)

PHANTOM_BAROMETER = """\
1
00:00:01,000 --> 00:00:02,000
HOME(149.0251,-20.2532) 2017.08.05 14:11:51
GPS(149.0251,-20.2533,16) BAROMETER:1.9
ISO:100 Shutter:60 EV: Fnum:2.2

2
00:00:02,000 --> 00:00:03,000
HOME(149.0251,-20.2532) 2017.08.05 14:11:52
GPS(149.0252,-20.2534,16) BAROMETER:2.0
ISO:100 Shutter:60 EV: Fnum:2.2

3
00:00:03,000 --> 00:00:04,000
HOME(149.0251,-20.2532) 2017.08.05 14:11:53
GPS(149.0253,-20.2535,15) BAROMETER:2.1
ISO:100 Shutter:60 EV: Fnum:2.2
"""

PHANTOM_HB_HS = """\
1
00:00:01,000 --> 00:00:02,000
HOME(149.0251,-20.2532) 2017.8.5 14:11:51
GPS(149.0251,-20.2533,16) Hb:1.9 Hs:1.9
ISO:100 TV:60 EV: 0 IR:F2.8

2
00:00:02,000 --> 00:00:03,000
HOME(149.0251,-20.2532) 2017.8.5 14:11:52
GPS(149.0252,-20.2534,16) Hb:2.0 Hs:2.0
ISO:100 TV:60 EV: 0 IR:F2.8
"""


@pytest.mark.parametrize("text", [PHANTOM_BAROMETER, PHANTOM_HB_HS], ids=["barometer", "hb-hs"])
def test_old_phantom_layout_is_lon_lat_satellites(tmp_path: Path, text: str) -> None:
    track = read_track(_write(tmp_path, "DJI_0001.SRT", text))
    assert track.format == "srt" and track.clock == "local"
    first = track.fixes[0]
    assert (first.lat, first.lon) == (-20.2533, 149.0251)
    assert first.elevation_m is None  # the third number is a satellite count, not metres
    assert "satellites" in _layout(track) and "HOME" in _layout(track)
    assert _swaps(track) == []
    # cue 1 starts at 00:00:01 and says 14:11:51 → media t=0 at 14:11:50
    assert track.media_start == datetime(2017, 8, 5, 14, 11, 50)
    assert _media_times(track)[:2] == [1.0, 2.0]


# ------------------------------------ consumer comma layout (Mavic Mini, Air, P4 RTK)

MAVIC_MINI = """\
1
00:00:00,000 --> 00:00:01,000
F/2.8, SS 30.15, ISO 260, EV -1.7, GPS (-121.7458, 48.0771, 17), D 221.21m, H 200.70m, H.S n/a, V.S n/a

2
00:00:01,000 --> 00:00:02,000
F/2.8, SS 30.15, ISO 260, EV -1.7, GPS (-121.7459, 48.0772, 17), D 221.18m, H 200.70m, H.S n/a, V.S n/a

3
00:00:02,000 --> 00:00:03,000
F/2.8, SS 30.15, ISO 260, EV -1.7, GPS (-121.7460, 48.0773, 16), D 221.16m, H 200.70m, H.S n/a, V.S n/a
"""

P4_RTK = """\
1
00:00:00,000 --> 00:00:01,000
F/5.6, SS 400, ISO 100, EV 0, GPS (-58.851745, -34.237922, 15), HOME (-58.847509, -34.232707, -57.98m), D 698.70m, H 85.80m, H.S 0.00m/s, V.S 0.00m/s, F.PRY (2.7°, -7.0°, 110.1°), G.PRY (-24.4°, 0.0°, 110.4°)

2
00:00:01,000 --> 00:00:02,000
F/5.6, SS 400, ISO 100, EV 0, GPS (-58.851740, -34.237911, 15), HOME (-58.847509, -34.232707, -57.98m), D 697.41m, H 85.83m, H.S 2.88m/s, V.S 0.00m/s, F.PRY (3.0°, -19.9°, 110.3°), G.PRY (-24.4°, 0.0°, 110.5°)
"""


def test_consumer_comma_layout_mavic_mini(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "DJI_0002.SRT", MAVIC_MINI))
    assert track.clock == "file-mtime"  # no date anywhere in this layout
    assert (track.fixes[0].lat, track.fixes[0].lon) == (48.0771, -121.7458)
    assert track.fixes[0].elevation_m is None
    assert "comma" in _layout(track) and "satellites" in _layout(track)
    assert _swaps(track) == []
    assert _media_times(track) == [0.0, 1.0, 2.0]


def test_consumer_comma_layout_p4_rtk_with_home(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "DJI_0003.SRT", P4_RTK))
    assert (track.fixes[0].lat, track.fixes[0].lon) == (-34.237922, -58.851745)
    assert "comma" in _layout(track)
    assert _swaps(track) == []  # GPS lies 0.7 km from HOME: the lon-first order holds


# ------------------------------- bracketed keys (Mavic 2, Air 2/2S, Mini 2/3, Mavic 3)

AIR_2S = """\
1
00:00:00,000 --> 00:00:00,033
<font size="28">SrtCnt : 1, DiffTime : 33ms
2022-08-07 13:40:40,774,808
[iso : 100] [shutter : 1/80.0] [fnum : 280] [ev : 0] [ct : 5744] [color_md : default] [focal_len : 240] [latitude: 41.424724] [longitude: 2.234156] [altitude: 117.000000] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">SrtCnt : 2, DiffTime : 33ms
2022-08-07 13:40:40,808,164
[iso : 100] [shutter : 1/80.0] [fnum : 280] [ev : 0] [ct : 5744] [color_md : default] [focal_len : 240] [latitude: 41.424725] [longitude: 2.234147] [altitude: 117.000000] </font>
"""

MAVIC_3 = """\
1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2023-03-18 10:43:31.123
[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [color_md : default] [focal_len: 24.00] [latitude: 46.948823] [longitude: 7.447431] [rel_alt: 1.300 abs_alt: 542.860] [ct: 5500] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt: 2, DiffTime: 33ms
2023-03-18 10:43:31.156
[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [color_md : default] [focal_len: 24.00] [latitude: 46.948824] [longitude: 7.447433] [rel_alt: 1.400 abs_alt: 542.960] [ct: 5500] </font>
"""

MAVIC_2_SPACED = """\
1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt : 1, DiffTime : 33ms
2019-05-04 10:21:37,123,456
[iso : 100] [shutter : 1/200.0] [fnum : 280] [ev : 0] [ct : 5500] [color_md : default] [focal_len : 280] [latitude : 51.507351] [longtitude : -0.127758] [altitude: 35.500000] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt : 2, DiffTime : 33ms
2019-05-04 10:21:37,156,789
[iso : 100] [shutter : 1/200.0] [fnum : 280] [ev : 0] [ct : 5500] [color_md : default] [focal_len : 280] [latitude : 51.507352] [longtitude : -0.127759] [altitude: 35.600000] </font>
"""


@pytest.mark.parametrize(
    ("text", "lat", "lon", "alt", "start"),
    [
        (AIR_2S, 41.424724, 2.234156, 117.0, datetime(2022, 8, 7, 13, 40, 40, 774808)),
        (MAVIC_3, 46.948823, 7.447431, 542.86, datetime(2023, 3, 18, 10, 43, 31, 123000)),
        (MAVIC_2_SPACED, 51.507351, -0.127758, 35.5, datetime(2019, 5, 4, 10, 21, 37, 123456)),
    ],
    ids=["air2s", "mavic3-abs-alt", "mavic2-longtitude"],
)  # fmt: skip
def test_bracketed_key_layout(
    tmp_path: Path, text: str, lat: float, lon: float, alt: float, start: datetime
) -> None:
    track = read_track(_write(tmp_path, "DJI_0004.SRT", text))
    assert track.clock == "local"
    first = track.fixes[0]
    assert (first.lat, first.lon, first.elevation_m) == (lat, lon, alt)
    assert "[latitude]" in _layout(track)
    assert _swaps(track) == []
    # media t=0: the median over the cues of (date line − cue start), within the clock's jitter
    assert track.media_start is not None
    assert abs((track.media_start - start).total_seconds()) < 0.001
    assert _media_times(track) == pytest.approx([0.0, 0.033], abs=1e-6)


# ------------------------------------------- enterprise / Matrice 300 / M30 / RTK

M300_SPAIN = """\
1
00:00:00,000 --> 00:00:01,000
2022.06.21 16:06:17
GPS(36.6146,-6.1120,0.0M) BAROMETER:0.3M

2
00:00:01,000 --> 00:00:02,000
2022.06.21 16:06:18
GPS(36.6147,-6.1121,1.2M) BAROMETER:1.5M

3
00:00:02,000 --> 00:00:03,000
2022.06.21 16:06:19
GPS(36.6148,-6.1122,2.4M) BAROMETER:2.7M
"""


def test_enterprise_layout_is_lat_first_southern_spain(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "DJI_20220621160617_0001_W.SRT", M300_SPAIN))
    first = track.fixes[0]
    # the old reader put this flight at lat −6.11, lon 36.61 (Tanzania)
    assert first.lat == pytest.approx(36.6146) and first.lon == pytest.approx(-6.1120)
    assert first.elevation_m == 0.0 and track.fixes[2].elevation_m == 2.4
    assert _layout(track).startswith("SRT layout: enterprise GPS(lat, lon, altM)")
    assert _swaps(track) == []
    assert track.clock == "local" and track.media_start == datetime(2022, 6, 21, 16, 6, 17)


def test_enterprise_layout_with_an_agreeing_home_is_not_swapped(tmp_path: Path) -> None:
    text = M300_SPAIN.replace("2022.06.21 16:06", "HOME(-6.1120,36.6146) 2022.06.21 16:06")
    track = read_track(_write(tmp_path, "m300_home.SRT", text))
    assert track.fixes[0].lat == pytest.approx(36.6146)
    assert track.fixes[0].lon == pytest.approx(-6.1120)
    assert _swaps(track) == []


def test_declared_lat_first_but_home_says_lon_first_is_swapped(tmp_path: Path) -> None:
    # the GPS group has an altitude in metres (the enterprise, lat-first mark) but the
    # numbers are written lon-first: read lat-first they lie ~6,500 km from HOME
    text = """\
1
00:00:00,000 --> 00:00:01,000
HOME(-6.1120,36.6146) 2022.06.21 16:06:17
GPS(-6.1120,36.6146,12.5M) BAROMETER:12.1M

2
00:00:01,000 --> 00:00:02,000
HOME(-6.1120,36.6146) 2022.06.21 16:06:18
GPS(-6.1121,36.6147,12.9M) BAROMETER:12.4M
"""
    track = read_track(_write(tmp_path, "swapped.SRT", text))
    assert track.fixes[0].lat == pytest.approx(36.6146)
    assert track.fixes[0].lon == pytest.approx(-6.1120)
    assert "GPS(lon, lat, altM)" in _layout(track)  # the layout as read, after the swap
    (swap,) = _swaps(track)
    assert "HOME" in swap and "\n" not in swap


def test_latitude_beyond_90_in_the_chosen_order_is_swapped(tmp_path: Path) -> None:
    # Sydney written lat-first with a satellite count: lon-first would give lat 151
    text = """\
1
00:00:01,000 --> 00:00:02,000
2018.02.11 09:30:01
GPS(-33.8568,151.2153,15) BAROMETER:20.1

2
00:00:02,000 --> 00:00:03,000
2018.02.11 09:30:02
GPS(-33.8569,151.2154,15) BAROMETER:20.3
"""
    track = read_track(_write(tmp_path, "sydney.SRT", text))
    assert (track.fixes[0].lat, track.fixes[0].lon) == (-33.8568, 151.2153)
    (swap,) = _swaps(track)
    assert "90" in swap


def test_order_is_decided_once_per_file(tmp_path: Path) -> None:
    # lon-first with an altitude, flying across 90°E near Dhaka: the one cue whose first
    # value exceeds 90 proves the order for all of them (per cue, the others would read
    # as lat-first and land at lat 89.99, by the North Pole)
    cues = [(89.9998, "35.2M"), (89.9999, "35.3M"), (90.0001, "35.4M")]
    text = "".join(
        f"{k}\n00:00:0{k - 1},000 --> 00:00:0{k},000\n2021.11.02 07:15:0{k}\n"
        f"GPS({lon},23.7000,{alt}) BAROMETER:35.0M\n\n"
        for k, (lon, alt) in enumerate(cues, start=1)
    )
    track = read_track(_write(tmp_path, "dhaka.SRT", text))
    assert [(f.lat, f.lon) for f in track.fixes] == [(23.7, lon) for lon, _ in cues]
    assert "GPS(lon, lat, altM)" in _layout(track)
    assert _swaps(track) == []


# ----------------------------------------- cues without SubRip "-->" timecodes

MAVIC_2_NO_TIMECODES = """\
1
<font size="28">FrameCnt : 1, DiffTime : 33ms
2019-05-04 10:21:37,123,456
[iso : 100] [shutter : 1/200.0] [fnum : 280] [ev : 0] [latitude : 41.100000] [longtitude : 2.200000] [altitude: 112.5] </font>

2
<font size="28">FrameCnt : 2, DiffTime : 34ms
2019-05-04 10:21:37,157,000
[iso : 100] [shutter : 1/200.0] [fnum : 280] [ev : 0] [latitude : 41.100003] [longtitude : 2.200002] [altitude: 112.6] </font>

3
<font size="28">FrameCnt : 3, DiffTime : 33ms
2019-05-04 10:21:37,190,000
[iso : 100] [shutter : 1/200.0] [fnum : 280] [ev : 0] [latitude : 41.100006] [longtitude : 2.200004] [altitude: 112.7] </font>
"""

SRTCNT_NO_BLANK_LINES = """\
SrtCnt : 12, DiffTime : 40ms
2020-09-19 18:02:11,500
[latitude: 41.1] [longitude: 2.2] [altitude: 80.0]
SrtCnt : 13, DiffTime : 40ms
2020-09-19 18:02:11,540
[latitude: 41.100001] [longitude: 2.200001] [altitude: 80.1]
SrtCnt : 14, DiffTime : 40ms
2020-09-19 18:02:11,580
[latitude: 41.100002] [longitude: 2.200002] [altitude: 80.2]
"""


def test_cues_without_timecodes_take_cumulative_difftime(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "DJI_0005.SRT", MAVIC_2_NO_TIMECODES))
    assert len(track.fixes) == 3 and track.fixes[0].lat == 41.1 and track.fixes[0].lon == 2.2
    # cue 1 at 0, then the DiffTime of the cues before: 33 ms, 33 + 34 ms
    assert _media_times(track) == pytest.approx([0.0, 0.033, 0.067], abs=1e-9)
    assert track.clock == "local"
    assert track.media_start == datetime(2019, 5, 4, 10, 21, 37, 123456)
    assert any("DiffTime" in n for n in track.notes)


def test_counter_separated_cues_without_blank_lines(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "DJI_0006.SRT", SRTCNT_NO_BLANK_LINES))
    assert [f.lat for f in track.fixes] == [41.1, 41.100001, 41.100002]
    assert _media_times(track) == pytest.approx([0.0, 0.04, 0.08], abs=1e-9)


def _strip(text: str, *, difftime: bool = True, dates: bool = False) -> str:
    """The no-timecode sample without its DiffTime fields (and date lines)."""
    out = []
    for line in text.splitlines():
        if dates and line.startswith("2019-"):
            continue
        if difftime:
            line = line.replace(", DiffTime : 33ms", "").replace(", DiffTime : 34ms", "")
        out.append(line)
    return "\n".join(out) + "\n"


def test_cues_without_difftime_take_the_frame_rate(tmp_path: Path) -> None:
    # no dates: (frame counter − first counter) / fps
    text = _strip(MAVIC_2_NO_TIMECODES, dates=True).replace("FrameCnt : ", "FrameCnt : 1")
    path = _write(tmp_path, "DJI_0007.SRT", text)  # FrameCnt 11, 12, 13
    track = read_track(path, fps=30.0)
    assert _media_times(track) == pytest.approx([0.0, 1 / 30, 2 / 30], abs=1e-6)
    assert _media_times(read_dji_srt(path, fps=25.0)) == pytest.approx([0.0, 0.04, 0.08])


def test_cues_with_dates_take_the_dates_over_the_frame_counter(tmp_path: Path) -> None:
    # dates that time every cue come first; a frame counter at another rate is said
    text = _strip(MAVIC_2_NO_TIMECODES).replace("FrameCnt : ", "FrameCnt : 1")
    path = _write(tmp_path, "DJI_0007.SRT", text)
    track = read_track(path, fps=30.0)  # the counter agrees with the dates (within 1 %)
    assert _media_times(track) == pytest.approx([0.0, 0.033544, 0.066544], abs=1e-9)
    assert not [n for n in track.notes if n.startswith("warning:")]
    other = read_dji_srt(path, fps=25.0)  # 80 ms by the counter, 67 ms by the dates
    assert _media_times(other) == pytest.approx([0.0, 0.033544, 0.066544], abs=1e-9)
    (warning,) = [n for n in other.notes if n.startswith("warning:")]
    assert "DJI_0007.SRT" in warning and "25 fps" in warning and "dates used" in warning


def test_cues_without_difftime_or_fps_take_the_date_lines(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "DJI_0008.SRT", _strip(MAVIC_2_NO_TIMECODES)))
    assert _media_times(track) == pytest.approx([0.0, 0.033544, 0.066544], abs=1e-9)
    assert track.media_start == datetime(2019, 5, 4, 10, 21, 37, 123456)


def test_cues_without_any_timing_need_the_frame_rate(tmp_path: Path) -> None:
    path = _write(tmp_path, "DJI_0009.SRT", _strip(MAVIC_2_NO_TIMECODES, dates=True))
    with pytest.raises(FieldtoolError) as info:
        read_track(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "frame rate" in message
    # given the frame rate, the same file reads, on the file's mtime (no date at all)
    track = read_track(path, fps=30.0)
    assert track.clock == "file-mtime" and len(track.fixes) == 3


@pytest.mark.parametrize(
    "text",
    [
        "1\n00:00:00,000 --> 00:00:01,000\nISO:100 Shutter:60 EV: Fnum:2.2\n",
        '1\n<font size="28">FrameCnt : 1, DiffTime : 33ms\n[iso : 100] [ev : 0]</font>\n',
        "",
    ],
    ids=["timecoded", "frame-counter", "empty"],
)
def test_no_position_at_all_is_one_line_error(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "nothing.SRT", text)
    with pytest.raises(FieldtoolError, match="no GPS position") as info:
        read_track(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


# ------------------------------------------------------------------ detection


def test_detect_format_srt_without_timecodes(tmp_path: Path) -> None:
    cases = {
        "a.dat": MAVIC_2_NO_TIMECODES,
        "b.txt": SRTCNT_NO_BLANK_LINES,
        "c.dat": "1\n[latitude : 41.1] [longtitude : 2.2]\n\n2\n[latitude : 41.1] [longtitude : 2.2]\n",
        "d.dat": '<font size="28">FrameCnt : 1, DiffTime : 33ms\n[latitude: 1] [longitude: 2]\n',
        "e.SRT": "2022.06.21 16:06:17\nGPS(36.6146,-6.1120,0.0M) BAROMETER:0.3M\n",
        "f.srt": "",
    }
    for name, text in cases.items():
        assert detect_format(_write(tmp_path, name, text)) == "srt", name
    # a frame-counter .dat file reads without help
    assert read_track(tmp_path / "a.dat").format == "srt"


# ------------------------------------------------------------- the real files

REAL = {
    "air2s.srt": ((41.4247, 2.2342), "local", "[latitude]"),
    "mavic_mini.SRT": ((48.0771, -121.7458), "file-mtime", "comma"),
    "mavic_pro.SRT": ((-20.2533, 149.0251), "local", "HOME"),
    "old_format.SRT": ((-20.2533, 149.0251), "local", "HOME"),
    "p4_rtk.SRT": ((-34.2379, -58.8517), "file-mtime", "comma"),
}


@needs_shared
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_dji_srt_first_fix_and_layout(name: str) -> None:
    (lat, lon), clock, layout = REAL[name]
    track = read_track(DJI_SRT / name)
    assert track.format == "srt" and track.clock == clock
    assert track.fixes[0].lat == pytest.approx(lat, abs=1e-4)
    assert track.fixes[0].lon == pytest.approx(lon, abs=1e-4)
    assert layout in _layout(track)
    assert _swaps(track) == []


def test_without_dates_t0_is_the_mtime_less_the_whole_recording(tmp_path: Path) -> None:
    # the SRT is closed when recording ends, after its last cue's second: 3 cues a second
    # apart end 3 s after t=0, not 2 s (t=0 was one cue late)
    import os

    path = _write(tmp_path, "DJI_0002.SRT", MAVIC_MINI)
    closed = datetime(2026, 6, 1, 9, 0, 3)
    stamp = closed.replace(tzinfo=timezone.utc).timestamp()
    os.utime(path, (stamp, stamp))
    track = read_track(path)
    assert track.clock == "file-mtime" and track.media_start == datetime(2026, 6, 1, 9)


# ------------------------------------------ an order nothing in the file decides

LON_FIRST_ALT_BARCELONA = """\
1
00:00:00,000 --> 00:00:01,000
2026.06.10 10:00:00
GPS(2.234156,41.424724,117.0M) BAROMETER:1.9M

2
00:00:01,000 --> 00:00:02,000
2026.06.10 10:00:01
GPS(2.234256,41.424824,117.5M) BAROMETER:2.0M
"""


def test_an_order_no_home_or_value_decides_is_warned_with_both_places(tmp_path: Path) -> None:
    """GPS(a, b, altM) with both numbers within ±90° and no HOME line: either order is a
    place on Earth (Barcelona, or off Somalia). The enterprise reading is kept, but the
    run says it is a guess, gives both places and the option that settles it."""
    track = read_track(_write(tmp_path, "DJI_0001.SRT", LON_FIRST_ALT_BARCELONA))
    guess = [n for n in track.notes if "--srt-order" in n]
    assert len(guess) == 1 and guess[0].startswith("warning:")
    assert "2.2342, 41.4247" in guess[0] and "41.4247, 2.2342" in guess[0]


def test_the_srt_order_given_is_followed_and_not_warned(tmp_path: Path) -> None:
    path = _write(tmp_path, "DJI_0001.SRT", LON_FIRST_ALT_BARCELONA)
    track = read_track(path, srt_order="lon-lat")
    assert (track.fixes[0].lat, track.fixes[0].lon) == (41.424724, 2.234156)
    assert not [n for n in track.notes if n.startswith("warning:")]
    assert any("--srt-order" in n for n in track.notes)  # said how it was read
    assert read_track(path, srt_order="lat-lon").fixes[0].lat == 2.234156


def test_an_order_a_home_line_decides_is_not_warned(tmp_path: Path) -> None:
    text = M300_SPAIN.replace("2022.06.21 16:06", "HOME(-6.1120,36.6146) 2022.06.21 16:06")
    track = read_track(_write(tmp_path, "m300_home.SRT", text))
    assert not [n for n in track.notes if "--srt-order" in n]


def test_the_srt_order_is_a_checked_setting() -> None:
    from fieldtool.config import PositionConfig

    assert PositionConfig(srt_order="lon-lat").srt_order == "lon-lat"
    with pytest.raises(ValueError, match="srt_order"):
        PositionConfig(srt_order="latlon")
