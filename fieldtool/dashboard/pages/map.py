"""Map page: sightings on the offline map, table, snapshot and exports of the current filter.

Says so when a session's sightings have no position (rather than an empty map) and when a
session's times are a camera's local clock of unknown zone rather than UTC.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import streamlit as st

from fieldtool.dashboard.data import (
    SightingFilter,
    load_sessions,
    load_sightings,
    load_tracks,
    session_prior_settings,
)
from fieldtool.dashboard.deck import build_deck, range_geojson, species_color
from fieldtool.dashboard.downloads import dwca_download, map_downloads
from fieldtool.dashboard.pages import common
from fieldtool.dashboard.summaries import (
    position_warnings,
    sessions_table,
    sightings_table,
    summarize,
    zone_notes,
)
from fieldtool.types import FieldtoolError

TABLE_COLUMNS = {
    "First seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Last seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Duration (s)": st.column_config.NumberColumn(format="%.1f"),
    "Peak score": st.column_config.NumberColumn(format="%.2f"),
    "Mean score": st.column_config.NumberColumn(format="%.2f"),
    "Latitude": st.column_config.NumberColumn(format="%.5f"),
    "Longitude": st.column_config.NumberColumn(format="%.5f"),
}
SESSION_COLUMNS = {
    "Started (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Time zone known": st.column_config.CheckboxColumn(
        help="Unticked: the session's times are the camera's local clock of unknown zone, not UTC"
    ),
}


def show_data(db_path: Path, filters: SightingFilter, refresh_s: float | None) -> None:
    """Metrics, map, table, exports and snapshot; reruns on its own every ``refresh_s`` s."""
    try:
        sessions = load_sessions(db_path, timeout_s=common.QUERY_TIMEOUT_S)
        sightings = load_sightings(db_path, filters, timeout_s=common.QUERY_TIMEOUT_S)
        tracks = load_tracks(db_path, filters.session_id, timeout_s=common.QUERY_TIMEOUT_S)
    except FieldtoolError as exc:
        st.warning(f"Could not read the database: {exc}. Retrying at the next refresh.")
        return
    if filters.session_id is not None:
        sessions = sessions[sessions["session_id"] == filters.session_id]
    summary = summarize(sightings, sessions)

    cols = st.columns(4)
    cols[0].metric("Sightings", summary["sightings"], help=f"{summary['open']} open")
    cols[1].metric("Species", summary["species"])
    cols[2].metric("Sessions", summary["sessions"])
    cols[3].metric("Running sessions", summary["running"])

    unplaced = position_warnings(sightings, sessions, tracks)
    for message in unplaced:
        st.warning(message)
    notes = zone_notes(sightings, sessions)
    for note in notes:
        st.info(note)

    species_range = None
    if filters.species is not None and len(filters.species) == 1:
        name = filters.species[0]
        shape = range_geojson(session_prior_settings(db_path, filters.session_id), name)
        if shape is not None:
            species_range = (name, shape)
            st.caption(f"Shaded: the range of {name} from the session's range files.")
    placed = sightings["latitude"].notna() & sightings["longitude"].notna()
    # An empty map reads as "nothing was seen"; the warnings above say why instead.
    if not unplaced or placed.any() or not tracks.empty or species_range is not None:
        deck = build_deck(sightings, tracks, species_range=species_range)
        st.pydeck_chart(deck, height=520)
    _legend(sightings)
    now = datetime.now(timezone.utc)
    every = f", refreshing every {refresh_s:g} s" if refresh_s else ""
    st.caption(f"Read at {now:%H:%M:%S} UTC{every}. Open sightings have a dark outline.")

    st.subheader("Sightings")
    st.dataframe(sightings_table(sightings), hide_index=True, column_config=TABLE_COLUMNS)
    _exports(db_path, sightings)
    with st.expander("Sessions", expanded=bool(unplaced or notes)):
        st.dataframe(
            sessions_table(sessions),
            hide_index=True,
            column_config=SESSION_COLUMNS,
            key="sessions_table",
        )
    _snapshot(db_path, sightings)


def _exports(db_path: Path, sightings: pd.DataFrame) -> None:
    """Download buttons: ``fieldtool export`` of the sightings shown.

    The files come from the export module (:func:`downloads.map_downloads`): the same rows
    (closed sightings, newest review applied, rejected ones left out), columns and bytes as
    ``fieldtool export`` of these sightings; times get no ``Z`` for a session's local clock
    of unknown zone. Fixed file names: a refresh with unchanged rows then serves the same
    file, so a click during a refresh still finds it. The Darwin Core Archive is built only
    when clicked.
    """
    ids = tuple(str(i) for i in sightings["sighting_id"]) if not sightings.empty else ()
    try:
        files = map_downloads(db_path, ids, timeout_s=common.QUERY_TIMEOUT_S)
    except FieldtoolError as exc:
        st.caption(f"Downloads unavailable: {exc}")
        return
    row = st.container(horizontal=True)
    row.download_button(
        "Download CSV",
        files.csv,
        file_name="sightings.csv",
        mime="text/csv",
        key="export_csv",
        on_click="ignore",
    )
    row.download_button(
        "Download GeoJSON",
        files.geojson,
        file_name="sightings.geojson",
        mime="application/geo+json",
        key="export_geojson",
        on_click="ignore",
    )
    row.download_button(
        "Download Darwin Core",
        lambda: dwca_download(db_path, ids),
        file_name="sightings-dwca.zip",
        mime="application/zip",
        key="export_dwca",
        on_click="ignore",
        help="Darwin Core Archive for GBIF: the closed sightings shown, reviews applied, "
        "rejected ones left out",
    )
    st.caption(
        f"Downloads hold {files.rows} of the {len(ids)} sightings shown, as `fieldtool "
        "export` writes them: the closed ones, reviews applied, rejected ones left out."
    )


def _legend(sightings: pd.DataFrame) -> None:
    if sightings.empty:
        return
    names = sightings.drop_duplicates("species").sort_values("species")
    items = []
    for row in names.itertuples(index=False):
        r, g, b = species_color(str(row.species))
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
    caption = f"{row.species} · peak score {common.score_text(row.peak_score)}"
    common.show_snapshot(db_path, row.snapshot_path, caption)


def main() -> None:
    ctx = common.context()
    st.title("fieldtool sightings")
    refresh_s = common.refresh_controls("map")
    filters = common.filters_or_all(ctx)
    st.fragment(run_every=refresh_s)(show_data)(ctx.db_path, filters, refresh_s)


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
