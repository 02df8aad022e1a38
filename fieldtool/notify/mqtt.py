"""MQTT target (paho-mqtt 2.x): sighting events and the station's status.

Topics (``topic_prefix`` default ``fieldtool``):

- ``fieldtool/<station>/<source>/sighting``: one JSON :meth:`Notice.body` per event, QoS 1;
- ``fieldtool/<station>/status``: ``online`` (retained) once connected, ``offline`` at a
  clean stop and as the broker-sent last will when the station vanishes.

paho's network thread connects in the background and reconnects with backoff; messages
published while the broker is away wait in paho's queue and go out, in order, after the
reconnect. Messages still unsent when the station stops go to the dead-letter file and
are published first at the next start. The password (``password_env``) is handed to paho
only; logs never carry it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fieldtool.notify.config import TOPIC_PART, MqttConfig
from fieldtool.notify.deadletter import DeadLetter
from fieldtool.notify.events import Notice
from fieldtool.types import FieldtoolError


def topic_part(name: str, what: str) -> str:
    if not TOPIC_PART.match(name):
        raise FieldtoolError(f"{what} {name!r}: use letters, digits, '.', '_' or '-' only "
                             "(it is an MQTT topic level)")  # fmt: skip
    return name


class MqttNotifier:
    """Publishes notices to one broker. ``send`` never blocks."""

    def __init__(
        self,
        config: MqttConfig,
        station: str,
        dead_letter: Path,
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.prefix = config.topic_prefix.strip("/")
        self.station = topic_part(station, "station name")
        self.name = f"mqtt {config.host}:{config.port}"
        self.status_topic = f"{self.prefix}/{self.station}/status"
        self.dead_letter = DeadLetter(dead_letter)
        self._log = log or (lambda message: None)
        self.connected = threading.Event()
        self.connects = 0  # connections made (a reconnect counts)
        # RLock: paho may call on_publish inside publish() on the same thread (QoS 0)
        self._lock = threading.RLock()
        self._unacked: dict[int, tuple[str, bytes]] = {}  # mid -> message, until acked
        self._acked_early: set[int] = set()  # acked before publish() returned its mid
        self.dead_lettered = 0
        self._closing = threading.Event()  # our own disconnect: no "connection lost"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"fieldtool-{self.station}",
            protocol=mqtt.MQTTv311,
        )
        client.max_queued_messages_set(0)  # 0: unbounded while the broker is away
        if config.username is not None:
            client.username_pw_set(config.username, config.password())
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client
        client.connect_async(config.host, config.port, keepalive=config.keepalive_s)
        client.loop_start()
        replay = self.dead_letter.take()
        for entry in replay:
            if isinstance(entry.get("topic"), str) and isinstance(entry.get("payload"), dict):
                self._publish(entry["topic"], entry["payload"])
        if replay:
            self._log(f"{self.name}: replaying {len(replay)} message(s) from {dead_letter}")

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            self._log(f"{self.name}: connection refused ({reason})")
            return
        self.connects += 1
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        self.connected.set()
        if self.connects > 1:
            self._log(f"{self.name}: connected again")

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected.is_set() and not self._closing.is_set():
            self._log(f"{self.name}: connection lost ({reason}); reconnecting, messages wait")
        self.connected.clear()

    def topic(self, source: str) -> str:
        return f"{self.prefix}/{self.station}/{source}/sighting"

    def send(self, notice: Notice) -> None:
        self._publish(self.topic(notice.source), notice.body())

    def _publish(self, topic: str, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        # Not connected: paho keeps the message (rc MQTT_ERR_NO_CONN) and sends it after
        # the reconnect; only a full queue refuses it. Called without our lock: paho's
        # network thread calls _on_publish (our lock) while it holds paho's message lock,
        # which publish takes too; an acknowledgement that comes first is in _acked_early.
        info = self.client.publish(topic, payload, qos=self.config.qos)
        with self._lock:
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                self._bury(topic, payload)
            elif info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
            else:
                self._unacked[info.mid] = (topic, payload)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        with self._lock:
            if self._unacked.pop(mid, None) is None and len(self._acked_early) < 10_000:
                self._acked_early.add(mid)  # status messages land here too: bounded

    def pending(self) -> int:
        """Messages the broker has not acknowledged yet."""
        with self._lock:
            return len(self._unacked)

    def _bury(self, topic: str, payload: bytes) -> None:
        self.dead_letter.append({"topic": topic, "payload": json.loads(payload)})
        self.dead_lettered += 1

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait up to ``timeout_s`` for queued messages, say ``offline`` (retained),
        dead-letter what is still unsent, disconnect."""
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.connected.is_set():
            info = self.client.publish(self.status_topic, b"offline", qos=1, retain=True)
            with suppress(RuntimeError, ValueError):  # the connection went meanwhile
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        with self._lock:
            left = list(self._unacked.values())
            self._unacked.clear()
        for topic, payload in left:
            self._bury(topic, payload)
        if left:
            self._log(f"{self.name}: {len(left)} message(s) unsent, kept in "
                      f"{self.dead_letter.path} for the next start")  # fmt: skip
        self._closing.set()
        self.client.disconnect()  # a clean disconnect: the broker does not send the will
        self.client.loop_stop()
