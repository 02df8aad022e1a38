"""Shared types passed between pipeline stages.

One small dataclass per concept. Times: ``t`` is media time in seconds since the
source started (files: decode position; live: seconds since the session opened the
stream); ``wall_time`` is UTC as a naive ``datetime`` (the store's convention).
Images are ``numpy`` arrays of shape (H, W, 3), dtype uint8, BGR channel order (OpenCV).
Probability vectors have shape (C,) in the model's label order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol, overload, runtime_checkable

import numpy as np

from fieldtool.colour import YuvImage

if TYPE_CHECKING:  # only for the FrameSource protocol's annotations
    from fieldtool.sources import FrameStream, SourceStats


class FieldtoolError(Exception):
    """A user-facing error: one line that names the input and what is wrong."""


# The order of the two numbers of a DJI SRT's GPS(a, b, ..) group (``--srt-order``):
# decided from the file, or as given.
SrtOrder = Literal["auto", "lat-lon", "lon-lat"]


class SessionStatus(StrEnum):
    """``sessions.status``: a session runs, then ends in one of three ways."""

    RUNNING = "running"
    FINISHED = "finished"  # the source ended
    FAILED = "failed"  # an error stopped it (re-raised to the caller)
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM, or found dead by the next writer
    STREAM_LOST = "stream_lost"  # a live source did not come back within its retries


class ReviewDecision(StrEnum):
    """``reviews.decision``: what a reviewer said of a sighting (the newest is in force)."""

    CONFIRM = "confirm"
    REJECT = "reject"
    RELABEL = "relabel"  # another species: ``reviews.species``


class _LazyBGR:
    """``Frame.image``: the BGR array the frame was made with, or, for a frame made of YUV
    planes only, their conversion on first use, kept for the next (a data descriptor, so
    the frozen dataclass's ``__init__`` and :func:`dataclasses.replace` still set it)."""

    @overload
    def __get__(self, frame: None, owner: type) -> None: ...  # the dataclass's default
    @overload
    def __get__(self, frame: Frame, owner: type) -> np.ndarray: ...
    def __get__(self, frame: Frame | None, owner: type) -> np.ndarray | None:
        if frame is None:
            return None
        image: np.ndarray | None = frame.__dict__.get("_bgr")
        if image is None:
            yuv: YuvImage | None = frame.__dict__.get("yuv")
            if yuv is None:
                raise ValueError(f"frame {frame.index} has neither a BGR image nor YUV planes")
            image = yuv.to_bgr()
            frame.__dict__["_bgr"] = image  # one conversion, whoever asks first
        return image

    def __set__(self, frame: Frame, image: np.ndarray | None) -> None:
        frame.__dict__["_bgr"] = image


@dataclass(frozen=True)
class Frame:
    """One decoded frame (or one photo).

    Made with ``image`` (BGR), or with ``yuv`` only (a video decoder's YUV 4:2:0 planes,
    :class:`~fieldtool.colour.YuvImage`): then ``image`` is converted from them on first
    use and kept, so consumers that need BGR (snapshots, views, the motion gate) pay only
    for the frames they touch, and the classifier can convert on its device instead
    (:attr:`pixels`).
    """

    index: int  # frame number in the source, 0-based
    t: float  # media time, seconds
    wall_time: datetime  # UTC, naive
    image: _LazyBGR = _LazyBGR()  # (H, W, 3) uint8 BGR; from ``yuv`` when not given
    path: str | None = None  # photos: the file the frame is
    # Frames of one segment are continuous in time; when the segment changes (the next
    # photo sequence, the next file of a batch) smoothing restarts and open sightings end.
    segment: str | None = None
    yuv: YuvImage | None = None  # the decoder's planes, when it handed them over

    def __post_init__(self) -> None:
        if self.__dict__.get("_bgr") is None and self.yuv is None:
            raise ValueError(f"frame {self.index}: give a BGR image or YUV planes")

    @property
    def pixels(self) -> np.ndarray | YuvImage:
        """What the classifier should upload: the YUV planes when the frame has them (half
        the bytes of BGR, converted on the device), else the (H, W, 3) BGR image."""
        return self.yuv if self.yuv is not None else self.image

    @property
    def nbytes(self) -> int:
        """Bytes of pixels the frame holds now (planes, and BGR once made)."""
        image: np.ndarray | None = self.__dict__.get("_bgr")
        yuv = self.yuv.nbytes if self.yuv is not None else 0
        return yuv + (int(image.nbytes) if image is not None else 0)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) in pixels, without converting YUV planes."""
        if self.yuv is not None:
            return self.yuv.height, self.yuv.width
        height, width = self.image.shape[:2]
        return int(height), int(width)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A camera placed somewhere for a while (a Camtrap DP deployment, or one given on the
    command line): where and when photos without their own GPS or clock were taken."""

    deployment_id: str
    lat: float  # degrees, WGS84
    lon: float  # degrees, WGS84
    start: datetime | None = None  # UTC, naive; None: open
    end: datetime | None = None  # UTC, naive; None: open
    camera_id: str | None = None
    camera_model: str | None = None
    location_name: str | None = None
    time_zone: str | None = None  # IANA zone of the camera's clock, when known
    uncertainty_m: float | None = None  # radius of the location's uncertainty

    def covers(self, when: datetime) -> bool:
        """Whether ``when`` (UTC, naive) falls inside the deployment's interval."""
        return (self.start is None or self.start <= when) and (self.end is None or when <= self.end)


@dataclass(frozen=True, slots=True)
class Fix:
    """One GPS fix from a track or receiver."""

    time: datetime  # UTC, naive
    lat: float  # degrees, WGS84
    lon: float  # degrees, WGS84
    elevation_m: float | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a frame was taken."""

    lat: float  # degrees, WGS84
    lon: float  # degrees, WGS84
    accuracy_m: float | None = None
    source: str = "fixed"  # "fixed", "gpx", ...
    elevation_m: float | None = None  # of the camera, m, as its track says (fieldtool.store.track)


@dataclass(frozen=True, slots=True)
class Label:
    """One output class of a model."""

    index: int
    species: str  # scientific name, or "background" for the no-plant class
    common_name: str = ""
    is_background: bool = False
    genus: str = ""  # when the model's label file gives one (else taken from the binomial)
    family: str = ""  # when the model's label file gives one (Darwin Core export)


@dataclass(frozen=True)
class LabelSet:
    """The model's classes in output order."""

    labels: tuple[Label, ...]

    @property
    def species(self) -> list[str]:
        return [label.species for label in self.labels]

    @property
    def background_mask(self) -> np.ndarray:
        """(C,) bool, True for classes that are not species (never start a sighting)."""
        return np.array([label.is_background for label in self.labels], dtype=bool)

    def __len__(self) -> int:
        return len(self.labels)

    def index_of(self, species: str) -> int:
        for label in self.labels:
            if label.species == species:
                return label.index
        raise KeyError(species)


@dataclass(slots=True)
class FrameResult:
    """What the pipeline knows about one analysed frame; each stage fills its field."""

    frame: Frame
    raw: np.ndarray | None = None  # (C,) classifier probabilities
    tile_probs: np.ndarray | None = None  # (T, C) per tile, when tiling is on
    position: Position | None = None
    fused: np.ndarray | None = None  # (C,) after the range prior
    smoothed: np.ndarray | None = None  # (C,) after temporal smoothing


@dataclass(slots=True)
class Sighting:
    """A species seen continuously (up to short gaps) over a time span."""

    sighting_id: str
    session_id: str
    species: str
    common_name: str
    first_seen: datetime  # UTC
    last_seen: datetime  # UTC
    first_t: float  # media seconds
    last_t: float  # media seconds
    # Analysed frames from first_t to last_t: while a candidate, at or above exit, and in a
    # dip below exit it outlasted (fieldtool.smoothing); the detections in its span.
    frames: int = 0
    peak_score: float = 0.0  # max smoothed score over ``frames``
    score_sum: float = 0.0  # sum of smoothed scores over ``frames``
    peak_t: float = 0.0  # media seconds of the peak
    latitude: float | None = None  # position at the peak
    longitude: float | None = None
    model_id: str = ""
    snapshot_path: str | None = None  # relative to the store's folder
    status: Literal["open", "closed"] = "open"
    rank: Literal["species", "genus"] = "species"  # genus: congeners shared the score
    event_id: str | None = None  # photos: the sequence the sighting belongs to

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.frames if self.frames else 0.0


@dataclass(frozen=True, slots=True)
class SightingEvent:
    """Lifecycle of a sighting: start, update (new peak), end."""

    kind: Literal["start", "update", "end"]
    sighting: Sighting
    frame: Frame | None = None  # the frame that caused the event (for snapshots)


@dataclass(slots=True)
class SessionInfo:
    """One run of the pipeline over one source."""

    session_id: str
    source: str
    model_id: str
    started_at: datetime  # UTC
    model_sha256: str = ""  # of the model's weights file
    config_json: str = "{}"
    host: str = ""
    ended_at: datetime | None = None
    status: str = SessionStatus.RUNNING  # a SessionStatus value
    frames_read: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    frames_positioned: int = 0  # analysed frames that got a position
    end_reason: str | None = None  # why it ended when not "finished": one line
    # Where the times of this session come from (see docs/time.md): "start-time",
    # "gpmf-gpsu", "srt-clock", "mp4-creation-time", "track-start", "wall-clock", ...
    time_source: str = "wall-clock"
    time_zone: str | None = "UTC"  # zone the stored times were converted from; None: unknown
    time_zone_known: bool = True  # False: times are a local clock of unknown zone, not UTC
    source_name: str | None = None  # a station's camera name, a Camtrap DP deploymentID
    extra: dict[str, str] = field(default_factory=dict)


class FrameSource(Protocol):
    """What a session needs of its source: ``sources.VideoSource`` (files, cameras,
    streams) and ``photos.PhotoSource`` (still photos) both are one.

    ``name``: stored as the session's ``source_name``; ``start_time``: UTC time of media t=0 (naive); ``frame_count`` and ``fps`` when known
    (progress), ``stats`` the counters kept while it runs; ``probe`` reads what can be
    read ahead (a video's rate), ``frames`` yields the frames until the source ends.
    """

    uri: str
    name: str | None  # a name beside the URI: a station's camera, a photo deployment
    live: bool
    start_time: datetime | None
    frame_count: int | None
    fps: float | None
    stats: SourceStats

    def probe(self) -> float | None: ...

    def frames(self) -> FrameStream: ...


@runtime_checkable
class Classifier(Protocol):
    """The contract between the pipeline and a species classifier (DINOv2 head, gallery,
    a test fake): any object with these members can run a session.

    ``predict`` takes BGR uint8 frames, each (H, W, 3), and returns ``(probs, tile_probs)``:
    (N, C) frame probabilities in ``labels`` order and (N, T, C) per tile (T = 1 without
    tiles). A classifier with ``takes_yuv = True`` also takes a frame's YUV planes
    (:class:`fieldtool.colour.YuvImage`) and converts them itself, on its device
    (:func:`classifier_input` decides what it gets). ``prepare`` may do the CPU half of
    preprocessing for one frame on the reader thread; its result (or None) comes back to
    ``predict`` as ``prepared``. A class that names this Protocol as a base inherits the
    defaults below.
    """

    labels: LabelSet
    model_id: str
    model_sha256: str  # of the weights file; "" when not applicable
    takes_yuv: bool = False

    def prepare(self, image: np.ndarray | YuvImage) -> np.ndarray | None:
        """Per-frame preprocessing off the model thread; None: nothing to do ahead."""
        return None

    def predict(
        self,
        images: Sequence[np.ndarray | YuvImage],
        prepared: Sequence[np.ndarray | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N, C) frame probabilities and (N, T, C) tile probabilities."""
        ...

    def run_settings(self) -> Mapping[str, str]:
        """Settings resolved at run time (device, precision) for the session's config."""
        return {}


def classifier_input(classifier: Classifier, frame: Frame) -> np.ndarray | YuvImage:
    """What ``classifier`` gets of ``frame``: its YUV planes when the classifier converts
    them itself (``takes_yuv``: on its device, half the bytes to copy, no CPU conversion),
    else the BGR image (converted once and kept on the frame for snapshots and views)."""
    return frame.pixels if getattr(classifier, "takes_yuv", False) else frame.image
