"""``--gpsd`` for a recorded file: its live fixes are at this machine's clock, the file's
frames at the file's, so the session says so; a gpsd it cannot reach is said in the log
(it was silent: a typo's run ended "0 positioned" with no word why)."""

from __future__ import annotations

import socket
import threading

from fieldtool.config import Config
from fieldtool.placement import place_session
from fieldtool.tracks.read import positions_from_config
from tests.sources.conftest import write_h264_pyav


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listened on: connections are refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_gpsd_that_cannot_be_reached_is_said():
    port = _closed_port()
    said: list[str] = []
    heard = threading.Event()

    def log(message: str) -> None:
        said.append(message)
        heard.set()

    config = Config.model_validate({"position": {"gpsd": f"127.0.0.1:{port}"}})
    positions = positions_from_config(config.position, log)
    try:
        assert heard.wait(60), "no line about the refused connection"
    finally:
        positions.close()  # type: ignore[union-attr]
    assert f"gpsd at 127.0.0.1:{port}" in said[0] and "retrying" in said[0]


def test_gpsd_for_a_recorded_file_is_a_warning(tmp_path):
    video = write_h264_pyav(tmp_path / "walk.mp4", frames=10)
    config = Config.model_validate({"source": {"uri": str(video)},
                                    "position": {"gpsd": f"127.0.0.1:{_closed_port()}"}})  # fmt: skip
    placement = place_session(config, live=False, fps=30.0, log=lambda message: None)
    try:
        warned = [n for n in placement.notes if n.startswith("warning: position: gpsd")]
        assert len(warned) == 1 and "walk.mp4" in warned[0] and "--lat/--lon" in warned[0]
    finally:
        placement.positions.close()  # type: ignore[union-attr]
