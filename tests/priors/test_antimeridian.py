"""Range polygons across the antimeridian (180 degrees): a ring written naively (177 ->
-178 -> -178 -> 177, as hand-made GeoJSONs and reprojected Pacific files often are) is the
5-degree strip across 180, not a 355-degree band round the world; it is split at 180 as
RFC 7946 asks, and a ring that circles a pole that way is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from fieldtool.config import PriorConfig
from fieldtool.priors import extent_of, load_ranges, outside_coverage, prior_from_files
from fieldtool.types import FieldtoolError


def _geojson(tmp_path: Path, rings: list[list[list[tuple[float, float]]]], name: str) -> Path:
    """A GeoJSON file written as text (no library that might split or wrap the rings):
    one Polygon feature of Cornus florida per entry of ``rings`` (shell, then holes)."""
    features = [
        {"type": "Feature", "properties": {"species": "Cornus florida", "presence": 1},
         "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in poly]}}
        for poly in rings
    ]  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


FIJI = [(177.0, -19.0), (-178.0, -19.0), (-178.0, -15.0), (177.0, -15.0), (177.0, -19.0)]
SPLIT = MultiPolygon([box(177, -19, 180, -15), box(-180, -19, -178, -15)])


def test_a_naive_ring_across_180_is_the_strip_across_it(tmp_path: Path) -> None:
    """The trial's r_fiji_naive.geojson: prior 1 at 179.5 and -179, ~0 at Greenwich, as
    for the file split at 180 (r_fiji_split.geojson); the extent covers 179.5."""
    path = _geojson(tmp_path, [[FIJI]], "naive.geojson")
    ranges = load_ranges(path)
    geom = ranges.geometry("Cornus florida")
    assert geom is not None
    assert shapely.symmetric_difference(geom, SPLIT).area == pytest.approx(0.0, abs=1e-9)
    assert geom.area == pytest.approx(20.0)  # 5 x 4 degrees, not 355 x 4
    assert any("antimeridian" in line and "split" in line for line in ranges.notes)
    prior = prior_from_files([path], PriorConfig())  # the indexed prior the CLI uses
    assert prior is not None
    for lon, expected in ((179.5, 1.0), (-179.0, 1.0), (-179.99, 1.0)):
        assert prior.prior(-17.0, lon, ["Cornus florida"])[0] == pytest.approx(expected)
        assert outside_coverage(prior, -17.0, lon) is None
    assert prior.prior(-17.0, 0.0, ["Cornus florida"])[0] == pytest.approx(0.0, abs=1e-6)
    # 2 degrees of longitude east of -178 (~213 km at 17 S): decays, is not inside
    near = prior.prior(-17.0, -176.0, ["Cornus florida"])[0]
    assert 0.0 < near < 0.05


def test_a_hole_across_180_stays_a_hole(tmp_path: Path) -> None:
    """A shell 170 -> -170 with an absence hole 179 -> -179 (both naive): inside the hole
    is not range, beside it is."""
    shell = [(170.0, -20.0), (-170.0, -20.0), (-170.0, -10.0), (170.0, -10.0), (170.0, -20.0)]
    hole = [(179.0, -16.0), (179.0, -14.0), (-179.0, -14.0), (-179.0, -16.0), (179.0, -16.0)]
    ranges = load_ranges(_geojson(tmp_path, [[shell, hole]], "holed.geojson"))
    geom = ranges.geometry("Cornus florida")
    assert geom is not None
    assert geom.area == pytest.approx(20 * 10 - 2 * 2)
    for lon in (179.5, -179.5):
        assert ranges.distances_km(-15.0, lon, ["Cornus florida"])[0] > 50
    for lon in (175.0, -175.0):
        assert ranges.distances_km(-15.0, lon, ["Cornus florida"])[0] == 0.0


def test_ranges_away_from_180_are_left_as_they_are(tmp_path: Path) -> None:
    """Across Greenwich, and a file already split at 180 with an edge along it: unchanged."""
    greenwich = [(-10.0, 40.0), (10.0, 40.0), (10.0, 50.0), (-10.0, 50.0), (-10.0, 40.0)]
    ranges = load_ranges(_geojson(tmp_path, [[greenwich]], "g.geojson"))
    assert ranges.geometry("Cornus florida").equals(Polygon(greenwich))
    assert not any("antimeridian" in line for line in ranges.notes)
    split = [[list(box(177, -19, 180, -15).exterior.coords)],
             [list(box(-180, -19, -178, -15).exterior.coords)]]  # fmt: skip
    ranges = load_ranges(_geojson(tmp_path, split, "split.geojson"))
    assert shapely.symmetric_difference(ranges.geometry("Cornus florida"), SPLIT).area < 1e-9
    assert extent_of(ranges) == (-180.0, -19.0, 180.0, -15.0)


def test_a_ring_round_a_pole_across_180_is_refused_in_one_line(tmp_path: Path) -> None:
    """A ring at 70 S going east all the way round (90, 180 -> -90 ...): which side is
    inside cannot be told from lon/lat; the message names the file and the feature."""
    ring = [(0.0, -70.0), (90.0, -70.0), (170.0, -70.0), (-100.0, -70.0), (-10.0, -70.0),
            (0.0, -70.0)]  # fmt: skip
    path = _geojson(tmp_path, [[FIJI], [ring]], "polar.geojson")
    with pytest.raises(FieldtoolError) as info:
        load_ranges(path)
    message = str(info.value)
    assert message.startswith(f"{path}: feature 2 (Cornus florida)") and "pole" in message
    assert "\n" not in message
