"""Typed configuration, read from TOML and overridden by CLI flags.

Every section rejects unknown keys, so a typo in a config file is an error, not a
silently ignored setting.

One module per group of sections (:mod:`fieldtool.config.sections` for a session's);
a new concept's section is a :class:`~fieldtool.config.base.Section` subclass in its own
module here, added to :class:`Config` and :data:`SECTIONS`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import tomllib
from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo

from fieldtool.config.base import Flags, Section, flag, model_of, validation_line
from fieldtool.config.dashboard import DashboardConfig
from fieldtool.config.photos import PhotosConfig
from fieldtool.config.sections import (
    DEMO_MODEL,
    ModelConfig,
    PositionConfig,
    PriorConfig,
    SmoothingConfig,
    SourceConfig,
    StoreConfig,
)
from fieldtool.resources import shipped
from fieldtool.types import FieldtoolError

__all__ = [
    "DEMO_MODEL",
    "Config",
    "DashboardConfig",
    "Flags",
    "ModelConfig",
    "PhotosConfig",
    "PositionConfig",
    "PriorConfig",
    "Section",
    "SmoothingConfig",
    "SourceConfig",
    "StoreConfig",
    "config_fields",
    "default_text",
    "flag",
    "load_config",
    "parse_override",
    "reference_markdown",
    "section_table",
]


class Config(Section):
    """A whole session's settings."""

    source: SourceConfig = Field(default_factory=SourceConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    position: PositionConfig = Field(default_factory=PositionConfig)
    prior: PriorConfig = Field(default_factory=PriorConfig)
    smoothing: SmoothingConfig = Field(default_factory=SmoothingConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    photos: PhotosConfig = Field(default_factory=PhotosConfig)


SECTIONS: tuple[tuple[str, type[Section]], ...] = (
    ("source", SourceConfig), ("model", ModelConfig), ("position", PositionConfig),
    ("prior", PriorConfig), ("smoothing", SmoothingConfig), ("store", StoreConfig),
    ("photos", PhotosConfig), ("dashboard", DashboardConfig),
)  # fmt: skip


def config_fields() -> Iterator[tuple[str, FieldInfo]]:
    """Every setting as ``("section.key", field)``, in the order of the config file."""
    for section, model in SECTIONS:
        for key, info in model.model_fields.items():
            yield f"{section}.{key}", info


def default_text(info: FieldInfo) -> str:
    """A setting's default as the reference shows it (TOML: `"opencv"`, `false`, `(none)`,
    `[]`, `{}`; `(required)` for a key that has none)."""
    if info.default_factory is not None:
        made = info.get_default(call_default_factory=True, validated_data={})
        if isinstance(made, dict):
            return "{}" if not made else "(a table)"
        if isinstance(made, list):
            return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in made) + "]"
        return "(a table)"
    if info.is_required():
        return "(required)"
    value = info.default
    if value is None:
        return "(none)"
    if isinstance(value, Path):
        root = shipped("models").parent  # shipped paths shown relative to where they ship
        value = value.relative_to(root) if value.is_relative_to(root) else value
        return f'"{value.as_posix()}"'
    if isinstance(value, bool):
        return str(value).lower()
    return f'"{value}"' if isinstance(value, str) else str(value)


def reference_markdown() -> str:
    """The session settings of ``docs/config.md``: every setting with its default, flags
    and description (the whole file, a station file's sections too:
    :func:`fieldtool.station.config.reference_markdown`)."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `fieldtool/config/` and `fieldtool/station/config.py` by",
        "`python -m fieldtool.station.config > docs/config.md` (a test fails when this file",
        "and the code differ). Settings are read from a TOML file (`--config`), then flags,",
        "then `--set section.key=value`; unknown keys and non-finite numbers are errors.",
    ]
    for section, model in SECTIONS:
        lines += section_table(f"[{section}]", model)
    return "\n".join(lines) + "\n"


def section_table(title: str, model: type[BaseModel]) -> list[str]:
    """One section of the reference: a heading, the model's docstring and a table of its
    keys (a key that is a table of its own, like ``filters``, has its own section)."""
    lines = ["", f"## {title}", "", inspect.cleandoc(model.__doc__ or ""), ""]
    lines += ["| key | default | flag | meaning |", "|---|---|---|---|"]
    for key, info in model.model_fields.items():
        if model_of(info.annotation) is not None:
            continue
        declared = Flags.of(info)
        flags = ", ".join(f"`{f}`" for f in [*declared.names, *declared.switch])
        text = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{key}` | `{default_text(info)}` | {flags} | {text} |")
    return lines


def _one_line(err: ValidationError, where: str) -> str:
    return f"{where}: {validation_line(err, Config, 'config')}"  # a typo: "did you mean ..."


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a TOML file (optional) and apply dotted overrides such as ``{"model.tiles": 2}``.
    Relative paths in the file are its folder's (:func:`anchor_paths`); overrides (flags)
    stay as typed, relative to the working folder."""
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FieldtoolError(f"{path}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise FieldtoolError(f"{path}: not valid TOML ({exc})") from None
        anchor_paths(data, Config, Path(path).absolute().parent)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if not key:
            raise FieldtoolError(f"override {dotted!r}: expected section.key")
        data.setdefault(section, {})[key] = value
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        # A value a flag or --set gave is the command line's, not the file's to blame.
        given = {k for k, v in (overrides or {}).items() if v is not None}
        keys = {".".join(str(p) for p in e["loc"][:2]) for e in exc.errors()}
        if given and keys <= given:
            where = "command line"
        raise FieldtoolError(_one_line(exc, where)) from None


def anchor_paths(data: dict[str, Any], model: type[BaseModel], folder: Path) -> None:
    """In ``data`` (a config file's tables, for ``model``), each relative path a path
    setting names made ``folder``'s (the file's), ``~`` expanded; in place. A field.toml
    beside its GPX and ranges then works from any working folder. Only settings typed as
    paths: ``source.uri`` (a file, a camera or a URL) stays as written."""
    for name, info in model.model_fields.items():
        value = data.get(name)
        kind = _path_kind(info.annotation)
        if isinstance(value, dict) and isinstance(info.annotation, type) and issubclass(
            info.annotation, BaseModel
        ):
            anchor_paths(value, info.annotation, folder)
        elif kind == "path" and isinstance(value, str):
            data[name] = _anchored(value, folder)
        elif kind == "paths" and isinstance(value, (list, str)):
            many = value if isinstance(value, list) else [value]  # one file for a list
            data[name] = [_anchored(v, folder) if isinstance(v, str) else v for v in many]


def _path_kind(annotation: Any) -> str | None:
    """"path" for ``Path`` / ``Path | None``, "paths" for ``list[Path]``, else None."""
    args = get_args(annotation)
    if get_origin(annotation) is list:
        return "paths" if args == (Path,) else None
    if annotation is Path or (Path in args and all(a in (Path, type(None)) for a in args)):
        return "path"
    return None


def _anchored(text: str, folder: Path) -> str:
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else folder / path)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value`` with a TOML value (bare words are taken as strings)."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise FieldtoolError(f"--set {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value
