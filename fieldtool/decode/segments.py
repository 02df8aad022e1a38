"""One long video file decoded by several processes: segments between key frames, in order.

``source.decode_workers`` N > 1: :class:`SegmentedSource` reads the file's packets once
without decoding them (PyAV's demuxer: each packet's pts and key-frame flag), and from those
alone knows every frame the single decoder would give: its index (presentation order), its
media time (the same :class:`~fieldtool.mediaclock.MediaClock` over ``pts * time_base``) and
whether sampling (``sample_fps``, ``max_frames``) keeps it. The frames kept are cut into
segments that each start at a key frame (runs of whole GOPs; a GOP with no kept frame is not
decoded at all); segment j goes to worker process j mod N, which seeks to its key frame,
decodes on through the P/B frames, converts only the kept frames to BGR and writes them into
its own ring of frame slots in shared memory (``multiprocessing.shared_memory``), passing
only slot numbers through a queue. The parent takes segment 0 from worker 0, segment 1 from
worker 1, ... and yields :class:`~fieldtool.types.Frame` s in order with the indices and
times a single PyAV decoder gives (tests/sources/test_segments.py compares them pixel for
pixel).

Memory: each worker has frame slots for decoding ahead, as many as the most kept frames in
one GOP, and as many again to lend to frames (2 to 128 in all), within ``ring_bytes`` in all
(default at most 4 GiB) and half of /dev/shm's free space; a worker with its slots full
waits. Why so many: worker j+1 decodes ahead only as far as its slots hold while the parent
still takes segment j, so N workers keep busy when a segment's kept frames fit in a worker's
slots (every frame of 1080p with 1 s GOPs at 30 frames/s: 30 slots of 6.2 MB a worker; at
``sample_fps`` 5, 5 slots); with fewer, they wait. Frames are handed over without a copy
(:class:`~fieldtool.decode.ring.FrameRing`): a frame's pixels are its slot, which goes back
to its worker when the frame is let go, while the frames held stay within the slots a
worker may lend; past them, copies.
Workers are spawned (never forked from a process holding torch's threads) and stopped, and
the shared memory unlinked, on close, on error and on KeyboardInterrupt; a worker that fails
or dies is a one-line :class:`~fieldtool.types.FieldtoolError` naming the file and the
segment's media time span. Files whose packets carry no timestamps (raw .h264), with one key
frame or fewer GOPs than workers, or unreadable to the demuxer, are decoded by one decoder,
said in the log; cameras and streams always are.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import multiprocessing as mp
import os
import queue
import shutil
import signal
import sys
import time
import types
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.shared_memory import SharedMemory
from typing import TYPE_CHECKING, Any

import numpy as np

from fieldtool.colour import Layout, Matrix, Range, YuvImage
from fieldtool.decode.pyav import (
    REORDER_FRAMES,
    AfterDamage,
    Decoder,
    PyAVSource,
    _import_av,
    first_frame_layout,
    in_presentation_order,
    quarter_turns,
    upright_bgr,
    video_source,
)
from fieldtool.decode.ring import FrameRing
from fieldtool.mediaclock import MediaClock
from fieldtool.sources import FFMPEG_ASSUMED_FPS, VideoSource, is_live
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Frame

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

RING_BYTES = 4 << 30  # shared memory for decoded frames at most, all workers together
MIN_SLOTS, MAX_SLOTS = 2, 128  # frame slots per worker
POLL_S = 0.5  # how often a waiting side checks that the other is still there


@dataclass(frozen=True)
class Segment:
    """Frames one worker decodes: from the key frame at ``seek_pts`` (None: the file's
    start; only segment 0, its worker's first) on, the frames whose pts are in ``pts``
    (sorted) converted and handed over.
    ``start_t``/``end_t``: the media time span (s) of the kept frames, for messages."""

    number: int
    seek_pts: int | None
    pts: tuple[int, ...]
    start_t: float
    end_t: float


@dataclass(frozen=True)
class Planned:
    """One kept frame: its index and media time as the single decoder gives them."""

    index: int
    t: float
    pts: int


@dataclass(frozen=True)
class Plan:
    """The kept frames in order, cut into segments; ``frames_read``: frames decoded in all
    (as the single decoder counts them); ``shape``: (H, W, 3) of every BGR frame, or
    (H * 3 / 2, W) of its YUV planes; ``slots``: frame slots per worker, ``ahead`` of them
    kept for decoding ahead (the rest lent to frames)."""

    frames: tuple[tuple[Planned, ...], ...]  # per segment
    segments: tuple[Segment, ...]
    frames_read: int
    shape: tuple[int, ...]
    timing: str
    slots: int
    ahead: int
    scan_s: float  # seconds the packets took to read ahead
    # YUV planes as decoded (``pixels`` yuv): the pixel format's name and the frames'
    # (layout, matrix, range); None: BGR
    planes: tuple[str, tuple[Layout, Matrix, Range]] | None = None
    last_t: float = 0.0  # media time of the file's last frame (its packets'), s


DecodeSegment = Callable[
    ["InputContainer", "VideoStream", Segment], Iterator[tuple[int, "VideoFrame"]]
]


def decode_segment(
    container: InputContainer, stream: VideoStream, segment: Segment
) -> Iterator[tuple[int, VideoFrame]]:
    """(pts, frame) of the segment's wanted frames, in order, decoded by PyAV from the key
    frame at ``segment.seek_pts`` (the container is the worker's, open for all its
    segments). A wanted frame that does not decode (damage) is passed over, as are those
    decoded from references the damage took, up to the next key frame (``AfterDamage``):
    the parent sees them missing."""
    import av

    if segment.seek_pts is not None:  # None: the file's start, where a fresh container is
        _seek(container, stream, segment.seek_pts)

    def decoded() -> Iterator[VideoFrame | None]:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.FFmpegError:
                yield None  # damage: the frames it held are missing, the parent says so

    wanted = iter(segment.pts)
    want = next(wanted, None)
    base = float(stream.time_base or 0)
    settle = AfterDamage()  # frames decoded from references damage took: missing too
    # in presentation order, as one decoder gives them: the plan is the sorted timestamps
    for frame in in_presentation_order(decoded(), REORDER_FRAMES):
        if frame is None:
            settle.hit()
            continue
        if frame.pts is None or not settle.passes(frame.pts * base, bool(frame.key_frame)):
            continue
        pts = frame.pts
        while want is not None and want < pts:
            want = next(wanted, None)
        if want is None:
            return
        if pts == want:
            yield pts, frame
            want = next(wanted, None)
            if want is None:
                return


def _seek(container: InputContainer, stream: VideoStream, pts: int) -> None:
    """Seek to a key frame at or before ``pts``. Containers with an index (MP4, MKV) land
    on it; others (MPEG-TS) guess from the byte rate and may land after it: then seek
    1 s, 2 s, 4 s, ... earlier, until the first packet is at or before it (frames before
    the segment are decoded and passed over)."""
    ticks = round(1 / float(stream.time_base or 1)) or 1  # time base units in a second
    back = 0
    while True:
        target = pts - back
        container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
        if target <= 0:
            return  # the file's start: nothing earlier to find
        first = next((p.pts for p in container.demux(stream) if p.pts is not None), None)
        if first is not None and first <= pts:
            container.seek(target, stream=stream, backward=True, any_frame=False)  # again
            return
        back = max(ticks, 2 * back)


@contextlib.contextmanager
def _neutral_main() -> Iterator[None]:
    """While a worker starts: a ``__main__`` without a file, so the spawned process does
    not import the parent's script again (spawn runs ``__main__.__file__`` in the child: a
    Streamlit page, a ``python -c`` or a script without a main guard would run there).
    The worker's code is all in this module, which the child imports by name."""
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _work(
    uri: str,
    segments: list[Segment],
    shm_name: str,
    shape: tuple[int, ...],
    threads: int,
    free: Queue[int],
    out: Queue[tuple[str, int, Any, int]],
    decode: DecodeSegment,
    planes: str | None = None,
) -> None:
    """A worker process: each of its segments' wanted frames into a free slot of its ring,
    ("frame", segment, pts, slot) on ``out``; ("end", segment, None, -1) after each
    segment; ("error", segment, one line, -1) and return on any failure. ``planes``: the
    pixel format whose planes go into the ring as decoded (no conversion), or None: BGR."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us on Ctrl-C
    parent = mp.parent_process()
    shm = SharedMemory(name=shm_name)
    ring = np.ndarray((shm.size // math.prod(shape), *shape), np.uint8, buffer=shm.buf)
    number = segments[0].number if segments else -1
    try:
        import av

        container = av.open(uri)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame and slice threads, ``threads`` of them
        stream.thread_count = threads
    except Exception as exc:  # reported to the parent, which raises it as one line
        out.put(("error", number, f"{type(exc).__name__}: {exc}".splitlines()[0], -1))
        del ring
        shm.close()
        return
    try:
        for segment in segments:
            number = segment.number
            for pts, frame in decode(container, stream, segment):
                if planes is not None and frame.format.name != planes:
                    raise RuntimeError(f"pixel format changes to {frame.format.name} from "
                                       f"{planes}")  # fmt: skip
                if planes is not None:  # the decoder's planes as they are, turned upright
                    layout: Layout = "nv12" if planes == "nv12" else "i420"
                    yuv = YuvImage(frame.to_ndarray(), layout)  # matrix: the parent's
                    image = yuv.turned(quarter_turns(frame)).host
                else:
                    image = upright_bgr(frame)
                if image.shape != shape:
                    raise RuntimeError(f"frame size changes to {image.shape} from {shape}")
                while True:
                    try:
                        slot = free.get(timeout=POLL_S)
                        break
                    except queue.Empty:
                        if parent is not None and not parent.is_alive():
                            return
                ring[slot] = image
                out.put(("frame", number, pts, slot))
            out.put(("end", number, None, -1))
    except Exception as exc:  # reported to the parent, which raises it as one line
        out.put(("error", number, f"{type(exc).__name__}: {exc}".splitlines()[0], -1))
    finally:
        container.close()
        del ring
        shm.close()


def segmented_source(
    uri: str,
    *,
    workers: int = 1,
    decoder: Decoder = "opencv",
    gpu: int = 0,
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> VideoSource:
    """The source of ``uri``: :func:`~fieldtool.decode.video_source` for one worker, live
    sources and NVDEC (one chip decodes); else ``workers`` PyAV processes (the ``opencv``
    decoder too: OpenCV cannot seek to a key frame exactly), or one OpenCV decoder with a
    warning where PyAV is missing."""
    say = log or (lambda message: None)
    if workers <= 1 or is_live(uri) or decoder == "nvdec":
        return video_source(uri, decoder=decoder, gpu=gpu, log=log, **options)
    if decoder == "auto":
        source = video_source(uri, decoder=decoder, gpu=gpu, log=log, **options)
        if not isinstance(source, PyAVSource) or source.decoder == "nvdec":
            return source  # NVDEC, or OpenCV without PyAV (said)
    try:
        _import_av(uri, decoder)
    except FieldtoolError:
        say(f"warning: {uri}: decode_workers {workers} needs PyAV (pip install av): "
            "decoding with one OpenCV decoder")  # fmt: skip
        return VideoSource(uri, log=log, **options)
    return SegmentedSource(uri, workers=workers, log=log, **options)


class SegmentedSource(PyAVSource):
    """A video file decoded by ``workers`` processes, segment by segment (module
    docstring); frames, times and sampling as :class:`PyAVSource` gives them.

    ``ring_bytes``: shared memory for decoded frames, all workers together. ``decode``
    decodes one segment in a worker (a module-level function: it is pickled by name; tests
    put in one that fails)."""

    def __init__(
        self,
        uri: str,
        *,
        workers: int = 2,
        ring_bytes: int = RING_BYTES,
        decode: DecodeSegment = decode_segment,
        **options: Any,
    ) -> None:
        super().__init__(uri, decoder="pyav", **options)
        if workers < 1:
            raise FieldtoolError(f"source.decode_workers {workers}: expected 1 or more")
        self.workers = workers
        self.ring_bytes = ring_bytes
        self._decode = decode
        self.lent_frames = 0  # frames of the last read handed over without a copy

    def _file_frames(self) -> Generator[Frame, None, None]:
        if self.fps is None:
            self.probe()
        plan = self._plan() if self.workers > 1 else None
        if plan is None:
            yield from super()._file_frames()
            return
        yield from self._parallel(plan)

    # planning

    def _plan(self) -> Plan | None:
        """The kept frames and segments from the packets alone; None (said why) where one
        decoder must read the file."""
        av = self._av
        why_not = f"{self.uri}: decoding with one decoder, not {self.workers} workers:"
        if self._invented:
            self._log(f"{why_not} the file carries no timestamps")
            return None
        scan = time.perf_counter()
        first: VideoFrame | None = None  # the file's first frame, from the same container
        try:
            with av.open(self.uri) as container:
                stream = container.streams.video[0]
                shape: tuple[int, ...] = (stream.codec_context.height, stream.codec_context.width, 3)
                zero = stream.start_time or 0
                base = float(stream.time_base or 0)
                packets = []
                for p in container.demux(stream):
                    if first is None:  # its turn and planes (first_frame_layout): one open
                        with contextlib.suppress(av.FFmpegError):  # damage: the next one
                            first = next(iter(p.decode()), None)
                    if p.size:
                        packets.append((p.pts, p.is_keyframe))
        except (av.FFmpegError, IndexError) as exc:
            self._log(f"{why_not} its packets cannot be read ahead ({exc})")
            return None
        pts_all = [pts for pts, _ in packets]
        if not packets or None in pts_all or not base or len(set(pts_all)) < len(pts_all):
            self._log(f"{why_not} its packets carry no distinct timestamps")
            return None
        keys = sorted({pts for pts, key in packets if key})
        if len(keys) < max(2, self.workers):
            self._log(f"{why_not} it has {len(keys)} key frame(s), fewer than the workers")
            return None
        frames = _timeline(self, sorted(pts_all), zero, base)
        if frames is None:
            return None
        kept, clock_timing, read, last_t = frames
        # slots for a GOP's kept frames: a worker decodes on while the parent takes those
        # before its segment (module docstring), within the memory there is
        gops = [bisect.bisect_right(keys, f.pts) for f in kept]
        turns, planes = first_frame_layout(first, self.pixels, self._log, self.uri)
        if turns % 2:  # stored sideways (a phone's portrait video): frames come turned
            shape = (shape[1], shape[0], 3)
        if planes is not None:  # 4:2:0: half the bytes of BGR a frame
            shape = (shape[0] * 3 // 2, shape[1])
        need = max(gops.count(g) for g in set(gops))
        ahead = self._slots(math.prod(shape), need)
        if ahead < MIN_SLOTS:
            self._log(f"{why_not} shared memory (/dev/shm) has no room for {MIN_SLOTS} frames "
                      "per worker")  # fmt: skip
            return None
        # at most a worker's slots a segment (module docstring), and 2+ segments a worker
        groups = _cut(kept, keys, min(ahead, math.ceil(len(kept) / (2 * self.workers))))
        if len(groups) < 2:
            self._log(f"{why_not} its kept frames lie in fewer than 2 segments")
            return None
        segments = tuple(
            Segment(n, None if group[0].pts < keys[1] else _key_before(keys, group),
                    tuple(f.pts for f in group), group[0].t, group[-1].t)
            for n, group in enumerate(groups)
        )  # fmt: skip
        # as many again to lend to frames (never fewer than ahead: /dev/shm read twice)
        slots = max(ahead, self._slots(math.prod(shape), 2 * need))
        return Plan(tuple(tuple(g) for g in groups), segments, read, shape, clock_timing, slots,
                    ahead, time.perf_counter() - scan, planes, last_t)  # fmt: skip

    def _slots(self, frame_bytes: int, need: int) -> int:
        """Frame slots per worker: ``need`` (at least 2, at most 128) within ``ring_bytes``
        and half of /dev/shm's free space."""
        budget = self.ring_bytes
        with contextlib.suppress(OSError):  # no /dev/shm to ask (not Linux): ring_bytes alone
            budget = min(budget, shutil.disk_usage("/dev/shm").free // 2)
        return min(MAX_SLOTS, max(MIN_SLOTS, need), budget // (frame_bytes * self.workers))

    # decoding

    def _parallel(self, plan: Plan) -> Generator[Frame, None, None]:
        start = self.start_time or utc_now()
        workers = min(self.workers, len(plan.segments))
        slots = plan.slots
        threads = max(1, (os.cpu_count() or 1) // workers)
        self._log(f"{self.uri}: decoding {len(plan.segments)} segments on {workers} worker "
                  f"processes with PyAV ({slots} frame slots each, {plan.ahead} to decode "
                  f"ahead into; the file's packets "
                  f"indexed in {plan.scan_s:.1f} s{'; YUV planes' if plan.planes else ''})")
        ctx = mp.get_context("spawn")
        procs: list[BaseProcess] = []
        frees: list[Queue[int]] = []
        outs: list[Queue[tuple[str, int, Any, int]]] = []
        rings: list[FrameRing] = []
        self.stats.timing = plan.timing
        try:
            for w in range(workers):
                free: Queue[int] = ctx.Queue()
                ring = FrameRing(slots, plan.ahead, plan.shape, free)
                rings.append(ring)
                for slot in range(slots):
                    free.put(slot)
                out: Queue[tuple[str, int, Any, int]] = ctx.Queue()
                frees.append(free)
                outs.append(out)
                mine = list(plan.segments[w::workers])
                proc = ctx.Process(
                    target=_work, name=f"fieldtool-decode-{w}", daemon=True,
                    args=(self.uri, mine, ring.shm.name, plan.shape, threads, free, out,
                          self._decode, plan.planes[0] if plan.planes else None),
                )  # fmt: skip
                with _neutral_main():
                    proc.start()
                procs.append(proc)
            last_t: float | None = None
            missed = False  # kept frames the worker could not decode (damage) since last_t
            for segment, wanted in zip(plan.segments, plan.frames, strict=True):
                w = segment.number % workers
                by_pts = {f.pts: f for f in wanted}
                got = 0
                while (item := self._receive(outs[w], procs[w], segment)) is not None:
                    pts, slot = item
                    image = rings[w].take(slot)  # lent without a copy, or copied
                    planned = by_pts[pts]  # the worker sends only pts it was given, in order
                    if missed or planned is not wanted[got]:
                        self._damage(last_t or 0.0, planned.t,
                                     f"resumed at frame {planned.index}", start)  # fmt: skip
                    got = wanted.index(planned) + 1
                    missed = False
                    last_t = planned.t
                    # the frames up to this one, as one decoder counts them (stopped here:
                    # no more were read), the whole file's once its segments are done
                    self.stats.frames_read = planned.index + 1
                    self.stats.frames_yielded += 1
                    wall = start + timedelta(seconds=planned.t)
                    if plan.planes is not None:  # converted where used (the model's device)
                        yield Frame(planned.index, planned.t, wall,
                                    yuv=YuvImage(image, *plan.planes[1]))  # fmt: skip
                    else:
                        yield Frame(planned.index, planned.t, wall, image)
                missed = missed or got < len(wanted)
            self.stats.frames_read = plan.frames_read
            if missed and last_t is not None and plan.last_t > last_t:  # damage to the end
                self._damage(last_t, plan.last_t, "no whole frame after it", start)
            # a file cut short: its packets end before its stated length, as one decoder says
            self._ended_early(plan.last_t, start)
        finally:
            for ring in rings:
                ring.close()  # first: a frame released from here on gives nothing back
            self._stop_workers(procs, frees + outs)
            self.lent_frames = sum(ring.lent_total for ring in rings)

    def _receive(
        self, out: Queue[tuple[str, int, Any, int]], proc: BaseProcess, segment: Segment
    ) -> tuple[int, int] | None:
        """The next (pts, slot) of ``segment`` from its worker; None at its end. A worker
        that reports an error or dies is a one-line error naming the segment."""
        where = (f"{self.uri}: decode worker failed in the segment {segment.start_t:.2f} s to "
                 f"{segment.end_t:.2f} s")  # fmt: skip
        while True:
            try:
                kind, number, payload, slot = out.get(timeout=POLL_S)
            except queue.Empty:
                if proc.is_alive():
                    continue
                try:  # its last words may have come just as it ended
                    kind, number, payload, slot = out.get(timeout=POLL_S)
                except queue.Empty:
                    raise FieldtoolError(f"{where}: the process ended (exit code "
                                         f"{proc.exitcode})") from None  # fmt: skip
            if kind == "error":
                raise FieldtoolError(f"{where}: {payload}")
            if number != segment.number:
                raise FieldtoolError(f"{where}: got segment {number}'s frames")
            if kind == "end":
                return None
            return int(payload), slot

    def _damage(self, before: float, after: float, then: str, start: Any) -> None:
        """Wanted frames from ``before`` to ``after`` (s) did not decode: a gap, said."""
        self._log(f"{self.uri}: damaged data after {before:.2f} s; {then} ({before:.2f} s to "
                  f"{after:.2f} s)")  # fmt: skip
        self._damage_gap(before, after, then, start)

    @staticmethod
    def _stop_workers(procs: list[BaseProcess], queues: list[Queue[Any]]) -> None:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for q in queues:
            q.cancel_join_thread()  # never wait to flush to a process that is gone
            q.close()


def _timeline(
    source: SegmentedSource, pts_sorted: list[int], zero: int, base: float
) -> tuple[list[Planned], str, int, float] | None:
    """The frames :class:`PyAVSource` would keep, from the sorted pts: (kept frames, the
    clock's timing, frames decoded, the last frame's media time in s), the same clock and
    sampling as its ``_file_frames``."""
    clock = MediaClock(source.uri, source.fps or FFMPEG_ASSUMED_FPS, known=source.fps_known,
                       invented=False, log=lambda message: None)  # fmt: skip
    step = 1.0 / source.sample_fps
    next_t = 0.0
    kept: list[Planned] = []
    read = 0
    for index, pts in enumerate(pts_sorted):
        if source.max_frames is not None and index >= source.max_frames:
            break
        read += 1
        t = clock.time(index, (pts - zero) * base * 1000.0)
        if t + 1e-9 < next_t:
            continue
        next_t += step * max(1, int((t - next_t) / step) + 1)
        kept.append(Planned(index, t, pts))
    if not kept:
        return None
    if clock.mode != "pts":
        source._log(f"{source.uri}: decoding with one decoder, not {source.workers} workers: "
                    "its timestamps are not usable")  # fmt: skip
        return None
    return kept, clock.timing, read, clock.last_t


def _cut(kept: list[Planned], keys: list[int], size: int) -> list[list[Planned]]:
    """Kept frames in segments of whole GOPs (a GOP: from one key frame's pts to the next):
    a new one where ``size`` frames are reached or a GOP keeps none; a GOP is never split."""
    groups: list[list[Planned]] = []
    current: list[Planned] = []
    gop = -2
    for frame in kept:
        g = bisect.bisect_right(keys, frame.pts) - 1
        if g != gop and current and (g != gop + 1 or len(current) >= size):
            groups.append(current)  # a GOP without kept frames, or full: a new segment
            current = []
        gop = g
        current.append(frame)
    if current:
        groups.append(current)
    return groups


def _key_before(keys: list[int], group: list[Planned]) -> int:
    """The last key frame's pts at or before the group's first frame."""
    return keys[max(0, bisect.bisect_right(keys, group[0].pts) - 1)]
