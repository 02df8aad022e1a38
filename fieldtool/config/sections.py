"""The session's config sections: source, model, position, prior, smoothing, store."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fieldtool.config.base import Section as _Section
from fieldtool.config.base import flag, validation_line
from fieldtool.resources import demo_model
from fieldtool.timebase import parse_zone
from fieldtool.types import FieldtoolError, SrtOrder

DEMO_MODEL = demo_model()


class SourceConfig(_Section):
    """Where frames come from and how often they are analysed."""

    uri: str = Field("", description="video path, camera index (`0`) or http/rtsp URL")
    sample_fps: float = Field(
        5.0, gt=0, description="analysed frames per second of media time",
        json_schema_extra=flag("--sample-fps"),
    )  # fmt: skip
    motion_threshold: float = Field(
        0.0, ge=0,
        description="mean grey change (0-255) below which a frame counts as unchanged and "
        "reuses the previous prediction; 0: classify every frame",
    )  # fmt: skip
    start_time: datetime | None = Field(
        None,
        description="time of the video's first frame (ISO 8601); without an offset it is "
        "taken in `tz` when given, else as UTC; default: see docs/time.md",
        json_schema_extra=flag("--start-time"),
    )
    tz: str | None = Field(
        None,
        description="time zone of local camera clocks (DJI SRT, EXIF, GoPro creation time) "
        "and of a start time without offset: an IANA name (Europe/Madrid) or an offset "
        "(+02:00); default: the zone at the track's position",
        json_schema_extra=flag("--tz"),
    )
    max_frames: int | None = Field(None, gt=0, description="stop after this many decoded frames")
    decoder: Literal["opencv", "pyav", "nvdec", "auto"] = Field(
        "opencv",
        description="video files' decoder: opencv (FFmpeg through OpenCV); pyav (FFmpeg "
        "through PyAV, frame threads, times from each frame's pts; `pip install av`); nvdec "
        "(PyAV on the GPU's video decoder, CUDA; an error where there is none); auto (nvdec "
        "where it works, else pyav, else opencv, with a warning). Cameras and streams use "
        "OpenCV",
        json_schema_extra=flag("--decoder"),
    )  # fmt: skip
    decode_workers: int = Field(
        1, ge=1, le=64,
        description="video files: processes decoding one file at once, each a segment between "
        "key frames, frames in order as one decoder gives them (PyAV on the CPU; shared "
        "memory for a GOP's analysed frames a worker, at most 4 GiB); 1: one decoder. "
        "Cameras, streams and nvdec keep one",
        json_schema_extra=flag("--decode-workers"),
    )  # fmt: skip
    pixels: Literal["bgr", "yuv", "auto"] = Field(
        "auto",
        description="what PyAV and NVDEC hand over: bgr (converted on the CPU by swscale); yuv "
        "(the decoder's 4:2:0 planes, half the bytes, converted to RGB on the classifier's "
        "device; NVDEC's stay on the GPU; snapshots and views convert only the frames they "
        "use); auto (yuv when the model runs on a CUDA GPU, else bgr). OpenCV gives bgr",
        json_schema_extra=flag("--pixels"),
    )  # fmt: skip
    assume_fps: float | None = Field(
        None, gt=0, lt=1000,
        description="frame rate of a file that gives none (raw .h264/.h265, an AVI with rate "
        "0), which is then timed by frame number; default: FFmpeg's 25 (a log line says so)",
        json_schema_extra=flag("--assume-fps"),
    )  # fmt: skip
    retry: Literal["forever"] | Annotated[int, Field(ge=0)] = Field(
        "forever",
        description="cameras and streams: reopen tries after the stream drops or does not "
        "answer, or forever (until stopped); a stream not back within them ends the session "
        "as stream_lost",
        json_schema_extra=flag("--retry"),
    )
    reconnect_attempts: int | None = Field(
        None, ge=0, description="older name of `retry` as a number of tries (set from it)"
    )
    reconnect_backoff_s: float = Field(
        1.0, ge=0, description="seconds before the first reopen try, doubled each try"
    )
    reconnect_backoff_max_s: float = Field(
        30.0, gt=0, description="seconds; the longest wait between two reopen tries"
    )
    open_timeout_s: float = Field(
        10.0, gt=0, description="network streams: seconds an open may take before it fails"
    )
    read_timeout_s: float = Field(
        10.0, gt=0,
        description="network streams: seconds without a frame before the stream counts as "
        "dropped (a frozen server) and is reopened",
        json_schema_extra=flag("--read-timeout"),
    )  # fmt: skip
    read_ahead_mb: float = Field(
        256.0, gt=0, description="MiB of decoded frames queued ahead of the model (files)"
    )
    keep_max_side: int = Field(
        1280, ge=0,
        description="px; once the model's crops are cut from the whole frame (on the CPU), "
        "frames go on to the views, snapshots and preview scaled to this longer side, so "
        "batches of 4K frames fit in memory; 0: keep them whole",
    )  # fmt: skip

    @field_validator("retry", mode="before")
    @classmethod
    def _forever_or_tries(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if value == "forever" or (type(value) is int and value >= 0):
            return value
        raise ValueError(f"expected forever or a number of tries (0 or more), not {value!r}")

    @model_validator(mode="before")
    @classmethod
    def _retry_and_its_old_name(cls, data: Any) -> Any:
        """An old file's ``reconnect_attempts`` is the ``retry`` count (unless both are
        given); a count in ``retry`` is copied to it, for callers that read the old name."""
        if not isinstance(data, dict):
            return data
        old, tries = data.get("reconnect_attempts"), data.get("retry")
        if old is not None and tries is None:
            return {**data, "retry": old}
        if old is None and (type(tries) is int or (isinstance(tries, str) and tries.isdigit())):
            return {**data, "reconnect_attempts": int(tries)}
        return data

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse_zone(value)
        except FieldtoolError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()


class ModelConfig(_Section):
    """The species classifier."""

    path: Path = Field(
        DEMO_MODEL, description="model folder (default: the bundled demo model)",
        json_schema_extra=flag("--model"),
    )  # fmt: skip
    gallery: Path | None = Field(
        None, description="few-shot gallery folder: classify by similarity to its photos",
        json_schema_extra=flag("--gallery"),
    )  # fmt: skip
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="auto: cuda, then mps, then cpu", json_schema_extra=flag("--device")
    )
    batch_size: int = Field(
        16,
        ge=1,
        description="frames per model call (files)",
        json_schema_extra=flag("--batch-size"),
    )
    tiles: int = Field(
        1, ge=1, le=8, description="cut each frame into tiles x tiles crops",
        json_schema_extra=flag("--tiles"),
    )  # fmt: skip
    tile_reduce: Literal["mean", "max"] = Field(
        "max", description="how tile probabilities make a frame's"
    )
    top_k: int = Field(5, ge=1, description="classes kept per stored detection")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto",
        description="auto: bf16 (else fp16) on CUDA, bf16 on CPUs with AVX512-BF16 or AMX, "
        "else fp32",
        json_schema_extra=flag("--precision"),
    )
    compile: bool = Field(
        False, description="torch.compile the network: 15-60 s start-up, then faster",
        json_schema_extra=flag("--compile"),
    )  # fmt: skip
    compile_mode: Literal[
        "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"
    ] = Field(
        "default", description="torch.compile's mode with `compile`: reduce-overhead adds "
        "CUDA graphs, max-autotune also tunes the matrix kernels (minutes of start-up); "
        "`benchmarks/gpu_check.sh` measures them",
        json_schema_extra=flag("--compile-mode"),
    )  # fmt: skip
    cpu_micro_batch: int | None = Field(
        None, ge=1, description="crops per network call on the CPU; default: sized to the caches"
    )

    @model_validator(mode="after")
    def _mode_needs_compile(self) -> ModelConfig:
        if self.compile_mode != "default" and not self.compile:
            raise ValueError(f"compile_mode {self.compile_mode} needs compile (--compile)")
        return self


class PositionConfig(_Section):
    """Where each frame was taken: a fixed point, a track file, or a live GPS."""

    lat: float | None = Field(
        None, ge=-90, le=90, description="fixed latitude (degrees, WGS84)",
        json_schema_extra=flag("--lat"),
    )  # fmt: skip
    lon: float | None = Field(
        None, ge=-180, le=180, description="fixed longitude (degrees, WGS84)",
        json_schema_extra=flag("--lon"),
    )  # fmt: skip
    track: Path | None = Field(
        None, description="GPS track: GPX, NMEA, GoPro MP4/MOV, DJI SRT, photo EXIF",
        json_schema_extra=flag("--track", "--gpx"),
    )  # fmt: skip
    track_date: date | None = Field(
        None, description="UTC date (YYYY-MM-DD) of the first fix of an NMEA log that gives "
        "none (GGA only; RMC with an empty date)", json_schema_extra=flag("--track-date"),
    )  # fmt: skip
    track_format: Literal["auto", "gpx", "nmea", "srt", "gpmf", "exif", "gpsd"] = Field(
        "auto", description="auto: from the file's extension and content",
        json_schema_extra=flag("--track-format"),
    )  # fmt: skip
    srt_order: SrtOrder = Field(
        "auto", description="order of the two numbers of a DJI SRT's GPS(a, b, ..) group: "
        "auto decides from the file (a HOME line, a value beyond ±90°, a metre altitude "
        "marks the lat-first enterprise layout) and warns where nothing decides",
        json_schema_extra=flag("--srt-order"),
    )  # fmt: skip
    gpsd: str | None = Field(
        None, description="live fixes from a gpsd daemon at HOST[:PORT] (port 2947; --gpsd "
        "alone: localhost:2947), its connection reopened if it drops; on a clock not known to "
        "be synchronised (and no --time-offset) live frames are timed by GPS time from the "
        "first fix (docs/time.md, A live source's clock)",
        json_schema_extra=flag("--gpsd", const="localhost:2947", metavar="HOST[:PORT]"),
    )  # fmt: skip
    time_offset_s: float = Field(
        0.0, description="seconds added to a video's frame times (a live source's: this "
        "computer's clock) and to photo times from the camera's clock (a clock that is off), "
        "stored and looked up in a track so; photos' GPS times are kept",
        json_schema_extra=flag("--time-offset"),
    )  # fmt: skip
    max_fix_gap_s: float = Field(
        30.0, gt=0, description="seconds; farther from any fix a frame gets no position"
    )
    auto_track: bool = Field(
        True,
        description="with no lat/lon, track or gpsd: use the video's own GPS track, the GoPro "
        "GPMF inside it or the DJI .SRT beside it, then a GPS logger's .gpx beside it with "
        "its name (matched by clock, as --gpx), else the place a phone wrote into it (one "
        "point: where recording began)",
    )

    def looks_for_track(self) -> bool:
        """Whether a file's run finds its track by itself (``auto_track`` with no lat/lon,
        track or gpsd given): the video's own, else a GPX beside it (``docs/time.md``)."""
        return self.auto_track and self.track is None and self.lat is None and self.gpsd is None

    @field_validator("lon", mode="before")
    @classmethod
    def _lon_not_0_to_360(cls, value: Any) -> Any:
        """A longitude in the 0..360 form (236.74 for -123.26 in Oregon) is refused with
        its -180..180 value: read as given it would lie half a world away."""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 180 < value <= 360:
            raise ValueError(f"{value:g} is outside -180..180 (a longitude in the 0..360 form? "
                             f"give {value - 360:.6g})")  # fmt: skip
        return value

    @model_validator(mode="after")
    def _lat_lon_together(self) -> PositionConfig:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


def check_place(lat: float, lon: float, prefix: str = "") -> None:
    """A FieldtoolError, one line, unless (``lat``, ``lon``) degrees is a place
    :class:`PositionConfig` accepts (finite, -90..90, -180..180; the one place these rules
    live); ``prefix`` goes before the names ``lat``/``lon`` (``--`` for flags)."""
    try:
        PositionConfig(lat=lat, lon=lon)
    except ValidationError as err:
        why = validation_line(err, PositionConfig, prefix=prefix)
        raise FieldtoolError(f"position {lat:g}, {lon:g} is out of range: {why}") from None


class PriorConfig(_Section):
    """Species range prior: posterior ∝ p(class|image) · (prior + floor)^weight."""

    ranges: list[Path] = Field(
        default_factory=list,
        description="range polygons (shp, geojson, gpkg) or occurrence tables (GBIF csv/tsv; a "
        "GBIF download zip as it comes)",
        json_schema_extra=flag("--ranges"),
    )
    species_field: str = Field(
        "species", description="range attribute (or occurrence table column) holding the "
        "species name",
        json_schema_extra=flag("--species-field"),
    )  # fmt: skip
    presence_field: str | None = Field(
        "presence", description="range attribute: 1 range, 0 absence island; none: all range",
        json_schema_extra=flag("--presence-field"),
    )  # fmt: skip
    crs: str | None = Field(
        None, description="CRS of range files that carry none, e.g. EPSG:4267",
        json_schema_extra=flag("--ranges-crs"),
    )  # fmt: skip

    @field_validator("ranges", mode="before")
    @classmethod
    def _one_file_is_a_list(cls, value: Any) -> Any:
        """``ranges = "trees.gpkg"`` in a config file: one file, as ``["trees.gpkg"]``."""
        return [value] if isinstance(value, (str, Path)) else value
    weight: float = Field(
        1.0, ge=0, description="strength of the prior; 0 turns it off",
        json_schema_extra=flag("--prior-weight", switch={"--ignore-location": (
            0.0, "no range prior for this session (gardens, planted collections)")}),
    )  # fmt: skip
    mode: Literal["soft", "filter"] = Field(
        "soft", description="soft reweighting, or filter: keep only species expected here",
        json_schema_extra=flag("--prior-mode"),
    )  # fmt: skip
    filter_threshold: float = Field(
        0.05, ge=0, le=1, description="filter mode: species with a prior below this are dropped"
    )
    floor: float = Field(0.02, gt=0, le=1, description="prior far outside a species' range")
    decay_km: float = Field(
        50.0, gt=0, description="km; outside its range a prior falls as exp(-distance/decay)"
    )


class SmoothingConfig(_Section):
    """Temporal smoothing and the sighting tracker's hysteresis."""

    tau_s: float = Field(1.0, ge=0, description="EMA time constant, seconds; 0: no smoothing")
    enter: float = Field(0.5, gt=0, le=1, description="smoothed score that opens a sighting")
    exit: float = Field(0.3, gt=0, le=1, description="below this score a sighting may end")
    min_duration_s: float = Field(
        1.0, ge=0, description="seconds the score must stay above enter to open a sighting"
    )
    max_gap_s: float = Field(
        2.0, ge=0, description="seconds; shorter dips below exit do not end a sighting"
    )
    genus_level: bool = Field(
        False, description="congeners' summed score may open a genus sighting (Acer sp.)"
    )

    @model_validator(mode="after")
    def _exit_below_enter(self) -> SmoothingConfig:
        if self.exit > self.enter:
            raise ValueError(f"exit ({self.exit}) must not exceed enter ({self.enter})")
        return self


class StoreConfig(_Section):
    """The DuckDB sightings file."""

    db: Path = Field(
        Path("sightings.duckdb"),
        description="DuckDB sightings file",
        json_schema_extra=flag("--db"),
    )
    snapshots: bool = Field(
        True, description="save a JPEG of each sighting's best frame",
        json_schema_extra=flag(switch={"--no-snapshots": (
            False, "do not save sightings' snapshot JPEGs (the live view's frame and learning "
            "frames have their own settings: store.live_frame_interval_s 0, "
            "store.learn_frames 0)")}),
    )  # fmt: skip
    flush_interval_s: float = Field(
        2.0, gt=0, description="seconds; buffered rows reach the file this often"
    )
    detections: bool = Field(
        True, description="keep per-frame top-k predictions (for eval, re-processing)"
    )
    lock_timeout_s: float = Field(
        30.0, ge=0, description="seconds to keep retrying a file held by another process"
    )
    live_frame_interval_s: float = Field(
        1.0, ge=0,
        description="seconds between annotated frames for the dashboard's live view "
        "(<snapshots>/<session>/latest.jpg); 0: off",
    )  # fmt: skip
    learn_frames: int = Field(
        4, ge=0, le=64,
        description="frames kept per closed sighting for learning from reviews (besides its "
        "snapshot), spread over it, as JPEGs in <snapshots>/<session>/learn/; 0: off",
    )  # fmt: skip
    preview: Path | None = Field(
        None, description="also write every analysed frame, annotated, to this MP4",
        json_schema_extra=flag("--preview"),
    )  # fmt: skip

