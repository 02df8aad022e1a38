"""The stages after the model, per frame or per batch of frames: :class:`FrameStep`
(position, prior, smoothing, tracker, store, views), the session row it writes into
(:func:`start_session`), and the null objects of absent stages."""

from __future__ import annotations

import math
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, Self

import numpy as np

from fieldtool.config import Config
from fieldtool.learn.keep import FrameKeeper
from fieldtool.photos import PhotoSteps
from fieldtool.preview import SeenTiles
from fieldtool.smoothing import SightingTracker, TemporalSmoother
from fieldtool.snapshots import FrameViews, SnapshotWriter
from fieldtool.sources import Gap, VideoSource, source_key
from fieldtool.store import SightingStore, StoreWriteError, config_json, top_k
from fieldtool.store.species import model_species
from fieldtool.store.track import TrackRows
from fieldtool.store.writer_rows import top_k_rows
from fieldtool.timebase import TimeBasis, utc_now
from fieldtool.tracks import PositionProvider, TrackPositions
from fieldtool.types import (
    Classifier,
    FieldtoolError,
    Frame,
    FrameResult,
    FrameSource,
    LabelSet,
    Position,
    SessionInfo,
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
    frames_total: int | None = None  # photos: how many the set holds (None: not photos)


@dataclass
class SessionResult:
    session: SessionInfo
    sightings: list[Sighting] = field(default_factory=list)
    frames_reused: int = 0  # unchanged views that reused the previous prediction
    reconnects: int = 0
    unwritten_rows: int = 0  # rows not in the file at the end (locked, or writes failed)
    unwritten_where: str = ""  # where they are: the journal, or "memory only: ..."
    # the sentence the run ends with about them: where they are, or that they are lost
    unwritten_note: str = ""
    model_busy_s: float = 0.0  # wall seconds the model thread spent classifying
    # wall seconds the session's own thread spent on the stages after the model (prior,
    # smoothing, tracker, store rows and flushes, views), batch by batch
    post_busy_s: float = 0.0
    store_write_s: float = 0.0  # wall seconds writing rows to the file, on any thread
    wall_s: float = 0.0  # wall seconds of the whole session
    # plot mode: (photo path, [(species, score), ...]) per photo, in frame order
    photo_species: list[tuple[str, list[tuple[str, float]]]] = field(default_factory=list)
    # a run of several sessions (a Camtrap DP package's deployments): each one's result,
    # in order, this one their summary (fieldtool.pipeline.inputs.combined); else empty
    parts: list[SessionResult] = field(default_factory=list)


def _settings_as_run(
    config: Config, classifier: Classifier, source: FrameSource
) -> dict[str, Any]:
    """The session's config as JSON data, with ``auto`` device, precision, decoder and
    pixels resolved to what actually ran (so a stored session says whether it ran in bf16
    on a CPU, and which decoder read its file)."""
    settings: dict[str, Any] = config.model_dump(mode="json")
    settings["model"].update(classifier.run_settings())
    if isinstance(source, VideoSource):  # photos have no decoder to say
        settings["source"].update(source.run_settings())
    return settings


def start_session(
    source: FrameSource,
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
        source=source_key(str(source.uri)),  # one file however it was named
        model_id=classifier.model_id,
        model_sha256=classifier.model_sha256,
        started_at=utc_now(),
        config_json=config_json(_settings_as_run(config, classifier, source)),
        host=socket.gethostname(),
        time_source=time_basis.source,
        time_zone=time_basis.zone,
        time_zone_known=time_basis.zone_known,
        source_name=source.name,
    )
    store.record_session(session)
    try:
        store.flush()
    except StoreWriteError as exc:  # nothing has run yet: stop here, saying what is kept
        kept = exc.result
        where = (f"its first rows are kept in {kept.journal.name} (`fieldtool recover --db "
                 f"{store.path}` writes them)" if kept.journal is not None and
                 not kept.memory_only else "nothing of it was recorded")  # fmt: skip
        raise FieldtoolError(
            f"{store.path}: the session did not start: its first write failed "
            f"({kept.error or 'unknown'}); {where}; free space (or give another --db) and "
            "run again"
        ) from None
    # every species of the model, sighted or not: a relabel to one is to a known species
    # (the file read once where another process holds it: the session starts all the same).
    # Written with the session's first rows, not its start: their write is the session's.
    for row in model_species(store.path, classifier.labels,
                             timeout_s=0.0 if store.held else 1.0):  # fmt: skip
        store.record_species(*row)
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

    def apply_batch(self, probs: np.ndarray, positions: Sequence[Position | None]) -> np.ndarray:
        return probs


class PriorStep(Protocol):
    """What the loop needs of a prior stage (:class:`RangePriorStage` or :class:`NoPrior`):
    (C,) probabilities of one frame, or (N, C) of a batch, combined with the prior."""

    def apply(self, probs: np.ndarray, position: Position | None) -> np.ndarray: ...

    def apply_batch(
        self, probs: np.ndarray, positions: Sequence[Position | None]
    ) -> np.ndarray: ...


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
    track_rows: TrackRows = field(default_factory=TrackRows)  # which frames keep one
    gaps_stored: int = 0  # source outages written so far
    keeper: FrameKeeper = field(default_factory=FrameKeeper)  # frames kept for learning
    photos: PhotoSteps | None = None  # a photo session's own work (place, media rows, plot)
    segment: str | None = None  # the frames' segment running now (photos: the event)
    # A closed sighting is written at once (a live session's file shows it; in a batch of
    # frames, at the batch's end); a batch task writes a scratch file it exports at its
    # end, and turns this off.
    flush_closed: bool = True
    # The caller flushes after each batch (run_session: on its writer thread, beside the
    # model) when ``closed_unflushed`` says a sighting closed, instead of this step at once.
    flush_by_caller: bool = False
    closed_unflushed: bool = False  # a sighting closed that no flush has written yet
    holding_flush: bool = False  # inside step_batch: one flush at the batch's end

    @classmethod
    def for_session(
        cls,
        session: SessionInfo,
        store: SightingStore,
        config: Config,
        labels: LabelSet,
        *,
        positions: PositionProvider | None = None,
        prior: PriorStep | None = None,
        log: Callable[[str], None] | None = None,
        photos: PhotoSteps | None = None,
        tracker: SightingTracker | None = None,
        seen_tiles: SeenTiles | None = None,
        **extra: Any,
    ) -> Self:
        """The steps of a started session (:func:`start_session`): a fresh smoother, tracker
        (unless one is given), views and result; absent stages are null objects.
        ``seen_tiles``: the classifier's (:func:`fieldtool.preview.tiles_seen_by`), where
        the views draw each tile's label; ``extra``: the fields of a subclass (a station's
        notifications)."""
        if tracker is None:
            tracker = SightingTracker(labels, config.smoothing, session_id=session.session_id,
                                      model_id=session.model_id)  # fmt: skip
        names = labels.species
        pictures = [name for name, on in (("snapshots", config.store.snapshots),
                    ("live view frames", config.store.live_frame_interval_s > 0)) if on]  # fmt: skip
        views = FrameViews(store.snapshot_dir(session.session_id) / "latest.jpg", labels,
                           config, SnapshotWriter(log, " and ".join(pictures) or "pictures"),
                           seen_tiles)  # fmt: skip
        result = SessionResult(session, photo_species=photos.species_sets if photos else [])
        return cls(
            session, store, config, positions or NoPositions(), prior or NoPrior(),
            TemporalSmoother(config.smoothing.tau_s), tracker, views, result, names,
            min(config.model.top_k, len(names)), log, keeper=FrameKeeper(log), photos=photos,
            **extra,
        )  # fmt: skip

    def step(self, frame: Frame, raw: np.ndarray, tile_probs: np.ndarray) -> None:
        """Run one classified frame through the stages. ``raw``: (C,) probabilities,
        ``tile_probs``: (T, C)."""
        self.keeper.observe(frame)
        if frame.segment != self.segment:
            self.new_segment(frame.segment)
        photos = self.photos
        position = photos.position(frame) if photos else None
        position = position or _where(self.positions, frame)
        if photos is not None:  # its media row; plot mode: tile maxima, the prior per tile
            raw, fused = photos.scores(frame, raw, tile_probs, self.prior, position)
            photos.record(self.store, self.session.session_id, frame)
        else:
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
        if position is not None and self.track_rows.keep(frame.t, position,
                                                         photo=photos is not None):  # fmt: skip
            self.store.record_track(session.session_id, frame.wall_time, frame.t, position)

    def step_batch(self, frames: Sequence[Frame], raw: np.ndarray, tile_probs: np.ndarray) -> None:
        """Run a batch of classified frames through the stages: the same rows, sightings and
        events as :meth:`step` of each frame in turn, with the per-frame work done over the
        batch's arrays. ``raw``: (N, C) probabilities, ``tile_probs``: (N, T, C).

        Prior look-up and fusion, smoothing, the tracker's idle species and the stored top-k
        run once over (N, C); a sighting closed in the batch is flushed once, at its end.
        Photos (their own place, media rows, plot mode), a change of segment, and a tracker
        whose own update watches every frame (a subclass's) go frame by frame.
        """
        per_frame = (
            self.photos is not None
            or any(frame.segment != self.segment for frame in frames)
            or type(self.tracker).update is not SightingTracker.update
        )
        if per_frame:
            for i, frame in enumerate(frames):
                self.step(frame, raw[i], tile_probs[i])
            return
        positions = _where_batch(self.positions, frames)
        fused = self.prior.apply_batch(raw, positions)
        smoothed = self.smoother.update_batch(fused, [frame.t for frame in frames])
        items = [
            FrameResult(frame, raw[i], tile_probs[i], positions[i], fused[i], smoothed[i])
            for i, frame in enumerate(frames)
        ]
        top: list[tuple[tuple[list[str], list[float]], tuple[list[str], list[float]]]] = []
        # (raw, fused) top-k per frame; none when detections are not kept
        if self.config.store.detections:
            raw_top = top_k_rows(raw, self.names, self.k)
            top = list(zip(raw_top, raw_top if fused is raw else
                           top_k_rows(fused, self.names, self.k), strict=True))  # fmt: skip
        session, done = self.session, 0
        self.holding_flush = True
        try:
            for item, events in zip(items, self.tracker.update_batch(items, smoothed),
                                    strict=True):  # fmt: skip
                self.keeper.observe(item.frame)  # before its events, as step does
                self.handle(events)
                self.views.show(item)
                position, frame = item.position, item.frame
                # photos never come here: they go frame by frame (per_frame)
                if position is not None and self.track_rows.keep(frame.t, position,
                                                                 photo=False):  # fmt: skip
                    self.store.record_track(session.session_id, frame.wall_time, frame.t,
                                            position)  # fmt: skip
                done += 1
        finally:  # the frames handled so far count and keep their rows, as step's do
            session.frames_analysed += done
            session.frames_positioned += sum(p is not None for p in positions[:done])
            for item, (raw_k, fused_k) in zip(items[:done], top[:done], strict=False):  # fmt: skip
                frame = item.frame
                self.store.record_detection(session.session_id, frame.index, frame.t,
                                            frame.wall_time, item.position, raw_k, fused_k)  # fmt: skip
            self.holding_flush = False
            if self.closed_unflushed and not self.flush_by_caller:
                self.closed_unflushed = False
                self.flush(0.5)  # the batch's closed sightings reach the file now

    def new_segment(self, segment: str | None) -> None:
        """The frames' segment changed (the next photo event): open sightings end, the
        smoother and the tracker start afresh."""
        self.handle(self.tracker.finish())
        old = self.tracker
        self.tracker = SightingTracker(old.labels, old.cfg, session_id=old.session_id,
                                       model_id=old.model_id, keep_frames=old.keep_frames)  # fmt: skip
        self.smoother.reset()
        self.segment = segment

    def handle(self, events: list[SightingEvent]) -> None:
        """Snapshots and store rows for sighting events; a closed sighting is flushed."""
        for event in events:
            sighting = event.sighting
            if sighting.event_id is None:
                sighting.event_id = self.segment
            if (
                self.config.store.snapshots
                and event.frame is not None
                and event.kind in ("start", "end")
            ):
                path = self.views.images.snapshot(self.store, sighting, event.frame)
                if path is not None:
                    sighting.snapshot_path = path
            self.keeper.handle(event, self.store, self.config.store.learn_frames)
            self.store.record_sighting(sighting)
            if event.kind == "end":
                self.result.sightings.append(sighting)
                self.closed_unflushed = self.closed_unflushed or self.flush_closed
        if self.closed_unflushed and not (self.holding_flush or self.flush_by_caller):
            self.closed_unflushed = False
            self.flush(0.5)  # a closed sighting reaches the file at once

    def flush(self, timeout_s: float | None = None, *, due_only: bool = False) -> None:
        """Write buffered rows (``due_only``: when the flush interval has passed). A file
        that stops taking writes (disk full) does not stop the session: the store keeps
        the rows (journal, else memory) and retries; the error is logged once."""
        start = time.monotonic()
        try:
            if due_only:
                self.store.maybe_flush()
            else:
                self.store.flush(timeout_s=timeout_s)
        except StoreWriteError as exc:
            if self.log and not exc.logged:  # the store's log has said it already
                self.log(f"warning: {exc}")
        finally:
            self.result.store_write_s += time.monotonic() - start

    def record_gaps(self, gaps: Sequence[Gap], *, final: bool = False) -> None:
        """Store the source's outages not stored yet (``final``: also one still going)."""
        for gap in gaps[self.gaps_stored :]:
            if gap.ended_at is None and not final:
                break
            self.store.record_gap(self.session.session_id, gap.start_t, gap.end_t,
                                  gap.started_at, gap.ended_at, gap.reason)  # fmt: skip
            self.gaps_stored += 1


def _where(positions: PositionProvider, frame: Frame) -> Position | None:
    """Where ``frame`` was taken: by media time for the video's own track, else by clock."""
    if isinstance(positions, TrackPositions):
        return positions.position_at(positions.lookup_time(frame.t, frame.wall_time))
    return positions.position_at(frame.wall_time)


def _where_batch(positions: PositionProvider, frames: Sequence[Frame]) -> list[Position | None]:
    """:func:`_where` of each frame; a track is interpolated for the batch at once."""
    if not isinstance(positions, TrackPositions):
        return [_where(positions, frame) for frame in frames]
    when = [positions.lookup_time(frame.t, frame.wall_time) for frame in frames]
    seconds = positions.seconds(when)
    lats, lons, accs = (a.tolist() for a in positions.interpolate(seconds))
    eles = positions.elevation(seconds).tolist()
    # as TrackPositions.position_at builds one: NaN latitude, no position; NaN accuracy or
    # elevation, None
    return [
        None if math.isnan(lat) else
        Position(lat, lon, None if math.isnan(acc) else acc, positions.source,
                 None if math.isnan(ele) else ele)
        for lat, lon, acc, ele in zip(lats, lons, accs, eles, strict=True)
    ]  # fmt: skip
