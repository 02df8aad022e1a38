"""``fieldtool export``: closed sightings as a Darwin Core Archive, GeoJSON, GeoParquet or CSV.

One row per closed sighting, with the newest review applied: rejected sightings are left
out, a relabelled one is exported under the reviewer's species (``predicted_species``
keeps the model's), and a confirmed or relabelled one counts as a human observation.
Filters: session, species (after review), time (sightings overlapping ``since``..``until``)
and reviewed only. The file is read with one short read-only connection (a file from an
older fieldtool is first upgraded with one short write).

Times are UTC, written with a ``Z``, except where a session's ``time_zone_known`` is false:
its sighting times (``first_seen``, ``last_seen``, ``eventDate``) are a camera's local
clock of unknown zone and are written without a zone, so no format claims UTC for them
(the ``since``/``until`` filters compare them as they are). Every format carries the
session's ``time_zone_known`` and ``time_source`` (Darwin Core: ``eventRemarks``). Review
times are always UTC: the reviewer's clock is the machine's.

Darwin Core (``dwca``): a zip with ``occurrence.txt`` (tab-separated, UTF-8, the occurrence
core), ``meta.xml`` and ``eml.xml``. ``eventDate`` is the ISO 8601 interval first/last seen,
``coordinateUncertaintyInMeters`` the GPS accuracy of the track point at the sighting's
peak where the receiver reported one, ``identifiedBy`` the reviewer or the model,
``identificationRemarks`` the model, its weights hash and scores. GeoParquet: a WKB
``geometry`` column (points, lon/lat WGS84) and the ``geo`` file metadata (version 1.1.0).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from fieldtool.types import FieldtoolError
from fieldtool.views import LATEST_REVIEW, sighting_filter_sql

if TYPE_CHECKING:  # pandas, duckdb and the store load when an export runs, not with the CLI
    import pandas as pd

FORMATS = ("dwca", "geojson", "parquet", "csv")
DWC = "http://rs.tdwg.org/dwc/terms/"
HUMAN_DECISIONS = ("confirm", "relabel")
_DONE = {"confirm": "confirmed", "relabel": "relabelled"}


@dataclass
class ExportFilter:
    """Which sightings to export; None means no limit."""

    session_id: str | None = None
    species: Sequence[str] | None = None  # species in force (after review)
    since: datetime | None = None  # UTC: sightings that end at or after
    until: datetime | None = None  # UTC: sightings that start at or before
    reviewed_only: bool = False  # only sightings a person confirmed or relabelled
    sighting_ids: Sequence[str] | None = None  # only these (e.g. what a dashboard shows)


_OCCURRENCES = f"""
WITH latest AS ({LATEST_REVIEW}),
peaks AS (
    SELECT s.sighting_id, tr.accuracy_m
    FROM sightings s ASOF LEFT JOIN track tr
      ON tr.session_id = s.session_id AND coalesce(s.peak_t, s.first_t) >= tr.t
),
joined AS (
    SELECT s.sighting_id, s.session_id,
           CASE WHEN r.decision = 'relabel' THEN r.species ELSE s.species END AS species,
           s.species AS predicted_species, s.common_name AS predicted_common_name,
           s.first_seen, s.last_seen, s.first_t, s.last_t, s.frames, s.peak_score,
           s.mean_score, s.latitude, s.longitude, s.h3_cell, p.accuracy_m, s.model_id,
           se.model_sha256, se.source, se.host, s.snapshot_path,
           -- Sessions from before schema 5 (NULL) always claimed UTC: keep that claim.
           coalesce(se.time_zone_known, TRUE) AS time_zone_known,
           coalesce(se.time_source, 'unrecorded') AS time_source, se.time_zone,
           r.decision AS review, r.reviewer, r.reviewed_at, r.note AS review_note
    FROM sightings s
    LEFT JOIN latest r USING (sighting_id)
    LEFT JOIN peaks p USING (sighting_id)
    LEFT JOIN sessions se USING (session_id)
    WHERE s.status = 'closed' AND r.decision IS DISTINCT FROM 'reject'
)
SELECT j.*,
       CASE WHEN j.species = j.predicted_species THEN j.predicted_common_name
            ELSE coalesce(sp.common_name, '') END AS common_name,
       coalesce(sp.genus, CASE WHEN regexp_matches(j.species, '^[A-Z][a-z-]+ [a-z]')
                               THEN split_part(j.species, ' ', 1) END) AS genus,
       sp.family
FROM joined j LEFT JOIN species sp USING (species)
WHERE {{where}}
ORDER BY j.first_seen, j.sighting_id
"""

COLUMNS = [
    "sighting_id", "session_id", "species", "common_name", "predicted_species", "genus",
    "family", "first_seen", "last_seen", "time_zone_known", "time_source", "time_zone",
    "first_t", "last_t", "frames", "peak_score", "mean_score", "latitude", "longitude",
    "coordinate_uncertainty_m", "h3_cell", "model_id", "model_sha256", "source",
    "snapshot_path", "review", "reviewer", "reviewed_at", "review_note",
]  # fmt: skip
TIME_COLUMNS = ("first_seen", "last_seen", "reviewed_at")
# Times of the session's clock: UTC only where its time_zone_known is true. The others
# (reviewed_at) are the machine's clock, always UTC.
SESSION_TIME_COLUMNS = ("first_seen", "last_seen")


def _upgrade_if_old(db: Path, timeout_s: float) -> None:
    from fieldtool.store import SCHEMA_VERSION, connect, ensure_schema, schema_version

    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        version = schema_version(con)
    if version is None:
        raise FieldtoolError(f"{db}: not a fieldtool sightings database (no tables)")
    if version < SCHEMA_VERSION:
        with connect(db, read_only=False, timeout_s=timeout_s) as con:
            con.execute("BEGIN TRANSACTION")
            ensure_schema(con, db)
            con.execute("COMMIT")


def load_occurrences(
    db: Path | str, filters: ExportFilter | None = None, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """The sightings to export (see the module doc), oldest first, columns :data:`COLUMNS`."""
    from fieldtool.store import connect

    db = Path(db)
    filters = filters or ExportFilter()
    _upgrade_if_old(db, timeout_s)
    clauses, params = sighting_filter_sql(
        session_id=filters.session_id, species=filters.species or None, start=filters.since,
        end=filters.until, table="j",
    )  # fmt: skip
    if filters.reviewed_only:
        clauses.append("j.review IN ('confirm', 'relabel')")
    if filters.sighting_ids is not None:
        clauses.append("list_contains(CAST($ids AS VARCHAR[]), j.sighting_id)")
        params["ids"] = [str(i) for i in filters.sighting_ids]
    sql = _OCCURRENCES.format(where=" AND ".join(clauses) or "TRUE")
    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        frame = con.execute(sql, params).df() if params else con.execute(sql).df()
    frame = frame.rename(columns={"accuracy_m": "coordinate_uncertainty_m"})
    return frame[COLUMNS]


def parse_time(text: str, flag: str = "time") -> datetime:
    """An ISO 8601 date or time (UTC unless it has an offset) as naive UTC."""
    from fieldtool.timebase import utc_naive as naive_utc

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FieldtoolError(
            f"{flag} {text!r}: expected an ISO 8601 date or time, e.g. 2026-06-01T09:30"
        ) from None
    return naive_utc(value)


def _iso(value: Any, utc: bool = True) -> str:
    """ISO 8601 to the second: UTC with a Z, or with no zone at all when ``utc`` is false (a
    local clock of unknown zone); '' for a missing time."""
    import pandas as pd

    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ" if utc else "%Y-%m-%dT%H:%M:%S")


def zone_known(frame: pd.DataFrame) -> pd.Series:
    """Per row, whether its sighting times are UTC (the session's ``time_zone_known``).

    A frame without the column, or a missing value (a session from before schema 5, or no
    session row), counts as UTC: that is what those times always claimed.
    """
    import pandas as pd

    if "time_zone_known" not in frame.columns:
        return pd.Series(True, index=frame.index, dtype=bool)
    return frame["time_zone_known"].astype(object).where(frame["time_zone_known"].notna(), True)


def time_text(frame: pd.DataFrame, missing: str | None = "") -> pd.DataFrame:
    """A copy with the time columns present (:data:`TIME_COLUMNS`) as ISO 8601 text.

    Sighting times end in ``Z`` only where the session's zone is known (:func:`zone_known`);
    review times always do. ``missing`` stands for a missing time. Shared by the CSV and
    GeoJSON writers here and the dashboard's downloads, so none of them claims UTC for a
    camera's local clock.
    """
    import pandas as pd

    out = frame.copy()
    known = zone_known(frame).tolist()
    for name in TIME_COLUMNS:
        if name not in out.columns:
            continue
        utc = known if name in SESSION_TIME_COLUMNS else [True] * len(out)
        text = [_iso(v, bool(k)) or missing for v, k in zip(out[name], utc, strict=True)]
        out[name] = pd.Series(text, index=out.index, dtype=object)  # object: None stays None
    return out


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
                "eventDate": f"{_iso(row.first_seen, known)}/{_iso(row.last_seen, known)}",
                "eventRemarks": _time_remarks(known, row.time_source, row.time_zone),
                "decimalLatitude": _num(row.latitude, 7) if placed else "",
                "decimalLongitude": _num(row.longitude, 7) if placed else "",
                "geodeticDatum": "WGS84" if placed else "",
                "coordinateUncertaintyInMeters": _num(row.coordinate_uncertainty_m, 1)
                if placed
                else "",
                "identifiedBy": _text(row.reviewer) if human else model,
                "dateIdentified": _iso(row.reviewed_at) if human else "",
                "identificationVerificationStatus": "verified by reviewer"
                if human
                else "unverified (automated identification)",
                "identificationRemarks": _text(remarks),
                "samplingProtocol": "video, automated image classification (fieldtool)",
                "occurrenceRemarks": _text(
                    f"seen {row.last_t - row.first_t:.1f} s of video {row.source}"
                ),
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
    import pandas as pd

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
            f"<beginDate><calendarDate>{pd.Timestamp(frame.first_seen.min()):%Y-%m-%d}"
            "</calendarDate></beginDate>"
            f"<endDate><calendarDate>{pd.Timestamp(frame.last_seen.max()):%Y-%m-%d}"
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
        return _iso(value)
    if isinstance(value, float) and pd.isna(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def write_geojson(frame: pd.DataFrame, out: Path) -> None:
    """A GeoJSON FeatureCollection; sightings without a position have a null geometry."""
    import pandas as pd

    features = []
    for record in time_text(frame).to_dict("records"):
        lat, lon = record["latitude"], record["longitude"]
        geometry = None
        if not (lat is None or lon is None or pd.isna(lat) or pd.isna(lon)):
            geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}
        properties = {k: _json_value(v) for k, v in record.items()}
        features.append({"type": "Feature", "id": record["sighting_id"],
                         "geometry": geometry, "properties": properties})  # fmt: skip
    collection = {"type": "FeatureCollection", "features": features}
    with _atomic(out) as tmp:
        tmp.write_text(json.dumps(collection, ensure_ascii=False, allow_nan=False))


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


def write_csv(frame: pd.DataFrame, out: Path) -> None:
    """CSV, UTF-8, times ISO 8601 (UTC with a Z unless the zone is unknown: :func:`time_text`)."""
    with _atomic(out) as tmp:
        time_text(frame).to_csv(tmp, index=False)


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


def export(
    db: Path | str,
    fmt: str,
    out: Path | str,
    filters: ExportFilter | None = None,
    *,
    title: str | None = None,
    creator: str = "fieldtool user",
    timeout_s: float = 10.0,
) -> int:
    """Write the filtered sightings of ``db`` to ``out`` in ``fmt``; returns the row count."""
    db, out = Path(db), Path(out)
    if fmt not in FORMATS:
        raise FieldtoolError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not db.is_file():
        raise FieldtoolError(f"{db}: sightings database not found")
    if not out.parent.is_dir():
        raise FieldtoolError(f"{out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise FieldtoolError(f"{out}: is a folder, expected a file name")
    frame = load_occurrences(db, filters, timeout_s=timeout_s)
    try:
        if fmt == "dwca":
            write_dwca(frame, out, title=title or f"fieldtool sightings from {db.name}",
                       creator=creator, db=db)  # fmt: skip
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
def add_export_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``fieldtool export``."""
    p = subparsers.add_parser(
        "export",
        help="write sightings as a Darwin Core Archive, GeoJSON, GeoParquet or CSV",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    p.add_argument("--format", required=True, choices=FORMATS, dest="fmt",
                   help="dwca: Darwin Core Archive zip; parquet: GeoParquet")  # fmt: skip
    p.add_argument("-o", "--out", type=Path, required=True, help="output file")
    p.add_argument("--session", help="only this session id")
    p.add_argument("--species", action="append", help="only this species (repeatable)")
    p.add_argument("--since", help="only sightings ending at or after (ISO 8601, UTC)")
    p.add_argument("--until", help="only sightings starting at or before (ISO 8601, UTC)")
    p.add_argument("--reviewed-only", action="store_true",
                   help="only sightings a reviewer confirmed or relabelled")  # fmt: skip
    p.add_argument("--title", help="dataset title (dwca)")
    p.add_argument("--creator", default="fieldtool user", help="dataset creator (dwca)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    filters = ExportFilter(
        session_id=args.session,
        species=args.species,
        since=parse_time(args.since, "--since") if args.since else None,
        until=parse_time(args.until, "--until") if args.until else None,
        reviewed_only=args.reviewed_only,
    )
    n = export(args.db, args.fmt, args.out, filters, title=args.title, creator=args.creator)
    print(f"fieldtool: {n} sightings written to {args.out} ({args.fmt})", file=sys.stderr)
    return 0
