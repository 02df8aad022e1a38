"""Species page: exact counts per species, accumulation over survey effort, timeline, gallery.

Every figure is SQL over all matching sightings (:mod:`fieldtool.dashboard.aggregate`),
reviews applied by default; names that are one species (:func:`species_group_key`) are
one row; colours are the map's (:mod:`fieldtool.dashboard.palette`).
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from fieldtool.dashboard.aggregate import (
    load_accumulation,
    load_snapshots,
    load_species_summary,
    load_timeline,
    load_totals,
    species_group_key,
)
from fieldtool.dashboard.data import SightingFilter
from fieldtool.dashboard.palette import SpeciesColours
from fieldtool.dashboard.screens import common
from fieldtool.types import FieldtoolError

GALLERY_MAX = 12
_EFFORT = {"hours": "Survey time (media hours)", "km": "Distance walked (km)"}


def _scale(names: list[str], colours: SpeciesColours) -> alt.Scale:
    return alt.Scale(domain=names, range=[colours.hex(n) for n in names])


def _timeline(frame: pd.DataFrame, unit: str, colours: SpeciesColours) -> None:
    """Sightings per species and time bin: a dot per bin, its size the count."""
    data = frame.assign(
        key=[species_group_key(str(s)) for s in frame["species"]],
        when=[f"{pd.Timestamp(t):%Y-%m-%d %H:%M}" for t in frame["bin"]],
    )
    names = sorted(data["species"].unique())
    chart = (
        alt.Chart(data)
        .mark_circle(opacity=0.8)
        .encode(
            x=alt.X("bin:T", title=f"Time (UTC, per {unit})", scale=alt.Scale(type="utc")),
            y=alt.Y("species:N", title=None, sort="ascending", axis=alt.Axis(labelLimit=260)),
            size=alt.Size("sightings:Q", title="Sightings", scale=alt.Scale(range=[15, 300])),
            color=alt.Color("species:N", legend=None, scale=_scale(names, colours)),
            tooltip=[
                alt.Tooltip("species:N", title="Species"),
                alt.Tooltip("when:N", title=f"{unit.title()} (UTC)"),
                alt.Tooltip("sightings:Q", title="Sightings"),
                alt.Tooltip("best_score:Q", title="Best peak", format=".2f"),
            ],
        )
    )
    st.altair_chart(chart, height=60 + 22 * len(names))


def _accumulation(db_path: Path, filters: SightingFilter, reviewed: bool) -> None:
    st.subheader("Species accumulation")
    axis = st.radio("Effort", list(_EFFORT), format_func=_EFFORT.get, horizontal=True,
                    key="species_effort")  # fmt: skip
    curve = common.read(load_accumulation, db_path, filters, reviewed=reviewed)
    chart = (
        alt.Chart(curve)
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X(f"{axis}:Q", title=_EFFORT[str(axis)]),
            y=alt.Y("species:Q", title="Species found"),
            tooltip=[alt.Tooltip("name:N", title="New species"), f"{axis}:Q", "species:Q"],
        )
    )
    st.altair_chart(chart, height=280)
    st.caption(
        "Distinct species against survey effort: the surveyed media time (or GPS distance "
        "walked) of the sessions the session and time filters select (a session the time "
        "window overlaps counts whole), laid end to end in survey order, gaps in a source "
        "left out. Species, score and review filters choose the sightings, not the effort. "
        "Names of one species count once. A curve still rising means more species are likely."
    )


def _gallery(db_path: Path, filters: SightingFilter, summary: pd.DataFrame, labels) -> None:
    chosen = st.selectbox("Species", list(summary["species"]), format_func=labels,
                          key="gallery_species")  # fmt: skip
    if chosen is None:
        return
    shots, total = common.read(load_snapshots, db_path, filters, str(chosen), limit=GALLERY_MAX)
    if shots.empty:
        st.info("No snapshots stored for this species.")
        return
    st.caption(f"{total:,} snapshots, newest first" + (
        f"; showing {GALLERY_MAX}" if total > GALLERY_MAX else ""))  # fmt: skip
    columns = st.columns(4)
    for i, row in enumerate(shots.itertuples(index=False)):
        with columns[i % 4]:
            caption = (
                f"{pd.Timestamp(row.first_seen):%Y-%m-%d %H:%M:%S} · peak "
                f"{common.score_text(row.peak_score)}"
            )
            common.show_snapshot(db_path, row.snapshot_path, caption, width="stretch")


def main() -> None:
    ctx = common.context()
    st.title("Species")
    reviewed = st.toggle(
        "Apply review decisions (rejected sightings left out, relabelled ones counted as the "
        "reviewer's species)",
        value=True,
        key="species_use_reviews",
    )
    filters = common.filters_or_all(ctx)
    try:
        totals = common.read(load_totals, ctx.db_path, filters, reviewed=reviewed)
        summary = common.read(load_species_summary, ctx.db_path, filters, reviewed=reviewed)
        colours, labels = common.species_colours(ctx.db_path)
    except FieldtoolError as exc:
        st.error(f"Could not read the database: {exc}")
        return
    cols = st.columns(3)
    cols[0].metric("Species", f"{len(summary):,}", help="names of one species count once")
    cols[1].metric("Sightings", f"{totals['sightings']:,}")
    cols[2].metric("Sessions", f"{totals['sessions']:,}")
    if summary.empty:
        st.info("No sightings match the filters.")
        return
    st.subheader("Sightings per species")
    table = summary.assign(common_name=summary["common_name"].fillna("")).rename(
        columns={
            "species": "Species", "common_name": "Common name", "sightings": "Sightings",
            "sessions": "Sessions", "first_seen": "First seen (UTC)",
            "last_seen": "Last seen (UTC)", "best_score": "Best peak score", "names": "Names",
        }
    )  # fmt: skip
    st.dataframe(
        table,
        hide_index=True,
        key="species_summary",
        column_config={
            "First seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Last seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Best peak score": st.column_config.NumberColumn(format="%.2f"),
            "Names": st.column_config.NumberColumn(help="spellings counted as this species"),
        },
    )
    names = list(summary["species"])
    bars = (
        alt.Chart(summary)
        .mark_bar()
        .encode(
            x=alt.X("species:N", sort="-y", title=None),
            y=alt.Y("sightings:Q", title="Sightings"),
            color=alt.Color("species:N", legend=None, scale=_scale(names, colours)),
        )
    )
    st.altair_chart(bars, height=260)
    try:
        _accumulation(ctx.db_path, filters, reviewed)
        st.subheader("Timeline")
        frame, unit = common.read(load_timeline, ctx.db_path, filters, reviewed=reviewed)
        _timeline(frame, unit, colours)
        st.subheader("Snapshots")
        _gallery(ctx.db_path, filters, summary, labels)
    except FieldtoolError as exc:
        st.error(f"Could not read the database: {exc}")


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
