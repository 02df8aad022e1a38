"""``fieldtool review relabel`` with a common name the file does not list: "Red maple" is
shaped like a binomial, but it is the common name of Acer rubrum in the bundled atlas (679
US trees), never a new scientific name. It is read as that species where the file knows it,
else refused in one line naming the scientific name to pass; "Red Maple" (a capitalised
second word) is no scientific name either."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.store import SightingStore, query
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 5, 1, 6)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A model's species without common names (its labels.csv had none) and two sightings."""
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("w", "w.mp4", "m", T0, status="finished"))
    for name in ("Acer rubrum", "Quercus alba", "Thuja plicata"):
        store.record_species(name, "", name.split()[0], None)
    for sid, species in (("s1", "Thuja plicata"), ("s2", "Quercus alba")):
        store.record_sighting(Sighting(sid, "w", species, "", T0, T0, 0.0, 1.0, frames=2,
                                       status="closed"))  # fmt: skip
    store.close()
    return path


def relabel(capsys, db: Path, text: str, *extra: str) -> tuple[int, list[str]]:
    code = main(["review", "relabel", "--db", str(db), "s1", "--species", text, "--by", "ana",
                 *extra])  # fmt: skip
    return code, capsys.readouterr().err.strip().splitlines()


def in_force(db: Path) -> dict[str, tuple[str, str]]:
    frame = query(db, f"SELECT sighting_id, decision, species FROM ({LATEST_REVIEW_SQL})")
    return {r.sighting_id: (r.decision, r.species) for r in frame.itertuples(index=False)}


def species_rows(db: Path) -> list[str]:
    return sorted(query(db, "SELECT species FROM species")["species"])


@pytest.mark.parametrize("text", ["Red maple", "Red Maple", "red maple"])
def test_an_atlas_common_name_of_a_file_species_is_that_species(db, capsys, text):
    before = species_rows(db)
    code, err = relabel(capsys, db, text, "--new-species")
    assert code == 0, err
    assert in_force(db)["s1"] == ("relabel", "Acer rubrum")
    assert species_rows(db) == before  # no species "Red maple"
    assert err == [f"fieldtool: {text}: Acer rubrum (its common name in the bundled atlas of "
                   "US trees)"]  # fmt: skip


@pytest.mark.parametrize("extra", [("--new-species",), ()])
def test_an_atlas_common_name_of_another_species_is_refused(db, capsys, extra):
    before = species_rows(db)
    code, err = relabel(capsys, db, "Sugar maple", *extra)
    assert code == 2 and len(err) == 1, err
    assert "'Sugar maple' is the common name of Acer saccharum (pass the scientific name" in err[0]
    assert ("--new-species" in err[0]) == (not extra)  # how to add it, where it is needed
    assert "s1" not in in_force(db) and species_rows(db) == before


def test_a_common_name_of_two_atlas_species_names_both(db, capsys):
    code, err = relabel(capsys, db, "Peachleaf willow", "--new-species")
    assert code == 2 and len(err) == 1
    assert "common name of Salix amygdaloides and Salix arbusculoides" in err[0]


def test_a_capitalised_epithet_is_no_scientific_name(db, capsys):
    for text in ("Cornus Kousa", "Blue Gum"):  # not in the atlas, shaped like a binomial
        code, err = relabel(capsys, db, text, "--new-species")
        assert code == 2 and len(err) == 1 and f"{text!r} is not a scientific name" in err[0]
    assert "s1" not in in_force(db)
    assert relabel(capsys, db, "Cornus kousa", "--new-species")[0] == 0
    assert in_force(db)["s1"] == ("relabel", "Cornus kousa")
