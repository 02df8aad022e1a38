"""Tables, metrics and notes the pages show, computed from loaded frames (no queries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fieldtool.export_rows import zone_known


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
        # where the rows carry it (dashboard.data.with_elevations): m, at the peak
        "elevation_m": "Elevation (m)",
        "elevation_reference": "Elevation reference",
        "status": "Status",
        "review": "Review",
    }
    shown = [c for c in columns if c in sightings.columns or not c.startswith("elevation_")]
    return sightings[shown].rename(columns=columns).reset_index(drop=True)


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


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, tuple, str)) and bool(pd.isna(value)))


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


# Species ------------------------------------------------------------------------------
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
