"""The live gpsd track meets the same lookup and plausibility rules as a track file."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from fieldtool.tracks.gpsd import GpsdPositions, parse_tpv
from fieldtool.tracks.positions import TrackPositions
from fieldtool.types import Fix

T0 = datetime(2026, 6, 1, 9, 0, 0)


def _tpv(seconds: float, lat: object, lon: object, **extra: object) -> bytes:
    when = (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds") + "Z"
    report = {"class": "TPV", "mode": 3, "time": when, "lat": lat, "lon": lon, "eph": 4.5}
    report.update(extra)
    return (json.dumps(report) + "\n").encode()


def _fix(seconds: float, lat: float, lon: float) -> Fix:
    return Fix(T0 + timedelta(seconds=seconds), lat, lon, None, 4.5)


@pytest.fixture
def offline() -> Iterator[GpsdPositions]:
    """A reader whose daemon never answers (port 9); fixes are given with ``add``."""
    gps = GpsdPositions("127.0.0.1:9", max_gap_s=2.0, connect_timeout_s=0.2)
    try:
        yield gps
    finally:
        gps.close()


def _serve_once(lines: list[bytes]) -> int:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)  # the WATCH command
            conn.sendall(b"".join(lines))
            threading.Event().wait(5)  # stay connected: no reconnect during the test
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(server.getsockname()[1])


def test_live_track_wraps_the_antimeridian_and_drops_null_island():
    # Fiji: the receiver first reports (0, 0) (no fix yet, but mode 3), then crosses ±180°
    port = _serve_once([_tpv(0, 0.0, 0.0), _tpv(1, -16.5, 179.9999), _tpv(2, -16.5, -179.9999)])
    gps = GpsdPositions(f"127.0.0.1:{port}", max_gap_s=2.0)
    try:
        deadline = datetime.now() + timedelta(seconds=8)
        while gps.fixes_read + gps.dropped < 3 and datetime.now() < deadline:
            threading.Event().wait(0.05)
        assert gps.fixes_read == 2 and gps.dropped == 1
        assert gps.drop_reasons == {"invalid": 1}
        mid = gps.position_at(T0 + timedelta(seconds=1.5))
        assert mid is not None
        assert mid.lat == pytest.approx(-16.5)
        assert abs(mid.lon) == pytest.approx(180.0)  # not 0°: the short way round
        assert mid.source == "gpsd"
        # before the first kept fix it is held (within 2 s), never the (0, 0) report
        held = gps.position_at(T0 + timedelta(seconds=0.5))
        assert held is not None and held.lon == pytest.approx(179.9999)
    finally:
        gps.close()


def test_add_applies_the_file_plausibility_rule(offline: GpsdPositions):
    assert not offline.add(_fix(0, 0.0, 0.0))  # null island
    assert not offline.add(_fix(0, float("nan"), 10.0))
    assert not offline.add(_fix(0, 91.0, 10.0))
    assert not offline.add(Fix(datetime(1970, 1, 1), 44.0, -123.0))  # before GPS time
    assert offline.add(_fix(0, 44.0, -123.0))
    assert not offline.add(_fix(0, 44.0, -123.0))  # repeated: ignored, not counted
    assert not offline.add(_fix(1, 50.0, 10.0))  # a jump to Europe in one second
    assert offline.add(_fix(2, 44.0002, -123.0))
    assert offline.add(_fix(3, 44.0003, -123.0))
    assert offline.fixes_read == 3 and offline.dropped == 5
    assert offline.drop_reasons == {"invalid": 3, "before_1980": 1, "jump": 1}


def test_live_lookup_equals_the_file_lookup(offline: GpsdPositions):
    fixes = [_fix(0, -16.5, 179.9998), _fix(1, -16.5, 179.9999), _fix(2, -16.5, -179.9999),
             _fix(7, -16.5001, -179.9998)]  # fmt: skip
    for fix in fixes:
        assert offline.add(fix)
    track = TrackPositions(fixes, max_gap_s=2.0, source="gpsd")
    for s in (-3.0, -1.0, 0.0, 0.25, 1.5, 2.0, 3.9, 4.5, 5.1, 7.5, 9.5):
        when = T0 + timedelta(seconds=s)
        assert offline.position_at(when) == track.position_at(when), s
    assert abs(offline.position_at(T0 + timedelta(seconds=1.5)).lon) == pytest.approx(180.0)
    assert offline.position_at(T0 + timedelta(seconds=4.5)) is None  # mid-hole: > 2 s from both


@pytest.mark.parametrize(
    "extra",
    [{"mode": "3"}, {"eph": "x"}, {"eph": [1]}, {"alt": {"m": 3}}, {"time": None}],
)
def test_parse_tpv_refuses_wrong_types_without_raising(extra: dict[str, object]):
    assert parse_tpv(_tpv(0, 44.0, -123.0, **extra).decode()) is None


def test_parse_tpv_reads_a_fix():
    fix = parse_tpv(_tpv(1, 44.5, -123.3, altMSL=12.5).decode())
    assert fix == Fix(T0 + timedelta(seconds=1), 44.5, -123.3, 12.5, 4.5)
