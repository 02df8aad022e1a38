"""Tests for fieldtool.atlas: the bundled Little atlas, IndexedPrior, species_here, the CLI."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from fieldtool.atlas import (
    DEFAULT_ATLAS,
    IndexedPrior,
    build_atlas,
    licence_path,
    load_atlas,
    species_here,
)
from fieldtool.cli import build_parser
from fieldtool.config import PriorConfig
from fieldtool.priors import RangePrior, RangePriorStage
from fieldtool.types import FieldtoolError, Label, LabelSet, Position
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA
needs_atlas = pytest.mark.skipif(not DEFAULT_ATLAS.exists(), reason="bundled atlas not built")
CORVALLIS = (44.56, -123.26)  # Willamette Valley, Oregon
MACON = (32.84, -83.63)  # central Georgia


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@needs_atlas
def test_bundled_atlas_loads_all_species_quickly(atlas) -> None:
    assert len(atlas.prior) == 679
    assert atlas.load_s < 5.0  # ~0.1 s on the dev machine
    assert atlas.common_names["Pseudotsuga menziesii"] == "Douglas fir"
    assert DEFAULT_ATLAS.stat().st_size < 8e6
    assert licence_path(DEFAULT_ATLAS).exists()


@needs_atlas
def test_oregon_and_georgia_lists_differ_and_are_plausible(atlas) -> None:
    started = time.perf_counter()
    oregon = dict(species_here(*CORVALLIS, atlas.prior))
    georgia = dict(species_here(*MACON, atlas.prior))
    assert time.perf_counter() - started < 1.0
    for name in ("Pseudotsuga menziesii", "Quercus garryana", "Acer macrophyllum", "Alnus rubra"):
        assert oregon.get(name) == 1.0, name
    for name in ("Pinus taeda", "Quercus alba", "Liquidambar styraciflua", "Pinus palustris"):
        assert georgia.get(name) == 1.0, name
    assert "Pinus taeda" not in oregon and "Pseudotsuga menziesii" not in georgia
    ranked = species_here(*MACON, atlas.prior)
    assert [v for _, v in ranked] == sorted((v for _, v in ranked), reverse=True)
    inside = [s for s, v in ranked if v == 1.0]
    assert inside == sorted(inside)  # ties by name


@needs_atlas
def test_absence_island_and_another_continent(atlas) -> None:
    # green ash is mapped around, but absent from, the Adirondack highlands
    ash = atlas.prior.prior(43.515, -74.869, ["Fraxinus pennsylvanica"])[0]
    assert 0.2 < ash < 0.6
    assert atlas.prior.prior(40.0, -83.0, ["Fraxinus pennsylvanica"])[0] == 1.0  # Ohio
    assert species_here(48.85, 2.35, atlas.prior) == []  # Paris
    assert atlas.prior.prior(48.85, 2.35, ["Quercus alba", "Quercus robur"]).tolist() == [0.0, 1.0]


@needs_atlas
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder absent")
def test_bundled_atlas_agrees_with_the_source_shapefiles(atlas) -> None:
    from fieldtool.priors import load_ranges

    shp = SHARED / "ranges" / "little_us_trees" / "shp"
    for code, name in (("pinupond", "Pinus ponderosa"), ("pinucont", "Pinus contorta")):
        source = load_ranges(shp / code / f"{code}.shp", species=name, presence_field="CODE",
                             crs="EPSG:4267")  # fmt: skip
        for lat, lon in ((44.06, -121.31), CORVALLIS, (40.0, -105.5), (47.0, -117.0)):
            want = source.prior(lat, lon, [name])[0]
            got = atlas.prior.prior(lat, lon, [name])[0]
            assert got == pytest.approx(want, abs=0.05), (name, lat, lon)


def test_indexed_prior_matches_range_prior_across_an_edge() -> None:
    ranges = {
        "Acer rubrum": box(-100.0, 40.0, -99.0, 41.0),
        "Far away": box(10.0, 10.0, 11.0, 11.0),
    }
    exact = RangePrior(ranges, decay_km=50.0)
    fast = IndexedPrior(ranges, decay_km=50.0)
    assert fast.species == exact.species and fast.has("acer rubrum") and len(fast) == 2
    # a track heading east out of the range: 1 inside, then falling with distance
    track = [(40.5, lon) for lon in np.linspace(-99.5, -97.0, 26)]
    got = np.array([fast.prior(lat, lon, ["Acer rubrum"])[0] for lat, lon in track])
    want = np.array([exact.prior(lat, lon, ["Acer rubrum"])[0] for lat, lon in track])
    assert got[0] == 1.0 and got[-1] < 0.05
    assert np.all(np.diff(got) <= 1e-9)
    assert np.allclose(got, want, atol=0.02)  # H3 cell centres (~0.5 km) vs exact points
    far = fast.prior(40.5, -99.5, ["Far away", "No data"])
    assert far.tolist() == [0.0, 1.0]  # beyond reach: 0; without data: 1
    assert fast.reach_km() == pytest.approx(50.0 * np.log(1000.0))


def test_range_prior_stage_and_species_here_take_an_indexed_prior() -> None:
    ranges = {"Acer rubrum": box(-100.0, 40.0, -99.0, 41.0), "Quercus alba": Point(-98.0, 40.5)}
    prior = IndexedPrior({k: g.buffer(0.01) for k, g in ranges.items()})
    labels = LabelSet((Label(0, "Acer rubrum"), Label(1, "Quercus alba"), Label(2, "Pinus taeda")))
    stage = RangePriorStage(prior, labels, PriorConfig())
    fused = stage.apply(np.array([0.4, 0.4, 0.2]), Position(40.5, -99.5))
    assert fused[0] > fused[1] and fused.sum() == pytest.approx(1.0)
    ranked = species_here(40.5, -99.5, prior, min_prior=0.01)
    assert [s for s, _ in ranked] == ["Acer rubrum", "Quercus alba"]
    # a plain RangePrior is wrapped for the query
    assert species_here(40.5, -99.5, RangePrior(ranges))[0] == ("Acer rubrum", 1.0)
    with pytest.raises(FieldtoolError, match="out of range"):
        species_here(95.0, 0.0, prior)


def _fake_atlas(folder: Path) -> Path:
    import geopandas as gpd

    table = pd.DataFrame(
        {"Latin Name": ["Acer rubrum", "Quercus alba"], "Common Name": ["red maple", "white oak"],
         "Reference": "", "Original Map No(s).": "", "SHP/*": ["acerrubr", "queralba"]}
    )  # fmt: skip
    folder.mkdir(parents=True)
    table.to_csv(folder / "Little_datatable.csv", index=False)
    (folder / "License.md").write_text("Public domain.", encoding="utf-8")
    shapes = {
        "acerrubr": [
            (1, box(-90, 30, -80, 40)),
            (0, box(-86, 34, -84, 36)),
            (1, box(-79.99, 30, -79.98, 30.01)),
        ],  # fmt: skip
        "queralba": [(1, box(-95, 35, -85, 45))],
    }
    for code, parts in shapes.items():
        (folder / "shp" / code).mkdir(parents=True)
        frame = gpd.GeoDataFrame({"CODE": [c for c, _ in parts]}, geometry=[g for _, g in parts])
        frame.to_file(folder / "shp" / code / f"{code}.shp", engine="pyogrio")  # no .prj
    return folder


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # Little's files have no .prj
def test_build_a_small_atlas_and_query_it_from_the_cli(tmp_path: Path, capsys) -> None:
    source = _fake_atlas(tmp_path / "little")
    out = tmp_path / "atlas.gpkg"
    built = build_atlas(source, out, tolerance_deg=0.01)
    assert built.species == 2 and built.absence_species == 1 and built.parts_dropped == 1
    assert "Public domain." in licence_path(out).read_text(encoding="utf-8")
    atlas = load_atlas(out)
    assert atlas.prior.prior(35.0, -85.0, ["Acer rubrum"])[0] < 1.0  # absence island
    assert atlas.prior.prior(32.0, -88.0, ["Acer rubrum"])[0] == 1.0

    parser = build_parser()
    args = parser.parse_args(["species", "--lat", "38", "--lon", "-88", "--atlas", str(out)])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2 species expected at 38.0000, -88.0000")
    assert "Acer rubrum" in lines[1] and "red maple" in lines[1] and "white oak" in lines[2]

    occ = tmp_path / "occ.csv"
    occ.write_text("species,lat,lon\nPinus taeda,38.0,-88.0\n", encoding="utf-8")
    args = parser.parse_args(
        ["species", "--lat", "38", "--lon", "-88", "--ranges", str(out), str(occ)]
    )
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "3 species expected" in text and "Pinus taeda" in text and "white oak" in text


def test_missing_atlas_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FieldtoolError) as info:
        load_atlas(tmp_path / "none.gpkg")
    assert str(info.value).startswith(str(tmp_path / "none.gpkg")) and "\n" not in str(info.value)


# ------------------------------------------------------------------- names and synonyms


@needs_atlas
def test_bundled_atlas_answers_to_current_names(atlas) -> None:
    """Little's 1970s names match today's accepted names through the synonym table."""
    prior = atlas.prior
    assert "Lithocarpus densiflorus" in prior.species  # the atlas keeps its own spelling
    for current in ("Notholithocarpus densiflorus", "Quercus montana", "Cupressus nootkatensis",
                    "Calocedrus decurrens", "quercus alba var. latiloba"):  # fmt: skip
        assert prior.has(current), current
    tanoak = prior.prior(40.8, -123.9, ["Notholithocarpus densiflorus", "Lithocarpus densiflorus"])
    assert tanoak.tolist() == [1.0, 1.0]  # Humboldt County, California
    assert not prior.has("Acer sp.")


def test_indexed_prior_unites_spellings_of_one_species() -> None:
    prior = IndexedPrior({"Quercus alba": box(0, 0, 1, 1), "quercus alba alba": box(5, 0, 6, 1),
                          "Acer sp.": box(0, 0, 1, 1)})  # fmt: skip
    assert len(prior) == 2 and prior.species == {"Quercus alba", "Acer sp."}
    assert prior.prior(0.5, 5.5, ["Quercus alba L.", "Acer rubrum"]).tolist() == [1.0, 1.0]
    assert prior.prior(0.5, 0.5, ["QUERCUS ALBA"]).tolist() == [1.0]
    assert "quercus alba alba → Quercus alba" in prior.notes[0]


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_species_command_prints_occurrence_rows_skipped_to_stderr(tmp_path: Path, capsys) -> None:
    out = tmp_path / "atlas.gpkg"
    build_atlas(_fake_atlas(tmp_path / "little"), out, tolerance_deg=0.01)
    occ = tmp_path / "occ.csv"
    occ.write_text(
        "species,lat,lon\nPinus taeda,38.0,-88.0\nPinus taeda L.,38.1,-88.0\n"
        "Pinus taeda,,\n,38.0,-88.0\nPinus taeda,0,0\n",
        encoding="utf-8",
    )
    parser = build_parser()
    args = parser.parse_args(
        ["species", "--lat", "38", "--lon", "-88", "--ranges", str(out), str(occ)]
    )
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"{occ}: 2 records of 1 species from 5 rows read, 3 skipped: 2 bad coordinates, "
        "1 no species"
    ]
    assert "Pinus taeda" in captured.out and "skipped" not in captured.out
