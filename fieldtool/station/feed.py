"""One source of a station: its reader thread, its post-model stages and live figures.

The reader thread decodes (:class:`~fieldtool.sources.VideoSource`, which reconnects a
dropped stream with backoff) and hands frames to the model worker's slot. The stages
after the model are the session's own (:class:`~fieldtool.pipeline.FrameStep`, built as
:func:`~fieldtool.pipeline.run_session` builds it), run on the station's thread only.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from fieldtool.config import Config
from fieldtool.notify import Notice, notice_of
from fieldtool.pipeline import FrameStep
from fieldtool.sources import VideoSource, shrunk
from fieldtool.station.worker import Item, ModelWorker, Slot
from fieldtool.timebase import TimeBasis, utc_now
from fieldtool.tracks import PositionProvider
from fieldtool.types import Classifier, SightingEvent, classifier_input
from fieldtool.wallclock import CLOCK_STEP

RATE_WINDOW_S = 10.0  # seconds of analysed frames the rate is taken over
LAG_WINDOW = 200  # recent frames the lag percentile is taken over


@dataclass
class StationStep(FrameStep):
    """A session's stages in a station: as :class:`FrameStep`, and each sighting's start
    and end told to ``tell`` as a :class:`Notice`."""

    tell: Callable[[Notice], None] | None = None
    station: str = ""
    source_name: str = ""
    dashboard_url: str = ""
    peaks: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    last_sighting: dict[str, Any] | None = None

    def handle(self, events: list[SightingEvent]) -> None:
        super().handle(events)  # snapshots and store rows first: the notice names them
        for event in events:
            sighting = event.sighting
            sid = sighting.sighting_id
            # the raw and fused scores at the peak frame (a candidate's frame, it may be)
            peak = self.tracker.peak_result(sighting) if event.kind != "end" else None
            if peak is not None:
                self.peaks[sid] = (_score(peak.raw, self.names, sighting.species),
                                   _score(peak.fused, self.names, sighting.species))  # fmt: skip
            if event.kind == "update":
                continue
            raw, fused = self.peaks.pop(sid, (None, None)) if event.kind == "end" else \
                self.peaks.get(sid, (None, None))  # fmt: skip
            self.last_sighting = {
                "sighting_id": sid, "species": sighting.species,
                "common_name": sighting.common_name, "event": event.kind,
                "at": (sighting.first_seen if event.kind == "start" else
                       sighting.last_seen).isoformat() + "Z",
            }  # fmt: skip
            if self.tell is not None:
                self.tell(notice_of(
                    event.kind, sighting, station=self.station, source=self.source_name,
                    raw=raw, fused=fused, dashboard_url=self.dashboard_url, sent_at=utc_now(),
                ))  # fmt: skip


def _score(probs: np.ndarray | None, names: list[str], species: str) -> float | None:
    if probs is None or species not in names:
        return None  # a genus sighting has no single class
    return float(probs[names.index(species)])


@dataclass
class Feed:
    """A running source of the station."""

    key: str  # unique per run: a source restarted by a reload gets a new one
    name: str
    config: Config
    source: VideoSource
    slot: Slot
    positions: PositionProvider | None
    prior: Any  # RangePriorStage or None
    time_basis: TimeBasis | None
    step: StationStep | None = None  # set on the station's thread when the session opens
    stop_reason: str | None = None  # why the station stopped it (shutdown, reload)
    thread: threading.Thread | None = None
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=LAG_WINDOW))
    analysed_at: deque[float] = field(default_factory=deque)  # monotonic, last RATE_WINDOW_S
    newest_arrived: float | None = None  # monotonic s the newest analysed frame came in
    status: str = "starting"
    clock: Callable[[], float] = time.monotonic  # (tests) the monotonic clock
    wall: Callable[[], datetime] = utc_now  # (tests) this computer's clock, naive UTC

    def start_reader(self, worker: ModelWorker, classifier: Classifier) -> None:
        worker.add(self.slot)
        self.thread = threading.Thread(
            target=self._read, args=(worker, classifier), name=f"fieldtool-read-{self.name}",
            daemon=True,
        )  # fmt: skip
        self.thread.start()

    def _read(self, worker: ModelWorker, classifier: Classifier) -> None:
        keep = self.config.source.keep_max_side or None
        error: BaseException | None = None
        try:
            frames = self.source.frames()
            try:
                for frame in frames:
                    if self.slot.stopped:
                        break
                    prepared = classifier.prepare(classifier_input(classifier, frame))
                    if prepared is not None and keep:
                        frame = shrunk(frame, keep)
                    if not worker.put(self.slot, Item(frame, prepared, time.monotonic())):
                        break
            finally:
                frames.stop()
                frames.close()
        except BaseException as exc:  # a source that failed for good: the others go on
            error = exc
        finally:
            worker.end(self.slot, error)

    def stop(self, worker: ModelWorker, reason: str, *, discard: bool = False) -> None:
        """Ask the reader to end (from any thread); queued frames are still analysed
        unless ``discard``."""
        self.stop_reason = self.stop_reason or reason
        self.source.stop()
        worker.stop_slot(self.slot, discard=discard)

    def analysed(self, lag_s: float, arrived: float) -> None:
        """A frame analysed now: ``lag_s`` old when the model took it, come in at monotonic
        ``arrived`` (s)."""
        now = self.clock()
        self.lags.append(lag_s)
        self.analysed_at.append(now)
        while self.analysed_at and now - self.analysed_at[0] > RATE_WINDOW_S:
            self.analysed_at.popleft()
        self.newest_arrived = arrived

    def newest_frame_at(self) -> str | None:
        """When the newest analysed frame came in (ISO UTC): this computer's clock now less
        the frame's age on the monotonic clock, so a reader's "now minus this" is its true
        age whatever ``--time-offset`` or a clock step did to the frame's stored time."""
        if self.newest_arrived is None:
            return None
        age = max(0.0, self.clock() - self.newest_arrived)
        return (self.wall() - timedelta(seconds=age)).isoformat() + "Z"

    def figures(self) -> dict[str, Any]:
        """The live figures the dashboard shows for this source."""
        lags = sorted(self.lags)
        session = self.step.session if self.step is not None else None
        span = self.analysed_at[-1] - self.analysed_at[0] if len(self.analysed_at) > 1 else 0
        return {
            "name": self.name, "uri": self.source.uri, "live": self.source.live,
            "status": self.status,
            "session_id": session.session_id if session else None,
            "newest_frame_at": self.newest_frame_at(),
            "frames_read": self.source.stats.frames_read,
            "frames_analysed": session.frames_analysed if session else 0,
            "rate_fps": round((len(self.analysed_at) - 1) / span, 3) if span > 0 else 0.0,
            "lag_s": round(self.lags[-1], 4) if self.lags else None,
            "lag_p95_s": round(lags[min(len(lags) - 1, math.ceil(0.95 * len(lags)) - 1)], 4)
            if lags else None,
            "dropped": self.slot.dropped,
            "reconnects": self.source.stats.reconnects,
            # a clock step is kept with the gaps (source_gaps) but is no outage
            "gaps": sum(not g.reason.startswith(CLOCK_STEP) for g in self.source.stats.gaps),
            "clock_steps": sum(g.reason.startswith(CLOCK_STEP) for g in self.source.stats.gaps),
            "open_sightings": len(self.step.tracker.open_sightings) if self.step else 0,
            "last_sighting": self.step.last_sighting if self.step else None,
            "latest_jpeg": str(self.step.views.latest.resolve()) if self.step else None,
        }  # fmt: skip


def now_iso() -> str:
    return utc_now().isoformat() + "Z"
