"""MQTT against a real mosquitto on 127.0.0.1: topics, retained status and last will,
messages kept in the dead letter while the broker is away and replayed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from fieldtool.notify import MqttConfig
from fieldtool.notify.mqtt import MqttNotifier

from ..station.conftest import wait_for
from .test_webhook import sighting_notice


def test_sightings_on_their_topic_and_the_status_retained(tmp_path, broker, subscriber):
    said: list[str] = []
    notifier = MqttNotifier(MqttConfig(port=broker.port), "ridge", tmp_path / "dead.jsonl",
                            log=said.append)  # fmt: skip
    wait_for(notifier.connected.is_set, 30, "the connection")
    notifier.send(sighting_notice("start"))
    wait_for(lambda: subscriber.sightings(), 30, "the message")
    notifier.close(30)
    assert not any("connection lost" in line or "reconnecting" in line for line in said), said
    assert subscriber.sightings()[0]["sighting_id"] == "sid1"
    assert [t for t, _, _ in subscriber.messages if t.endswith("sighting")] == [
        "fieldtool/ridge/feeder/sighting"]
    wait_for(lambda: subscriber.on("fieldtool/ridge/status")[-1:] == [b"offline"], 30,
             "offline")  # fmt: skip
    assert not (tmp_path / "dead.jsonl").exists()


def test_unsent_messages_wait_in_the_dead_letter_for_the_next_start(tmp_path, broker, subscriber):
    letter = tmp_path / "dead.jsonl"
    broker.stop()
    notifier = MqttNotifier(MqttConfig(port=broker.port), "ridge", letter)
    notifier.send(sighting_notice("start"))
    notifier.send(sighting_notice("end"))
    notifier.close(0.5)
    assert notifier.dead_lettered == 2
    assert [json.loads(line)["payload"]["event"] for line in letter.read_text().splitlines()] \
        == ["start", "end"]  # fmt: skip
    broker.start()
    again = MqttNotifier(MqttConfig(port=broker.port), "ridge", letter)
    wait_for(lambda: len(subscriber.sightings()) == 2, 60, "the replayed messages")
    again.close(30)
    assert [m["event"] for m in subscriber.sightings()] == ["start", "end"]
    assert not letter.exists()


def test_the_last_will_says_offline_when_the_station_vanishes(tmp_path, broker, subscriber):
    script = textwrap.dedent(f"""
        import time
        from fieldtool.notify import MqttConfig
        from fieldtool.notify.mqtt import MqttNotifier
        n = MqttNotifier(MqttConfig(port={broker.port}, keepalive_s=5), "gone",
                         __import__("pathlib").Path({str(tmp_path / "d.jsonl")!r}))
        n.connected.wait(30)
        print("up", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"up"
        wait_for(lambda: subscriber.on("fieldtool/gone/status")[-1:] == [b"online"], 30, "online")
        os.kill(proc.pid, signal.SIGKILL)  # no clean disconnect: the broker sends the will
        wait_for(lambda: subscriber.on("fieldtool/gone/status")[-1:] == [b"offline"], 60,
                 "the last will")  # fmt: skip
    finally:
        proc.kill()
        proc.wait()


def test_a_publish_acknowledged_meanwhile_does_not_deadlock(tmp_path):
    """paho's network thread calls on_publish while it holds paho's own message lock; a
    publish from the session's thread takes that lock too. The notifier must not hold its
    own lock across ``publish``, or the two threads wait on each other for ever (this hung
    a CI run when the broker came back during the dead letter's replay)."""
    import threading

    import paho.mqtt.client as mqtt

    notifier = MqttNotifier(MqttConfig(port=1), "ridge", tmp_path / "dead.jsonl")
    notifier.client.loop_stop()
    finished: list[bool] = []

    class PahoLike:
        """publish() holds its message lock while the network thread acknowledges."""

        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.mid = 0

        def publish(self, topic, payload, qos=0, retain=False):  # noqa: ANN001, ANN202
            with self.lock:
                self.mid += 1
                ack = threading.Thread(target=notifier._on_publish,
                                       args=(self, None, self.mid, None, None))  # fmt: skip
                ack.start()
                ack.join(60)  # generous: a live thread after this means a deadlock
                finished.append(not ack.is_alive())
                return mqtt.MQTTMessageInfo(self.mid)

    real = notifier.client
    notifier.client = PahoLike()  # type: ignore[assignment]
    try:
        notifier.send(sighting_notice("start"))
        assert finished == [True]
        assert notifier.pending() == 0  # acknowledged before publish returned: not pending
    finally:
        notifier.client = real
        real.disconnect()
