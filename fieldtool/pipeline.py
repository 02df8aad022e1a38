"""The session: every stage, in order, over one source.

A session is a function of its inputs (source, positions, range prior, classifier,
config) that writes through the store; it keeps no global state, so the same call can
run inside a distributed task. Stage order:
"""

from __future__ import annotations

import math
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from fieldtool.batches import MotionGate, batches, classified_ahead
from fieldtool.classify import DinoClassifier
from fieldtool.config import Config
from fieldtool.gallery import classifier_from_gallery
from fieldtool.importers import is_backbone_only
from fieldtool.model import load_model_folder
from fieldtool.placement import (
    live_overlap_warning,
    overlap_share,
    overlap_warning,
    place_session,
)
from fieldtool.preview import PreviewVideo, annotate, write_jpeg
from fieldtool.priors import RangePriorStage, range_coverage, range_prior_from_config
from fieldtool.smoothing import SightingTracker, TemporalSmoother
from fieldtool.sources import Gap, Prefetcher, VideoSource
from fieldtool.store import SightingStore, StoreWriteError, config_json, top_k
from fieldtool.timebase import TimeBasis, utc_now
from fieldtool.tracks import PositionProvider, TrackPositions
from fieldtool.types import (
    Classifier,
    FieldtoolError,
    Frame,
    FrameResult,
    LabelSet,
    Position,
    SessionInfo,
    SessionStatus,
    Sighting,
    SightingEvent,
)

STAGES: tuple[str, ...] = (
    "source",  # sources.VideoSource: decode and sample frames
    "classify",  # types.Classifier (classify.DinoClassifier, gallery): (C,) per frame, batched
    "locate",  # tracks.PositionProvider: where the frame was taken (placement: and when)
    "prior",  # priors.RangePriorStage: reweight by species ranges and records
    "smooth",  # smoothing.TemporalSmoother: EMA over time
    "track",  # smoothing.SightingTracker: start / update / end sightings
    "store",  # store.SightingStore: DuckDB, snapshots
)
__doc__ = (__doc__ or "") + "\n" + "\n".join(f"{i + 1}. {s}" for i, s in enumerate(STAGES))

SNAPSHOT_MAX_WIDTH = 640  # px


@dataclass
class Progress:
    """What a running session reports, about every ``progress_interval_s``."""

    t: float  # media seconds reached
    frames_read: int
    frames_analysed: int
    open_sightings: int
    closed_sightings: int
    analysis_fps: float  # analysed frames per wall second so far
    duration_s: float | None  # media length, when known


@dataclass
class SessionResult:
    session: SessionInfo
    sightings: list[Sighting] = field(default_factory=list)
    frames_reused: int = 0  # unchanged views that reused the previous prediction
    reconnects: int = 0
    unwritten_rows: int = 0  # rows not in the file at the end (locked, or writes failed)
    unwritten_where: str = ""  # where they are: the journal, or "memory only: ..."
    model_busy_s: float = 0.0  # wall seconds the model thread spent classifying
    wall_s: float = 0.0  # wall seconds of the whole session


class FrameViews:
    """What the camera sees, annotated: ``latest`` (a JPEG for the dashboard's live view,
    rewritten every ``store.live_frame_interval_s``) and the ``--preview`` video."""

    def __init__(
        self, latest: Path, labels: LabelSet, config: Config, images: SnapshotWriter | None = None
    ) -> None:
        self.latest = latest
        self.labels = labels
        self.interval_s = config.store.live_frame_interval_s
        self.images = images or SnapshotWriter(None)
        self._last = -np.inf
        self.video = (
            PreviewVideo(config.store.preview, config.source.sample_fps)
            if config.store.preview
            else None
        )

    def show(self, item: FrameResult) -> None:
        now = time.monotonic()
        live = self.interval_s > 0 and now - self._last >= self.interval_s
        if not (live or self.video):
            return
        where = f"{item.position.lat:.5f}, {item.position.lon:.5f}" if item.position else "no fix"
        caption = f"t {item.frame.t:6.1f} s  {where}"
        fused = item.fused if item.fused is not None else item.raw
        if fused is None:
            return  # nothing classified yet: nothing to draw
        drawn = annotate(item.frame.image, self.labels, fused, item.tile_probs, caption=caption)
        if self.video:
            self.video.write(drawn)
        if live:
            self.images.write(self.latest, drawn)
            self._last = now

    def close(self) -> None:
        if self.video:
            self.video.close()


class SnapshotWriter:
    """JPEGs of sightings and of the live view. A folder that cannot take them (disk full,
    no permission) costs the pictures, said once, never the session or its sightings."""

    def __init__(self, log: Callable[[str], None] | None) -> None:
        self._log = log
        self.failed: str | None = None  # the first error, once writing has failed

    def write(self, target: Path, image: np.ndarray) -> bool:
        """Write ``image`` (H, W, 3) BGR to ``target``; False when it could not be written."""
        try:
            write_jpeg(target, image)
            return True
        except OSError as exc:
            if self.failed is None:
                self.failed = f"{target.parent}: {exc.strerror or exc}"
                if self._log:
                    self._log(f"warning: snapshots skipped from now on ({self.failed}); "
                              "sightings are still recorded")  # fmt: skip
            return False

    def snapshot(self, store: SightingStore, sighting: Sighting, frame: Frame) -> str | None:
        """Save a sighting's frame; its path relative to the store's folder, or None."""
        if self.failed is not None:
            return None
        image = frame.image
        if image.shape[1] > SNAPSHOT_MAX_WIDTH:
            scale = SNAPSHOT_MAX_WIDTH / image.shape[1]
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        target = store.snapshot_dir(sighting.session_id) / f"{sighting.sighting_id}.jpg"
        if not self.write(target, image):
            return None
        return target.relative_to(store.folder).as_posix()


def _settings_as_run(config: Config, classifier: Classifier) -> dict[str, Any]:
    """The session's config as JSON data, with ``auto`` device and precision resolved to
    what actually ran (so a stored session says whether it ran in bf16 on a CPU)."""
    settings: dict[str, Any] = config.model_dump(mode="json")
    settings["model"].update(classifier.run_settings())
    return settings


def start_session(
    source: VideoSource,
    classifier: Classifier,
    store: SightingStore,
    config: Config,
    *,
    time_basis: TimeBasis | None = None,
    session_id: str | None = None,
) -> SessionInfo:
    """Set-up: the session row (with its time basis) and the model's taxonomy, written."""
    if time_basis is None:
        time_basis = (
            TimeBasis(None, "wall-clock", "UTC", True, "live")
            if source.live
            else TimeBasis(source.start_time, "start-time", "UTC", True, "given")
        )
    session = SessionInfo(
        session_id=session_id or uuid.uuid4().hex,
        source=str(source.uri),
        model_id=classifier.model_id,
        model_sha256=classifier.model_sha256,
        started_at=utc_now(),
        config_json=config_json(_settings_as_run(config, classifier)),
        host=socket.gethostname(),
        time_source=time_basis.source,
        time_zone=time_basis.zone,
        time_zone_known=time_basis.zone_known,
    )
    store.record_session(session)
    for label in classifier.labels.labels:
        if label.genus or label.family:  # the model's taxonomy, for the species table
            store.record_species(label.species, label.common_name, label.genus or None,
                                 label.family or None)  # fmt: skip
    store.flush()
    return session


class NoPositions:
    """Position provider of a session without one: no frame has a position."""

    source = "none"

    def position_at(self, when: datetime) -> Position | None:
        return None


class NoPrior:
    """Prior stage of a session without one: predictions pass unchanged."""

    def apply(self, probs: np.ndarray, position: Position | None) -> np.ndarray:
        return probs


class PriorStep(Protocol):
    """What the loop needs of a prior stage (:class:`RangePriorStage` or :class:`NoPrior`)."""

    def apply(self, probs: np.ndarray, position: Position | None) -> np.ndarray: ...


@dataclass
class FrameStep:
    """The stages after the model for one frame, in order (position, prior, smoothing,
    tracker, store, views): one verb, :meth:`step`. Built once per session; every field
    is set (no stage is optional: absent ones are null objects)."""

    session: SessionInfo
    store: SightingStore
    config: Config
    positions: PositionProvider
    prior: PriorStep
    smoother: TemporalSmoother
    tracker: SightingTracker
    views: FrameViews
    result: SessionResult
    names: list[str]
    k: int  # top-k classes stored per detection
    log: Callable[[str], None] | None = None
    last_track_t: float = -math.inf  # media seconds of the last stored track point
    gaps_stored: int = 0  # source outages written so far

    def step(self, frame: Frame, raw: np.ndarray, tile_probs: np.ndarray) -> None:
        """Run one classified frame through the stages. ``raw``: (C,) probabilities,
        ``tile_probs``: (T, C)."""
        position = _where(self.positions, frame)
        fused = self.prior.apply(raw, position)
        smoothed = self.smoother.update(fused, frame.t)
        item = FrameResult(frame, raw, tile_probs, position, fused, smoothed)
        self.handle(self.tracker.update(item))
        session = self.session
        session.frames_analysed += 1
        session.frames_positioned += position is not None
        if self.config.store.detections:
            self.store.record_detection(
                session.session_id, frame.index, frame.t, frame.wall_time, position,
                top_k(raw, self.names, self.k), top_k(fused, self.names, self.k),
            )  # fmt: skip
        self.views.show(item)
        if position is not None and frame.t - self.last_track_t >= 1.0:
            self.store.record_track(session.session_id, frame.wall_time, frame.t, position)
            self.last_track_t = frame.t

    def handle(self, events: list[SightingEvent]) -> None:
        """Snapshots and store rows for sighting events; a closed sighting is flushed."""
        for event in events:
            sighting = event.sighting
            if (
                self.config.store.snapshots
                and event.frame is not None
                and event.kind in ("start", "end")
            ):
                path = self.views.images.snapshot(self.store, sighting, event.frame)
                if path is not None:
                    sighting.snapshot_path = path
            self.store.record_sighting(sighting)
            if event.kind == "end":
                self.result.sightings.append(sighting)
                self.flush(0.5)  # a closed sighting reaches the file at once

    def flush(self, timeout_s: float | None = None, *, due_only: bool = False) -> None:
        """Write buffered rows (``due_only``: when the flush interval has passed). A file
        that stops taking writes (disk full) does not stop the session: the store keeps
        the rows (journal, else memory) and retries; the error is logged once."""
        try:
            if due_only:
                self.store.maybe_flush()
            else:
                self.store.flush(timeout_s=timeout_s)
        except StoreWriteError as exc:
            if self.log:
                self.log(f"warning: {exc}")

    def record_gaps(self, gaps: Sequence[Gap], *, final: bool = False) -> None:
        """Store the source's outages not stored yet (``final``: also one still going)."""
        for gap in gaps[self.gaps_stored :]:
            if gap.ended_at is None and not final:
                break
            self.store.record_gap(self.session.session_id, gap.start_t, gap.end_t,
                                  gap.started_at, gap.ended_at, gap.reason)  # fmt: skip
            self.gaps_stored += 1


def run_session(
    source: VideoSource,
    classifier: Classifier,
    store: SightingStore,
    config: Config,
    *,
    positions: PositionProvider | None = None,
    prior: RangePriorStage | None = None,
    session_id: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    progress_interval_s: float = 2.0,
    time_basis: TimeBasis | None = None,
    log: Callable[[str], None] | None = None,
) -> SessionResult:
    """Run every stage over ``source`` and write sightings, track and detections to ``store``.

    Ends cleanly on end of source, KeyboardInterrupt (status ``interrupted``) or an
    error (status ``failed``, re-raised): open sightings are closed and everything
    buffered is flushed first. ``time_basis``: where the frames' times come from (stored
    on the session row; default: wall clock for live sources, ``start-time`` for files).
    A frame is placed at its wall time, or by media time when the track is the video's
    own (:meth:`TrackPositions.lookup_time`). ``log``: where the live overlap warning goes.
    """
    session = start_session(
        source, classifier, store, config, time_basis=time_basis, session_id=session_id
    )
    result = SessionResult(session)
    tracker = SightingTracker(
        classifier.labels, config.smoothing, session_id=session.session_id,
        model_id=session.model_id,
    )  # fmt: skip
    names = classifier.labels.species
    step = FrameStep(
        session, store, config, positions or NoPositions(), prior or NoPrior(),
        TemporalSmoother(config.smoothing.tau_s), tracker,
        FrameViews(store.snapshot_dir(session.session_id) / "latest.jpg", classifier.labels,
                   config, SnapshotWriter(log)),
        result, names, min(config.model.top_k, len(names)), log,
    )  # fmt: skip
    live_check_pending = source.live and positions is not None
    batch_size = 1 if source.live else config.model.batch_size
    wall_start = time.monotonic()
    last_progress = wall_start
    t = 0.0

    def prepare(frame: Frame) -> np.ndarray | None:  # on the reader thread, beside inference
        return classifier.prepare(frame.image)

    reader = Prefetcher(
        source.frames(), live=source.live, depth=4 * batch_size, min_depth=batch_size,
        max_bytes=int(config.source.read_ahead_mb * 2**20),
        keep_max_side=config.source.keep_max_side or None, prepare=prepare,
    )  # fmt: skip
    gate = MotionGate(config.source.motion_threshold)

    def classify(pairs: list[tuple[Frame, Any]]) -> tuple[np.ndarray, np.ndarray, int]:
        start = time.monotonic()
        out = gate.classify(classifier, [f.image for f, _ in pairs], [p for _, p in pairs])
        result.model_busy_s += time.monotonic() - start  # one model thread: no race
        return out

    try:
        for pairs, (probs, tile_probs, reused) in classified_ahead(
            batches(iter(reader), batch_size), classify, live=source.live
        ):
            result.frames_reused += reused
            for i, (frame, _) in enumerate(pairs):
                step.step(frame, probs[i], tile_probs[i])
                t = frame.t
            if live_check_pending and t >= 60.0:
                live_check_pending = False  # once, after the first minute
                warning = live_overlap_warning(
                    str(getattr(positions, "source", "the positions")),
                    session.frames_analysed,
                    session.frames_positioned,
                )
                if warning and log:
                    log(warning)
            session.frames_read = source.stats.frames_read
            session.frames_dropped = reader.dropped
            step.record_gaps(source.stats.gaps)
            store.record_session(session)  # live counters for the dashboard
            step.flush(due_only=True)
            now = time.monotonic()
            if progress and now - last_progress >= progress_interval_s:
                last_progress = now
                progress(_progress(source, session, tracker, t, now - wall_start))
        if source.stats.lost:  # a live source that did not come back: not a clean end
            session.status = SessionStatus.STREAM_LOST
            session.end_reason = source.stats.end_reason
        else:
            session.status = SessionStatus.FINISHED
    except KeyboardInterrupt:
        session.status = SessionStatus.INTERRUPTED
    except BaseException as exc:
        session.status = SessionStatus.FAILED
        session.end_reason = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
        raise
    finally:
        step.views.close()
        step.handle(tracker.finish())
        step.record_gaps(source.stats.gaps, final=True)
        session.frames_read = source.stats.frames_read
        session.ended_at = utc_now()
        result.reconnects = source.stats.reconnects
        store.record_session(session)
        step.flush(0.5)  # short: a held file is waited for once, by close()
        if store.failed is not None:  # the file stopped taking writes and still does
            if session.status == SessionStatus.FINISHED:
                session.status = SessionStatus.FAILED
            session.end_reason = session.end_reason or f"writes failed: {store.failed}"
            store.record_session(session)  # into the journal with the rest
        flushed = store.close()
        result.unwritten_rows = flushed.unwritten
        result.unwritten_where = (
            str(flushed.journal) if flushed.journal and not flushed.memory_only else
            "memory only: lost when this process ends" if flushed.unwritten else ""
        )  # fmt: skip
        result.wall_s = time.monotonic() - wall_start
        if progress:
            progress(_progress(source, session, tracker, t, time.monotonic() - wall_start))
    return result


def _where(positions: PositionProvider, frame: Frame) -> Position | None:
    """Where ``frame`` was taken: by media time for the video's own track, else by clock."""
    if isinstance(positions, TrackPositions):
        return positions.position_at(positions.lookup_time(frame.t, frame.wall_time))
    return positions.position_at(frame.wall_time)


def _progress(
    source: VideoSource, session: SessionInfo, tracker: SightingTracker, t: float, wall_s: float
) -> Progress:
    duration = None
    if source.frame_count and source.fps:
        duration = source.frame_count / source.fps
    return Progress(
        t=t,
        frames_read=source.stats.frames_read,
        frames_analysed=session.frames_analysed,
        open_sightings=len(tracker.open_sightings),
        closed_sightings=len(tracker.closed),
        analysis_fps=session.frames_analysed / wall_s if wall_s > 0 else 0.0,
        duration_s=duration,
    )


@dataclass
class SessionInputs:
    """Everything a session needs besides the store, built from a config."""

    source: VideoSource
    classifier: Classifier
    positions: PositionProvider | None
    prior: RangePriorStage | None
    time: TimeBasis | None = None  # where the session's times come from


def inputs_from_config(config: Config, log: Callable[[str], None]) -> SessionInputs:
    """Open the source, model, positions and ranges that ``config`` names.

    A file's media time 0 gets its time by the rule of ``docs/time.md``
    (:func:`fieldtool.placement.place_session`); before a file runs, a warning says when
    fewer than half of its frames can get a position from the track.
    """
    src = config.source
    source = VideoSource(
        src.uri,
        sample_fps=src.sample_fps,
        max_frames=src.max_frames,
        retry=src.retry,
        reconnect_backoff_s=src.reconnect_backoff_s,
        reconnect_backoff_max_s=src.reconnect_backoff_max_s,
        open_timeout_s=src.open_timeout_s,
        read_timeout_s=src.read_timeout_s,
        assume_fps=src.assume_fps,
        log=log,
    )
    fps = source.probe()
    placement = place_session(config, live=source.live, fps=fps)
    positions = placement.positions
    for note in (*placement.notes, *getattr(positions, "notes", ())):
        log(note)
    log(placement.time.describe())
    if placement.time.source == "processing-time":
        log(
            f"warning: {config.source.uri} carries no recording time and no track: its "
            "sightings are dated at the processing time; give --start-time"
        )
    source.start_time = placement.time.start
    start = placement.time.start  # set for every file
    if isinstance(positions, TrackPositions) and source.frame_count and fps and start:
        duration = source.frame_count / fps
        share = overlap_share(positions, start, duration, source.sample_fps)
        warning = overlap_warning(positions, placement.time, duration, share)
        if warning:
            log(warning)
    classifier: Classifier
    if config.model.gallery is not None:
        classifier = classifier_from_gallery(
            config.model.gallery, config.model.device, config.model.batch_size,
            tiles=config.model.tiles, tile_reduce=config.model.tile_reduce,
        )  # fmt: skip
    else:
        model = load_model_folder(config.model.path)
        if is_backbone_only(model.info):
            raise FieldtoolError(
                f"{config.model.path}: a backbone without a species head; use it with a "
                "gallery ('fieldtool gallery add --model ...', then 'run --gallery')"
            )
        classifier = DinoClassifier(
            model,
            device=config.model.device,
            batch_size=config.model.batch_size,
            tiles=config.model.tiles,
            tile_reduce=config.model.tile_reduce,
            precision=config.model.precision,
            compile=config.model.compile,
            micro_batch=config.model.cpu_micro_batch,
            log=log,
        )
    prior = None
    ranges = range_prior_from_config(config.prior)
    if ranges is not None:
        for line in range_coverage(ranges, classifier.labels).lines():
            log(line)
        prior = RangePriorStage(ranges, classifier.labels, config.prior)
    return SessionInputs(source, classifier, positions, prior, placement.time)


def run_from_config(
    config: Config,
    *,
    log: Callable[[str], None],
    progress: Callable[[Progress], None] | None = None,
    session_id: str | None = None,
    replace_earlier: bool = False,
) -> SessionResult:
    """Build the inputs named by ``config`` and run one session into its store.

    ``replace_earlier`` first deletes earlier sessions of the same source (the demo
    uses it so that running it twice does not double its sightings).
    """
    inputs = inputs_from_config(config, log)
    store = SightingStore(
        config.store.db,
        lock_timeout_s=config.store.lock_timeout_s,
        flush_interval_s=config.store.flush_interval_s,
        log=log,
    )
    if replace_earlier and (gone := store.forget_source(str(inputs.source.uri))):
        log(f"replaced {len(gone)} earlier session(s) of {inputs.source.uri}")
    try:
        return run_session(
            inputs.source,
            inputs.classifier,
            store,
            config,
            positions=inputs.positions,
            prior=inputs.prior,
            time_basis=inputs.time,
            log=log,
            session_id=session_id,
            progress=progress,
        )
    finally:
        close = getattr(inputs.positions, "close", None)  # live receivers hold a thread
        if close is not None:
            close()
