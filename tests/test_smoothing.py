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
    assert s.frames == 10  # every frame of its span: from the first crossing (t=1.0, a
    # candidate until t=2.0) to the last above exit (t=2.8)


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


def _split(rng, n):
    """Random batch boundaries over n frames (sizes 1..40, as sessions and live sources give)."""
    cuts, at = [], 0
    while at < n:
        cuts.append((at, min(n, at := at + int(rng.integers(1, 41)))))
    return cuts


@pytest.mark.parametrize("tau_s", [0.0, 0.7, 3.0])
def test_batch_smoothing_equals_frame_by_frame(tau_s):
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(12), size=300).astype(np.float32)
    ts = np.cumsum(rng.choice([0.0, 0.04, 0.2, 1.3], size=300)).tolist()  # repeats, jumps
    one = TemporalSmoother(tau_s)
    expected = np.stack([one.update(p, t) for p, t in zip(probs, ts, strict=True)])
    batched = TemporalSmoother(tau_s)
    got = np.concatenate([batched.update_batch(probs[a:b], ts[a:b]) for a, b in _split(rng, 300)])
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    np.testing.assert_array_equal(
        batched.update(probs[0], ts[-1] + 1), one.update(probs[0], ts[-1] + 1)
    )


def _walks(rng, frames, classes):
    """Smoothed-looking scores: species rising and falling through enter and exit, congeners
    splitting a score, some classes never near a threshold; rows sum to about 1."""
    steps = rng.normal(0, 0.08, size=(frames, classes)).cumsum(axis=0)
    scores = np.clip(np.sin(steps * 3) * 0.55, 0, None).astype(np.float32)
    scores[:, -3:] *= 0.05  # quiet species: idle all along
    return scores


def _events_of(tracker, results, smoothed, cuts):
    out = []
    if cuts is None:
        for r in results:
            out.append(tracker.update(r))
    else:
        for a, b in cuts:
            out += list(tracker.update_batch(results[a:b], smoothed[a:b]))
    out.append(tracker.finish())
    return [
        [
            (
                e.kind,
                e.frame.index if e.frame is not None else None,
                e.sighting.species,
                e.sighting.rank,
                e.sighting.first_t,
                e.sighting.last_t,
                e.sighting.frames,
                e.sighting.score_sum,
                e.sighting.peak_score,
                e.sighting.peak_t,
                e.sighting.latitude,
                e.sighting.status,
            )
            for e in events
        ]  # fmt: skip
        for events in out
    ]


@pytest.mark.parametrize("genus_level", [False, True])
def test_batch_tracker_gives_the_events_of_frame_by_frame(genus_level):
    """Every frame's events, the sightings and their numbers, exactly, on random scores."""
    from fieldtool.types import Label, LabelSet

    names = ["Acer rubrum", "Acer saccharum", "Acer negundo", "Quercus alba", "Quercus rubra",
             "Pinus taeda", "Pinus strobus", "Betula nigra", "Tilia americana", "Ulmus alata"]  # fmt: skip
    labels = LabelSet(tuple(Label(i, n) for i, n in enumerate(names)) +
                      (Label(len(names), "background", is_background=True),))  # fmt: skip
    cfg = SmoothingConfig(enter=0.45, exit=0.15, min_duration_s=0.6, max_gap_s=0.5,
                          genus_level=genus_level)  # fmt: skip
    rng = np.random.default_rng(11)
    frames = 900
    smoothed = _walks(rng, frames, len(labels))
    ts = np.cumsum(rng.choice([0.1, 0.2, 0.7], size=frames))
    results = [
        FrameResult(Frame(i, float(ts[i]), T0 + timedelta(seconds=float(ts[i])), IMG),
                    raw=smoothed[i], smoothed=smoothed[i], position=Position(44.0, -123.0 + i))
        for i in range(frames)
    ]  # fmt: skip
    expected = _events_of(SightingTracker(labels, cfg), results, smoothed, None)
    got = _events_of(SightingTracker(labels, cfg), results, smoothed, _split(rng, frames))
    starts = [e for events in expected for e in events if e[0] == "start"]
    assert len(starts) >= 10 and len({e[2] for e in starts}) >= 5  # the test has teeth
    assert not genus_level or any(e[3] == "genus" for e in starts)
    assert got == expected


def test_batch_tracker_refuses_rows_that_do_not_match(labels):
    tracker = SightingTracker(labels, SmoothingConfig())
    frame = Frame(0, 0.0, T0, IMG)
    probs = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="1 frame results but 2"):
        next(tracker.update_batch([FrameResult(frame, smoothed=probs[0])], probs))


def test_batch_tracker_keeps_stepping_what_it_tracks_below_enter():
    """A genus and a species sighting held between exit and enter for whole batches, and a
    candidate that drops below enter in a later batch, advance as frame by frame."""
    from fieldtool.types import Label, LabelSet

    labels = LabelSet((Label(0, "Acer rubrum"), Label(1, "Acer macrophyllum"), Label(2, "Pinus taeda"),
                       Label(3, "background", is_background=True)))  # fmt: skip
    cfg = SmoothingConfig(enter=0.5, exit=0.3, min_duration_s=0.4, max_gap_s=0.3, genus_level=True)
    # both open at frame 2, held in the band to 15; a pine candidate at 23 (a batch's last
    # frame) drops in the next batch; pines again from 28, a new candidate there
    series = ([(0.3, 0.3, 0.6)] * 4 + [(0.2, 0.2, 0.4)] * 12 + [(0.1, 0.1, 0.1)] * 7
              + [(0.0, 0.0, 0.6)] + [(0.0, 0.0, 0.2)] * 4 + [(0.0, 0.0, 0.7)] * 4)  # fmt: skip
    smoothed = np.array([[a, b, c, max(0.0, 1 - a - b - c)] for a, b, c in series], np.float32)
    results = [FrameResult(Frame(i, i * 0.2, T0 + timedelta(seconds=i * 0.2), IMG),
                           raw=smoothed[i], smoothed=smoothed[i]) for i in range(len(series))]  # fmt: skip
    cuts = [(a, min(a + 4, len(series))) for a in range(0, len(series), 4)]
    expected = _events_of(SightingTracker(labels, cfg), results, smoothed, None)
    got = _events_of(SightingTracker(labels, cfg), results, smoothed, cuts)
    ends = [e for events in expected for e in events if e[0] == "end"]
    assert [(e[2], e[4], e[6]) for e in ends] == [  # frames 0..15, 0..15 and 28..31
        ("Pinus taeda", 0.0, 16),
        ("Acer sp.", 0.0, 16),
        ("Pinus taeda", 28 * 0.2, 4),
    ]
    assert got == expected
