"""What the dashboard pages share: the database and filters, their URL form, snapshots.

``streamlit_app.py`` builds a :class:`Context` on every run (database path from the
sidebar, filters on the pages that use them) and the page script reads it with
:func:`context`. Filters live in widget state that survives page switches and are
mirrored in the URL query (``?session=..&species=..&species=..&review=..&min_score=..
&start=..&end=..``), so a filtered view can be shared as a link.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import pandas as pd
import streamlit as st

from fieldtool.config.dashboard import DashboardConfig
from fieldtool.dashboard.aggregate import (
    MARK_PARTS,
    change_mark,
    load_all_species,
    load_running,
    species_group_key,
)
from fieldtool.dashboard.data import (
    REVIEW_STATES,
    SightingFilter,
    load_species,
    load_time_bounds,
    resolve_snapshot,
)
from fieldtool.dashboard.palette import SpeciesColours
from fieldtool.sqlbox import SqlGate
from fieldtool.types import FieldtoolError

T = TypeVar("T")
LOG = logging.getLogger(__name__)
ERROR_KEY = "_fieldtool_callback_error"
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
    role: str = "reviewer"  # "viewer": may look, may not review
    settings: DashboardConfig = field(default_factory=DashboardConfig)

    @property
    def may_review(self) -> bool:
        return self.role == "reviewer"


def set_context(ctx: Context) -> None:
    st.session_state[_CTX_KEY] = ctx


def context() -> Context:
    """The context ``streamlit_app.py`` set for this run."""
    ctx = st.session_state.get(_CTX_KEY)
    if ctx is None:
        raise FieldtoolError("open the dashboard with `streamlit run streamlit_app.py`")
    return ctx


def show_unexpected(exc: BaseException) -> None:
    """An error nobody foresaw, as one line in the page (the traceback goes to the server's
    log): Streamlit's own error view would add search-engine and chatbot links."""
    LOG.error("dashboard error", exc_info=exc)
    st.error(f"Something went wrong ({type(exc).__name__}); the server's log has the details.")


def guarded(callback: Callable[..., None]) -> Callable[..., None]:
    """A widget callback whose unforeseen errors become one line at the next run."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            callback(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (a callback's error would show a traceback)
            LOG.error("dashboard callback error", exc_info=exc)
            st.session_state[ERROR_KEY] = (
                f"Something went wrong ({type(exc).__name__}); the server's log has the details."
            )

    return run


def safe(function: Callable[..., None]) -> Callable[..., None]:
    """A fragment's function whose unforeseen errors show as one line (a fragment's rerun
    runs outside the app's own guard)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc)

    return run


def show_callback_error() -> None:
    """The error a :func:`guarded` callback left for this run, if any."""
    message = st.session_state.pop(ERROR_KEY, None)
    if message:
        st.error(message)


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
        # Short labels: the ends' labels overflow a phone's or the sidebar's width; the
        # caption below gives the full range with seconds.
        format="MM-DD HH:mm" if lo.year == hi.year else "YYYY-MM-DD",
    )
    st.sidebar.caption(f"{picked[0]:%Y-%m-%d %H:%M:%S} to {picked[1]:%Y-%m-%d %H:%M:%S} UTC")
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
def refresh_controls(key: str, ctx: Context, default_s: float | None = None) -> float | None:
    """Sidebar auto-refresh toggle and interval; seconds between refreshes, or None: off,
    or paused while no session is running (nothing can change then but reviews, which
    this browser's own actions show at once)."""
    auto = st.sidebar.toggle("Auto-refresh", value=True, key=f"{key}_auto")
    every = int(default_s if default_s is not None else ctx.settings.refresh_s)
    interval = st.sidebar.number_input(
        "Refresh every (s)", 1, 3600, every, 1, disabled=not auto, key=f"{key}_every"
    )
    if not auto:
        return None
    try:
        running = load_running(ctx.db_path, timeout_s=QUERY_TIMEOUT_S)
    except FieldtoolError:
        running = 1  # cannot tell: keep refreshing, the next read says why
    if not running:
        st.sidebar.caption("Auto-refresh paused: no session is running.")
        return None
    return float(interval)


_MARK_KEY = "_fieldtool_mark"  # (db, change mark) read at the start of this run


def refresh_mark(db_path: Path) -> tuple:
    """Read the database's change mark (:func:`~fieldtool.dashboard.aggregate.change_mark`)
    for the reads of this run: the app does at the start of every run, a refreshing
    fragment at the start of its own."""
    mark = change_mark(db_path, timeout_s=QUERY_TIMEOUT_S)
    st.session_state[_MARK_KEY] = (str(db_path), mark)
    return mark


def current_mark(db_path: Path) -> tuple:
    """The change mark read at the start of this run (read now if there was none)."""
    seen = st.session_state.get(_MARK_KEY)
    if seen is not None and seen[0] == str(db_path):
        return seen[1]
    return refresh_mark(db_path)


@st.cache_data(show_spinner=False, max_entries=256, ttl=3600)
def _cached(name: str, db_path: str, mark: tuple, args: tuple, kwargs: tuple) -> Any:
    module, _, attr = name.partition(":")
    function = getattr(importlib.import_module(module), attr)
    return function(Path(db_path), *args, **dict(kwargs))


def mark_of(db_path: Path, depends: tuple[str, ...] | None = None) -> tuple:
    """The part of this run's change mark that the tables ``depends`` (names of
    :data:`~fieldtool.dashboard.aggregate.MARK_PARTS`; None: all) account for."""
    mark = current_mark(db_path)
    if depends is None:
        return mark
    return tuple(mark[i] for part in depends for i in MARK_PARTS[part])


def read(
    function: Callable[..., T],
    db_path: Path,
    *args: Any,
    depends: tuple[str, ...] | None = None,
    **kwargs: Any,
) -> T:
    """``function(db_path, *args, **kwargs)`` of a loader, shared by every browser session
    and reused until the tables it ``depends`` on change (all tables by default): a
    refresh reads again only what changed."""
    name = f"{function.__module__}:{function.__qualname__}"
    kwargs.setdefault("timeout_s", QUERY_TIMEOUT_S)
    found: T = _cached(name, str(db_path), mark_of(db_path, depends), args,
                       tuple(sorted(kwargs.items())))  # fmt: skip
    return found


@st.cache_resource(show_spinner=False)
def sql_gate(slots: int) -> SqlGate:
    """The process's one queue of SQL page queries (shared by every browser session)."""
    return SqlGate(slots=slots)


def write_review(ctx: Context, action: Callable[[], Any]) -> Any:
    """Run a review write of this process: the SQL page's queries make way for it
    (:meth:`fieldtool.sqlbox.SqlGate.writing`), so it never waits on them."""
    if not ctx.may_review:
        raise FieldtoolError("signed in as a viewer: reviews are not allowed")
    with sql_gate(ctx.settings.sql_slots).writing():
        return action()


@st.cache_data(ttl=60, show_spinner=False, max_entries=16)
def _species_names(db_path: str, mark: tuple) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(sp), str(cn) if isinstance(cn, str) else "")
        for sp, cn in load_all_species(db_path, timeout_s=QUERY_TIMEOUT_S).itertuples(
            index=False
        )
    )


def known_species(db_path: Path) -> list[str]:
    """Every species name of the file (what a relabel may pick without "new species")."""
    return [sp for sp, _ in _species_names(str(db_path), (db_path.stat().st_mtime_ns,))]


def species_style(db_path: Path) -> str:
    """A short fingerprint of the names :func:`species_colours` builds on: equal
    fingerprints, equal colours and labels (drawn tiles may be reused)."""
    names = _species_names(str(db_path), (db_path.stat().st_mtime_ns,))
    return hashlib.sha256(repr(names).encode()).hexdigest()[:16]


def species_colours(db_path: Path) -> tuple[SpeciesColours, Callable[[str], str]]:
    """(colour of each species, its label "common name (Species)") for the whole file, the
    same on every page: names from the ``species`` table and every sighting and review."""
    names = _species_names(str(db_path), (db_path.stat().st_mtime_ns,))
    common_names = {sp: cn for sp, cn in names if cn}

    def label(species: str) -> str:
        name = common_names.get(species)
        return f"{name} ({species})" if name else species

    return SpeciesColours((sp for sp, _ in names), species_group_key), label


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
