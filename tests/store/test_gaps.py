"""Schema 6: outages of a source (``source_gaps``), why a session ended
(``sessions.end_reason``), and effort without the time a camera was away."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from fieldtool.store import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION, SightingStore, query
from fieldtool.types import SessionInfo, SessionStatus, Sighting

T0 = datetime(2026, 6, 1, 9)


def make_v5_file(db) -> None:
    """A file as fieldtool wrote it at schema 5, with a session, a sighting, track, detections."""
    con = duckdb.connect(str(db))
    con.execute(SCHEMA_V1)
    for migrate in MIGRATIONS[:4]:
        migrate(con)
    con.execute("INSERT INTO meta VALUES ('schema_version', '5')")
    con.execute(
        "INSERT INTO sessions (session_id, source, model_id, host, started_at, ended_at, status, "
        "frames_analysed, time_source, time_zone, time_zone_known) VALUES "
        "('old', 'cam0', 'm', 'h', ?, ?, 'finished', 3, 'wall-clock', 'UTC', true)",
        [T0, T0 + timedelta(minutes=1)],
    )
    con.execute(
        "INSERT INTO sightings (sighting_id, session_id, species, first_seen, last_seen, first_t, "
        "last_t, status) VALUES ('s1', 'old', 'Acer rubrum', ?, ?, 1, 2, 'closed')",
        [T0, T0],
    )
    con.execute("INSERT INTO track (session_id, time, t, latitude, longitude) VALUES "
                "('old', ?, 0, 44.5, -123.3)", [T0])  # fmt: skip
    con.execute("INSERT INTO detections (session_id, frame_index, t, time) VALUES "
                "('old', 0, 0.0, ?), ('old', 1, 60.0, ?)", [T0, T0])  # fmt: skip
    con.close()


def test_a_v5_file_is_migrated_to_the_current_version_and_keeps_its_rows(tmp_path):
    db = tmp_path / "old.duckdb"
    make_v5_file(db)
    logs: list[str] = []
    SightingStore(db, log=logs.append).close()
    assert logs == [f"{db}: schema upgraded from version 5 to {SCHEMA_VERSION}"]
    session = query(db, "SELECT * FROM sessions").iloc[0]
    assert session.session_id == "old" and session.status == "finished"
    assert session.end_reason is None and session.frames_analysed == 3
    assert query(db, "SELECT sighting_id FROM sightings").sighting_id.tolist() == ["s1"]
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 2
    assert query(db, "SELECT count(*) FROM track").iloc[0, 0] == 1
    gaps = query(db, "SELECT column_name, data_type FROM duckdb_columns() "
                     "WHERE table_name = 'source_gaps' ORDER BY column_index")  # fmt: skip
    assert gaps.values.tolist() == [
        ["session_id", "VARCHAR"], ["start_t", "DOUBLE"], ["end_t", "DOUBLE"],
        ["started_at", "TIMESTAMP"], ["ended_at", "TIMESTAMP"], ["reason", "VARCHAR"]]  # fmt: skip
    assert query(db, "SELECT surveyed_s FROM effort").surveyed_s[0] == 60.0


def effort_of(db, session_id: str) -> float:
    return float(
        query(db, "SELECT surveyed_s FROM effort WHERE session_id = ?", [session_id]).surveyed_s[0]
    )


def test_effort_leaves_out_the_time_the_source_was_gone(tmp_path):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    for session_id in ("cam", "steady"):
        store.record_session(SessionInfo(session_id, "rtsp://cam", "m", T0))
        for i in range(11):  # frames every 10 s over 100 s of media time
            store.record_detection(session_id, i, 10.0 * i, T0 + timedelta(seconds=10 * i), None,
                                   (["a"], [0.5]), (["a"], [0.5]))  # fmt: skip
    store.record_gap("cam", 30.0, 50.0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=50),
                     "stream lost")  # fmt: skip
    store.record_gap("cam", 90.0, 130.0, T0 + timedelta(seconds=90), None, "stream lost")
    ended = SessionInfo("cam", "rtsp://cam", "m", T0, status=SessionStatus.STREAM_LOST,
                        ended_at=T0 + timedelta(seconds=130), end_reason="no frames for 40 s")  # fmt: skip
    store.record_session(ended)
    store.close()
    assert effort_of(db, "steady") == 100.0
    # 100 s of frames less the first gap (20 s) and the part of the second inside them (10 s)
    assert effort_of(db, "cam") == pytest.approx(100.0 - 20.0 - 10.0)
    row = query(db, "SELECT status, end_reason FROM sessions WHERE session_id = 'cam'").iloc[0]
    assert row.status == "stream_lost" and row.end_reason == "no frames for 40 s"
    gaps = query(db, "SELECT start_t, end_t, reason FROM source_gaps ORDER BY start_t")
    assert gaps.values.tolist() == [[30.0, 50.0, "stream lost"], [90.0, 130.0, "stream lost"]]
    gap_s = query(db, "SELECT gap_s FROM effort WHERE session_id = 'cam'").gap_s[0]
    assert gap_s == pytest.approx(30.0)


def test_a_gap_is_buffered_like_track_points(tmp_path):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_gap("cam", 1.0, 2.0, T0, T0 + timedelta(seconds=1), "decoder error")
    assert store.pending_rows == 1
    assert query(db, "SELECT count(*) FROM source_gaps").iloc[0, 0] == 0
    store.record_sighting(Sighting("s1", "cam", "Acer rubrum", "", T0, T0, 0.0, 1.0, 3, 0.9, 2.4))
    assert store.flush().written
    assert query(db, "SELECT count(*) FROM source_gaps").iloc[0, 0] == 1


def test_forgetting_a_source_forgets_its_gaps_too(tmp_path):
    """`replace_earlier` (the demo) left the gap rows of the sessions it deleted."""
    from datetime import datetime

    from fieldtool.store import SightingStore, connect, query
    from fieldtool.store.maintenance import forget_source
    from fieldtool.types import SessionInfo

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    when = datetime(2026, 6, 1, 9)
    store.record_session(SessionInfo("a", "cam", "m", when))
    store.record_gap("a", 1.0, 2.0, when, when, "gone")
    store.close()
    with connect(db, read_only=False) as con:
        assert forget_source(con, "cam") == ["a"]
    assert query(db, "SELECT count(*) FROM source_gaps").iloc[0, 0] == 0
