"""Sighting notifications: MQTT (:mod:`~fieldtool.notify.mqtt`) and webhooks
(:mod:`~fieldtool.notify.webhook`), each target behind its own filter
(:mod:`~fieldtool.notify.filters`); what they are sent is a
:class:`~fieldtool.notify.events.Notice`. Targets are told from the station's thread and
never block it: paho's network thread and one sender thread per webhook do the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from fieldtool.notify.config import (
    FilterConfig,
    MqttConfig,
    NotifyConfig,
    WebhookConfig,
)
from fieldtool.notify.events import Notice, Scores, notice_of, review_notice
from fieldtool.notify.filters import TargetFilter

__all__ = [
    "FilterConfig",
    "MqttConfig",
    "Notice",
    "Notifier",
    "Notifiers",
    "NotifyConfig",
    "Scores",
    "TargetFilter",
    "WebhookConfig",
    "notice_of",
    "review_notice",
]


class Notifier(Protocol):
    """One target: ``send`` queues a notice and returns at once; ``close`` delivers what
    it can within ``timeout_s`` and keeps the rest in its dead letter."""

    name: str

    def send(self, notice: Notice) -> None: ...

    def pending(self) -> int: ...

    def close(self, timeout_s: float = 10.0) -> None: ...


class Notifiers:
    """Every target of a station, each behind its filter. Used from one thread."""

    def __init__(self, targets: Iterable[tuple[TargetFilter, Notifier]] = ()) -> None:
        self.targets = list(targets)

    @classmethod
    def from_config(
        cls,
        config: NotifyConfig,
        station: str,
        folder: Path,
        *,
        seen_today: Iterable[str] = (),
        log: Callable[[str], None] | None = None,
    ) -> Notifiers:
        """The targets ``config`` names; dead letters default to ``folder`` (beside the
        database). Secrets are read from their environment variables here."""
        seen = list(seen_today)
        targets: list[tuple[TargetFilter, Notifier]] = []
        try:
            if config.mqtt is not None:
                from fieldtool.notify.mqtt import MqttNotifier

                letter = config.mqtt.dead_letter or folder / f"{station}_mqtt_dead_letter.jsonl"
                targets.append((TargetFilter(config.mqtt.filters, seen_today=seen),
                                MqttNotifier(config.mqtt, station, letter, log=log)))  # fmt: skip
            for i, hook in enumerate(config.webhooks):
                from fieldtool.notify.webhook import WebhookNotifier

                letter = hook.dead_letter or folder / f"{station}_webhook{i}_dead_letter.jsonl"
                targets.append((TargetFilter(hook.filters, seen_today=seen),
                                WebhookNotifier(hook, letter, log=log)))  # fmt: skip
        except BaseException:
            cls(targets).close(0.0)
            raise
        return cls(targets)

    def send(self, notice: Notice) -> int:
        """Queue ``notice`` for every target whose filter admits it; how many took it."""
        sent = 0
        for check, target in self.targets:
            if check.admits(notice):
                target.send(notice)
                sent += 1
        return sent

    def close(self, timeout_s: float = 10.0) -> None:
        for _, target in self.targets:
            target.close(timeout_s)
