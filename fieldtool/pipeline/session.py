"""One session over one source: read, classify in batches beside the reader, and run
every classified batch through :class:`~fieldtool.pipeline.steps.FrameStep` at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from fieldtool.batches import MotionGate, batches, classified_ahead
from fieldtool.config import Config
from fieldtool.photos import PhotoMedia, PhotoSteps
from fieldtool.pipeline.steps import (
    FrameStep,
    Progress,
    SessionResult,
    start_session,
)
from fieldtool.placement import (
    live_overlap_warning,
)
from fieldtool.preview import tiles_seen_by
from fieldtool.priors import RangePriorStage
from fieldtool.sources import Prefetcher, SourceStats
from fieldtool.store import SightingStore
from fieldtool.store.maintenance import DROPPED
from fieldtool.store.outcome import final_note
from fieldtool.timebase import TimeBasis, utc_now
from fieldtool.tracks import PositionProvider
from fieldtool.types import (
    Classifier,
    Frame,
    FrameSource,
    SessionInfo,
    SessionStatus,
    classifier_input,
)


def run_session(
    source: FrameSource,
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
    photos = None
    if isinstance(source, PhotoMedia):  # a photo source: its own place, media rows, plot mode
        photos = PhotoSteps(source, classifier.labels, config)
        config = photos.session_config(config)
    session = start_session(
        source, classifier, store, config, time_basis=time_basis, session_id=session_id
    )
    step = FrameStep.for_session(session, store, config, classifier.labels,
                                 positions=positions, prior=prior, log=log, photos=photos,
                                 seen_tiles=tiles_seen_by(classifier))  # fmt: skip
    result = step.result
    live_check_pending = source.live and positions is not None
    batch_size = 1 if source.live else config.model.batch_size
    wall_start = time.monotonic()
    last_progress = wall_start
    t = 0.0

    def prepare(frame: Frame) -> np.ndarray | None:  # on the reader thread, beside inference
        return classifier.prepare(classifier_input(classifier, frame))

    reader = Prefetcher(
        source.frames(), live=source.live, depth=4 * batch_size, min_depth=batch_size,
        max_bytes=int(config.source.read_ahead_mb * 2**20),
        keep_max_side=config.source.keep_max_side or None, prepare=prepare,
    )  # fmt: skip
    gate = MotionGate(config.source.motion_threshold)

    def classify(pairs: list[tuple[Frame, Any]]) -> tuple[np.ndarray, np.ndarray, int]:
        start = time.monotonic()
        out = gate.classify(classifier, [classifier_input(classifier, f) for f, _ in pairs],
                            [p for _, p in pairs])  # fmt: skip
        result.model_busy_s += time.monotonic() - start  # one model thread: no race
        return out

    # The file is written on a thread of its own while the model classifies the next batch
    # (DuckDB waits on the disk without the GIL); the store is the session's again before
    # the next batch is handled, so only one thread uses it at a time.
    step.flush_by_caller = True
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldtool-store")
    writing: Future[None] | None = None
    try:
        for pairs, (probs, tile_probs, reused) in classified_ahead(
            batches(iter(reader), batch_size), classify, live=source.live
        ):
            post_start = time.monotonic()
            if writing is not None:
                done, writing = writing, None
                done.result()  # a write error that is not the file's own ends the session
            result.frames_reused += reused
            step.step_batch([frame for frame, _ in pairs], probs, tile_probs)
            t = pairs[-1][0].t
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
            if step.closed_unflushed:  # a closed sighting reaches the file at once
                step.closed_unflushed = False
                writing = writer.submit(step.flush, 0.5)
            else:
                writing = writer.submit(step.flush, due_only=True)
            now = time.monotonic()
            result.post_busy_s += now - post_start
            if progress and now - last_progress >= progress_interval_s:
                last_progress = now
                progress(_progress(source, session, step, t, now - wall_start))
        if source.stats.lost:  # a live source that did not come back: not a clean end
            session.status = SessionStatus.STREAM_LOST
            session.end_reason = source.stats.end_reason
        else:
            session.status = SessionStatus.FINISHED
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (the CLI raises it named)
        session.status = SessionStatus.INTERRUPTED
        session.end_reason = f"stopped by {exc}" if str(exc) else "stopped by SIGINT (Ctrl-C)"
    except BaseException as exc:
        session.status = SessionStatus.FAILED
        session.end_reason = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
        raise
    finally:
        if writing is not None:
            wait([writing])  # its error, if any, comes again from the last flush's own
        writer.shutdown()
        step.flush_by_caller = False
        if photos is not None and (skipped := photos.media.skipped_summary()):
            session.end_reason = session.end_reason or skipped  # in the end summary
        finish_session(step, source.stats)
        flushed = store.close()
        result.unwritten_rows = flushed.unwritten
        result.unwritten_where = (
            str(flushed.journal) if flushed.journal and not flushed.memory_only else
            "memory only: lost when this process ends" if flushed.unwritten else ""
        )  # fmt: skip
        if flushed.unwritten or flushed.ends_unrecorded:
            end = session.status + (f": {session.end_reason}" if session.end_reason else "")
            result.unwritten_note = final_note(store.path, flushed, session.session_id, end)
        result.wall_s = time.monotonic() - wall_start
        if progress:
            progress(_progress(source, session, step, t, time.monotonic() - wall_start))
    return result


def finish_session(step: FrameStep, stats: SourceStats) -> None:
    """End a session whose ``session.status`` is set: close its open sightings and write
    them, store the source's outages (``stats``: its counters and gaps) and the ended
    session row, flush. The store stays open (a station shares one among its sessions;
    :func:`run_session` and an archive's part close their own)."""
    session, store = step.session, step.store
    step.views.close()
    step.handle(step.tracker.finish())
    step.record_gaps(stats.gaps, final=True)
    session.frames_read = stats.frames_read
    session.ended_at = utc_now()
    step.result.reconnects = stats.reconnects
    store.record_session(session)
    step.flush(0.5)  # short: a held file is waited for once, by close()
    if store.failed is not None:  # the file stopped taking writes and still does
        if session.status == SessionStatus.FINISHED:
            session.status = SessionStatus.FAILED
        session.end_reason = session.end_reason or f"writes failed: {store.failed}"
        if store.dropped_rows:  # lost for good: recovery must not call the session whole
            session.end_reason += f"; {store.dropped_rows} {DROPPED} (memory bound)"
        store.record_session(session)  # into the journal with the rest


def _progress(
    source: FrameSource, session: SessionInfo, step: FrameStep, t: float, wall_s: float
) -> Progress:
    duration = None
    if source.frame_count and source.fps:
        duration = source.frame_count / source.fps
    return Progress(
        t=t,
        frames_read=source.stats.frames_read,
        frames_analysed=session.frames_analysed,
        open_sightings=len(step.tracker.open_sightings),
        closed_sightings=len(step.result.sightings),
        analysis_fps=session.frames_analysed / wall_s if wall_s > 0 else 0.0,
        duration_s=duration,
        frames_total=source.frame_count if isinstance(source, PhotoMedia) else None,
    )
