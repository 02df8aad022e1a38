"""fieldtool: species sightings from field video.

The pipeline, stage by stage (one package or module per concept)::

    sources      frames from files, cameras and streams
    classify     DINOv2 species classifier (model folders: model; few-shot: gallery)
    tracks       where each frame was taken: GPX, NMEA, GoPro GPMF, DJI SRT, EXIF, gpsd
    timebase     when: one rule for every input (docs/time.md); placement puts both together
    priors       species range maps and occurrence records reweight predictions
    smoothing    predictions over time become sightings
    store        the DuckDB sightings file (schema, views, writer, maintenance)
    export       Darwin Core Archive, GeoJSON, GeoParquet, CSV
    dashboard    the Streamlit + pydeck map (not imported by anything above)

The names below are the public API; they are imported on first use, so ``import
fieldtool`` stays light (no torch, no Streamlit).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# public name -> module that defines it
_PUBLIC = {
    "Config": "fieldtool.config",
    "load_config": "fieldtool.config",
    "VideoSource": "fieldtool.sources",
    "DinoClassifier": "fieldtool.classify",
    "load_model_folder": "fieldtool.model",
    "Classifier": "fieldtool.types",
    "FieldtoolError": "fieldtool.types",
    "Fix": "fieldtool.types",
    "Frame": "fieldtool.types",
    "LabelSet": "fieldtool.types",
    "Position": "fieldtool.types",
    "ReviewDecision": "fieldtool.types",
    "SessionStatus": "fieldtool.types",
    "Sighting": "fieldtool.types",
    "TimeBasis": "fieldtool.timebase",
    "species_key": "fieldtool.names",
    "run_from_config": "fieldtool.pipeline",
    "run_session": "fieldtool.pipeline",
    "SightingStore": "fieldtool.store",
    "query": "fieldtool.store",
}
__all__ = [
    "__version__",
    "Classifier",
    "Config",
    "DinoClassifier",
    "FieldtoolError",
    "Fix",
    "Frame",
    "LabelSet",
    "Position",
    "ReviewDecision",
    "SessionStatus",
    "Sighting",
    "SightingStore",
    "TimeBasis",
    "VideoSource",
    "load_config",
    "load_model_folder",
    "query",
    "run_from_config",
    "run_session",
    "species_key",
]  # the keys of _PUBLIC (a test checks)

if TYPE_CHECKING:
    from fieldtool.classify import DinoClassifier
    from fieldtool.config import Config, load_config
    from fieldtool.model import load_model_folder
    from fieldtool.names import species_key
    from fieldtool.pipeline import run_from_config, run_session
    from fieldtool.sources import VideoSource
    from fieldtool.store import SightingStore, query
    from fieldtool.timebase import TimeBasis
    from fieldtool.types import (
        Classifier,
        FieldtoolError,
        Fix,
        Frame,
        LabelSet,
        Position,
        ReviewDecision,
        SessionStatus,
        Sighting,
    )


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'fieldtool' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
