from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fieldtool.batches import classified_ahead
from fieldtool.config import Config, SmoothingConfig
from fieldtool.pipeline import STAGES, run_session
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore, query
from fieldtool.tracks import FixedPosition
from fieldtool.types import Classifier, FieldtoolError, Frame
from tests.conftest import write_video

START = datetime(2026, 6, 1, 9, 0, 0)
# species 0 (3 s), background (2 s), species 1 (3 s), background (1 s), one frame of species 2
SCHEDULE = [(3, 1.0), (0, 3.0), (3, 2.0), (1, 3.0), (3, 1.0), (2, 0.1), (3, 1.0)]


def make_config(db) -> Config:
    cfg = Config()
    cfg.smoothing = SmoothingConfig(
        tau_s=0.3, enter=0.5, exit=0.3, min_duration_s=0.5, max_gap_s=0.5
    )
    cfg.store.db = db
    cfg.source.sample_fps = 10.0
    return cfg


class FailingSource(VideoSource):
    """Yields ``n`` frames of a real file, then raises like a broken decoder would."""

    def __init__(self, uri: str, n: int, exc: BaseException, **kw) -> None:
        super().__init__(uri, **kw)
        self.n, self.exc = n, exc

    def frames(self):
        for i, frame in enumerate(super().frames()):
            if i == self.n:
                raise self.exc
            yield frame


def test_stage_order_is_declared_once():
    assert STAGES[0] == "source" and STAGES[-1] == "store" and len(set(STAGES)) == len(STAGES)


def test_session_writes_sightings_track_detections_and_snapshots(tmp_path, colour_classifier):
    video = write_video(tmp_path / "walk.avi", SCHEDULE)
    db = tmp_path / "s.duckdb"
    cfg = make_config(db)
    store = SightingStore(db)
    source = VideoSource(str(video), sample_fps=10, start_time=START)
    reports = []
    result = run_session(source, colour_classifier, store, cfg, positions=FixedPosition(44.5, -123.3),
                         progress=reports.append, progress_interval_s=0.0)  # fmt: skip
    assert result.session.status == "finished"
    rows = query(db, "SELECT * FROM sightings ORDER BY first_t")
    assert rows.species.tolist() == [
        "Acer rubrum",
        "Quercus alba",
    ]  # the 0.1 s flash is no sighting
    assert rows.status.tolist() == ["closed", "closed"]
    assert rows.first_t[0] == pytest.approx(1.0, abs=0.25) and rows.last_t[0] == pytest.approx(
        4.0, abs=0.35
    )
    assert rows.first_t[1] == pytest.approx(6.0, abs=0.25) and rows.last_t[1] == pytest.approx(
        9.0, abs=0.35
    )
    assert rows.latitude.tolist() == [44.5, 44.5] and (rows.model_id == "colour-test").all()
    assert (rows.first_seen[0] - START).total_seconds() == pytest.approx(rows.first_t[0], abs=1e-3)
    for rel in rows.snapshot_path:
        assert (db.parent / rel).is_file() and (db.parent / rel).stat().st_size > 0
    session = query(db, "SELECT * FROM sessions").iloc[0]
    assert (
        session.status == "finished"
        and session.frames_analysed == 111
        and session.frames_read == 111
    )
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 111
    track = query(db, "SELECT t FROM track ORDER BY t").t.tolist()
    assert len(track) == 12 and track[1] - track[0] == pytest.approx(1.0)
    assert reports and reports[-1].frames_analysed == 111 and reports[-1].closed_sightings == 2


@pytest.mark.parametrize(
    ("exc", "status", "raises"),
    [
        (RuntimeError("decoder crashed"), "failed", RuntimeError),
        (KeyboardInterrupt(), "interrupted", None),
    ],
)
def test_a_failing_session_keeps_what_it_saw(tmp_path, colour_classifier, exc, status, raises):
    """The source breaks in the middle of the second plant: both sightings stay written."""
    video = write_video(tmp_path / "walk.avi", SCHEDULE)
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    source = FailingSource(str(video), 75, exc, sample_fps=10, start_time=START)
    if raises:
        with pytest.raises(raises):
            run_session(source, colour_classifier, store, make_config(db))
    else:
        assert (
            run_session(source, colour_classifier, store, make_config(db)).session.status == status
        )
    rows = query(db, "SELECT species, status FROM sightings ORDER BY first_t")
    assert rows.values.tolist() == [["Acer rubrum", "closed"], ["Quercus alba", "closed"]]
    assert query(db, "SELECT status FROM sessions").iloc[0, 0] == status


def test_prior_changes_the_winner(tmp_path, colour_classifier, labels):
    """Fused probabilities, not raw, drive the tracker."""
    import numpy as np

    class ForceSpecies2:
        def apply(self, probs, position):
            out = np.zeros_like(probs)
            out[..., 2] = 1.0
            return out

        def apply_batch(self, probs, positions):
            return self.apply(probs, None)

    video = write_video(tmp_path / "walk.avi", [(0, 2.0)])
    db = tmp_path / "s.duckdb"
    run_session(VideoSource(str(video), sample_fps=10), colour_classifier, SightingStore(db),
                make_config(db), prior=ForceSpecies2())  # fmt: skip
    assert query(db, "SELECT species FROM sightings").species.tolist() == ["Pinus taeda"]
    det = query(
        db, "SELECT raw_species[1] AS raw, fused_species[1] AS fused FROM detections LIMIT 1"
    )
    assert det.raw[0] == "Acer rubrum" and det.fused[0] == "Pinus taeda"


def test_unreadable_video_leaves_no_session_running(tmp_path, colour_classifier):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 50)
    db = tmp_path / "s.duckdb"
    with pytest.raises(FieldtoolError, match="bad.mp4"):
        run_session(VideoSource(str(bad)), colour_classifier, SightingStore(db), make_config(db))
    assert query(db, "SELECT status FROM sessions").iloc[0, 0] == "failed"


class CountingClassifier(Classifier):
    def __init__(self, inner) -> None:
        self.inner, self.labels, self.model_id, self.frames = inner, inner.labels, inner.model_id, 0
        self.model_sha256 = ""

    def predict(self, images, prepared=None):
        self.frames += len(images)
        return self.inner.predict(images)


@pytest.mark.parametrize("threshold", [0.0, 2.0])
def test_motion_gate_skips_unchanged_views_with_the_same_sightings(
    tmp_path, colour_classifier, threshold
):
    video = write_video(tmp_path / "walk.avi", SCHEDULE)
    db = tmp_path / "s.duckdb"
    cfg = make_config(db)
    cfg.source.motion_threshold = threshold
    counting = CountingClassifier(colour_classifier)
    result = run_session(VideoSource(str(video), sample_fps=10), counting, SightingStore(db), cfg)
    rows = query(db, "SELECT species FROM sightings ORDER BY first_t")
    assert rows.species.tolist() == ["Acer rubrum", "Quercus alba"]
    assert counting.frames + result.frames_reused == 111
    if threshold:
        assert counting.frames <= 8 and result.frames_reused >= 100  # one per colour change
    else:
        assert result.frames_reused == 0


def test_live_frame_is_rewritten_at_its_interval(tmp_path, labels):
    import time as _time

    import numpy as np

    from fieldtool.pipeline import FrameViews
    from fieldtool.types import Frame, FrameResult

    cfg = Config()
    cfg.store.live_frame_interval_s = 0.05
    latest = tmp_path / "latest.jpg"
    views = FrameViews(latest, labels, cfg)
    image = np.zeros((48, 64, 3), np.uint8)
    probs = np.array([0.7, 0.1, 0.1, 0.1], np.float32)
    stamps = []
    for i in range(3):
        views.show(FrameResult(Frame(i, i * 0.1, START, image), raw=probs, fused=probs))
        stamps.append(latest.stat().st_mtime_ns)
        views.show(FrameResult(Frame(i, i * 0.1, START, image), raw=probs, fused=probs))  # too soon
        assert latest.stat().st_mtime_ns == stamps[-1]
        _time.sleep(0.06)
    assert len(set(stamps)) == 3


def _timed_classify(log: list, seconds: float = 0.05):
    def classify(batch: list[int]) -> list[int]:
        log.append(("start", batch[0], threading.current_thread().name, time.monotonic()))
        time.sleep(seconds)
        log.append(("end", batch[0], threading.current_thread().name, time.monotonic()))
        return [x * 10 for x in batch]

    return classify


def test_the_next_batch_is_classified_while_the_caller_handles_one():
    log: list = []
    handled = []
    for batch, result in classified_ahead(
        iter([[0, 1], [2, 3], [4, 5]]), _timed_classify(log), live=False
    ):
        log.append(("handling", batch[0], threading.current_thread().name, time.monotonic()))
        time.sleep(0.05)
        handled.append((batch, result))
    assert handled == [([0, 1], [0, 10]), ([2, 3], [20, 30]), ([4, 5], [40, 50])]
    model_threads = {name for kind, _, name, _ in log if kind in ("start", "end")}
    assert len(model_threads) == 1 and model_threads.pop().startswith("fieldtool-model")
    when = {(kind, first): t for kind, first, _, t in log}
    assert when[("start", 2)] < when[("end", 0)] + 0.01  # queued behind batch 0, not behind us
    assert when[("start", 2)] < when[("handling", 0)] + 0.04  # ran while batch 0 was handled


def test_a_live_source_is_read_only_when_the_model_is_free():
    """Taking a frame while the model is busy would let it go stale in a queue."""
    log: list = []
    pulled: dict[int, float] = {}

    def frames():
        for first in (0, 1, 2, 3):
            pulled[first] = time.monotonic()
            yield [first]

    results = [r for _, r in classified_ahead(frames(), _timed_classify(log), live=True)]
    assert results == [[0], [10], [20], [30]]
    ended = {first: t for kind, first, _, t in log if kind == "end"}
    assert all(pulled[i + 1] >= ended[i] for i in range(3))


@pytest.mark.parametrize("error", [RuntimeError("decoder crashed"), KeyboardInterrupt()])
def test_a_failing_source_still_hands_over_every_batch_taken(error):
    def batches():
        yield [0]
        yield [1]
        raise error

    seen = []
    with pytest.raises(type(error)):
        for batch, _ in classified_ahead(batches(), _timed_classify([], 0.01), live=False):
            seen.append(batch)
    assert seen == [[0], [1]]


def test_a_model_error_reaches_the_caller():
    def classify(batch):
        if batch == [1]:
            raise ValueError("CUDA out of memory")
        return batch

    seen = []
    with pytest.raises(ValueError, match="out of memory"):
        for batch, _ in classified_ahead(iter([[0], [1], [2]]), classify, live=False):
            seen.append(batch)
    assert seen == [[0]]


def test_session_reports_how_busy_the_model_was(tmp_path, colour_classifier):
    video = write_video(tmp_path / "walk.mp4", SCHEDULE)
    config = make_config(tmp_path / "s.duckdb")
    source = VideoSource(str(video), sample_fps=10.0, start_time=START)
    result = run_session(source, colour_classifier, SightingStore(config.store.db), config)
    assert 0 < result.model_busy_s < result.wall_s
    assert 0 < result.post_busy_s < result.wall_s  # the stages after the model, timed too


class FakeCamera(VideoSource):
    """A live camera giving a frame every ``interval_s``; frame i's pixels encode i."""

    def __init__(self, count: int, interval_s: float) -> None:
        super().__init__("rtsp://127.0.0.1/fake-camera")
        self.count, self.interval_s = count, interval_s
        self.newest = -1

    def frames(self):
        for i in range(self.count):
            time.sleep(self.interval_s)
            image = np.zeros((4, 4, 3), np.uint8)
            image[0, 0, :2] = divmod(i, 256)
            self.newest = i
            self.stats.frames_read += 1
            yield Frame(i, i * self.interval_s, datetime.now(), image)


def test_a_live_session_classifies_the_newest_frame(tmp_path, colour_classifier):
    """The model (60 ms a frame) is slower than the camera (20 ms): it always gets the
    newest frame (at most one behind, for a frame arriving meanwhile); the rest are dropped."""
    camera = FakeCamera(count=60, interval_s=0.02)
    lags: list[int] = []

    class SlowClassifier(Classifier):
        labels, model_id, model_sha256 = colour_classifier.labels, "slow", ""

        def predict(self, images, prepared=None):
            lags.extend(
                camera.newest - (256 * int(im[0, 0, 0]) + int(im[0, 0, 1])) for im in images
            )
            time.sleep(0.06)
            return colour_classifier.predict(images)

    config = make_config(tmp_path / "s.duckdb")
    result = run_session(camera, SlowClassifier(), SightingStore(config.store.db), config)
    assert len(lags) == result.session.frames_analysed >= 10
    assert max(lags) <= 1
    assert result.session.frames_dropped >= 30
    assert result.session.frames_analysed + result.session.frames_dropped == 60


def test_a_model_with_families_fills_the_species_table(tmp_path, colour_classifier):
    from dataclasses import replace

    from fieldtool.types import LabelSet

    families = {"Acer rubrum": "Sapindaceae", "Quercus alba": "Fagaceae"}
    colour_classifier.labels = LabelSet(tuple(
        replace(lb, family=families.get(lb.species, "")) for lb in colour_classifier.labels.labels
    ))  # fmt: skip
    video = write_video(tmp_path / "walk.mp4", SCHEDULE)
    config = make_config(tmp_path / "s.duckdb")
    source = VideoSource(str(video), sample_fps=10.0, start_time=START)
    run_session(source, colour_classifier, SightingStore(config.store.db), config)
    table = query(config.store.db, "SELECT species, genus, family FROM species ORDER BY species")
    rows = {r.species: (r.genus, r.family) for r in table.itertuples()}
    assert rows["Acer rubrum"] == ("Acer", "Sapindaceae")
    assert rows["Quercus alba"] == ("Quercus", "Fagaceae")


def test_every_classifier_meets_the_contract(colour_classifier, tiny_model_dir):
    from fieldtool.classify import DinoClassifier
    from fieldtool.model import load_model_folder

    dino = DinoClassifier(load_model_folder(tiny_model_dir), device="cpu")
    for classifier in (colour_classifier, dino):
        assert isinstance(classifier, Classifier)
    assert dict(dino.run_settings()) == {"device": "cpu", "precision": dino.precision}
    assert colour_classifier.prepare(np.zeros((4, 4, 3), np.uint8)) is None
    assert not isinstance(object(), Classifier)


def test_snapshots_that_cannot_be_written_are_skipped_with_one_warning(tmp_path, colour_classifier):
    """A full or unwritable snapshot folder used to fail the session after one frame."""
    video = write_video(tmp_path / "walk.avi", SCHEDULE)
    db = tmp_path / "s.duckdb"
    (tmp_path / "s_snapshots").write_text("a file where the snapshot folder should be")
    config = make_config(db)
    config.store.live_frame_interval_s = 0.001
    lines: list[str] = []
    result = run_session(VideoSource(str(video), sample_fps=10, start_time=START),
                         colour_classifier, SightingStore(db), config, log=lines.append)  # fmt: skip
    assert result.session.status == "finished"
    assert len(result.sightings) >= 2
    assert all(s.snapshot_path is None for s in result.sightings)
    warnings = [line for line in lines
                if line.startswith("warning: snapshots") and "skipped" in line]  # fmt: skip
    assert len(warnings) == 1, lines
    # the frames kept for learning, in the same folder, say so once too
    assert sum(line.startswith("warning: frames for learning") for line in lines) == 1, lines
    assert query(db, "SELECT count(*) FROM sightings WHERE status = 'closed'").iloc[0, 0] >= 2


def test_a_file_that_stops_taking_writes_fails_the_session_but_keeps_its_rows(
    tmp_path, colour_classifier, monkeypatch
):
    """Disk full mid-session: the session goes on, ends `failed` with the reason, and its
    rows (sightings included) are in the journal and reach the file on recovery, after
    which it reads finished, the reason kept (it failed for its writes alone)."""
    import duckdb

    from fieldtool.store import recover_file, writer

    video = write_video(tmp_path / "walk.avi", SCHEDULE)
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    real = writer.insert_rows

    def full(con, table, rows, **kwargs):
        if rows and (table != "sessions" or any(r[8] != "running" for r in rows)):  # start in
            raise duckdb.IOException("No space left on device")
        return real(con, table, rows, **kwargs)

    monkeypatch.setattr(writer, "insert_rows", full)
    lines: list[str] = []
    result = run_session(VideoSource(str(video), sample_fps=10, start_time=START),
                         colour_classifier, store, make_config(db), log=lines.append)  # fmt: skip
    assert result.session.status == "failed"
    assert "No space left on device" in (result.session.end_reason or "")
    assert result.unwritten_rows > 0 and len(result.sightings) >= 2
    monkeypatch.setattr(writer, "insert_rows", real)  # space again
    recover_file(db)
    rows = query(db, "SELECT status, end_reason FROM sessions").iloc[0]
    assert rows["status"] == "finished" and "No space left" in rows["end_reason"]
    assert "fieldtool recover" in rows["end_reason"]
    closed = query(db, "SELECT count(*) FROM sightings WHERE status = 'closed'").iloc[0, 0]
    assert closed == len(result.sightings)


def test_a_live_source_that_is_lost_ends_the_session_as_stream_lost_with_its_gaps(
    tmp_path, colour_classifier
):
    from fieldtool.sources import Gap

    class Lost(FakeCamera):
        def frames(self):
            yield from super().frames()
            self.stats.gaps.append(Gap(0.5, 1.5, START, None, "connection refused"))
            self.stats.lost, self.stats.end_reason = True, "stream lost: connection refused"

    db = tmp_path / "s.duckdb"
    result = run_session(Lost(count=5, interval_s=0.0), colour_classifier, SightingStore(db),
                         make_config(db))  # fmt: skip
    assert result.session.status == "stream_lost"
    row = query(db, "SELECT status, end_reason FROM sessions").iloc[0]
    assert row["status"] == "stream_lost" and "connection refused" in row["end_reason"]
    gaps = query(db, "SELECT start_t, end_t, reason FROM source_gaps")
    assert gaps.values.tolist() == [[0.5, 1.5, "connection refused"]]


class WalkPositions:
    """A walk east from 40 N, 100 W at ``km_per_s``, without a fix for ``gaps`` (seconds)."""

    source = "test-walk"

    def __init__(self, km_per_s: float, gaps: list[tuple[float, float]]) -> None:
        self.km_per_s, self.gaps = km_per_s, gaps

    def position_at(self, when: datetime):
        from fieldtool.types import Position

        s = (when - START).total_seconds()
        if any(a <= s < b for a, b in self.gaps):
            return None
        return Position(40.0, -100.0 + s * self.km_per_s / 85.0)


def _session_rows(tmp_path, name, labels, frames, probs, cuts):
    """Run ``frames`` through a FrameStep (per frame when ``cuts`` is None, else in those
    batches) and return what its file holds, without ids and write times."""
    from shapely.geometry import box

    from fieldtool.pipeline import FrameStep
    from fieldtool.priors import IndexedPrior, RangePriorStage
    from fieldtool.types import SessionInfo

    config = make_config(tmp_path / f"{name}.duckdb")
    config.store.live_frame_interval_s = 0.0
    config.store.learn_frames = 3
    store = SightingStore(config.store.db)
    session = SessionInfo("s1", "walk.mp4", "test-model", START)
    store.record_session(session)
    ranges = {"Acer rubrum": box(-100.2, 39, -99.9, 41), "Quercus alba": box(-99.8, 39, -99, 41)}
    prior = RangePriorStage(IndexedPrior(ranges, decay_km=5.0), labels, config.prior)
    step = FrameStep.for_session(session, store, config, labels, prior=prior,
                                 positions=WalkPositions(0.05, [(30.0, 50.0)]))  # fmt: skip
    if cuts is None:
        for i, frame in enumerate(frames):
            step.step(frame, probs[i], probs[i][None])
    else:
        for a, b in cuts:
            step.step_batch(frames[a:b], probs[a:b], probs[a:b, None])
    step.handle(step.tracker.finish())
    store.record_session(session)
    store.close()
    db = config.store.db
    return {
        "sightings": query(db, "SELECT * EXCLUDE (sighting_id, updated_at, snapshot_path) "
                               "FROM sightings ORDER BY first_t, species"),
        "detections": query(db, "SELECT * FROM detections ORDER BY frame_index"),
        "track": query(db, "SELECT * FROM track ORDER BY t"),
        "kept": query(db, "SELECT frame_index, t FROM sighting_frames ORDER BY t"),
        "session": query(db, "SELECT frames_analysed, frames_positioned FROM sessions"),
        "snapshots": sorted(p.parent.name for p in (tmp_path / f"{name}_snapshots").rglob("*.jpg")),
        "sightings_closed": len(step.result.sightings),
    }  # fmt: skip


def test_a_batch_of_frames_gives_the_rows_of_frame_by_frame(tmp_path, labels):
    """FrameStep.step_batch (prior, fusion, smoothing, tracker, top-k over (N, C)) writes
    exactly what step writes frame by frame: sightings, detections, track, kept frames."""
    rng = np.random.default_rng(2)
    n = 700  # 70 s at 10 frames/s, a walk of 3.5 km across two ranges, 20 s without a fix
    walk = np.clip(np.sin(rng.normal(0, 0.12, size=(n, 3)).cumsum(axis=0) * 2), 0.02, None)
    probs = np.concatenate([walk, np.full((n, 1), 0.3)], axis=1)
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    image = np.zeros((8, 8, 3), np.uint8)
    frames = [Frame(i, i / 10, START + timedelta(seconds=i / 10), image) for i in range(n)]
    cuts, at = [], 0
    while at < n:
        cuts.append((at, min(n, at := at + int(rng.integers(1, 64)))))
    expected = _session_rows(tmp_path, "frame", labels, frames, probs, None)
    got = _session_rows(tmp_path, "batch", labels, frames, probs, cuts)
    assert expected["sightings_closed"] >= 6 and len(expected["kept"]) >= 6
    assert len(expected["snapshots"]) >= expected["sightings_closed"]
    assert len(expected["track"]) > 40 and expected["session"].frames_positioned[0] < n
    det = expected["detections"]
    assert any(r[0] != f[0] for r, f in zip(det.raw_species, det.fused_species, strict=True))
    for key, value in expected.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got[key], value, check_exact=True)
        else:
            assert got[key] == value, key


def test_top_k_of_a_batch_is_each_rows_own(labels):
    """The stored top-k of a batch is row for row what a sort of that row alone gives,
    ties and all."""
    from fieldtool.store import top_k
    from fieldtool.store.writer_rows import top_k_rows

    rng = np.random.default_rng(9)
    probs = rng.choice([0.0, 0.1, 0.25, 0.5], size=(50, 30)).astype(np.float32)  # many ties
    names = [f"species {i}" for i in range(30)]
    for k in (1, 5, 30):
        rows = top_k_rows(probs, names, k)
        for row, (got_names, got_scores) in zip(probs, rows, strict=True):
            order = np.argsort(-row)[:k]
            assert got_names == [names[i] for i in order]
            assert got_scores == [float(row[i]) for i in order]
            assert top_k(row, names, k) == (got_names, got_scores)


@pytest.mark.parametrize("by_media_time", [False, True])
def test_a_batch_is_placed_on_a_track_as_each_frame_is(by_media_time):
    """One interpolation for the batch gives each frame's own position (or none, in a gap
    or past the track's ends), accuracy and source."""
    from fieldtool.pipeline.steps import _where, _where_batch
    from fieldtool.tracks import TrackPositions
    from fieldtool.types import Fix

    rng = np.random.default_rng(4)
    t = np.cumsum(rng.choice([0.5, 1.0, 40.0], size=60))  # a 40 s jump is a gap
    fixes = [Fix(START + timedelta(seconds=float(s)), 40 + s / 1e4, -100 - s / 1e4,
                 elevation_m=None if i % 4 else 80.0 + i,
                 accuracy_m=None if i % 3 else 5.0 + i) for i, s in enumerate(t)]  # fmt: skip
    track = TrackPositions(fixes, max_gap_s=10.0, source="gpx", media_start=START,
                           by_media_time=by_media_time)  # fmt: skip
    image = np.zeros((2, 2, 3), np.uint8)
    frames = [Frame(i, s, START + timedelta(seconds=s + 0.3), image)
              for i, s in enumerate(np.arange(-20.0, float(t[-1]) + 20, 0.7).tolist())]  # fmt: skip
    expected = [_where(track, frame) for frame in frames]
    assert sum(p is None for p in expected) > 10 and sum(p is not None for p in expected) > 100
    assert {p.accuracy_m is None for p in expected if p is not None} == {True, False}
    assert len({p.elevation_m for p in expected if p is not None}) > 10
    assert _where_batch(track, frames) == expected


class WatchedStore(SightingStore):
    """A store that notes which thread flushes, what closed sightings each flush writes,
    and any row recorded while a flush is running (the store is one thread's at a time)."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.flushes: list[tuple[str, set[str]]] = []
        self.overlaps: list[str] = []
        self._flushing = False

    def flush(self, timeout_s=None):
        closed = {s.sighting_id for s in self._sightings.values() if s.status == "closed"}
        self._flushing = True
        try:
            time.sleep(0.02)  # a slow disk: a record made meanwhile would show
            return super().flush(timeout_s)
        finally:
            self._flushing = False
            self.flushes.append((threading.current_thread().name, closed))

    def _mark(self) -> None:
        if self._flushing:
            self.overlaps.append(threading.current_thread().name)
        super()._mark()


def test_the_file_is_written_beside_the_model_and_each_closed_sighting_at_once(
    tmp_path, colour_classifier
):
    video = write_video(tmp_path / "walk.avi", SCHEDULE)
    config = make_config(tmp_path / "s.duckdb")
    config.model.batch_size = 4
    store = WatchedStore(config.store.db)
    source = VideoSource(str(video), sample_fps=10, start_time=START)
    result = run_session(source, colour_classifier, store, config)
    assert [s.species for s in result.sightings] == ["Acer rubrum", "Quercus alba"]
    assert store.overlaps == []
    beside = [closed for name, closed in store.flushes if name.startswith("fieldtool-store")]
    assert beside, store.flushes
    # both end within the video (background after each): written by the writer thread
    assert {s.sighting_id for s in result.sightings} <= set().union(*beside)
    assert result.store_write_s > 0 and result.post_busy_s < result.wall_s


def test_a_placed_session_without_ranges_says_it_has_no_range_prior(tmp_path):
    """A user who gives a place but no range maps is told that species are not weighed by
    where they live (a western walk otherwise reports eastern trees without a word)."""
    from fieldtool.cli import DEMO_DATA, DEMO_RANGES
    from fieldtool.config import DEMO_MODEL, load_config
    from fieldtool.pipeline import inputs_from_config

    settings = {"source.uri": str(DEMO_DATA / "walk_west.mp4"), "model.path": str(DEMO_MODEL),
                "store.db": str(tmp_path / "s.duckdb"), "position.lat": 44.5,
                "position.lon": -123.3}  # fmt: skip
    logs: list[str] = []
    inputs_from_config(load_config(None, settings), logs.append)
    assert sum(line.startswith("no range prior") for line in logs) == 1
    logs.clear()
    inputs_from_config(load_config(None, {**settings, "prior.ranges": [str(DEMO_RANGES)]}),
                       logs.append)  # fmt: skip
    assert not any("no range prior" in line for line in logs)


def test_a_file_run_again_into_the_same_database_is_said_and_replace_deletes_the_first(
    tmp_path,
):
    # run twice, a file's sightings were counted twice in per-day totals without a word
    from fieldtool.config import DEMO_MODEL, load_config
    from fieldtool.pipeline import run_from_config

    video = write_video(tmp_path / "clip.avi", [(0, 2.0), (1, 2.0)])
    db = tmp_path / "s.duckdb"
    config = load_config(None, {"source.uri": str(video), "model.path": str(DEMO_MODEL),
                                "store.db": str(db), "store.snapshots": False,
                                "position.lat": 44.5, "position.lon": -123.3})  # fmt: skip
    first: list[str] = []
    run_from_config(config, log=first.append)
    assert not any("already holds" in line for line in first)
    again: list[str] = []
    run_from_config(config, log=again.append)
    said = [line for line in again if "already holds 1 session(s) of" in line]
    assert len(said) == 1 and "--replace" in said[0], again
    assert len(query(db, "SELECT * FROM sessions")) == 2  # added beside, as said
    replaced: list[str] = []
    result = run_from_config(config, log=replaced.append, replace_earlier=True)
    sessions = query(db, "SELECT session_id FROM sessions")
    assert list(sessions["session_id"]) == [result.session.session_id]
    assert any("replaced 2 earlier session(s)" in line for line in replaced), replaced
