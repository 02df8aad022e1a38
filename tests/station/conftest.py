"""Real parts on 127.0.0.1 for station and notification tests: a mosquitto broker, MJPEG
cameras that can be killed, a subscriber that records what arrives."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from ..conftest import COLOURS

NO_MOSQUITTO = "Debian's mosquitto is not installed (apt-get install mosquitto; .ci/run does)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], object], timeout_s: float = 60.0, what: str = "") -> None:
    """Poll ``check`` until true; generous bounds, as two busy processes may run beside."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


class Broker:
    """mosquitto on 127.0.0.1:``port``, anonymous, persistent (a restart keeps retained
    messages and a persistent subscriber's session and queue)."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nautosave_interval 1\n"
            # as root mosquitto drops to user "mosquitto", which cannot write this folder
            f"user {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
            stderr=(self.folder / "mosquitto.log").open("ab"),
        )  # fmt: skip
        wait_for(self._listening, 30, "mosquitto to listen")

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file first
            self.proc.wait(30)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def broker(tmp_path) -> Iterator[Broker]:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        pytest.skip(NO_MOSQUITTO)
    b = Broker(binary, tmp_path / "broker")
    try:
        yield b
    finally:
        b.stop()


class Subscriber:
    """A persistent MQTT subscriber (clean_session False, QoS 1) recording every message."""

    def __init__(self, port: int, topic: str = "fieldtool/#") -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-watcher",
                             clean_session=False)  # fmt: skip
        client.reconnect_delay_set(0.1, 1)

        def on_connect(c, userdata, flags, reason, properties) -> None:
            c.subscribe(topic, qos=1)

        def on_subscribe(c, userdata, mid, reasons, properties) -> None:
            self.subscribed.set()

        def on_message(c, userdata, msg) -> None:
            with self.lock:
                self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect("127.0.0.1", port, keepalive=5)
        client.loop_start()
        self.client = client
        wait_for(self.subscribed.is_set, 30, "the subscription")

    def sightings(self) -> list[dict]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if t.endswith("/sighting")]

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(broker) -> Iterator[Subscriber]:
    s = Subscriber(broker.port)
    try:
        yield s
    finally:
        s.close()


class Camera:
    """An MJPEG-over-HTTP camera on 127.0.0.1 showing colour ``COLOURS[cls]`` at ``fps``;
    :meth:`kill` takes it away for good, open connections too (unlike
    tests/faults' MjpegServer, whose open connection serves its frames to the end)."""

    def __init__(self, cls: int = 0, fps: float = 20.0) -> None:
        jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), COLOURS[cls], np.uint8))[1].tobytes()
        part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
        self.killed = threading.Event()
        self.frames = 0
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not cam.killed.is_set():
                        self.wfile.write(part + jpeg + b"\r\n")
                        self.wfile.flush()
                        cam.frames += 1
                        cam.killed.wait(1 / fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def kill(self) -> None:
        if not self.killed.is_set():
            self.killed.set()
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def cameras() -> Iterator[Callable[..., Camera]]:
    made: list[Camera] = []

    def make(cls: int = 0, fps: float = 20.0) -> Camera:
        made.append(Camera(cls, fps))
        return made[-1]

    try:
        yield make
    finally:
        for cam in made:
            cam.kill()
