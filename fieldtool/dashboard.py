"""Dashboard data access and map building, usable without Streamlit.

Every loader opens the DuckDB file read-only for one query through
:func:`fieldtool.store.query` (which retries while a writer holds the file) and closes it
again, so a running session can keep writing. User input only ever reaches SQL as query
parameters. The map is a :class:`pydeck.Deck` with no map provider: the basemap is
Natural Earth 1:110m GeoJSON from ``data/basemap``, so nothing is fetched from the network.

Besides the map: the review queue (unreviewed sightings with the raw versus fused scores
of the frames they span), species summaries and the accumulation curve, exports (CSV,
GeoJSON), the live-session view, and a guarded read-only SQL runner.
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools
import hashlib
import json
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pydeck as pdk
import shapely.geometry
from pydeck.bindings.json_tools import default_serialize

from fieldtool.export import time_text, zone_known
from fieldtool.store import connect, query
from fieldtool.timebase import utc_naive as naive_utc
from fieldtool.types import FieldtoolError
from fieldtool.views import sighting_filter_sql

BASEMAP_DIR = Path(__file__).resolve().parent.parent / "data" / "basemap"
DEFAULT_DB = "sightings.duckdb"
DB_ENV_VAR = "FIELDTOOL_DB"

# (latitude, longitude, zoom) of the contiguous USA, shown when there is nothing to fit.
US_VIEW = (39.5, -98.35, 3.0)
MAX_SIGHTINGS = 20_000  # newest rows loaded per refresh; a bigger file is for SQL and export
MAX_TRACK_POINTS = 2000  # per session path; longer tracks are thinned evenly

# Basemap: (layer id, file, filled, fill colour, line colour, line width in pixels).
_BASEMAP = (
    ("land", "ne_110m_land.geojson", True, (243, 240, 233), None, 0.0),
    ("lakes", "ne_110m_lakes.geojson", True, (205, 224, 238), None, 0.0),
    ("rivers", "ne_110m_rivers_lake_centerlines.geojson", False, None, (150, 190, 220), 1.0),
    ("states", "ne_110m_admin_1_states_provinces.geojson", False, None, (185, 180, 175), 0.6),
    ("countries", "ne_110m_admin_0_countries.geojson", False, None, (120, 115, 110), 1.0),
)
_OCEAN = (205, 224, 238)
# pydeck turns bare strings into data accessors; a String stays a literal.
_PIXELS = pdk.types.String("pixels")

SIGHTING_FIELDS = (
    "sighting_id, session_id, species, common_name, first_seen, last_seen, first_t, last_t, "
    "last_t - first_t AS duration_s, frames, peak_score, mean_score, latitude, longitude, "
    "snapshot_path, status, updated_at"
)
# The newest review of each sighting is the one in force.
_LATEST_REVIEW = """
    SELECT sighting_id, arg_max(decision, reviewed_at) AS review,
           arg_max(species, reviewed_at) AS review_species,
           arg_max(reviewer, reviewed_at) AS reviewer, max(reviewed_at) AS reviewed_at
    FROM reviews GROUP BY sighting_id
"""
_NO_REVIEW = (
    "CAST(NULL AS VARCHAR) AS review, CAST(NULL AS VARCHAR) AS review_species, "
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
    :data:`REVIEW_STATES` (the newest review's decision, or none).
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
            f"No sightings database at {path}. Record a session with fieldtool to create it, "
            f"or choose another file (sidebar, ${DB_ENV_VAR}, or `streamlit run "
            "streamlit_app.py -- --db PATH`)."
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


def _tables(db_path: Path | str, timeout_s: float) -> dict[str, set[str]]:
    """Columns of the tables whose shape depends on the schema version (a file no writer
    has migrated may lack ``reviews`` or the newer ``sessions`` columns), in one query."""
    found = query(
        db_path,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name IN ('reviews', 'sessions')",
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


def load_sightings(
    db_path: Path | str,
    filters: SightingFilter | None = None,
    *,
    timeout_s: float = 10.0,
    limit: int = MAX_SIGHTINGS,
) -> pd.DataFrame:
    """The newest ``limit`` sightings matching ``filters``, with ``duration_s`` (media seconds).

    Also the newest review of each: ``review`` (decision or None), ``review_species``,
    ``reviewer``, ``reviewed_at``; and its session's ``time_zone_known`` (false: first_seen
    and last_seen are a camera's local clock of unknown zone) and ``time_source``.
    """
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
    tables = _tables(db_path, timeout_s)
    if "reviews" in tables:
        source = f"sightings LEFT JOIN ({_LATEST_REVIEW}) USING (sighting_id)"
        review_fields = "review, review_species, reviewer, reviewed_at"
    else:
        source, review_fields = "sightings", _NO_REVIEW
    times = _session_time_sql(tables, ("time_zone_known", "time_source"))
    # A sighting without a session row: no zone was recorded, and it always claimed UTC.
    source += f" LEFT JOIN (SELECT session_id, {times} FROM sessions) USING (session_id)"
    time_fields = "coalesce(time_zone_known, TRUE) AS time_zone_known, time_source"
    sql = (
        f"SELECT * FROM (SELECT {SIGHTING_FIELDS}, {review_fields}, {time_fields} "
        f"FROM {source}) "
        f"WHERE {' AND '.join(clauses)} ORDER BY first_seen DESC, sighting_id LIMIT {int(limit)}"
    )
    return query(db_path, sql, params, timeout_s=timeout_s)


def load_tracks(
    db_path: Path | str,
    session_id: str | None = None,
    *,
    max_points: int = MAX_TRACK_POINTS,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """One row per session: session_id, path ([[lon, lat], ...] in time order), points, start, end.

    Repeated positions (a fixed position logs the same point every frame) are dropped and
    paths longer than ``max_points`` are thinned evenly, keeping both ends.
    """
    where, params = _session_clause(session_id, "AND")
    sql = f"""
        WITH fixes AS (
            SELECT session_id, time, t, latitude, longitude,
                   lag(latitude) OVER w AS prev_lat, lag(longitude) OVER w AS prev_lon
            FROM track
            WHERE latitude IS NOT NULL AND longitude IS NOT NULL {where}
            WINDOW w AS (PARTITION BY session_id ORDER BY time, t)
        )
        SELECT session_id,
               list([longitude, latitude] ORDER BY time, t) AS path,
               min(time) AS start, max(time) AS "end"
        FROM fixes
        WHERE prev_lat IS NULL OR prev_lat <> latitude OR prev_lon <> longitude
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


def _session_clause(session_id: str | None, keyword: str) -> tuple[str, dict | None]:
    if session_id is None:
        return "", None
    return f"{keyword} session_id = $session_id", {"session_id": session_id}


def _thin(points: list[list[float]], max_points: int) -> list[list[float]]:
    if len(points) <= max_points or max_points < 2:
        return points
    step = (len(points) - 1) / (max_points - 1)
    return [points[round(i * step)] for i in range(max_points)]


# Summaries and tables -----------------------------------------------------------------
def summarize(sightings: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, int]:
    """Metric values: sightings, species, sessions, running sessions, open sightings."""
    return {
        "sightings": len(sightings),
        "species": int(sightings["species"].nunique()) if len(sightings) else 0,
        "sessions": len(sessions),
        "running": int((sessions["status"] == "running").sum()) if len(sessions) else 0,
        "open": int((sightings["status"] == "open").sum()) if len(sightings) else 0,
    }


def sightings_table(sightings: pd.DataFrame) -> pd.DataFrame:
    """The columns shown in the dashboard's table, with readable names."""
    columns = {
        "species": "Species",
        "common_name": "Common name",
        "first_seen": "First seen (UTC)",
        "last_seen": "Last seen (UTC)",
        "duration_s": "Duration (s)",
        "frames": "Frames",
        "peak_score": "Peak score",
        "mean_score": "Mean score",
        "latitude": "Latitude",
        "longitude": "Longitude",
        "status": "Status",
        "review": "Review",
    }
    return sightings[list(columns)].rename(columns=columns).reset_index(drop=True)


def sessions_table(sessions: pd.DataFrame) -> pd.DataFrame:
    """Sessions with readable column names, including where their times came from and
    whether those are UTC ("Time zone known" false: a camera's local clock)."""
    columns = {
        "session_id": "Session",
        "source": "Source",
        "started_at": "Started (UTC)",
        "status": "Status",
        "frames_analysed": "Frames analysed",
        "frames_positioned": "Frames positioned",
        "time_source": "Time source",
        "time_zone": "Time zone",
        "time_zone_known": "Time zone known",
    }
    table = sessions.reindex(columns=list(columns)).rename(columns=columns)
    table["Source"] = [_source_name(s) for s in table["Source"]]
    table["Time zone known"] = zone_known(sessions).astype(bool).to_numpy()
    return table.reset_index(drop=True)


def _source_name(source: Any) -> str:
    """The last part of a source's path (a video's file name), as the sidebar shows it."""
    if _missing(source):
        return ""
    return Path(str(source)).name or str(source)


def _session_row(sessions: pd.DataFrame, session_id: Any) -> Any | None:
    rows = sessions[sessions["session_id"] == session_id] if "session_id" in sessions else None
    return None if rows is None or rows.empty else rows.iloc[0]


def _session_name(sessions: pd.DataFrame, session_id: Any) -> str:
    """'ID (video file name)', or the id alone when the session row is missing."""
    row = _session_row(sessions, session_id)
    name = _source_name(row["source"]) if row is not None else ""
    return f"{session_id} ({name})" if name else str(session_id)


def position_warnings(
    sightings: pd.DataFrame, sessions: pd.DataFrame, tracks: pd.DataFrame | None
) -> list[str]:
    """One message per session of ``sightings`` none of whose sightings has a position.

    Such a session puts nothing on the map, which alone reads as "nothing was seen"; the
    usual cause is a video clock that does not meet the track's (wrong zone or offset), or
    no track at all. ``frames_positioned`` of ``frames_analysed`` is quoted where the
    session recorded it.
    """
    if sightings.empty:
        return []
    placed = sightings["latitude"].notna() & sightings["longitude"].notna()
    with_track = set() if tracks is None or tracks.empty else set(tracks["session_id"])
    messages = []
    for session_id, any_placed in placed.groupby(sightings["session_id"], sort=True).any().items():
        if any_placed:
            continue
        row = _session_row(sessions, session_id)
        counts = ""
        if row is not None and not _missing(row.get("frames_positioned")):
            analysed = row.get("frames_analysed")
            if not _missing(analysed) and int(analysed) > 0:
                counts = f" ({int(row['frames_positioned'])} of {int(analysed)} frames positioned)"
        if session_id in with_track:
            why = (
                "the video and its track did not overlap (see the session's log; fix with "
                "--time-offset, --start-time or --tz)"
            )
        else:
            why = "the session has no GPS track (give one with --track, or --lat and --lon)"
        name = _session_name(sessions, session_id)
        messages.append(f"No sighting of session {name} has a position{counts}: {why}.")
    return messages


def zone_notes(sightings: pd.DataFrame, sessions: pd.DataFrame) -> list[str]:
    """One note per session of ``sightings`` whose times are a camera's local clock of
    unknown zone: the dashboard's "(UTC)" labels do not hold for them."""
    if sightings.empty:
        return []
    local = sightings.loc[~zone_known(sightings).astype(bool), "session_id"]
    notes = []
    for session_id in sorted(set(local)):
        row = _session_row(sessions, session_id)
        source = "unrecorded" if row is None else str(row.get("time_source") or "unrecorded")
        notes.append(
            f"Times of session {_session_name(sessions, session_id)} are the camera's local "
            f"clock ({source}), time zone unknown: not UTC, though labelled so here."
        )
    return notes


# Map ----------------------------------------------------------------------------------
def species_color(species: str) -> list[int]:
    """A stable RGB colour for a species (same in every process and run)."""
    digest = hashlib.sha1(species.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:4], "big") / 2**32
    saturation = 0.65 + 0.3 * digest[4] / 255
    value = 0.75 + 0.2 * digest[5] / 255
    return [round(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value)]


@functools.lru_cache(maxsize=16)
def load_geojson(path: str, decimals: int = 3) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the file's geometries only, coordinates rounded.

    Read once per process. Natural Earth 1:110m is accurate to kilometres, so three
    decimals (about 100 m) lose nothing and shrink what is sent to the browser.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise FieldtoolError(f"{path}: cannot read basemap GeoJSON ({exc})") from None
    features = []
    for feature in data.get("features", []):
        geometry = feature.get("geometry")
        if not geometry:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": geometry["type"],
                    "coordinates": _round(geometry["coordinates"], decimals),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _round(coords: Any, decimals: int) -> Any:
    if coords and isinstance(coords[0], (int, float)):
        return [round(float(c), decimals) for c in coords]
    return [_round(c, decimals) for c in coords]


def basemap_layers(basemap_dir: Path | str = BASEMAP_DIR) -> list[pdk.Layer]:
    """Ocean background, land, lakes, rivers, state and country borders (missing files skipped)."""
    layers = [
        pdk.Layer(
            "PolygonLayer",
            id="ocean",
            data=[{"polygon": [[-180, -85], [180, -85], [180, 85], [-180, 85]]}],
            get_polygon="polygon",
            get_fill_color=list(_OCEAN),
            stroked=False,
            pickable=False,
        )
    ]
    for layer_id, name, filled, fill, line, width in _BASEMAP:
        path = Path(basemap_dir) / name
        if not path.is_file():
            continue
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                id=layer_id,
                data=load_geojson(str(path)),
                filled=filled,
                stroked=line is not None,
                get_fill_color=list(fill) if fill else [0, 0, 0, 0],
                get_line_color=list(line) if line else [0, 0, 0, 0],
                line_width_units=_PIXELS,
                get_line_width=width,
                line_width_min_pixels=width,
                pickable=False,
            )
        )
    return layers


def track_records(tracks: pd.DataFrame) -> list[dict[str, Any]]:
    """PathLayer rows: session_id, path, colour."""
    return [
        {
            "session_id": str(row.session_id),
            "path": list(row.path),
            "color": [60, 60, 70],
        }
        for row in tracks.itertuples(index=False)
        if len(row.path) >= 1
    ]


def density_resolution(zoom: float) -> int | None:
    """H3 resolution whose cells stay a few pixels wide at ``zoom``; None when zoomed in so
    far (a single site) that a density layer would only cover the map."""
    if zoom > 7:
        return None
    return 3 if zoom <= 4 else 4 if zoom <= 6 else 5


def density_records(points: list[dict[str, Any]], resolution: int) -> list[dict[str, Any]]:
    """H3HexagonLayer rows: sightings per H3 cell (``hex``, ``count``, ``color``)."""
    import h3

    counts: dict[str, int] = {}
    for p in points:
        cell = h3.latlng_to_cell(p["lat"], p["lon"], resolution)
        counts[cell] = counts.get(cell, 0) + 1
    top = max(counts.values(), default=1)
    return [
        {"hex": cell, "count": n, "color": [200, 60, 40, int(60 + 140 * n / top)]}
        for cell, n in counts.items()
    ]


def sighting_records(sightings: pd.DataFrame) -> list[dict[str, Any]]:
    """ScatterplotLayer rows (plain JSON types) for sightings that have a position."""
    records = []
    for row in sightings.itertuples(index=False):
        if pd.isna(row.latitude) or pd.isna(row.longitude):
            continue
        is_open = row.status == "open"
        records.append(
            {
                "sighting_id": str(row.sighting_id),
                "species": str(row.species),
                "common_name": "" if pd.isna(row.common_name) else str(row.common_name),
                "first_seen": _fmt_time(row.first_seen),
                "last_seen": _fmt_time(row.last_seen),
                "peak": f"{float(row.peak_score):.2f}",
                "frames": int(row.frames) if not pd.isna(row.frames) else 0,
                "status": str(row.status),
                "lon": float(row.longitude),
                "lat": float(row.latitude),
                "color": species_color(str(row.species)),
                "line_color": [20, 20, 20] if is_open else [255, 255, 255],
                "radius": 5.0 + 5.0 * max(0.0, min(1.0, float(row.peak_score))),
            }
        )
    return records


def _fmt_time(value: Any) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


TOOLTIP = {
    "text": "{common_name} ({species})\n"
    "first seen {first_seen} UTC\n"
    "last seen {last_seen} UTC\n"
    "peak score {peak}, {frames} frames, {status}",
}


def fit_view(
    points: Iterable[Sequence[float]], *, width_px: int = 900, height_px: int = 520
) -> pdk.ViewState:
    """A view that shows all ``(lon, lat)`` points, or the USA when there are none."""
    pts = [(float(lon), float(lat)) for lon, lat in points]
    if not pts:
        lat, lon, zoom = US_VIEW
        return pdk.ViewState(latitude=lat, longitude=lon, zoom=zoom, pitch=0, bearing=0)
    lons = [p[0] for p in pts]
    lats = [max(-85.0, min(85.0, p[1])) for p in pts]
    lon_span = max(max(lons) - min(lons), 0.01) * 1.2
    y_lo, y_hi = _merc_y(min(lats)), _merc_y(max(lats))
    y_span = max(y_hi - y_lo, math.radians(0.01)) * 1.2
    # At zoom z the world is 512 * 2**z pixels wide (2*pi in Mercator y units).
    zoom_lon = math.log2(width_px * 360.0 / (512.0 * lon_span))
    zoom_lat = math.log2(height_px * 2 * math.pi / (512.0 * y_span))
    zoom = max(1.0, min(13.0, zoom_lon, zoom_lat))
    center_lat = math.degrees(math.atan(math.sinh((y_lo + y_hi) / 2)))
    return pdk.ViewState(
        latitude=round(center_lat, 6),
        longitude=round((min(lons) + max(lons)) / 2, 6),
        zoom=round(zoom, 2),
        pitch=0,
        bearing=0,
    )


def _merc_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


class CompactDeck(pdk.Deck):
    """A Deck whose JSON has no indentation (pydeck's indents double the size sent)."""

    def to_json(self) -> str:
        return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))


# Range of a species -------------------------------------------------------------------
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
    return json.loads(rows.iloc[0, 0] or "{}").get("prior")


@functools.lru_cache(maxsize=4)
def _load_polygons(
    files: tuple[str, ...], species_field: str, presence_field: str | None, crs: str | None
):
    from fieldtool.ranges import load_ranges

    return load_ranges(
        list(files), species_field=species_field, presence_field=presence_field, crs=crs
    )


def range_geojson(
    settings: dict[str, Any] | None, species: str, tolerance_deg: float = 0.02
) -> dict | None:
    """GeoJSON of a species' range from the polygon files a session used, or None."""
    from fieldtool.occurrences import is_occurrence_file

    if not settings:
        return None
    files = tuple(
        str(f)
        for f in settings.get("ranges", [])
        if not is_occurrence_file(f) and Path(f).is_file()
    )
    if not files:
        return None
    try:
        prior = _load_polygons(files, settings.get("species_field", "species"),
                               settings.get("presence_field", "presence"), settings.get("crs"))  # fmt: skip
    except FieldtoolError:
        return None
    geometry = prior.geometry(species)
    if geometry is None or geometry.is_empty:
        return None
    shape = shapely.geometry.mapping(geometry.simplify(tolerance_deg, preserve_topology=True))
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {"species": species}, "geometry": shape}]}  # fmt: skip


def build_deck(
    sightings: pd.DataFrame,
    tracks: pd.DataFrame | None = None,
    *,
    basemap_dir: Path | str = BASEMAP_DIR,
    species_range: tuple[str, dict] | None = None,
) -> pdk.Deck:
    """The map: offline basemap, a species' range (``(species, geojson)``), GPS tracks and
    sightings coloured by species."""
    points = sighting_records(sightings)
    paths = track_records(tracks) if tracks is not None else []
    layers = basemap_layers(basemap_dir)
    if species_range is not None:
        name, shape = species_range
        layers.append(
            pdk.Layer(
                "GeoJsonLayer", id="species-range", data=shape, filled=True, stroked=True,
                get_fill_color=[*species_color(name), 60], get_line_color=[*species_color(name), 200],
                line_width_units=_PIXELS, get_line_width=1, pickable=False,
            )
        )  # fmt: skip
    layers.append(
        pdk.Layer(
            "PathLayer",
            id="tracks",
            data=paths,
            get_path="path",
            get_color="color",
            width_units=_PIXELS,
            get_width=2,
            width_min_pixels=2,
            joint_rounded=True,
            cap_rounded=True,
            pickable=False,
        )
    )
    layers.append(
        pdk.Layer(
            "ScatterplotLayer",
            id="sightings",
            data=points,
            get_position=["lon", "lat"],
            get_fill_color="color",
            get_line_color="line_color",
            get_radius="radius",
            radius_units=_PIXELS,
            stroked=True,
            line_width_units=_PIXELS,
            get_line_width=1.5,
            pickable=True,
            auto_highlight=True,
        )
    )
    if species_range is not None:  # show the whole range around the sightings
        xmin, ymin, xmax, ymax = shapely.geometry.shape(
            species_range[1]["features"][0]["geometry"]
        ).bounds
        corners = [(xmin, ymin), (xmax, ymax)]
        view = fit_view([*corners, *((p["lon"], p["lat"]) for p in points)])
    elif points:
        view = fit_view((p["lon"], p["lat"]) for p in points)
    else:
        view = fit_view(pt for path in paths for pt in path["path"])
    resolution = density_resolution(view.zoom)
    if resolution is not None and points:  # where sightings concentrate, seen from afar
        layers.insert(
            len(layers) - 2,
            pdk.Layer(
                "H3HexagonLayer", id="density", data=density_records(points, resolution),
                get_hexagon="hex", get_fill_color="color", extruded=False, stroked=False,
                pickable=False, opacity=0.6,
            ),
        )  # fmt: skip
    # No provider and pydeck's default style marker: Streamlit then draws no basemap of its
    # own. (``map_style=None`` would make it fetch a Carto style from the internet.)
    return CompactDeck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        tooltip=TOOLTIP,
    )


# Review queue -------------------------------------------------------------------------
def load_review_queue(
    db_path: Path | str, filters: SightingFilter | None = None, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """Closed sightings without a review that match ``filters`` (review state aside), newest first."""
    filters = filters or SightingFilter()
    unreviewed = dataclasses.replace(filters, review="unreviewed")
    sightings = load_sightings(db_path, unreviewed, timeout_s=timeout_s)
    return sightings[sightings["status"] == "closed"].reset_index(drop=True)


def load_alternatives(
    db_path: Path | str,
    session_id: str,
    first_t: float,
    last_t: float,
    *,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Raw (classifier) versus fused (after the range prior) scores over a sighting's frames.

    One row per species that was in a frame's stored top-k, raw or fused, in the media-time
    span [first_t, last_t] of ``session_id``: ``raw_mean``/``fused_mean`` (mean over the
    span's frames, a frame without the species counts as 0), ``raw_max``/``fused_max``,
    ``raw_rank``/``fused_rank`` (1 = best mean) and ``frames`` (frames in the span).
    Best fused first; empty when the session stored no detections.
    """
    sql = """
        WITH span AS (
            SELECT raw_species, raw_scores, fused_species, fused_scores FROM detections
            WHERE session_id = $session_id AND t BETWEEN $first_t AND $last_t),
        n AS (SELECT count(*) AS frames FROM span),
        raw AS (SELECT unnest(raw_species) AS species, unnest(raw_scores) AS score FROM span),
        fused AS (SELECT unnest(fused_species) AS species, unnest(fused_scores) AS score FROM span),
        r AS (SELECT species, sum(score) AS total, max(score) AS best FROM raw GROUP BY species),
        f AS (SELECT species, sum(score) AS total, max(score) AS best FROM fused GROUP BY species)
        SELECT species,
               coalesce(r.total, 0) / n.frames AS raw_mean, coalesce(r.best, 0) AS raw_max,
               coalesce(f.total, 0) / n.frames AS fused_mean, coalesce(f.best, 0) AS fused_max,
               n.frames AS frames
        FROM r FULL OUTER JOIN f USING (species) CROSS JOIN n
        WHERE n.frames > 0
    """
    params = {"session_id": session_id, "first_t": float(first_t), "last_t": float(last_t)}
    frame = query(db_path, sql, params, timeout_s=timeout_s)
    if frame.empty:
        return frame
    frame["raw_rank"] = frame["raw_mean"].rank(ascending=False, method="min").astype(int)
    frame["fused_rank"] = frame["fused_mean"].rank(ascending=False, method="min").astype(int)
    return frame.sort_values(["fused_mean", "species"], ascending=[False, True]).reset_index(
        drop=True
    )


def prior_changes(alternatives: pd.DataFrame, predicted: str, top: int = 3) -> list[str]:
    """Sentences on what the range prior changed: species it demoted from the raw top ``top``.

    A species the classifier ranked above the prediction (or in its top ``top``) that lost
    rank after the range prior is a candidate rarity the prior may have wrongly demoted.
    """
    if alternatives.empty:
        return []
    lines = []
    for row in alternatives.sort_values("raw_rank").itertuples(index=False):
        if row.species == predicted or row.raw_rank > top or row.fused_rank <= row.raw_rank:
            continue
        lines.append(
            f"{row.species}: classifier {row.raw_mean:.2f} (#{row.raw_rank}) → after the range "
            f"prior {row.fused_mean:.2f} (#{row.fused_rank}); the prior demoted it."
        )
    return lines


# Species ------------------------------------------------------------------------------
def apply_reviews(sightings: pd.DataFrame) -> pd.DataFrame:
    """Sightings as reviewed: rejected ones dropped, relabelled ones under the new species."""
    if "review" not in sightings:
        return sightings
    kept = sightings[sightings["review"].fillna("") != "reject"].copy()
    relabel = kept["review"].fillna("") == "relabel"
    changed = relabel & (kept["review_species"].fillna(kept["species"]) != kept["species"])
    kept.loc[relabel, "species"] = kept.loc[relabel, "review_species"]
    kept.loc[changed, "common_name"] = None  # the predicted species' name no longer applies
    return kept.reset_index(drop=True)


def species_summary(sightings: pd.DataFrame) -> pd.DataFrame:
    """Per species: common_name, sightings, first_seen, last_seen, best_score; most seen first."""
    columns = ["species", "common_name", "sightings", "first_seen", "last_seen", "best_score"]
    if sightings.empty:
        return pd.DataFrame(columns=columns)
    grouped = sightings.groupby("species", sort=False)
    summary = pd.DataFrame(
        {
            "common_name": grouped["common_name"].agg(lambda s: next(iter(s.dropna()), None)),
            "sightings": grouped.size(),
            "first_seen": grouped["first_seen"].min(),
            "last_seen": grouped["last_seen"].max(),
            "best_score": grouped["peak_score"].max(),
        }
    ).reset_index()
    return summary.sort_values(["sightings", "species"], ascending=[False, True])[
        columns
    ].reset_index(drop=True)


def accumulation_curve(sightings: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Species accumulation over survey time: ``survey_min`` and ``species`` (distinct so far).

    Survey time is recording time: the sessions laid end to end in start order (gaps
    between sessions do not count), so surveys on different days share one axis. A
    session without an end (still running) lasts until its last sighting. Each new species
    adds a step; the curve starts at (0, 0) and ends at the total survey time.
    """
    columns = ["survey_min", "species"]
    if sightings.empty:
        return pd.DataFrame([(0.0, 0)], columns=columns)
    spans: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
    for session_id, group in sightings.groupby("session_id"):
        spans[str(session_id)] = (group["first_seen"].min(), group["last_seen"].max())
    for row in sessions.itertuples(index=False):
        sid = str(row.session_id)
        if sid not in spans or pd.isna(row.started_at):
            continue
        seen_lo, seen_hi = spans[sid]
        end = row.ended_at if not pd.isna(row.ended_at) else seen_hi
        spans[sid] = (min(pd.Timestamp(row.started_at), seen_lo), max(pd.Timestamp(end), seen_hi))
    offsets: dict[str, float] = {}
    total = 0.0
    for sid, (lo, hi) in sorted(spans.items(), key=lambda item: (item[1][0], item[0])):
        offsets[sid] = total
        total += (hi - lo).total_seconds() / 60.0
    at = [
        offsets[str(row.session_id)]
        + (pd.Timestamp(row.first_seen) - spans[str(row.session_id)][0]).total_seconds() / 60.0
        for row in sightings.itertuples(index=False)
    ]
    ordered = sightings.assign(survey_min=at).sort_values(["survey_min", "species"])
    points = [(0.0, 0)]
    seen: set[str] = set()
    for row in ordered.itertuples(index=False):
        if row.species in seen:
            continue
        points.append((float(row.survey_min), len(seen)))  # step: flat until here
        seen.add(str(row.species))
        points.append((float(row.survey_min), len(seen)))
    points.append((max(total, points[-1][0]), len(seen)))
    return pd.DataFrame(points, columns=columns)


# Export -------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "sighting_id", "session_id", "species", "common_name", "first_seen", "last_seen",
    "time_zone_known", "time_source", "duration_s", "frames", "peak_score", "mean_score",
    "latitude", "longitude", "status", "review", "review_species", "reviewer",
)  # fmt: skip


def export_frame(sightings: pd.DataFrame) -> pd.DataFrame:
    """The exported columns, one row per sighting, times ISO 8601.

    Times are written by :func:`fieldtool.export.time_text`, as ``fieldtool export`` writes
    them: UTC with a ``Z``, except a session's local clock of unknown zone (no zone;
    ``time_zone_known`` false).
    """
    columns = [c for c in EXPORT_COLUMNS if c in sightings.columns]
    frame = time_text(sightings, missing=None)[columns]
    return frame.reset_index(drop=True)


def export_csv(sightings: pd.DataFrame) -> bytes:
    """CSV (UTF-8, header row) of :func:`export_frame`."""
    return export_frame(sightings).to_csv(index=False).encode("utf-8")


def export_geojson(sightings: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection, one Point per sighting (null geometry without a fix)."""
    features = []
    for record in export_frame(sightings).to_dict("records"):
        lat, lon = record.pop("latitude", None), record.pop("longitude", None)
        geometry = None
        if not _missing(lat) and not _missing(lon):
            geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}
        properties = {key: _plain(value) for key, value in record.items()}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return {"type": "FeatureCollection", "features": features}


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, tuple, str)) and bool(pd.isna(value)))


def _plain(value: Any) -> Any:
    """A JSON-safe Python value (numpy scalars to Python, NaN to None)."""
    if _missing(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


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
        SELECT session_id, source, model_id, host, started_at, status, frames_read,
               frames_analysed, frames_dropped, coalesce(frames_logged, 0) AS frames_logged,
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


# Read-only SQL ------------------------------------------------------------------------
SQL_ALLOWED_FIRST = ("select", "with", "describe", "show", "summarize")
SQL_MAX_ROWS = 10_000
SQL_TIME_LIMIT_S = 20.0
# Statements and functions that reach files, URLs, other databases or extensions, or write.
_SQL_REFUSED = re.compile(
    r"\b(read_\w+|\w+_scan|\w+_attach|glob|sniff_csv|parquet_\w+|iceberg_\w+|delta_\w+|st_read\w*"
    r"|httpfs|http_\w+|attach|detach|copy|install|load|export|import|pragma|call|set|reset|use"
    r"|checkpoint|create|insert|update|delete|drop|alter|truncate|vacuum|begin|commit|rollback"
    r"|secret|getenv)\b",
    re.IGNORECASE,
)
_FILE_LITERAL = re.compile(
    r"(://|^[/~\\]|^\.\.?[/\\]|^[a-z]:[/\\]"
    r"|\.(csv|tsv|parquet|json|jsonl|ndjson|txt|xlsx?|duckdb|db|sqlite3?|arrow|feather|avro"
    r"|gz|zst|bz2|xz|zip)$)",
    re.IGNORECASE,
)


def check_readonly_sql(sql: str) -> str:
    """The statement if it is one SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE without file access.

    Raises :class:`FieldtoolError` with the reason otherwise: several statements, another
    kind of statement, a table function or statement that reaches files, URLs, other
    databases or extensions (``read_csv``, ``ATTACH``, ``COPY``, ``INSTALL`` ...), or a
    string literal that looks like a path or URL (``'/data/x.csv'``, ``FROM 'x.parquet'``).
    """
    text = sql.strip()
    if not text:
        raise FieldtoolError("Enter a query.")
    masked, literals = _mask_sql(text)
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise FieldtoolError(f"SQL error: {str(exc).strip().splitlines()[0]}") from None
    if len(statements) != 1:
        raise FieldtoolError(
            f"Refused: one statement at a time, this has {len(statements)} statements."
        )
    head = re.match(r"\s*([A-Za-z_]+)", masked)
    first = head.group(1).lower() if head else ""
    if first not in SQL_ALLOWED_FIRST or statements[0].type != duckdb.StatementType.SELECT:
        kind = first.upper() or "this"
        raise FieldtoolError(
            f"Refused: {kind} statements are not allowed; only read-only queries starting with "
            f"{', '.join(w.upper() for w in SQL_ALLOWED_FIRST)} run here."
        )
    refused = _SQL_REFUSED.search(masked)
    if refused:
        raise FieldtoolError(
            f"Refused: {refused.group(0)!r} reaches files, URLs, extensions or other databases, "
            "or writes; this page only reads the sightings database."
        )
    if re.search(r"\b(from|join)\s*\(?\s*'", masked, re.IGNORECASE):
        raise FieldtoolError("Refused: reading a file or URL named in a string is not allowed.")
    for literal in literals:
        if _FILE_LITERAL.search(literal.strip()):
            raise FieldtoolError(
                f"Refused: the string {literal!r} looks like a file path or URL; file and "
                "network access are not allowed."
            )
    return text


def _mask_sql(sql: str) -> tuple[str, list[str]]:
    """SQL with comments removed and literals/quoted names blanked, and the string literals.

    Strings become ``''`` and quoted identifiers ``""``, so keyword checks see neither.
    """
    out: list[str] = []
    literals: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise FieldtoolError("SQL error: unterminated comment.")
            i = end + 2
            out.append(" ")
        elif ch in "'\"":
            j, value = i + 1, []
            while True:
                if j >= n:
                    raise FieldtoolError("SQL error: unterminated quoted text.")
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote: an escaped quote
                        value.append(ch)
                        j += 2
                        continue
                    break
                value.append(sql[j])
                j += 1
            if ch == "'":
                literals.append("".join(value))
            out.append(ch * 2)
            i = j + 1
        elif ch == "$" and (m := re.match(r"\$(\w*)\$", sql[i:])) and not sql[i - 1 : i].isalnum():
            tag = m.group(0)
            end = sql.find(tag, i + len(tag))
            if end < 0:
                raise FieldtoolError("SQL error: unterminated dollar-quoted text.")
            literals.append(sql[i + len(tag) : end])
            out.append("''")
            i = end + len(tag)
        else:
            out.append(ch)
            i += 1
    return "".join(out), literals


def run_readonly_sql(
    db_path: Path | str,
    sql: str,
    *,
    max_rows: int = SQL_MAX_ROWS,
    time_limit_s: float = SQL_TIME_LIMIT_S,
    timeout_s: float = 10.0,
) -> tuple[pd.DataFrame, bool]:
    """Run a checked query (:func:`check_readonly_sql`); returns (rows, truncated).

    Besides the check: the file is opened read-only, external access (files, URLs,
    extensions, ATTACH) is switched off and locked for the connection, the query is
    stopped after ``time_limit_s`` and at most ``max_rows`` rows are returned.
    """
    statement = check_readonly_sql(sql)
    with connect(db_path, read_only=True, timeout_s=timeout_s) as con:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        timer = threading.Timer(time_limit_s, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            result = con.execute(statement)
            chunks: list[pd.DataFrame] = []
            rows = 0
            while rows <= max_rows:
                chunk = result.fetch_df_chunk()
                if chunk.empty:
                    break
                chunks.append(chunk)
                rows += len(chunk)
        except duckdb.InterruptException:
            raise FieldtoolError(f"Query stopped after {time_limit_s:g} s.") from None
        except duckdb.Error as exc:
            raise FieldtoolError(f"Query failed: {str(exc).strip().splitlines()[0]}") from None
        finally:
            timer.cancel()
    if not chunks:
        columns = [d[0] for d in result.description or []]
        return pd.DataFrame(columns=columns), False
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    return frame.iloc[:max_rows].reset_index(drop=True), len(frame) > max_rows


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


def recent_cutoff(now: datetime, minutes: float) -> datetime:
    """``now`` (naive UTC) minus ``minutes``."""
    return naive_utc(now) - timedelta(minutes=minutes)
