"""Live session page: what a running ``fieldtool run`` has analysed so far, refreshing itself.

Reads only what the session already writes (sessions, detections, sightings), one short
read-only query at a time, so it never holds the file for the writer.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from fieldtool.dashboard.data import analysis_rate, load_live, recent_cutoff
from fieldtool.dashboard.screens import common
from fieldtool.dashboard.summaries import sightings_table
from fieldtool.station.config import source_names
from fieldtool.types import FieldtoolError


def _top(species: object, scores: object) -> str:
    names = [] if species is None else list(species)  # type: ignore[call-overload]
    values = [] if scores is None else list(scores)  # type: ignore[call-overload]
    pairs = list(zip(names, values, strict=False))[:3]
    return ", ".join(f"{s} {float(p):.2f}" for s, p in pairs) or "none"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{max(seconds, 0):.0f} s ago"


def _age_s(when: object, now: datetime) -> float | None:
    """Seconds from an ISO time (a station's, UTC) to ``now``; None without one."""
    try:
        then = datetime.fromisoformat(str(when).removesuffix("Z"))
    except ValueError:
        return None
    return (now.replace(tzinfo=None) - then).total_seconds()


def show_stations(db_path: Path, now: datetime) -> bool:
    """Every station running into this file (each its own status file), each with every
    source on one screen. False: no station runs."""
    from fieldtool.station import running_statuses  # light: the status files only

    statuses = running_statuses(db_path, now.replace(tzinfo=None))
    for status in statuses:
        show_station(db_path, now, status)
    return bool(statuses)


def show_station(db_path: Path, now: datetime, status: dict[str, Any]) -> None:
    """A running station's sources (its status): newest frame, rate, lag, dropped,
    reconnects, last sighting, and their newest frames."""
    worker = status.get("worker", {})
    st.subheader(f"Station {status.get('station', '')}")
    st.caption(
        f"One model for {len(status.get('sources', []))} sources: {worker.get('frames', 0)} "
        f"frames in {worker.get('batches', 0)} batches (mean {worker.get('mean_batch', 0)}, "
        f"at most {worker.get('max_batch', '?')}, waits up to {worker.get('max_wait_ms', '?')} "
        f"ms) · notifications sent {status.get('notify', {}).get('sent', 0)}, pending "
        f"{status.get('notify', {}).get('pending', 0)}"
    )
    rows = []
    for src in status.get("sources", []):
        last = src.get("last_sighting") or {}
        rows.append({
            "Source": src.get("name"), "Status": src.get("status"),
            "Newest frame": _ago(_age_s(src.get("newest_frame_at"), now)),
            "Rate (/s)": src.get("rate_fps"), "Lag (s)": src.get("lag_s"),
            "Lag p95 (s)": src.get("lag_p95_s"), "Dropped": src.get("dropped"),
            "Reconnects": src.get("reconnects"), "Gaps": src.get("gaps"),
            "Clock steps": src.get("clock_steps"),
            "Open": src.get("open_sightings"),
            "Last sighting": f"{last.get('species', '')} ({last.get('event', '')})" if last else "",
        })  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 key=f"station_sources_{status.get('status_file', '')}")  # fmt: skip
    frames = []
    for src in status.get("sources", []):
        latest = Path(str(src.get("latest_jpeg") or ""))
        inside = latest.resolve().is_relative_to(db_path.resolve().parent)
        if src.get("latest_jpeg") and inside and latest.is_file():
            frames.append((str(latest), str(src.get("name"))))
    for start in range(0, len(frames), 4):  # four newest frames a row
        for column, (image, name) in zip(st.columns(4), frames[start : start + 4], strict=False):
            column.image(image, caption=name, width="stretch")


def show_live(db_path: Path, minutes: float, refresh_s: float | None) -> None:
    """Running sessions with their counters and newest frame, and the recent sightings; a
    running station's sources first, on one screen."""
    now = datetime.now(timezone.utc)
    station = show_stations(db_path, now)
    try:
        sessions, newest, recent = load_live(
            db_path, since=recent_cutoff(now, minutes), timeout_s=common.QUERY_TIMEOUT_S
        )
    except FieldtoolError as exc:
        st.warning(f"Could not read the database: {exc}. Retrying at the next refresh.")
        return
    every = f", refreshing every {refresh_s:g} s" if refresh_s else ""
    st.caption(f"Read at {now:%H:%M:%S} UTC{every}.")
    if sessions.empty and not station:
        st.info("No session is running. Start one with `fieldtool run`; it shows here at once.")
    naive_now = now.replace(tzinfo=None)
    for row in sessions.itertuples(index=False):
        named = isinstance(row.source_name, str) and row.source_name  # a station's source
        st.subheader(str(row.source_name) if named else source_names([str(row.source)])[0])
        st.caption(
            f"Session `{row.session_id}` · model {row.model_id} · host {row.host or '?'} · started "
            f"{pd.Timestamp(row.started_at):%Y-%m-%d %H:%M:%S} UTC · {row.status} · times from "
            f"{row.time_source}, {common.time_zone_text(row)}"
        )
        rate = analysis_rate(row)
        age = (
            (naive_now - pd.Timestamp(row.last_frame_at).to_pydatetime()).total_seconds()
            if not pd.isna(row.last_frame_at)
            else None
        )
        cols = st.columns(4)
        cols[0].metric("Frames analysed", int(row.frames_logged), help="Per-frame rows written")
        cols[1].metric("Analysis rate", f"{rate:.1f} /s" if rate else "–")
        cols[2].metric("Last frame", _ago(age))
        cols[3].metric(
            "Frames dropped", int(row.frames_dropped or 0), help="Stale live frames skipped"
        )
        latest = db_path.parent / f"{db_path.stem}_snapshots" / str(row.session_id) / "latest.jpg"
        if latest.is_file():  # written by the session about once a second
            st.image(str(latest), caption="Newest analysed frame", width=480)
        frame = newest[newest["session_id"] == row.session_id]
        if frame.empty:
            st.caption("No analysed frame written yet.")
            continue
        last = frame.iloc[0]
        fix = (
            f"GPS fix {last['latitude']:.5f}, {last['longitude']:.5f}"
            if not pd.isna(last["latitude"])
            else "no GPS fix"
        )
        st.markdown(
            f"Newest frame: media time {float(last['t']):.1f} s, {fix}  \n"
            f"Classifier: {_top(last['raw_species'], last['raw_scores'])}  \n"
            f"After range prior: {_top(last['fused_species'], last['fused_scores'])}"
        )
    st.subheader(f"Sightings opened in the last {minutes:g} min")
    if recent.empty:
        st.caption("None yet.")
        return
    st.dataframe(
        sightings_table(recent.assign(review=None)),
        hide_index=True,
        key="live_recent",
        column_config={
            "First seen (UTC)": st.column_config.DatetimeColumn(format="HH:mm:ss"),
            "Last seen (UTC)": st.column_config.DatetimeColumn(format="HH:mm:ss"),
            "Peak score": st.column_config.NumberColumn(format="%.2f"),
            "Mean score": st.column_config.NumberColumn(format="%.2f"),
        },
    )


def main() -> None:
    ctx = common.context()
    st.title("Live session")
    minutes = st.sidebar.number_input(
        "Sightings opened in the last (min)", 1, 1440, 10, 1, key="live_minutes"
    )
    refresh_s = common.refresh_controls("live", ctx, default_s=2)
    st.fragment(run_every=refresh_s)(common.safe(show_live))(ctx.db_path, float(minutes), refresh_s)


if __name__ == "__main__":  # run by st.navigation; importing has no effect
    main()
