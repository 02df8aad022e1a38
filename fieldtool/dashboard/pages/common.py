"""What the dashboard pages share: the database and filters, their URL form, snapshots.

``streamlit_app.py`` builds a :class:`Context` on every run (database path from the
sidebar, filters on the pages that use them) and the page script reads it with
:func:`context`. Filters live in widget state that survives page switches and are
mirrored in the URL query (``?session=..&species=..&species=..&review=..&min_score=..
&start=..&end=..``), so a filtered view can be shared as a link.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import streamlit as st

from fieldtool.dashboard.data import (
    REVIEW_STATES,
    SightingFilter,
    load_species,
    load_time_bounds,
    resolve_snapshot,
)
from fieldtool.types import FieldtoolError

QUERY_TIMEOUT_S = 3.0  # a refresh waits at most this long for a writer to let go
PAGES_DIR = Path(__file__).resolve().parent
URL_KEYS = ("session", "species", "review", "min_score", "start", "end")
_CTX_KEY = "_fieldtool_ctx"
_URL_READ_KEY = "_fieldtool_url_read"
_TIME_KEY = "_fieldtool_time"  # (start, end), None for an open end
_STEPS = [
    timedelta(seconds=s)
    for s in (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 6 * 3600, 86400, 7 * 86400)
]


@dataclass(frozen=True)
class Context:
    """What a page needs from the main script."""

    db_path: Path
    filters: SightingFilter | None = None  # None on pages without the filter sidebar


def set_context(ctx: Context) -> None:
    st.session_state[_CTX_KEY] = ctx


def context() -> Context:
    """The context ``streamlit_app.py`` set for this run."""
    ctx = st.session_state.get(_CTX_KEY)
    if ctx is None:
        raise FieldtoolError("open the dashboard with `streamlit run streamlit_app.py`")
    return ctx


def filters_or_all(ctx: Context) -> SightingFilter:
    return ctx.filters or SightingFilter()


# Sidebar filters ----------------------------------------------------------------------
def time_slider_range(bounds: tuple[datetime, datetime]) -> tuple[datetime, datetime, timedelta]:
    """Whole-minute slider bounds around the sightings and a step of about 1/200 of the span."""
    lo = bounds[0].replace(second=0, microsecond=0)
    hi = bounds[1].replace(second=0, microsecond=0) + timedelta(minutes=1)
    wanted = (hi - lo) / 200
    step = next((s for s in _STEPS if s >= wanted), _STEPS[-1])
    return lo, hi, step


def sidebar_filters(db_path: Path, sessions: pd.DataFrame) -> SightingFilter:
    """Session, species, time range, minimum score and review state from the sidebar.

    The first run of a browser session takes its values from the URL; every run writes
    the current ones back to it.
    """
    _read_url_once()
    labels = {
        row.session_id: f"{pd.Timestamp(row.started_at):%Y-%m-%d %H:%M} · "
        f"{Path(str(row.source)).name or row.source} · {row.status}{local_clock_mark(row)}"
        for row in sessions.itertuples(index=False)
    }
    if st.session_state.get("f_session") not in (None, *labels):
        st.session_state["f_session"] = None
    session_id = st.sidebar.selectbox(
        "Session",
        [None, *labels],
        format_func=lambda s: "All sessions" if s is None else labels.get(s, s),
        key="f_session",
        persist_state="session",
    )
    species = load_species(db_path, session_id, timeout_s=QUERY_TIMEOUT_S)
    names = dict(zip(species["species"], species["common_name"], strict=True))
    if "f_species" in st.session_state:  # keep only species this session has
        st.session_state["f_species"] = [s for s in st.session_state["f_species"] if s in names]
    chosen = st.sidebar.multiselect(
        "Species",
        list(names),
        format_func=lambda s: f"{names[s]} ({s})" if names.get(s) else s,
        placeholder="All species",
        key="f_species",
        persist_state="session",
    )
    start, end = _time_filter(db_path, session_id)
    min_score = st.sidebar.slider(
        "Minimum peak score", 0.0, 1.0, step=0.05, key="f_min_score", persist_state="session"
    )
    review = st.sidebar.selectbox(
        "Review state",
        [None, *REVIEW_STATES],
        format_func=lambda r: "Any" if r is None else REVIEW_STATES[r],
        key="f_review",
        persist_state="session",
    )
    filters = SightingFilter(
        species=tuple(chosen) or None,
        start=start,
        end=end,
        min_score=float(min_score),
        session_id=session_id,
        review=review,
    )
    _write_url(filters)
    return filters


def _time_filter(db_path: Path, session_id: str | None) -> tuple[datetime | None, datetime | None]:
    """The time slider; a handle left at its end stays open, so later sightings still show."""
    bounds = load_time_bounds(db_path, session_id, timeout_s=QUERY_TIMEOUT_S)
    if bounds is None:
        return None, None
    lo, hi, step = time_slider_range(bounds)
    start, end = st.session_state.get(_TIME_KEY, (None, None))
    start = start if start is not None and lo < start < hi else None
    end = end if end is not None and lo < end < hi else None
    if start is not None and end is not None and start > end:
        start = end = None
    # No key: the default is the remembered choice, so a widget re-created with new bounds
    # (sightings logged since) or after a page switch shows it again.
    picked = st.sidebar.slider(
        "Time range (UTC)",
        min_value=lo,
        max_value=hi,
        value=(start or lo, end or hi),
        step=step,
        format="YYYY-MM-DD HH:mm:ss",
    )
    chosen = (picked[0] if picked[0] > lo else None, picked[1] if picked[1] < hi else None)
    st.session_state[_TIME_KEY] = chosen
    return chosen


def _read_url_once() -> None:
    """Seed the filter widgets from the URL on the first run of a browser session."""
    if st.session_state.get(_URL_READ_KEY):
        return
    st.session_state[_URL_READ_KEY] = True
    params = st.query_params
    if session := params.get("session"):
        st.session_state["f_session"] = session
    if species := [s for s in params.get_all("species") if s]:
        st.session_state["f_species"] = species
    if (review := params.get("review")) in REVIEW_STATES:
        st.session_state["f_review"] = review
    score = _parse_float(params.get("min_score"))
    if score is not None:
        st.session_state["f_min_score"] = min(1.0, max(0.0, score))
    times = (_parse_time(params.get("start")), _parse_time(params.get("end")))
    if times != (None, None):
        st.session_state[_TIME_KEY] = times


def url_params(filters: SightingFilter) -> dict[str, list[str]]:
    """The URL query of a filter (defaults left out)."""
    params: dict[str, list[str]] = {}
    if filters.session_id is not None:
        params["session"] = [filters.session_id]
    if filters.species:
        params["species"] = list(filters.species)
    if filters.review is not None:
        params["review"] = [filters.review]
    if filters.min_score > 0:
        params["min_score"] = [f"{filters.min_score:g}"]
    if filters.start is not None:
        params["start"] = [filters.start.strftime("%Y-%m-%dT%H:%M:%S")]
    if filters.end is not None:
        params["end"] = [filters.end.strftime("%Y-%m-%dT%H:%M:%S")]
    return params


def _write_url(filters: SightingFilter) -> None:
    wanted = url_params(filters)
    current = {key: st.query_params.get_all(key) for key in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)


def _parse_float(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    if pd.isna(when):
        return None
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    return when.to_pydatetime()


# Shared widgets -----------------------------------------------------------------------
def refresh_controls(key: str, default_s: int = 5) -> float | None:
    """Sidebar auto-refresh toggle and interval; seconds between refreshes, or None."""
    auto = st.sidebar.toggle("Auto-refresh", value=True, key=f"{key}_auto")
    interval = st.sidebar.number_input(
        "Refresh every (s)", 1, 300, default_s, 1, disabled=not auto, key=f"{key}_every"
    )
    return float(interval) if auto else None


def show_snapshot(
    db_path: Path,
    snapshot_path: object,
    caption: str,
    width: int | Literal["stretch", "content"] = 640,
) -> bool:
    """Show a stored snapshot (only from inside the database's folder); False if none shown."""
    if snapshot_path is None or (isinstance(snapshot_path, float) and math.isnan(snapshot_path)):
        st.info("No snapshot stored for this sighting.")
        return False
    try:
        path = resolve_snapshot(db_path, str(snapshot_path))
    except FieldtoolError as exc:
        st.error(str(exc))
        return False
    if not path.is_file():
        st.info(f"Snapshot file {snapshot_path} is missing.")
        return False
    st.image(str(path), caption=caption, width=width)
    return True


def zone_known(row: Any) -> bool:
    """Whether a session's (or its sighting's) times are UTC; a missing value (a session
    from before schema 5) counts as UTC, which is what it always claimed."""
    known = getattr(row, "time_zone_known", None)
    if known is None and isinstance(row, pd.Series | dict):
        known = row.get("time_zone_known")
    return True if known is None or pd.isna(known) else bool(known)


def local_clock_mark(row: Any) -> str:
    """' · local clock (SOURCE), zone unknown' for a session whose times are not UTC, else ''."""
    if zone_known(row):
        return ""
    return f" · local clock ({getattr(row, 'time_source', None) or 'unrecorded'}), zone unknown"


def time_zone_text(row: Any) -> str:
    """'UTC', or what a sighting's times are instead: its camera's local clock."""
    return "UTC" if zone_known(row) else "camera's local clock, zone unknown"


def score_text(value: object) -> str:
    """A score with two decimals, or an empty string when missing."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(number) else f"{number:.2f}"


def sighting_label(row: Any) -> str:
    """'common name (species) · first seen · peak' for select boxes."""
    name = row.common_name
    title = f"{name} ({row.species})" if isinstance(name, str) and name else str(row.species)
    return f"{title} · {pd.Timestamp(row.first_seen):%Y-%m-%d %H:%M:%S} · peak {score_text(row.peak_score)}"
