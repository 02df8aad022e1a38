"""Pipeline stage "source": frames from a video file, a camera or a network stream (OpenCV).

Files give media time from the decode position (frame index / fps) and are read as fast
as they decode; frames between analysis samples are skipped with ``grab()`` (no pixel
conversion). Cameras and URLs give wall-clock time since the stream opened, and a
dropped stream is reopened with exponential backoff; each outage is recorded as a gap.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Frame

LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")


@dataclass
class SourceStats:
    """Counters a source keeps while it runs."""

    frames_read: int = 0  # frames decoded or grabbed
    frames_yielded: int = 0  # frames handed to the pipeline
    reconnects: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (from_t, to_t) outages, s


def is_live(uri: str) -> bool:
    return uri.isdigit() or uri.lower().startswith(LIVE_PREFIXES)


class VideoSource:
    """Frames sampled at ``sample_fps`` from one OpenCV source.

    ``start_time`` anchors media time 0 of a file to UTC (default: now). For live
    sources it is ignored: frames carry the wall clock.
    """

    def __init__(
        self,
        uri: str,
        *,
        sample_fps: float = 5.0,
        start_time: datetime | None = None,
        max_frames: int | None = None,
        reconnect_attempts: int = 5,
        reconnect_backoff_s: float = 1.0,
        log: Callable[[str], None] | None = None,
        open_capture: Callable[[str | int], cv2.VideoCapture] | None = None,
    ) -> None:
        self.uri = uri
        self.live = is_live(uri)
        self.sample_fps = sample_fps
        self.start_time = start_time
        self.max_frames = max_frames
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_backoff_s = reconnect_backoff_s
        self.stats = SourceStats()
        self._log = log or (lambda message: None)
        self._open_capture = open_capture or _default_capture
        self.fps: float | None = None
        self.frame_count: int | None = None
        if not self.live:
            self._check_file()

    def _check_file(self) -> None:
        path = Path(self.uri)
        if not path.exists():
            raise FieldtoolError(f"{self.uri}: video file not found")
        if path.is_dir():
            raise FieldtoolError(f"{self.uri}: is a folder, expected a video file")
        if path.stat().st_size == 0:
            raise FieldtoolError(f"{self.uri}: video file is empty")
        if cv2.haveImageReader(str(path)):  # FFmpeg would play a photo as a 1-frame video
            raise FieldtoolError(f"{self.uri}: is a still image, not a video")

    def _open(self) -> cv2.VideoCapture:
        target: str | int = int(self.uri) if self.uri.isdigit() else self.uri
        cap = self._open_capture(target)
        if not cap.isOpened():
            cap.release()
            kind = "stream" if self.live else "video file"
            raise FieldtoolError(f"{self.uri}: cannot open {kind} (unsupported or unreadable)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 0 < fps < 1000 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        return cap

    def probe(self) -> float | None:
        """Open a file once to read its frame rate and frame count (``fps``,
        ``frame_count``); returns the frame rate, None when unknown or live."""
        if self.live:
            return None
        self._open().release()
        return self.fps

    def frames(self) -> Iterator[Frame]:
        """Yield sampled frames until the source ends (files) or cannot be reopened (live)."""
        return self._live_frames() if self.live else self._file_frames()

    def _file_frames(self) -> Iterator[Frame]:
        cap = self._open()
        start = self.start_time or utc_now()
        fps = self.fps or 30.0
        step = 1.0 / self.sample_fps
        next_t = 0.0
        index = -1
        try:
            while self.max_frames is None or index + 1 < self.max_frames:
                if not cap.grab():
                    resumed = self._skip_damage(cap, index, fps)
                    if resumed is None:
                        break
                    index = resumed - 1
                    continue
                index += 1
                self.stats.frames_read += 1
                t = index / fps
                if t + 1e-9 < next_t:
                    continue
                ok, image = cap.retrieve()
                if not ok or image is None:
                    break
                next_t += step * max(1, int((t - next_t) / step) + 1)
                self.stats.frames_yielded += 1
                yield Frame(index, t, start + timedelta(seconds=t), image)
        finally:
            cap.release()
        if index < 0:
            raise FieldtoolError(f"{self.uri}: no frame could be decoded (corrupt or not a video)")
        if self.frame_count and index + 1 < self.frame_count - 1 and self.max_frames is None:
            self._log(
                f"{self.uri}: decoding stopped at frame {index + 1} of {self.frame_count} "
                "(file truncated or damaged); sightings so far are kept"
            )

    def _skip_damage(self, cap: cv2.VideoCapture, index: int, fps: float) -> int | None:
        """After a failed decode inside a file, seek past the damage; the frame to resume at.

        Tries 1 frame, 1 s and 5 s further on; None at the real end of the file.
        """
        if not self.frame_count or index + 2 >= self.frame_count:
            return None
        for skip in (1, round(fps), round(5 * fps)):
            target = index + 1 + skip
            if target >= self.frame_count:
                break
            if cap.set(cv2.CAP_PROP_POS_FRAMES, target) and cap.grab():
                self._log(
                    f"{self.uri}: damaged data at frame {index + 1}; resumed at frame {target}"
                )
                self.stats.gaps.append(((index + 1) / fps, target / fps))
                # the grab above consumed frame ``target``; step back so it is read again
                cap.set(cv2.CAP_PROP_POS_FRAMES, target)
                return target
        return None

    def _live_frames(self) -> Iterator[Frame]:
        cap: cv2.VideoCapture | None  # None once the stream is gone for good
        try:
            cap = self._open()
        except FieldtoolError:  # a camera still booting, a network not up yet: keep trying
            if not self.reconnect_attempts:
                raise
            cap = self._reconnect(0.0, time.monotonic(), why="not answering")
            if cap is None:
                raise FieldtoolError(
                    f"{self.uri}: cannot open stream ({self.reconnect_attempts + 1} tries)"
                ) from None
        opened = time.monotonic()
        opened_wall = utc_now()
        step = 1.0 / self.sample_fps
        next_t = 0.0
        index = -1
        try:
            while self.max_frames is None or index + 1 < self.max_frames:
                ok, image = cap.read()
                now = time.monotonic() - opened
                if not ok or image is None:
                    cap.release()
                    cap = self._reconnect(now, opened)
                    if cap is None:
                        return
                    continue
                index += 1
                self.stats.frames_read += 1
                if now + 1e-9 < next_t:
                    continue
                next_t = now + step
                self.stats.frames_yielded += 1
                yield Frame(index, now, opened_wall + timedelta(seconds=now), image)
        finally:
            if cap is not None:
                cap.release()

    def _reconnect(
        self, lost_at: float, opened: float, why: str = "stream dropped"
    ) -> cv2.VideoCapture | None:
        """Reopen with exponential backoff; None when the stream stays away."""
        delay = self.reconnect_backoff_s
        for attempt in range(1, self.reconnect_attempts + 1):
            self._log(
                f"{self.uri}: {why}; reconnect {attempt}/{self.reconnect_attempts} in {delay:.1f} s"
            )
            time.sleep(delay)
            delay *= 2
            try:
                cap = self._open()
            except FieldtoolError:
                continue
            self.stats.reconnects += 1
            self.stats.gaps.append((lost_at, time.monotonic() - opened))
            return cap
        self._log(
            f"{self.uri}: stream did not come back after {self.reconnect_attempts} tries; ending session"
        )
        return None


def _default_capture(target: str | int) -> cv2.VideoCapture:
    return cv2.VideoCapture(target)


_END = object()


class Prefetcher:
    """Decodes on a background thread so the model never waits on a faster decoder.

    Files: a bounded queue of ``depth`` frames, fewer when they would take more than
    ``max_bytes`` (4K frames are 25 MB each) but never fewer than ``min_depth`` (a full
    batch); the reader blocks when it is full, so no frame is lost. Live sources: only the
    newest frame is kept; a frame replaced before the pipeline took it is counted in
    ``dropped`` (the model always gets the newest frame when it is free; see
    ``batches.classified_ahead``). Errors in the reader are
    raised in the consumer, after the frames decoded before them. ``prepare`` runs on the
    reader thread too (the classifier's resize), overlapping it with inference.
    """

    def __init__(
        self,
        frames: Iterator[Frame],
        *,
        live: bool,
        depth: int = 64,
        min_depth: int = 1,
        max_bytes: int = 512 * 2**20,
        prepare: Callable[[Frame], object] | None = None,
    ) -> None:
        self._frames = frames
        self._prepare = prepare
        self.live = live
        self.dropped = 0
        self.depth = 1 if live else depth  # queued frames at most; set from the first frame
        self._min_depth = min_depth
        self._max_bytes = max_bytes
        self._queue: queue.Queue = queue.Queue(maxsize=self.depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fieldtool-reader", daemon=True)

    def _put(self, item: object) -> bool:
        """Hand over one item; False when the consumer has stopped."""
        replace_stale = self.live and isinstance(item, tuple)
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0 if replace_stale else 0.1)
                return True
            except queue.Full:
                if replace_stale:
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass
        return False

    def _fit_depth(self, frame: Frame, prepared: object) -> None:
        """Lower the queue's length so that it holds at most ``max_bytes`` of frames."""
        size = frame.image.nbytes + (prepared.nbytes if isinstance(prepared, np.ndarray) else 0)
        fit = max(self._min_depth, self._max_bytes // max(1, size))
        if fit < self.depth:
            with self._queue.mutex:  # nothing is queued yet; put() reads maxsize under it
                self._queue.maxsize = self.depth = fit

    def _run(self) -> None:
        try:
            for i, frame in enumerate(self._frames):
                prepared = self._prepare(frame) if self._prepare else None
                if i == 0 and not self.live:
                    self._fit_depth(frame, prepared)
                if not self._put((frame, prepared)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
            return
        finally:
            close = getattr(self._frames, "close", None)
            if close is not None and self._stop.is_set():
                close()
        self._put(_END)

    def __iter__(self) -> Iterator[tuple[Frame, object]]:
        """(frame, what ``prepare`` made of it, or None) pairs, in order."""
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            self._thread.join(timeout=5)
