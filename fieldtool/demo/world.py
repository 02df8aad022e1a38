"""The demo walks: rendered videos with GPS tracks and ground truth, one walk per region.

A walk is a camera panning along a long scene strip (ground with clutter, and plants of the
region's six species placed along it with stretches of plain ground between them). The
camera slows down near plants and sometimes pauses on one, shakes a little (position,
roll, zoom, a walking bob), and its exposure, white balance, focus and motion blur drift
over time; every frame gets fresh sensor noise. The frames are made by the same renderer
functions and distributions as the training samples (``fieldtool.demo.render``).

Files per region (``build_world``), with media t = 0 at the first track point's time:

- ``walk_<region>.mp4``: the video (``mp4v``), ``size`` px at ``fps`` frames per second;
- ``walk_<region>.gpx``: GPX 1.1 track, one point per second from t = 0 to at least the
  video's end, walking ~1 m/s from ``REGION_ORIGINS[region]``;
- ``walk_<region>_truth.csv``: ``species,start_s,end_s``, one row per plant that came into
  view, in order of ``start_s``.

**In view.** A plant is *in view* in a frame when at least half of its horizontal extent
(its width, ``2 * radius`` of its ellipse in the scene) lies inside the frame's horizontal
field of view. ``start_s`` / ``end_s`` are the media times (frame index / fps) of the first
and the last frame in which the plant is in view (one interval per plant: the camera moves
forward, apart from a little hand shake). Plants are spaced more than a frame width apart, so at most one
plant is in view at a time.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from fieldtool.demo.render import (
    FRAME_SIZE,
    MIN_VISIBLE,
    REFERENCE_HEIGHT,
    CameraEffects,
    PlantSpec,
    apply_effects,
    camera_view,
    draw_foreground,
    draw_plant,
    plant_radius,
    random_effects,
    render_ground,
)
from fieldtool.demo.species import REGION_ORIGINS, region_species
from fieldtool.types import FieldtoolError

REGIONS: tuple[str, ...] = ("west", "east")
# UTC wall time of media t = 0 (naive datetimes, UTC)
REGION_START_TIMES = MappingProxyType(
    {"west": datetime(2026, 6, 1, 9, 0, 0), "east": datetime(2026, 6, 2, 9, 0, 0)}
)
REGION_ELEVATION_M = MappingProxyType({"west": 70.0, "east": 230.0})
DEFAULT_DURATION_S = 75.0
DEFAULT_FPS = 15.0

_SLOW = 0.22  # camera speed near a plant, frame widths per second
_FAST = 0.5  # camera speed over plain ground, frame widths per second
_GAP = (1.05, 2.0)  # ground between two plants, frame widths
_METRES_PER_DEG = 111_320.0


@dataclass(frozen=True)
class WalkPlan:
    """Everything that fixes a walk's frames: the scene's plants and the camera per frame.

    Camera arrays have shape (N,), one value per frame: view centre ``cam_x``/``cam_y``
    (scene px), ``zoom`` (magnification) and ``roll`` (degrees).
    """

    region: str
    size: tuple[int, int]  # (width, height) px of a frame
    fps: float
    scene_width: int  # px
    scene_height: int  # px
    plants: tuple[PlantSpec, ...]
    cam_x: np.ndarray
    cam_y: np.ndarray
    zoom: np.ndarray
    roll: np.ndarray
    seed: int  # seeds ground, clutter and camera effects

    @property
    def frame_count(self) -> int:
        return len(self.cam_x)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


def _smooth_noise(rng: np.random.Generator, n: int, fps: float, period_s: float) -> np.ndarray:
    """(n,) smooth random signal, about N(0, 1), changing over ``period_s`` seconds."""
    keys = max(2, int(n / (fps * period_s)) + 2)
    values = rng.standard_normal(keys)
    x = np.linspace(0, keys - 1, n)
    sig = np.interp(x, np.arange(keys), values)
    k = max(1, int(fps * period_s / 3))
    kernel = np.hanning(2 * k + 1)
    sig = np.convolve(np.pad(sig, k, mode="edge"), kernel / kernel.sum(), mode="valid")
    return sig / max(1e-6, float(np.std(values)))


def plan_walk(
    region: str,
    seed: int = 0,
    duration_s: float = DEFAULT_DURATION_S,
    fps: float = DEFAULT_FPS,
    size: tuple[int, int] = FRAME_SIZE,
) -> WalkPlan:
    """Place plants along a scene strip and simulate the camera for ``duration_s`` seconds.

    The first plants are the region's six species in random order, then random repeats
    (never the same species twice in a row).
    """
    species = [s.species for s in region_species(region)]
    if not species:
        raise FieldtoolError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")
    rng = np.random.default_rng([seed, REGIONS.index(region) if region in REGIONS else 99, 1])
    w, h = size
    n = max(1, int(round(duration_s * fps)))
    dt = 1.0 / fps

    # plants, far enough to outlast the fastest camera
    order = list(rng.permutation(species))
    reach = w / 2 + _FAST * w * duration_s + 2 * w
    plants: list[PlantSpec] = []
    x = w * rng.uniform(1.6, 2.1)
    scene_height = int(round(h * 1.36))
    while x < reach:
        if len(order) <= len(plants):
            options = [s for s in species if s != order[-1]]
            order.append(options[int(rng.integers(0, len(options)))])
        radius = plant_radius(rng, h)
        y = scene_height / 2 + rng.normal(0, 0.06 * h)
        plants.append(
            PlantSpec(order[len(plants)], x + radius, y, radius, int(rng.integers(0, 2**31)))
        )
        x += 2 * radius + rng.uniform(*_GAP) * w
    slow_factor = rng.uniform(0.8, 1.25, len(plants))
    pause_s = np.where(rng.uniform(size=len(plants)) < 0.5, rng.uniform(0.5, 2.0, len(plants)), 0.0)

    # camera along the strip
    cam_x = np.empty(n)
    pos, v, pause_until, paused = w / 2, _FAST * w, -1.0, set()
    for i in range(n):
        t = i * dt
        target = _FAST * w
        for k, p in enumerate(plants):
            if p.x1 > pos - 0.3 * w and p.x0 < pos + 0.3 * w:
                target = _SLOW * w * slow_factor[k]
                if abs(p.x - pos) < 0.04 * w and k not in paused:
                    paused.add(k)
                    pause_until = t + pause_s[k]
        if t < pause_until:
            target = 0.0
        v += (target - v) * (1 - math.exp(-dt / 0.5))
        pos += v * dt
        cam_x[i] = pos
    cam_x = cam_x + 0.008 * w * _smooth_noise(rng, n, fps, 0.7)
    t = np.arange(n) * dt
    cam_y = scene_height / 2 + 0.03 * h * _smooth_noise(rng, n, fps, 3.0)
    cam_y += 0.01 * h * np.sin(2 * math.pi * 1.8 * t + rng.uniform(0, 2 * math.pi))
    roll = 1.2 * _smooth_noise(rng, n, fps, 2.0)
    zoom = np.clip(1 + 0.03 * _smooth_noise(rng, n, fps, 4.0), 0.94, 1.07)

    scene_width = int(cam_x.max() + w)
    kept = tuple(p for p in plants if p.x0 < scene_width)
    return WalkPlan(
        region, (w, h), fps, scene_width, scene_height, kept, cam_x, cam_y, zoom, roll, seed
    )


def visible_fractions(plan: WalkPlan) -> np.ndarray:
    """(N frames, P plants) fraction of each plant's width inside each frame's view."""
    half = plan.size[0] / (2 * plan.zoom)  # scene px
    left, right = plan.cam_x - half, plan.cam_x + half
    x0 = np.array([p.x0 for p in plan.plants])
    x1 = np.array([p.x1 for p in plan.plants])
    overlap = np.minimum(right[:, None], x1[None]) - np.maximum(left[:, None], x0[None])
    return np.clip(overlap, 0, None) / (x1 - x0)[None]


def truth_intervals(plan: WalkPlan) -> list[tuple[str, float, float]]:
    """(species, start_s, end_s) per plant that is in view in some frame, by start time."""
    if not plan.plants:
        return []
    inside = visible_fractions(plan) >= MIN_VISIBLE
    rows = []
    for k, p in enumerate(plan.plants):
        frames = np.flatnonzero(inside[:, k])
        if frames.size:
            rows.append((p.species, frames[0] / plan.fps, frames[-1] / plan.fps))
    return sorted(rows, key=lambda r: r[1])


def render_scene(plan: WalkPlan) -> np.ndarray:
    """The whole scene strip, (scene_height, scene_width, 3) uint8 BGR."""
    rng = np.random.default_rng([plan.seed, 2])
    scale = plan.size[1] / REFERENCE_HEIGHT
    scene = render_ground(rng, plan.scene_width, plan.scene_height, scale, rng.uniform(0.5, 1.3))
    for plant in plan.plants:
        draw_plant(scene, plant, scale)
    draw_foreground(scene, rng, scale, 0, plan.scene_width)
    return scene


def render_frames(plan: WalkPlan) -> Iterator[np.ndarray]:
    """The walk's frames, each (H, W, 3) uint8 BGR, contiguous."""
    scene = render_scene(plan)
    rng = np.random.default_rng([plan.seed, 3])
    scale = plan.size[1] / REFERENCE_HEIGHT
    key_every = max(1, int(round(4.0 * plan.fps)))  # new camera-effects keyframe every 4 s
    keys = [random_effects(rng) for _ in range(plan.frame_count // key_every + 2)]
    speed = np.abs(np.gradient(plan.cam_x)) / scale if plan.frame_count > 1 else np.zeros(1)
    for i in range(plan.frame_count):
        k, w = divmod(i, key_every)
        fx: CameraEffects = keys[k].mix(keys[k + 1], w / key_every)
        fx = replace(fx, motion_px=0.3 * fx.motion_px + 0.35 * float(speed[i]))
        view = camera_view(
            scene, plan.cam_x[i], plan.cam_y[i], plan.zoom[i], plan.roll[i], plan.size
        )
        yield np.ascontiguousarray(apply_effects(view, fx, rng))


def write_video(path: Path, frames: Iterator[np.ndarray], fps: float, size: tuple[int, int]) -> int:
    """Write frames to an ``mp4v`` MP4; returns the number of frames written."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise FieldtoolError(f"{path}: cannot open a video writer (mp4v)")
    count = 0
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame))
            count += 1
    finally:
        writer.release()
    return count


def track_points(
    region: str, seed: int, duration_s: float
) -> list[tuple[datetime, float, float, float]]:
    """(time UTC, lat, lon, elevation m) once a second from t = 0 to ceil(duration_s)."""
    rng = np.random.default_rng([seed, REGIONS.index(region) if region in REGIONS else 99, 4])
    lat0, lon0 = REGION_ORIGINS[region]
    start = REGION_START_TIMES.get(region, datetime(2026, 6, 1, 9, 0, 0))
    n = int(math.ceil(duration_s)) + 1
    heading = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.08, n))
    speed = np.clip(1.0 + 0.15 * _smooth_noise(rng, n, 1.0, 8.0), 0.6, 1.4)  # m/s
    speed[0] = 0.0
    east = np.cumsum(speed * np.sin(heading))
    north = np.cumsum(speed * np.cos(heading))
    lat = lat0 + north / _METRES_PER_DEG
    lon = lon0 + east / (_METRES_PER_DEG * math.cos(math.radians(lat0)))
    ele = REGION_ELEVATION_M.get(region, 100.0) + np.cumsum(rng.normal(0, 0.05, n))
    return [
        (start + timedelta(seconds=i), float(lat[i]), float(lon[i]), float(ele[i]))
        for i in range(n)
    ]


def write_gpx(
    path: Path, name: str, points: Sequence[tuple[datetime, float, float, float]]
) -> None:
    """GPX 1.1 with one track of ``points`` (time UTC naive, lat, lon, elevation m)."""

    def stamp(t: datetime) -> str:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx version="1.1" creator="fieldtool demo" xmlns="http://www.topografix.com/GPX/1/1">',
        f"  <metadata><name>{name}</name><time>{stamp(points[0][0])}</time></metadata>",
        f"  <trk><name>{name}</name><trkseg>",
    ]
    for t, lat, lon, ele in points:
        lines.append(
            f'    <trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>{ele:.1f}</ele><time>{stamp(t)}</time></trkpt>'
        )
    lines += ["  </trkseg></trk>", "</gpx>", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_truth(path: Path, rows: Sequence[tuple[str, float, float]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["species", "start_s", "end_s"])
        for species, start, end in rows:
            writer.writerow([species, f"{start:.3f}", f"{end:.3f}"])


def build_walk(
    out_dir: Path,
    region: str,
    seed: int = 0,
    duration_s: float = DEFAULT_DURATION_S,
    fps: float = DEFAULT_FPS,
    size: tuple[int, int] = FRAME_SIZE,
) -> list[Path]:
    """Write one region's video, track and truth into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_walk(region, seed, duration_s, fps, size)
    video = out_dir / f"walk_{region}.mp4"
    gpx = out_dir / f"walk_{region}.gpx"
    truth = out_dir / f"walk_{region}_truth.csv"
    written = write_video(video, render_frames(plan), fps, size)
    if written != plan.frame_count:
        raise FieldtoolError(f"{video}: wrote {written} of {plan.frame_count} frames")
    write_gpx(gpx, f"fieldtool demo walk ({region})", track_points(region, seed, plan.duration_s))
    write_truth(truth, truth_intervals(plan))
    return [video, gpx, truth]


def build_world(
    out_dir: Path,
    seed: int = 0,
    duration_s: float = DEFAULT_DURATION_S,
    fps: float = DEFAULT_FPS,
    size: tuple[int, int] = FRAME_SIZE,
    regions: Sequence[str] = REGIONS,
) -> list[Path]:
    """Build every region's walk (video, GPX, truth) into ``out_dir``; returns the paths."""
    paths: list[Path] = []
    for region in regions:
        paths += build_walk(Path(out_dir), region, seed, duration_s, fps, size)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fieldtool.demo.world", description="Render the demo walks."
    )
    parser.add_argument("--out", type=Path, default=Path("data/demo"), help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--duration", type=float, default=DEFAULT_DURATION_S, help="seconds per walk"
    )
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS)
    parser.add_argument("--width", type=int, default=FRAME_SIZE[0])
    parser.add_argument("--height", type=int, default=FRAME_SIZE[1])
    parser.add_argument("--regions", nargs="+", default=list(REGIONS), choices=list(REGIONS))
    args = parser.parse_args(argv)
    paths = build_world(
        args.out, args.seed, args.duration, args.fps, (args.width, args.height), args.regions
    )
    for path in paths:
        print(f"{path}  ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
