"""Tests for fieldtool.priors.occurrences: GBIF and plain tables, the H3 occurrence prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fieldtool.config import PriorConfig
from fieldtool.priors import (
    CombinedPrior,
    OccurrencePrior,
    RangePrior,
    RangePriorStage,
    detect_delimiter,
    load_occurrences,
    range_coverage,
    range_prior_from_config,
    read_occurrence_files,
    read_occurrences,
)
from fieldtool.types import FieldtoolError, Label, LabelSet, Position
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA
GBIF = SHARED / "occurrences" / "gbif_vaccinium"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared data folder absent")
DAR, SHA = "Vaccinium darrowii", "Vaccinium shastense"
FLORIDA = (29.2, -81.7)  # Ocala National Forest
NORCAL = (40.5, -121.5)  # Lassen, northern California


def test_detect_delimiter() -> None:
    assert detect_delimiter("a\tb\tc") == "\t"
    assert detect_delimiter('"x,y";b;c') == ";"
    assert detect_delimiter("species,lat,lon") == ","
    assert detect_delimiter("species") == ","


def test_plain_table_with_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text(
        "Species,Lat,Lon\n"
        "Quercus alba,35.0,-80.0\n"
        "Quercus alba,not a number,-80.0\n"
        "Quercus alba,95.0,-80.0\n"
        ",35.0,-80.0\n"
        "Quercus alba,0,0\n"
        "Quercus alba,35.1,-80.1,extra,fields\n"
        "Acer rubrum L.,36.0,-81.0\n",
        encoding="utf-8",
    )
    table = read_occurrences(path)
    assert table.records["species"].tolist() == ["Quercus alba", "Acer rubrum"]
    assert table.rows == 7
    assert table.skipped == {"bad_line": 1, "no_species": 1, "bad_coords": 3}
    assert "2 records of 2 species from 7 rows" in table.summary()


def test_latin1_semicolon_table_and_uncertainty_weight(tmp_path: Path) -> None:
    path = tmp_path / "records.txt"
    text = (
        "scientificName;decimalLatitude;decimalLongitude;coordinateUncertaintyInMeters;"
        "basisOfRecord;occurrenceStatus\n"
        "Crataegus mollis (Torr. & A.Gray) Scheele;45,0;7,0;;HUMAN_OBSERVATION;PRESENT\n"
        "Crataegus mollis Scheele;45.0;7.0;50000;PRESERVED_SPECIMEN;PRESENT\n"
        "Crataegus mollis;45.0;7.0;10;LIVING_SPECIMEN;PRESENT\n"
        "Crataegus mollis;45.0;7.0;10;HUMAN_OBSERVATION;ABSENT\n"
        "Sorbus aucuparia, Müller;46.0;7.0;10;HUMAN_OBSERVATION;PRESENT\n"
    )
    path.write_bytes(text.encode("latin-1"))
    table = read_occurrences(path, max_uncertainty_m=10_000)
    recs = table.records
    assert recs["species"].tolist() == ["Crataegus mollis"] * 2 + ["Sorbus aucuparia"]
    assert recs["weight"].tolist() == [1.0, 0.2, 1.0]  # 10 km / 50 km
    assert "bad_coords" not in table.skipped  # "45,0": a decimal comma in a ; table
    assert table.skipped["basis_of_record"] == 1 and table.skipped["absent"] == 1


def test_gbif_tsv_with_geospatial_issues(tmp_path: Path) -> None:
    path = tmp_path / "0001234.csv"  # GBIF's simple download: tab-separated, named .csv
    rows = [
        ["gbifID", "species", "scientificName", "decimalLatitude", "decimalLongitude", "issue",
         "hasGeospatialIssues"],
        ["1", "Pinus taeda", "Pinus taeda L.", "33.0", "-84.0", "", "false"],
        ["2", "Pinus taeda", "Pinus taeda L.", "33.0", "-84.0", "ZERO_COORDINATE", "false"],
        ["3", "Pinus taeda", "Pinus taeda L.", "33.0", "-84.0", "", "true"],
        ["4", "", "Pinus L.", "33.0", "-84.0", "", "false"],
    ]  # fmt: skip
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")
    table = read_occurrences(path)
    assert len(table.records) == 1
    assert table.skipped["geospatial_issue"] == 2 and table.skipped["no_species"] == 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [(None, "not found"), ("", "empty"), ("species,foo\nA b,1\n", "latitude column (one of")],
)
def test_unusable_files_give_one_line(tmp_path: Path, text: str | None, fragment: str) -> None:
    path = tmp_path / "x.csv"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(FieldtoolError) as info:
        read_occurrences(path)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)
    assert "\n" not in str(info.value)


def _records(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["species", "lat", "lon"])
    frame["weight"] = 1.0
    return frame


def test_prior_decays_with_distance_and_is_cached() -> None:
    prior = OccurrencePrior(_records([("Acer rubrum", 40.0, -100.0)]))
    assert prior.species == {"Acer rubrum"} and prior.has("acer  RUBRUM") and len(prior) == 1
    near = prior.prior(40.0, -100.0, ["Acer rubrum", "No data"])
    assert near[0] > 0.8 and near[1] == 1.0
    values = [prior.prior(40.0, -100.0 + dx, ["Acer rubrum"])[0] for dx in (0.0, 0.6, 1.5, 3.0)]
    assert values == sorted(values, reverse=True)
    assert 0.3 < values[1] < 0.7 and values[3] < 0.05  # ~51 km, ~255 km
    assert prior.prior(-30.0, 150.0, ["Acer rubrum"])[0] == 0.0  # another continent
    assert prior.prior(40.0, -100.0, ["Acer rubrum"], decay_km=5)[0] > 0.8
    assert len(prior._cache) == 6  # one per (cell, decay) asked


@needs_shared
def test_real_vaccinium_exports() -> None:
    table = read_occurrence_files(sorted(GBIF.glob("occ_*.csv")))
    assert table.rows == 1242 + 240
    assert set(table.records["species"]) == {DAR, SHA}
    assert table.skipped.get("geospatial_issue", 0) >= 2  # the (0, 0) rows are flagged
    assert ((table.records["weight"] > 0) & (table.records["weight"] <= 1)).all()
    prior = OccurrencePrior(table.records)
    fl = prior.prior(*FLORIDA, [DAR, SHA])
    ca = prior.prior(*NORCAL, [DAR, SHA])
    assert fl[0] > 0.9 and fl[1] < 0.01
    assert ca[1] > 0.9 and ca[0] < 0.01
    assert prior.prior(48.85, 2.35, [DAR, SHA]).max() == 0.0  # Paris


@needs_shared
def test_range_prior_stage_takes_an_occurrence_prior() -> None:
    labels = LabelSet(
        (Label(0, DAR), Label(1, SHA), Label(2, "Acer rubrum"), Label(3, "bg", is_background=True))
    )
    prior = load_occurrences(sorted(GBIF.glob("occ_*.csv")))
    assert range_coverage(prior, labels).missing == ("Acer rubrum",)
    stage = RangePriorStage(prior, labels, PriorConfig(weight=1.0, floor=0.02))
    assert stage.active
    probs = np.array([0.4, 0.4, 0.1, 0.1])
    fused = stage.apply(probs, Position(*FLORIDA))
    assert fused[0] > fused[1] * 10 and fused.sum() == pytest.approx(1.0)
    fused = stage.apply(probs, Position(*NORCAL))
    assert fused[1] > fused[0] * 10


def test_combined_prior_takes_the_largest_known() -> None:
    from shapely.geometry import box

    ranges = RangePrior({"Acer rubrum": box(-101, 39, -99, 41), "Pinus taeda": box(0, 0, 1, 1)})
    occ = OccurrencePrior(_records([("Acer rubrum", 20.0, -100.0), ("Quercus alba", 40.0, -100.0)]))
    both = CombinedPrior([ranges, occ])
    assert both.species == {"Acer rubrum", "Pinus taeda", "Quercus alba"} and len(both) == 3
    p = both.prior(20.0, -100.0, ["Acer rubrum", "Pinus taeda", "Quercus alba", "Other"])
    assert p[0] > 0.8  # far outside the polygon, but records here
    assert p[1] < 0.01 and p[2] < 0.01 and p[3] == 1.0


# ------------------------------------------------------- names, skipped rows, log lines


def test_name_variants_and_synonyms_are_one_species(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text(
        "species,lat,lon\n"
        "Quercus alba,35.0,-80.0\n"
        "quercus alba alba,35.0,-80.0\n"
        "Quercus alba L.,35.0,-80.0\n"
        "Quercus alba var. latiloba,35.0,-80.0\n"
        "QUERCUS ALBA,35.0,-80.0\n"
        "Lithocarpus densiflorus,41.0,-123.8\n"
        "Notholithocarpus densiflorus (Hook. & Arn.) Manos,41.0,-123.8\n"
        "Acer sp.,35.0,-80.0\n"
        "Quercus x bebbiana,44.0,-72.0\n",
        encoding="utf-8",
    )
    table = read_occurrences(path)
    assert table.records["species"].tolist()[:5] == ["Quercus alba"] * 5
    prior = OccurrencePrior(table.records)
    # Quercus alba, tanoak (two names, one species), "Acer sp." (genus), the hybrid
    assert len(prior) == 4
    assert prior.has("Quercus alba Sarg.") and prior.has("Notholithocarpus densiflorus")
    assert prior.has("Lithocarpus densiflorus") and not prior.has("Acer rubrum")
    assert not prior.has("Quercus bebbiana")  # the hybrid is not a parent
    p = prior.prior(41.0, -123.8, ["Notholithocarpus densiflorus", "Quercus alba"])
    assert p[0] > 0.9 and p[1] < 0.01
    here = prior.density(35.0, -80.0, ["Quercus alba"])[0]
    assert here == pytest.approx(5.0, rel=0.01)  # all five spellings counted together
    # the species goes by its accepted name, though the synonym came first
    assert "Notholithocarpus densiflorus" in prior.species
    assert "Lithocarpus densiflorus" not in prior.species
    assert any("Lithocarpus densiflorus → Notholithocarpus densiflorus" in n for n in prior.notes)
    assert "7 species" not in table.summary() and "4 species" in table.summary()


def test_latin1_table_reports_rows_read_kept_and_skipped_by_reason(tmp_path: Path) -> None:
    path = tmp_path / "relevés.csv"
    text = (
        "espèce;latitude;longitude;remarque\n"
        "Sorbus aucuparia L.;46,5;7,0;près du lac\n"  # decimal commas (a ; table): read
        "Sorbus aucuparia L.;46.5;7.0;forêt\n"
        "Sorbus aucuparia subsp. praemorsa;46.6;7.1;arête\n"
        ";46.5;7.0;sans nom\n"
        "Pinus cembra L.;0;0;à vérifier\n"
        "Pinus cembra L.;46.4;;à vérifier\n"
        "Pinus cembra L.;46.4;7.2;mélèzin\n"
    )
    path.write_bytes(text.encode("latin-1"))
    table = read_occurrences(path, species_field="espèce")
    assert table.records["species"].tolist() == ["Sorbus aucuparia"] * 3 + ["Pinus cembra"]
    assert table.records["lat"].tolist()[0] == 46.5 and table.records["lon"].tolist()[0] == 7.0
    assert table.rows == 7 and table.skipped == {"no_species": 1, "bad_coords": 2}
    assert table.summary() == (
        f"{path}: 4 records of 2 species from 7 rows read, "
        "3 skipped: 2 bad coordinates, 1 no species"
    )
    assert table.lines() == [table.summary()]
    prior = load_occurrences([path], species_field="espèce")
    assert prior.notes == (table.summary(),)


def test_several_files_give_one_line_each_and_reach_the_run_log(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.tsv"
    a.write_text("species,lat,lon\nAcer rubrum,35,-80\nAcer rubrum,x,-80\n", encoding="utf-8")
    b.write_text("species\tlat\tlon\nPinus taeda\t33\t-84\n\t33\t-84\n", encoding="utf-8")
    table = read_occurrence_files([a, b])
    assert table.lines() == [
        f"{a}: 1 record of 1 species from 2 rows read, 1 skipped: 1 bad coordinates",
        f"{b}: 1 record of 1 species from 2 rows read, 1 skipped: 1 no species",
    ]
    assert table.summary().endswith("2 records of 2 species from 4 rows read, "
                                    "2 skipped: 1 bad coordinates, 1 no species")  # fmt: skip
    # ``fieldtool run`` logs range_coverage(...).lines(): the file lines are among them
    prior = range_prior_from_config(PriorConfig(ranges=[a, b]))
    labels = LabelSet((Label(0, "Acer rubrum"), Label(1, "Quercus alba")))
    lines = range_coverage(prior, labels).lines()
    assert lines[:2] == table.lines()
    assert "no range data for 1 species" in lines[2] and "Quercus alba" in lines[2]


@needs_shared
def test_real_vaccinium_exports_report_each_file() -> None:
    dar, sha = GBIF / "occ_dar.csv", GBIF / "occ_sha.csv"
    prior = load_occurrences([dar, sha])
    assert prior.notes == (
        f"{dar}: 1240 records of 1 species from 1242 rows read, "
        "2 skipped: 2 GBIF geospatial issues",
        f"{sha}: 239 records of 1 species from 240 rows read, 1 skipped: 1 GBIF geospatial issue",
    )
    # GBIF's verbatim names vary ("Vaccinium darrowi", "vaccinium darrowi camp", a
    # synonym with a variety); the ``species`` column gives the accepted binomial
    assert prior.species == {DAR, SHA}
    labels = LabelSet((Label(0, "Vaccinium darrowii Camp"), Label(1, "vaccinium shastense")))
    cov = range_coverage(prior, labels)
    assert cov.missing == () and cov.unmatched == ()
    assert [label for label, _ in cov.normalised] == ["Vaccinium darrowii Camp"]


def test_combined_prior_lists_a_species_once_under_its_accepted_name() -> None:
    from shapely.geometry import box

    ranges = RangePrior({"Lithocarpus densiflorus": box(-124, 40, -123, 41)})
    occ = OccurrencePrior(_records([("Notholithocarpus densiflorus", 40.5, -123.5)]))
    both = CombinedPrior([ranges, occ])
    assert both.species == {"Notholithocarpus densiflorus"} and len(both) == 1
    assert both.has("Lithocarpus densiflorus") and both.has("notholithocarpus densiflorus")


def test_a_species_column_of_another_name_is_taken_from_species_field(tmp_path: Path) -> None:
    """A new-user trial found: `--species-field taxon_name` reached range polygons but not
    occurrence tables ("no species column in the header", without saying which names are
    looked for). A comma table keeps its commas as separators, not decimal commas."""
    from fieldtool.config import PriorConfig
    from fieldtool.priors.files import prior_from_files

    path = tmp_path / "occ.csv"
    path.write_text("taxon_name,X,Y\nPseudotsuga menziesii,-122.95,44.19\n", encoding="utf-8")
    with pytest.raises(FieldtoolError, match=r"no species column.*scientificName.*--species-field"):
        prior_from_files([path], PriorConfig())
    prior = prior_from_files([path], PriorConfig(species_field="taxon_name"))
    assert prior is not None and "Pseudotsuga menziesii" in prior.species


def test_individual_count_0_without_a_status_is_an_absence(tmp_path: Path) -> None:
    """GBIF reads individualCount 0 as absent when occurrenceStatus is empty (the trial's
    o1 row 8): skipped and said in the skipped-count line; a stated PRESENT is kept, and
    an empty count or 3 is a presence."""
    path = tmp_path / "0001234.csv"
    rows = [
        ["gbifID", "occurrenceStatus", "species", "decimalLatitude", "decimalLongitude",
         "individualCount"],
        ["1", "", "Acer macrophyllum", "52.09", "5.12", "0"],
        ["2", "", "Thuja plicata", "52.09", "5.12", ""],
        ["3", "PRESENT", "Pinus taeda", "52.09", "5.12", "0"],
        ["4", "", "Quercus alba", "52.09", "5.12", "3"],
        ["5", "", "Acer rubrum", "52.09", "5.12", " 0.0 "],
    ]  # fmt: skip
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")
    table = read_occurrences(path)
    assert sorted(table.records["species"]) == ["Pinus taeda", "Quercus alba", "Thuja plicata"]
    assert table.skipped == {"zero_count": 2}
    assert table.summary().endswith("2 skipped: 2 individualCount 0 (absent)")
    prior = load_occurrences(path)
    assert prior.prior(52.09, 5.12, ["Acer macrophyllum"])[0] == 1.0  # no records: unknown
    assert not prior.has("Acer macrophyllum")
