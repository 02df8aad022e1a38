"""The files fieldtool ships: demo model, demo walks, basemap, range atlas, synonyms.

In a source checkout they live in the repository's ``data/`` and ``models/`` folders (what
users see); a wheel packs the same folders inside the package (``fieldtool/data``,
``fieldtool/models``, see ``setup.py``), so ``pip install .`` finds them too. Both are
reached through :mod:`importlib.resources`; nothing else in the package builds these paths.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

Kind = Literal["data", "models"]


def shipped(kind: Kind, *parts: str) -> Path:
    """Path of a shipped file or folder, e.g. ``shipped("data", "ranges", "x.gpkg")``.

    Looks inside the installed package first (a wheel), then beside it (a checkout or an
    editable install). The path may not exist; callers say so in their own error.
    """
    package = Path(str(files("fieldtool")))
    inside = package / kind
    if inside.is_dir():  # a wheel: fieldtool/data, fieldtool/models
        return inside.joinpath(*parts)
    return package.parent.joinpath(kind, *parts)  # a source checkout


def demo_model() -> Path:
    """The bundled demo model folder."""
    return shipped("models", "demo")
