"""``fieldtool species``: the place is checked as ``run --lat/--lon`` checks it, and a
``--limit`` says how many species it leaves out (trial 10d)."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import box

from fieldtool.cli import main

# Three ranges around Corvallis, Oregon (lat 44.56, lon -123.26).
RANGES = {"Thuja plicata": box(-125, 42, -120, 49), "Quercus garryana": box(-124, 42, -116, 46),
          "Arbutus menziesii": box(-125, 40, -121, 47)}  # fmt: skip


@pytest.fixture
def ranges(tmp_path):
    path = tmp_path / "ranges.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"species": name, "presence": 1}, "geometry": geom.__geo_interface__}
        for name, geom in RANGES.items()]}, default=list))  # fmt: skip
    return path


@pytest.mark.parametrize(("lat", "lon", "flag"), [("95", "0", "--lat"), ("nan", "0", "--lat"),
                                                  ("44.56", "-190", "--lon")])  # fmt: skip
def test_species_rejects_a_place_off_the_globe(ranges, capsys, lat, lon, flag):
    """Defect: ``--lat 95`` printed "... lies nan km outside ..." and exited 0."""
    assert main(["species", "--lat", lat, "--lon", lon, "--ranges", str(ranges)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and flag in lines[0], captured
    assert "nan km" not in lines[0]


def test_species_hints_at_a_longitude_in_the_0_360_form(ranges, capsys):
    """Defect: ``--lon 236.74`` (Oregon as 0..360) said "7822 km outside" the data."""
    assert main(["species", "--lat", "44.56", "--lon", "236.74", "--ranges", str(ranges)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, captured
    assert "--lon" in lines[0] and "-180" in lines[0] and "-123.26" in lines[0], lines


def test_run_gives_the_same_hint(tmp_path, capsys):
    """One place checks a fixed position: ``run`` says what ``species`` says."""
    assert main(["run", str(tmp_path / "walk.mp4"), "--lat", "44.56", "--lon", "236.74",
                 "--db", str(tmp_path / "s.duckdb")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "-123.26" in err and "0..360" in err, err


def test_species_limit_says_how_many_are_expected(ranges, capsys):
    """Defect: ``--limit 2`` printed "2 species expected" where 3 were."""
    assert main(["species", "--lat", "44.56", "--lon", "-123.26", "--ranges", str(ranges),
                 "--limit", "2"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3 species expected at 44.5600, -123.2600"), lines
    assert "the first 2 shown" in lines[0] and len(lines) == 3, lines
    assert main(["species", "--lat", "44.56", "--lon", "-123.26", "--ranges", str(ranges)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3 species expected") and "shown" not in lines[0]
    assert len(lines) == 4
