"""fieldtool dashboard: sightings on an offline map, refreshed while a session writes.

Run with ``streamlit run streamlit_app.py`` (database from $FIELDTOOL_DB, else
``sightings.duckdb``) or ``streamlit run streamlit_app.py -- --db PATH``.
"""

from __future__ import annotations

import html
import math
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import streamlit as st

from fieldtool import dashboard as dash
from fieldtool.types import FieldtoolError

QUERY_TIMEOUT_S = 3.0  # a refresh waits at most this long for a writer to let go
_STEPS = [
    timedelta(seconds=s)
    for s in (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 6 * 3600, 86400, 7 * 86400)
]


def _time_slider_range(
    bounds: tuple[datetime, datetime],
) -> tuple[datetime, datetime, timedelta]:
    """Whole-minute slider bounds around the sightings and a step of about 1/200 of the span."""
    lo = bounds[0].replace(second=0, microsecond=0)
    hi = bounds[1].replace(second=0, microsecond=0) + timedelta(minutes=1)
    wanted = (hi - lo) / 200
    step = next((s for s in _STEPS if s >= wanted), _STEPS[-1])
    return lo, hi, step


def sidebar_filters(db_path: Path, sessions: pd.DataFrame) -> dash.SightingFilter:
    """Session, species, time range and minimum score from the sidebar."""
    labels = {
        row.session_id: f"{pd.Timestamp(row.started_at):%Y-%m-%d %H:%M} · "
        f"{Path(str(row.source)).name or row.source} · {row.status}"
        for row in sessions.itertuples(index=False)
    }
    session_id = st.sidebar.selectbox(
        "Session",
        [None, *labels],
        format_func=lambda s: "All sessions" if s is None else labels.get(s, s),
    )
    species = dash.load_species(db_path, session_id, timeout_s=QUERY_TIMEOUT_S)
    names = dict(zip(species["species"], species["common_name"], strict=True))
    chosen = st.sidebar.multiselect(
        "Species",
        list(names),
        format_func=lambda s: f"{names[s]} ({s})" if names.get(s) else s,
        placeholder="All species",
    )
    start = end = None
    bounds = dash.load_time_bounds(db_path, session_id, timeout_s=QUERY_TIMEOUT_S)
    if bounds is not None:
        lo, hi, step = _time_slider_range(bounds)
        picked = st.sidebar.slider(
            "Time range (UTC)",
            min_value=lo,
            max_value=hi,
            value=(lo, hi),
            step=step,
            format="YYYY-MM-DD HH:mm:ss",
        )
        # A handle left at its end stays open, so sightings logged later still show.
        start = picked[0] if picked[0] > lo else None
        end = picked[1] if picked[1] < hi else None
    min_score = st.sidebar.slider("Minimum peak score", 0.0, 1.0, 0.0, 0.05)
    return dash.SightingFilter(
        species=tuple(chosen) or None,
        start=start,
        end=end,
        min_score=min_score,
        session_id=session_id,
    )


def show_data(db_path: Path, filters: dash.SightingFilter, refresh_s: float | None) -> None:
    """Metrics, map, table and snapshot; reruns on its own every ``refresh_s`` seconds."""
    try:
        sessions = dash.load_sessions(db_path, timeout_s=QUERY_TIMEOUT_S)
        sightings = dash.load_sightings(db_path, filters, timeout_s=QUERY_TIMEOUT_S)
        tracks = dash.load_tracks(db_path, filters.session_id, timeout_s=QUERY_TIMEOUT_S)
    except FieldtoolError as exc:
        st.warning(f"Could not read the database: {exc}. Retrying at the next refresh.")
        return
    if filters.session_id is not None:
        sessions = sessions[sessions["session_id"] == filters.session_id]
    summary = dash.summarize(sightings, sessions)

    cols = st.columns(4)
    cols[0].metric("Sightings", summary["sightings"], help=f"{summary['open']} open")
    cols[1].metric("Species", summary["species"])
    cols[2].metric("Sessions", summary["sessions"])
    cols[3].metric("Running sessions", summary["running"])

    st.pydeck_chart(dash.build_deck(sightings, tracks), height=520)
    _legend(sightings)
    now = datetime.now(timezone.utc)
    every = f", refreshing every {refresh_s:g} s" if refresh_s else ""
    st.caption(f"Read at {now:%H:%M:%S} UTC{every}. Open sightings have a dark outline.")

    st.subheader("Sightings")
    st.dataframe(
        dash.sightings_table(sightings),
        hide_index=True,
        column_config={
            "First seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Last seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Duration (s)": st.column_config.NumberColumn(format="%.1f"),
            "Peak score": st.column_config.NumberColumn(format="%.2f"),
            "Mean score": st.column_config.NumberColumn(format="%.2f"),
            "Latitude": st.column_config.NumberColumn(format="%.5f"),
            "Longitude": st.column_config.NumberColumn(format="%.5f"),
        },
    )
    _snapshot(db_path, sightings)


def _legend(sightings: pd.DataFrame) -> None:
    if sightings.empty:
        return
    names = sightings.drop_duplicates("species").sort_values("species")
    items = []
    for row in names.itertuples(index=False):
        r, g, b = dash.species_color(str(row.species))
        label = html.escape(str(row.common_name or row.species))
        items.append(
            f'<span style="white-space:nowrap;margin-right:1em">'
            f'<span style="color:rgb({r},{g},{b})">&#9679;</span> {label}</span>'
        )
    st.markdown(" ".join(items), unsafe_allow_html=True)


def _snapshot(db_path: Path, sightings: pd.DataFrame) -> None:
    with_snapshot = sightings[sightings["snapshot_path"].notna()]
    if with_snapshot.empty:
        return
    rows = {row.sighting_id: row for row in with_snapshot.itertuples(index=False)}
    chosen = st.selectbox(
        "Snapshot of sighting",
        list(rows),
        format_func=lambda s: (
            f"{rows[s].common_name or rows[s].species} · "
            f"{pd.Timestamp(rows[s].first_seen):%Y-%m-%d %H:%M:%S} · {rows[s].status}"
        ),
        key="snapshot_sighting",
    )
    if chosen is None:
        return
    row = rows[chosen]
    try:
        path = dash.resolve_snapshot(db_path, str(row.snapshot_path))
    except FieldtoolError as exc:
        st.error(str(exc))
        return
    if not path.is_file():
        st.info(f"Snapshot file {row.snapshot_path} is missing.")
        return
    score = "" if row.peak_score is None or math.isnan(row.peak_score) else f"{row.peak_score:.2f}"
    st.image(str(path), caption=f"{row.species} · peak score {score}", width=640)


def main() -> None:
    st.set_page_config(page_title="fieldtool sightings", layout="wide")
    st.title("fieldtool sightings")
    default = dash.db_path_from_args(sys.argv[1:], os.environ)
    db_text = st.sidebar.text_input("Database file", value=str(default))
    db_path = Path(db_text.strip()).expanduser()
    problem = dash.database_problem(db_path)
    if problem:
        st.error(problem)
        return
    try:
        sessions = dash.load_sessions(db_path, timeout_s=QUERY_TIMEOUT_S)
        filters = sidebar_filters(db_path, sessions)
    except FieldtoolError as exc:
        st.error(str(exc))
        return
    auto = st.sidebar.toggle("Auto-refresh", value=True)
    interval = st.sidebar.number_input("Refresh every (s)", 1, 300, 5, 1, disabled=not auto)
    refresh_s = float(interval) if auto else None
    st.fragment(run_every=refresh_s)(show_data)(db_path, filters, refresh_s)


main()
