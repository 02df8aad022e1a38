"""A sighting's strip on the review page: the frames kept over it (a photo sequence's
photos, or a video sighting's frames), in media-time order."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from fieldtool.dashboard.reviews import load_strip
from fieldtool.store import SightingStore
from fieldtool.types import SessionInfo, SessionStatus, Sighting

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "streamlit_app.py"
T0 = datetime(2021, 4, 11, 18, 43)


@pytest.fixture
def photo_db(tmp_path: Path) -> Path:
    """One photo session: a sighting over 3 photos of sequence e1 (a 4th photo is e2)."""
    db = tmp_path / "traps.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("s", "traps/", "m", T0, status=SessionStatus.FINISHED))
    sighting = Sighting("g1", "s", "Vulpes vulpes", "red fox", T0, T0 + timedelta(seconds=4),
                        0.0, 4.0, frames=3, peak_score=0.9, status="closed", event_id="e1")  # fmt: skip
    store.record_sighting(sighting)
    folder = store.snapshot_dir("s") / "learn"
    folder.mkdir(parents=True)
    for i, event in enumerate(["e1", "e1", "e1", "e2"]):
        store.record_media("s", i, f"traps/IMG_{i}.JPG", T0 + timedelta(seconds=2 * i),
                           event_id=event)  # fmt: skip
    for i in (2, 0, 1):  # kept in any order: shown by media time
        image = np.full((60, 80, 3), 40 * i, np.uint8)
        cv2.imwrite(str(folder / f"g1_{i}.jpg"), image)
        rel = (folder / f"g1_{i}.jpg").relative_to(db.parent).as_posix()
        store.record_sighting_frame("g1", "s", i, 2.0 * i, rel, f"{i:064x}")
    store.close()
    return db


def test_the_strip_is_the_kept_frames_in_time_order_with_the_sequence_size(photo_db):
    strip = load_strip(photo_db, "g1")
    assert [Path(p).name for p in strip.frames] == ["g1_0.jpg", "g1_1.jpg", "g1_2.jpg"]
    assert strip.event_photos == 3  # e1's photos, not e2's
    assert load_strip(photo_db, "other").frames == ()


def test_the_review_page_shows_the_strip(photo_db, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FIELDTOOL_DB", str(photo_db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at = at.switch_page("fieldtool/dashboard/screens/review.py").run()
    assert not at.exception
    assert len(at.image) >= 3  # the three kept photos (no snapshot stored)
    assert any("3 of the sequence's 3 photos" in c.value for c in at.caption)
