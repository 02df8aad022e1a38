"""Review queue: closed sightings nobody has reviewed yet, one at a time, safe on a phone.

The decision buttons come first (keys Y confirm, N reject, S skip); the reviewer's name is
on the page. A relabel has no species chosen in advance: pick a known species (or tick
"new species" for a name not in the file), press Relabel (key L), then confirm it. Every
decision can be undone: an undo is a new review row that supersedes the last one
(:func:`fieldtool.store.reviews.undo_review`), nothing is deleted. The queue's size is
exact (SQL over every sighting) and it pages through the queue.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from fieldtool.dashboard.aggregate import QUEUE_ORDERS, load_review_page
from fieldtool.dashboard.data import load_tracks, resolve_snapshot, with_elevations
from fieldtool.dashboard.deck import build_deck, fit_view
from fieldtool.dashboard.learnjob import LearnRunner, tail
from fieldtool.dashboard.mapview import elevation_text
from fieldtool.dashboard.reviews import (
    load_alternatives,
    load_strip,
    prior_changes,
    resolve_relabel,
)
from fieldtool.dashboard.screens import common
from fieldtool.store import add_review
from fieldtool.store.reviews import undo_review
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError

QUEUE_PAGE = 50
STRIP_MAX = 6  # frames side by side under the snapshot
_MESSAGE_KEY = "_review_message"
_PENDING_KEY = "_review_pending"  # (sighting_id, species, new) of a relabel awaiting "yes"
_DONE_KEY = "_review_done"  # sighting ids this browser reviewed, newest last (for undo)
_DECIDED = {"confirm": "Confirmed", "reject": "Rejected", "relabel": "Relabelled"}


def _priority() -> Callable[..., Any] | None:
    """The learning side's queue order (``fieldtool.learn.queue.review_priority``) where it
    is installed; without it the queue is newest first only."""
    try:
        module = importlib.import_module("fieldtool.learn.queue")
    except ImportError:
        return None
    found = getattr(module, "review_priority", None)
    return found if callable(found) else None


@st.cache_data(show_spinner=False, max_entries=4)
def _ranked(db_path: str, mark: tuple) -> pd.DataFrame:
    """``review_priority`` of the file, computed once per change of its sightings (a
    review only takes a sighting out, which the queue query does by itself)."""
    priority = _priority()
    items = priority(db_path, order="teach") if priority is not None else []
    return pd.DataFrame(
        {
            "sighting_id": [i.sighting_id for i in items],
            "score": [i.score for i in items],
            "reasons": ["; ".join(i.reasons) for i in items],
        }
    )


def _reviewer() -> str:
    return str(st.session_state.get("reviewer") or "").strip()


@common.guarded
def _store(ctx: common.Context, row: dict, decision: str, species: str | None = None) -> None:
    """Button callback: store the review before the page reruns (so the queue updates)."""
    sighting_id = row["sighting_id"]
    note = str(st.session_state.get(f"note_{sighting_id}") or "")
    try:
        common.write_review(ctx, lambda: add_review(
            ctx.db_path, sighting_id, decision, reviewer=_reviewer(), species=species,
            note=note, timeout_s=common.QUERY_TIMEOUT_S,
        ))  # fmt: skip
    except FieldtoolError as exc:
        st.session_state[_MESSAGE_KEY] = ("error", f"Review not stored: {exc}")
        return
    st.session_state.setdefault(_DONE_KEY, []).append(sighting_id)
    st.session_state.pop(_PENDING_KEY, None)
    what = f" as {species}" if species else ""
    st.session_state[_MESSAGE_KEY] = (
        "success",
        f"{_DECIDED[decision]} the {row['species']} sighting of "
        f"{pd.Timestamp(row['first_seen']):%Y-%m-%d %H:%M:%S}{what}.",
    )


@common.guarded
def _ask_relabel(row: dict, known: dict[str, str]) -> None:
    """Relabel button (key L): check the chosen name; a confirmation is asked next."""
    sighting_id = row["sighting_id"]
    typed = st.session_state.get(f"relabel_{sighting_id}")
    new = bool(st.session_state.get(f"relabel_new_{sighting_id}"))
    try:
        species, is_new = resolve_relabel(str(typed or ""), known, allow_new=new)
    except FieldtoolError as exc:
        st.session_state[_MESSAGE_KEY] = ("error", str(exc))
        return
    if species == row["species"]:
        st.session_state[_MESSAGE_KEY] = (
            "error", f"{species} is the predicted species: use Confirm.")  # fmt: skip
        return
    st.session_state[_PENDING_KEY] = (sighting_id, species, is_new)


@common.guarded
def _undo(ctx: common.Context) -> None:
    done = st.session_state.get(_DONE_KEY) or []
    if not done:
        return
    sighting_id = done[-1]
    try:
        _, now = common.write_review(ctx, lambda: undo_review(
            ctx.db_path, sighting_id, reviewer=_reviewer() or "dashboard",
            timeout_s=common.QUERY_TIMEOUT_S))  # fmt: skip
    except FieldtoolError as exc:
        st.session_state[_MESSAGE_KEY] = ("error", f"Undo not stored: {exc}")
        return
    done.pop()
    state = "back in the queue" if now == "unreviewed" else f"back to {now}"
    st.session_state[_MESSAGE_KEY] = ("success", f"Undone: sighting {sighting_id} is {state}.")
    st.session_state["review_pick"] = sighting_id


@common.guarded
def _skip(next_id: str) -> None:
    st.session_state["review_pick"] = next_id
    st.session_state.pop(_PENDING_KEY, None)


def _decisions(ctx: common.Context, row: pd.Series, known: dict[str, str], next_id: str) -> None:
    """Confirm / reject / skip / undo, then the relabel with its confirmation."""
    reviewer = _reviewer()
    off = not reviewer or not ctx.may_review
    record = {k: row[k] for k in ("sighting_id", "species", "first_seen")}
    sid = str(row["sighting_id"])
    buttons = st.container(horizontal=True)
    buttons.button(
        "Confirm", key="review_confirm", shortcut="Y", type="primary", disabled=off,
        on_click=_store, args=(ctx, record, "confirm"), help=f"Yes, this is {row['species']}",
    )  # fmt: skip
    buttons.button(
        "Reject", key="review_reject", shortcut="N", disabled=off,
        on_click=_store, args=(ctx, record, "reject"),
        help="No plant of this species in view (false detection)",
    )  # fmt: skip
    buttons.button("Skip", key="review_skip", shortcut="S", on_click=_skip, args=(next_id,))
    done = st.session_state.get(_DONE_KEY) or []
    buttons.button(
        "Undo last review", key="review_undo", disabled=not done or not ctx.may_review,
        on_click=_undo, args=(ctx,),
        help="Take back this browser's last decision (a new review row; nothing is deleted)",
    )  # fmt: skip
    pending = st.session_state.get(_PENDING_KEY)
    if pending and pending[0] == sid:
        _, species, is_new = pending
        what = f"the new species {species}" if is_new else known.get(species, species)
        st.warning(f"Relabel this {row['species']} sighting as {what}?")
        ask = st.container(horizontal=True)
        ask.button(
            "Yes, relabel", key="review_relabel_yes", type="primary", disabled=off,
            on_click=_store, args=(ctx, record, "relabel", species),
        )  # fmt: skip
        ask.button("Cancel", key="review_relabel_no",
                   on_click=lambda: st.session_state.pop(_PENDING_KEY, None))  # fmt: skip
        return
    options = sorted((s for s in known if s != row["species"]), key=str.casefold)
    relabel = st.container(horizontal=True, vertical_alignment="bottom")
    relabel.selectbox(
        "Relabel as", options, index=None, key=f"relabel_{sid}", accept_new_options=True,
        placeholder="Choose or type a species", format_func=lambda s: known.get(s) or s,
    )  # fmt: skip
    relabel.button(
        "Relabel…", key="review_relabel", shortcut="L", disabled=off,
        on_click=_ask_relabel, args=(record, known),
        help="Asks for confirmation before anything is stored",
    )  # fmt: skip
    st.checkbox("New species (not yet in this file)", key=f"relabel_new_{sid}")


def _alternatives(db_path: Path, row: pd.Series, labels: Callable[[str], str]) -> None:
    """Raw (classifier) versus fused (after the range prior) scores over the sighting."""
    st.markdown("**What the classifier and the range prior said**")
    try:
        alts = load_alternatives(
            db_path, str(row["session_id"]), float(row["first_t"]), float(row["last_t"]),
            timeout_s=common.QUERY_TIMEOUT_S,
        )  # fmt: skip
    except FieldtoolError as exc:
        st.warning(f"Per-frame scores unavailable: {exc}")
        return
    if alts.empty:
        st.info("No per-frame scores stored for this sighting (store.detections was off).")
        return
    top = alts[(alts["fused_rank"] <= 3) | (alts["raw_rank"] <= 3)]
    table = pd.DataFrame(
        {
            "Species": [labels(sp) for sp in top["species"]],
            "Classifier": top["raw_mean"],
            "After range prior": top["fused_mean"],
            "Change": top["fused_mean"] - top["raw_mean"],
            "Rank": [f"{a} → {b}" for a, b in zip(top["raw_rank"], top["fused_rank"], strict=True)],
        }
    )
    st.dataframe(
        table, hide_index=True, key="review_alternatives",
        column_config={c: st.column_config.NumberColumn(format="%.2f")
                       for c in ("Classifier", "After range prior", "Change")},
    )  # fmt: skip
    st.caption(
        f"Mean score over the {int(alts['frames'].iloc[0])} analysed frames of the sighting "
        "(a frame where a species was not in the stored top-k counts as 0)."
    )
    changes = prior_changes(alts, str(row["species"]))
    for line in changes:
        st.warning(f"{line} If the snapshot shows it, relabel the sighting.")
    if not changes:
        st.caption("The range prior did not demote any of the classifier's top 3.")


def _strip(db_path: Path, row: pd.Series) -> None:
    """The frames kept over the sighting, side by side: a photo sequence's photos, or a
    video sighting's frames spread over its span."""
    strip = load_strip(db_path, str(row["sighting_id"]))
    shown = []
    for rel in strip.frames[:STRIP_MAX]:
        try:
            path = resolve_snapshot(db_path, rel)
        except FieldtoolError:
            continue
        if path.is_file():
            shown.append(str(path))
    if not shown:
        return
    what = (f"{len(shown)} of the sequence's {strip.event_photos} photos"
            if strip.event_photos else f"{len(shown)} frames over the sighting")  # fmt: skip
    st.caption(what)
    for column, image in zip(st.columns(len(shown)), shown, strict=True):
        column.image(image, width="stretch")


def _position(db_path: Path, row: pd.Series) -> None:
    if pd.isna(row["latitude"]) or pd.isna(row["longitude"]):
        st.info("No GPS position for this sighting.")
        return
    try:
        tracks = load_tracks(db_path, str(row["session_id"]), timeout_s=common.QUERY_TIMEOUT_S)
    except FieldtoolError:
        tracks = None
    deck = build_deck(row.to_frame().T, tracks)
    deck.initial_view_state = fit_view([(row["longitude"], row["latitude"])], max_zoom=16)
    deck.initial_view_state.max_zoom = 20
    st.pydeck_chart(deck, height=260)
    try:  # the camera's elevation, as the exports give it; the position stands without it
        elevation = elevation_text(next(with_elevations(
            db_path, row.to_frame().T, timeout_s=common.QUERY_TIMEOUT_S
        ).itertuples(index=False)))  # fmt: skip
    except FieldtoolError:
        elevation = ""
    place = f"{row['latitude']:.5f}, {row['longitude']:.5f}"
    st.caption(f"{place} · {elevation}" if elevation else place)


def _queue(ctx: common.Context) -> tuple[pd.DataFrame, int] | None:
    order = "newest"
    if _priority() is not None:
        order = st.radio("Order", list(QUEUE_ORDERS), format_func=QUEUE_ORDERS.get,
                         horizontal=True, key="review_order")  # fmt: skip
    page_no = int(st.session_state.get("review_queue_page", 1))
    try:
        ranked = None
        if order == "teach":
            mark = common.current_mark(ctx.db_path)[:2]
            with st.spinner("Ranking the queue (once per change of the sightings)…"):
                ranked = _ranked(str(ctx.db_path), mark)
        page, total = common.read(
            load_review_page, ctx.db_path, common.filters_or_all(ctx),
            offset=(page_no - 1) * QUEUE_PAGE, limit=QUEUE_PAGE, ranked=ranked,
        )  # fmt: skip
    except FieldtoolError as exc:
        st.error(f"Could not read the database: {exc}")
        return None
    pages = max(1, -(-total // QUEUE_PAGE))
    st.caption(
        f"{total:,} closed sightings without a review. The sidebar filters apply (review "
        "state aside); a review never changes the sighting itself."
    )
    if pages > 1:
        st.number_input(f"Queue page ({QUEUE_PAGE} a page, of {pages:,})", 1, pages,
                        key="review_queue_page")  # fmt: skip
    return page, total


@st.cache_resource(show_spinner=False)
def _learn_runner(folder: str) -> LearnRunner:
    """The server's one runner of ``fieldtool learn`` into ``folder`` (every browser's)."""
    return LearnRunner(Path(folder))


@common.guarded
def _start_learning(ctx: common.Context) -> None:
    model, folder = ctx.settings.learn_model, ctx.settings.learn_output
    if not ctx.may_review or model is None or folder is None:
        return
    try:
        job = _learn_runner(str(folder)).start(ctx.db_path, model, utc_now())
    except FieldtoolError as exc:
        st.session_state[_MESSAGE_KEY] = ("error", f"Learning not started: {exc}")
        return
    st.session_state[_MESSAGE_KEY] = ("success", f"Learning {job.out.name} in the background.")


def _learn_control(ctx: common.Context) -> None:
    """The "Learn a new model" control (reviewers only, when the server's config names the
    model and output folders): ``fieldtool learn`` in the background, its log's tail below."""
    model, folder = ctx.settings.learn_model, ctx.settings.learn_output
    if not ctx.may_review or model is None or folder is None:
        return
    runner = _learn_runner(str(folder))
    with st.expander("Learn a new model from the reviews"):
        st.caption(
            f"Runs `fieldtool learn` from {model.name} over this file's reviews; the new "
            f"model goes to {folder}, and only when it is not worse on held-out sessions."
        )
        running = runner.running()
        row = st.container(horizontal=True)
        row.button("Learn a new model", key="learn_start", disabled=running,
                   on_click=_start_learning, args=(ctx,))  # fmt: skip
        row.button("Show progress", key="learn_refresh")  # a rerun reads the log again
        job = runner.last()
        if job is None:
            return
        state = runner.state(job)
        lines = tail(job.log)
        if state == "running":
            st.info(f"Learning {job.out.name}…")
        elif state == "written":
            st.success(f"{job.out.name}: {lines[-1] if lines else 'written'}")
        else:
            st.warning(f"{job.out.name} not written: {lines[-1] if lines else 'no output'}")
        if lines:
            st.code("\n".join(lines), language=None)


def main() -> None:
    ctx = common.context()
    st.title("Review queue")
    if ctx.may_review:
        st.text_input("Reviewer name", key="reviewer", placeholder="Your name (needed to review)")
    else:
        st.info("Signed in as a viewer: you can look through the queue but not review.")
    common.show_callback_error()
    message = st.session_state.pop(_MESSAGE_KEY, None)
    if message:
        (st.success if message[0] == "success" else st.error)(message[1])
    _learn_control(ctx)
    found = _queue(ctx)
    if found is None:
        return
    queue, total = found
    colours, labels = common.species_colours(ctx.db_path)
    known = {sp: labels(sp) for sp in common.known_species(ctx.db_path)}
    if queue.empty:
        st.info("Nothing to review: every closed sighting that matches the filters has a review.")
        if st.session_state.get(_DONE_KEY):
            st.button("Undo last review", key="review_undo_empty", on_click=_undo, args=(ctx,))
        return
    rows = {row.sighting_id: row for row in queue.itertuples(index=False)}
    ids = list(rows)
    if st.session_state.get("review_pick") not in rows:
        st.session_state.pop("review_pick", None)
    pick = st.selectbox(
        "Sighting", ids, format_func=lambda s: common.sighting_label(rows[s]), key="review_pick"
    )
    row = queue.iloc[ids.index(pick)]
    title = labels(str(row["species"]))
    r, g, b = colours(str(row["species"]))
    st.markdown(
        f'<span style="color:rgb({r},{g},{b});font-size:1.4em">&#9679;</span> '
        f"**{title}** · peak {common.score_text(row['peak_score'])} · "
        f"{pd.Timestamp(row['first_seen']):%Y-%m-%d %H:%M:%S} {common.time_zone_text(row)}",
        unsafe_allow_html=True,
    )
    if "reasons" in row and isinstance(row["reasons"], str) and row["reasons"]:
        st.caption(f"Why here: {row['reasons']}.")
    if not _reviewer() and ctx.may_review:
        st.caption("Enter your name above to review.")
    next_id = ids[(ids.index(pick) + 1) % len(ids)]
    _decisions(ctx, row, known, next_id)
    st.text_input("Note (optional)", key=f"note_{pick}")
    st.caption("Keys: Y confirm · N reject · L relabel (asks first) · S skip.")
    common.show_snapshot(ctx.db_path, row["snapshot_path"], str(row["species"]), "stretch")
    _strip(ctx.db_path, row)
    st.markdown(
        f"{float(row['duration_s']):.1f} s, {int(row['frames'])} analysed frames, mean score "
        f"{common.score_text(row['mean_score'])} · session `{row['session_id']}` · "
        f"sighting `{row['sighting_id']}`"
    )
    left, right = st.columns([1, 1])
    with left:
        _alternatives(ctx.db_path, row, labels)
    with right:
        _position(ctx.db_path, row)


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
