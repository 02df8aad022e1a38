"""Where the map's data changed between two reads, so a refresh rebuilds only those tiles.

A live session adds sightings and track fixes at one place; the rest of a season's map
stays as it was. :func:`read_state` notes, at each read, what the file holds (sightings:
count and newest ``updated_at``; track: each session's fix count and last media time);
:func:`changed_areas` gives the box of what is new or rewritten since a noted state, per
kind of tile, or None when it cannot tell (rows deleted, a review filter) and every tile
is rebuilt. :class:`fieldtool.dashboard.maptiles.MapTiles` then carries over the cached
tiles of the previous read that do not touch those boxes; the browser asks for the new
URLs and gets most answers from that cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fieldtool.store import query

Box = tuple[float, float, float, float]  # west, south, east, north (degrees)


@dataclass(frozen=True)
class DataState:
    """What the file held at one read (only what tiles draw)."""

    sightings: int
    newest: str | None  # max(sightings.updated_at) as text
    fixes: tuple[tuple[str, int, float], ...]  # (session_id, fixes, last media time t)


def read_state(db_path: Path, timeout_s: float = 10.0) -> DataState:
    """The :class:`DataState` of ``db_path`` now."""
    row = query(db_path, "SELECT count(*) AS n, max(updated_at)::VARCHAR AS newest "
                "FROM sightings", timeout_s=timeout_s).iloc[0]  # fmt: skip
    fixes = query(
        db_path,
        "SELECT session_id, count(*) AS n, coalesce(max(t), 0) AS t FROM track "
        "GROUP BY session_id ORDER BY session_id",
        timeout_s=timeout_s,
    )
    return DataState(
        int(row["n"]),
        None if pd.isna(row["newest"]) else str(row["newest"]),
        tuple((str(r.session_id), int(r.n), float(r.t)) for r in fixes.itertuples(index=False)),
    )


def _box(frame: pd.DataFrame) -> Box | None:
    row = frame.iloc[0]
    if pd.isna(row["w"]):
        return None  # nothing placed changed
    return float(row["w"]), float(row["s"]), float(row["e"]), float(row["n"])


def changed_areas(
    db_path: Path, before: DataState, now: DataState, timeout_s: float = 10.0
) -> dict[str, Box | None] | None:
    """Per tile kind (``s`` sightings, ``t`` tracks), the box of what changed between
    ``before`` and ``now`` (None: nothing placed changed there), or None when unknown."""
    if now.sightings < before.sightings:
        return None  # rows deleted (prune): where is not known
    out: dict[str, Box | None] = {"s": None, "t": None}
    if now.sightings != before.sightings or now.newest != before.newest:
        if before.newest is None:
            return None
        # >=: a row written in the same instant as the newest one seen may be new too.
        out["s"] = _box(query(
            db_path,
            "SELECT min(longitude) AS w, min(latitude) AS s, max(longitude) AS e, "
            "max(latitude) AS n FROM sightings WHERE updated_at >= $newest::TIMESTAMP "
            "AND latitude IS NOT NULL AND longitude IS NOT NULL",
            {"newest": before.newest}, timeout_s=timeout_s,
        ))  # fmt: skip
    seen = {sid: (n, t) for sid, n, t in before.fixes}
    if any(n < seen.get(sid, (0, 0.0))[0] for sid, n, _t in now.fixes) or len(
        {sid for sid, _n, _t in now.fixes}
    ) < len(seen):
        return None  # fixes deleted
    grown = [(sid, seen.get(sid, (0, float("-inf")))[1]) for sid, n, _t in now.fixes
             if n != seen.get(sid, (0, 0.0))[0]]  # fmt: skip
    if grown:
        # From each grown session's last fix seen before (t >=), so the segment joining
        # the old walk to the new fixes counts as changed too.
        out["t"] = _box(query(
            db_path,
            "SELECT min(longitude) AS w, min(latitude) AS s, max(longitude) AS e, "
            "max(latitude) AS n FROM track JOIN (SELECT unnest($ids) AS session_id, "
            "unnest($since) AS since) USING (session_id) "
            "WHERE coalesce(t, 0) >= since AND latitude IS NOT NULL AND longitude IS NOT NULL",
            {"ids": [sid for sid, _ in grown],
             "since": [t if t != float("-inf") else -1e300 for _, t in grown]},
            timeout_s=timeout_s,
        ))  # fmt: skip
    return out


def grow(box: Box, dlat: float) -> Box:
    """``box`` grown by ``dlat`` degrees of latitude on each side and the same distance in
    longitude (more degrees away from the equator)."""
    w, s, e, n = box
    dlon = dlat / max(math.cos(math.radians(max(abs(s), abs(n)))), 0.01)
    return w - dlon, s - dlat, e + dlon, n + dlat


def touches(tile: Box, margin_deg: float, changed: Box | None) -> bool:
    """Whether ``tile`` grown by ``margin_deg`` (:func:`grow`) overlaps ``changed``."""
    if changed is None:
        return False
    w, s, e, n = grow(tile, margin_deg)
    cw, cs, ce, cn = changed
    return not (ce < w or cw > e or cn < s or cs > n)
