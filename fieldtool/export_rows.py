"""The rows ``fieldtool export`` writes: which sightings, which columns, times as text.

One row per closed sighting of the ``sightings_reviewed`` view (:mod:`fieldtool.store.views`),
the one read model of reviews: the newest review is applied, rejected sightings are left
out, a relabelled one is exported under the reviewer's species (``predicted_species``
keeps the model's). Filters: session, species (after review), time (sightings overlapping
``since``..``until``), reviewed only, and sighting ids. The file is read with one short
read-only connection (a file from an older fieldtool is first upgraded with one short
write, unless the caller forbids it).

Times are whole seconds: a sighting's interval is written so that it holds every
detection, ``first_seen`` rounded down and ``last_seen`` rounded up to the second
(:data:`INTERVAL_ROUNDING`); a single time (``reviewed_at``) to the nearest second. They
are UTC, written with a ``Z``, except where a sighting's ``time_zone_known`` is false: its
times are a camera's local clock of unknown zone and are written without a zone
(:func:`time_text`). The label is the session's, except in a photo session: there each
sighting's own photos decide (their ``media.time_source``, :func:`sighting_clocks_sql`), so
one photo of unknown zone labels its own sightings, not the session's UTC ones, and
``time_source`` names the photos' sources (``photos: exif-offset``). Review times are always
UTC: the reviewer's clock is the machine's.
A review without a note (or a note of only spaces) has ``review_note`` null: no note.
``coordinate_uncertainty_m`` is the GPS accuracy of the track row at the peak
(:func:`fieldtool.store.track.sighting_accuracy_sql`: a photo sighting's peak photo's own row).
The camera's elevation comes from the session's ``track`` rows
(:func:`fieldtool.store.track.sighting_elevations_sql`): ``elevation_m`` at the peak,
``elevation_min_m``/``elevation_max_m`` over the sighting's frames, ``elevation_reference``
what they are measured from ("above sea level (gpx)"); missing (not 0) without one.
The writers of every format are in :mod:`fieldtool.export`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fieldtool.store.track import (
    ELEVATION_COLUMNS,
    elevation_reference,
    sighting_accuracy_sql,
    sighting_elevations_sql,
)
from fieldtool.store.views import sighting_filter_sql
from fieldtool.timebase import UNKNOWN_ZONE_CLOCKS
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:  # pandas, duckdb and the store load when an export runs, not with the CLI
    import duckdb
    import pandas as pd


@dataclass
class ExportFilter:
    """Which sightings to export; None means no limit."""

    session_id: str | None = None
    species: Sequence[str] | None = None  # species in force (after review)
    since: datetime | None = None  # UTC: sightings that end at or after
    until: datetime | None = None  # UTC: sightings that start at or before
    reviewed_only: bool = False  # only sightings a person confirmed or relabelled
    sighting_ids: Sequence[str] | None = None  # only these (e.g. what a dashboard shows)


# media.time_source of a photo whose time is a camera's clock of unknown zone (photos; its
# EXIF DateTimeOriginal or, failing that, DateTime).
LOCAL_CLOCK_SOURCES = UNKNOWN_ZONE_CLOCKS
_LOCAL_SQL = ", ".join(f"'{source}'" for source in LOCAL_CLOCK_SOURCES)
# Time sources (``sessions.time_source``, ``media.time_source``) that are not when the
# media was recorded, and what they are: the one rule of every export. Darwin Core
# publishes no eventDate from them (:func:`fieldtool.export_dwc.undated`); Camtrap DP flags
# them as the standard's timestampIssues (:mod:`fieldtool.camtrap.write`).
GUESSED_TIME_SOURCES: dict[str, str] = {
    "processing-time": "the time fieldtool processed the file, which has no clock",
    "srt-file-mtime": "the SRT file's modification time, the file has no date",
    "file-mtime": "the file's modification time, the photo has no EXIF time",
}


def guessed_sources(time_source: object) -> list[str]:
    """The :data:`GUESSED_TIME_SOURCES` a sighting's ``time_source`` names (its session's,
    ``srt-file-mtime``; a photo session's photos', ``photos: exif-offset, file-mtime``), in
    that table's order; empty for any other (None, NaN)."""
    if not isinstance(time_source, str):
        return []
    head, _, photos = time_source.strip().partition(": ")
    named = {head, *(p.strip() for p in photos.split(",") if p.strip())}
    return [source for source in GUESSED_TIME_SOURCES if source in named]


def sighting_clocks_sql(chosen: str) -> str:
    """SQL: the clocks of the photos behind each sighting of the relation ``chosen`` (with
    ``sighting_id``): ``photos`` (how many have a ``media.time_source``), ``local`` (how many
    of them are a local clock of unknown zone, :data:`LOCAL_CLOCK_SOURCES`) and ``sources``
    (their time sources, "exif-local, exif-offset"). A sighting's photos: its event's photos
    analysed from its ``first_t`` to its ``last_t``. Sightings without photos (video) have
    no row. One unknown-zone photo so labels its own sightings, not its whole session."""
    return f"""
    SELECT s.sighting_id, count(DISTINCT m.frame_index) AS photos,
           count(DISTINCT m.frame_index) FILTER (WHERE m.time_source IN ({_LOCAL_SQL})) AS local,
           string_agg(DISTINCT m.time_source, ', ' ORDER BY m.time_source) AS sources
    FROM {chosen} c JOIN sightings s USING (sighting_id)
    JOIN media m ON m.session_id = s.session_id AND m.event_id = s.event_id
    JOIN detections d ON d.session_id = m.session_id AND d.frame_index = m.frame_index
    WHERE m.time_source IS NOT NULL AND d.t BETWEEN s.first_t AND s.last_t
    GROUP BY s.sighting_id
    """


# The view every reader of reviews shares (fieldtool.store.views): newest review applied.
REVIEWED_VIEW = "sightings_reviewed"
# Closed sightings of the view that match ``{where}`` (columns qualified with ``v.``), then
# the GPS accuracy at each one's peak, the camera's elevation over its frames, its
# session's clock and model, and its taxon.
_OCCURRENCES = f"""
WITH chosen AS (
    SELECT v.sighting_id, v.session_id, v.species, v.predicted_species, v.common_name,
           v.first_seen, v.last_seen, v.first_t, v.last_t, v.frames, v.peak_score,
           v.mean_score, v.latitude, v.longitude, v.h3_cell, v.model_id, v.snapshot_path,
           v.review, v.reviewer, v.reviewed_at,
           -- an empty note is no note: null, as any missing value
           CASE WHEN trim(v.review_note) <> '' THEN v.review_note END AS review_note
    FROM {REVIEWED_VIEW} v
    WHERE v.status = 'closed' AND {{where}}
),
peaks AS ({sighting_accuracy_sql("chosen")}),
clocks AS ({sighting_clocks_sql("chosen")}),
elevations AS ({sighting_elevations_sql("chosen")})
SELECT c.*, p.accuracy_m AS coordinate_uncertainty_m, se.model_sha256, se.source,
       -- The session's label, except that a sighting whose own photos all have a known
       -- zone is UTC in a session of mixed photos. Sessions from before schema 5 (NULL)
       -- always claimed UTC: keep that claim.
       coalesce(se.time_zone_known, TRUE) OR coalesce(k.photos > 0 AND k.local = 0, FALSE)
           AS time_zone_known,
       CASE WHEN k.photos > 0 THEN coalesce(se.time_source, 'photos') || ': ' || k.sources
            ELSE coalesce(se.time_source, 'unrecorded') END AS time_source,
       se.time_zone,
       coalesce(sp.genus, CASE WHEN regexp_matches(c.species, '^[A-Z][a-z-]+ [a-z]')
                               THEN split_part(c.species, ' ', 1) END) AS genus,
       sp.family, e.elevation_m, e.elevation_min_m, e.elevation_max_m, e.elevation_sources
FROM chosen c
LEFT JOIN peaks p USING (sighting_id)
LEFT JOIN clocks k USING (sighting_id)
LEFT JOIN elevations e USING (sighting_id)
LEFT JOIN sessions se USING (session_id)
LEFT JOIN species sp USING (species)
ORDER BY c.first_seen, c.sighting_id
"""

COLUMNS = [
    "sighting_id", "session_id", "species", "common_name", "predicted_species", "genus",
    "family", "first_seen", "last_seen", "time_zone_known", "time_source", "time_zone",
    "first_t", "last_t", "frames", "peak_score", "mean_score", "latitude", "longitude",
    "coordinate_uncertainty_m", "h3_cell", "model_id", "model_sha256", "source",
    "snapshot_path", "review", "reviewer", "reviewed_at", "review_note",
    *ELEVATION_COLUMNS,  # appended: a reader of the older columns finds them where they were
]  # fmt: skip
TIME_COLUMNS = ("first_seen", "last_seen", "reviewed_at")
Rounding = Literal["nearest", "down", "up"]
# A sighting's interval, written whole seconds that hold it: start down, end up (a detection
# at 09:00:02.533 is inside 09:00:02/..., not before 09:00:03/...). Other times: nearest.
INTERVAL_ROUNDING: dict[str, Rounding] = {"first_seen": "down", "last_seen": "up"}
# Times of the session's clock: UTC only where its time_zone_known is true. The others
# (reviewed_at) are the machine's clock, always UTC.
SESSION_TIME_COLUMNS = ("first_seen", "last_seen")


def _stale(con: duckdb.DuckDBPyConnection, db: Path) -> bool:
    """Whether the file predates this fieldtool's schema or lacks the reviewed view."""
    from fieldtool.store import SCHEMA_VERSION, schema_version

    version = schema_version(con, db)
    if version is None:
        raise FieldtoolError(f"{db}: not a fieldtool sightings database (no tables)")
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND view_name = ?",
        [REVIEWED_VIEW],
    ).fetchone()
    return version < SCHEMA_VERSION or not (found and found[0])


def needs_upgrade(db: Path | str, *, timeout_s: float = 10.0) -> bool:
    """Whether :func:`load_occurrences` must first upgrade ``db`` (a reader that may not
    write says so before it offers the rows)."""
    from fieldtool.store import connect

    with connect(Path(db), read_only=True, timeout_s=timeout_s) as con:
        return _stale(con, Path(db))


def _upgrade(db: Path, timeout_s: float, log: Callable[[str], None] | None) -> None:
    """Migrate ``db`` (one short write); ``log`` hears the one line every migrating command
    says (:func:`fieldtool.store.schema.upgrade_notice`)."""
    from fieldtool.store import connect, ensure_schema
    from fieldtool.store.maintenance import commit
    from fieldtool.store.schema import upgrade_notice

    with connect(db, read_only=False, timeout_s=timeout_s) as con:
        con.execute("BEGIN TRANSACTION")
        old, new = ensure_schema(con, db)
        commit(con)  # a checkpoint failing after it: migrated all the same
    if log is not None and (notice := upgrade_notice(db, old, new)):
        log(notice)


def _fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any], db: Path
) -> pd.DataFrame:
    import duckdb

    try:
        return con.execute(sql, params).df() if params else con.execute(sql).df()
    except duckdb.Error as exc:
        raise FieldtoolError(f"{db}: query failed: {str(exc).strip().splitlines()[0]}") from None


def load_occurrences(
    db: Path | str,
    filters: ExportFilter | None = None,
    *,
    timeout_s: float = 10.0,
    upgrade: bool = True,
    log: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The sightings to export (see the module doc), oldest first, columns :data:`COLUMNS`.

    One read-only connection. A file from an older fieldtool (or without the reviewed
    view) is first upgraded with one short write; with ``upgrade=False`` (a reader that
    must not write, such as the dashboard's refresh) it is refused instead. ``log`` hears
    that the file was upgraded (an older fieldtool can no longer write it).
    """
    from fieldtool.store import connect

    db = Path(db)
    filters = filters or ExportFilter()
    clauses, params = sighting_filter_sql(
        session_id=filters.session_id, species=filters.species or None, start=filters.since,
        end=filters.until, table="v",
    )  # fmt: skip
    if filters.reviewed_only:
        clauses.append("v.review IN ('confirm', 'relabel')")
    if filters.sighting_ids is not None:
        clauses.append("v.sighting_id IN (SELECT unnest(CAST($ids AS VARCHAR[])))")
        params["ids"] = [str(i) for i in filters.sighting_ids]
    sql = _OCCURRENCES.format(where=" AND ".join(clauses) or "TRUE")
    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        frame = None if _stale(con, db) else _fetch(con, sql, params, db)
    if frame is None:
        if not upgrade:
            raise FieldtoolError(
                f"{db}: written by an older fieldtool; `fieldtool export` upgrades it once"
            )
        _upgrade(db, timeout_s, log)
        with connect(db, read_only=True, timeout_s=timeout_s) as con:
            frame = _fetch(con, sql, params, db)
    frame["elevation_reference"] = [elevation_reference(s) for s in frame["elevation_sources"]]
    return frame[COLUMNS]


def make_parent(out: Path) -> None:
    """The folders above ``out`` that do not exist yet, made (``-o out/x``, as ``mkdir -p``),
    by every format; a file in their way is one line naming it."""
    for folder in (out.parent, *out.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise FieldtoolError(f"{out}: {folder} is a file, not a folder")
            break
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FieldtoolError(f"{out}: cannot make folder {out.parent} "
                             f"({exc.strerror or exc})") from None  # fmt: skip


def select_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of :data:`COLUMNS` that ``frame`` has, in that order."""
    return frame[[c for c in COLUMNS if c in frame.columns]]


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


def nearest_second(value: datetime) -> datetime:
    """``value`` rounded to the nearest whole second, half a second up (09:00:34.6 ->
    09:00:35): how the exports write a single time (an interval's ends:
    :func:`whole_second`)."""
    return (value + timedelta(microseconds=500_000)).replace(microsecond=0)


def whole_second(value: datetime, rounding: Rounding = "nearest") -> datetime:
    """``value`` in whole seconds: :func:`nearest_second`, or rounded ``down`` (09:00:02.5
    -> 09:00:02) or ``up`` (09:00:08.4 -> 09:00:09; a whole second stays)."""
    if rounding == "nearest":
        return nearest_second(value)
    down = value.replace(microsecond=0)
    return down + timedelta(seconds=1) if rounding == "up" and down != value else down


def iso_time(value: Any, utc: bool = True, rounding: Rounding = "nearest") -> str:
    """ISO 8601 in whole seconds (:func:`whole_second`; the start of an interval ``down``,
    its end ``up``): UTC with a Z, or with no zone at all when ``utc`` is false (a local
    clock of unknown zone); '' for a missing time."""
    import pandas as pd

    if value is None or pd.isna(value):
        return ""
    when = whole_second(pd.Timestamp(value).to_pydatetime(warn=False), rounding)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ" if utc else "%Y-%m-%dT%H:%M:%S")


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
    review times always do. ``first_seen`` is rounded down and ``last_seen`` up to the
    second (:data:`INTERVAL_ROUNDING`), review times to the nearest. ``missing`` stands for
    a missing time. Shared by the writers of
    :mod:`fieldtool.export` and the dashboard, so none of them claims UTC for a camera's
    local clock.
    """
    import pandas as pd

    out = frame.copy()
    known = zone_known(frame).tolist()
    for name in TIME_COLUMNS:
        if name not in out.columns:
            continue
        utc = known if name in SESSION_TIME_COLUMNS else [True] * len(out)
        rounding = INTERVAL_ROUNDING.get(name, "nearest")
        text = [iso_time(v, bool(k), rounding) or missing
                for v, k in zip(out[name], utc, strict=True)]  # fmt: skip
        out[name] = pd.Series(text, index=out.index, dtype=object)  # object: None stays None
    return out
