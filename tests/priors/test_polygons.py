"""Tests for fieldtool.priors.polygons (loading, distance prior, fusion) and the shipped demo ranges."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Polygon, box

from fieldtool.config import PriorConfig
from fieldtool.demo.species import DEMO_SPECIES, REGION_ORIGINS
from fieldtool.priors import (
    RangePrior,
    RangePriorStage,
    fuse,
    load_ranges,
    range_coverage,
    range_prior_from_config,
)
from fieldtool.types import FieldtoolError, Label, LabelSet, Position
from tests.conftest import REPO_ROOT

REPO = REPO_ROOT
SHARED = REPO.parent / "shared" / "data"
ATLAS = SHARED / "ranges" / "little_us_trees"
SHIPPED = REPO / "data" / "ranges" / "demo_ranges.geojson"
GEOD = Geod(ellps="WGS84")

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder absent")


def _geod_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2] / 1000.0


def _write(
    tmp_path: Path,
    rows: list[dict],
    crs: str | None = "EPSG:4326",
    name: str = "ranges.geojson",
    to_crs: str | None = None,
) -> Path:
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    if to_crs is not None:
        frame = frame.to_crs(to_crs)
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "crs was not provided" on purpose
        frame.to_file(path, engine="pyogrio")
    return path


def _labels(*names: str, background: bool = False) -> LabelSet:
    labels = [Label(i, n) for i, n in enumerate(names)]
    if background:
        labels.append(Label(len(labels), "background", is_background=True))
    return LabelSet(tuple(labels))


# ------------------------------------------------------------------------------- loading


@pytest.mark.parametrize(
    ("name", "crs"),
    [("r.geojson", "EPSG:3857"), ("r.gpkg", "EPSG:32632"), ("r.shp", "EPSG:4326")],
)
def test_projected_files_are_reprojected_to_wgs84(tmp_path: Path, name: str, crs: str) -> None:
    rows = [{"species": "Abies alba", "presence": 1, "geometry": box(10, 50, 11, 51)}]
    path = _write(tmp_path, rows, name=name, to_crs=crs)
    assert gpd.read_file(path).crs.to_epsg() == int(crs.split(":")[1])
    prior = load_ranges(path)
    assert prior.species == {"Abies alba"}
    assert prior.geometry("Abies alba").bounds == pytest.approx((10, 50, 11, 51), abs=1e-6)
    assert prior.distances_km(50.5, 10.5, ["Abies alba"])[0] == 0.0
    expected = _geod_km(12.0, 50.5, 11.0, 50.5)
    assert prior.distances_km(50.5, 12.0, ["Abies alba"])[0] == pytest.approx(expected, rel=2e-3)


def test_shapefile_without_prj_needs_crs(tmp_path: Path) -> None:
    rows = [{"species": "Quercus alba", "geometry": box(-84, 33, -83, 34)}]
    path = _write(tmp_path, rows, crs=None, name="noprj.shp")
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(FieldtoolError) as info:
        load_ranges(path)
    assert str(path) in str(info.value) and "--ranges-crs" in str(info.value)  # the flag to give
    prior = load_ranges(path, crs="EPSG:4267", presence_field=None)
    bounds = prior.geometry("Quercus alba").bounds
    assert bounds == pytest.approx((-84, 33, -83, 34), abs=0.01)  # NAD27 → WGS84 shift
    with pytest.raises(FieldtoolError, match="unknown crs"):
        load_ranges(path, crs="EPSG:99999999")


def test_missing_species_field_names_file_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"name": "x", "geometry": box(0, 0, 1, 1)}])
    with pytest.raises(FieldtoolError) as info:
        load_ranges(path, species_field="taxon")
    message = str(info.value)
    assert str(path) in message and "'taxon'" in message and "name" in message


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("missing.geojson", None, "not found"),
        ("table.csv", "species,presence\nAbies alba,1\n", "no geometry"),
        ("junk.geojson", "{not json", "cannot read"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str | None, fragment: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(FieldtoolError) as info:
        load_ranges(path)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_points_only_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"species": "a", "geometry": shapely.Point(0, 0)}])
    with pytest.raises(FieldtoolError, match="no polygons"):
        load_ranges(path)


def test_invalid_geometry_is_repaired(tmp_path: Path) -> None:
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    assert not bowtie.is_valid
    prior = load_ranges(_write(tmp_path, [{"species": "a", "geometry": bowtie}]))
    assert prior.geometry("a").is_valid
    assert prior.distances_km(1.0, 1.7, ["a"])[0] == 0.0  # right triangle of the bowtie
    assert prior.distances_km(0.2, 1.0, ["a"])[0] > 0.0  # below the crossing: not range


def test_several_files_and_features_union_per_species(tmp_path: Path) -> None:
    a = _write(tmp_path, [{"species": "s", "geometry": box(0, 0, 1, 1)}], name="a.geojson")
    rows = [
        {"species": " s ", "geometry": box(5, 0, 6, 1)},  # names match ignoring spaces/case
        {"species": "t", "geometry": box(0, 5, 1, 6)},
    ]
    b = _write(tmp_path, rows, name="b.gpkg")
    prior = load_ranges([a, b], presence_field=None)
    assert prior.species == {"s", "t"}
    d = prior.distances_km(0.5, 5.5, ["S", "s", "t"])  # inside the second file's "s" box
    assert d[0] == d[1] == 0.0 and d[2] > 500
    d = prior.distances_km(5.5, 0.5, ["s", "t"])  # inside "t", 4.5° north of the first "s"
    assert d[0] == pytest.approx(_geod_km(0.5, 5.5, 0.5, 1.0), rel=2e-3) and d[1] == 0.0


# -------------------------------------------------------------------------- the prior


@pytest.mark.parametrize("as_hole", [True, False])
def test_absence_island_gives_prior_below_one_inside(tmp_path: Path, as_hole: bool) -> None:
    outer, island = box(0, 0, 2, 2), box(0.5, 0.5, 1.5, 1.5)
    if as_hole:  # island already cut out of the range polygon, and listed as absence
        rows = [
            {"species": "s", "presence": 1, "geometry": outer.difference(island)},
            {"species": "s", "presence": 0, "geometry": island},
        ]
    else:  # range polygon drawn over the island (CODE-style overlay)
        rows = [
            {"species": "s", "presence": 1, "geometry": outer},
            {"species": "s", "presence": 0, "geometry": island},
        ]
    prior = load_ranges(_write(tmp_path, rows), decay_km=50.0)
    centre = prior.prior(1.0, 1.0, ["s"])[0]
    expected_d = _geod_km(1.0, 1.0, 1.0, 1.5)  # nearest range edge: 0.5° of latitude away
    assert prior.distances_km(1.0, 1.0, ["s"])[0] == pytest.approx(expected_d, rel=2e-3)
    assert centre == pytest.approx(math.exp(-expected_d / 50.0), rel=5e-3)
    assert centre < 1.0
    assert prior.prior(0.25, 0.25, ["s"])[0] == 1.0  # in the range around the island


def test_prior_decays_with_distance() -> None:
    prior = RangePrior({"s": box(-1, 0, 0, 1)}, decay_km=50.0)
    lons = [0.0, 0.1, 0.5, 1.0, 2.0, 5.0]
    values = [prior.prior(0.5, lon, ["s"])[0] for lon in lons]
    assert values[0] == 1.0
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    for lon, value in zip(lons[1:], values[1:], strict=True):
        d = _geod_km(lon, 0.5, 0.0, 0.5)
        assert value == pytest.approx(math.exp(-d / 50.0), rel=1e-2)
    faster = prior.prior(0.5, 1.0, ["s"], decay_km=10.0)[0]
    assert faster < values[3]


def test_prior_distance_at_high_latitude_uses_shrunken_longitude() -> None:
    prior = RangePrior({"s": box(-10, 59, 0, 61)})
    d = prior.distances_km(60.0, 1.0, ["s"])[0]
    assert d == pytest.approx(_geod_km(1.0, 60.0, 0.0, 60.0), rel=2e-3)  # ~55.8 km, not 111
    assert 50 < d < 60


def test_species_without_range_data_get_prior_one() -> None:
    prior = RangePrior({"s": box(0, 0, 1, 1)})
    values = prior.prior(40.0, 40.0, ["unknown", "s"])
    assert values[0] == 1.0 and values[1] < 1e-6
    assert np.isnan(prior.distances_km(40.0, 40.0, ["unknown"])[0])


def test_cache_is_per_instance_bounded_and_consistent() -> None:
    geoms = {"s": box(0, 0, 1, 1)}
    prior = RangePrior(geoms, cache_size=3)
    first = prior.distances_km(2.0, 2.0, ["s"])
    for k in range(10):
        prior.distances_km(2.0 + k, 2.0, ["s"])
    assert len(prior._cache) <= 3
    assert prior.distances_km(2.0, 2.0, ["s"]) == pytest.approx(first)
    assert prior.distances_km(2.0001, 2.0001, ["s"]) == pytest.approx(first)  # same cell
    assert len(RangePrior(geoms)._cache) == 0


# --------------------------------------------------------------------------------- fuse


def test_fuse_renormalises_and_keeps_every_class() -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(6))
    prior = np.array([1.0, 0.0, 0.3, 1.0, 0.0, 0.9])
    out = fuse(probs, prior, weight=1.0, floor=0.02)
    assert out.shape == (6,)
    assert out.sum() == pytest.approx(1.0)
    assert (out > 0).all()
    batch = fuse(np.stack([probs, probs]), prior, weight=2.0, floor=0.02)
    assert batch.shape == (2, 6) and batch.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_fuse_weight_zero_returns_probs_unchanged() -> None:
    probs = np.array([0.2, 0.3, 0.5], dtype=np.float32)
    out = fuse(probs, np.array([0.0, 1.0, 0.5]), weight=0.0, floor=0.02)
    assert out is not probs and out.dtype == np.float32
    np.testing.assert_array_equal(out, probs)


def test_fuse_down_weights_out_of_range_species_without_erasing() -> None:
    probs = np.array([0.5, 0.5])
    out = fuse(probs, np.array([1.0, 0.0]), weight=1.0, floor=0.02)
    assert out[1] == pytest.approx(0.02 / 1.04)
    assert 0 < out[1] < out[0]


def test_fuse_leaves_the_ratio_of_unaffected_species_alone() -> None:
    probs = np.array([0.1, 0.3, 0.6])
    out = fuse(probs, np.array([1.0, 1.0, 0.01]), weight=1.0, floor=0.02)
    assert out[1] / out[0] == pytest.approx(3.0)
    assert out[2] < probs[2]


# -------------------------------------------------------------------------------- stage


def test_stage_applies_prior_by_position_and_skips_background() -> None:
    prior = RangePrior({"west": box(-125, 40, -120, 48), "background": box(0, 0, 1, 1)})
    labels = _labels("west", "nodata", background=True)
    stage = RangePriorStage(prior, labels, PriorConfig(weight=1.0, floor=0.02, decay_km=50))
    probs = np.array([0.4, 0.4, 0.2])
    assert stage.apply(probs, None) is probs
    inside = stage.apply(probs, Position(44.0, -122.0))
    np.testing.assert_allclose(inside, probs)  # every prior is 1 there
    far = Position(33.9, -83.4)
    np.testing.assert_array_equal(stage.prior_at(far)[1:], [1.0, 1.0])  # no data, background
    out = stage.apply(probs, far)
    assert out.sum() == pytest.approx(1.0) and 0 < out[0] < probs[0]
    assert out[1] / out[2] == pytest.approx(2.0)
    off = RangePriorStage(prior, labels, PriorConfig(weight=0.0))
    assert off.apply(probs, far) is probs
    assert RangePriorStage(None, labels, PriorConfig()).apply(probs, far) is probs


def test_range_coverage_reports_both_directions() -> None:
    prior = RangePrior({"Acer rubrum": box(0, 0, 1, 1), "Pinus taeda": box(0, 0, 1, 1)})
    labels = _labels("acer  rubrum", "Thuja plicata", background=True)
    cov = range_coverage(prior, labels)
    assert cov.missing == ("Thuja plicata",)
    assert cov.unmatched == ("Pinus taeda",)
    lines = cov.lines()
    assert len(lines) == 2 and "Thuja plicata" in lines[0] and "Pinus taeda" in lines[1]
    assert range_coverage(prior, _labels("Acer rubrum", "Pinus taeda")).lines() == []


def test_range_prior_from_config(tmp_path: Path) -> None:
    assert range_prior_from_config(PriorConfig()) is None
    path = _write(tmp_path, [{"taxon": "s", "geometry": box(0, 0, 1, 1)}])
    cfg = PriorConfig(ranges=[path], species_field="taxon", presence_field=None, decay_km=7)
    prior = range_prior_from_config(cfg)
    assert prior is not None and prior.species == {"s"} and prior.decay_km == 7.0
    assert range_prior_from_config(cfg.model_copy(update={"weight": 0.0})) is None


# ---------------------------------------------------------------------------- real data


@needs_shared
def test_real_little_shapefile_with_nad27_and_code_field() -> None:
    shp = ATLAS / "shp" / "pseumenz" / "pseumenz.shp"
    with pytest.raises(FieldtoolError, match="crs"):
        load_ranges(shp, presence_field="CODE", species="Pseudotsuga menziesii")
    prior = load_ranges(
        shp, presence_field="CODE", crs="EPSG:4267", species="Pseudotsuga menziesii"
    )
    assert prior.species == {"Pseudotsuga menziesii"}
    name = ["Pseudotsuga menziesii"]
    assert prior.prior(44.56, -123.30, name)[0] == 1.0  # Corvallis, Oregon
    assert prior.distances_km(33.95, -83.38, name)[0] > 1500  # Athens, Georgia
    raw = gpd.read_file(shp)
    island = raw[raw["CODE"] == 0].geometry.iloc[0].representative_point()
    assert prior.prior(island.y, island.x, name)[0] < 1.0


@pytest.fixture(scope="module")
def shipped_prior() -> RangePrior:
    return load_ranges(SHIPPED)


@pytest.mark.parametrize(
    ("region", "species", "inside"),
    [
        (region, sp.species, sp.region == region)
        for region in sorted(REGION_ORIGINS)
        for sp in DEMO_SPECIES
    ],
)
def test_shipped_ranges_place_region_origins(
    shipped_prior: RangePrior, region: str, species: str, inside: bool
) -> None:
    lat, lon = REGION_ORIGINS[region]
    d = shipped_prior.distances_km(lat, lon, [species])[0]
    if inside:
        assert d == 0.0
    else:
        assert d > 1000.0  # the two regions are far apart


def test_shipped_ranges_file_is_small_and_complete() -> None:
    assert SHIPPED.stat().st_size < 2_000_000
    assert (SHIPPED.parent / "LICENSE.md").is_file()
    frame = gpd.read_file(SHIPPED)
    assert frame.crs.to_epsg() == 4326
    assert {"species", "common_name", "presence"} <= set(frame.columns)
    assert set(frame["presence"]) == {0, 1}
    assert set(frame["species"]) == {sp.species for sp in DEMO_SPECIES}


@needs_shared
def test_ranges_build_writes_geojson_and_licence(tmp_path: Path) -> None:
    from fieldtool.demo.ranges_build import build, check_origins

    out = build(ATLAS, tmp_path / "ranges" / "demo.geojson", tolerance_deg=0.02)
    assert out.stat().st_size < 2_000_000
    licence = (out.parent / "LICENSE.md").read_text(encoding="utf-8")
    assert "17 U.S.C." in licence and "Little" in licence
    assert check_origins(out) == []


def test_filter_mode_keeps_only_species_expected_here() -> None:
    from fieldtool.config import PriorConfig
    from fieldtool.priors import RangePriorStage
    from fieldtool.types import Label, LabelSet, Position

    labels = LabelSet(
        (Label(0, "A"), Label(1, "B"), Label(2, "C"), Label(3, "bg", is_background=True))
    )

    class Prior:
        species = {"A", "B"}

        def has(self, s: str) -> bool:
            return s in self.species

        def __len__(self) -> int:
            return 2

        def prior(self, lat, lon, species, decay_km=None):
            return np.array([1.0 if s == "A" else 0.01 if s == "B" else 1.0 for s in species])

    probs = np.array([0.2, 0.6, 0.1, 0.1], np.float32)
    here = Position(40.0, -100.0)
    filtered = RangePriorStage(Prior(), labels, PriorConfig(mode="filter")).apply(probs, here)
    assert filtered[1] == 0 and filtered.sum() == pytest.approx(1.0)
    assert filtered[0] == pytest.approx(0.5) and filtered[2] == pytest.approx(0.25)  # C: no data
    soft = RangePriorStage(Prior(), labels, PriorConfig()).apply(probs, here)
    assert 0 < soft[1] < probs[1]
    off = RangePriorStage(Prior(), labels, PriorConfig(weight=0)).apply(probs, here)
    assert off is probs


# ------------------------------------------------------------------- names and synonyms


def test_labels_match_ranges_through_synonyms_and_normalisation() -> None:
    prior = RangePrior(
        {
            "Lithocarpus densiflorus": box(0, 0, 1, 1),  # Little's name; now Notholithocarpus
            "Quercus prinus": box(0, 0, 1, 1),  # now Quercus montana
            "Quercus alba": box(0, 0, 1, 1),
            "Acer rubrum": box(0, 0, 1, 1),
            "Pinus taeda": box(5, 5, 6, 6),
        }
    )
    labels = _labels(
        "Notholithocarpus densiflorus", "Quercus montana Willd.", "QUERCUS ALBA L.",
        "acer  rubrum", "Thuja plicata", "Acer sp.", background=True,
    )  # fmt: skip
    assert prior.has("Notholithocarpus densiflorus") and prior.has("quercus alba alba")
    assert not prior.has("Acer sp.")  # a genus-level name is not Acer rubrum
    p = prior.prior(0.5, 0.5, labels.species)
    assert p.tolist()[:4] == [1.0, 1.0, 1.0, 1.0]
    assert prior.prior(5.5, 5.5, ["Notholithocarpus densiflorus"])[0] < 0.01
    cov = range_coverage(prior, labels)
    assert cov.missing == ("Thuja plicata", "Acer sp.")
    assert cov.unmatched == ("Pinus taeda",)
    assert cov.synonyms == (
        ("Notholithocarpus densiflorus", "Lithocarpus densiflorus"),
        ("Quercus montana Willd.", "Quercus prinus"),
    )
    assert cov.normalised == (("QUERCUS ALBA L.", "Quercus alba"),)  # "acer  rubrum": plain
    lines = cov.lines()
    assert len(lines) == 4
    assert "no range data for 2 species" in lines[0]
    assert "1 range species match no model label" in lines[1]
    assert "2 label names matched through synonyms" in lines[2]
    assert "Notholithocarpus densiflorus = Lithocarpus densiflorus" in lines[2]
    assert "1 label name matched after normalising" in lines[3]
    assert "QUERCUS ALBA L. = Quercus alba" in lines[3]


def test_case_authorship_and_rank_variants_are_one_range(tmp_path: Path) -> None:
    rows = [
        {"species": "Quercus alba", "geometry": box(0, 0, 1, 1)},
        {"species": "quercus alba alba", "geometry": box(5, 0, 6, 1)},
        {"species": "Quercus alba var. latiloba Sarg.", "geometry": box(0, 5, 1, 6)},
        {"species": "Acer sp.", "geometry": box(10, 10, 11, 11)},
        {"species": "Acer spicatum", "geometry": box(20, 20, 21, 21)},
    ]
    prior = load_ranges(_write(tmp_path, rows), presence_field=None)
    assert prior.species == {"Quercus alba", "Acer sp.", "Acer spicatum"} and len(prior) == 3
    d = [prior.distances_km(lat, lon, ["Quercus alba L."])[0] for lat, lon in
         ((0.5, 0.5), (0.5, 5.5), (5.5, 0.5))]  # fmt: skip
    assert d == [0.0, 0.0, 0.0]
    assert prior.distances_km(10.5, 10.5, ["Acer spicatum"])[0] > 500
    assert len(prior.notes) == 1
    note = prior.notes[0]
    assert "2 range names read as the species of another" in note
    assert "quercus alba alba → Quercus alba" in note
    assert "Quercus alba var. latiloba Sarg. → Quercus alba" in note
    # a mapping given directly: same-species geometries are united, not overwritten
    direct = RangePrior({"Quercus alba": box(0, 0, 1, 1), "Quercus alba L.": box(5, 0, 6, 1)})
    assert len(direct) == 1 and direct.distances_km(0.5, 5.5, ["quercus alba"])[0] == 0.0
    assert direct.distances_km(0.5, 0.5, ["quercus alba"])[0] == 0.0


def test_range_coverage_passes_the_prior_notes_on() -> None:
    prior = RangePrior({"Acer rubrum": box(0, 0, 1, 1)}, notes=("ranges.gpkg: something",))
    cov = range_coverage(prior, _labels("Acer rubrum"))
    assert cov.notes == ("ranges.gpkg: something",) and cov.lines() == ["ranges.gpkg: something"]
