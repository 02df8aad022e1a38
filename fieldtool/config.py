"""Typed configuration, read from TOML and overridden by CLI flags.

Every section rejects unknown keys, so a typo in a config file is an error, not a
silently ignored setting.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import tomllib
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fieldtool.timebase import parse_zone
from fieldtool.types import FieldtoolError

DEMO_MODEL = Path(__file__).resolve().parents[1] / "models" / "demo"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SourceConfig(_Section):
    """Where frames come from and how often they are analysed."""

    uri: str = ""  # video path, camera index ("0") or http/rtsp URL
    sample_fps: float = Field(5.0, gt=0)  # analysed frames per second of media time
    motion_threshold: float = Field(0.0, ge=0)  # mean grey change (0-255) below which a
    # frame counts as unchanged and reuses the previous prediction; 0 = classify every frame
    start_time: datetime | None = Field(
        None,
        description="time of the video's first frame (ISO 8601); without an offset it is "
        "taken in `tz` when given, else as UTC; default: see docs/time.md",
    )
    tz: str | None = Field(
        None,
        description="time zone of local camera clocks (DJI SRT, EXIF, GoPro creation time) "
        "and of a --start-time without offset: an IANA name (Europe/Madrid) or an offset "
        "(+02:00); default: the zone at the track's position",
    )
    max_frames: int | None = Field(None, gt=0)  # stop after this many decoded frames
    reconnect_attempts: int = Field(5, ge=0)  # live sources: reopen tries after a drop
    reconnect_backoff_s: float = Field(1.0, ge=0)  # first wait, doubled each try

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

    path: Path = DEMO_MODEL  # the bundled demo model
    gallery: Path | None = None  # few-shot gallery folder: classify by similarity instead
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    batch_size: int = Field(16, ge=1)
    tiles: int = Field(1, ge=1, le=8)  # cut each frame into tiles x tiles crops
    tile_reduce: Literal["mean", "max"] = "max"  # how tile probabilities make a frame's
    top_k: int = Field(5, ge=1)  # classes kept per stored detection
    # auto: bf16 (else fp16) on CUDA, bf16 on CPUs with AVX512-BF16/AMX, else fp32
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compile: bool = False  # torch.compile the network: 15-60 s start-up, then faster
    cpu_micro_batch: int | None = Field(None, ge=1)  # crops a network call on the CPU; None: auto


class PositionConfig(_Section):
    """Where each frame was taken: a fixed point or a track file."""

    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    track: Path | None = None  # GPX (more formats: see position.py)
    track_format: str = "auto"  # "auto": from the file's extension and content
    gpsd: str | None = None  # live fixes from a gpsd daemon, "host[:port]" (port 2947)
    time_offset_s: float = 0.0  # added to frame times before looking up the track
    max_fix_gap_s: float = Field(30.0, gt=0)  # farther from any fix: no position
    auto_track: bool = Field(
        True,
        description="with no lat/lon, track or gpsd: use the video's own GPS track, the GoPro "
        "GPMF inside it or the DJI .SRT beside it",
    )

    @model_validator(mode="after")
    def _lat_lon_together(self) -> PositionConfig:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class PriorConfig(_Section):
    """Species range prior: posterior ∝ p(class|image) · (prior + floor)^weight."""

    ranges: list[Path] = Field(default_factory=list)  # polygon files (shp, geojson, gpkg)
    species_field: str = "species"
    presence_field: str | None = "presence"  # 1 = range, 0 = absence island; None: all range
    crs: str | None = None  # CRS of files that carry none (e.g. "EPSG:4267")
    weight: float = Field(1.0, ge=0)  # 0 turns the prior off (gardens, botanical collections)
    mode: Literal["soft", "filter"] = "soft"  # filter: only species expected here (BirdNET-style)
    filter_threshold: float = Field(0.05, ge=0, le=1)  # filter mode: prior below this -> 0
    floor: float = Field(0.02, gt=0, le=1)  # prior far outside the range
    decay_km: float = Field(50.0, gt=0)  # prior falls as exp(-distance/decay) outside


class SmoothingConfig(_Section):
    """Temporal smoothing and the sighting tracker's hysteresis."""

    tau_s: float = Field(1.0, ge=0)  # EMA time constant; 0 = no smoothing
    enter: float = Field(0.5, gt=0, le=1)  # smoothed score that opens a sighting
    exit: float = Field(0.3, gt=0, le=1)  # below this the sighting may end
    min_duration_s: float = Field(1.0, ge=0)  # score must stay >= enter this long to start
    max_gap_s: float = Field(2.0, ge=0)  # shorter dips below exit do not split a sighting
    genus_level: bool = False  # congeners' summed score may open a genus sighting ("Acer sp.")

    @model_validator(mode="after")
    def _exit_below_enter(self) -> SmoothingConfig:
        if self.exit > self.enter:
            raise ValueError(f"exit ({self.exit}) must not exceed enter ({self.enter})")
        return self


class StoreConfig(_Section):
    """The DuckDB sightings file."""

    db: Path = Path("sightings.duckdb")
    snapshots: bool = True  # save a JPEG of each sighting's best frame
    flush_interval_s: float = Field(2.0, gt=0)  # buffered rows reach the file this often
    detections: bool = True  # keep per-frame top-k predictions (for eval, re-processing)
    lock_timeout_s: float = Field(30.0, ge=0)  # keep retrying a locked file this long
    live_frame_interval_s: float = Field(1.0, ge=0)  # newest annotated frame for the
    # dashboard's live view, <snapshots>/<session>/latest.jpg; 0 = off
    preview: Path | None = None  # also write every analysed frame, annotated, to this MP4


class Config(_Section):
    """A whole session's settings."""

    source: SourceConfig = Field(default_factory=SourceConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    position: PositionConfig = Field(default_factory=PositionConfig)
    prior: PriorConfig = Field(default_factory=PriorConfig)
    smoothing: SmoothingConfig = Field(default_factory=SmoothingConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)


def _one_line(err: ValidationError, where: str) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "config"
        parts.append(f"{loc}: {e['msg']}")
    return f"{where}: " + "; ".join(parts)


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a TOML file (optional) and apply dotted overrides such as ``{"model.tiles": 2}``."""
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FieldtoolError(f"{path}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise FieldtoolError(f"{path}: not valid TOML ({exc})") from None
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if not key:
            raise FieldtoolError(f"override {dotted!r}: expected section.key")
        data.setdefault(section, {})[key] = value
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise FieldtoolError(_one_line(exc, where)) from None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value`` with a TOML value (bare words are taken as strings)."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise FieldtoolError(f"--set {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value
