from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from fieldtool.config import SmoothingConfig
from fieldtool.smoothing import SightingTracker, TemporalSmoother
from fieldtool.types import Frame, FrameResult, Position

T0 = datetime(2026, 6, 1, 9, 0, 0)
IMG = np.zeros((2, 2, 3), np.uint8)


def run_scores(labels, cfg, scores, dt=0.2):
    """Feed species-0 scores (rest to background) at dt spacing; return all events."""
    tracker = SightingTracker(labels, cfg, session_id="s")
    events = []
    for i, s in enumerate(scores):
        probs = np.array([s, 0.0, 0.0, 1.0 - s], np.float32)
        frame = Frame(i, i * dt, T0 + timedelta(seconds=i * dt), IMG)
        result = FrameResult(frame, raw=probs, smoothed=probs, position=Position(44.0, -123.0 + i))
        events += tracker.update(result)
    events += tracker.finish()
    return events


def test_ema_passthrough_when_tau_zero():
    sm = TemporalSmoother(0.0)
    a = sm.update(np.array([1.0, 0.0]), 0.0)
    b = sm.update(np.array([0.0, 1.0]), 0.1)
    assert a.tolist() == [1.0, 0.0] and b.tolist() == [0.0, 1.0]


def test_ema_is_time_aware():
    """Two half steps smooth exactly as much as one full step."""
    x0, x1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    one = TemporalSmoother(1.0)
    one.update(x0, 0.0)
    full = one.update(x1, 1.0)
    two = TemporalSmoother(1.0)
    two.update(x0, 0.0)
    two.update(x1, 0.5)
    halves = two.update(x1, 1.0)
    np.testing.assert_allclose(full, halves, rtol=1e-6)
    assert full[1] == pytest.approx(1 - np.exp(-1.0), rel=1e-6)


def test_single_spike_does_not_start_a_sighting(labels):
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=1.0, max_gap_s=1.0)
    events = run_scores(labels, cfg, [0.1] * 5 + [0.9] + [0.1] * 10)
    assert events == []


def test_sustained_score_starts_at_first_crossing(labels):
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=1.0, max_gap_s=1.0)
    events = run_scores(labels, cfg, [0.1] * 5 + [0.8] * 10 + [0.1] * 10)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("start") == 1
    s = events[-1].sighting
    assert s.species == "Acer rubrum" and s.status == "closed"
    assert s.first_t == pytest.approx(1.0) and s.last_t == pytest.approx(2.8)
    assert s.first_seen == T0 + timedelta(seconds=1.0)
    assert s.peak_score == pytest.approx(0.8)
    assert s.frames == 5  # frames from the start (t=2.0) to the last above exit (t=2.8)


@pytest.mark.parametrize(
    ("gap_frames", "max_gap_s", "expected_sightings"),
    [(3, 1.0, 1), (3, 0.4, 2), (8, 1.0, 2), (1, 0.0, 2)],
)
def test_gaps_shorter_than_max_gap_do_not_split(labels, gap_frames, max_gap_s, expected_sightings):
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=0.4, max_gap_s=max_gap_s)
    scores = [0.9] * 8 + [0.1] * gap_frames + [0.9] * 8 + [0.0] * 10
    events = run_scores(labels, cfg, scores)
    assert sum(e.kind == "start" for e in events) == expected_sightings
    assert sum(e.kind == "end" for e in events) == expected_sightings


def test_hysteresis_keeps_sighting_between_exit_and_enter(labels):
    cfg = SmoothingConfig(enter=0.6, exit=0.3, min_duration_s=0.2, max_gap_s=0.0)
    events = run_scores(labels, cfg, [0.9] * 3 + [0.4] * 10 + [0.1])
    ends = [e for e in events if e.kind == "end"]
    assert len(ends) == 1 and ends[0].sighting.last_t == pytest.approx(12 * 0.2)


def test_finish_closes_open_sightings_and_keeps_peak_place(labels):
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=0.0, max_gap_s=1.0)
    events = run_scores(labels, cfg, [0.6, 0.7, 0.95, 0.7])
    end = events[-1]
    assert end.kind == "end" and end.sighting.status == "closed"
    assert end.sighting.longitude == pytest.approx(-123.0 + 2)  # position at the peak frame
    assert end.frame is not None and end.frame.index == 2


def test_background_never_starts_a_sighting(labels):
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=0.0, max_gap_s=0.0)
    events = run_scores(labels, cfg, [0.0] * 20)  # background at 1.0 throughout
    assert events == []


def test_genus_sighting_when_congeners_split_the_score():
    from fieldtool.types import Label, LabelSet

    labels = LabelSet((Label(0, "Acer rubrum"), Label(1, "Acer macrophyllum"), Label(2, "Pinus taeda"),
                       Label(3, "background", is_background=True)))  # fmt: skip
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=0.4, max_gap_s=0.0, genus_level=True)
    tracker = SightingTracker(labels, cfg)
    events = []
    # 2 s of maples split 40/40 (no species reaches enter), then red maple clearly.
    series = [(0.4, 0.4)] * 10 + [(0.8, 0.1)] * 10 + [(0.0, 0.0)] * 3
    for i, (a, b) in enumerate(series):
        probs = np.array([a, b, 0.0, 1 - a - b], np.float32)
        frame = Frame(i, i * 0.2, T0 + timedelta(seconds=i * 0.2), IMG)
        events += tracker.update(FrameResult(frame, raw=probs, smoothed=probs))
    events += tracker.finish()
    ends = [e.sighting for e in events if e.kind == "end"]
    assert [(s.species, s.rank) for s in ends] == [
        ("Acer sp.", "genus"),
        ("Acer rubrum", "species"),
    ]
    assert ends[0].last_t < ends[1].first_t + 0.21  # the genus sighting gives way to the species
    plain = SightingTracker(labels, cfg.model_copy(update={"genus_level": False}))
    plain_events = []
    for i, (a, b) in enumerate(series):
        probs = np.array([a, b, 0.0, 1 - a - b], np.float32)
        frame = Frame(i, i * 0.2, T0 + timedelta(seconds=i * 0.2), IMG)
        plain_events += plain.update(FrameResult(frame, raw=probs, smoothed=probs))
    assert [e.sighting.species for e in plain_events if e.kind == "start"] == ["Acer rubrum"]
