"""Review queue: closed sightings nobody has reviewed yet, newest first.

For each: the snapshot, the facts, the classifier's scores against the scores after the
range prior over the sighting's frames (so a rare species the prior demoted can be
rescued), the map position, and confirm / reject / relabel buttons (keys Y, N, L; S skips).
A decision is stored as a review row; the sighting row itself never changes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from fieldtool.dashboard.data import load_species, load_tracks
from fieldtool.dashboard.deck import build_deck, fit_view
from fieldtool.dashboard.pages import common
from fieldtool.dashboard.reviews import load_alternatives, load_review_queue, prior_changes
from fieldtool.store import add_review
from fieldtool.types import FieldtoolError

_MESSAGE_KEY = "_review_message"
_DECIDED = {"confirm": "Confirmed", "reject": "Rejected", "relabel": "Relabelled"}


def _decide(db_path: Path, row: dict, decision: str) -> None:
    """Button callback: store the review before the page reruns (so the queue updates)."""
    reviewer = str(st.session_state.get("reviewer") or "").strip()
    sighting_id = row["sighting_id"]
    species = None
    if decision == "relabel":
        species = str(st.session_state.get(f"relabel_{sighting_id}") or "").strip()
        if not species:
            st.session_state[_MESSAGE_KEY] = ("error", "Choose the species to relabel it as.")
            return
    note = str(st.session_state.get(f"note_{sighting_id}") or "")
    try:
        add_review(
            db_path, sighting_id, decision, reviewer=reviewer, species=species, note=note,
            timeout_s=common.QUERY_TIMEOUT_S,
        )  # fmt: skip
    except FieldtoolError as exc:
        st.session_state[_MESSAGE_KEY] = ("error", f"Review not stored: {exc}")
        return
    what = f" as {species}" if species else ""
    st.session_state[_MESSAGE_KEY] = (
        "success",
        f"{_DECIDED[decision]} the {row['species']} sighting of "
        f"{pd.Timestamp(row['first_seen']):%Y-%m-%d %H:%M:%S}{what}.",
    )


def _skip(next_id: str) -> None:
    st.session_state["review_pick"] = next_id


def _alternatives(db_path: Path, row: pd.Series, names: dict[str, str]) -> list[str]:
    """Show raw vs fused scores; returns the species a relabel should offer first."""
    st.markdown("**What the classifier and the range prior said**")
    try:
        alts = load_alternatives(
            db_path, str(row["session_id"]), float(row["first_t"]), float(row["last_t"]),
            timeout_s=common.QUERY_TIMEOUT_S,
        )  # fmt: skip
    except FieldtoolError as exc:
        st.warning(f"Per-frame scores unavailable: {exc}")
        return []
    if alts.empty:
        st.info("No per-frame scores stored for this sighting (store.detections was off).")
        return []
    top = alts[(alts["fused_rank"] <= 3) | (alts["raw_rank"] <= 3)]
    table = pd.DataFrame(
        {
            "Species": [f"{names[sp]} ({sp})" if names.get(sp) else sp for sp in top["species"]],
            "Classifier": top["raw_mean"],
            "After range prior": top["fused_mean"],
            "Change": top["fused_mean"] - top["raw_mean"],
            "Rank": [f"{a} → {b}" for a, b in zip(top["raw_rank"], top["fused_rank"], strict=True)],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        key="review_alternatives",
        column_config={
            c: st.column_config.NumberColumn(format="%.2f")
            for c in ("Classifier", "After range prior", "Change")
        },
    )
    st.caption(
        f"Mean score over the {int(alts['frames'].iloc[0])} analysed frames of the sighting "
        "(a frame where a species was not in the stored top-k counts as 0)."
    )
    changes = prior_changes(alts, str(row["species"]))
    for line in changes:
        st.warning(f"{line} If the snapshot shows it, relabel the sighting.")
    if not changes:
        st.caption("The range prior did not demote any of the classifier's top 3.")
    demoted = [s for s in alts.sort_values("raw_rank")["species"] if any(
        line.startswith(f"{s}:") for line in changes)]  # fmt: skip
    others = [s for s in alts["species"] if s != row["species"]]
    return list(dict.fromkeys(demoted + others))


def _position(db_path: Path, row: pd.Series) -> None:
    if pd.isna(row["latitude"]) or pd.isna(row["longitude"]):
        st.info("No GPS position for this sighting.")
        return
    try:
        tracks = load_tracks(db_path, str(row["session_id"]), timeout_s=common.QUERY_TIMEOUT_S)
    except FieldtoolError:
        tracks = None
    deck = build_deck(row.to_frame().T, tracks)
    deck.initial_view_state = fit_view([(row["longitude"], row["latitude"])])
    deck.initial_view_state.zoom = min(deck.initial_view_state.zoom, 12.0)
    st.pydeck_chart(deck, height=300)
    st.caption(f"{row['latitude']:.5f}, {row['longitude']:.5f}")


def main() -> None:
    ctx = common.context()
    st.title("Review queue")
    reviewer = st.sidebar.text_input(
        "Reviewer name", key="reviewer", persist_state="session", placeholder="Your name"
    ).strip()
    message = st.session_state.pop(_MESSAGE_KEY, None)
    if message:
        (st.success if message[0] == "success" else st.error)(message[1])
    try:
        queue = load_review_queue(
            ctx.db_path, common.filters_or_all(ctx), timeout_s=common.QUERY_TIMEOUT_S
        )
        names = dict(
            load_species(ctx.db_path, timeout_s=common.QUERY_TIMEOUT_S)[
                ["species", "common_name"]
            ].itertuples(index=False)
        )
    except FieldtoolError as exc:
        st.error(f"Could not read the database: {exc}")
        return
    if queue.empty:
        st.info("Nothing to review: every closed sighting that matches the filters has a review.")
        return
    st.caption(
        f"{len(queue)} closed sightings without a review, newest first. The sidebar filters "
        "apply (review state aside); a review never changes the sighting itself."
    )
    rows = {row.sighting_id: row for row in queue.itertuples(index=False)}
    ids = list(rows)
    pick = st.selectbox(
        "Sighting", ids, format_func=lambda s: common.sighting_label(rows[s]), key="review_pick"
    )
    row = queue.iloc[ids.index(pick)]

    left, right = st.columns([1, 1])
    with left:
        title = f"{row['common_name']} ({row['species']})" if row["common_name"] else row["species"]
        st.subheader(str(title))
        st.markdown(
            f"First seen **{pd.Timestamp(row['first_seen']):%Y-%m-%d %H:%M:%S} "
            f"{common.time_zone_text(row)}**, "
            f"{float(row['duration_s']):.1f} s, {int(row['frames'])} frames, "
            f"peak score **{common.score_text(row['peak_score'])}**, "
            f"mean {common.score_text(row['mean_score'])}  \n"
            f"Session `{row['session_id']}` · sighting `{row['sighting_id']}`"
        )
        common.show_snapshot(ctx.db_path, row["snapshot_path"], str(row["species"]), "stretch")
    with right:
        offered = _alternatives(ctx.db_path, row, names)
        _position(ctx.db_path, row)

    st.subheader("Decision")
    if not reviewer:
        st.warning("Enter your name under Reviewer name in the sidebar to review.")
    choices = list(dict.fromkeys(offered + sorted(s for s in names if s != row["species"])))
    record = {k: row[k] for k in ("sighting_id", "species", "first_seen")}
    c1, c2, c3, c4, c5 = st.columns([1, 1, 2, 1, 1], vertical_alignment="bottom")
    c1.button(
        "Confirm", key="review_confirm", shortcut="Y", type="primary", disabled=not reviewer,
        on_click=_decide, args=(ctx.db_path, record, "confirm"),
        help=f"Yes, this is {row['species']}",
    )  # fmt: skip
    c2.button(
        "Reject", key="review_reject", shortcut="N", disabled=not reviewer,
        on_click=_decide, args=(ctx.db_path, record, "reject"),
        help="No plant of this species in view (false detection)",
    )  # fmt: skip
    c3.selectbox(
        "Relabel as",
        choices,
        key=f"relabel_{pick}",
        accept_new_options=True,
        placeholder="Species (type to add)",
        format_func=lambda s: f"{names[s]} ({s})" if names.get(s) else s,
    )
    c4.button(
        "Relabel", key="review_relabel", shortcut="L", disabled=not reviewer,
        on_click=_decide, args=(ctx.db_path, record, "relabel"),
        help="Store the species chosen beside this button",
    )  # fmt: skip
    next_id = ids[(ids.index(pick) + 1) % len(ids)]
    c5.button("Skip", key="review_skip", shortcut="S", on_click=_skip, args=(next_id,))
    st.text_input("Note (optional)", key=f"note_{pick}")
    st.caption("Keys: Y confirm · N reject · L relabel · S skip to the next sighting.")


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
