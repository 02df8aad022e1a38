"""A review made on the dashboard reaches the station's targets (notify_review)."""

from __future__ import annotations

from datetime import datetime

from fieldtool.station import notify_review
from fieldtool.store import SightingStore, add_review
from fieldtool.types import SessionInfo, Sighting

from ..notify.test_webhook import hook  # noqa: F401 (fixture)


def test_a_review_is_sent_with_the_sighting_and_the_decision(tmp_path, hook):  # noqa: F811
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    session = SessionInfo("sess1", "http://cam/1", "m", datetime(2026, 5, 1, 6),
                          source_name="feeder")  # fmt: skip
    store.record_session(session)
    store.record_sighting(Sighting("sid1", "sess1", "Acer rubrum", "red maple",
                                   datetime(2026, 5, 1, 6, 0), datetime(2026, 5, 1, 6, 1),
                                   0.0, 60.0, frames=4, peak_score=0.9, score_sum=3.2,
                                   status="closed"))  # fmt: skip
    store.close()
    review_id = add_review(db, "sid1", "relabel", reviewer="ana", species="Quercus alba")
    target = hook()
    path = tmp_path / "station.toml"
    path.write_text(f'[station]\nname = "ridge"\n[store]\ndb = "{db.as_posix()}"\n'
                    f'[notify]\ndashboard_url = "http://127.0.0.1:8501"\n'
                    f'[[notify.webhooks]]\nurl = "{target.url}"\n'
                    '[[sources]]\nname = "feeder"\nuri = "http://cam/1"\n')  # fmt: skip
    assert notify_review(path, review_id) == 1
    body = target.bodies[0]
    assert body["event"] == "review" and body["sighting_id"] == "sid1"
    assert body["source"] == "feeder" and body["species"] == "Acer rubrum"
    assert body["review"]["decision"] == "relabel" and body["review"]["species"] == "Quercus alba"
    assert body["review"]["reviewer"] == "ana"
    assert body["scores"]["peak"] == 0.9 and abs(body["scores"]["mean"] - 0.8) < 1e-9
