"""What every config section shares: unknown keys and non-finite numbers refused, CLI flags
declared on the fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
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
