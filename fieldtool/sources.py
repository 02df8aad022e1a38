"""Pipeline stage "source": frames from a video file, a camera or a network stream (OpenCV).

Files: a frame's media time is its presentation timestamp (``CAP_PROP_POS_MSEC``: the
container's PTS), so variable-rate video keeps true times; without timestamps, or when
FFmpeg only assumes the rate (raw .h264, AVI with rate 0), index / rate, said in the log.
Unsampled frames are only ``grab()``-ed. A decode failing before the end is damage: read on
to the next key frame (else seek past it), record a :class:`Gap`. Frame counts (often estimates) never decide where a file ends.
Cameras and URLs: the wall clock at opening + monotonic time since (and time asleep),
re-anchored when the clock is set meanwhile (:mod:`fieldtool.wallclock`); open and read timeouts; a dropped
stream is reopened with capped exponential backoff, forever or ``retry`` times; each outage
is a :class:`Gap`; one that stays away sets ``stats.lost``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, cast

import cv2
import numpy as np

from fieldtool.keyframes import read_on, resume_at
from fieldtool.mediaclock import MediaClock, invented_timing, stopped_early
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Frame
from fieldtool.wallclock import LiveClock, clock_synchronised

LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")
FFMPEG_ASSUMED_FPS = 25.0  # what FFmpeg times a stream by when it carries no frame rate
FFMPEG_LOG_FATAL = 8  # FFmpeg's AV_LOG_FATAL: the messages OpenCV's FFmpeg still prints
DAMAGE_STEP_S = 15.0  # the longest step of the search past damage (see _skip_damage)
Retry = int | Literal["forever"]


@dataclass(frozen=True)
class Gap:
    """An outage: no frames from media time ``start_t`` to ``end_t`` (seconds), wall time
    ``started_at`` to ``ended_at`` (UTC, naive; None: never came back), why (one line)."""

    start_t: float
    end_t: float
    started_at: datetime
    ended_at: datetime | None
    reason: str


@dataclass
class SourceStats:
    """Counters and the outcome of a source, kept while it runs."""

    frames_read: int = 0  # frames decoded or grabbed
    frames_yielded: int = 0  # frames handed to the pipeline
    reconnects: int = 0  # outages a live stream came back from
    gaps: list[Gap] = field(default_factory=list)  # outages and skipped damage, in order
    lost: bool = False  # a live stream did not come back within its retries
    end_reason: str | None = None  # why the source ended early (lost, "stopped"): one line
    timing: str = ""  # frame times: "pts", "frame rate", "assumed frame rate", "wall clock"


def is_live(uri: str) -> bool:
    return uri.isdigit() or uri.lower().startswith(LIVE_PREFIXES)


def source_key(uri: str) -> str:
    """What a session records as its source: a camera or stream (``0``, a URL) as given; a
    local file, folder or glob as its absolute, normalised path, so ``./walk.mp4`` from its
    folder, ``../x/walk.mp4`` and ``/data/x/walk.mp4`` are one file (symbolic links are not
    followed: the path is the one the user gave, made whole), and a Camtrap DP package's
    ``datapackage.json`` is its folder. A rerun named otherwise is then known as one
    (the "already holds" warning, ``--replace``)."""
    if is_live(uri) or "://" in uri:
        return uri
    path = Path(os.path.normpath(os.path.abspath(os.path.expanduser(uri))))
    if path.name == "datapackage.json":
        path = path.parent
    return str(path)


class FrameStream(Iterator[Frame]):
    """A source's frames; ``stop()``, from any thread, ends them at the next frame or
    reconnect try (the :class:`Prefetcher` calls it when its consumer stops)."""

    def __init__(self, frames: Generator[Frame, None, None], stop: Callable[[], None]) -> None:
        self._frames = frames
        self.stop = stop

    def __next__(self) -> Frame:
        return next(self._frames)

    def close(self) -> None:
        self._frames.close()


class VideoSource:
    """Frames sampled at ``sample_fps`` from one OpenCV source.

    ``start_time`` anchors a file's media time 0 to UTC (default: now; live: the wall
    clock + ``clock_offset_s``). ``assume_fps``: the rate of a file that gives none (default: 25).
    Live: ``retry`` "forever" (default) or a number of reopen tries (``reconnect_attempts``
    is its old name), backoff ``reconnect_backoff_s`` doubling up to ``..._max_s``.
    ``sleep``, ``clock``, ``wall``, ``synchronised``, ``boot`` (tests): the backoff wait,
    ``time.monotonic``, ``utc_now``, the kernel's word on the clock, ``CLOCK_BOOTTIME``.
    ``gps_time``: GPS time now (:class:`LiveClock`).
    """

    def __init__(
        self,
        uri: str,
        *,
        sample_fps: float = 5.0,
        start_time: datetime | None = None,
        max_frames: int | None = None,
        retry: Retry | None = None,
        reconnect_attempts: int | None = None,
        reconnect_backoff_s: float = 1.0,
        reconnect_backoff_max_s: float = 30.0,
        open_timeout_s: float | None = 10.0,
        read_timeout_s: float | None = 10.0,
        assume_fps: float | None = None,
        log: Callable[[str], None] | None = None,
        open_capture: Callable[[str | int], cv2.VideoCapture] | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] | None = None,
        synchronised: Callable[[], bool | None] = clock_synchronised,
        boot: Callable[[], float | None] | None = None,
    ) -> None:
        self.uri = uri
        self.live = is_live(uri)
        self.name: str | None = None  # a name for the source beside its URI (a station's)
        self.sample_fps = sample_fps
        self.start_time, self.clock_offset_s = start_time, 0.0  # s: --time-offset, live
        self.max_frames = max_frames
        if retry is None:
            retry = "forever" if reconnect_attempts is None else reconnect_attempts
        if retry != "forever" and not (type(retry) is int and retry >= 0):
            raise FieldtoolError(f"source.retry {retry!r}: expected forever or a number >= 0")
        self.retry: Retry = retry
        self.reconnect_backoff_s = reconnect_backoff_s
        self.reconnect_backoff_max_s = reconnect_backoff_max_s
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.assume_fps = assume_fps
        self.stats = SourceStats()
        self._log = log or (lambda message: None)
        self._open_capture = open_capture or self._capture
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._clock, self._wall, self._synchronised = clock, wall, synchronised
        self._boot = boot  # CLOCK_BOOTTIME (tests); None: the machine's, beside its clocks
        self.gps_time: Callable[[], datetime | None] | None = None  # GPS time now, or None
        self.fps: float | None = None  # the rate times fall back on (assumed when unknown)
        self.fps_known = False  # the file gives its frame rate
        self.frame_count: int | None = None  # as OpenCV reports it: often an estimate
        self._invented = False  # FFmpeg makes the file's timestamps up from a rate it assumes
        if not self.live:
            self._check_file()

    def stop(self) -> None:
        """Ask the running source to end, from any thread: a live source stops retrying."""
        self._stop.set()

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

    def _capture(self, target: str | int) -> cv2.VideoCapture:
        """OpenCV's capture; network streams through FFmpeg, with open and read timeouts."""
        # FFmpeg's own lines on damaged data (a few hundred "[mpeg4 @ 0x..] ac-tex damaged"
        # for one damaged stretch) buried the one line fieldtool says of it: only FFmpeg's
        # fatal ones are printed. OpenCV reads this as its FFmpeg backend starts; a
        # user's own setting (to debug a stream) stands.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", str(FFMPEG_LOG_FATAL))
        if isinstance(target, int) or not self.live:
            return cv2.VideoCapture(target)
        if not os.environ.get("OPENCV_LOG_LEVEL"):  # a user's own setting stands
            # OpenCV's own warning on each try at a stream that does not answer ("can't be
            # used to capture by name") beside fieldtool's line on the same try: errors only
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        params: list[int] = []
        if self.open_timeout_s:
            params += [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, round(self.open_timeout_s * 1000)]
        if self.read_timeout_s:
            params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, round(self.read_timeout_s * 1000)]
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)

    def _open(self) -> cv2.VideoCapture:
        target: str | int = int(self.uri) if self.uri.isdigit() else self.uri
        cap = self._open_capture(target)
        if not cap.isOpened():
            cap.release()
            kind = "stream" if self.live else "video file"
            from fieldtool.tracks.mp4layout import why_unopenable  # (its import costs 0.1 s)

            why = None if self.live else why_unopenable(self.uri)  # no moov, audio only
            why = why or f"cannot open {kind} (unsupported or unreadable)"
            raise FieldtoolError(f"{self.uri}: {why}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        valid = bool(fps) and math.isfinite(fps) and 0 < fps < 1000
        self._invented = not self.live and invented_timing(Path(self.uri))
        self.fps_known = valid and not self._invented
        if self.fps_known:
            self.fps = fps
        elif not self.live:  # FFmpeg's own guess when it made one, as it times frames by it
            self.fps = self.assume_fps or (fps if valid else FFMPEG_ASSUMED_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        return cap

    def run_settings(self) -> dict[str, str]:
        """The decoder and pixels that actually decode (``source.decoder`` "auto" and
        ``source.pixels`` resolved): OpenCV gives BGR whatever was asked."""
        return {"decoder": "opencv", "pixels": "bgr"}

    def probe(self) -> float | None:
        """Open a file once to read its frame rate and frame count (``fps``,
        ``frame_count``); returns the frame rate, None when unknown or live."""
        if self.live:
            return None
        self._open().release()
        return self.fps

    def frames(self) -> FrameStream:
        """Sampled frames until the file ends, or the stream is lost or stopped."""
        self._stop.clear()
        frames = self._live_frames() if self.live else self._file_frames()
        return FrameStream(frames, self.stop)

    # files

    def _file_frames(self) -> Generator[Frame, None, None]:
        cap = self._open()
        start = self.start_time or utc_now()
        clock = MediaClock(self.uri, self.fps or FFMPEG_ASSUMED_FPS, known=self.fps_known,
                           invented=self._invented, log=self._log)  # fmt: skip
        step = 1.0 / self.sample_fps
        next_t = 0.0
        index = -1
        resumed: int | None = None  # a frame the damage seek grabbed, not yet handled
        try:
            while self.max_frames is None or index + 1 < self.max_frames:
                if resumed is None and not cap.grab():
                    resumed = self._skip_damage(cap, clock, index) if index >= 0 else None
                    if resumed is None:
                        break
                before = clock.last_t
                index = resumed if resumed is not None else index + 1
                self.stats.frames_read += 1
                t = clock.time(index, cap.get(cv2.CAP_PROP_POS_MSEC))
                if resumed is not None:
                    self._damage_gap(before, t, f"resumed at frame {index}", start)
                    resumed = None
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
            self.stats.timing = clock.timing
        clock.check_end(index)
        self._ended_early(clock.last_t, start)

    def _damage_gap(self, before: float, after: float, then: str, start: datetime) -> None:
        """Frames from ``before`` to ``after`` (s) lost to damaged data: a gap in
        ``source_gaps``; ``then``: what came after ("resumed at frame 12", ...)."""
        self.stats.gaps.append(Gap(before, after, start + timedelta(seconds=before),
                                   start + timedelta(seconds=after), f"damaged data; {then}"))

    def _ended_early(self, last_t: float, start: datetime) -> None:
        """A file whose frames stopped at ``last_t`` (s) well before its stated length
        (:func:`~fieldtool.mediaclock.stopped_early`, said in the log): the rest is a gap
        in ``source_gaps`` too (the effort view takes gaps out of a session's surveyed time)."""
        from fieldtool.tracks.mp4layout import cut_short

        cut = cut_short(self.uri)  # None: the file's structure does not say
        cause = ("file truncated or damaged" if cut is None else "file truncated: cut short"
                 if cut else "file damaged: whole, nothing after the damage decodes")  # fmt: skip
        length = stopped_early(self.uri, last_t, self.frame_count, self.fps or FFMPEG_ASSUMED_FPS,
                               self.max_frames, self._log, cause=cause)  # fmt: skip
        if length is not None:
            ends = "damaged data to the end" if cut is False else "file ends early"
            self.stats.gaps.append(Gap(last_t, length, start + timedelta(seconds=last_t),
                                       start + timedelta(seconds=length), f"{ends}: no frames "
                                       f"after {last_t:.1f} s of about {length:.1f} s ({cause})"))

    def _skip_damage(self, cap: cv2.VideoCapture, clock: MediaClock, index: int) -> int | None:
        """grab() failed inside the file: read on to the first key frame after the damage
        that decodes (:func:`~fieldtool.keyframes.read_on`; timed by pts); else seek 1
        frame, 1 s, 5 s, then on in steps of :data:`DAMAGE_STEP_S` past the last frame read,
        to past the file's stated length (60 s at least), and grab the first frame later
        than it; its index, None where nothing after the damage reads. A seek lands on the
        key frame before its target (16 frames before) and decodes on to it, so a target
        short of the next good key frame runs into the damage again; 15 s steps try each key frame of x264's default GOP (16.7 s at 15 fps), one
        after a damaged key frame too. Past a skip that reads, the earliest target that
        reads is narrowed down (halving, to 1/8 s): what lies between that key frame and
        the skip's target is read. A frame count (an estimate) only stretches the search."""
        last = clock.furthest_pts if clock.mode == "pts" else index / clock.fps
        stated = (self.frame_count or 0) / clock.fps - last  # seconds left, as stated
        skips = [1.0 / clock.fps, 1.0, 5.0]
        while skips[-1] < max(60.0, stated + DAMAGE_STEP_S):
            skips.append(skips[-1] + min(DAMAGE_STEP_S, skips[-1] * 2))
        failed = 0.0  # seconds past the last frame: the longest skip that found nothing
        resumed = read_on(cap, clock, index, self.uri) if clock.mode == "pts" else None
        for skip in skips if resumed is None else []:  # the seek search: where read_on is not
            at = resume_at(cap, clock, index, skip)
            if at is None:
                failed = skip
                continue
            reads, earliest, probed = skip, at, False
            while reads - failed > 0.125:
                probed = True
                middle = (failed + reads) / 2
                found = resume_at(cap, clock, index, middle)
                if found is None:
                    failed = middle
                else:
                    reads, earliest = middle, found
            if probed:  # the last probe may have failed: leave the capture at the earliest
                earliest = resume_at(cap, clock, index, reads) or earliest
            resumed = earliest
            break
        if resumed is not None:
            self._log(f"{self.uri}: damaged data after frame {index}; resumed at frame {resumed}")
        return resumed

    # live sources

    def _live_frames(self) -> Generator[Frame, None, None]:
        self.stats.timing = "wall clock"
        cap: cv2.VideoCapture | None = self._first_open()
        if cap is None:
            return
        when = LiveClock(self._clock, self._wall, boot=self._boot, offset_s=self.clock_offset_s,
                         gps=self.gps_time, synchronised=self._synchronised)  # fmt: skip
        when.start(self.uri, self._log)  # media time: when.media (a sleep counted in)
        step = 1.0 / self.sample_fps
        next_t = 0.0
        index = -1
        outage: _Outage | None = None
        try:
            while not self._stop.is_set() and (
                self.max_frames is None or index + 1 < self.max_frames
            ):
                asked = self._clock()
                ok, image = cap.read()
                now = when.media(self._clock())
                waited = self._clock() - asked
                # a frame that came only as the read timed out is a stalled stream's stale
                # one, timed 'now': no frame, and the outage starts when it was asked for
                limit = self.read_timeout_s
                timed_out = limit is not None and limit > 0 and waited >= 0.9 * limit
                if not ok or image is None or timed_out:
                    cap.release()
                    if outage is None:
                        why = f"no frame for {waited:.0f} s (read timeout)" if timed_out and \
                            not self.uri.isdigit() else "stream dropped"  # fmt: skip
                        outage = _Outage(when.media(asked), why)
                    cap = self._reopen(outage)
                    if cap is None:
                        self._end_outage(outage, when.media(self._clock()), when)
                        return
                    continue
                now, slept, s = when.check(now, self.stats.frames_yielded, self.uri, self._log)
                if slept is not None and outage is not None:  # asleep while away: one gap
                    outage.reason += f"; {slept.reason}"
                elif slept is not None:  # no frames while asleep: time away, as an outage
                    self.stats.gaps.append(Gap(slept.t, slept.end_t, slept.at, slept.ended_at,
                                               slept.reason))  # fmt: skip
                if s is not None:
                    self.stats.gaps.append(Gap(now, now, s.before, s.after, s.reason))  # a step
                if outage is not None:  # frames again: the outage ends at this one
                    self.stats.gaps.append(Gap(outage.start_t, now, when.time(outage.start_t),
                                               when.time(now), outage.reason))  # fmt: skip
                    self.stats.reconnects += 1
                    self._log(f"{self.uri}: frames again after {now - outage.start_t:.1f} s "
                              f"({outage.reason})")  # fmt: skip
                    outage = None
                index += 1
                self.stats.frames_read += 1
                if now + 1e-9 < next_t:
                    continue
                # on a grid of 1/sample_fps, as for files: a frame a little early for its
                # slot does not push the next one a whole frame later; after a pause the
                # grid restarts at this frame
                next_t = next_t + step if now - next_t < step else now + step
                self.stats.frames_yielded += 1
                yield Frame(index, now, when.time(now), image)
            if self._stop.is_set():
                self.stats.end_reason = "stopped"
        finally:
            if cap is not None:
                cap.release()

    def _first_open(self) -> cv2.VideoCapture | None:
        """The stream, opened; a camera still booting is retried. None when stopped."""
        try:
            return self._open()
        except FieldtoolError:
            if self.retry == 0:
                raise
        if (cap := self._reopen(outage := _Outage(0.0, "not answering"))) is None:
            if not self._stop.is_set():
                raise FieldtoolError(f"{self.uri}: cannot open stream ({outage.tries + 1} tries)")
            self.stats.end_reason = "stopped"
        return cap

    def _reopen(self, outage: _Outage) -> cv2.VideoCapture | None:
        """Reopen with backoff doubling up to its cap; None when the tries run out or the
        source is stopped. ``outage`` counts the tries across reopens that gave no frame."""
        while self.retry == "forever" or outage.tries < self.retry:
            outage.tries += 1
            delay = outage.next_delay or self.reconnect_backoff_s
            outage.next_delay = min(delay * 2, self.reconnect_backoff_max_s)
            delay = min(delay, self.reconnect_backoff_max_s)
            of = "" if self.retry == "forever" else f"/{self.retry}"
            self._log(f"{self.uri}: {outage.reason}; reconnect try {outage.tries}{of} "
                      f"in {delay:.1f} s")  # fmt: skip
            self._sleep(delay)
            if self._stop.is_set():
                return None
            try:
                return self._open()
            except FieldtoolError as exc:
                outage.last_error = str(exc).removeprefix(f"{self.uri}: ")
        return None

    def _end_outage(self, outage: _Outage, end_t: float, when: LiveClock) -> None:
        """The stream is gone for good (tries spent) or the source was stopped meanwhile."""
        tries = f"{outage.tries} {'try' if outage.tries == 1 else 'tries'}"
        stopped = self._stop.is_set()
        why = "stopped while away" if stopped else f"not back after {tries}"
        self.stats.gaps.append(Gap(outage.start_t, end_t, when.time(outage.start_t), None,
                                   f"{outage.reason}; {why}"))  # fmt: skip
        if stopped:
            self.stats.end_reason = "stopped"
            return
        self.stats.lost = True
        since = when.time(outage.start_t).strftime("%Y-%m-%d %H:%M:%S")
        last = f"; last: {outage.last_error}" if outage.last_error else ""
        self.stats.end_reason = (f"stream lost: {outage.reason} at {since} UTC "
                                 f"(t {outage.start_t:.1f} s), not back after {tries}{last}")  # fmt: skip
        self._log(f"{self.uri}: stream did not come back after {tries}; ending session")


@dataclass
class _Outage:
    start_t: float  # media seconds when the stream went away
    reason: str
    tries: int = 0
    next_delay: float = 0.0
    last_error: str = ""


_END = object()


def shrunk(frame: Frame, max_side: int) -> Frame:
    """The frame scaled down to ``max_side`` px on its longer side (once its crops are cut,
    views and snapshots need no more); the frame itself when it is no larger."""
    height, width = frame.size  # YUV planes are not converted to learn it
    if max(height, width) <= max_side:
        return frame
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
    # the full-size planes go with the full-size frame (and a decoding process's slot back)
    return dataclasses.replace(frame, image=image, yuv=None)


class Prefetcher:
    """Decodes on a background thread so the model never waits on a faster decoder.

    Files: a queue of at most ``depth`` frames and ``max_bytes`` (4K frames are 25 MB; the
    cap wins over ``min_depth``, a batch the caller would like queued; one frame larger
    than the cap passes alone); the reader blocks when it is full, so no frame is lost.
    Live: only the newest frame is kept; one replaced before the pipeline took it counts
    in ``dropped``. Reader errors are raised in the consumer, after the frames before them.
    ``prepare`` runs on the reader thread (the classifier's crops, beside inference); a
    frame it made something of goes on scaled to ``keep_max_side`` px (views, snapshots
    and the motion gate need no more), so batches of 4K frames fit in memory.
    """

    def __init__(
        self,
        frames: Iterator[Frame],
        *,
        live: bool,
        depth: int = 64,
        min_depth: int = 1,
        max_bytes: int = 256 * 2**20,
        keep_max_side: int | None = 1280,
        prepare: Callable[[Frame], object] | None = None,
    ) -> None:
        self._frames = frames
        self._prepare = prepare
        self.live = live
        self.dropped = 0
        self.depth = 1 if live else max(1, depth)  # queued frames at most
        self.min_depth = min_depth  # wished for; the byte cap wins
        self._max_bytes = max_bytes
        self._keep_max_side = keep_max_side
        self._items: deque[tuple[object, int]] = deque()  # (item, bytes)
        self.queued_bytes = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fieldtool-reader", daemon=True)

    def _has_room(self, size: int) -> bool:
        if not self._items:
            return True  # a frame larger than the cap goes alone
        return len(self._items) < self.depth and self.queued_bytes + size <= self._max_bytes

    def _put(self, item: object, size: int = 0) -> bool:
        """Hand over one item; False when the consumer has stopped."""
        with self._cond:
            if self.live and isinstance(item, tuple):
                while self._items:  # only frames can be queued before a frame
                    self.queued_bytes -= self._items.pop()[1]
                    self.dropped += 1
            else:
                while not self._stop.is_set() and not self._has_room(size):
                    self._cond.wait()
            if self._stop.is_set():
                return False
            self._items.append((item, size))
            self.queued_bytes += size
            self._cond.notify_all()
            return True

    def _run(self) -> None:
        try:
            for frame in self._frames:
                prepared = self._prepare(frame) if self._prepare else None
                if prepared is not None and self._keep_max_side:
                    frame = shrunk(frame, self._keep_max_side)
                size = frame.nbytes  # YUV planes stay unconverted
                size += prepared.nbytes if isinstance(prepared, np.ndarray) else 0
                if not self._put((frame, prepared), size):
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
                with self._cond:
                    while not self._items:
                        self._cond.wait()
                    item, size = self._items.popleft()
                    self.queued_bytes -= size
                    self._cond.notify_all()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield cast(tuple[Frame, object], item)
        finally:
            with self._cond:
                self._stop.set()
                self._cond.notify_all()
            stop = getattr(self._frames, "stop", None)
            if callable(stop):
                stop()  # a live source waiting to reconnect wakes and ends
            self._thread.join(timeout=5)
