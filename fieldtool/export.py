"""``fieldtool export``: closed sightings as a Darwin Core Archive, GeoJSON, GeoParquet or CSV.

The rows are :func:`fieldtool.export_rows.load_occurrences`: one per closed sighting of
the ``sightings_reviewed`` view (:mod:`fieldtool.store.views`), the one read model of reviews:
the newest review is applied, rejected sightings are left out, a relabelled one is
exported under the reviewer's species (``predicted_species`` keeps the model's); every
Darwin Core record stays a ``MachineObservation`` (the review: ``identifiedBy``). Filters: session, species
(after review), time (sightings overlapping ``since``..``until``) and reviewed only.

The writers (:func:`write_csv`, :func:`write_geojson`, :func:`write_parquet`,
:func:`write_dwca`) and their in-memory forms (:func:`csv_bytes`, :func:`geojson_bytes`,
:func:`dwca_bytes`) take the frame :func:`load_occurrences` returns; the dashboard's
downloads call them too, so both give the same columns. The command line is in
:mod:`fieldtool.cli`.

Times are UTC, written with a ``Z`` in whole seconds in every text format
(:func:`~fieldtool.export_rows.iso_time`; GeoParquet keeps the fraction): a sighting's
interval (``first_seen``/``last_seen``, ``eventDate``) with its start rounded down and its
end rounded up, so it holds every detection, a single time (a review's) to the nearest
second; the EML's dates are the days the first and last sightings fall on. Where a
sighting's ``time_zone_known`` is false, its times (``first_seen``, ``last_seen``,
``eventDate``) are a camera's local clock of unknown zone and are written without a zone,
so no format claims UTC for them (the ``since``/``until`` filters compare them as they
are). The label is per sighting: its session's, or in a photo session its own photos'
(:mod:`fieldtool.export_rows`). Every format carries ``time_zone_known`` and
``time_source`` (Darwin Core: ``eventRemarks``). Review times are always UTC: the
reviewer's clock is the machine's.

Darwin Core (``dwca``, written by :mod:`fieldtool.export_dwc`): a zip with ``occurrence.txt``
(tab-separated, UTF-8, the occurrence core), ``meta.xml`` and ``eml.xml``; licence, photo
wording, kingdom and a stable ``packageId``: that module's doc. ``eventDate`` is the ISO 8601 interval first/last seen
(empty where a guessed time dates the record, :data:`~fieldtool.export_rows.GUESSED_TIME_SOURCES`:
a session dated at processing time, a DJI video by its SRT file's modification time, a photo
by its file's: a warning says so and ``eventRemarks`` says which time it had),
``coordinateUncertaintyInMeters`` the GPS accuracy of the track point at the sighting's
peak where the receiver reported one, ``identifiedBy`` the reviewer or the model,
``identificationRemarks`` the model, its weights hash and scores, ``minimumElevationInMeters``
and ``maximumElevationInMeters`` the camera's elevation over the sighting's frames where its
track's numbers are above sea level (GPX, NMEA, gpsd, EXIF; not a GoPro's ellipsoidal height
nor a drone's altitude), ``verbatimElevation`` any of them with what it is measured from
(:mod:`fieldtool.store.track`). The other formats carry ``elevation_m`` (at the peak, where
the position is), ``elevation_min_m``, ``elevation_max_m`` and ``elevation_reference``, empty
where the track has none. GeoParquet: a WKB
``geometry`` column (points, lon/lat WGS84) and the ``geo`` file metadata (version 1.1.0);
times always ``timestamp[us, tz=UTC]`` (null where the zone is unknown, the clock reading then
in the appended ``first_seen_local``/``last_seen_local``), text columns always strings.
Camtrap DP (``camtrap-dp``): a folder with ``datapackage.json``, its CSVs and the photos,
written by :mod:`fieldtool.camtrap.write`. Every format makes the folders of ``out`` that do
not exist yet (:func:`~fieldtool.export_rows.make_parent`), once nothing is refused.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fieldtool.export_dwc import (
    DWC_TERMS,
    GBIF_LICENSES,
    NO_LICENSE,
    Publication,
    check_dataset_id,
    dwc_rows,
    gbif_license,
    undated_warnings,
)
from fieldtool.export_dwc import write_dwca as _write_dwca
from fieldtool.export_rows import (
    COLUMNS,
    REVIEWED_VIEW,
    SESSION_TIME_COLUMNS,
    TIME_COLUMNS,
    ExportFilter,
    iso_time,
    load_occurrences,
    make_parent,
    parse_time,
    select_columns,
    time_text,
    zone_known,
)
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:  # pandas and the store load when an export runs, not with the CLI
    import pandas as pd

# What this module offers; the rows and time helpers are re-exported from export_rows.
__all__ = [
    "CAMTRAP_DP",
    "COLUMNS",
    "DWC_TERMS",
    "FORMATS",
    "GBIF_LICENSES",
    "REVIEWED_VIEW",
    "SESSION_TIME_COLUMNS",
    "TIME_COLUMNS",
    "ExportFilter",
    "csv_bytes",
    "dwc_rows",
    "dwca_bytes",
    "export",
    "geojson_bytes",
    "geojson_collection",
    "iso_time",
    "load_occurrences",
    "parse_time",
    "replay_pending",
    "select_columns",
    "time_text",
    "write_csv",
    "write_dwca",
    "write_geojson",
    "write_parquet",
    "zone_known",
]

FORMATS = ("dwca", "geojson", "parquet", "csv", "camtrap-dp")
CAMTRAP_DP = "camtrap-dp"  # a folder, written by fieldtool.camtrap.write
REPLAY_TIMEOUT_S = 2.0  # how long an export waits for the write lock to replay journals
# Parquet: text columns typed string even when every value is missing (Arrow would say null).
STRING_COLUMNS = (
    "sighting_id", "session_id", "species", "common_name", "predicted_species", "genus",
    "family", "time_source", "time_zone", "h3_cell", "model_id", "model_sha256", "source",
    "snapshot_path", "review", "reviewer", "review_note", "elevation_reference",
)  # fmt: skip
# Parquet: a sighting's clock reading where its zone is unknown (appended after geometry).
LOCAL_TIME_COLUMNS = ("first_seen_local", "last_seen_local")


def _typed_time_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Times as timestamps for Parquet, one type whatever the rows: the frame with every
    time column UTC (a sighting's times null where its zone is unknown), and the
    :data:`LOCAL_TIME_COLUMNS` (naive: that camera's clock, null where the zone is known).
    """
    import pandas as pd

    out = frame.copy()
    known = zone_known(frame).astype(bool).to_numpy()
    local = pd.DataFrame(index=frame.index)
    for name in TIME_COLUMNS:
        times = pd.to_datetime(out[name]).astype("datetime64[us]")
        if name in SESSION_TIME_COLUMNS:
            local[f"{name}_local"] = times.where(~known)
            times = times.where(known)
        out[name] = times.dt.tz_localize("UTC")
    return out, local[list(LOCAL_TIME_COLUMNS)]


# Darwin Core: fieldtool.export_dwc --------------------------------------------------------
def write_dwca(
    frame: pd.DataFrame,
    out: Path | IO[bytes],
    *,
    title: str,
    creator: str,
    db: Path,
    license: str | None = None,
    rights_holder: str = "",
    dataset_id: str | None = None,
    filters: ExportFilter | None = None,
) -> None:
    """A Darwin Core Archive zip (:mod:`fieldtool.export_dwc`) to a file path (written
    atomically) or to an open binary file; ``license`` one of
    :data:`~fieldtool.export_dwc.GBIF_LICENSES` or None; ``filters``: those ``frame`` was
    loaded with (they make the dataset's id: :func:`~fieldtool.export_dwc.dataset_id`)."""
    publication = Publication(title, creator, gbif_license(license), rights_holder, dataset_id,
                              filters)  # fmt: skip
    _write_dwca(frame, out, publication, db, atomic=_atomic)


def dwca_bytes(
    db: Path | str,
    filters: ExportFilter | None = None,
    *,
    creator: str = "fieldtool user",
    license: str | None = None,
    timeout_s: float = 10.0,
) -> bytes:
    """The Darwin Core Archive of ``db``'s filtered sightings, in memory (dashboard download)."""
    db = Path(db)
    frame = load_occurrences(db, filters, timeout_s=timeout_s)
    buffer = io.BytesIO()
    write_dwca(frame, buffer, title=f"fieldtool sightings from {db.name}", creator=creator, db=db,
               license=license, filters=filters)  # fmt: skip
    return buffer.getvalue()


# Other formats ------------------------------------------------------------------------
def _json_value(value: Any) -> Any:
    import pandas as pd

    if value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime):  # times are text by now (time_text)
        return iso_time(value)
    if isinstance(value, float) and pd.isna(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def geojson_collection(frame: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection, one Point per row (null geometry without a position);
    every column is a property, times as :func:`time_text` writes them."""
    import pandas as pd

    features = []
    for record in time_text(frame, missing=None).to_dict("records"):  # no time: null
        lat, lon = record["latitude"], record["longitude"]
        geometry = None
        if not (lat is None or lon is None or pd.isna(lat) or pd.isna(lon)):
            geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}
        properties = {k: _json_value(v) for k, v in record.items()}
        features.append({"type": "Feature", "id": record["sighting_id"],
                         "geometry": geometry, "properties": properties})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def geojson_bytes(frame: pd.DataFrame) -> bytes:
    """:func:`geojson_collection` as UTF-8 JSON, as ``fieldtool export`` writes it."""
    text = json.dumps(geojson_collection(frame), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def write_geojson(frame: pd.DataFrame, out: Path) -> None:
    """A GeoJSON FeatureCollection; sightings without a position have a null geometry."""
    with _atomic(out) as tmp:
        tmp.write_bytes(geojson_bytes(frame))


def write_parquet(frame: pd.DataFrame, out: Path) -> None:
    """GeoParquet 1.1: the columns plus a WKB point ``geometry`` (null without a position),
    then :data:`LOCAL_TIME_COLUMNS`.

    Times are ``timestamp[us, tz=UTC]`` in every file; a sighting of unknown zone has them
    null and its clock readings in ``first_seen_local``/``last_seen_local``
    (:func:`_typed_time_frame`). Text columns are strings even when all are missing.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    placed = frame["latitude"].notna() & frame["longitude"].notna()
    points = shapely.points(frame["longitude"].fillna(0.0), frame["latitude"].fillna(0.0))
    wkb = [shapely.to_wkb(p) if ok else None for p, ok in zip(points, placed, strict=True)]
    typed, local = _typed_time_frame(frame)
    table = pa.Table.from_pandas(typed, preserve_index=False)
    for name in STRING_COLUMNS:  # a column of missing values stays a string column
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, table.column(name).cast(pa.large_string()))
    table = table.append_column("geometry", pa.array(wkb, type=pa.binary()))
    for name in LOCAL_TIME_COLUMNS:
        table = table.append_column(name, pa.array(local[name], type=pa.timestamp("us")))
    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": ["Point"] if placed.any() else [],
    }
    if placed.any():
        lon, lat = frame.loc[placed, "longitude"], frame.loc[placed, "latitude"]
        column["bbox"] = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"geo": json.dumps(geo)}
    )
    with _atomic(out) as tmp:
        pq.write_table(table, tmp)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV, UTF-8 with a header row, times ISO 8601 (UTC with a Z unless the zone is
    unknown: :func:`time_text`)."""
    text: str = time_text(frame).to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")


def write_csv(frame: pd.DataFrame, out: Path) -> None:
    """:func:`csv_bytes` to a file, written atomically."""
    with _atomic(out) as tmp:
        tmp.write_bytes(csv_bytes(frame))


class _atomic:
    """Write to a temporary file beside ``out`` and move it into place on success."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            os.replace(self.tmp, self.out)
        else:
            self.tmp.unlink(missing_ok=True)


def _stderr(message: str) -> None:
    print(f"fieldtool: {message}", file=sys.stderr, flush=True)


def replay_pending(db: Path, log: Callable[[str], None]) -> None:
    """Rows still in journals beside ``db`` reach the file before an export reads it: they
    are replayed when the write lock can be had within :data:`REPLAY_TIMEOUT_S`; what stays
    pending (the file is held, or the journal's writer still runs) is said in one line."""
    from fieldtool.store import StoreLocked
    from fieldtool.store.journal import journals_of
    from fieldtool.store.maintenance import pending_rows, recover_file

    if not journals_of(db):
        return
    try:
        done = recover_file(db, log=log, timeout_s=REPLAY_TIMEOUT_S)
        rows, journals = done.pending_rows, len(done.left)
        why = "their writers still run or wrote them elsewhere"
    except StoreLocked:
        rows, journals = pending_rows(db)
        why = "the file is held by another process"
    if rows:
        log(f"{db}: {rows} rows in {journals} journal(s) are not in the file yet ({why}); "
            "this export lacks them")  # fmt: skip


def export(
    db: Path | str,
    fmt: str,
    out: Path | str,
    filters: ExportFilter | None = None,
    *,
    title: str | None = None,
    creator: str = "fieldtool user",
    timeout_s: float = 10.0,
    log: Callable[[str], None] | None = None,
    license: str | None = None,
    rights_holder: str = "",
    dataset_id: str | None = None,
) -> int:
    """Write the filtered sightings of ``db`` to ``out`` in ``fmt``; returns the row count.
    ``license``: of the data (dwca: one of :data:`GBIF_LICENSES`, refused otherwise, and
    ``log`` says GBIF needs one when None) and of the photos (camtrap-dp: any, default
    CC-BY-4.0). ``rights_holder`` and ``dataset_id`` (its EML packageId): dwca.

    Journals still beside the file are replayed first when the write lock can be had, else
    ``log`` (default: stderr, ``fieldtool: ...``) says how many rows the export lacks."""
    db, out = Path(db), Path(out)
    if fmt not in FORMATS:
        raise FieldtoolError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if dataset_id is not None:
        dataset_id = check_dataset_id(dataset_id)  # refused before anything is read or made
    if db.is_dir():
        raise FieldtoolError(f"{db}: is a folder, expected a database file")
    if not db.is_file():
        raise FieldtoolError(f"{db}: sightings database not found")
    if fmt == CAMTRAP_DP:
        from fieldtool.camtrap.write import DEFAULT_LICENSE, write_package

        replay_pending(db, log or _stderr)
        # its id: --dataset-id, else the dataset's (a package read back: its package's)
        return write_package(db, out, filters, title=title, creator=creator,
                             license=license or DEFAULT_LICENSE, package_id=dataset_id,
                             timeout_s=timeout_s, log=log or _stderr)  # fmt: skip
    if fmt == "dwca":
        license = gbif_license(license)  # refused before anything is read or written
    if out.is_dir():
        raise FieldtoolError(f"{out}: is a folder, expected a file name")
    replay_pending(db, log or _stderr)
    frame = load_occurrences(db, filters, timeout_s=timeout_s, log=log or _stderr)
    make_parent(out)  # -o out/x: out/ made, once nothing is refused
    try:
        if fmt == "dwca":
            write_dwca(frame, out, title=title or f"fieldtool sightings from {db.name}",
                       creator=creator, db=db, license=license, rights_holder=rights_holder,
                       dataset_id=dataset_id, filters=filters)  # fmt: skip
            if license is None:
                (log or _stderr)(f"warning: {out}: {NO_LICENSE}")
            for line in undated_warnings(frame):
                (log or _stderr)(f"warning: {out}: {line}")
        elif fmt == "geojson":
            write_geojson(frame, out)
        elif fmt == "parquet":
            write_parquet(frame, out)
        else:
            write_csv(frame, out)
    except OSError as exc:
        raise FieldtoolError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return len(frame)


# Command line -----------------------------------------------------------------------
