"""What the dashboard reads: the database path, filters, and one query per loader.

Every loader opens the DuckDB file read-only for one query through
:func:`fieldtool.store.query` (which retries while a writer holds the file) and closes it
again, so a running session can keep writing. User input only ever reaches SQL as query
parameters.

Reviews: the review in force is defined once, in :mod:`fieldtool.store.views`
(``LATEST_REVIEW_SQL``, which the ``sightings_reviewed`` view applies).
:func:`load_sightings` shows it beside every sighting, or, with ``reviewed=True``, reads
the ``sightings_reviewed`` view itself (rejected sightings left out, relabelled ones under
the reviewer's species), as ``fieldtool export`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from fieldtool.export_rows import REVIEWED_VIEW, sighting_clocks_sql
from fieldtool.store import query
from fieldtool.store.files import first_line
from fieldtool.store.track import (
    ELEVATION_COLUMNS,
    elevation_reference,
    sighting_elevations_sql,
)
from fieldtool.store.views import LATEST_REVIEW_SQL, sighting_filter_sql
from fieldtool.timebase import utc_naive as naive_utc
from fieldtool.types import FieldtoolError

DEFAULT_DB = "sightings.duckdb"
DB_ENV_VAR = "FIELDTOOL_DB"
MAX_SIGHTINGS = 500  # rows of one page of a table; counts and maps are computed in SQL
MAX_TRACK_POINTS = 2000  # per session path; longer tracks are thinned evenly

SIGHTING_FIELDS = (
    "sighting_id, session_id, species, common_name, first_seen, last_seen, first_t, last_t, "
    "last_t - first_t AS duration_s, frames, peak_score, mean_score, latitude, longitude, "
    "snapshot_path, status, updated_at"
)
# The review in force (fieldtool.store.views) beside each sighting, under the dashboard's names.
_IN_FORCE = (
    "(SELECT sighting_id, decision AS review, species AS review_species, reviewer, "
    f"reviewed_at FROM ({LATEST_REVIEW_SQL}) latest)"
)
_NO_REVIEW = (
    "CAST(NULL AS VARCHAR) AS review, CAST(NULL AS VARCHAR) AS review_species, "
    "CAST(NULL AS VARCHAR) AS reviewer, CAST(NULL AS TIMESTAMP) AS reviewed_at"
)
_NO_REVIEW_APPLIED = (
    "species AS predicted_species, CAST(NULL AS VARCHAR) AS review, "
    "CAST(NULL AS VARCHAR) AS reviewer, CAST(NULL AS TIMESTAMP) AS reviewed_at"
)
# Session columns of schema 5: (expression, stand-in for a file no writer has migrated yet;
# the dashboard only reads). Those older sessions always claimed UTC: their zone counts as known.
_SESSION_TIME_FIELDS = {
    "time_source": ("coalesce(time_source, 'unrecorded')", "'unrecorded'"),
    "time_zone": ("time_zone", "CAST(NULL AS VARCHAR)"),
    "time_zone_known": ("coalesce(time_zone_known, TRUE)", "TRUE"),
    "frames_positioned": ("frames_positioned", "CAST(NULL AS BIGINT)"),
}
# Review filter values: label shown in the sidebar.
REVIEW_STATES = {
    "unreviewed": "Not reviewed",
    "reviewed": "Reviewed (any decision)",
    "confirm": "Confirmed",
    "reject": "Rejected",
    "relabel": "Relabelled",
}


@dataclass(frozen=True)
class SightingFilter:
    """Which sightings to load; ``None`` means no restriction.

    ``species``: only these (an empty tuple matches nothing). ``start``/``end``: UTC, keep
    sightings whose span [first_seen, last_seen] overlaps [start, end]. ``review``: one of
    :data:`REVIEW_STATES` (the decision of the review in force, or none).
    """

    species: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    min_score: float = 0.0
    session_id: str | None = None
    review: str | None = None


# Paths and arguments ------------------------------------------------------------------
def db_path_from_args(argv: Sequence[str], environ: Mapping[str, str]) -> Path:
    """Database path: ``--db PATH`` (or ``--db=PATH``) in argv, else $FIELDTOOL_DB, else default."""
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv) and argv[i + 1]:
            return Path(argv[i + 1]).expanduser()
        if arg.startswith("--db=") and len(arg) > len("--db="):
            return Path(arg[len("--db=") :]).expanduser()
    env = environ.get(DB_ENV_VAR, "").strip()
    return Path(env).expanduser() if env else Path(DEFAULT_DB)


def database_problem(path: Path | str) -> str | None:
    """A one-line message when ``path`` cannot be a sightings database, else None."""
    path = Path(path)
    if not str(path).strip():
        return "No database path given."
    if path.is_dir():
        return f"{path} is a folder; give the path of a sightings database file (.duckdb)."
    if not path.exists():
        return (
            f"No sightings database at {path} yet: this page shows it once a session writes "
            f"it. Record a session with fieldtool to create it, or choose another file "
            f"(sidebar, ${DB_ENV_VAR}, or `streamlit run streamlit_app.py -- --db PATH`)."
        )
    return None


def resolve_snapshot(db_path: Path | str, snapshot_path: str) -> Path:
    """Absolute path of a stored snapshot; refuses paths that leave the database's folder."""
    folder = Path(db_path).resolve().parent
    if not snapshot_path or "\x00" in snapshot_path:
        raise FieldtoolError("snapshot path is empty or invalid")
    resolved = (folder / snapshot_path).resolve()
    if not resolved.is_relative_to(folder):
        raise FieldtoolError(f"snapshot path {snapshot_path!r} is outside {folder}; refused")
    return resolved


# Loaders ------------------------------------------------------------------------------
def load_sessions(db_path: Path | str, *, timeout_s: float = 10.0) -> pd.DataFrame:
    """All sessions, newest first, with where their times came from: ``time_source``,
    ``time_zone``, ``time_zone_known`` (false: a camera's local clock of unknown zone, not
    UTC) and ``frames_positioned``."""
    times = _session_time_sql(_tables(db_path, timeout_s))
    return query(
        db_path,
        "SELECT session_id, source, model_id, host, started_at, ended_at, status, "
        f"frames_read, frames_analysed, frames_dropped, {times} FROM sessions "
        "ORDER BY started_at DESC, session_id",
        timeout_s=timeout_s,
    )


def relation_columns(db_path: Path | str, timeout_s: float = 10.0) -> dict[str, set[str]]:
    """Columns of ``reviews``, ``sessions`` and the reviewed view, by relation."""
    return _tables(db_path, timeout_s)


def _tables(db_path: Path | str, timeout_s: float) -> dict[str, set[str]]:
    """Columns of the relations whose presence or shape depends on the schema version (a
    file no writer has migrated may lack ``reviews``, the reviewed view or the newer
    ``sessions`` columns), in one query."""
    found = query(
        db_path,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name IN ('reviews', 'sessions', 'species', "
        "'media', $view)",
        {"view": REVIEWED_VIEW},
        timeout_s=timeout_s,
    )
    tables: dict[str, set[str]] = {}
    for table, column in zip(found["table_name"], found["column_name"], strict=True):
        tables.setdefault(str(table), set()).add(str(column))
    return tables


def _session_time_sql(tables: dict[str, set[str]], names: Iterable[str] | None = None) -> str:
    """SELECT list of the session time columns ``names`` (all by default), with the value
    an unmigrated file's sessions stand for where a column is missing."""
    have = tables.get("sessions", set())
    return ", ".join(
        f"{expr if name in have else missing} AS {name}"
        for name, (expr, missing) in _SESSION_TIME_FIELDS.items()
        if names is None or name in names
    )


def load_species(
    db_path: Path | str, session_id: str | None = None, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """Species with at least one sighting: species, common_name, sightings (count)."""
    where, params = _session_clause(session_id, "WHERE")
    return query(
        db_path,
        "SELECT species, any_value(common_name) AS common_name, count(*) AS sightings "
        f"FROM sightings {where} GROUP BY species ORDER BY species",
        params,
        timeout_s=timeout_s,
    )


def load_time_bounds(
    db_path: Path | str, session_id: str | None = None, *, timeout_s: float = 10.0
) -> tuple[datetime, datetime] | None:
    """(earliest first_seen, latest last_seen) in UTC, or None without sightings."""
    where, params = _session_clause(session_id, "WHERE")
    frame = query(
        db_path,
        f"SELECT min(first_seen) AS lo, max(last_seen) AS hi FROM sightings {where}",
        params,
        timeout_s=timeout_s,
    )
    lo, hi = frame.iloc[0]["lo"], frame.iloc[0]["hi"]
    if pd.isna(lo) or pd.isna(hi):
        return None
    return pd.Timestamp(lo).to_pydatetime(), pd.Timestamp(hi).to_pydatetime()


def filter_clauses(filters: SightingFilter | None) -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses (over :func:`filtered_sightings_sql`'s columns) and parameters."""
    filters = filters or SightingFilter()
    clauses, params = sighting_filter_sql(
        session_id=filters.session_id, species=filters.species, start=filters.start,
        end=filters.end,
    )  # fmt: skip
    clauses.append("peak_score >= $min_score")
    params["min_score"] = float(filters.min_score)
    if filters.review is not None:
        if filters.review not in REVIEW_STATES:
            raise FieldtoolError(
                f"review filter {filters.review!r}: expected one of {list(REVIEW_STATES)}"
            )
        if filters.review == "unreviewed":
            clauses.append("review IS NULL")
        elif filters.review == "reviewed":
            clauses.append("review IS NOT NULL")
        else:
            clauses.append("review = $review")
            params["review"] = filters.review
    return clauses, params


def load_sightings(
    db_path: Path | str,
    filters: SightingFilter | None = None,
    *,
    reviewed: bool = False,
    timeout_s: float = 10.0,
    limit: int = MAX_SIGHTINGS,
    offset: int = 0,
) -> pd.DataFrame:
    """The newest ``limit`` sightings matching ``filters`` after skipping ``offset`` (one page
    of a table; counts come from :mod:`fieldtool.dashboard.aggregate`), with ``duration_s``
    (media seconds) and their session's ``time_zone_known`` (false: first_seen and last_seen are a camera's
    local clock of unknown zone) and ``time_source``.

    ``reviewed=False`` (map, review queue): every sighting as recorded (``species`` is the
    model's), with the review in force beside it: ``review`` (decision or None),
    ``review_species``, ``reviewer``, ``reviewed_at``.

    ``reviewed=True`` (species page): the rows of the ``sightings_reviewed`` view, the read
    model ``fieldtool export`` shares: rejected sightings left out, ``species`` is the
    reviewer's for relabelled ones and ``predicted_species`` the model's; ``review``,
    ``reviewer``, ``reviewed_at``. The species filter then matches the species in force.
    """
    sql, params = _page_sql(db_path, filters, reviewed, timeout_s)
    order = f" ORDER BY first_seen DESC, sighting_id LIMIT {int(limit)} OFFSET {int(offset)}"
    return query(db_path, sql + order, params, timeout_s=timeout_s)


def load_sightings_page(
    db_path: Path | str,
    filters: SightingFilter | None = None,
    *,
    limit: int,
    offset: int = 0,
    timeout_s: float = 10.0,
) -> tuple[pd.DataFrame, int]:
    """A page of :func:`load_sightings` (``reviewed=False``) and the number of sightings
    matching ``filters``, from one read: a session writing between two reads would make a
    table's "rows 1–23 of 22"."""
    from fieldtool.store import connect

    sql, params = _page_sql(db_path, filters, False, timeout_s)
    order = f" ORDER BY first_seen DESC, sighting_id LIMIT {int(limit)} OFFSET {int(offset)}"
    # One connection: no writer opens the file while a reader holds it (DuckDB's lock).
    with connect(db_path, read_only=True, timeout_s=timeout_s) as con:
        try:
            rows = con.execute(sql + order, params or None).df()
            total = con.execute(f"SELECT count(*) FROM ({sql})", params or None).fetchone()
            rows = _with_elevations(con, rows)
        except duckdb.Error as exc:
            raise FieldtoolError(f"{db_path}: query failed: {first_line(exc)}") from None
    return rows, int(total[0]) if total else 0


def with_elevations(
    db_path: Path | str, rows: pd.DataFrame, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """``rows`` (with ``sighting_id``) and the camera's elevation of each sighting, as
    ``fieldtool export`` gives it (:func:`fieldtool.store.track.sighting_elevations_sql`):
    ``elevation_m`` (m, at the peak), ``elevation_min_m``/``elevation_max_m`` (over its
    frames), ``elevation_reference`` ("above sea level (gpx)"); NaN/None where its track
    has none, and for every row of a file from before ``track.elevation_m`` (schema 8)."""
    from fieldtool.store import connect

    if rows.empty:
        return _with_elevations(None, rows)
    with connect(db_path, read_only=True, timeout_s=timeout_s) as con:
        try:
            return _with_elevations(con, rows)
        except duckdb.Error as exc:
            raise FieldtoolError(f"{db_path}: query failed: {first_line(exc)}") from None


def _with_elevations(con: duckdb.DuckDBPyConnection | None, rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`with_elevations` over an open read-only connection (one read with the rows)."""
    out = rows.drop(columns=[c for c in ELEVATION_COLUMNS if c in rows.columns])
    found = None
    if con is not None and not rows.empty:
        has = con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = 'track' AND column_name = 'elevation_m'"
        ).fetchone()
        if has and has[0]:
            chosen = "(SELECT unnest(CAST($ids AS VARCHAR[])) AS sighting_id)"
            found = con.execute(
                sighting_elevations_sql(chosen), {"ids": [str(i) for i in rows["sighting_id"]]}
            ).df()
    if found is None or found.empty:
        for name in ELEVATION_COLUMNS[:3]:
            out[name] = float("nan")
        out["elevation_reference"] = pd.Series(None, index=out.index, dtype=object)
        return out
    found["elevation_reference"] = [elevation_reference(s) for s in found["elevation_sources"]]
    found = found.set_index("sighting_id")[list(ELEVATION_COLUMNS)]
    return out.join(found, on="sighting_id")


def _page_sql(
    db_path: Path | str, filters: SightingFilter | None, reviewed: bool, timeout_s: float
) -> tuple[str, dict[str, Any]]:
    clauses, params = filter_clauses(filters)
    tables = _tables(db_path, timeout_s)
    return filtered_sightings_sql(db_path, tables, clauses, reviewed), params


def filtered_sightings_sql(
    db_path: Path | str, tables: dict[str, set[str]], clauses: list[str], reviewed: bool
) -> str:
    """SELECT of :func:`load_sightings` rows meeting ``clauses``, without order or limit."""
    source, review_fields = _review_source(db_path, tables, reviewed)
    times = _session_time_sql(tables, ("time_zone_known", "time_source"))
    # A sighting without a session row: no zone was recorded, and it always claimed UTC.
    source += f" LEFT JOIN (SELECT session_id, {times} FROM sessions) USING (session_id)"
    known = "coalesce(time_zone_known, TRUE)"
    if "media" in tables and "time_zone_known" in tables.get("sessions", set()):
        # a photo sighting by its own photos' clocks, as the exports label it; only in the
        # sessions that have an unknown-zone clock at all (a video file's need no join)
        mixed = ("(SELECT sighting_id FROM sightings WHERE session_id IN (SELECT session_id "
                 "FROM sessions WHERE NOT coalesce(time_zone_known, TRUE)))")  # fmt: skip
        source += f" LEFT JOIN ({sighting_clocks_sql(mixed)}) clocks USING (sighting_id)"
        known = f"({known} OR coalesce(clocks.local = 0, FALSE))"
    time_fields = f"{known} AS time_zone_known, time_source"
    return (
        f"SELECT * FROM (SELECT {SIGHTING_FIELDS}, {review_fields}, {time_fields} "
        f"FROM {source}) WHERE {' AND '.join(clauses)}"
    )


def _review_source(
    db_path: Path | str, tables: dict[str, set[str]], reviewed: bool
) -> tuple[str, str]:
    """(FROM clause, review columns) of :func:`load_sightings`."""
    if "reviews" not in tables:  # a file without reviews: every sighting stands as recorded
        return "sightings", _NO_REVIEW_APPLIED if reviewed else _NO_REVIEW
    if not reviewed:
        return (
            f"sightings LEFT JOIN {_IN_FORCE} USING (sighting_id)",
            "review, review_species, reviewer, reviewed_at",
        )
    if REVIEWED_VIEW not in tables:
        raise FieldtoolError(
            f"{db_path}: no {REVIEWED_VIEW} view (a file from an older fieldtool); "
            "`fieldtool export` upgrades it once"
        )
    return REVIEWED_VIEW, "predicted_species, review, reviewer, reviewed_at"


def load_tracks(
    db_path: Path | str,
    session_id: str | None = None,
    *,
    max_points: int = MAX_TRACK_POINTS,
    tolerance_deg: float = 0.0,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """One row per session: session_id, path ([[lon, lat], ...] in time order), points, start, end.

    Repeated positions (a fixed position logs the same point every frame) are dropped and
    paths longer than ``max_points`` are thinned evenly, keeping both ends. With
    ``tolerance_deg`` > 0 (about a screen pixel at the map's zoom) positions are first
    snapped to a grid of that many degrees and each grid square keeps its first visit, so
    a path keeps about one point per pixel it crosses.
    """
    where, params = _session_clause(session_id, "AND")
    step = float(tolerance_deg) if tolerance_deg > 0 else 0.0
    if step:
        # Snapped to the grid, each grid square keeps its first visit (one GROUP BY, no
        # window over every fix): at a pixel's tolerance a return through a square already
        # drawn adds nothing visible.
        lat, lon = f"round(latitude / {step!r}) * {step!r}", f"round(longitude / {step!r}) * {step!r}"
        fixes = f"""
            SELECT session_id, {lat} AS latitude, {lon} AS longitude, min(time) AS time,
                   min(t) AS t
            FROM track WHERE latitude IS NOT NULL AND longitude IS NOT NULL {where}
            GROUP BY ALL"""
    else:
        fixes = f"""
            SELECT * FROM (
                SELECT session_id, time, t, latitude, longitude,
                       lag(latitude) OVER w AS prev_lat, lag(longitude) OVER w AS prev_lon
                FROM track WHERE latitude IS NOT NULL AND longitude IS NOT NULL {where}
                WINDOW w AS (PARTITION BY session_id ORDER BY time, t))
            WHERE prev_lat IS NULL OR prev_lat <> latitude OR prev_lon <> longitude"""
    sql = f"""
        SELECT session_id,
               list([round(longitude, 6), round(latitude, 6)] ORDER BY time, t) AS path,
               min(time) AS start, max(time) AS "end"
        FROM ({fixes})
        GROUP BY session_id
        ORDER BY min(time), session_id
    """
    frame = query(db_path, sql, params, timeout_s=timeout_s)
    paths = [
        _thin([[float(p[0]), float(p[1])] for p in path], max_points) for path in frame["path"]
    ]
    frame["path"] = pd.Series(paths, index=frame.index, dtype=object)
    frame.insert(2, "points", [len(p) for p in paths])
    return frame


def load_track_sessions(db_path: Path | str, *, timeout_s: float = 10.0) -> pd.DataFrame:
    """session_id of each session with at least one placed track fix."""
    return query(
        db_path,
        "SELECT DISTINCT session_id FROM track WHERE latitude IS NOT NULL ORDER BY session_id",
        timeout_s=timeout_s,
    )


def _session_clause(session_id: str | None, keyword: str) -> tuple[str, dict[str, Any] | None]:
    if session_id is None:
        return "", None
    return f"{keyword} session_id = $session_id", {"session_id": session_id}


def _thin(points: list[list[float]], max_points: int) -> list[list[float]]:
    if len(points) <= max_points or max_points < 2:
        return points
    step = (len(points) - 1) / (max_points - 1)
    return [points[round(i * step)] for i in range(max_points)]


def session_prior_settings(
    db_path: Path | str, session_id: str | None = None
) -> dict[str, Any] | None:
    """The ``prior`` config section of a session (the newest one without ``session_id``)."""
    where, params = _session_clause(session_id, "WHERE")
    rows = query(
        db_path,
        f"SELECT config_json FROM sessions {where} ORDER BY started_at DESC LIMIT 1",
        params,
    )
    if rows.empty:
        return None
    prior: dict[str, Any] | None = json.loads(rows.iloc[0, 0] or "{}").get("prior")
    return prior


# Live session -------------------------------------------------------------------------
def load_live(
    db_path: Path | str, *, since: datetime, timeout_s: float = 10.0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(running sessions, their newest detection, sightings opened since ``since``).

    Sessions: the ``sessions`` row plus ``frames_logged`` (detection rows written so far),
    ``last_frame_at`` and ``last_t``; the writer only updates the session row's counters
    at the start and the end, so the detections are the running count. Newest detection:
    one row per running session with raw and fused top-k.
    """
    times = _session_time_sql(_tables(db_path, timeout_s), ("time_source", "time_zone_known"))
    sessions = query(
        db_path,
        f"""
        WITH running AS (SELECT * FROM sessions WHERE status = 'running'),
        logged AS (
            SELECT session_id, count(*) AS frames_logged, max(time) AS last_frame_at,
                   max(t) AS last_t
            FROM detections WHERE session_id IN (SELECT session_id FROM running)
            GROUP BY session_id)
        SELECT session_id, source, source_name, model_id, host, started_at, status,
               frames_read, frames_analysed, frames_dropped,
               coalesce(frames_logged, 0) AS frames_logged,
               last_frame_at, last_t, {times}
        FROM running LEFT JOIN logged USING (session_id)
        ORDER BY started_at DESC, session_id
        """,
        timeout_s=timeout_s,
    )
    newest = query(
        db_path,
        """
        SELECT session_id, frame_index, t, time, latitude, longitude, raw_species, raw_scores,
               fused_species, fused_scores
        FROM detections
        WHERE session_id IN (SELECT session_id FROM sessions WHERE status = 'running')
        QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY time DESC, frame_index DESC) = 1
        """,
        timeout_s=timeout_s,
    )
    recent = query(
        db_path,
        f"SELECT {SIGHTING_FIELDS} FROM sightings WHERE first_seen >= CAST($since AS TIMESTAMP) "
        "ORDER BY first_seen DESC, sighting_id",
        {"since": naive_utc(since)},
        timeout_s=timeout_s,
    )
    return sessions, newest, recent


def analysis_rate(row: Any) -> float | None:
    """Analysed frames per wall-clock second of a running session, from its logged frames."""
    if pd.isna(row.last_frame_at) or pd.isna(row.started_at) or not row.frames_logged:
        return None
    seconds = (pd.Timestamp(row.last_frame_at) - pd.Timestamp(row.started_at)).total_seconds()
    return float(row.frames_logged) / seconds if seconds > 0 else None


def recent_cutoff(now: datetime, minutes: float) -> datetime:
    """``now`` (naive UTC) minus ``minutes``."""
    return naive_utc(now) - timedelta(minutes=minutes)


# Schema (SQL page) --------------------------------------------------------------------
def load_schema(db_path: Path | str, *, timeout_s: float = 10.0) -> pd.DataFrame:
    """Tables and views with their columns: table_name, kind (table/view), comment, column_name,
    data_type; views first."""
    return query(
        db_path,
        """
        SELECT c.table_name,
               CASE WHEN v.view_name IS NULL THEN 'table' ELSE 'view' END AS kind,
               coalesce(v.comment, '') AS comment, c.column_name, c.data_type
        FROM information_schema.columns c
        LEFT JOIN (SELECT view_name, comment FROM duckdb_views() WHERE NOT internal
                   AND schema_name = 'main') v ON v.view_name = c.table_name
        WHERE c.table_schema = 'main'
        ORDER BY kind DESC, c.table_name, c.ordinal_position
        """,
        timeout_s=timeout_s,
    )
