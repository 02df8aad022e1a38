"""Settings of a station's notification targets: an MQTT broker and webhooks, each with
filters. Secrets are never settings: a target names the environment variable that holds
its password or token (``password_env``, ``token_env``), read when the station starts."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from fieldtool.config.base import Section
from fieldtool.types import FieldtoolError

EventKind = Literal["start", "end", "review"]
ALL_EVENTS: list[EventKind] = ["start", "end", "review"]
TOPIC_PART = re.compile(r"^[A-Za-z0-9_.-]+$")  # an MQTT topic level: no wildcards, no "/"


class FilterConfig(Section):
    """Which sighting events a target is told about."""

    events: list[EventKind] = Field(
        default_factory=lambda: list(ALL_EVENTS),
        description="event kinds sent: start (a sighting opens), end (it closes, with its "
        "final scores), review (a person confirmed, rejected or relabelled it)",
    )
    include: list[str] = Field(
        default_factory=list,
        description="only these species (scientific names, any spelling fieldtool.names "
        "matches); empty: every species",
    )
    exclude: list[str] = Field(default_factory=list, description="never these species")
    min_score: float = Field(
        0.0, ge=0, le=1,
        description="smoothed peak score (0-1) a sighting must reach to be sent",
    )  # fmt: skip
    new_today_only: bool = Field(
        False,
        description="only a species' first sighting of the day (UTC) at the station; the "
        "day's earlier sightings in the store count too",
    )
    rate_limit_s: float = Field(
        0.0, ge=0,
        description="seconds: at most one sighting per species and target in this time "
        "(the rest are not sent, their end events neither); 0: no limit",
    )  # fmt: skip


class MqttConfig(Section):
    """An MQTT broker (paho-mqtt): sightings on ``fieldtool/<station>/<source>/sighting``,
    the station's retained status on ``fieldtool/<station>/status`` (online / offline,
    the last will)."""

    host: str = Field("127.0.0.1", description="broker host name or address")
    port: int = Field(1883, ge=1, le=65535, description="broker TCP port")
    username: str | None = Field(None, description="user name, when the broker asks for one")
    password_env: str | None = Field(
        None, description="name of the environment variable holding the broker password"
    )
    client_id: str = Field("", description="MQTT client id; default: fieldtool-<station>")
    qos: Literal[0, 1, 2] = Field(1, description="quality of service of sighting messages")
    keepalive_s: int = Field(30, ge=5, description="seconds between keep-alive pings")
    topic_prefix: str = Field("fieldtool", description="first level of every topic")
    dead_letter: Path | None = Field(
        None,
        description="JSON lines file of messages still unsent when the station stops, sent "
        "first at the next start; default: beside the database",
    )
    filters: FilterConfig = Field(default_factory=FilterConfig)

    def password(self) -> str | None:
        return secret(self.password_env, "mqtt.password_env")


class WebhookConfig(Section):
    """An HTTP endpoint that gets each event as a JSON POST."""

    url: str = Field(description="http(s) URL the events are POSTed to")
    token_env: str | None = Field(
        None,
        description="name of the environment variable holding a bearer token, sent as "
        "`Authorization: Bearer ...`",
    )
    timeout_s: float = Field(5.0, gt=0, description="seconds one POST may take")
    retries: int = Field(
        4, ge=0, description="tries after the first before an event goes to the dead letter"
    )
    backoff_s: float = Field(
        0.5, ge=0, description="seconds before the first retry, doubled each retry"
    )
    backoff_max_s: float = Field(30.0, gt=0, description="seconds; the longest retry wait")
    dead_letter: Path | None = Field(
        None,
        description="JSON lines file of events the target did not take after every retry; "
        "replayed when the station starts; default: beside the database",
    )
    filters: FilterConfig = Field(default_factory=FilterConfig)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    def token(self) -> str | None:
        return secret(self.token_env, "webhook.token_env")


class NotifyConfig(Section):
    """Where sighting events go: at most one MQTT broker, any number of webhooks."""

    mqtt: MqttConfig | None = Field(None, description="the MQTT broker; none: no MQTT")
    webhooks: list[WebhookConfig] = Field(
        default_factory=list, description="webhook targets, each with its own filters"
    )
    dashboard_url: str = Field(
        "", description="the dashboard's address; events link to the sighting there"
    )


def unset_secrets(config: NotifyConfig) -> list[tuple[str, str]]:
    """``(key, variable)`` for each secret ``config`` names whose environment variable is
    not set (``("notify.webhooks.0.token_env", "HOOK_TOKEN")``): checked before a station
    starts, so it is refused before anything is written."""
    named = [("notify.mqtt.password_env", config.mqtt.password_env if config.mqtt else None)]
    named += [(f"notify.webhooks.{i}.token_env", hook.token_env)
              for i, hook in enumerate(config.webhooks)]  # fmt: skip
    return [(key, var) for key, var in named if var is not None and var not in os.environ]


def secret(variable: str | None, setting: str) -> str | None:
    """The value of the environment variable ``variable`` names (None: no secret). Only
    the variable's name appears in errors and logs, never its value."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise FieldtoolError(f"{setting} {variable!r}: environment variable not set")
    return value
