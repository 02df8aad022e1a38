"""Tests for fieldtool.tracks.gpx and positions: GPX reading, interpolation, the gap rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from fieldtool.config import PositionConfig
from fieldtool.tracks import (
    FixedPosition,
    PositionProvider,
    TrackPositions,
    parse_gpx_time,
    positions_from_config,
    read_gpx,
)
from fieldtool.types import FieldtoolError, Fix
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA
T0 = datetime(2024, 5, 1, 12, 0, 0)


def _fix(seconds: float, lat: float, lon: float, **kw: float) -> Fix:
    return Fix(time=T0 + timedelta(seconds=seconds), lat=lat, lon=lon, **kw)


def _gpx(body: str, version: str = "1.1") -> str:
    ns = f"http://www.topografix.com/GPX/{version.replace('.', '/')}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<gpx version="{version}" creator="test" xmlns="{ns}">\n{body}\n</gpx>\n'
    )


def _write(tmp_path: Path, text: str, name: str = "track.gpx") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------- interpolation


def test_halfway_between_two_fixes_is_interpolated() -> None:
    track = TrackPositions([_fix(0, 10.0, 20.0), _fix(10, 11.0, 22.0)], max_gap_s=30)
    pos = track.position_at(T0 + timedelta(seconds=5))
    assert pos is not None
    assert pos.lat == pytest.approx(10.5)
    assert pos.lon == pytest.approx(21.0)
    assert pos.source == "gpx"


def test_interpolation_is_linear_not_nearest() -> None:
    track = TrackPositions([_fix(0, 0.0, 0.0), _fix(20, 2.0, 0.0)], max_gap_s=30)
    lats = [track.position_at(T0 + timedelta(seconds=s)).lat for s in (2, 9, 11, 18)]
    assert lats == pytest.approx([0.2, 0.9, 1.1, 1.8])


def test_unsorted_fixes_are_sorted_and_properties() -> None:
    fixes = [_fix(20, 2.0, 0.0), _fix(0, 0.0, 0.0), _fix(10, 1.0, 0.0)]
    track = TrackPositions(fixes, max_gap_s=30)
    assert track.start == T0
    assert track.end == T0 + timedelta(seconds=20)
    assert [f.lat for f in track.fixes] == [0.0, 1.0, 2.0]
    assert len(track) == 3


# Fixes at 0 s and 100 s with max_gap 30 s: a hole longer than 2 * max_gap.
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-40, None),  # before the track by more than max_gap
        (-20, (0.0, 0.0)),  # before, within max_gap: first fix held
        (0, (0.0, 0.0)),
        (10, (0.0, 0.0)),  # in the hole, near the left fix: held, no line across
        (30, (0.0, 0.0)),
        (50, None),  # middle of the hole: no position rather than a wrong one
        (69, None),
        (95, (1.0, 1.0)),  # near the right fix: held
        (100, (1.0, 1.0)),
        (125, (1.0, 1.0)),  # after, within max_gap: last fix held
        (140, None),  # after the track by more than max_gap
    ],
)
def test_gap_rule_across_a_hole(seconds: float, expected: tuple[float, float] | None) -> None:
    track = TrackPositions([_fix(0, 0.0, 0.0), _fix(100, 1.0, 1.0)], max_gap_s=30)
    pos = track.position_at(T0 + timedelta(seconds=seconds))
    if expected is None:
        assert pos is None
    else:
        assert pos is not None
        assert (pos.lat, pos.lon) == pytest.approx(expected)


@pytest.mark.parametrize("span", [59.0, 60.0])
def test_neighbours_within_twice_max_gap_interpolate(span: float) -> None:
    track = TrackPositions([_fix(0, 0.0, 0.0), _fix(span, 1.0, 0.0)], max_gap_s=30)
    pos = track.position_at(T0 + timedelta(seconds=span / 2))
    assert pos is not None
    assert pos.lat == pytest.approx(0.5)


def test_time_offset_is_added_before_lookup() -> None:
    fixes = [_fix(0, 0.0, 0.0), _fix(10, 1.0, 0.0)]
    track = TrackPositions(fixes, max_gap_s=30, time_offset_s=4.0)
    assert track.position_at(T0).lat == pytest.approx(0.4)
    late = TrackPositions(fixes, max_gap_s=5, time_offset_s=-20.0)
    assert late.position_at(T0 + timedelta(seconds=10)) is None  # looks up -10 s
    assert late.position_at(T0 + timedelta(seconds=25)).lat == pytest.approx(0.5)


def test_aware_datetime_is_converted_to_utc() -> None:
    track = TrackPositions([_fix(0, 0.0, 0.0), _fix(3600, 1.0, 0.0)], max_gap_s=3600)
    cest = timezone(timedelta(hours=2))
    pos = track.position_at(datetime(2024, 5, 1, 14, 30, 0, tzinfo=cest))
    assert pos.lat == pytest.approx(0.5)


def test_vectorised_lookup_matches_single_lookups() -> None:
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 600, 40))
    times[20:] += 300  # a hole
    fixes = [_fix(t, 45 + t / 1e4, 7 + t / 2e4) for t in times]
    track = TrackPositions(fixes, max_gap_s=20)
    asked = [T0 + timedelta(seconds=float(s)) for s in np.linspace(-60, 1000, 211)]
    table = track.latlon_at(asked)
    assert table.shape == (211, 2)
    for when, row in zip(asked, table, strict=True):
        pos = track.position_at(when)
        if pos is None:
            assert np.isnan(row).all()
        else:
            assert row == pytest.approx([pos.lat, pos.lon])
    assert np.isnan(table[:, 0]).any() and (~np.isnan(table[:, 0])).any()


def test_interpolates_across_the_antimeridian_the_short_way() -> None:
    track = TrackPositions([_fix(0, 0.0, 179.0), _fix(10, 0.0, -179.0)], max_gap_s=30)
    assert abs(track.position_at(T0 + timedelta(seconds=5)).lon) == pytest.approx(180.0)
    assert track.position_at(T0 + timedelta(seconds=7.5)).lon == pytest.approx(-179.5)


def test_accuracy_is_carried() -> None:
    track = TrackPositions(
        [_fix(0, 0, 0, accuracy_m=5.0), _fix(10, 0, 0, accuracy_m=8.0)], max_gap_s=30
    )
    assert track.position_at(T0 + timedelta(seconds=5)).accuracy_m == pytest.approx(6.5)
    assert track.position_at(T0).accuracy_m == 5.0
    no_acc = TrackPositions([_fix(0, 0, 0), _fix(10, 0, 0)], max_gap_s=30)
    assert no_acc.position_at(T0 + timedelta(seconds=5)).accuracy_m is None


def test_bad_track_arguments() -> None:
    with pytest.raises(ValueError):
        TrackPositions([], max_gap_s=30)
    with pytest.raises(ValueError):
        TrackPositions([_fix(0, 0, 0)], max_gap_s=0)


def test_fixed_position() -> None:
    fixed = FixedPosition(44.5, -123.3)
    assert isinstance(fixed, PositionProvider)
    pos = fixed.position_at(T0)
    assert (pos.lat, pos.lon, pos.source) == (44.5, -123.3, "fixed")
    with pytest.raises(FieldtoolError):
        FixedPosition(91.0, 0.0)


# ----------------------------------------------------------------------------- GPX times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-06-01T12:00:00Z", datetime(2020, 6, 1, 12)),
        ("2020-06-01T14:00:00+02:00", datetime(2020, 6, 1, 12)),
        ("2020-06-01T14:30:00+0230", datetime(2020, 6, 1, 12)),
        ("2020-06-01T07:00:00-05:00", datetime(2020, 6, 1, 12)),
        ("2020-06-01T01:00:00+13", datetime(2020, 5, 31, 12)),  # crosses a date
        ("2020-06-01T12:00:00", datetime(2020, 6, 1, 12)),  # no zone: as written (a local clock)
        ("2020-06-01T12:00:00.5Z", datetime(2020, 6, 1, 12, 0, 0, 500000)),
        ("1901-12-13T20:45:52.2073437Z", datetime(1901, 12, 13, 20, 45, 52, 207343)),
        (" 2020-06-01T12:00:00.123+00:00 ", datetime(2020, 6, 1, 12, 0, 0, 123000)),
    ],
)
def test_parse_gpx_time(text: str, expected: datetime) -> None:
    assert parse_gpx_time(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2020-13-01T00:00:00Z", "2020-06-01"])
def test_parse_gpx_time_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_gpx_time(text)


# ------------------------------------------------------------------------------ GPX files


def test_read_gpx_11_trkpt_and_rtept_with_offsets(tmp_path: Path) -> None:
    body = """
<trk><name>walk</name><trkseg>
  <trkpt lat="45.0" lon="7.0"><ele>300.5</ele><time>2024-05-01T14:00:10+02:00</time></trkpt>
  <trkpt lat="45.1" lon="7.1"><time>2024-05-01T12:00:00Z</time></trkpt>
  <trkpt lat="45.2" lon="7.2"><ele>310</ele></trkpt>
  <trkpt lat="nan" lon="7.2"><time>2024-05-01T12:00:30Z</time></trkpt>
  <trkpt lat="95" lon="7.2"><time>2024-05-01T12:00:31Z</time></trkpt>
  <trkpt lon="7.2"><time>2024-05-01T12:00:32Z</time></trkpt>
  <trkpt lat="45.3" lon="7.3"><time>not a time</time></trkpt>
</trkseg></trk>
<rte><rtept lat="45.4" lon="7.4"><time>2024-05-01T12:00:20.250Z</time></rtept></rte>
<wpt lat="1" lon="1"><time>2024-05-01T11:00:00Z</time></wpt>
"""
    track = read_gpx(_write(tmp_path, _gpx(body)))
    assert [f.time for f in track.fixes] == [
        datetime(2024, 5, 1, 12, 0, 0),
        datetime(2024, 5, 1, 12, 0, 10),
        datetime(2024, 5, 1, 12, 0, 20, 250000),
    ]
    assert [f.lat for f in track.fixes] == [45.1, 45.0, 45.4]
    assert [f.elevation_m for f in track.fixes] == [None, 300.5, None]
    assert (track.points, track.no_time, track.bad_time, track.bad_coords) == (8, 1, 1, 3)
    assert track.skipped == 5
    assert "without time" in track.summary()


def test_read_gpx_10_namespace(tmp_path: Path) -> None:
    body = '<trk><trkseg><trkpt lat="1" lon="2"><time>2010-01-01T00:00:00Z</time></trkpt>'
    body += "</trkseg></trk>"
    track = read_gpx(_write(tmp_path, _gpx(body, version="1.0")))
    assert len(track.fixes) == 1 and track.fixes[0].lon == 2.0


def test_read_gpx_without_namespace(tmp_path: Path) -> None:
    text = '<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2010-01-01T00:00:00Z</time>'
    text += "</trkpt></trkseg></trk></gpx>"
    assert len(read_gpx(_write(tmp_path, text)).fixes) == 1


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<gpx><trk><trkseg><trkpt lat="1" lon="2"><name>&b;</name>
<time>2010-01-01T00:00:00Z</time></trkpt></trkseg></trk></gpx>"""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (None, "not found"),
        ("", "not an XML file"),
        ("this is not xml", "not an XML file"),
        ("<gpx><trk><trkseg><trkpt lat='1'", "not an XML file"),
        ("<kml><Placemark/></kml>", "not a GPX file"),
        (BILLION_LAUGHS, "DOCTYPE"),
        (_gpx("<trk><trkseg></trkseg></trk>"), "no track points"),
        (
            _gpx('<trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk>'),
            "no track points with a time",
        ),
    ],
)
def test_malformed_gpx_gives_one_line_naming_the_file(
    tmp_path: Path, text: str | None, fragment: str
) -> None:
    path = tmp_path / "bad.gpx"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(FieldtoolError) as info:
        read_gpx(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert fragment in message
    assert "\n" not in message


def test_positions_from_config(tmp_path: Path) -> None:
    assert positions_from_config(PositionConfig()) is None
    fixed = positions_from_config(PositionConfig(lat=44.56, lon=-123.3))
    assert isinstance(fixed, FixedPosition)
    body = '<trk><trkseg><trkpt lat="1" lon="2"><time>2010-01-01T00:00:00Z</time></trkpt>'
    body += '<trkpt lat="2" lon="2"><time>2010-01-01T00:00:10Z</time></trkpt></trkseg></trk>'
    path = _write(tmp_path, _gpx(body))
    track = positions_from_config(PositionConfig(track=path, time_offset_s=5, max_fix_gap_s=7))
    assert isinstance(track, TrackPositions)
    # --time-offset corrects the clock that times what is looked up (docs/time.md): the
    # track adds none again
    assert (track.max_gap_s, track.time_offset_s) == (7.0, 0.0)
    assert track.position_at(datetime(2010, 1, 1, 0, 0, 5)).lat == pytest.approx(1.5)
    with pytest.raises(FieldtoolError, match="not lat/lon and track"):
        positions_from_config(PositionConfig(lat=1, lon=2, track=path))


needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder absent")


@needs_shared
def test_real_gpx_with_untimed_segments_parses() -> None:
    track = read_gpx(SHARED / "telemetry" / "gpx" / "korita-zbevnica.gpx")
    assert len(track.fixes) == 513
    assert track.no_time == 358 and track.bad_coords == 0
    assert track.fixes[0].time == datetime(2010, 10, 3, 9, 36, 30)
    assert track.fixes[-1].time == datetime(2010, 10, 3, 13, 19, 31)
    assert all(a.time <= b.time for a, b in zip(track.fixes, track.fixes[1:], strict=False))
    assert all(f.elevation_m is not None for f in track.fixes)
    positions = TrackPositions(track.fixes, max_gap_s=30)
    mid = positions.position_at(datetime(2010, 10, 3, 11, 0, 0))
    assert mid is None or (45.3 < mid.lat < 45.5 and 13.9 < mid.lon < 14.2)
    assert positions.position_at(datetime(2010, 10, 3, 15, 0, 0)) is None


@needs_shared
def test_real_gpx_with_seven_digit_fractions_parses() -> None:
    track = read_gpx(SHARED / "telemetry" / "gpx" / "Mojstrovka.gpx")
    assert len(track.fixes) == 184 and track.skipped == 0
    assert track.fixes[0].time.year == 1901  # the file's clock really says 1901
