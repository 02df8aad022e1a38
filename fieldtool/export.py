"""``fieldtool export``: closed sightings as a Darwin Core Archive, GeoJSON, GeoParquet or CSV.

The rows are :func:`fieldtool.export_rows.load_occurrences`: one per closed sighting of
the ``sightings_reviewed`` view (:mod:`fieldtool.store.views`), the one read model of reviews:
the newest review is applied, rejected sightings are left out, a relabelled one is
exported under the reviewer's species (``predicted_species`` keeps the model's), and a
confirmed or relabelled one counts as a human observation. Filters: session, species
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

Darwin Core (``dwca``): a zip with ``occurrence.txt`` (tab-separated, UTF-8, the occurrence
core), ``meta.xml`` and ``eml.xml``. ``eventDate`` is the ISO 8601 interval first/last seen
(empty for a session dated at processing time, whose file carried no recording time: a
warning says so and ``eventRemarks`` says when it was processed),
``coordinateUncertaintyInMeters`` the GPS accuracy of the track point at the sighting's
peak where the receiver reported one, ``identifiedBy`` the reviewer or the model,
``identificationRemarks`` the model, its weights hash and scores, ``minimumElevationInMeters``
and ``maximumElevationInMeters`` the camera's elevation over the sighting's frames where its
track's numbers are above sea level (GPX, NMEA, gpsd, EXIF; not a GoPro's ellipsoidal height
nor a drone's altitude), ``verbatimElevation`` any of them with what it is measured from
(:mod:`fieldtool.store.track`). The other formats carry ``elevation_m`` (at the peak, where
the position is), ``elevation_min_m``, ``elevation_max_m`` and ``elevation_reference``, empty
where the track has none. GeoParquet: a WKB
``geometry`` column (points, lon/lat WGS84) and the ``geo`` file metadata (version 1.1.0).
Camtrap DP (``camtrap-dp``): a folder with ``datapackage.json``, its CSVs and the photos,
written by :mod:`fieldtool.camtrap.write`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from fieldtool.export_rows import (
    COLUMNS,
    REVIEWED_VIEW,
    SESSION_TIME_COLUMNS,
    TIME_COLUMNS,
    ExportFilter,
    iso_time,
    load_occurrences,
    parse_time,
    select_columns,
    time_text,
    zone_known,
)
from fieldtool.store.track import above_sea_level
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:  # pandas and the store load when an export runs, not with the CLI

    import pandas as pd

# What this module offers; the rows and time helpers are re-exported from export_rows.
__all__ = [
    "CAMTRAP_DP",
    "COLUMNS",
    "DWC_TERMS",
    "FORMATS",
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
DWC = "http://rs.tdwg.org/dwc/terms/"
HUMAN_DECISIONS = ("confirm", "relabel")
_DONE = {"confirm": "confirmed", "relabel": "relabelled"}


def _typed_time_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as timestamps for Parquet: timezone-aware UTC where that is true of every row.

    A column holds one type, so sighting times stay naive (Arrow's "zone unspecified")
    when any row is a local clock of unknown zone; ``time_zone_known`` says which rows are
    UTC. Review times are always UTC.
    """
    import pandas as pd

    out = frame.copy()
    all_utc = bool(zone_known(frame).all())
    for name in TIME_COLUMNS:
        times = pd.to_datetime(out[name])
        local = name in SESSION_TIME_COLUMNS and not all_utc
        out[name] = times if local else times.dt.tz_localize("UTC")
    return out


# Darwin Core ----------------------------------------------------------------------------
DWC_TERMS = [
    "occurrenceID", "basisOfRecord", "occurrenceStatus", "scientificName", "vernacularName",
    "kingdom", "family", "genus", "taxonRank", "eventID", "eventDate", "eventRemarks",
    "decimalLatitude", "decimalLongitude", "geodeticDatum", "coordinateUncertaintyInMeters",
    "identifiedBy", "dateIdentified", "identificationVerificationStatus",
    "identificationRemarks", "samplingProtocol", "occurrenceRemarks",
    # appended: the older terms keep their index in meta.xml
    "minimumElevationInMeters", "maximumElevationInMeters", "verbatimElevation",
]  # fmt: skip
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
_BINOMIAL = re.compile(r"^[A-Z][a-z-]+ (?:x |× )?[a-z][a-z-]+$")


def _occurrence_id(sighting_id: str) -> str:
    """A UUID URN for fieldtool's uuid4 hex ids, else the id itself."""
    if _HEX_ID.match(sighting_id):
        h = sighting_id
        return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return sighting_id


def _num(value: Any, digits: int) -> str:
    import pandas as pd

    if value is None or pd.isna(value):
        return ""
    return f"{float(value):.{digits}f}".rstrip("0").rstrip(".")


def _text(value: Any) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return re.sub(r"[\t\r\n]+", " ", str(value)).strip()


def _time_remarks(known: bool, source: Any, zone: Any) -> str:
    """``eventRemarks``: where the session's times came from and whether they are UTC."""
    source = _text(source) or "unrecorded"
    if not known:
        return f"times are the camera's local clock ({source}), time zone unknown; not UTC"
    how = "time source not recorded" if source == "unrecorded" else source
    zone = _text(zone)
    if zone and zone != "UTC":
        how += f", converted from {zone}"
    return f"times UTC ({how})"


def _elevations(row: Any) -> dict[str, str]:
    """The Darwin Core elevation terms of a row: minimum/maximum over the sighting's frames
    only where the track's numbers are above sea level (Darwin Core's elevation); the
    verbatim text says what any of them is measured from ("camera at 728.3 to 735.5 m above
    sea level (gpx)", "... above the WGS84 ellipsoid (gpmf)"). Empty without one."""
    low, high = getattr(row, "elevation_min_m", None), getattr(row, "elevation_max_m", None)
    reference = _text(getattr(row, "elevation_reference", None))
    lo, hi = _num(low, 1), _num(high, 1)
    if not (lo and hi and reference):
        return dict.fromkeys(("minimumElevationInMeters", "maximumElevationInMeters",
                              "verbatimElevation"), "")  # fmt: skip
    sea = above_sea_level(reference)
    span = lo if lo == hi else f"{lo} to {hi}"  # "to": an elevation may be negative
    return {
        "minimumElevationInMeters": lo if sea else "",
        "maximumElevationInMeters": hi if sea else "",
        "verbatimElevation": f"camera at {span} m {reference}",
    }


def undated(time_source: Any) -> bool:
    """Whether a session's times are fieldtool's processing time: its file carried no
    recording time and nothing else dated it (``docs/time.md``)."""
    return _text(time_source) == "processing-time"


def dwc_rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Darwin Core occurrence records (term -> text) of :func:`load_occurrences` rows.

    ``eventDate`` has no zone where the session's zone is unknown (see the module doc);
    ``eventRemarks`` says so. ``dataGeneralizations`` is not used: it is for data made less
    specific on purpose, while a zoneless time is all the camera recorded.
    """
    import pandas as pd

    records = []
    for row, known in zip(frame.itertuples(index=False), zone_known(frame), strict=True):
        known = bool(known)
        human = row.review in HUMAN_DECISIONS
        placed = not (pd.isna(row.latitude) or pd.isna(row.longitude))
        model = f"fieldtool model {row.model_id}"
        remarks = f"{model}"
        if _text(row.model_sha256):
            remarks += f" (weights sha256 {row.model_sha256[:16]})"
        remarks += (
            f" predicted {row.predicted_species}, peak score {row.peak_score:.3f}, mean score "
            f"{row.mean_score:.3f} over {row.frames} frames"
        )
        if human:
            remarks += f"; {_DONE[row.review]} by {row.reviewer}"
            if _text(row.review_note):
                remarks += f": {_text(row.review_note)}"
        no_time = undated(row.time_source)  # dated at processing: no event time to publish
        # A genus-level sighting ("Acer sp."): congeners shared the score.
        genus_only = str(row.species)[:-4] if str(row.species).endswith(" sp.") else None
        records.append(
            {
                "occurrenceID": _occurrence_id(str(row.sighting_id)),
                "basisOfRecord": "HumanObservation" if human else "MachineObservation",
                "occurrenceStatus": "present",
                "scientificName": _text(str(row.species).removesuffix(" sp.")),
                "vernacularName": _text(row.common_name),
                "kingdom": "Plantae",
                "family": _text(row.family),
                "genus": _text(row.genus) or (genus_only or ""),
                "taxonRank": "species"
                if _BINOMIAL.match(str(row.species))
                else "genus"
                if genus_only
                else "",
                "eventID": _text(row.session_id),
                "eventDate": "" if no_time
                else f"{iso_time(row.first_seen, known, 'down')}/"
                f"{iso_time(row.last_seen, known, 'up')}",
                "eventRemarks": _time_remarks(known, row.time_source, row.time_zone)
                + (f"; no recording time in the file: fieldtool processed it at "
                   f"{iso_time(row.first_seen)}, which is not the event's time"
                   if no_time else ""),
                "decimalLatitude": _num(row.latitude, 7) if placed else "",
                "decimalLongitude": _num(row.longitude, 7) if placed else "",
                "geodeticDatum": "WGS84" if placed else "",
                "coordinateUncertaintyInMeters": _num(row.coordinate_uncertainty_m, 1)
                if placed
                else "",
                "identifiedBy": _text(row.reviewer) if human else model,
                "dateIdentified": iso_time(row.reviewed_at) if human else "",
                "identificationVerificationStatus": "verified by reviewer"
                if human
                else "unverified (automated identification)",
                "identificationRemarks": _text(remarks),
                "samplingProtocol": "video, automated image classification (fieldtool)",
                "occurrenceRemarks": _text(
                    f"seen {row.last_t - row.first_t:.1f} s of video {row.source}"
                ),
                **_elevations(row),
            }
        )
    return records


def _meta_xml() -> str:
    fields = "\n".join(
        f'    <field index="{i}" term="{DWC}{term}"/>' for i, term in enumerate(DWC_TERMS)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy=""
        ignoreHeaderLines="1" rowType="{DWC}Occurrence">
    <files>
      <location>occurrence.txt</location>
    </files>
    <id index="0"/>
{fields}
  </core>
</archive>
"""


def _eml_xml(frame: pd.DataFrame, title: str, creator: str, db: Path) -> str:
    now = datetime.now(timezone.utc)
    models = ", ".join(sorted({str(m) for m in frame["model_id"].dropna()})) or "none"
    coverage = ""
    placed = frame.dropna(subset=["latitude", "longitude"])
    if len(placed):
        coverage += (
            "<geographicCoverage><geographicDescription>Sighting positions</geographicDescription>"
            "<boundingCoordinates>"
            f"<westBoundingCoordinate>{placed.longitude.min():.6f}</westBoundingCoordinate>"
            f"<eastBoundingCoordinate>{placed.longitude.max():.6f}</eastBoundingCoordinate>"
            f"<northBoundingCoordinate>{placed.latitude.max():.6f}</northBoundingCoordinate>"
            f"<southBoundingCoordinate>{placed.latitude.min():.6f}</southBoundingCoordinate>"
            "</boundingCoordinates></geographicCoverage>"
        )
    if len(frame):
        coverage += (
            "<temporalCoverage><rangeOfDates>"
            f"<beginDate><calendarDate>{iso_time(frame.first_seen.min(), rounding='down')[:10]}"
            "</calendarDate></beginDate>"
            f"<endDate><calendarDate>{iso_time(frame.last_seen.max(), rounding='down')[:10]}"
            "</calendarDate></endDate></rangeOfDates></temporalCoverage>"
        )
    coverage = f"<coverage>{coverage}</coverage>" if coverage else ""
    abstract = (
        f"{len(frame)} plant sightings recorded from field video by fieldtool "
        f"(models: {models}), exported from {db.name} on {now:%Y-%m-%d}. Each record is a "
        "species seen continuously over a time span; MachineObservation records are "
        "automated identifications, HumanObservation records were confirmed or relabelled "
        "by a reviewer."
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="eml://ecoinformatics.org/eml-2.1.1 http://rs.gbif.org/schema/eml-gbif-profile/1.1/eml.xsd"
         packageId={quoteattr(f"fieldtool-{db.stem}-{now:%Y%m%dT%H%M%SZ}")} system="fieldtool"
         scope="system" xml:lang="en">
  <dataset>
    <title xml:lang="en">{escape(title)}</title>
    <creator><organizationName>{escape(creator)}</organizationName></creator>
    <metadataProvider><organizationName>{escape(creator)}</organizationName></metadataProvider>
    <pubDate>{now:%Y-%m-%d}</pubDate>
    <language>en</language>
    <abstract><para>{escape(abstract)}</para></abstract>
    {coverage}
    <contact><organizationName>{escape(creator)}</organizationName></contact>
    <methods><methodStep><description><para>{
        escape(
            "Frames sampled from video were classified by a DINOv2 image model ("
            + models
            + "); per-frame scores were smoothed over time and a sighting opened "
            "and closed with hysteresis thresholds (fieldtool)."
        )
    }</para></description></methodStep></methods>
  </dataset>
</eml:eml>
"""


def write_dwca(
    frame: pd.DataFrame, out: Path | IO[bytes], *, title: str, creator: str, db: Path
) -> None:
    """A Darwin Core Archive zip (occurrence.txt, meta.xml, eml.xml) to a file path
    (written atomically) or to an open binary file."""
    text = io.StringIO()
    text.write("\t".join(DWC_TERMS) + "\n")
    for record in dwc_rows(frame):
        text.write("\t".join(record[t] for t in DWC_TERMS) + "\n")
    with contextlib.ExitStack() as stack:
        target = out if not isinstance(out, Path) else stack.enter_context(_atomic(out))
        archive = stack.enter_context(zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED))
        archive.writestr("occurrence.txt", text.getvalue().encode("utf-8"))
        archive.writestr("meta.xml", _meta_xml().encode("utf-8"))
        archive.writestr("eml.xml", _eml_xml(frame, title, creator, db).encode("utf-8"))


def dwca_bytes(
    db: Path | str,
    filters: ExportFilter | None = None,
    *,
    creator: str = "fieldtool user",
    timeout_s: float = 10.0,
) -> bytes:
    """The Darwin Core Archive of ``db``'s filtered sightings, in memory (dashboard download)."""
    db = Path(db)
    frame = load_occurrences(db, filters, timeout_s=timeout_s)
    buffer = io.BytesIO()
    write_dwca(frame, buffer, title=f"fieldtool sightings from {db.name}", creator=creator, db=db)
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
    """GeoParquet 1.1: the columns plus a WKB point ``geometry`` (null without a position).

    Times are timestamps: UTC, except sighting times when any row's zone is unknown
    (:func:`_typed_time_frame`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    placed = frame["latitude"].notna() & frame["longitude"].notna()
    points = shapely.points(frame["longitude"].fillna(0.0), frame["latitude"].fillna(0.0))
    wkb = [shapely.to_wkb(p) if ok else None for p, ok in zip(points, placed, strict=True)]
    table = pa.Table.from_pandas(_typed_time_frame(frame), preserve_index=False)
    table = table.append_column("geometry", pa.array(wkb, type=pa.binary()))
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
    license: str = "CC-BY-4.0",
) -> int:
    """Write the filtered sightings of ``db`` to ``out`` in ``fmt``; returns the row count.
    ``license``: of the data and the photos (Camtrap DP only).

    Journals still beside the file are replayed first when the write lock can be had, else
    ``log`` (default: stderr, ``fieldtool: ...``) says how many rows the export lacks."""
    db, out = Path(db), Path(out)
    if fmt not in FORMATS:
        raise FieldtoolError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if db.is_dir():
        raise FieldtoolError(f"{db}: is a folder, expected a database file")
    if not db.is_file():
        raise FieldtoolError(f"{db}: sightings database not found")
    if fmt == CAMTRAP_DP:
        from fieldtool.camtrap.write import write_package

        replay_pending(db, log or _stderr)
        return write_package(db, out, filters, title=title, creator=creator, license=license,
                             timeout_s=timeout_s, log=log or _stderr)  # fmt: skip
    if not out.parent.is_dir():
        raise FieldtoolError(f"{out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise FieldtoolError(f"{out}: is a folder, expected a file name")
    replay_pending(db, log or _stderr)
    frame = load_occurrences(db, filters, timeout_s=timeout_s, log=log or _stderr)
    try:
        if fmt == "dwca":
            write_dwca(frame, out, title=title or f"fieldtool sightings from {db.name}",
                       creator=creator, db=db)  # fmt: skip
            no_time = [undated(t) for t in frame["time_source"]]
            if n := sum(no_time):
                sessions = frame.loc[no_time, "session_id"]
                (log or _stderr)(
                    f"warning: {out}: {n} record(s) of {sessions.nunique()} session(s) have no "
                    "event time (their files carried no recording time; fieldtool dated them "
                    "when it processed them): eventDate left empty, eventRemarks says so; run "
                    "them again with --start-time (and --replace) to date them")  # fmt: skip
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
