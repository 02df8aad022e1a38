"""DJI SRT files as they reach a user after a trip through other programs: numbers written
with decimal commas (a phone or PC re-export in a comma-decimal locale) and cues whose
SubRip ``-->`` timecodes were lost (a subtitle tool, ``grep -v -- -->``).

A comma between digits inside a bracketed ``[key: value]`` field is a decimal comma; the
older layouts separate values by commas (``GPS(2.2341,41.4247,117)``) and keep doing so; a
number that cannot be read unambiguously is a one-line error naming the file, the line and
the field, never a silently shortened value. Untimed cues take their media time from their
date lines, a real frame counter (``FrameCnt``) with the frame rate where the dates cannot
time them, and the SubRip cue number last.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fieldtool.tracks import TrackRead, read_track
from fieldtool.types import FieldtoolError
from tests.tracks.test_srt import DJI_SRT, _write, needs_shared


def _media_times(track: TrackRead) -> list[float]:
    out = [track.media_time(f) for f in track.fixes]
    assert all(t is not None for t in out)
    return [t for t in out if t is not None]


def _warnings(track: TrackRead) -> list[str]:
    return [n for n in track.notes if n.startswith("warning:")]


# ------------------------------------------------------------------ decimal commas

AIR_2S_COMMA = """\
1
00:00:00,000 --> 00:00:00,033
<font size="36">SrtCnt : 1, DiffTime : 33ms
2022-08-07 13:40:40,774,808
[iso : 100] [shutter : 1/80,0] [fnum : 280] [ev : 0] [latitude: 41,424724] [longitude: 2,234156] [altitude: 117,000000] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="36">SrtCnt : 2, DiffTime : 33ms
2022-08-07 13:40:40,808,164
[iso : 100] [shutter : 1/80,0] [fnum : 280] [ev : 0] [latitude: 41,424725] [longitude: 2,234147] [altitude: 117,000000] </font>
"""

MAVIC_3_COMMA_REL_ABS = """\
1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2023-03-18 10:43:31,123
[iso: 100] [latitude : 46,948823] [longitude : 7,447431] [rel_alt: 1,300 abs_alt: 542,860] </font>
"""


def test_decimal_commas_in_bracketed_fields_are_read_as_decimals(tmp_path: Path) -> None:
    """Defect: [latitude: 41,424724] was read as 41 (40 km off, and the zone of that place
    made every time 2 h off)."""
    track = read_track(_write(tmp_path, "DJI_0005.srt", AIR_2S_COMMA))
    first = track.fixes[0]
    assert (first.lat, first.lon, first.elevation_m) == (41.424724, 2.234156, 117.0)
    assert (track.fixes[1].lat, track.fixes[1].lon) == (41.424725, 2.234147)
    assert any("decimal comma" in n for n in track.notes), track.notes
    # two fields in one bracket, spaced keys
    track = read_track(_write(tmp_path, "DJI_0006.srt", MAVIC_3_COMMA_REL_ABS))
    first = track.fixes[0]
    assert (first.lat, first.lon, first.elevation_m) == (46.948823, 7.447431, 542.86)


@needs_shared
def test_trial_comma_file_reads_like_the_original(tmp_path: Path) -> None:
    """The real Air 2S file with every decimal point in its fields made a comma."""
    original = read_track(DJI_SRT / "air2s.srt")
    text = (DJI_SRT / "air2s.srt").read_text(encoding="utf-8")
    import re

    comma = re.sub(r"(\[(?:latitude|longitude|altitude): -?\d+)\.(\d+)\]", r"\1,\2]", text)
    assert comma != text
    track = read_track(_write(tmp_path, "DJI_0005.srt", comma))
    assert [(f.lat, f.lon, f.elevation_m) for f in track.fixes] == [
        (f.lat, f.lon, f.elevation_m) for f in original.fixes
    ]
    assert track.media_start == original.media_start


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("[latitude: 41,424,724]", "[longitude: 2.234156]"),  # digit groups or decimals?
        ("[latitude: 41.424,724]", "[longitude: 2.234156]"),  # a point and a comma
        ("[longitude: 2,234.156]", "[latitude: 41.424724]"),
    ],
)  # fmt: skip
def test_an_ambiguous_bracketed_number_is_a_one_line_error(
    tmp_path: Path, field: str, other: str
) -> None:
    text = (
        "1\n00:00:00,000 --> 00:00:00,033\n<font>SrtCnt : 1, DiffTime : 33ms\n"
        "2022-08-07 13:40:40,774,808\n[iso : 100] [latitude: 41.424724] [longitude: 2.234156]\n\n"
        "2\n00:00:00,033 --> 00:00:00,066\n<font>SrtCnt : 2, DiffTime : 33ms\n"
        f"2022-08-07 13:40:40,808,164\n[iso : 100] {other} {field} </font>\n"
    )
    path = _write(tmp_path, "DJI_0007.SRT", text)
    with pytest.raises(FieldtoolError) as info:
        read_track(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "line 11" in message and field in message


def test_an_unbracketed_comma_after_a_coordinate_is_an_error(tmp_path: Path) -> None:
    text = "1\n00:00:00,000 --> 00:00:01,000\nlatitude: 41,424724 longitude: 2,234156\n"
    path = _write(tmp_path, "DJI_0008.SRT", text)
    with pytest.raises(FieldtoolError) as info:
        read_track(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "line 3" in message and "latitude" in message
    assert "\n" not in message


def test_a_comma_decimal_gps_group_is_an_error(tmp_path: Path) -> None:
    """``GPS (-121,7458, 48,0771, 17)``: the commas separate the values in this layout,
    so the numbers cannot be told apart."""
    text = (
        "1\n00:00:00,000 --> 00:00:01,000\n"
        "F/2,8, SS 30,15, ISO 260, EV -1,7, GPS (-121,7458, 48,0771, 17), D 221,21m\n"
    )
    path = _write(tmp_path, "DJI_0009.SRT", text)
    with pytest.raises(FieldtoolError) as info:
        read_track(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "line 3" in message and "GPS" in message
    assert "\n" not in message


@needs_shared
@pytest.mark.parametrize("name", ["mavic_pro.SRT", "old_format.SRT", "p4_rtk.SRT",
                                  "mavic_mini.SRT"])  # fmt: skip
def test_comma_separated_layouts_still_read(name: str) -> None:
    """GPS(149.0251,-20.2533,16), GPS (-58.851745, -34.237922, 15): commas separate."""
    track = read_track(DJI_SRT / name)
    assert len(track.fixes) > 10
    assert all(abs(f.lat) > 1 and abs(f.lon) > 1 for f in track.fixes)
    assert all(f.lat != round(f.lat) for f in track.fixes)  # decimals kept


# ------------------------------------------------------------- untimed cues


def _untimed(cues: int, *, per_s: int = 1, frame_cnt: int | None = None, dates: bool = True) -> str:
    """An old-layout SRT without ``-->`` lines: ``cues`` cues, ``per_s`` a second (a date
    line to the second), FrameCnt from ``frame_cnt`` (one per cue) where given."""
    out = []
    for k in range(cues):
        second = k // per_s
        date = f"HOME(149.0251,-20.2532) 2017.08.05 14:{11 + second // 60:02d}:{second % 60:02d}"
        lines = [str(k + 1)]
        if frame_cnt is not None:
            lines.append(f"FrameCnt : {frame_cnt + k}")
        lines.append(date if dates else "HOME(149.0251,-20.2532)")
        lines.append(f"GPS(149.{251 + k:04d},-20.2533,16) BAROMETER:1.9")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def test_untimed_cues_with_dates_take_their_dates_not_the_cue_number(tmp_path: Path) -> None:
    """Defect: cues a second apart were timed (cue number − 1) / fps, packing a
    7.8-min flight into 31 s at 15 fps."""
    path = _write(tmp_path, "DJI_0008.SRT", _untimed(40))
    track = read_track(path, fps=15.0)
    assert _media_times(track) == pytest.approx([float(k) for k in range(40)])
    assert track.media_start == datetime(2017, 8, 5, 14, 11, 0)
    assert any("date line" in n and "no timecodes" in n for n in track.notes), track.notes
    assert _warnings(track) == []  # the cue number is no frame counter: nothing to compare


def test_untimed_cues_prefer_a_frame_counter_over_the_cue_number(tmp_path: Path) -> None:
    """Dates to the second cannot time 30 cues a second: FrameCnt / fps does, and it
    agrees with the dates (no warning)."""
    path = _write(tmp_path, "DJI_0010.SRT", _untimed(90, per_s=30, frame_cnt=101))
    track = read_track(path, fps=30.0)
    assert _media_times(track) == pytest.approx([k / 30 for k in range(90)], abs=1e-6)
    assert any("FrameCnt" in n for n in track.notes), track.notes
    assert _warnings(track) == []


def test_untimed_counter_that_disagrees_with_the_dates_is_warned(tmp_path: Path) -> None:
    """The cue number at 15 fps where the cues are 30 a second: 2x apart from the dates."""
    path = _write(tmp_path, "DJI_0011.SRT", _untimed(150, per_s=30))
    track = read_track(path, fps=15.0)
    (warning,) = _warnings(track)
    assert "DJI_0011.SRT" in warning and "\n" not in warning
    assert "date" in warning and "15 fps" in warning


def test_untimed_cues_without_dates_take_the_cue_number(tmp_path: Path) -> None:
    path = _write(tmp_path, "DJI_0012.SRT", _untimed(5, dates=False))
    track = read_track(path, fps=10.0)
    assert _media_times(track) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert track.clock == "file-mtime"
    assert _warnings(track) == []


@needs_shared
def test_trial_untimed_mavic_pro_spans_its_dates(tmp_path: Path) -> None:
    """mavic_pro.SRT with its '-->' lines removed (the trial's repro) spans as many
    seconds as with them."""
    text = (DJI_SRT / "mavic_pro.SRT").read_text(encoding="utf-8")
    timed = read_track(DJI_SRT / "mavic_pro.SRT")
    untimed = "".join(line for line in text.splitlines(True) if "-->" not in line)
    track = read_track(_write(tmp_path, "DJI_0008.SRT", untimed), fps=15.0)
    span = _media_times(track)[-1] - _media_times(track)[0]
    timed_span = _media_times(timed)[-1] - _media_times(timed)[0]
    assert span == pytest.approx(timed_span, rel=0.01)
    assert span > 400  # 7.8 min, not 31 s


def test_keys_separated_by_commas_in_one_bracket_are_read(tmp_path: Path) -> None:
    """A review found: ``[latitude: 41.4, longitude: 2.1]`` (keys a comma apart in one
    bracket) became an error though the old reader read it."""
    for line in ("[latitude: 41.424724, longitude: 2.234156, altitude: 117]",
                 "[lat: 41.424724,lon: 2.234156;alt: 117]"):  # fmt: skip
        text = AIR_2S_COMMA.split("[iso", 1)[0] + line + " </font>\n"
        track = read_track(_write(tmp_path, "DJI_0007.srt", text))
        first = track.fixes[0]
        assert (first.lat, first.lon, first.elevation_m) == (41.424724, 2.234156, 117.0), line
