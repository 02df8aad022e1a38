"""Video files decoded by PyAV: FFmpeg's frame threads on the CPU, or NVDEC on the GPU.

:class:`PyAVSource` is a :class:`~fieldtool.sources.VideoSource` whose files are read by
PyAV instead of OpenCV; cameras and streams stay with OpenCV. What the session sees is the
same: uint8 BGR frames (H, W, 3), upright (a phone held upright stores its frames sideways
and says in the container's display matrix how to turn them: OpenCV turns them by default,
PyAV hands them over as stored, so they are turned here, as BGR or as planes wherever those
are), sampled at ``sample_fps`` of media time, timed by the
same :class:`~fieldtool.mediaclock.MediaClock` (the presentation timestamp,
``pts * time_base`` from the stream's start, while it is sane, else index / rate), damage
skipped with a :class:`~fieldtool.sources.Gap`. Frames come in presentation order: FFmpeg
puts a B-frame out late where it underestimated a stream's reorder depth (H.264 that does
not state it; timestamps rewritten by a remux), and :func:`in_presentation_order` puts it
back among the next :data:`REORDER_FRAMES`, so no frame is passed over and the decoding
processes (:mod:`fieldtool.decode.segments`), which plan from the sorted timestamps, agree.

Speed: ``thread_type="AUTO"`` (FFmpeg's frame and slice threads) decodes one file on
several cores; OpenCV's FFmpeg backend threads its decoder too, so on the CPU the two are
close (on a shared 2-core Xeon, 1080p H.264 decoded to BGR: OpenCV 93-106 frames/s, PyAV
81; the BGR pixels are identical, both through swscale). PyAV's gain is NVDEC: the GPU
decodes, but a frame asked for as BGR comes back to host memory as NV12 and is converted
by swscale on the CPU, which then bounds the rate (measured on an H200: 1,400 frames/s of
1080p H.264 decoded over 8 processes, 450 once converted). With ``pixels`` "yuv" the NV12
surface stays on the GPU instead (PyAV's ``is_hw_owned``; :func:`device_planes` copies it
through DLPack into a torch tensor there) and the classifier converts it to RGB beside its
resize: no frame crosses to host memory unless a snapshot or view asks for its BGR.

``pixels`` ("yuv"): frames go on as the decoder's YUV 4:2:0 planes
(:class:`~fieldtool.colour.YuvImage`, ``VideoFrame.to_ndarray()`` in its own ``yuv420p``
or ``nv12`` format, no swscale), with the stream's colour matrix and range; the classifier
converts them on its device and ``Frame.image`` only when something asks for BGR. Frames
the planes cannot carry (odd sizes, 10-bit or 4:2:2/4:4:4 formats, BT.2020) go on as BGR.

PyAV (``pip install av``; the ``video`` extra) is imported only when a file is opened
with it: without it, ``pyav`` and ``nvdec`` are a one-line error and ``auto`` falls back
to OpenCV with a warning.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import math
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, get_args

import cv2
import numpy as np

from fieldtool.colour import Layout, Matrix, Range, YuvImage
from fieldtool.mediaclock import MediaClock
from fieldtool.sources import FFMPEG_ASSUMED_FPS, VideoSource, is_live
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, Frame

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

Decoder = Literal["opencv", "pyav", "nvdec", "auto"]
DECODERS: tuple[str, ...] = get_args(Decoder)
Pixels = Literal["bgr", "yuv"]  # what PyAV hands over ("auto" is resolved by the caller)

# FFmpeg's AVPixelFormat names whose to_ndarray() is one (H * 3 / 2, W) 4:2:0 array;
# the "j" formats are full range whatever the frame says
_LAYOUTS: dict[str, tuple[Layout, Range | None]] = {
    "yuv420p": ("i420", None), "yuvj420p": ("i420", "full"), "nv12": ("nv12", None),
}  # fmt: skip
# AVColorSpace: 1 BT.709; 5 BT.470BG and 6 SMPTE 170M are BT.601; 2 unspecified, which
# swscale converts as BT.601
_MATRICES: dict[int, Matrix] = {1: "bt709", 2: "bt601", 5: "bt601", 6: "bt601"}
# cv2.rotate's code for each number of quarter turns counter-clockwise
_CV_TURNS = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}
# Decoded frames held to put a late one back in order. FFmpeg's own reorder buffer covers
# what a stream states; a late frame trails by what it underestimated (1-2 frames seen,
# H.264 allows 16 in all). 8 frames of 1080p 4:2:0 are 25 MB a decoder.
REORDER_FRAMES = 8
# More frames than this missing between two decoded ones (their packets were read): damage
# the decoder passed over without an error (one or two: a stream's own quirks)
MISSING_FRAMES = 2
# After damage, the frames up to the next key frame are decoded from references it took
# (smeared pictures FFmpeg does not flag corrupt): passed over, inside the damage's gap, for
# at most this long (s of media time), then read on (a stream may have no later key frame)
DAMAGE_SETTLE_S = 5.0


class AfterDamage:
    """Which frames after damage are whole again (:data:`DAMAGE_SETTLE_S`): :meth:`hit`
    at the damage, then :meth:`passes` for each frame decoded after it, in order."""

    def __init__(self) -> None:
        self.hit_pending = False  # damage seen, no frame decoded after it yet
        self.until: float | None = None  # media time (s) frames are passed over up to

    def hit(self) -> None:
        """Damage (a failed decode, frames missing): frames after it wait for a key frame.
        More damage while they wait keeps the first bound."""
        if self.until is None:
            self.hit_pending = True

    def passes(self, t: float, key_frame: bool) -> bool:
        """Whether the frame at media time ``t`` (s) is used: no damage before it, a key
        frame, or :data:`DAMAGE_SETTLE_S` past the first frame after the damage."""
        if self.hit_pending:
            self.hit_pending, self.until = False, t + DAMAGE_SETTLE_S
        if self.until is None:
            return True
        if key_frame or t >= self.until:
            self.until = None
            return True
        return False


class _Timed(Protocol):
    @property
    def pts(self) -> int | None: ...


_F = TypeVar("_F", bound=_Timed)


def in_presentation_order(frames: Iterable[_F | None], depth: int) -> Iterator[_F | None]:
    """``frames`` as a decoder puts them out (None: a packet that failed to decode), in
    presentation order: each frame is held until ``depth`` more have come, and the one with
    the earliest timestamp goes first. Nothing is held across a None or a frame without a
    timestamp, nor across timestamps that go back behind a frame already put out (a second
    recording appended, or a frame later than ``depth``): those come out where they came,
    for the media clock to judge. ``depth`` 0: as decoded."""
    if depth <= 0:
        yield from frames
        return
    held: list[tuple[int, int, _F]] = []  # (pts, arrival, frame): a min-heap
    last: int | None = None  # the timestamp of the frame put out last
    for arrival, frame in enumerate(frames):
        if frame is None or frame.pts is None or (last is not None and frame.pts < last):
            while held:
                last, _, earlier = heapq.heappop(held)
                yield earlier
            if frame is not None and frame.pts is not None:
                last = frame.pts
            yield frame
            continue
        heapq.heappush(held, (frame.pts, arrival, frame))
        if len(held) > depth:
            last, _, first = heapq.heappop(held)
            yield first
    while held:
        yield heapq.heappop(held)[2]


def _planes_kind(frame: VideoFrame, format_name: str) -> tuple[Layout, Matrix, Range] | None:
    """(layout, matrix, range) of a frame whose pixels are ``format_name`` (AVColorRange 2
    is full, else limited), or None where they cannot go on as planes (see above)."""
    layout = _LAYOUTS.get(format_name)
    matrix = _MATRICES.get(int(frame.colorspace))
    if layout is None or matrix is None or frame.width % 2 or frame.height % 2:
        return None
    full = layout[1] == "full" or int(frame.color_range) == 2
    return layout[0], matrix, "full" if full else "limited"


def _pixel_format(frame: VideoFrame) -> str:
    """The name of the frame's pixel format; a GPU frame's is its surface's (nv12, p010le)."""
    return frame.sw_format.name if frame.sw_format is not None else frame.format.name


def yuv_planes(frame: VideoFrame) -> YuvImage | None:
    """The frame's 4:2:0 planes as one host array with the stream's matrix and range (a GPU
    frame is copied to host memory), or None where they cannot go on as planes (see above)."""
    kind = _planes_kind(frame, _pixel_format(frame))
    return YuvImage(frame.to_ndarray(), *kind) if kind is not None else None


def quarter_turns(frame: VideoFrame) -> int:
    """Quarter turns counter-clockwise, 0-3, that the stream's display matrix says to show
    ``frame`` by (a phone held upright stores its frames sideways and says so there); the
    nearest quarter turn to its ``rotation``. OpenCV turns its frames so itself."""
    return round((frame.rotation or 0) / 90) % 4


def first_frame_layout(
    frame: VideoFrame | None, pixels: Pixels, log: Callable[[str], None], uri: str
) -> tuple[int, tuple[str, tuple[Layout, Matrix, Range]] | None]:
    """From a file's first ``frame``: the quarter turns that make its frames upright
    (:func:`quarter_turns`), and with ``pixels`` yuv the pixel format and (layout, matrix,
    range) when its planes can go on as decoded (:func:`yuv_planes`); else None, said in
    the ``log``: its frames are converted to BGR. (0, None) without a frame."""
    if frame is None:
        return 0, None
    first = yuv_planes(frame) if pixels == "yuv" else None
    if first is None and pixels == "yuv":
        log(f"{uri}: {frame.format.name} frames go on as BGR, not planes")
    if first is None:
        return quarter_turns(frame), None
    return quarter_turns(frame), (frame.format.name, (first.layout, first.matrix,
                                                      first.color_range))  # fmt: skip


def upright_bgr(frame: VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 BGR of ``frame``, turned upright as :func:`quarter_turns` says
    (swscale converts it; a GPU frame is copied to host memory first)."""
    image = frame.to_ndarray(format="bgr24")
    turns = quarter_turns(frame)
    return cv2.rotate(image, _CV_TURNS[turns]) if turns else image


class PlanesRefused(Exception):
    """PyAV, torch or the driver would not hand a frame's planes over through DLPack."""


def device_planes(frame: VideoFrame) -> YuvImage | None:
    """An NV12 frame's planes, where they are (NVDEC's surface on its GPU; a host frame in
    tests), copied through DLPack into one (H * 3 / 2, W) uint8 torch tensor on the same
    device: no trip through host memory. None where the frame is not 8-bit NV12 (10-bit
    P010, odd sizes...): the caller converts it on the CPU instead. :class:`PlanesRefused`
    where the export itself is refused (the copy's own errors, out of memory, pass).

    The copy is made at once, not kept as a view: the decoder's pool of surfaces is small
    and reused as soon as the frame is released. Ordering without a synchronisation: FFmpeg
    writes NVDEC's output on CUDA's legacy default stream and the copy runs on torch's
    default stream, the same stream, so the copy sees the frame and a later decode into the
    same surface waits for the copy.
    """
    import torch

    hardware = frame.sw_format is not None  # a device frame
    kind = _planes_kind(frame, _pixel_format(frame))
    if kind is None or kind[0] != "nv12":
        return None
    height, width = frame.height, frame.width
    # PyAV exports a plane only with stream=None, so the capsule is asked for here rather
    # than by torch.from_dlpack (which passes its current stream)
    try:
        luma = torch.from_dlpack(frame.planes[0].__dlpack__())  # (H, W), rows pitched
        chroma = torch.from_dlpack(frame.planes[1].__dlpack__())  # (H/2, W/2, 2) U, V pairs
    except (TypeError, ValueError, NotImplementedError, BufferError, RuntimeError) as exc:
        raise PlanesRefused(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                            ) from exc  # fmt: skip
    on_default = torch.cuda.stream(torch.cuda.default_stream(luma.device)) if hardware else None
    with on_default or contextlib.nullcontext():
        data = torch.empty((height * 3 // 2, width), dtype=torch.uint8, device=luma.device)
        data[:height].copy_(luma)
        data[height:].view(height // 2, width // 2, 2).copy_(chroma)
    return YuvImage(data, *kind)


def _import_av(uri: str, decoder: str) -> ModuleType:
    """PyAV, or a one-line error saying how to get it."""
    try:
        import av
    except ImportError as exc:
        raise FieldtoolError(
            f"{uri}: source.decoder {decoder} needs PyAV, which is not installed "
            f"(pip install av, or 'fieldtool[video]'; or use decoder opencv): {exc}"
        ) from exc
    return av


def _hwaccel(gpu: int, *, on_device: bool = False) -> Any:
    """PyAV's NVDEC settings for GPU ``gpu``: decode on the device or fail (no silent
    software decoding: ``auto`` says when it falls back). ``on_device``: frames stay in GPU
    memory (``is_hw_owned``) for :func:`device_planes`, in torch's own CUDA context, the one
    current on the opening thread (:func:`_torch_context_current`): FFmpeg's other way to
    share it, the device's primary context, refuses one torch made already (FFmpeg asks
    for blocking-sync scheduling, torch's has the default). Else FFmpeg has a context of
    its own and copies each frame to host memory."""
    from av.codec.hwaccel import HWAccel

    shared: dict[str, object] | None = None
    if on_device:
        shared = {"primary_ctx": "0", "current_ctx": "1"}
    return HWAccel("cuda", device=str(gpu), allow_software_fallback=False, options=shared,
                   is_hw_owned=on_device)  # fmt: skip


def _torch_context_current(gpu: int) -> None:
    """Make torch's CUDA context of GPU ``gpu`` current on this thread (a runtime call that
    needs a context binds the device's primary context, which torch uses), for FFmpeg to
    decode into (:func:`_hwaccel`)."""
    import torch

    torch.cuda.set_device(gpu)
    torch.cuda.synchronize()


def nvdec_unavailable(uri: str, gpu: int = 0) -> str | None:
    """Why the GPU's video decoder cannot read ``uri`` (one line), None when it can.

    Opens the file with NVDEC and decodes its first frame: the CUDA device, the codec's
    NVDEC support and the driver are all tried, as the session would meet them."""
    try:
        import av
    except ImportError:
        return "PyAV is not installed"
    import torch

    if not torch.cuda.is_available():  # said plainly, not as FFmpeg's error of a missing device
        return "no NVIDIA GPU here (CUDA sees no device)"
    try:
        hwaccel = _hwaccel(gpu)
    except (ImportError, AttributeError) as exc:
        return f"PyAV {av.__version__} has no hardware decoding ({exc})"
    try:
        with av.open(uri, hwaccel=hwaccel) as container:
            stream = container.streams.video[0]
            next(container.decode(stream), None)
            if not getattr(stream.codec_context, "is_hwaccel", True):
                return f"FFmpeg decodes {stream.codec_context.name} in software here"
    except Exception as exc:  # any failure means: not on this machine  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def video_source(
    uri: str,
    *,
    decoder: Decoder = "opencv",
    gpu: int = 0,
    pixels: Pixels = "bgr",
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> VideoSource:
    """The source of ``uri`` read by ``decoder`` (see the package docstring); ``options``
    are :class:`~fieldtool.sources.VideoSource`'s. Live sources always read with OpenCV,
    and OpenCV gives BGR whatever ``pixels`` says; PyAV gives what ``pixels`` says."""
    say = log or (lambda message: None)
    if decoder not in DECODERS:
        raise FieldtoolError(f"source.decoder {decoder!r}: expected one of {', '.join(DECODERS)}")
    if decoder == "opencv" or is_live(uri):
        return VideoSource(uri, log=log, **options)
    if decoder == "auto":
        try:
            _import_av(uri, decoder)
        except FieldtoolError:
            say(f"warning: {uri}: PyAV is not installed (pip install av): decoding with OpenCV")
            return VideoSource(uri, log=log, **options)
    return PyAVSource(uri, decoder=decoder, gpu=gpu, pixels=pixels, log=log, **options)


class PyAVSource(VideoSource):
    """Frames of a video file decoded by PyAV (``decoder`` "pyav", "nvdec" or "auto").

    ``gpu``: the CUDA device NVDEC runs on. ``pixels``: "bgr" frames, or "yuv": the
    decoder's planes (module docstring). After construction ``decoder`` says what
    decodes: "nvdec" or "pyav" ("auto" resolved, with a warning when NVDEC is missing).
    Frame rate and frame count come from :meth:`probe` as for OpenCV, so both decoders
    time a file's frames alike.
    """

    def __init__(
        self,
        uri: str,
        *,
        decoder: Decoder = "pyav",
        gpu: int = 0,
        pixels: Pixels = "bgr",
        **options: Any,
    ) -> None:
        super().__init__(uri, **options)  # checks the file
        if pixels not in get_args(Pixels):
            raise FieldtoolError(f"source.pixels {pixels!r}: expected bgr or yuv")
        self.pixels: Pixels = pixels
        if self.live:
            raise FieldtoolError(f"{uri}: live sources decode with OpenCV, not PyAV")
        self._av = _import_av(uri, decoder)
        self.gpu = gpu
        self.decoder: Literal["pyav", "nvdec"] = "pyav"
        # NVDEC's planes stay on the GPU (device_planes): set below where NVDEC decodes
        self.device_planes = False
        if decoder in ("nvdec", "auto"):
            why = nvdec_unavailable(uri, gpu)
            if why is None:
                self.decoder = "nvdec"
                self.device_planes = pixels == "yuv"
                self._log(f"{uri}: decoding on the GPU's video decoder (NVDEC, CUDA {gpu})"
                          f"{'; frames stay on the GPU' if self.device_planes else ''}")  # fmt: skip
            elif decoder == "nvdec":
                raise FieldtoolError(f"{uri}: source.decoder nvdec: no GPU video decoder here "
                                     f"({why}); use pyav or auto")  # fmt: skip
            else:
                self._log(f"warning: {uri}: NVDEC unavailable ({why}); decoding on the CPU "
                          "with PyAV")  # fmt: skip

    def run_settings(self) -> dict[str, str]:
        """The decoder and pixels that actually decode (PyAV's, or NVDEC's where it was
        found; decoding processes decode with PyAV whatever ``source.decoder`` said)."""
        return {"decoder": self.decoder, "pixels": self.pixels}

    def _device_planes(self, frame: VideoFrame) -> YuvImage | None:
        """:func:`device_planes`; where the GPU's frames cannot be taken so (a PyAV, driver
        or torch that refuses), said once and the rest of the file comes through host memory
        (FFmpeg copies a device frame there when asked for its pixels)."""
        try:
            return device_planes(frame)
        except PlanesRefused as exc:
            self._no_device_planes(str(exc))
            return None

    def _no_device_planes(self, why: str) -> None:
        """NVDEC's frames cannot stay on the GPU here: said once, host memory from now on."""
        self.device_planes = False
        self._log(f"warning: {self.uri}: NVDEC's frames cannot stay on the GPU "
                  f"({why.splitlines()[0] if why else 'no reason given'}); copying them to "
                  "host memory")  # fmt: skip

    def _open_av(self) -> tuple[InputContainer, VideoStream]:
        av = self._av
        try:
            if self.decoder == "nvdec" and self.device_planes:
                try:
                    _torch_context_current(self.gpu)
                    container = av.open(self.uri, hwaccel=_hwaccel(self.gpu, on_device=True))
                except Exception as exc:  # noqa: BLE001  (any: decoding goes on, said once)
                    self._no_device_planes(f"{type(exc).__name__}: {exc}")
                    container = av.open(self.uri, hwaccel=_hwaccel(self.gpu))
            elif self.decoder == "nvdec":
                container = av.open(self.uri, hwaccel=_hwaccel(self.gpu))
            else:
                container = av.open(self.uri)
            stream = container.streams.video[0]
        except (av.FFmpegError, IndexError) as exc:
            raise FieldtoolError(f"{self.uri}: cannot open video file with PyAV ({exc})") from exc
        if self.decoder == "pyav":
            stream.thread_type = "AUTO"  # frame and slice threads: one file on several cores
        return container, stream

    def _say_damage(
        self, since: tuple[int, float], index: int, t: float, start: datetime, *, end: bool = False
    ) -> None:
        """The gap from the last whole frame ``since`` (frame, s) to frame ``index`` at
        ``t`` (s), said in the log; ``end``: no whole frame came after the damage (the
        file, or the frames asked for, ended first)."""
        previous, before = since
        then = "no whole frame after it" if end else f"resumed at frame {index}"
        self._log(f"{self.uri}: damaged data after frame {previous}; {then} "
                  f"({before:.2f} s to {t:.2f} s)")  # fmt: skip
        self._damage_gap(before, t, then, start)

    def _decoded(
        self, container: InputContainer, stream: VideoStream, seen: list[int]
    ) -> Iterator[VideoFrame | None]:
        """Decoded frames in presentation order; None where a packet failed to decode
        (damage: FFmpeg goes on at the next one it can read). ``seen`` gets every packet's
        timestamp, sorted, decoded or not (a frame's number is its rank among them)."""
        av = self._av
        for packet in container.demux(stream):
            if packet.pts is not None and packet.size:
                bisect.insort(seen, packet.pts)  # packets come nearly in order: cheap
            try:
                frames = packet.decode()
            except av.FFmpegError:
                if packet.size == 0:  # the final flush: nothing after it to resume at
                    return
                yield None  # said once, where frames come again
                continue
            yield from frames

    def _file_frames(self) -> Generator[Frame, None, None]:
        if self.fps is None:
            self.probe()
        container, stream = self._open_av()
        start = self.start_time or utc_now()
        clock = MediaClock(self.uri, self.fps or FFMPEG_ASSUMED_FPS, known=self.fps_known,
                           invented=self._invented, log=self._log)  # fmt: skip
        zero = stream.start_time or 0  # OpenCV's times count from the stream's start too
        base = float(stream.time_base or 0)
        step = 1.0 / self.sample_fps
        next_t = 0.0
        index = -1
        damaged = False
        seen: list[int] = []  # the timestamps of the packets demuxed so far, sorted
        settle = AfterDamage()
        gap_from: tuple[int, float] | None = None  # (frame, s) the damage's gap runs from
        rank_offset: int | None = None  # frame number - rank (frames an edit list drops)
        # NVDEC's frames each hold one of the decoder's few surfaces (FFmpeg's nvdec: a hard
        # limit, "no decoder surfaces left"): none are held, a late one is passed over as
        # before; timestamps FFmpeg made up order nothing
        depth = REORDER_FRAMES if self.decoder == "pyav" and not self._invented else 0
        try:
            for decoded in in_presentation_order(self._decoded(container, stream, seen), depth):
                if decoded is None:
                    damaged = index >= 0
                    continue
                if self.max_frames is not None and index + 1 >= self.max_frames:
                    break
                before, previous = clock.last_t, index
                index += 1
                pts = decoded.pts
                if pts is not None and not self._invented:
                    # A frame's number is its rank among the packets' timestamps, so the
                    # frames damage took are not numbered away (as OpenCV and the decoding
                    # processes number them); counted frames until the first fixes the offset
                    rank = bisect.bisect_left(seen, pts)
                    rank_offset = index - rank if rank_offset is None else rank_offset
                    index = max(index, rank + rank_offset)
                self.stats.frames_read += 1
                msec = (pts - zero) * base * 1000.0 if pts is not None and base else math.nan
                t = clock.time(index, msec)
                # frames whose packets were read but never came out of the decoder (damage
                # it passed over without an error): a gap as well, not a silent hole
                damaged = damaged or (previous >= 0 and index - previous > MISSING_FRAMES)
                if damaged:
                    settle.hit()
                    gap_from = gap_from or (previous, before)
                    damaged = False
                if not settle.passes(t, bool(decoded.key_frame)):
                    continue  # decoded from references the damage took: in its gap
                if gap_from is not None:
                    self._say_damage(gap_from, index, t, start)
                    gap_from = None
                if t + 1e-9 < next_t:
                    continue
                next_t += step * max(1, int((t - next_t) / step) + 1)
                self.stats.frames_yielded += 1
                wall = start + timedelta(seconds=t)
                planes = None
                if self.pixels == "yuv":
                    planes = self._device_planes(decoded) if self.device_planes else None
                    planes = planes or yuv_planes(decoded)
                if planes is not None:  # converted where it is used (classifier's device)
                    yield Frame(index, t, wall, yuv=planes.turned(quarter_turns(decoded)))
                else:  # NV12 / YUV -> BGR on the CPU (swscale; a GPU frame is copied first)
                    yield Frame(index, t, wall, upright_bgr(decoded))
        except self._av.FFmpegError as exc:  # the container itself unreadable from here on
            self._log(f"{self.uri}: cannot read on after frame {index} ({exc})")
        finally:
            container.close()
            self.stats.timing = clock.timing
        if gap_from is not None and clock.last_t > gap_from[1]:  # the file ended settling
            self._say_damage(gap_from, index, clock.last_t, start, end=True)
        clock.check_end(index)
        self._ended_early(clock.last_t, start)
