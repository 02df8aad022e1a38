"""The README's main job: the offline demo, end to end, scored against its ground truth."""

from __future__ import annotations

import pytest

from fieldtool.cli import DEMO_DATA, DEMO_REGIONS, main
from fieldtool.config import Config
from fieldtool.evaluate import evaluate_session, read_truth
from fieldtool.store import query


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    assert main(["demo", "--db", str(db), "--quiet"]) == 0
    return db


def test_demo_writes_finished_sessions_with_placed_sightings(demo_db):
    sessions = query(demo_db, "SELECT session_id, status, frames_analysed FROM sessions")
    assert len(sessions) == len(DEMO_REGIONS) and (sessions.status == "finished").all()
    rows = query(demo_db, "SELECT * FROM sightings")
    assert len(rows) >= 10 and (rows.status == "closed").all()
    assert rows.latitude.notna().all() and rows.snapshot_path.notna().all()
    assert query(demo_db, "SELECT count(*) FROM track").iloc[0, 0] > 100


@pytest.mark.parametrize("region", DEMO_REGIONS)
def test_smoothing_and_prior_beat_raw_predictions(demo_db, region):
    source = str(DEMO_DATA / f"walk_{region}.mp4")
    row = query(demo_db, "SELECT session_id, config_json FROM sessions WHERE source = ?", [source])
    config = Config.model_validate_json(row.config_json[0])
    truth = read_truth(DEMO_DATA / f"walk_{region}_truth.csv")
    scores = {
        s.name: s for s in evaluate_session(demo_db, row.session_id[0], truth, config.smoothing)
    }
    assert scores["smoothed+prior"].f1 > scores["raw"].f1
    assert scores["smoothed+prior"].f1 >= 0.8
    assert scores["smoothed+prior"].frame_top1 > scores["raw"].frame_top1


def test_running_the_demo_again_replaces_its_sessions(demo_db):
    before = query(demo_db, "SELECT count(*) FROM sightings").iloc[0, 0]
    assert main(["demo", "--db", str(demo_db), "--quiet"]) == 0
    assert query(demo_db, "SELECT count(*) FROM sessions").iloc[0, 0] == len(DEMO_REGIONS)
    assert query(demo_db, "SELECT count(*) FROM sightings").iloc[0, 0] == before
