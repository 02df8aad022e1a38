"""The Streamlit + pydeck dashboard: map, review queue, species, models, live session and SQL.

Run with ``streamlit run streamlit_app.py -- --db PATH``. The package, by concept (each
module imports only those listed before it; the pages import them, never the reverse):

    data        database path, filters and the loaders (one read-only query each)
    aggregate   exact figures over every row in SQL: counts, species, H3 cells, curves,
                the review queue's pages
    summaries   tables, metrics and notes computed from loaded frames
    reviews     the review queue, relabel names, what the classifier and prior said
    palette     one colour per species on every page
    deck        the offline pydeck map (basemap, ranges, tracks, sightings)
    mapview     the map at any zoom: H3 cells from afar, points and tracks up close
    downloads   the map page's files, written by :mod:`fieldtool.export`
    access      which database the browser may open, tokens and roles
    trust       model versions and, per species, how many machine sightings reviewers
                confirmed (the precision a user trusts)
    learnjob    the review page's "learn a new model": ``fieldtool learn`` in the background
    screens/    the Streamlit page scripts and what they share (``screens.common``; not
                ``pages/``: Streamlit would run such a folder's scripts by themselves)

Read-only SQL lives in :mod:`fieldtool.sqlbox`, which ``fieldtool sql`` uses without
importing Streamlit or pydeck. The names below are what ``streamlit_app.py``, the tests
and the benchmarks use; importing this package loads pydeck but not Streamlit.
"""

from __future__ import annotations

from fieldtool.dashboard.aggregate import (
    load_accumulation,
    load_cells,
    load_review_page,
    load_species_summary,
    load_totals,
)
from fieldtool.dashboard.data import (
    DB_ENV_VAR,
    DEFAULT_DB,
    MAX_SIGHTINGS,
    MAX_TRACK_POINTS,
    REVIEW_STATES,
    SIGHTING_FIELDS,
    SightingFilter,
    analysis_rate,
    database_problem,
    db_path_from_args,
    load_live,
    load_schema,
    load_sessions,
    load_sightings,
    load_sightings_page,
    load_species,
    load_time_bounds,
    load_tracks,
    recent_cutoff,
    resolve_snapshot,
    session_prior_settings,
)
from fieldtool.dashboard.deck import (
    BASEMAP_DIR,
    TOOLTIP,
    US_VIEW,
    CompactDeck,
    basemap_layers,
    build_deck,
    density_records,
    density_resolution,
    fit_view,
    load_geojson,
    range_geojson,
    sighting_records,
    species_color,
    track_records,
)
from fieldtool.dashboard.downloads import (
    EXPORT_COLUMNS,
    dwca_download,
    export_csv,
    export_frame,
    export_geojson,
    map_download,
)
from fieldtool.dashboard.mapview import map_deck
from fieldtool.dashboard.palette import SpeciesColours
from fieldtool.dashboard.reviews import (
    apply_reviews,
    load_alternatives,
    load_review_queue,
    prior_changes,
    resolve_relabel,
)
from fieldtool.dashboard.summaries import (
    accumulation_curve,
    position_warnings,
    sessions_table,
    sightings_table,
    species_summary,
    summarize,
    zone_notes,
)
from fieldtool.sqlbox import (
    SQL_ALLOWED_FIRST,
    SQL_MAX_ROWS,
    SQL_TIME_LIMIT_S,
    check_readonly_sql,
    run_readonly_sql,
)

__all__ = [
    "BASEMAP_DIR",
    "DB_ENV_VAR",
    "DEFAULT_DB",
    "EXPORT_COLUMNS",
    "MAX_SIGHTINGS",
    "MAX_TRACK_POINTS",
    "REVIEW_STATES",
    "SIGHTING_FIELDS",
    "SQL_ALLOWED_FIRST",
    "SQL_MAX_ROWS",
    "SQL_TIME_LIMIT_S",
    "TOOLTIP",
    "US_VIEW",
    "CompactDeck",
    "SightingFilter",
    "SpeciesColours",
    "accumulation_curve",
    "analysis_rate",
    "apply_reviews",
    "basemap_layers",
    "build_deck",
    "check_readonly_sql",
    "database_problem",
    "db_path_from_args",
    "density_records",
    "density_resolution",
    "dwca_download",
    "export_csv",
    "export_frame",
    "export_geojson",
    "fit_view",
    "load_accumulation",
    "load_alternatives",
    "load_cells",
    "load_geojson",
    "load_live",
    "load_review_page",
    "load_review_queue",
    "load_schema",
    "load_sessions",
    "load_sightings",
    "load_sightings_page",
    "load_species",
    "load_species_summary",
    "load_time_bounds",
    "load_totals",
    "load_tracks",
    "map_deck",
    "map_download",
    "position_warnings",
    "prior_changes",
    "range_geojson",
    "recent_cutoff",
    "resolve_relabel",
    "resolve_snapshot",
    "run_readonly_sql",
    "session_prior_settings",
    "sessions_table",
    "sighting_records",
    "sightings_table",
    "species_color",
    "species_summary",
    "summarize",
    "track_records",
    "zone_notes",
]
