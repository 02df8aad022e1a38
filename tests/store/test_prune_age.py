"""``fieldtool prune`` ages detections by when they were written into the file, not by when
their frames were recorded: last season's SD cards imported today keep theirs."""

from __future__ import annotations

from datetime import timedelta

from fieldtool.store import SightingStore, prune_detections, query
from fieldtool.timebase import utc_now
from fieldtool.types import SessionInfo

TOP = (["Acer rubrum"], [0.9])


def _detections(store: SightingStore, session: str, times) -> None:
    for i, when in enumerate(times):
        store.record_detection(session, i, float(i), when, None, TOP, TOP)


def _counts(db) -> dict[str, int]:
    rows = query(db, "SELECT session_id, count(*) AS n FROM detections GROUP BY ALL")
    return dict(zip(rows.session_id, rows.n, strict=True))


def test_an_old_recording_processed_now_is_kept_one_processed_long_ago_is_pruned(tmp_path):
    now = utc_now()
    recorded = now - timedelta(days=400)  # last season's cards
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    # imported minutes ago
    store.record_session(SessionInfo("today", "/sd/last_season.mp4", "m", now - timedelta(minutes=9),
                                     ended_at=now - timedelta(minutes=5), status="finished"))  # fmt: skip
    # the same kind of footage, processed 200 days ago
    store.record_session(SessionInfo("then", "/sd/older.mp4", "m", now - timedelta(days=200),
                                     ended_at=now - timedelta(days=200) + timedelta(hours=1),
                                     status="finished"))  # fmt: skip
    _detections(store, "today", [recorded + timedelta(seconds=s) for s in range(5)])
    _detections(store, "then", [recorded + timedelta(seconds=s) for s in range(3)])
    store.close()
    assert prune_detections(db, 90, now=now) == 3
    assert _counts(db) == {"today": 5}  # what eval and learn need is still there
    assert prune_detections(db, 90, now=now) == 0


def test_a_live_session_ages_by_its_frames_while_it_runs(tmp_path):
    """A station's stream, running for 200 days: its frames are stamped as they arrive,
    so its old detections go and the recent ones stay."""
    now = utc_now()
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    started = now - timedelta(days=200)
    store.record_session(SessionInfo("cam", "rtsp://cam/1", "m", started))  # running
    _detections(store, "cam", [started + timedelta(days=d, seconds=1) for d in range(0, 200, 10)])
    store.close()
    assert prune_detections(db, 90, now=now) == 11  # days 0..100 are older than 90 days
    left = query(db, "SELECT min(time) AS t FROM detections").t[0].to_pydatetime()
    assert now - left < timedelta(days=90)


def test_detections_without_a_session_row_are_kept(tmp_path):
    """Their age in the file is not known: nothing is deleted that may be new."""
    now = utc_now()
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    _detections(store, "gone", [now - timedelta(days=300)])
    store.close()
    assert prune_detections(db, 90, now=now) == 0
    assert _counts(db) == {"gone": 1}


def test_the_help_says_which_age(capsys):
    import argparse

    from fieldtool.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["prune"].format_help()
    assert "written" in text and "recorded" in text
