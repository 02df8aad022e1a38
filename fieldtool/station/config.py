"""A station's TOML: the session sections every source shares, the sources (each with
its own overrides), the model worker and the notification targets.

The session sections (``[source]``, ``[model]``, ``[position]``, ``[prior]``,
``[smoothing]``, ``[store]``) are :class:`fieldtool.config.Config`'s, defaults for every
source; a ``[[sources]]`` entry overrides ``source``, ``position``, ``prior`` and
``smoothing`` keys for itself (:meth:`StationConfig.session_config`); its own position
source (lat/lon, a track or gpsd) replaces the shared one. The model and the store are
the station's: one of each (a ``store.preview`` video: one per source).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomllib
from pydantic import Field, ValidationError, field_validator, model_validator

from fieldtool.config import (
    SECTIONS,
    Config,
    ModelConfig,
    PositionConfig,
    PriorConfig,
    Section,
    SmoothingConfig,
    SourceConfig,
    StoreConfig,
    anchor_paths,
)
from fieldtool.config.base import validation_line
from fieldtool.notify.config import TOPIC_PART, NotifyConfig
from fieldtool.types import FieldtoolError

OVERRIDABLE = ("source", "position", "prior", "smoothing")  # a source's own sections
# A position source: a source naming any of these replaces the shared one whole (a shared
# lat/lon beside a source's own track would be two sources of position); a track's
# format goes with its track.
POSITION_SOURCE = ("lat", "lon", "track", "gpsd")
POSITION_SOURCE_WITH = ("track_format",)


class StationSection(Section):
    """The station itself."""

    name: str = Field("station", description="station name: an MQTT topic level, in logs")
    status_file: Path | None = Field(
        None,
        description="JSON file the station rewrites with every source's live figures "
        "(newest frame, rate, lag, dropped, last sighting); default: "
        "`<db stem>_station-<name>.json` beside the database. The dashboard's live page "
        "finds it anywhere: the running station names it in the database's station "
        "registry (`<db stem>_stations/`)",
    )
    status_interval_s: float = Field(
        1.0, gt=0, description="seconds between two rewrites of the status file"
    )
    replace_earlier: bool = Field(
        False,
        description="at each start, first delete the database's earlier sessions of each "
        "file source (as `fieldtool station --replace`), so a restart does not add a "
        "file's sightings again beside them; a live source's earlier sessions are its "
        "history and stay",
    )

    @field_validator("name")
    @classmethod
    def _topic_level(cls, value: str) -> str:
        if not TOPIC_PART.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' only")
        return value


class WorkerConfig(Section):
    """The one model worker: frames of every source in dynamic batches."""

    max_batch: int = Field(
        8, ge=1, le=1024, description="frames per model call at most (across sources)"
    )
    max_wait_ms: float = Field(
        20.0, ge=0, le=10_000,
        description="milliseconds a batch waits for more frames once it has one; a live "
        "frame's lag stays within one batch plus this",
    )  # fmt: skip
    queue_batches: int = Field(
        4, ge=1, description="classified batches waiting for the sessions' stages at most"
    )


class SourceEntry(Section):
    """One source of the station, with its own overrides of the session sections."""

    name: str = Field(description="the source's name: an MQTT topic level, the session's "
                      "`source_name`")  # fmt: skip
    uri: str = Field(description="video path, camera index or http/rtsp URL")
    source: dict[str, Any] = Field(
        default_factory=dict,
        description="`[sources.source]`: this source's `[source]` keys (sample_fps, tz, "
        "retry, ...)",
    )
    position: dict[str, Any] = Field(
        default_factory=dict,
        description="`[sources.position]`: this source's `[position]` keys (lat and lon, "
        "track or gpsd replace the shared position source whole; time_offset_s, ...)",
    )
    prior: dict[str, Any] = Field(
        default_factory=dict, description="`[sources.prior]`: this source's `[prior]` keys"
    )
    smoothing: dict[str, Any] = Field(
        default_factory=dict,
        description="`[sources.smoothing]`: this source's `[smoothing]` keys",
    )

    @field_validator("name")
    @classmethod
    def _topic_level(cls, value: str) -> str:
        if not TOPIC_PART.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' only")
        return value


class StationConfig(Section):
    """A whole station."""

    station: StationSection = Field(default_factory=StationSection)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    source: SourceConfig = Field(default_factory=SourceConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    position: PositionConfig = Field(default_factory=PositionConfig)
    prior: PriorConfig = Field(default_factory=PriorConfig)
    smoothing: SmoothingConfig = Field(default_factory=SmoothingConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    sources: list[SourceEntry] = Field(default_factory=list, description="the sources")

    @model_validator(mode="after")
    def _sources_valid(self) -> StationConfig:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"source names must differ: {', '.join(twice)} more than once")
        if any(not _own_position_source(entry) for entry in self.sources):
            _one_position_source(self.position, "")  # the shared one: said once, as such
        for entry in self.sources:  # each source's merged settings, before any starts
            self.session_config(entry)
        return self

    def session_config(self, entry: SourceEntry) -> Config:
        """The session settings of one source: the shared sections with its overrides."""
        data = {k: getattr(self, k).model_dump() for k in (*OVERRIDABLE, "model", "store")}
        if _own_position_source(entry):
            for key in (*POSITION_SOURCE, *POSITION_SOURCE_WITH):
                data["position"].pop(key, None)  # its own position source replaces the shared
        for section in OVERRIDABLE:
            data[section].update(getattr(entry, section))
        data["source"]["uri"] = entry.uri
        preview = data["store"].get("preview")
        if preview is not None:  # one video per source: sources' frames in one file are junk
            preview = Path(preview)
            data["store"]["preview"] = preview.with_name(
                f"{preview.stem}-{entry.name}{preview.suffix}"
            )
        try:
            config = Config.model_validate(data)
        except ValidationError as exc:
            line = validation_line(exc, Config, prefix=f"sources.{entry.name}.",
                                   tables="sources.")  # fmt: skip
            raise ValueError(line) from None
        _one_position_source(config.position, f"source {entry.name}: ")
        if config.source.motion_threshold > 0:
            raise ValueError(f"sources.{entry.name}.source.motion_threshold: not supported in "
                             "a station (every frame is classified)")  # fmt: skip
        return config

    def entry(self, name: str) -> SourceEntry:
        for entry in self.sources:
            if entry.name == name:
                return entry
        raise KeyError(name)


def _own_position_source(entry: SourceEntry) -> bool:
    """Whether an entry names a position source of its own (replacing the shared one)."""
    return any(entry.position.get(key) is not None for key in POSITION_SOURCE)


def _one_position_source(position: PositionConfig, prefix: str) -> None:
    """As ``fieldtool run`` checks it (when it opens the source), but at load: a
    ValueError ``<prefix>position: give one of ...``."""
    from fieldtool.tracks import one_position_source  # here: reading a status stays light

    try:
        one_position_source(position)
    except FieldtoolError as exc:
        raise ValueError(f"{prefix}{exc}") from None


def source_names(uris: list[str]) -> list[str]:
    """A distinct, readable name for each of several sources (``fieldtool run SRC1 SRC2``),
    an MQTT topic level and the sessions' ``source_name``, and for one source (``fieldtool
    run SRC``'s lines, the dashboard's heading of a session without one): a file's stem
    (``walk``), a URL's host, port and path (``127.0.0.1-9011``, ``a-stream``; never its
    user or password), a camera index as given, a photo glob or a Camtrap DP package's
    ``datapackage.json`` its folder's name; ``-2``,
    ``-3`` ... after a name taken before."""
    names: list[str] = []
    for uri in uris:
        if "://" in uri:
            url = urlsplit(uri)
            parts = (url.hostname, str(url.port or ""), url.path.strip("/"))
            texts = ["-".join(p for p in parts if p)]
        else:
            path = Path(uri)
            if path.name == "datapackage.json":  # a Camtrap DP package: its folder
                path = path.parent
            texts = [path.stem or uri, *(p.name for p in path.parents)]  # a glob: its folder
        base = next((t for t in (_topic_text(t) for t in texts) if t), "source")
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


def reference_markdown() -> str:
    """``docs/config.md``: the session settings (:func:`fieldtool.config.reference_markdown`)
    and a station file's own sections (``python -m fieldtool.station.config``)."""
    from fieldtool.config import reference_markdown as session_reference
    from fieldtool.config import section_table
    from fieldtool.notify.config import FilterConfig, MqttConfig, WebhookConfig

    lines = ["", "# A station file", "",
             "`fieldtool station station.toml` ([station.md](station.md)) reads `[source]`, "
             "`[model]`, `[position]`, `[prior]`, `[smoothing]` and `[store]` above, each a "
             "default for every source, and the sections below. A `[[sources]]` entry's "
             "`[sources.source]`, `[sources.position]`, `[sources.prior]` and "
             "`[sources.smoothing]` tables take the keys of `[source]`, `[position]`, "
             "`[prior]` and `[smoothing]` for that source alone."]  # fmt: skip
    tables = (("[station]", StationSection), ("[worker]", WorkerConfig),
              ("[[sources]]", SourceEntry), ("[notify]", NotifyConfig),
              ("[notify.mqtt]", MqttConfig), ("[[notify.webhooks]]", WebhookConfig),
              ("[notify.mqtt.filters], [notify.webhooks.filters]", FilterConfig))  # fmt: skip
    for title, model in tables:
        lines += section_table(title, model)
    return session_reference() + "\n".join(lines) + "\n"


def _topic_text(text: str) -> str:
    """``text`` as an MQTT topic level (letters, digits, ``_``, ``.``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-_.")


def load_station_config(path: Path) -> StationConfig:
    """Read and check a station TOML (a one-line :class:`FieldtoolError` when it is bad)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: station file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FieldtoolError(f"{path}: not valid TOML ({exc})") from None
    folder = Path(path).absolute().parent
    anchor_paths(data, StationConfig, folder)  # relative paths: the station file's folder
    for entry in data.get("sources", []) if isinstance(data.get("sources"), list) else []:
        for section in OVERRIDABLE:  # a source's own sections, typed as Config's
            if isinstance(entry, dict) and isinstance(entry.get(section), dict):
                anchor_paths(entry[section], dict(SECTIONS)[section], folder)
    try:
        config = StationConfig.model_validate(data)
    except ValidationError as exc:
        raise FieldtoolError(f"{path}: {validation_line(exc, StationConfig, data=data)}") from None
    if not config.sources:
        raise FieldtoolError(f"{path}: no [[sources]]: a station needs at least one")
    return config


if __name__ == "__main__":  # python -m fieldtool.station.config > docs/config.md
    print(reference_markdown(), end="")
