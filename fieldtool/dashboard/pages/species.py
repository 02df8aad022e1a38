"""Species page: counts, accumulation curve over survey time, timeline, first/last seen, gallery."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from fieldtool.dashboard.data import load_sessions, load_sightings
from fieldtool.dashboard.pages import common
from fieldtool.dashboard.summaries import accumulation_curve, species_summary
from fieldtool.types import FieldtoolError

GALLERY_MAX = 12


def _timeline(sightings: pd.DataFrame) -> None:
    """One mark per sighting on a time axis, a row per species."""
    data = sightings.assign(
        name=[
            f"{c} ({s})" if isinstance(c, str) and c else s
            for s, c in zip(sightings["species"], sightings["common_name"], strict=True)
        ],
        peak=sightings["peak_score"].round(2),
        first=[f"{pd.Timestamp(t):%Y-%m-%d %H:%M:%S}" for t in sightings["first_seen"]],
        last=[f"{pd.Timestamp(t):%Y-%m-%d %H:%M:%S}" for t in sightings["last_seen"]],
    )[["name", "species", "first_seen", "last_seen", "first", "last", "peak", "status"]]
    base = alt.Chart(data).encode(
        y=alt.Y("name:N", title=None, sort="ascending", axis=alt.Axis(labelLimit=320)),
        color=alt.Color("species:N", legend=None),
        tooltip=[
            alt.Tooltip("name:N", title="Species"),
            alt.Tooltip("first:N", title="First seen (UTC)"),
            alt.Tooltip("last:N", title="Last seen (UTC)"),
            alt.Tooltip("peak:Q", title="Peak score"),
            alt.Tooltip("status:N", title="Status"),
        ],
    )
    # Stored times are UTC: a UTC scale keeps the browser from shifting them to local time.
    x = alt.X("first_seen:T", title="Time (UTC)", scale=alt.Scale(type="utc"))
    bars = base.mark_rule(strokeWidth=4).encode(x=x, x2="last_seen:T")
    dots = base.mark_circle(size=60).encode(x=x)
    height = 60 + 32 * data["name"].nunique()
    st.altair_chart(bars + dots, height=height)


def _gallery(db_path: Path, sightings: pd.DataFrame, summary: pd.DataFrame) -> None:
    names = dict(zip(summary["species"], summary["common_name"], strict=True))
    chosen = st.selectbox(
        "Species",
        list(summary["species"]),
        format_func=lambda s: f"{names[s]} ({s})" if names.get(s) else s,
        key="gallery_species",
    )
    shots = sightings[(sightings["species"] == chosen) & sightings["snapshot_path"].notna()]
    if shots.empty:
        st.info("No snapshots stored for this species.")
        return
    st.caption(f"{len(shots)} snapshots, newest first" + (
        f"; showing {GALLERY_MAX}" if len(shots) > GALLERY_MAX else ""))  # fmt: skip
    columns = st.columns(4)
    for i, row in enumerate(shots.head(GALLERY_MAX).itertuples(index=False)):
        with columns[i % 4]:
            caption = (
                f"{pd.Timestamp(row.first_seen):%Y-%m-%d %H:%M:%S} · peak "
                f"{common.score_text(row.peak_score)}"
            )
            common.show_snapshot(db_path, row.snapshot_path, caption, width=300)


def main() -> None:
    ctx = common.context()
    st.title("Species")
    use_reviews = st.toggle(
        "Apply review decisions (rejected sightings left out, relabelled ones counted as the "
        "reviewer's species)",
        value=True,
        key="species_use_reviews",
    )
    try:
        # With reviews: the sightings_reviewed view, the read model `fieldtool export` uses.
        sightings = load_sightings(
            ctx.db_path,
            common.filters_or_all(ctx),
            reviewed=use_reviews,
            timeout_s=common.QUERY_TIMEOUT_S,
        )
        sessions = load_sessions(ctx.db_path, timeout_s=common.QUERY_TIMEOUT_S)
    except FieldtoolError as exc:
        st.error(f"Could not read the database: {exc}")
        return
    summary = species_summary(sightings)
    cols = st.columns(3)
    cols[0].metric("Species", len(summary))
    cols[1].metric("Sightings", len(sightings))
    cols[2].metric("Sessions", sightings["session_id"].nunique() if len(sightings) else 0)
    if sightings.empty:
        st.info("No sightings match the filters.")
        return

    st.subheader("Sightings per species")
    st.dataframe(
        summary.rename(
            columns={
                "species": "Species",
                "common_name": "Common name",
                "sightings": "Sightings",
                "first_seen": "First seen (UTC)",
                "last_seen": "Last seen (UTC)",
                "best_score": "Best peak score",
            }
        ),
        hide_index=True,
        key="species_summary",
        column_config={
            "First seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Last seen (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Best peak score": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.bar_chart(summary, x="species", y="sightings", x_label="", y_label="Sightings", height=260)

    st.subheader("Species accumulation")
    curve = accumulation_curve(sightings, sessions)
    st.line_chart(
        curve, x="survey_min", y="species", x_label="Survey time (min)", y_label="Species seen"
    )
    st.caption(
        "Distinct species against recording time: the sessions laid end to end, gaps between "
        "them left out. A curve still rising means more species are likely to be found."
    )

    st.subheader("Timeline")
    _timeline(sightings)

    st.subheader("Snapshots")
    _gallery(ctx.db_path, sightings, summary)


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
