"""The map page's downloads: ``fieldtool export`` of the sightings the page shows.

The rows come from :func:`fieldtool.export_rows.load_occurrences` (the ``sightings_reviewed``
read model: closed sightings, newest review applied, rejected ones left out) and the files
from the export module's own writers, so a download and ``fieldtool export`` of the same
sightings have the same columns and the same bytes.

:func:`export_frame`, :func:`export_csv` and :func:`export_geojson` write a frame the
caller already holds (e.g. :func:`~fieldtool.dashboard.data.load_sightings` rows) with the
same writers: the columns of :data:`fieldtool.export_rows.COLUMNS` it has, times as ISO 8601
(no ``Z`` for a session's local clock of unknown zone).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from fieldtool.export import csv_bytes, dwca_bytes, geojson_bytes, geojson_collection
from fieldtool.export_rows import (
    COLUMNS,
    ExportFilter,
    load_occurrences,
    select_columns,
    time_text,
)

EXPORT_COLUMNS = tuple(COLUMNS)


def map_download(
    db_path: Path | str,
    sighting_ids: Sequence[str],
    kind: Literal["csv", "geojson"],
    *,
    timeout_s: float = 10.0,
) -> bytes:
    """The CSV or GeoJSON of ``sighting_ids`` exactly as ``fieldtool export`` writes it
    (built when its button is clicked, that format only).

    Reads only: a file from an older fieldtool is refused (:class:`FieldtoolError`) rather
    than upgraded.
    """
    frame = load_occurrences(
        db_path, ExportFilter(sighting_ids=list(sighting_ids)), timeout_s=timeout_s, upgrade=False
    )
    return csv_bytes(frame) if kind == "csv" else geojson_bytes(frame)


def dwca_download(db_path: Path | str, sighting_ids: Sequence[str]) -> bytes:
    """The Darwin Core Archive of ``sighting_ids`` (built when the button is clicked): no
    licence named (the page says so, and that ``fieldtool export --license`` names one);
    its packageId is that of these sightings (:func:`fieldtool.export_dwc.dataset_id`)."""
    return dwca_bytes(db_path, ExportFilter(sighting_ids=list(sighting_ids)))


def export_frame(sightings: pd.DataFrame) -> pd.DataFrame:
    """The export columns ``sightings`` has, one row per sighting, times ISO 8601 text.

    Times are written by :func:`fieldtool.export_rows.time_text`, as ``fieldtool export`` writes
    them: UTC with a ``Z``, except a session's local clock of unknown zone (no zone;
    ``time_zone_known`` false).
    """
    return time_text(select_columns(sightings), missing=None).reset_index(drop=True)


def export_csv(sightings: pd.DataFrame) -> bytes:
    """CSV (UTF-8, header row) of :func:`export_frame`, by the export module's writer."""
    return csv_bytes(select_columns(sightings))


def export_geojson(sightings: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection, one Point per sighting (null geometry without a fix),
    by the export module's writer."""
    return geojson_collection(select_columns(sightings))
