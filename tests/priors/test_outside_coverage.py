"""A place the range data does not cover (a US atlas asked about Belgium) is said as such,
not as "0 species expected" or a filter that silently drops every species (trial 9a)."""

from __future__ import annotations

import json

import numpy as np
from shapely.geometry import box

from fieldtool.atlas import IndexedPrior, species_report
from fieldtool.cli import main
from fieldtool.config import PriorConfig
from fieldtool.priors import CombinedPrior, RangePriorStage, outside_coverage
from fieldtool.types import Label, LabelSet, Position

BELGIUM = (51.18, 5.65)
OREGON = (44.56, -123.26)
# two ranges in the US Pacific Northwest: their data's extent is lon -125..-116, lat 42..49
RANGES = {"Thuja plicata": box(-125, 42, -120, 49), "Quercus garryana": box(-124, 42, -116, 46)}
LABELS = LabelSet((Label(0, "Thuja plicata"), Label(1, "Quercus garryana"),
                   Label(2, "background", is_background=True)))  # fmt: skip


def test_a_place_outside_every_range_is_said_with_the_datas_extent() -> None:
    prior = IndexedPrior(RANGES, decay_km=50.0)
    said = outside_coverage(prior, *BELGIUM, decay_km=50.0)
    assert said is not None and "51.1800, 5.6500" in said and "-125" in said and "49" in said
    assert outside_coverage(prior, *OREGON, decay_km=50.0) is None
    # just outside a range, within its decay: the prior still judges there
    assert outside_coverage(prior, 44.0, -115.5, decay_km=50.0) is None
    assert outside_coverage(CombinedPrior([prior]), *BELGIUM, decay_km=50.0) is not None


def test_species_says_the_data_does_not_cover_the_place() -> None:
    lines = species_report(*BELGIUM, IndexedPrior(RANGES), {}, "ranges.geojson")
    assert "0 species expected" not in lines[0]
    assert "does not cover" in lines[0] and "ranges.geojson" in lines[0], lines
    inside = species_report(*OREGON, IndexedPrior(RANGES), {}, "ranges.geojson")
    assert inside[0].startswith("2 species expected"), inside


def test_the_species_command_outside_the_data(tmp_path, capsys) -> None:
    path = tmp_path / "ranges.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"species": name},
         "geometry": json.loads(json.dumps(geom.__geo_interface__))}
        for name, geom in RANGES.items()]}))  # fmt: skip
    code = main(["species", "--lat", str(BELGIUM[0]), "--lon", str(BELGIUM[1]),
                 "--ranges", str(path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "does not cover" in out and "0 species expected" not in out, out


def test_a_session_outside_the_data_is_warned_once_and_filter_named() -> None:
    said: list[str] = []
    stage = RangePriorStage(IndexedPrior(RANGES), LABELS, PriorConfig(mode="filter"),
                            log=said.append)  # fmt: skip
    probs = np.full((3, 3), 1 / 3)
    away = Position(*BELGIUM)
    stage.apply_batch(probs, [None, away, away])
    stage.apply(probs[0], away)
    stage.apply_batch(probs, [away, away, away])
    assert len(said) == 1 and "cannot judge" in said[0] and "filter" in said[0], said
    quiet: list[str] = []
    home = RangePriorStage(IndexedPrior(RANGES), LABELS, PriorConfig(), log=quiet.append)
    home.apply_batch(probs, [Position(*OREGON)] * 3)
    assert quiet == []
