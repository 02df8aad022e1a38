"""The one lookup rule of fieldtool.tracks.positions.interpolate, for file and live tracks."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from fieldtool.tracks.positions import TrackPositions, interpolate
from fieldtool.types import Fix

T0 = datetime(2024, 5, 1, 12, 0, 0)


def test_interpolate_wraps_longitude_across_the_antimeridian():
    lat, lon, acc = interpolate(
        [0.0, 2.0], [-16.5, -16.5], [179.9999, -179.9999], [4.0, np.nan], [0.5, 1.0, 1.5], 5.0
    )
    assert lat == pytest.approx([-16.5, -16.5, -16.5])
    # a quarter of the way: 179.99995; half-way: ±180; three quarters: -179.99995
    assert lon[0] == pytest.approx(179.99995)
    assert abs(lon[1]) == pytest.approx(180.0)
    assert lon[2] == pytest.approx(-179.99995)
    assert acc == pytest.approx([4.0, 4.0, 4.0])  # one side without accuracy: the other's


def test_interpolate_gap_rule():
    times, lats, lons, accs = [0.0, 100.0], [10.0, 11.0], [20.0, 21.0], [np.nan, np.nan]
    lat, lon, acc = interpolate(times, lats, lons, accs, [-3.0, -6.0, 4.0, 50.0, 97.0, 106.0], 5.0)
    # held before the first fix within 5 s, nothing farther; across the 100 s hole the
    # nearer end is held within 5 s and the middle has no position; after the end likewise
    assert lat[0] == 10.0 and np.isnan(lat[1])
    assert lat[2] == 10.0 and lon[2] == 20.0
    assert np.isnan(lat[3]) and np.isnan(lon[3])
    assert lat[4] == 11.0 and np.isnan(lat[5])
    assert np.isnan(acc).all()


def test_interpolate_without_fixes_gives_nothing():
    lat, lon, acc = interpolate([], [], [], [], [0.0, 1.0], 5.0)
    assert np.isnan(lat).all() and np.isnan(lon).all() and np.isnan(acc).all()


def test_track_positions_uses_interpolate():
    fixes = [
        Fix(T0 + timedelta(seconds=s), 44.0 + s * 1e-4, 179.9999 if s < 2 else -179.9999, None, 3.0)
        for s in (0, 1, 2, 3)
    ]
    track = TrackPositions(fixes, max_gap_s=5.0)
    t = track.seconds([T0 + timedelta(seconds=s) for s in (0.5, 1.5, 2.5, 9.0)])
    lat, lon, acc = interpolate(
        [0.0, 1.0, 2.0, 3.0], [f.lat for f in fixes], [f.lon for f in fixes], [3.0] * 4, t, 5.0
    )
    mine = track.interpolate(t)
    np.testing.assert_array_equal(mine[0], lat)
    np.testing.assert_array_equal(mine[1], lon)
    np.testing.assert_array_equal(mine[2], acc)
    assert abs(lon[1]) == pytest.approx(180.0)


def test_a_tracks_elevation_is_interpolated_with_its_position():
    """Drone and walking tracks carry altitude (SRT, GPMF, GPX <ele>, NMEA GGA); a frame's
    position keeps it (m above sea level), interpolated by the gap rule; a fix without one
    lends the other's; none where no fix has one."""
    fixes = [Fix(T0, 44.0, -123.0, 100.0), Fix(T0 + timedelta(seconds=2), 44.0, -123.0, 120.0),
             Fix(T0 + timedelta(seconds=4), 44.0, -123.0, None)]  # fmt: skip
    track = TrackPositions(fixes, max_gap_s=5.0)
    at = [track.position_at(T0 + timedelta(seconds=s)) for s in (0.0, 1.0, 3.0, 60.0)]
    assert [p.elevation_m if p else None for p in at] == [100.0, 110.0, 120.0, None]
    flat = TrackPositions([Fix(T0, 44.0, -123.0)], max_gap_s=5.0)
    assert flat.position_at(T0).elevation_m is None
