"""Map page: sightings on the offline map, table, snapshot and exports of the current filter.

Every figure is exact, computed in SQL over all matching sightings
(:mod:`fieldtool.dashboard.aggregate`); the map follows its zoom (:mod:`.mapview`); the
table shows one page at a time and says which. Says so when a session's sightings have no position (rather than an empty map) and when a
session's times are a camera's local clock of unknown zone rather than UTC.
"""

from __future__ import annotations

import functools
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pydeck as pdk
import streamlit as st

from fieldtool.config.dashboard import DashboardConfig, tokens
from fieldtool.dashboard.aggregate import (
    load_bounds,
    load_cells,
    load_points,
    load_session_marks,
    load_species_summary,
    load_totals,
)
from fieldtool.dashboard.data import (
    SightingFilter,
    load_sessions,
    load_sightings_page,
    load_track_sessions,
    load_tracks,
    session_prior_settings,
)
from fieldtool.dashboard.deck import basemap_bytes, basemap_files, range_geojson
from fieldtool.dashboard.downloads import dwca_download, map_download
from fieldtool.dashboard.maptiles import DOT_PX, MapTiles
from fieldtool.dashboard.mapview import (
    basemap_tiles,
    cell_resolution,
    data_tile_layers,
    legend_html,
    map_deck,
    track_tolerance,
    view_of,
    zoom_text,
)
from fieldtool.dashboard.palette import SpeciesColours
from fieldtool.dashboard.screens import common
from fieldtool.dashboard.summaries import (
    position_warnings,
    sessions_table,
    sightings_table,
    zone_notes,
)
from fieldtool.dashboard.tileroute import tile_services
from fieldtool.dashboard.tiles import (
    TileEndpoint,
    TileServer,
    TileService,
    browser_host,
    open_source,
)
from fieldtool.export_dwc import GBIF_LICENSES
from fieldtool.export_rows import needs_upgrade
from fieldtool.types import FieldtoolError

TABLE_COLUMNS = {
    "First seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Last seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Duration (s)": st.column_config.NumberColumn(format="%.1f"),
    "Peak score": st.column_config.NumberColumn(format="%.2f"),
    "Mean score": st.column_config.NumberColumn(format="%.2f"),
    "Latitude": st.column_config.NumberColumn(format="%.5f"),
    "Longitude": st.column_config.NumberColumn(format="%.5f"),
    "Elevation (m)": st.column_config.NumberColumn(format="%.1f"),
}
PAGE_ROWS = 200  # table rows a page
_CACHE_KEY = "_map_read"  # ((db, filters, change mark), MapData) of the last read
SESSION_COLUMNS = {
    "Started (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "Time zone known": st.column_config.CheckboxColumn(
        help="Unticked: the session's times are the camera's local clock of unknown zone, not UTC"
    ),
}


@dataclass(frozen=True)
class MapData:
    """What one read of the database gave the map page (reused while nothing changed)."""

    totals: dict[str, int]
    sessions: pd.DataFrame
    marks: pd.DataFrame
    deck: pdk.Deck
    points_drawn: int
    view_text: str
    tracks: pd.DataFrame  # session_id of the sessions with a track
    basemap: str = ""  # the caption crediting the basemap


def map_depends(filters: SightingFilter) -> tuple[str, ...]:
    """Tables the map's figures follow: reviews only when the review filter is set (the
    map shows sightings as recorded), so a review leaves the map's reads as they were."""
    return ("sightings", "track", "sessions") + (("reviews",) if filters.review else ())


def _read(
    db_path: Path, filters: SightingFilter, settings: DashboardConfig, host: str | None
) -> MapData:
    """Every figure of the page, in SQL over all matching sightings. ``host``: the name the
    browser reached the dashboard by (the data tiles are fetched from it)."""
    deps = map_depends(filters)

    def read(function: Any, *args: Any, **kwargs: Any) -> Any:
        return common.read(function, db_path, *args, depends=deps, **kwargs)

    totals = read(load_totals, filters)
    sessions = common.read(load_sessions, db_path, depends=("sessions",))
    if filters.session_id is not None:
        sessions = sessions[sessions["session_id"] == filters.session_id]
    marks = read(load_session_marks, filters)
    # One session, or few enough sightings to draw: the view may zoom in to a single site.
    few = totals["placed"] <= settings.map_points
    site = filters.session_id is not None or few
    view = view_of(read(load_bounds, filters), site=site)
    zoom = float(view.zoom)
    colours, labels = common.species_colours(db_path)
    extra = _range_layer(db_path, filters, colours)
    server, problem = _server(settings, host) if settings.map_tiles else (None, None)
    if server is not None:
        tiles = server.service.data
        assert isinstance(tiles, MapTiles)  # noqa: S101  (_server always gives it)
        key = tiles.register(db_path, filters, common.mark_of(db_path, deps), colour=colours,
                             label=labels, points=settings.map_tile_points,
                             style=common.species_style(db_path),
                             timeout_s=common.QUERY_TIMEOUT_S)  # fmt: skip
        # The opening view's tiles are built while the browser loads the page.
        tiles.warm(key, float(view.longitude), float(view.latitude), zoom)
        data = data_tile_layers(server.data_url(key, "s"), server.data_url(key, "t"))
        basemap_url = server.file_url
        cells, points, tracks = pd.DataFrame(), None, None
        track_sessions = common.read(load_track_sessions, db_path, depends=("track",))
        view_text = (
            f"{totals['placed']:,} placed sightings, drawn for the zoom you are at: each on "
            f"its own where there is room, sightings closer than {DOT_PX} px as one dot with "
            f"their count, and where a map tile holds more than "
            f"{settings.map_tile_points:,}, H3 cells with counts (dots when zoomed in to a "
            "site); hover for details."
        )
        if server.port is not None:  # Streamlit runs without the tile route: a second port
            view_text += (
                f" The sightings and tracks come from this dashboard's tile server on port "
                f"{server.port}: if the map stays empty, your browser cannot reach that port "
                "(start the dashboard with `fieldtool dashboard` to serve them on its own "
                "port, or set `dashboard.map_tiles = false` to draw them with the page)."
            )
    else:
        data, basemap_url = [], None
        cells = read(load_cells, filters, cell_resolution(zoom))
        # Single sightings: all when few enough; at site zoom the newest, said to be a sample.
        draw = few or (site and settings.map_points > 0)
        points = read(load_points, filters, settings.map_points) if draw else None
        tracks = common.read(load_tracks, db_path, filters.session_id, depends=("track",),
                             tolerance_deg=track_tolerance(zoom))  # fmt: skip
        track_sessions = tracks[["session_id"]]
        view_text = f"{_drawn_text(totals, points, few, settings)} View: {zoom_text(zoom)}."
        if settings.map_tiles:
            view_text += f" Map tiles not served: {problem}."
    tiles_layers, basemap = _basemap(settings, view, host)
    deck = map_deck(cells, points, tracks, view, colour=colours, label=labels, extra=extra,
                    tiles=tiles_layers, data=data, basemap_url=basemap_url)  # fmt: skip
    return MapData(totals, sessions, marks, deck, 0 if points is None else len(points),
                   view_text, track_sessions, basemap)  # fmt: skip


def _legend(db_path: Path, filters: SightingFilter) -> str:
    """Species chips of the matching sightings (the most seen 24) and the cell scale; read
    after the map is on its way to the browser."""
    colours, labels = common.species_colours(db_path)
    shown = common.read(load_species_summary, db_path, filters, reviewed=False,
                        depends=map_depends(filters))  # fmt: skip
    chips = [(str(sp), labels(str(sp))) for sp in shown["species"].head(24)]
    return legend_html(colours.hex, chips, max(len(shown) - len(chips), 0))


def _drawn_text(
    totals: dict[str, int], points: pd.DataFrame | None, few: bool, settings: DashboardConfig
) -> str:
    """What the map drawn once for its opening view shows (``dashboard.map_tiles`` off)."""
    if points is None:
        return (
            f"{totals['placed']:,} placed sightings are more than the "
            f"{settings.map_points:,} drawn one by one: the map shows them as H3 cells "
            "(counts in the tooltip); choose a session or species to see single sightings."
        )
    if few:
        return f"All {len(points):,} placed sightings drawn."
    return (
        f"A sample: the newest {len(points):,} of {totals['placed']:,} placed sightings "
        "drawn; the cells' outlines count all of them."
    )


def _service(tiles: str | None, protected: bool) -> TileService:
    """The dashboard's tiles: the map's data tiles, the basemap's files and
    ``dashboard.tiles`` (if set); with a random key when the dashboard asks for a token
    (the sign-in secrets never go into a URL)."""
    key = secrets.token_urlsafe(24) if protected else None
    source = open_source(Path(tiles)) if tiles is not None else None
    # The basemap's files too: fetched by the browser, not walked in the deck (deck.py).
    files = {name: functools.partial(_basemap_file, path)
             for name, path in basemap_files().items()}  # fmt: skip
    return TileService(source, data=MapTiles(), key=key, files=files)


@st.cache_resource(show_spinner=False)
def _tile_server(tiles: str | None, address: str, protected: bool) -> TileServer:
    """A tile server of the page's own, on a second port of the address Streamlit serves on
    (one per process): where Streamlit runs without the tile route."""
    server = TileServer(None, address, service=_service(tiles, protected)).start()
    # Said once in the server's log: the browser must reach this port too.
    print(f"fieldtool: map tiles served on {address} port {server.port}", file=sys.stderr,
          flush=True)  # fmt: skip
    return server


@functools.cache
def _basemap_file(path: Path) -> bytes:
    return basemap_bytes(path)


def _endpoint(tiles: str | None, settings: DashboardConfig, host: str | None) -> TileEndpoint:
    """Where the browser fetches the tiles: the dashboard's own port (the tile route), or
    a tile server on a second one of ``host`` (the name the browser reached the dashboard
    by). A :class:`FieldtoolError` when ``tiles`` do not open or the second server cannot
    start."""
    protected = bool(tokens(settings, os.environ))
    routes = tile_services()
    if routes.mounted:
        return routes.endpoint(f"{tiles}|{protected}", lambda: _service(tiles, protected))
    address = st.get_option("server.address") or settings.address
    return _tile_server(tiles, address, protected).endpoint(browser_host(host, address))


def _server(
    settings: DashboardConfig, host: str | None
) -> tuple[TileEndpoint | None, str | None]:
    """This process's tiles, and a one-line message of what it lacks: the local tiles that
    did not open (then it serves the data tiles alone), or the tiles altogether."""
    tiles = str(settings.tiles) if settings.tiles is not None else None
    try:
        return _endpoint(tiles, settings, host), None
    except FieldtoolError as exc:
        if tiles is None:
            return None, str(exc)
        problem = str(exc)
    try:
        return _endpoint(None, settings, host), problem
    except FieldtoolError as exc:
        return None, f"{problem}; {exc}"


def _basemap(
    settings: DashboardConfig, view: pdk.ViewState, host: str | None
) -> tuple[list[pdk.Layer], str]:
    """Tile layers over Natural Earth (local tiles, an online basemap) and their credit."""
    if settings.tiles is None:
        return basemap_tiles(settings, view)
    server, problem = _server(settings, host)
    if server is None or server.service.source is None:
        layers, credit = basemap_tiles(settings, view)
        return layers, f"{credit} Local tiles not shown: {problem}."
    return basemap_tiles(settings, view, server.url(), server.service.source)


def _range_layer(
    db_path: Path, filters: SightingFilter, colours: SpeciesColours
) -> list[pdk.Layer]:
    if filters.species is None or len(filters.species) != 1:
        return []
    name = filters.species[0]
    shape = range_geojson(session_prior_settings(db_path, filters.session_id), name)
    if shape is None:
        return []
    r, g, b = colours(name)
    return [
        pdk.Layer(
            "GeoJsonLayer", id="species-range", data=shape, filled=True, stroked=True,
            get_fill_color=[r, g, b, 60], get_line_color=[r, g, b, 200], get_line_width=1,
            line_width_units=pdk.types.String("pixels"), pickable=False,
        )
    ]  # fmt: skip


def show_data(
    db_path: Path, filters: SightingFilter, settings: DashboardConfig, refresh_s: float | None
) -> None:
    """Metrics, map, a page of the table, exports and snapshot. A refresh first reads the
    database's change mark and reuses the last read while it is the same."""
    try:
        common.refresh_mark(db_path)  # a refresh reruns only this fragment
        key = (str(db_path), filters, common.mark_of(db_path, map_depends(filters)))
        cached = st.session_state.get(_CACHE_KEY)
        if cached is not None and cached[0] == key:
            data = cached[1]
        else:
            data = _read(db_path, filters, settings, st.context.headers.get("Host"))
            st.session_state[_CACHE_KEY] = (key, data)
    except FieldtoolError as exc:
        st.warning(f"Could not read the database: {exc}. Retrying at the next refresh.")
        return
    totals = data.totals
    cols = st.columns(4)
    cols[0].metric("Sightings", f"{totals['sightings']:,}", help=f"{totals['open']:,} open")
    cols[1].metric("Species", f"{totals['species']:,}")
    cols[2].metric("Sessions", f"{totals['sessions']:,}", help="sessions with a matching sighting")
    cols[3].metric("Running sessions", f"{totals['running']:,}")

    unplaced = position_warnings(data.marks, data.sessions, data.tracks)
    for message in unplaced:
        st.warning(message)
    notes = zone_notes(data.marks, data.sessions)
    for note in notes:
        st.info(note)
    if totals["placed"] or not data.tracks.empty:
        st.pydeck_chart(data.deck, height=520, key="map_deck")
    st.markdown(_legend(db_path, filters), unsafe_allow_html=True)
    now = datetime.now(timezone.utc)
    every = f", refreshing every {refresh_s:g} s" if refresh_s else ", not refreshing"
    st.caption(
        f"{data.view_text} Read at {now:%H:%M:%S} UTC{every}. Open sightings have a dark "
        f"outline. {data.basemap}"
    )
    st.subheader("Sightings")
    rows = _table_page(db_path, filters, totals["sightings"])
    _exports(db_path, rows)
    with st.expander("Sessions", expanded=bool(unplaced or notes)):
        st.dataframe(
            sessions_table(data.sessions),
            hide_index=True,
            column_config=SESSION_COLUMNS,
            key="sessions_table",
        )
    _snapshot(db_path, rows)


def _table_page(db_path: Path, filters: SightingFilter, total: int) -> pd.DataFrame:
    """One page of the matching sightings, newest first, and where it lies in the whole."""
    pages = max(1, -(-total // PAGE_ROWS))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages:,})", 1, pages, 1, key="map_page"))
    offset = (page - 1) * PAGE_ROWS
    # The caption's count from the rows' own read: ``total`` (the figures) may be a write older.
    rows, matching = common.read(load_sightings_page, db_path, filters, limit=PAGE_ROWS,
                                 offset=offset)  # fmt: skip
    if matching:
        st.caption(
            f"Rows {offset + 1:,}–{offset + len(rows):,} of {matching:,}, newest first "
            f"({PAGE_ROWS} a page)."
        )
    st.dataframe(sightings_table(rows), hide_index=True, column_config=TABLE_COLUMNS,
                 key="map_table")  # fmt: skip
    return rows


def _exports(db_path: Path, sightings: pd.DataFrame) -> None:
    """Download buttons: ``fieldtool export`` of the sightings shown.

    The files come from the export module (:func:`downloads.map_download`): the same rows
    (closed sightings, newest review applied, rejected ones left out), columns and bytes as
    ``fieldtool export`` of these sightings; times get no ``Z`` for a session's local clock
    of unknown zone. Each file is built when its button is clicked (a page load or refresh
    reads none of them: a quarter of a second on a season's file).
    """
    ids = tuple(str(i) for i in sightings["sighting_id"]) if not sightings.empty else ()
    try:
        stale = needs_upgrade(db_path, timeout_s=common.QUERY_TIMEOUT_S)  # a 10-ms read
    except FieldtoolError as exc:
        stale, problem = True, str(exc)
    else:
        problem = f"{db_path}: written by an older fieldtool; `fieldtool export` upgrades it once"
    if stale:
        st.caption(f"Downloads unavailable: {problem}")
        return
    # What the files will hold, from the rows at hand: closed, and not rejected in force.
    rows = 0
    if not sightings.empty:
        rows = int(((sightings["status"] == "closed") & (sightings["review"] != "reject")).sum())

    row = st.container(horizontal=True)
    row.download_button(
        "Download CSV",
        lambda: map_download(db_path, ids, "csv", timeout_s=common.QUERY_TIMEOUT_S),
        file_name="sightings.csv",
        mime="text/csv",
        key="export_csv",
        on_click="ignore",
    )
    row.download_button(
        "Download GeoJSON",
        lambda: map_download(db_path, ids, "geojson", timeout_s=common.QUERY_TIMEOUT_S),
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
        f"Downloads hold {rows} of the {len(ids)} sightings of this table page, as "
        "`fieldtool export` writes them: the closed ones, reviews applied, rejected ones "
        "left out. `fieldtool export` writes all of them. The Darwin Core archive names no "
        "licence, which GBIF requires: `fieldtool export --format dwca --license LICENCE` "
        f"({' or '.join(GBIF_LICENSES)}) makes a GBIF-ready one."
    )


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
    refresh_s = common.refresh_controls("map", ctx)
    filters = common.filters_or_all(ctx)
    st.fragment(run_every=refresh_s)(common.safe(show_data))(
        ctx.db_path, filters, ctx.settings, refresh_s
    )


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
