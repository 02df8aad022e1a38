"""Dashboard data access and map building, usable without Streamlit.

Every loader opens the DuckDB file read-only for one query through
:func:`fieldtool.store.query` (which retries while a writer holds the file) and closes it
again, so a running session can keep writing. User input only ever reaches SQL as query
parameters. The map is a :class:`pydeck.Deck` with no map provider: the basemap is
Natural Earth 1:110m GeoJSON from ``data/basemap``, so nothing is fetched from the network.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from fieldtool.store import query
from fieldtool.types import FieldtoolError

BASEMAP_DIR = Path(__file__).resolve().parent.parent / "data" / "basemap"
DEFAULT_DB = "sightings.duckdb"
DB_ENV_VAR = "FIELDTOOL_DB"

# (latitude, longitude, zoom) of the contiguous USA, shown when there is nothing to fit.
US_VIEW = (39.5, -98.35, 3.0)
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
    "sighting_id, session_id, species, common_name, first_seen, last_seen, "
    "last_t - first_t AS duration_s, frames, peak_score, mean_score, latitude, longitude, "
    "snapshot_path, status, updated_at"
)


@dataclass(frozen=True)
class SightingFilter:
    """Which sightings to load; ``None`` means no restriction.

    ``species``: only these (an empty tuple matches nothing). ``start``/``end``: UTC, keep
    sightings whose span [first_seen, last_seen] overlaps [start, end].
    """

    species: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    min_score: float = 0.0
    session_id: str | None = None


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
    """All sessions, newest first."""
    return query(
        db_path,
        "SELECT session_id, source, model_id, host, started_at, ended_at, status, "
        "frames_read, frames_analysed, frames_dropped FROM sessions "
        "ORDER BY started_at DESC, session_id",
        timeout_s=timeout_s,
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
    db_path: Path | str, filters: SightingFilter | None = None, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """Sightings matching ``filters``, newest first, with ``duration_s`` (media seconds)."""
    filters = filters or SightingFilter()
    clauses = ["peak_score >= $min_score"]
    params: dict[str, Any] = {"min_score": float(filters.min_score)}
    if filters.session_id is not None:
        clauses.append("session_id = $session_id")
        params["session_id"] = filters.session_id
    if filters.species is not None:
        clauses.append("list_contains(CAST($species AS VARCHAR[]), species)")
        params["species"] = [str(s) for s in filters.species]
    if filters.start is not None:
        clauses.append("last_seen >= CAST($start AS TIMESTAMP)")
        params["start"] = _naive_utc(filters.start)
    if filters.end is not None:
        clauses.append("first_seen <= CAST($end AS TIMESTAMP)")
        params["end"] = _naive_utc(filters.end)
    sql = (
        f"SELECT {SIGHTING_FIELDS} FROM sightings WHERE {' AND '.join(clauses)} "
        "ORDER BY first_seen DESC, sighting_id"
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


def _naive_utc(when: datetime) -> datetime:
    """Stored times are naive UTC; convert aware datetimes, keep naive ones."""
    if when.tzinfo is not None:
        return pd.Timestamp(when).tz_convert("UTC").tz_localize(None).to_pydatetime()
    return when


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
    }
    return sightings[list(columns)].rename(columns=columns).reset_index(drop=True)


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


def build_deck(
    sightings: pd.DataFrame,
    tracks: pd.DataFrame | None = None,
    *,
    basemap_dir: Path | str = BASEMAP_DIR,
) -> pdk.Deck:
    """The map: offline basemap, GPS tracks and sightings coloured by species."""
    points = sighting_records(sightings)
    paths = track_records(tracks) if tracks is not None else []
    layers = basemap_layers(basemap_dir)
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
    if points:
        view = fit_view((p["lon"], p["lat"]) for p in points)
    else:
        view = fit_view(pt for path in paths for pt in path["path"])
    return CompactDeck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        map_style=None,
        tooltip=TOOLTIP,
    )
