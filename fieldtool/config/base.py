"""What every config section shares: unknown keys and non-finite numbers refused (a typo
named with the setting it resembles: :func:`validation_line`), CLI flags declared on the
fields."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
)
from pydantic.fields import FieldInfo


def flag(
    *names: str,
    switch: dict[str, tuple[Any, str]] | None = None,
    const: Any = None,
    metavar: str | None = None,
) -> dict[str, Any]:
    """Field metadata naming the CLI flags that set a field (``fieldtool run --help``).

    ``names``: the option strings (``--sample-fps``); ``switch``: extra options that set
    a fixed value, ``{"--ignore-location": (0.0, "help")}``; ``const``: the value of a
    flag given without one (``--gpsd`` alone: ``localhost:2947``); ``metavar``: the value's
    name in ``--help`` as the docs write it (``HOST[:PORT]``; default: the key's name).
    """
    meta: dict[str, Any] = {"flags": list(names), "switch": dict(switch or {})}
    if const is not None:
        meta["const"] = const
    if metavar is not None:
        meta["metavar"] = metavar
    return meta


class Section(BaseModel):
    # Unknown keys are errors; infinities and NaN are refused for every number.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Flags:
    """The CLI flags a config field declares (:func:`flag`)."""

    names: tuple[str, ...] = ()
    switch: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    const: Any = None
    has_const: bool = False
    metavar: str | None = None

    @classmethod
    def of(cls, info: FieldInfo) -> Flags:
        """The flags :func:`flag` stored in a field's ``json_schema_extra``."""
        meta = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        names = meta.get("flags")
        switch: dict[str, tuple[Any, str]] = {}
        raw = meta.get("switch")
        if isinstance(raw, dict):
            for option, pair in raw.items():
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    switch[str(option)] = (pair[0], str(pair[1]))
        return cls(
            tuple(str(n) for n in names) if isinstance(names, list) else (),
            switch,
            meta.get("const"),
            "const" in meta,
            str(meta["metavar"]) if "metavar" in meta else None,
        )


def validation_line(
    err: ValidationError,
    model: type[BaseModel],
    whole: str = "",
    prefix: str = "",
    *,
    data: Any = None,
    tables: str = "",
) -> str:
    """pydantic's errors of ``model`` as one line, ``loc: message; ...``, without pydantic's
    "Value error, " before a validator's own message. An unknown key (pydantic's "Extra
    inputs are not permitted") reads ``source.decodr: unknown key (did you mean
    'decoder'?)``, or, for a key of another section, ``worker.sample_fps: unknown key (it
    belongs under [source])``; else where the settings are listed.
    ``whole``: the ``loc`` of an error of the whole model (none: the message alone);
    ``prefix``: put before each ``loc`` (where ``model`` is a part of a file); ``data``:
    the input, whose list items with a ``name`` (a station's sources) are named by it
    (``sources.east.tz``, not ``sources.1.tz``); ``tables``: the TOML table ``model``'s
    sections are under (``sources.``: a station source's own)."""
    parts = []
    for e in err.errors():
        loc = ".".join(_named(e["loc"], data)) or whole
        loc = prefix + loc if loc else loc
        message = str(e["msg"])
        if e["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        if e["type"] == "extra_forbidden" and e["loc"]:
            message = _unknown_key(model, e["loc"], tables)
        parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts)


def _named(loc: tuple[int | str, ...], data: Any) -> list[str]:
    """``loc``'s parts as text, a list index replaced by its item's ``name`` where the
    item (in ``data``) has a plain one (no spaces, no dots: it reads as one part)."""
    parts: list[str] = []
    for part in loc:
        name = data[part].get("name") if isinstance(data, list) and isinstance(part, int) and (
            0 <= part < len(data)) and isinstance(data[part], dict) else None  # fmt: skip
        plain = isinstance(name, str) and name and not any(c.isspace() or c == "." for c in name)
        parts.append(str(name) if plain else str(part))
        data = _child(data, part)
    return parts


def _child(data: Any, part: int | str) -> Any:
    if isinstance(data, dict):
        return data.get(part)
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return data[part]
    return None


def _unknown_key(model: type[BaseModel], loc: tuple[int | str, ...], tables: str = "") -> str:
    """"unknown key (it belongs under [...])" when the last part of ``loc`` is a key of
    another of ``model``'s sections, else "(did you mean ...?)" for the closest known name
    at its level, else where they are."""
    level = _model_at(model, loc[:-1])
    if (home := _belongs(model, loc, level, tables)) is not None:
        return f"unknown key (it belongs under {home})"
    what = "section" if len(loc) == 1 and level is not None and _sections(level) else "key"
    known = list(level.model_fields) if level is not None else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"unknown {what} (did you mean {close[0]!r}?)"
    return f"unknown {what} (the settings are listed in docs/config.md)"


def _belongs(
    model: type[BaseModel], loc: tuple[int | str, ...], level: type[BaseModel] | None,
    tables: str,
) -> str | None:
    """The table (``[source]``, ``[sources.source]``) a key misplaced at ``loc`` belongs
    in: a section of ``model`` (not the key's own level) that has the key. Inside a list of
    tables (a station's ``[[sources]]``) a section the item overrides is the item's own."""
    key = loc[-1]
    for section, info in model.model_fields.items():
        found = model_of(info.annotation)
        if found is None or found is level or key not in found.model_fields:
            continue
        in_item = any(isinstance(p, int) for p in loc[:-1])
        if in_item and level is not None and section in level.model_fields:
            path = [str(p) for p in loc[:-1] if not isinstance(p, int)]  # [[sources]]: sources
            return f"[{'.'.join([*path, section])}]"
        many = typing.get_origin(info.annotation) is list  # a list of tables: [[sources]]
        return f"[[{tables}{section}]]" if many else f"[{tables}{section}]"
    return None


def _model_at(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that the table at ``path`` (keys and list indices) is read as, if known."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):  # an item of a list of tables: the list's model already
            continue
        info = current.model_fields.get(part)
        current = model_of(info.annotation) if info is not None else None
    return current


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The model in ``Model``, ``Model | None`` or ``list[Model]``; None for other types."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = model_of(arg)
        if found is not None:
            return found
    return None


def _sections(model: type[BaseModel]) -> bool:
    """Whether ``model``'s fields are sections (tables), as the root config's are."""
    return any(model_of(info.annotation) is not None for info in model.model_fields.values())
