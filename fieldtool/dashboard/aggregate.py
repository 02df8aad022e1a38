"""Exact numbers over every row: counts, species lists, map cells and curves, in SQL.

The pages never count loaded rows: each figure here is one read-only query over all the
sightings that match the filters (:func:`fieldtool.dashboard.data.filter_clauses`), so a
file of a million sightings gives the same numbers as ``fieldtool sql``. Tables show one
page of rows at a time (:func:`fieldtool.dashboard.data.load_sightings` with ``offset``).

Map cells: ``sightings.h3_cell`` is the H3 cell of resolution 8; a coarser cell is
computed in SQL from the cell's 64-bit index (resolution in bits 52-55, one 3-bit digit per
finer resolution, unused digits all ones), so no H3 extension is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from fieldtool.dashboard.data import (
    SightingFilter,
    filter_clauses,
    filtered_sightings_sql,
    relation_columns,
    with_elevations,
)
from fieldtool.names import label_key as species_group_key  # the dashboard's name for it
from fieldtool.store import query
from fieldtool.store.schema import H3_RESOLUTION
from fieldtool.store.views import decision_sql, sighting_filter_sql, track_legs_sql

QUEUE_ORDERS = {"newest": "Newest first", "teach": "Teaches the model most"}


def filtered_sql(
    db_path: Path | str,
    filters: SightingFilter | None,
    *,
    reviewed: bool = False,
    timeout_s: float = 10.0,
) -> tuple[str, dict[str, Any]]:
    """(SELECT of the sightings matching ``filters``, its parameters): the rows every
    figure here counts (:func:`fieldtool.dashboard.data.load_sightings` without order)."""
    clauses, params = filter_clauses(filters)
    tables = relation_columns(db_path, timeout_s)
    return filtered_sightings_sql(db_path, tables, clauses, reviewed), params


def load_totals(
    db_path: Path | str,
    filters: SightingFilter | None = None,
    *,
    reviewed: bool = False,
    timeout_s: float = 10.0,
) -> dict[str, int]:
    """Exact figures of the sightings matching ``filters``: sightings, species, sessions
    (with a sighting), open (sightings), placed (with a position), running (sessions
    running now: the chosen one, or any)."""
    sql, params = filtered_sql(db_path, filters, reviewed=reviewed, timeout_s=timeout_s)
    one = "AND session_id = $session_id" if "session_id" in params else ""
    row = query(
        db_path,
        f"""SELECT count(*) AS sightings, count(DISTINCT species) AS species,
                   count(DISTINCT session_id) AS sessions,
                   count(*) FILTER (WHERE status = 'open') AS open,
                   count(*) FILTER (WHERE latitude IS NOT NULL AND longitude IS NOT NULL)
                       AS placed,
                   (SELECT count(*) FROM sessions WHERE status = 'running' {one}) AS running
            FROM ({sql})""",
        params,
        timeout_s=timeout_s,
    ).iloc[0]
    return {key: int(row[key]) for key in row.index}


def load_session_marks(
    db_path: Path | str, filters: SightingFilter | None = None, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """One row per session with matching sightings, in the columns the position and zone
    notes read (:mod:`fieldtool.dashboard.summaries`): session_id, latitude and longitude
    (of some placed sighting; NULL when none has a position), time_zone_known, time_source.
    """
    sql, params = filtered_sql(db_path, filters, reviewed=False, timeout_s=timeout_s)
    return query(
        db_path,
        f"""SELECT session_id, max(latitude) AS latitude, max(longitude) AS longitude,
                   bool_and(time_zone_known) AS time_zone_known,
                   any_value(time_source) AS time_source
            FROM ({sql}) GROUP BY session_id ORDER BY session_id""",
        params,
        timeout_s=timeout_s,
    )


def load_running(db_path: Path | str, *, timeout_s: float = 10.0) -> int:
    """Sessions running now."""
    frame = query(db_path, "SELECT count(*) AS n FROM sessions WHERE status = 'running'",
                  timeout_s=timeout_s)  # fmt: skip
    return int(frame.iloc[0]["n"])


def load_all_species(db_path: Path | str, *, timeout_s: float = 10.0) -> pd.DataFrame:
    """Every species name of the file (species table, sightings, reviews' relabels) with
    a common name where one is known: species, common_name; by name."""
    tables = relation_columns(db_path, timeout_s)
    relabels = (
        f"UNION ALL SELECT species, NULL FROM reviews WHERE {decision_sql()} = 'relabel'"
        if "reviews" in tables
        else ""
    )
    # The species table holds every species the writer stored; older files lack it.
    names = (
        "SELECT species, common_name FROM species"
        if "species" in tables
        else "SELECT DISTINCT species, common_name FROM sightings"
    )
    return query(
        db_path,
        f"""SELECT species, max(common_name) FILTER (WHERE common_name <> '') AS common_name
            FROM ({names} {relabels})
            WHERE species IS NOT NULL GROUP BY species ORDER BY species""",
        timeout_s=timeout_s,
    )


# Which values of change_mark() follow which tables (a reader names what it depends on).
MARK_PARTS = {"sightings": (0, 1), "reviews": (2, 3), "track": (4,), "sessions": (5, 6)}


def change_mark(db_path: Path | str, *, timeout_s: float = 10.0) -> tuple[Any, ...]:
    """What changes when anything the pages show changes (rows written, reviews stored):
    a refresh that finds the same mark reuses what it read last time. The values by
    table: :data:`MARK_PARTS`."""
    row = query(
        db_path,
        """SELECT (SELECT count(*) FROM sightings), (SELECT max(updated_at) FROM sightings),
                  (SELECT count(*) FROM reviews), (SELECT max(reviewed_at) FROM reviews),
                  (SELECT count(*) FROM track), (SELECT max(updated_at) FROM sessions),
                  (SELECT count(*) FROM sessions WHERE status = 'running')""",
        timeout_s=timeout_s,
    ).iloc[0]
    return tuple(None if pd.isna(v) else str(v) for v in row)


def load_species_summary(
    db_path: Path | str,
    filters: SightingFilter | None = None,
    *,
    reviewed: bool = True,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Per species (most seen first): species, common_name, sightings, sessions, first_seen,
    last_seen, best_score, over every matching row.

    Names that are one species by :func:`fieldtool.names.canonical` (case, authorship, a
    synonym, or a common name written before the scientific one in brackets) are one row,
    under the name with the most sightings.
    """
    sql, params = filtered_sql(db_path, filters, reviewed=reviewed, timeout_s=timeout_s)
    frame = query(
        db_path,
        f"""SELECT species, any_value(common_name) FILTER (WHERE common_name <> '')
                       AS common_name, count(*) AS sightings,
                   count(DISTINCT session_id) AS sessions, min(first_seen) AS first_seen,
                   max(last_seen) AS last_seen, max(peak_score) AS best_score
            FROM ({sql}) WHERE species IS NOT NULL GROUP BY species""",
        params,
        timeout_s=timeout_s,
    )
    if frame.empty:
        return frame
    frame["key"] = [species_group_key(str(s)) for s in frame["species"]]
    frame = frame.sort_values(["sightings", "species"], ascending=[False, True])
    merged = frame.groupby("key", sort=False).agg(
        species=("species", "first"),
        common_name=("common_name", lambda s: next(iter(s.dropna()), None)),
        sightings=("sightings", "sum"),
        sessions=("sessions", "max"),  # a lower bound when names were merged
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        best_score=("best_score", "max"),
        names=("species", lambda s: len(s)),
    )
    return (
        merged.reset_index(drop=True)
        .sort_values(["sightings", "species"], ascending=[False, True])
        .reset_index(drop=True)
    )


# The most seen species of a group of rows (species, n): most sightings first, a tie to the
# first by name, so a dot or cell names and colours the same species however it is built
# (:func:`top_species` is the same rule in Python).
TOP_SPECIES_SQL = "first(species ORDER BY n DESC, species)"


def top_species(counts: dict[str, int]) -> str:
    """The most seen species of ``counts`` (species -> sightings), as :data:`TOP_SPECIES_SQL`."""
    return min(counts, key=lambda species: (-counts[species], species))


def h3_parent_sql(cell: str, resolution: int) -> str:
    """SQL of the hex text of the H3 cell of ``resolution`` (≤ 8) holding the resolution-8
    cell whose hex text is the expression ``cell``."""
    res = max(0, min(int(resolution), H3_RESOLUTION))
    unused = (1 << (3 * (15 - res))) - 1  # the digits finer than ``res``: all ones
    index = f"('0x' || {cell})::UBIGINT"
    clear = ~(0xF << 52) & 0xFFFFFFFFFFFFFFFF
    return (
        f"lower(printf('%x', (({index} & {clear}::UBIGINT) | "
        f"{res << 52}::UBIGINT | {unused}::UBIGINT)))"
    )


def load_cells(
    db_path: Path | str,
    filters: SightingFilter | None,
    resolution: int,
    *,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Sightings per H3 cell of ``resolution``: hex, sightings, species (distinct), top
    (the most seen species). Sightings without a cell are not counted."""
    sql, params = filtered_sql(db_path, filters, reviewed=False, timeout_s=timeout_s)
    parent = h3_parent_sql("h3_cell", resolution)
    return query(
        db_path,
        f"""WITH f AS (SELECT species, h3_cell FROM sightings
                       WHERE sighting_id IN (SELECT sighting_id FROM ({sql}))
                         AND h3_cell IS NOT NULL),
            c AS (SELECT h3_cell, species, count(*) AS n FROM f GROUP BY ALL),
            p AS (SELECT {parent} AS hex, species, sum(n) AS n FROM c GROUP BY ALL)
            SELECT hex, sum(n)::BIGINT AS sightings, count(DISTINCT species) AS species,
                   {TOP_SPECIES_SQL} AS top
            FROM p GROUP BY hex ORDER BY hex""",
        params,
        timeout_s=timeout_s,
    )


def load_bounds(
    db_path: Path | str, filters: SightingFilter | None, *, timeout_s: float = 10.0
) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the placed sightings matching ``filters`` and
    of their sessions' tracks; None when nothing has a position."""
    sql, params = filtered_sql(db_path, filters, reviewed=False, timeout_s=timeout_s)
    session = "" if filters is None or filters.session_id is None else (
        "AND session_id = $session_id")  # fmt: skip
    row = query(
        db_path,
        f"""WITH pts AS (
                SELECT longitude AS x, latitude AS y FROM ({sql})
                WHERE latitude IS NOT NULL AND longitude IS NOT NULL
                UNION ALL
                SELECT longitude, latitude FROM track
                WHERE latitude IS NOT NULL AND longitude IS NOT NULL {session})
            SELECT min(x) AS x0, min(y) AS y0, max(x) AS x1, max(y) AS y1 FROM pts""",
        params,
        timeout_s=timeout_s,
    ).iloc[0]
    if pd.isna(row["x0"]):
        return None
    return float(row["x0"]), float(row["y0"]), float(row["x1"]), float(row["y1"])


def load_points(
    db_path: Path | str,
    filters: SightingFilter | None,
    limit: int,
    *,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Up to ``limit`` placed sightings (newest first) for the map's point layer: sighting_id,
    species, common_name, first_seen, peak_score, status, latitude, longitude and the
    camera's elevation (:func:`~fieldtool.dashboard.data.with_elevations`)."""
    sql, params = filtered_sql(db_path, filters, reviewed=False, timeout_s=timeout_s)
    points = query(
        db_path,
        f"""SELECT sighting_id, species, common_name, first_seen, peak_score, frames, status,
                   latitude, longitude
            FROM ({sql}) WHERE latitude IS NOT NULL AND longitude IS NOT NULL
            ORDER BY first_seen DESC, sighting_id LIMIT {int(limit)}""",
        params,
        timeout_s=timeout_s,
    )
    return with_elevations(db_path, points, timeout_s=timeout_s)


def load_accumulation(
    db_path: Path | str,
    filters: SightingFilter | None = None,
    *,
    reviewed: bool = True,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Species accumulation over survey effort: one row per species, in the order found,
    with ``hours`` (media time surveyed until its first sighting) and ``km`` (distance walked
    until then), and ``species`` (distinct species found so far); the last row is the total
    effort (``species`` unchanged).

    Effort is the ``effort`` view's: each session's surveyed media time and GPS distance,
    the sessions laid end to end in survey order: by when each survey began (its first
    analysed frame or GPS fix, whichever is earlier; ``started_at``, the processing time,
    only for a session with neither). Within a session a sighting is placed at its media
    time (``first_t``) and at the distance walked by the last track point before it.
    Species are counted by :func:`species_group_key`.

    Filters: every filter decides which sightings count (as on the other figures). The
    effort axis holds the sessions the session and time filters select: the one session,
    and the sessions whose survey (first to last frame or fix) overlaps the time window,
    each whole: the ``effort`` view has one row per session, not effort per time, so a
    session across the window's edge adds all its effort but only its sightings inside the
    window. Species, score and review filters leave the effort as it is (the survey looked
    for every species).
    """
    sql, params = filtered_sql(db_path, filters, reviewed=reviewed, timeout_s=timeout_s)
    chosen = filters or SightingFilter()
    # The filters' own rule (overlap with [start, end], one session) over each survey's span.
    clauses, survey_params = sighting_filter_sql(
        session_id=chosen.session_id, start=chosen.start, end=chosen.end
    )
    params = {**params, **survey_params}  # the same names and values as the sightings'
    chosen_sessions = " AND ".join(clauses) or "TRUE"
    photos = "media" in relation_columns(db_path, timeout_s)  # none before schema 7
    frame = query(
        db_path,
        f"""WITH fixes AS (
                SELECT session_id, min(time) AS t0, max(time) AS t1 FROM track
                WHERE latitude IS NOT NULL AND longitude IS NOT NULL GROUP BY session_id),
            surveys AS (
                SELECT e.session_id, e.surveyed_s, e.distance_m,
                       coalesce(least(e.first_frame, x.t0), e.started_at) AS first_seen,
                       coalesce(greatest(e.last_frame, x.t1), e.ended_at, e.started_at)
                           AS last_seen
                FROM effort e LEFT JOIN fixes x USING (session_id)),
            eff AS (
                SELECT session_id, surveyed_s, distance_m,
                       coalesce(sum(surveyed_s) OVER w, 0) AS s0,
                       coalesce(sum(distance_m) OVER w, 0) AS m0
                FROM surveys WHERE {chosen_sessions}
                WINDOW w AS (ORDER BY first_seen, session_id
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)),
            firsts AS (
                SELECT session_id, species, min(first_t) AS t FROM ({sql}) GROUP BY ALL),
            walked AS (  -- the effort view's legs (a photo session: each camera's own)
                SELECT session_id, t,
                       sum(coalesce(leg_m, 0)) OVER (PARTITION BY session_id ORDER BY t
                           ROWS UNBOUNDED PRECEDING) AS m
                FROM ({track_legs_sql(photos)})
                WHERE session_id IN (SELECT session_id FROM firsts)),
            placed AS (
                SELECT f.species, e.s0 + least(greatest(f.t, 0), e.surveyed_s) AS at_s,
                       e.m0 + coalesce(w.m, 0) AS at_m
                FROM firsts f JOIN eff e USING (session_id)
                ASOF LEFT JOIN walked w ON w.session_id = f.session_id AND f.t >= w.t)
            SELECT species, min(at_s) AS at_s, min(at_m) AS at_m,
                   (SELECT sum(surveyed_s) FROM eff) AS total_s,
                   (SELECT sum(distance_m) FROM eff) AS total_m
            FROM placed GROUP BY species
            UNION ALL  -- the effort even where no sighting counts
            SELECT NULL, NULL, NULL, sum(surveyed_s), sum(distance_m) FROM eff""",
        params,
        timeout_s=timeout_s,
    )
    return accumulation_steps(frame, species_group_key)


def accumulation_steps(frame: pd.DataFrame, key: Callable[[str], str]) -> pd.DataFrame:
    """Rows of :func:`load_accumulation` from per-name first sightings (species, at_s,
    at_m, total_s, total_m; a row without species carries only the totals): names with one
    ``key`` count once, at their earliest."""
    columns = ["hours", "km", "species", "name"]
    total_s = float(frame["total_s"].max()) if frame["total_s"].notna().any() else 0.0
    total_m = float(frame["total_m"].max()) if frame["total_m"].notna().any() else 0.0
    found = frame[frame["species"].notna()]
    if found.empty and total_s == 0 and total_m == 0:
        return pd.DataFrame([(0.0, 0.0, 0, "")], columns=columns)
    found = found.assign(key=[key(str(s)) for s in found["species"]])
    first = found.sort_values("at_s").drop_duplicates("key")
    rows = [(0.0, 0.0, 0, "")]
    for i, row in enumerate(first.itertuples(index=False), start=1):
        rows.append((float(row.at_s) / 3600, float(row.at_m) / 1000, i, str(row.species)))
    rows.append(
        (max(total_s / 3600, rows[-1][0]), max(total_m / 1000, rows[-1][1]), len(first), "")
    )
    return pd.DataFrame(rows, columns=columns)


def load_review_page(
    db_path: Path | str,
    filters: SightingFilter | None,
    *,
    offset: int = 0,
    limit: int = 50,
    ranked: pd.DataFrame | None = None,
    timeout_s: float = 10.0,
) -> tuple[pd.DataFrame, int]:
    """(one page of the review queue, how many closed sightings wait for a review in all).

    The queue: closed sightings matching ``filters`` (review state aside) without a review
    in force, newest first; or, with ``ranked`` (sighting_id, score, reasons: the learning
    side's ``review_priority``, best first), in that order (sightings it does not rank
    last, newest first) with its ``score`` and ``reasons`` beside each row.
    """
    unreviewed = dataclasses.replace(filters or SightingFilter(), review="unreviewed")
    sql, params = filtered_sql(db_path, unreviewed, reviewed=False, timeout_s=timeout_s)
    queue = f"SELECT * FROM ({sql}) WHERE status = 'closed'"
    total = int(query(db_path, f"SELECT count(*) AS n FROM ({queue})", params,
                      timeout_s=timeout_s).iloc[0]["n"])  # fmt: skip
    newest = "ORDER BY first_seen DESC, sighting_id"
    if ranked is None:
        page = query(db_path, f"{queue} {newest} LIMIT {int(limit)} OFFSET {int(offset)}",
                     params, timeout_s=timeout_s)  # fmt: skip
        return page.reset_index(drop=True), total
    ids = query(db_path, f"SELECT sighting_id FROM ({queue}) {newest}", params,
                timeout_s=timeout_s)  # fmt: skip
    order = ranked.reset_index(drop=True).reset_index(names="rank")
    ids = ids.reset_index(names="age").merge(order, on="sighting_id", how="left")
    ids = ids.sort_values(["rank", "age"], na_position="last").iloc[offset : offset + limit]
    if ids.empty:
        return query(db_path, f"{queue} LIMIT 0", params, timeout_s=timeout_s), total
    page = query(
        db_path, f"{queue} AND list_contains(CAST($ids AS VARCHAR[]), sighting_id)",
        {**params, "ids": [str(i) for i in ids["sighting_id"]]}, timeout_s=timeout_s,
    )  # fmt: skip
    page = ids[["sighting_id", "score", "reasons"]].merge(page, on="sighting_id")
    return page.reset_index(drop=True), total


def load_timeline(
    db_path: Path | str,
    filters: SightingFilter | None = None,
    *,
    reviewed: bool = True,
    timeout_s: float = 10.0,
) -> tuple[pd.DataFrame, str]:
    """Sightings per species per time bin: (rows of species, bin (UTC start), sightings,
    best_score; the bin's unit: minute, hour or day, whichever keeps the bins under 400)."""
    sql, params = filtered_sql(db_path, filters, reviewed=reviewed, timeout_s=timeout_s)
    span = query(
        db_path, f"SELECT epoch(max(first_seen) - min(first_seen)) AS s FROM ({sql})", params,
        timeout_s=timeout_s,
    ).iloc[0]["s"]  # fmt: skip
    seconds = 0.0 if pd.isna(span) else float(span)
    unit = "minute" if seconds <= 400 * 60 else "hour" if seconds <= 400 * 3600 else "day"
    frame = query(
        db_path,
        f"""SELECT species, date_trunc('{unit}', first_seen) AS bin, count(*) AS sightings,
                   max(peak_score) AS best_score
            FROM ({sql}) WHERE species IS NOT NULL GROUP BY ALL ORDER BY bin, species""",
        params,
        timeout_s=timeout_s,
    )
    return frame, unit


def load_snapshots(
    db_path: Path | str,
    filters: SightingFilter | None,
    species: str,
    *,
    limit: int = 12,
    reviewed: bool = True,
    timeout_s: float = 10.0,
) -> tuple[pd.DataFrame, int]:
    """(the newest ``limit`` sightings of ``species`` with a snapshot, how many have one)."""
    sql, params = filtered_sql(db_path, filters, reviewed=reviewed, timeout_s=timeout_s)
    params = {**params, "chosen": species}
    where = "WHERE species = $chosen AND snapshot_path IS NOT NULL"
    total = int(query(db_path, f"SELECT count(*) AS n FROM ({sql}) {where}", params,
                      timeout_s=timeout_s).iloc[0]["n"])  # fmt: skip
    rows = query(
        db_path,
        f"SELECT sighting_id, first_seen, peak_score, snapshot_path FROM ({sql}) {where} "
        f"ORDER BY first_seen DESC, sighting_id LIMIT {int(limit)}",
        params,
        timeout_s=timeout_s,
    )
    return rows, total
