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
    *names: str, switch: dict[str, tuple[Any, str]] | None = None, const: Any = None
) -> dict[str, Any]:
    """Field metadata naming the CLI flags that set a field (``fieldtool run --help``).

    ``names``: the option strings (``--sample-fps``); ``switch``: extra options that set
    a fixed value, ``{"--ignore-location": (0.0, "help")}``; ``const``: the value of a
    flag given without one (``--gpsd`` alone: ``localhost:2947``).
    """
    meta: dict[str, Any] = {"flags": list(names), "switch": dict(switch or {})}
    if const is not None:
        meta["const"] = const
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
        )


def validation_line(
    err: ValidationError, model: type[BaseModel], whole: str = "", prefix: str = ""
) -> str:
    """pydantic's errors of ``model`` as one line, ``loc: message; ...``. An unknown key
    (pydantic's "Extra inputs are not permitted") reads ``source.decodr: unknown key (did
    you mean 'decoder'?)``: the closest known name at its level, else where they are.
    ``whole``: the ``loc`` of an error of the whole model (none: the message alone);
    ``prefix``: put before each ``loc`` (where ``model`` is a part of a file)."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or whole
        loc = prefix + loc if loc else loc
        message = str(e["msg"])
        if e["type"] == "extra_forbidden" and e["loc"]:
            message = _unknown_key(model, e["loc"])
        parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts)


def _unknown_key(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """"unknown key (did you mean ...?)" for the last part of ``loc`` in ``model``."""
    level = _model_at(model, loc[:-1])
    what = "section" if len(loc) == 1 and level is not None and _sections(level) else "key"
    known = list(level.model_fields) if level is not None else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"unknown {what} (did you mean {close[0]!r}?)"
    return f"unknown {what} (the settings are listed in docs/config.md)"


def _model_at(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that the table at ``path`` (keys and list indices) is read as, if known."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):  # an item of a list of tables: the list's model already
            continue
        info = current.model_fields.get(part)
        current = _model_of(info.annotation) if info is not None else None
    return current


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model in ``Model``, ``Model | None`` or ``list[Model]``; None for other types."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _sections(model: type[BaseModel]) -> bool:
    """Whether ``model``'s fields are sections (tables), as the root config's are."""
    return any(_model_of(info.annotation) is not None for info in model.model_fields.values())
