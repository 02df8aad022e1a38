"""Tests for fieldtool.names: the one species-name key and the synonym table."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtool.names import (
    SYNONYMS_CSV,
    Synonyms,
    binomial,
    canonical,
    is_species_key,
    species_key,
)
from fieldtool.types import FieldtoolError

REPO = Path(__file__).resolve().parents[1]
ATLAS = REPO / "data" / "ranges" / "little_atlas.gpkg"
LITTLE_TABLE = (
    REPO.parent / "shared" / "data" / "ranges" / "little_us_trees" / "Little_datatable.csv"
)


@pytest.mark.parametrize(
    "name",
    [
        "Quercus alba",
        "quercus alba",
        "QUERCUS  ALBA",
        " Quercus\talba ",
        "Quercus alba L.",
        "Quercus alba L., 1753",
        "quercus alba alba",
        "Quercus alba var. latiloba Sarg.",
        "Quercus alba subsp. alba",
        "Quercus alba ssp. alba",
        "Quercus alba f. repanda (Michx.) Trel.",
        "Quercus alba forma repanda",
        "Quercus (Quercus) alba",
        "Quercus cf. alba",
        "Quercus_alba",
        '"Quercus alba"',
    ],
)
def test_spellings_of_one_species_share_a_key(name: str) -> None:
    assert species_key(name) == "quercus alba"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Lithocarpus densiflorus (Hook. & Arn.) Rehder", "lithocarpus densiflorus"),
        ("Acer negundo var. californicum (Torr. & A.Gray) Sarg.", "acer negundo"),
        ("Vaccinium darrowii Camp", "vaccinium darrowii"),
        ("Sorbus aucuparia, Müller", "sorbus aucuparia"),
        ("Pithecellobium unguis-cati (L.) Benth.", "pithecellobium unguis-cati"),
        # the hybrid marker is kept, in one spelling, so a hybrid never matches a parent
        ("Quercus x bebbiana", "quercus × bebbiana"),
        ("Quercus ×bebbiana C.K.Schneid.", "quercus × bebbiana"),
        ("Quercus × bebbiana", "quercus × bebbiana"),
        ("× Chitalpa tashkentensis", "× chitalpa tashkentensis"),
        ("Quercus alba × Q. macrocarpa", "quercus alba × quercus macrocarpa"),
        # no epithet: a genus-level key that collides with no species
        ("Acer sp.", "acer"),
        ("Acer spp.", "acer"),
        ("Acer sp", "acer"),
        ("Acer", "acer"),
        ("Pinus L.", "pinus"),
        ("Acer aff. rubrum", "acer"),
        # not a name: case and whitespace only
        ("background", "background"),
        ("", ""),
        ("4 (unknown)", "4 (unknown)"),
    ],
)
def test_species_key(name: str, key: str) -> None:
    assert species_key(name) == key


def test_genus_keys_are_not_species_keys() -> None:
    assert is_species_key(species_key("Acer rubrum"))
    assert is_species_key(species_key("Quercus x bebbiana"))
    assert not is_species_key(species_key("Acer sp."))
    assert not is_species_key(species_key("× Chitalpa"))
    assert species_key("Acer sp.") != species_key("Acer spinosum")


def test_binomial_is_for_display() -> None:
    assert binomial("quercus alba alba") == "Quercus alba"
    assert binomial("QUERCUS ALBA L.") == "Quercus alba"
    assert binomial("Quercus ×bebbiana") == "Quercus × bebbiana"
    assert binomial("vaccinium darrowi camp") == "Vaccinium darrowi"
    assert binomial("Pinus L.") is None and binomial("Acer sp.") is None
    assert binomial("incertae sedis") is None and binomial(None) is None  # type: ignore[arg-type]


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syn.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_synonyms_from_csv_map_every_spelling_to_the_accepted_key(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "# comment line\n"
        "synonym,accepted,source\n"
        "Lithocarpus densiflorus (Hook. & Arn.) Rehder,Notholithocarpus densiflorus,GBIF\n"
        "Pasania densiflora,Lithocarpus densiflorus,chain\n",
    )
    syn = Synonyms.from_csv(path)
    assert len(syn) == 2 and syn.path == path
    want = "notholithocarpus densiflorus"
    for name in (
        "LITHOCARPUS DENSIFLORUS",
        "Lithocarpus densiflorus var. echinoides",
        "Notholithocarpus densiflorus (Hook. & Arn.) Manos",
        "Pasania densiflora",
    ):
        assert syn.canonical(name) == want
    assert syn.is_synonym("lithocarpus densiflorus") and not syn.is_synonym(want)
    assert syn.accepted_name("Pasania densiflora") == "Notholithocarpus densiflorus"
    assert syn.canonical("Quercus alba L.") == "quercus alba"  # not listed: its own key
    assert syn.accepted_name("Quercus alba") is None
    assert Synonyms().canonical("Lithocarpus densiflorus") == "lithocarpus densiflorus"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (None, "not found"),
        ("name,other\nA b,C d\n", "columns synonym,accepted"),
        ("synonym,accepted,source\nA b,,x\n", "row 2 needs"),
        ("synonym,accepted\nA b,C d\nA b L.,E f\n", "synonym of both"),
        ("synonym,accepted\nA b,C d\nC d,A b\n", "cycle"),
    ],
)
def test_bad_synonym_tables_are_one_line(tmp_path: Path, text: str | None, fragment: str) -> None:
    path = tmp_path / "syn.csv" if text is None else _csv(tmp_path, text)
    with pytest.raises(FieldtoolError) as info:
        Synonyms.from_csv(path)
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_bundled_table_covers_the_known_renames() -> None:
    syn = Synonyms.bundled()
    assert syn is Synonyms.bundled() and syn.path == SYNONYMS_CSV
    assert 20 <= len(syn) <= 80
    pairs = {
        "Lithocarpus densiflorus": "Notholithocarpus densiflorus",
        "Chamaecyparis nootkatensis": "Cupressus nootkatensis",
        "Callitropsis nootkatensis": "Cupressus nootkatensis",
        "Quercus prinus": "Quercus montana",
        "Benthamidia florida": "Cornus florida",  # a demo label
        "Pseudotsuga taxifolia": "Pseudotsuga menziesii",  # a demo label
    }
    for old, new in pairs.items():
        assert canonical(old) == canonical(new) == species_key(new), old
    assert all(row[2] for row in syn.rows)  # every pair names its source


def test_bundled_synonyms_keep_the_demo_labels_apart() -> None:
    from fieldtool.model import read_labels

    labels = read_labels(REPO / "models" / "demo" / "labels.csv")
    keys = [canonical(label.species) for label in labels.labels]
    assert len(set(keys)) == len(keys)
    assert all(canonical(lb.species) == species_key(lb.species) for lb in labels.labels)


@pytest.mark.skipif(not ATLAS.exists() and not LITTLE_TABLE.exists(), reason="no atlas names")
def test_bundled_synonyms_keep_the_679_atlas_species_apart() -> None:
    """A synonym that sank one atlas species into another would merge their ranges."""
    if ATLAS.exists():
        import pyogrio

        names = set(pyogrio.read_dataframe(ATLAS, read_geometry=False)["species"])
    else:
        import pandas as pd

        names = set(pd.read_csv(LITTLE_TABLE)["Latin Name"])
    assert len(names) == 679
    assert len({canonical(n) for n in names}) == 679
    # every bundled synonym that is not a demo-label synonym is one of Little's names
    keys = {species_key(n) for n in names}
    little = [s for s, a, _ in Synonyms.bundled().rows if species_key(s) in keys]
    assert len(little) >= 40 and "Lithocarpus densiflorus" in little


def test_name_rows_find_each_label_by_its_key_and_remember_the_list():
    from fieldtool.names import NameRows

    rows = NameRows([canonical("Acer rubrum"), canonical("Quercus alba")])
    labels = ["Quercus alba", "ACER RUBRUM L.", "Pinus taeda", "background"]
    first = rows.rows(labels)
    assert first.tolist() == [1, 0, -1, -1]
    assert rows.rows(labels) is first  # the same list again: not resolved again
    assert "acer rubrum" in rows and rows.get("Pinus taeda") is None
