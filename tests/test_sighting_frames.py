"""A sighting's ``frames``, ``mean_score`` and peak: every analysed frame from its first_t to
its last_t (the frames while it was a candidate, a bridged dip below exit included; not the
gap that ended it), so the stored row, the detections in its span and the exports agree."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from fieldtool.config import Config, SmoothingConfig
from fieldtool.smoothing import SightingTracker
from fieldtool.types import Frame, FrameResult, Label, LabelSet, Position, Sighting

T0 = datetime(2026, 6, 1, 9, 0, 0)
IMG = np.zeros((2, 2, 3), np.uint8)


def _results(scores: list[float], dt: float = 0.2) -> list[FrameResult]:
    """Species-0 scores (the rest background) as smoothed frame results, ``dt`` s apart."""
    out = []
    for i, s in enumerate(scores):
        probs = np.array([s, 0.0, 0.0, 1.0 - s], np.float32)
        frame = Frame(i, i * dt, T0 + timedelta(seconds=i * dt), IMG)
        out.append(
            FrameResult(frame, raw=probs, smoothed=probs, position=Position(44.0, -123.0 + i))
        )
    return out


def _closed(labels: LabelSet, cfg: SmoothingConfig, results: list[FrameResult]) -> list[Sighting]:
    tracker = SightingTracker(labels, cfg, session_id="s")
    events = [e for r in results for e in tracker.update(r)] + tracker.finish()
    return [e.sighting for e in events if e.kind == "end"]


def _in_span(sighting: Sighting, results: list[FrameResult]) -> list[FrameResult]:
    return [r for r in results if sighting.first_t <= r.frame.t <= sighting.last_t]


def test_the_frames_while_a_candidate_count_toward_the_sighting(labels):
    """min_duration_s 1 s at 5 frames/s: the five frames before it opened are its frames."""
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=1.0, max_gap_s=1.0)
    results = _results([0.1] * 5 + [0.8] * 10 + [0.1] * 10)
    (s,) = _closed(labels, cfg, results)
    assert s.first_t == pytest.approx(1.0) and s.last_t == pytest.approx(2.8)
    assert s.frames == 10 == len(_in_span(s, results))  # t = 1.0 .. 2.8, not 2.0 .. 2.8
    assert s.mean_score == pytest.approx(0.8)


def test_a_bridged_dip_counts_and_the_gap_that_ends_it_does_not(labels):
    """Frames below exit inside the span (a dip it outlasted) are its frames, with their
    scores in the mean; the frames below exit after last_t (the gap that closed it) are not."""
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=0.4, max_gap_s=1.0)
    results = _results([0.9] * 8 + [0.1] * 3 + [0.9] * 8 + [0.0] * 10)
    (s,) = _closed(labels, cfg, results)
    assert s.first_t == pytest.approx(0.0) and s.last_t == pytest.approx(18 * 0.2)
    assert s.frames == 19 == len(_in_span(s, results))
    assert s.score_sum == pytest.approx(16 * 0.9 + 3 * 0.1, rel=1e-6)
    assert s.mean_score == pytest.approx((16 * 0.9 + 3 * 0.1) / 19, rel=1e-6)


def test_a_peak_while_a_candidate_is_the_sightings_peak(labels):
    """The best frame came before the sighting opened: its peak, place and snapshot frame
    are that frame's, and the mean is no higher than the peak."""
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=0.6, max_gap_s=0.0)
    results = _results([0.1, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.1, 0.1])
    tracker = SightingTracker(labels, cfg, session_id="s")
    events = [e for r in results for e in tracker.update(r)] + tracker.finish()
    start = next(e for e in events if e.kind == "start")
    assert start.sighting.peak_score == pytest.approx(0.95)  # already at the start event
    assert start.frame is not None and start.frame.index == 1  # its snapshot: the peak frame
    end = events[-1]
    s = end.sighting
    assert end.kind == "end" and end.frame is not None and end.frame.index == 1
    assert s.peak_score == pytest.approx(0.95) and s.peak_t == pytest.approx(0.2)
    assert s.longitude == pytest.approx(-123.0 + 1)  # position at the peak frame
    assert s.frames == 6 and s.mean_score <= s.peak_score


def _walk_labels() -> LabelSet:
    names = ["Acer rubrum", "Acer saccharum", "Acer negundo", "Quercus alba", "Quercus rubra",
             "Pinus taeda", "Pinus strobus", "Betula nigra"]  # fmt: skip
    return LabelSet(tuple(Label(i, n) for i, n in enumerate(names))
                    + (Label(len(names), "background", is_background=True),))  # fmt: skip


@pytest.mark.parametrize("genus_level", [False, True])
def test_every_sighting_counts_exactly_the_analysed_frames_of_its_span(genus_level):
    """Random rising and falling scores with dips and candidates that fail: at every event
    (the open rows a live session writes too) a sighting's frames are the frames in its
    span so far, its score sum their scores' sum, its peak their maximum."""
    labels = _walk_labels()
    cfg = SmoothingConfig(enter=0.45, exit=0.15, min_duration_s=0.6, max_gap_s=0.5,
                          genus_level=genus_level)  # fmt: skip
    rng = np.random.default_rng(5)
    n, classes = 1200, len(labels)
    steps = rng.normal(0, 0.08, size=(n, classes)).cumsum(axis=0)
    smoothed = np.clip(np.sin(steps * 3) * 0.55, 0, None).astype(np.float32)
    ts = np.cumsum(rng.choice([0.1, 0.2, 0.7], size=n)).tolist()
    results = [FrameResult(Frame(i, ts[i], T0 + timedelta(seconds=ts[i]), IMG),
                           raw=smoothed[i], smoothed=smoothed[i]) for i in range(n)]  # fmt: skip
    tracker = SightingTracker(labels, cfg)
    seen = []  # (event kind, frames so far, sighting numbers at the event)
    for i, r in enumerate(results):
        for e in tracker.update(r):
            seen.append((e.kind, i, e.sighting, e.sighting.frames, e.sighting.score_sum,
                         e.sighting.peak_score, e.sighting.first_t, e.sighting.last_t))  # fmt: skip
    seen += [(e.kind, n - 1, e.sighting, e.sighting.frames, e.sighting.score_sum,
              e.sighting.peak_score, e.sighting.first_t, e.sighting.last_t)
             for e in tracker.finish()]  # fmt: skip
    assert sum(k == "end" for k, *_ in seen) >= 10  # the test has teeth
    bridged = 0
    for kind, upto, s, frames, score_sum, peak, first_t, last_t in seen:
        members = [i for i, label in enumerate(labels.labels)
                   if label.species.split(" ")[0] == s.species.removesuffix(" sp.")
                   and not label.is_background] if s.rank == "genus" else \
            [labels.species.index(s.species)]  # fmt: skip
        span = smoothed[[i for i in range(upto + 1) if first_t <= ts[i] <= last_t]][:, members]
        scores = span.sum(axis=1)
        assert frames == len(scores), (kind, s.species, first_t, last_t)
        assert score_sum == pytest.approx(float(scores.sum()), rel=1e-5, abs=1e-6)
        assert peak == pytest.approx(float(scores.max()), rel=1e-6)
        bridged += kind == "end" and bool((scores < cfg.exit).any())
    assert bridged >= 1  # some sighting outlasted a dip below exit


def test_stored_rows_agree_with_the_detections_in_their_span_and_the_exports(tmp_path,
                                                                            colour_classifier):  # fmt: skip
    """A run's sighting rows: frames = the detections stored in [first_t, last_t] (what the
    dashboard's review page counts), and the Darwin Core remark says that number."""
    from fieldtool.dashboard.reviews import load_alternatives
    from fieldtool.export import dwc_rows, load_occurrences
    from fieldtool.pipeline import run_session
    from fieldtool.sources import VideoSource
    from fieldtool.store import SightingStore, query
    from fieldtool.tracks import FixedPosition
    from tests.conftest import write_video

    video = write_video(tmp_path / "walk.avi", [(3, 1.0), (0, 3.0), (3, 2.0), (1, 3.0), (3, 1.0)])
    db = tmp_path / "s.duckdb"
    cfg = Config()
    cfg.smoothing = SmoothingConfig(tau_s=0.3, enter=0.5, exit=0.3, min_duration_s=0.5,
                                    max_gap_s=0.5)  # fmt: skip
    cfg.store.db = db
    cfg.source.sample_fps = 10.0
    run_session(VideoSource(str(video), sample_fps=10, start_time=T0), colour_classifier,
                SightingStore(db), cfg, positions=FixedPosition(44.5, -123.3))  # fmt: skip
    rows = query(
        db,
        "SELECT g.sighting_id, g.session_id, g.first_t, g.last_t, g.frames, "
        "(SELECT count(*) FROM detections d WHERE d.session_id = g.session_id "
        "AND d.t BETWEEN g.first_t AND g.last_t) AS n FROM sightings g ORDER BY first_t",
    )
    assert len(rows) == 2
    assert rows.frames.tolist() == rows.n.tolist()
    for row in rows.itertuples():
        alts = load_alternatives(db, row.session_id, row.first_t, row.last_t)
        assert int(alts["frames"].iloc[0]) == row.frames  # "over the N analysed frames"
    remarks = {r["occurrenceID"][-36:].replace("-", ""): r["identificationRemarks"]
               for r in dwc_rows(load_occurrences(db))}  # fmt: skip
    for row in rows.itertuples():
        assert remarks[row.sighting_id].endswith(f"over {row.frames} frames")


def test_a_station_notice_gives_the_scores_of_the_peak_frame(tmp_path, labels):
    """The peak came while the sighting was a candidate: the start notice's raw and fused
    scores are that frame's (docs: at the peak frame), as its peak score is."""
    from fieldtool.notify import Notice
    from fieldtool.station.feed import StationStep
    from fieldtool.store import SightingStore
    from fieldtool.types import SessionInfo

    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    session = SessionInfo("sess", "rtsp://cam", "m", T0)
    store.record_session(session)
    cfg = Config()
    cfg.store.db = db
    cfg.store.snapshots = False
    cfg.smoothing = SmoothingConfig(tau_s=0.0, enter=0.5, exit=0.3, min_duration_s=0.6,
                                    max_gap_s=0.0)  # fmt: skip
    notices: list[Notice] = []
    step = StationStep.for_session(session, store, cfg, labels, tell=notices.append,
                                   station="ridge", source_name="cam")  # fmt: skip
    for r in _results([0.1, 0.95, 0.9, 0.85, 0.8, 0.7, 0.1, 0.1]):
        assert r.raw is not None
        step.step(r.frame, r.raw, r.raw[None, :])
    store.close()
    start = next(n for n in notices if n.event == "start")
    assert start.scores.peak == pytest.approx(0.95)
    assert start.scores.raw == pytest.approx(0.95) and start.scores.fused == pytest.approx(0.95)
    end = next(n for n in notices if n.event == "end")
    assert end.scores.raw == pytest.approx(0.95)
