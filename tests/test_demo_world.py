from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import cv2
import numpy as np
import pytest

from fieldtool.demo.render import MIN_VISIBLE
from fieldtool.demo.species import REGION_ORIGINS, region_species
from fieldtool.demo.world import (
    REGION_START_TIMES,
    build_world,
    plan_walk,
    truth_intervals,
    visible_fractions,
)

GPX_NS = {"g": "http://www.topografix.com/GPX/1/1"}
DURATION, FPS, SIZE = 8.0, 4.0, (96, 72)


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    paths = build_world(out, seed=3, duration_s=DURATION, fps=FPS, size=SIZE)
    return out, paths


def _read_frames(path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


def test_build_world_writes_three_files_per_region(tiny_world):
    out, paths = tiny_world
    assert sorted(p.name for p in paths) == sorted(
        f"walk_{r}{suffix}" for r in ("west", "east") for suffix in (".mp4", ".gpx", "_truth.csv")
    )
    assert all(p.parent == out and p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize("region", ["west", "east"])
def test_video_reads_back_with_the_planned_frame_count(tiny_world, region):
    out, _ = tiny_world
    frames, fps = _read_frames(out / f"walk_{region}.mp4")
    assert len(frames) == round(DURATION * FPS)
    assert fps == pytest.approx(FPS)
    assert frames[0].shape == (SIZE[1], SIZE[0], 3)
    # the camera moves: first and last frames differ
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 5


@pytest.mark.parametrize("region", ["west", "east"])
def test_gpx_covers_the_video_once_a_second_near_the_origin(tiny_world, region):
    out, _ = tiny_world
    root = ET.parse(out / f"walk_{region}.gpx").getroot()
    assert root.get("version") == "1.1"
    points = root.findall(".//g:trkpt", GPX_NS)
    texts = [p.find("g:time", GPX_NS).text for p in points]
    assert all(t.endswith("Z") for t in texts)
    times = [datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ") for t in texts]
    assert times[0] == REGION_START_TIMES[region]  # media t = 0
    assert times[-1] - times[0] >= timedelta(seconds=DURATION)
    assert all(b - a == timedelta(seconds=1) for a, b in zip(times, times[1:], strict=False))
    lat0, lon0 = REGION_ORIGINS[region]
    lat = np.array([float(p.get("lat")) for p in points])
    lon = np.array([float(p.get("lon")) for p in points])
    north = (lat - lat0) * 111_320
    east = (lon - lon0) * 111_320 * math.cos(math.radians(lat0))
    assert np.hypot(north, east).max() < 300
    steps = np.hypot(np.diff(north), np.diff(east))
    assert 0.5 < steps[1:].mean() < 1.5  # walking pace, m/s


@pytest.mark.parametrize("region", ["west", "east"])
def test_truth_lies_within_the_video_and_names_the_region_species(tiny_world, region):
    out, _ = tiny_world
    with (out / f"walk_{region}_truth.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["species", "start_s", "end_s"]
        rows = list(reader)
    assert rows, "a plant comes into view within 8 s"
    allowed = {s.species for s in region_species(region)}
    for row in rows:
        assert row["species"] in allowed
        assert 0 <= float(row["start_s"]) <= float(row["end_s"]) <= DURATION


def test_plan_is_deterministic_and_truth_matches_visibility():
    a = plan_walk("east", seed=4, duration_s=30, fps=5, size=(160, 120))
    b = plan_walk("east", seed=4, duration_s=30, fps=5, size=(160, 120))
    c = plan_walk("east", seed=5, duration_s=30, fps=5, size=(160, 120))
    assert np.array_equal(a.cam_x, b.cam_x) and a.plants == b.plants
    assert a.plants != c.plants
    vis = visible_fractions(a)
    for species, start, end in truth_intervals(a):
        k = [i for i, p in enumerate(a.plants) if p.species == species]
        i0, i1 = round(start * a.fps), round(end * a.fps)
        assert any(vis[i0, j] >= MIN_VISIBLE and vis[i1, j] >= MIN_VISIBLE for j in k)
        if i0 > 0:
            assert any(vis[i0 - 1, j] < MIN_VISIBLE for j in k)


@pytest.mark.parametrize("region", ["west", "east"])
def test_full_walk_shows_all_six_species_one_at_a_time_with_bare_ground(region):
    plan = plan_walk(region, seed=0)
    assert 60 <= plan.duration_s <= 90
    rows = truth_intervals(plan)
    assert {s for s, _, _ in rows} == {s.species for s in region_species(region)}
    assert len(rows) > 6  # some species more than once
    vis = visible_fractions(plan)
    assert ((vis >= MIN_VISIBLE).sum(axis=1) <= 1).all()  # one plant in view at a time
    bare = (vis == 0).all(axis=1)
    assert bare.mean() > 0.05  # stretches of plain ground
    # the camera only moves forward
    assert (np.diff(plan.cam_x) > -0.02 * plan.size[0]).all()
