"""Live positions from a fake gpsd daemon on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta

import pytest

from fieldtool.config import PositionConfig
from fieldtool.tracks import GpsdPositions, parse_address, parse_tpv, positions_from_config
from fieldtool.types import FieldtoolError

T0 = datetime(2026, 6, 1, 9, 0, 0)


def tpv(seconds: float, lat: float, lon: float, mode: int = 3) -> bytes:
    when = (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds") + "Z"
    return (
        json.dumps({"class": "TPV", "mode": mode, "time": when, "lat": lat, "lon": lon, "eph": 4.5})
        + "\n"
    ).encode()


class FakeGpsd:
    """Accepts connections; on each, waits for WATCH and sends ``sessions[k]`` then closes."""

    def __init__(self, sessions: list[list[bytes]]) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sessions = sessions
        self.watch_seen = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        for lines in self.sessions:
            conn, _ = self.server.accept()
            with conn:
                if b"WATCH" in conn.recv(1024):
                    self.watch_seen += 1
                conn.sendall(b'{"class":"VERSION","release":"3.25"}\n' + b"".join(lines))


def test_parse_tpv_keeps_fixes_only():
    assert parse_tpv(tpv(1, 44.5, -123.3).decode()).lat == 44.5
    assert parse_tpv(tpv(1, 44.5, -123.3, mode=1).decode()) is None  # no fix
    assert parse_tpv('{"class":"SKY","satellites":[]}') is None
    assert parse_tpv("garbage {") is None


@pytest.mark.parametrize(("text", "expected"), [("localhost", ("localhost", 2947)),
                                                ("10.0.0.2:3000", ("10.0.0.2", 3000))])  # fmt: skip
def test_parse_address(text, expected):
    assert parse_address(text) == expected


def test_bad_address():
    with pytest.raises(FieldtoolError, match="host\\[:port\\]"):
        parse_address("gps:abc")


def test_live_fixes_interpolate_hold_and_survive_a_drop():
    first = [tpv(0, 44.0, -123.0), b"not json\n", tpv(2, 44.0002, -123.0), tpv(3, 50.0, 10.0)]
    second = [tpv(4, 44.0004, -123.0), tpv(5, 44.0005, -123.0)]
    fake = FakeGpsd([first, second])
    logs: list[str] = []
    gps = GpsdPositions(f"127.0.0.1:{fake.port}", max_gap_s=2.0, log=logs.append)
    try:
        assert gps.wait_for_fix(5)
        deadline = datetime.now() + timedelta(seconds=8)
        while gps.fixes_read < 4 and datetime.now() < deadline:
            threading.Event().wait(0.05)
        assert gps.fixes_read == 4 and gps.dropped == 1  # the jump to Europe is dropped
        assert fake.watch_seen == 2 and gps.reconnects >= 1
        mid = gps.position_at(T0 + timedelta(seconds=1))
        assert mid.lat == pytest.approx(44.0001) and mid.source == "gpsd" and mid.accuracy_m == 4.5
        held = gps.position_at(T0 + timedelta(seconds=6.5))  # 1.5 s after the newest fix
        assert held.lat == pytest.approx(44.0005)
        assert gps.position_at(T0 + timedelta(seconds=9)) is None  # too long since the last fix
    finally:
        gps.close()


def test_config_chooses_gpsd_and_refuses_two_sources():
    with pytest.raises(FieldtoolError, match="not lat/lon and gpsd"):
        positions_from_config(PositionConfig(lat=1, lon=2, gpsd="127.0.0.1:9"))
    gps = positions_from_config(PositionConfig(gpsd="127.0.0.1:9"))
    try:
        assert isinstance(gps, GpsdPositions) and gps.position_at(T0) is None  # nobody answers
    finally:
        gps.close()
