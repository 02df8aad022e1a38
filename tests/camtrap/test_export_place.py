"""Camtrap DP export: a deployment's place from where all its photos were placed, its
``coordinateUncertainty``, ``timestampIssues`` for guessed clocks, and photos copied (not
linked) into the package. Each store is written directly (no model run): the rows a photo
run writes (``media`` keeps a photo's own EXIF GPS, ``detections`` where it was placed,
``track`` the placed positions with their stated accuracy)."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.camtrap import write_package
from fieldtool.store import SightingStore
from fieldtool.types import Position, SessionInfo
from tests.camtrap.conftest import REAL_PHOTOS, read_csv

T0 = datetime(2021, 4, 11, 18, 43, 9)
FIXED = (51.18, 5.65)  # --lat/--lon
FAR = [(50.85, 4.35), (51.18, -5.65)]  # two photos' own (odd) EXIF GPS


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance, written out here so the test does not reuse what it checks."""
    import math

    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dl = math.radians(b[1] - a[1])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _photo_session(
    db: Path, own: list[tuple[float, float] | None], placed: list[tuple[float, float]], *,
    accuracy_m: float | None = None, paths: list[Path] | None = None,
    time_sources: list[str] | None = None, session_time: str = "photos",
) -> str:  # fmt: skip
    """A photo session: photo i has its own GPS ``own[i]`` (media row) and was placed at
    ``placed[i]`` (detection and track rows, the latter with ``accuracy_m``)."""
    store = SightingStore(db)
    info = SessionInfo("p" * 32, "traps/", "m", T0, status="finished", source_name="cam",
                       time_source=session_time)  # fmt: skip
    store.record_session(info)
    for i, (mine, where) in enumerate(zip(own, placed, strict=True)):
        when = T0 + timedelta(seconds=i)
        path = paths[i] if paths else Path(f"/nowhere/IMG_{i:04d}.JPG")
        store.record_media(info.session_id, i, str(path), when, event_id="e1",
                           position=Position(*mine) if mine else None,
                           time_source=time_sources[i] if time_sources else "exif-offset")  # fmt: skip
        position = Position(where[0], where[1], accuracy_m, "deployment")
        store.record_detection(info.session_id, i, float(i), when, position,
                               (["background"], [0.9]), (["background"], [0.9]))  # fmt: skip
        store.record_track(info.session_id, when, float(i), position)
    store.close()
    return info.session_id


def _export(db: Path, out: Path) -> tuple[dict[str, str], list[str]]:
    lines: list[str] = []
    write_package(db, out, log=lines.append)
    [deployment] = read_csv(out / "deployments.csv")
    return deployment, lines


def test_place_is_where_all_photos_were_placed_and_a_wide_spread_is_said(tmp_path):
    """26 photos at --lat/--lon, 2 with far-off EXIF GPS of their own: the deployment is
    the centroid of all 28 placements, not of the 2 EXIF ones, and a spread of hundreds of
    km is written as such and said in the log and the deployment's comments."""
    own = [None] * 13 + [FAR[0]] + [None] * 13 + [FAR[1]]
    placed = [p or FIXED for p in own]
    _photo_session(tmp_path / "s.duckdb", own, placed)
    dep, lines = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    lat, lon = float(dep["latitude"]), float(dep["longitude"])
    assert lat == pytest.approx(sum(p[0] for p in placed) / 28, abs=1e-6)
    assert lon == pytest.approx(sum(p[1] for p in placed) / 28, abs=1e-6)
    farthest = max(_metres((lat, lon), p) for p in placed)
    assert farthest > 400_000  # (51.18, -5.65) is ~790 km from the centroid
    assert int(dep["coordinateUncertainty"]) == pytest.approx(farthest, rel=0.01)
    warned = [line for line in lines if "warning: deployment cam:" in line]
    assert len(warned) == 1 and f"{farthest / 1000:.1f} km from" in warned[0], lines
    assert "km from their centroid" in dep["deploymentComments"]


def test_photos_at_one_fixed_point_have_no_uncertainty(tmp_path):
    """15 photos placed at 44.56,-123.1: the float centroid (44.55999999999999) is the same
    point; docs/camtrap.md: empty for a single point. No warning."""
    point = (44.56, -123.1)
    _photo_session(tmp_path / "s.duckdb", [None] * 15, [point] * 15)
    dep, lines = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    assert (float(dep["latitude"]), float(dep["longitude"])) == point
    assert dep["coordinateUncertainty"] == ""
    assert not any("warning" in line for line in lines)


def test_a_small_spread_is_its_radius(tmp_path):
    """Photos 40 m apart (a camera moved on its tree line): the radius, about 20 m."""
    a, b = (44.56, -123.1), (44.56036, -123.1)  # 0.00036 deg of latitude: ~40 m
    _photo_session(tmp_path / "s.duckdb", [None] * 4, [a, a, b, b])
    dep, lines = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    assert int(dep["coordinateUncertainty"]) == pytest.approx(_metres(a, b) / 2, abs=1.01)
    assert not any("warning" in line for line in lines)


def test_a_packages_stated_uncertainty_is_kept(tmp_path):
    """A run of a Camtrap DP package places its photos at the deployment with the
    package's uncertainty (187 m in the standard's example; stored as the track's
    accuracy): the export writes 187, not 1 or empty."""
    point = (50.699, 4.013)
    _photo_session(tmp_path / "s.duckdb", [None] * 10, [point] * 10, accuracy_m=187.0)
    dep, _ = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    assert (float(dep["latitude"]), float(dep["longitude"])) == point
    assert dep["coordinateUncertainty"] == "187"


def _video_session(db: Path, time_source: str, zone_known: bool = True) -> None:
    store = SightingStore(db)
    info = SessionInfo("v" * 32, "walk.mp4", "m", T0, status="finished",
                       time_source=time_source, time_zone="UTC" if zone_known else None,
                       time_zone_known=zone_known, source_name="walk")  # fmt: skip
    store.record_session(info)
    for k in range(3):
        store.record_track(info.session_id, T0 + timedelta(seconds=60 * k), 60.0 * k,
                           Position(44.0 + 0.0005 * k, -123.0))  # fmt: skip
    store.close()


@pytest.mark.parametrize(
    ("source", "issues"),
    [("processing-time", True), ("srt-file-mtime", True), ("mp4-creation-time", False),
     ("gpmf-gpsu", False)],
)  # fmt: skip
def test_timestamp_issues_of_a_guessed_session_clock(tmp_path, source, issues):
    """A session dated by when it was processed or by a file's modification time: its
    times are not when it was recorded, which is what timestampIssues flags."""
    _video_session(tmp_path / "s.duckdb", source)
    dep, _ = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    assert dep["timestampIssues"] == ("true" if issues else "false")
    assert (source in dep["deploymentComments"]) == issues


def test_timestamp_issues_of_photos_dated_by_their_files(tmp_path):
    """One of three photos without an EXIF time (dated by its file's mtime): the deployment
    says so, and that photo's media row says so; the others are not flagged."""
    point = (44.56, -123.1)
    _photo_session(tmp_path / "s.duckdb", [None] * 3, [point] * 3,
                   time_sources=["exif-offset", "file-mtime", "exif-offset"])  # fmt: skip
    dep, _ = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    assert dep["timestampIssues"] == "true"
    assert "1 of 3 photos" in dep["deploymentComments"]
    assert "file-mtime" in dep["deploymentComments"]
    media = read_csv(tmp_path / "pkg" / "media.csv")
    flagged = ["modification time" in m["mediaComments"] for m in media]
    assert flagged == [False, True, False]


def test_photos_are_copied_not_linked(tmp_path):
    """The package's photos are copies: editing one (blurring a person) leaves the camera's
    original as it was; the summary line says how many bytes were copied."""
    originals = tmp_path / "card"
    originals.mkdir()
    paths = [Path(shutil.copy(p, originals)) for p in REAL_PHOTOS[:3]]
    point = (44.56, -123.1)
    _photo_session(tmp_path / "s.duckdb", [None] * 3, [point] * 3, paths=paths)
    _, lines = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    media = read_csv(tmp_path / "pkg" / "media.csv")
    before = [p.read_bytes() for p in paths]
    for row, original in zip(media, paths, strict=True):
        copy = tmp_path / "pkg" / row["filePath"]
        assert copy.read_bytes() == original.read_bytes()
        assert not os.path.samefile(copy, original)
        copy.write_bytes(b"blurred")  # the package is the user's to edit
    assert [p.read_bytes() for p in paths] == before
    total = sum(len(b) for b in before)
    assert any(f"{total:,} bytes" in line and "copied" in line for line in lines), lines


def test_photos_either_side_of_180_are_placed_between_them(tmp_path):
    """The trial's set5_fiji: two photos 1.07 km apart at 179.995 and -179.995 (16.5 S).
    The deployment lies on 180 between them, ~535 m from each, not at longitude 0 with
    16,346 km of uncertainty; no wide-spread warning."""
    a, b = (-16.5, 179.995), (-16.5, -179.995)
    _photo_session(tmp_path / "s.duckdb", [a, b], [a, b])
    dep, lines = _export(tmp_path / "s.duckdb", tmp_path / "pkg")
    lat, lon = float(dep["latitude"]), float(dep["longitude"])
    assert lat == pytest.approx(-16.5, abs=1e-9)
    assert abs(lon) == pytest.approx(180.0, abs=1e-7)
    half = _metres(a, b) / 2
    assert half == pytest.approx(533, abs=5)
    assert int(dep["coordinateUncertainty"]) == pytest.approx(half, abs=1.01)
    assert not any("warning" in line for line in lines), lines
    assert "km from their centroid" not in dep["deploymentComments"]
