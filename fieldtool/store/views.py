"""Named views for ``fieldtool sql``, created (or replaced) whenever a writer opens the file,
and the SQL of the review in force (:data:`LATEST_REVIEW_SQL`) that every reader shares.

Each view has a comment, so ``SELECT view_name, comment FROM duckdb_views() WHERE NOT
internal`` lists them. Views that count species read ``sightings_reviewed``: the newest
review of each sighting is applied (rejected sightings left out, relabelled ones counted
under the reviewer's species). Open sightings of a running session are included.

This module is light (no DuckDB at run time): the CLI imports it with ``fieldtool export``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fieldtool.geo import EARTH_RADIUS_M
from fieldtool.store.track import photo_track_rows_sql
from fieldtool.timebase import utc_naive
from fieldtool.types import ReviewDecision

if TYPE_CHECKING:
    import duckdb


def haversine_sql(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    """SQL expression: great-circle metres between two points given in degrees."""
    return (
        f"2 * {EARTH_RADIUS_M} * asin(sqrt(pow(sin(radians({lat2} - {lat1}) / 2), 2) + "
        f"cos(radians({lat1})) * cos(radians({lat2})) * pow(sin(radians({lon2} - {lon1}) / 2), 2)))"
    )


def sighting_filter_sql(
    *,
    session_id: str | None = None,
    species: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    table: str = "",
) -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses and named parameters for the filters the dashboard and the export
    share: one session, species in a list, sightings overlapping [start, end] (UTC).
    ``table``: the alias to qualify columns with, e.g. "j"."""
    col = f"{table}." if table else ""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if session_id is not None:
        clauses.append(f"{col}session_id = $session_id")
        params["session_id"] = session_id
    if species is not None:
        clauses.append(f"list_contains(CAST($species AS VARCHAR[]), {col}species)")
        params["species"] = [str(s) for s in species]
    if start is not None:
        clauses.append(f"{col}last_seen >= CAST($start AS TIMESTAMP)")
        params["start"] = utc_naive(start)
    if end is not None:
        clauses.append(f"{col}first_seen <= CAST($end AS TIMESTAMP)")
        params["end"] = utc_naive(end)
    return clauses, params


def track_legs_sql(photos: bool = True) -> str:
    """SQL relation: each leg walked along a session's GPS track: ``session_id``, ``t``,
    ``time`` (the row the leg ends at) and ``leg_m`` (metres from the row before it on the
    same path; NULL at a path's first row). A video session's path is its ``track`` rows in
    time order. A photo session's paths are its cameras' (``media.camera``), each through
    its own photos' rows in time order (:func:`fieldtool.store.track.photo_track_rows_sql`):
    the cameras' rows interleave in time, and the way between two cameras is walked by
    nobody (fixed traps walk 0 m however they alternate). Rows without a place are left
    out. The one rule for the ``effort`` view and the dashboard. ``photos`` False: a file
    from before the ``media`` table (schema 7), which has no photo sessions, read as it is
    (the dashboard never upgrades a file)."""
    points = "latitude IS NOT NULL AND longitude IS NOT NULL"
    video = f"""
        SELECT session_id, CAST(NULL AS VARCHAR) AS camera, time, t, latitude, longitude
        FROM track tr WHERE {points}"""
    if photos:
        video += f""" AND NOT EXISTS (SELECT 1 FROM media m WHERE m.session_id = tr.session_id)
        UNION ALL
        SELECT DISTINCT session_id, camera, time, t, latitude, longitude
        FROM ({photo_track_rows_sql()}) WHERE {points}"""
    return f"""
    WITH points AS ({video}
    ),
    paths AS (
        SELECT session_id, time, t, latitude, longitude,
               lag(latitude) OVER w AS lat0, lag(longitude) OVER w AS lon0
        FROM points
        WINDOW w AS (PARTITION BY session_id, camera ORDER BY time, t, latitude, longitude)
    )
    SELECT session_id, t, time, {haversine_sql("lat0", "lon0", "latitude", "longitude")} AS leg_m
    FROM paths
    """


# The decision of an undo that takes back a sighting's only review: no review in force.
NO_DECISION = "unreviewed"

# The decisions a review row may carry (an undo carries the one it restores, or NO_DECISION).
KNOWN_DECISIONS: tuple[str, ...] = (*(d.value for d in ReviewDecision), NO_DECISION)


def decision_sql(column: str = "decision") -> str:
    """SQL expression: a stored decision as fieldtool reads it, ``lower(trim(column))``
    (a SQL user's ``'Reject'`` is a reject). The one rule: :func:`normal_decision` too."""
    return f"lower(trim({column}))"


def normal_decision(decision: object) -> str:
    """A stored decision as fieldtool reads it (:func:`decision_sql` in Python): trimmed of
    spaces, lower case; one outside :data:`KNOWN_DECISIONS` is not in force."""
    return str(decision).strip(" ").lower()


# A character that is not white space, as Python's str.isspace() tells it (RE2's \s is
# ASCII tab, newline, form feed, return and space only; \pZ: Unicode's spaces and separators).
_NOT_SPACE = r"[^\s\x{0B}\x{1C}-\x{1F}\x{85}\pZ]"


def note_sql(column: str = "note") -> str:
    """SQL expression: a stored review note as fieldtool reads it, NULL where it is empty or
    only white space (no note, as an earlier fieldtool stored it: ''); the note as stored
    otherwise. The one rule: :func:`normal_note` too."""
    return f"CASE WHEN regexp_matches({column}, '{_NOT_SPACE}') THEN {column} END"


def normal_note(note: str | None) -> str | None:
    """A review's note as stored (:func:`note_sql` in Python): None for none, an empty one
    or one of only white space; else the note as given."""
    return note if note is not None and note.strip() else None


_KNOWN = ", ".join(f"'{d}'" for d in KNOWN_DECISIONS)

# The review in force: the newest review of each sighting (one row per reviewed sighting:
# sighting_id, decision, species, reviewer, reviewed_at, note), its decision normalised
# (decision_sql), its note NULL where there is none (note_sql: an earlier row's ''); rows
# with a decision fieldtool does not know are not in force (the newest known one before
# them is). fieldtool writes no ties: of reviews of a sighting at
# one time the later-written is moved 1 µs on (reviews._apart), so the later-written is in
# force; a SQL user's ties go to the greater review_id, as undo orders them. Reviews never change the sighting row; join this to apply them. The one
# definition: views, export, learn and dashboard. An undo is a newer row (``supersedes``
# names the review it takes back) that carries the decision it restores, or NO_DECISION:
# such a sighting has no review in force.
LATEST_REVIEW_SQL = f"""
SELECT sighting_id, decision, species, reviewer, reviewed_at, note FROM (
    SELECT sighting_id, {decision_sql()} AS decision, species, reviewer, reviewed_at,
           {note_sql()} AS note
    FROM reviews WHERE {decision_sql()} IN ({_KNOWN})
    QUALIFY row_number() OVER (PARTITION BY sighting_id
                               ORDER BY reviewed_at DESC, review_id DESC) = 1
) WHERE decision <> '{NO_DECISION}'
"""

# Reviews whose decision fieldtool does not know (sighting_id, decision as stored): not in
# force; a reader says so (``fieldtool review list``).
UNKNOWN_DECISIONS_SQL = f"""
SELECT sighting_id, decision FROM reviews
WHERE decision IS NULL OR {decision_sql()} NOT IN ({_KNOWN})
ORDER BY reviewed_at, review_id
"""

# (name, comment, SELECT), in dependency order.
VIEWS: tuple[tuple[str, str, str], ...] = (
    (
        "sightings_reviewed",
        "Sightings with the newest review applied: rejected ones left out, species is the "
        "reviewer's for relabelled ones (predicted_species keeps the model's); review, "
        "reviewer, reviewed_at, review_note.",
        f"""
        SELECT s.sighting_id, s.session_id,
               CASE WHEN r.decision = 'relabel' THEN r.species ELSE s.species END AS species,
               CASE WHEN r.decision = 'relabel' THEN coalesce(sp.common_name, '')
                    ELSE s.common_name END AS common_name,
               s.species AS predicted_species, s.first_seen, s.last_seen, s.first_t, s.last_t,
               s.frames, s.peak_score, s.mean_score, s.latitude, s.longitude, s.h3_cell,
               s.model_id, s.snapshot_path, s.status, s.updated_at,
               r.decision AS review, r.reviewer, r.reviewed_at, r.note AS review_note
        FROM sightings s
        LEFT JOIN ({LATEST_REVIEW_SQL}) r USING (sighting_id)
        LEFT JOIN species sp ON sp.species = r.species
        WHERE r.decision IS DISTINCT FROM 'reject'
        """,
    ),
    (
        "species_per_day",
        "Per UTC day (of first_seen) and species: sightings, sessions, peak score, first and "
        "last seen (reviews applied).",
        """
        SELECT CAST(first_seen AS DATE) AS day, species, any_value(common_name) AS common_name,
               count(*) AS sightings, count(DISTINCT session_id) AS sessions,
               max(peak_score) AS peak_score, min(first_seen) AS first_seen,
               max(last_seen) AS last_seen
        FROM sightings_reviewed GROUP BY ALL ORDER BY day, species
        """,
    ),
    (
        "species_per_session",
        "Per session and species: source, sightings, seconds seen (media time), peak score, "
        "first and last seen (reviews applied).",
        """
        SELECT r.session_id, any_value(se.source) AS source, r.species,
               any_value(r.common_name) AS common_name, count(*) AS sightings,
               sum(r.last_t - r.first_t) AS seen_s, max(r.peak_score) AS peak_score,
               min(r.first_seen) AS first_seen, max(r.last_seen) AS last_seen
        FROM sightings_reviewed r LEFT JOIN sessions se USING (session_id)
        GROUP BY r.session_id, r.species ORDER BY r.session_id, r.species
        """,
    ),
    (
        "species_per_cell",
        "Per H3 cell (resolution 8, about 0.7 km²) and species: sightings, sessions, peak "
        "score, first and last seen (reviews applied; sightings without a position left out).",
        """
        SELECT h3_cell, species, any_value(common_name) AS common_name, count(*) AS sightings,
               count(DISTINCT session_id) AS sessions, max(peak_score) AS peak_score,
               min(first_seen) AS first_seen, max(last_seen) AS last_seen
        FROM sightings_reviewed WHERE h3_cell IS NOT NULL
        GROUP BY ALL ORDER BY h3_cell, species
        """,
    ),
    (
        "first_last_seen",
        "Per species: first and last seen over all sessions, sightings, sessions, days with "
        "a sighting (reviews applied).",
        """
        SELECT species, any_value(common_name) AS common_name, min(first_seen) AS first_seen,
               max(last_seen) AS last_seen, count(*) AS sightings,
               count(DISTINCT session_id) AS sessions,
               count(DISTINCT CAST(first_seen AS DATE)) AS days
        FROM sightings_reviewed GROUP BY species ORDER BY species
        """,
    ),
    (
        "effort",
        "Survey effort per session: surveyed_s (media seconds covered by analysed frames and "
        "track, less gap_s: the time the source was away, from source_gaps), distance_m along "
        "the GPS track (haversine between consecutive points of one path: a video's track, "
        "each camera's own photos in a photo session), track_points, frames_analysed, "
        "processing_s (wall time of the run), end_reason, sightings and species (reviews "
        "applied).",
        f"""
        WITH walked AS (
            SELECT f.session_id, f.track_points, f.t0, f.t1,
                   coalesce(l.distance_m, 0) AS distance_m
            FROM (SELECT session_id, count(*) AS track_points, min(t) AS t0, max(t) AS t1
                  FROM track WHERE latitude IS NOT NULL AND longitude IS NOT NULL
                  GROUP BY session_id) f
            LEFT JOIN (SELECT session_id, sum(leg_m) AS distance_m
                       FROM ({track_legs_sql()}) GROUP BY session_id) l USING (session_id)
        ),
        analysed AS (
            SELECT session_id, min(t) AS t0, max(t) AS t1, min(time) AS first_frame,
                   max(time) AS last_frame
            FROM detections GROUP BY session_id
        ),
        seen AS (
            SELECT session_id, count(*) AS sightings, count(DISTINCT species) AS species
            FROM sightings_reviewed GROUP BY session_id
        ),
        span AS (
            SELECT s.session_id, least(a.t0, w.t0) AS t0, greatest(a.t1, w.t1) AS t1
            FROM sessions s
            LEFT JOIN walked w USING (session_id)
            LEFT JOIN analysed a USING (session_id)
        ),
        away AS (  -- gap time inside the surveyed span (gaps clipped to it)
            SELECT p.session_id,
                   sum(greatest(least(g.end_t, p.t1) - greatest(g.start_t, p.t0), 0)) AS gap_s
            FROM span p JOIN source_gaps g USING (session_id)
            WHERE g.end_t > g.start_t
            GROUP BY p.session_id
        )
        SELECT s.session_id, s.source, s.status, s.end_reason, s.started_at, s.ended_at,
               a.first_frame, a.last_frame,
               greatest(coalesce(p.t1 - p.t0, 0) - coalesce(g.gap_s, 0), 0) AS surveyed_s,
               coalesce(g.gap_s, 0) AS gap_s,
               coalesce(w.distance_m, 0) AS distance_m, coalesce(w.track_points, 0) AS track_points,
               s.frames_analysed,
               epoch(coalesce(s.ended_at, s.updated_at) - s.started_at) AS processing_s,
               coalesce(n.sightings, 0) AS sightings, coalesce(n.species, 0) AS species
        FROM sessions s
        LEFT JOIN span p USING (session_id)
        LEFT JOIN walked w USING (session_id)
        LEFT JOIN analysed a USING (session_id)
        LEFT JOIN seen n USING (session_id)
        LEFT JOIN away g USING (session_id)
        ORDER BY s.started_at, s.session_id
        """,
    ),
)
VIEW_NAMES = tuple(name for name, _, _ in VIEWS)


def create_views(con: duckdb.DuckDBPyConnection, names: Collection[str] | None = None) -> None:
    """Create or replace every view (``names``: only these), with its comment."""
    for name, comment, select in VIEWS:
        if names is not None and name not in names:
            continue
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {select}")
        con.execute(f"COMMENT ON VIEW {name} IS '{comment.replace(chr(39), chr(39) * 2)}'")
