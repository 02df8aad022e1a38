"""The dashboard's relabel box reads a typed name as ``fieldtool review relabel`` does (one
function, :func:`fieldtool.store.reviews.relabel_species`): common names (the file's, and
the bundled atlas's), genera ("Acer sp."), a new species only as a scientific name. Tested
at the data layer (:func:`fieldtool.dashboard.reviews.resolve_relabel`), not in a browser."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.dashboard.reviews import resolve_relabel
from fieldtool.store import SightingStore, query
from fieldtool.store.reviews import common_names, species_names
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.types import FieldtoolError, SessionInfo, Sighting

T0 = datetime(2026, 5, 1, 6)
# as the review page builds it: species -> its label, "common name (Species)" where known
KNOWN = {"Acer rubrum": "red maple (Acer rubrum)", "Cornus florida": "Cornus florida",
         "Quercus alba": "Quercus alba"}  # fmt: skip


@pytest.mark.parametrize("text, allow_new, expected", [
    ("red maple", False, ("Acer rubrum", False)),  # the file's common name
    ("RED  Maple", True, ("Acer rubrum", False)),
    ("white oak", False, ("Quercus alba", False)),  # the atlas's common name of a file species
    ("Acer sp.", False, ("Acer sp.", False)),  # a genus of the file's species
    ("acer", False, ("Acer sp.", False)),
    ("Cornus spp.", False, ("Cornus sp.", False)),
    ("Pinus sp.", True, ("Pinus sp.", True)),  # a new genus, said as one
    ("Cornus kousa Hance", True, ("Cornus kousa", True)),
    ("ACER  rubrum L.", False, ("Acer rubrum", False)),
])  # fmt: skip
def test_the_relabel_box_takes_common_and_genus_names(text, allow_new, expected):
    assert resolve_relabel(text, KNOWN, allow_new=allow_new) == expected


@pytest.mark.parametrize("text, allow_new, says", [
    ("Sugar maple", True, "'Sugar maple' is the common name of Acer saccharum (pass the "
                          "scientific name"),
    ("Sugar Maple", False, "'Sugar Maple' is the common name of Acer saccharum"),
    ("Cornus Kousa", True, "'Cornus Kousa' is not a scientific name"),  # capitalised epithet
    ("cornus kousa", True, "'cornus kousa' is not a scientific name"),
    ("Badger", True, "'Badger' is not a scientific name"),  # a bare word: maybe a common name
    ("Pinus sp.", False, "'Pinus sp.' is not a genus of this file's 3 species"),
    ("Cornus kousa", False, "'Cornus kousa' is not a species of this file"),
    ("  ", True, "Choose the species"),
])  # fmt: skip
def test_the_relabel_box_refuses_in_one_line(text, allow_new, says):
    with pytest.raises(FieldtoolError) as err:
        resolve_relabel(text, KNOWN, allow_new=allow_new)
    assert says in str(err.value) and "\n" not in str(err.value)
    if not allow_new and text.strip():
        assert "tick 'New species'" in str(err.value)


def test_the_cli_and_the_dashboard_read_a_name_alike(tmp_path: Path, capsys):
    """The same names, the same file: what the CLI stores is what the dashboard would."""
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("w", "w.mp4", "m", T0, status="finished"))
    store.record_species("Acer rubrum", "red maple", "Acer", None)
    store.record_species("Cornus florida", "", "Cornus", None)
    store.record_sighting(Sighting("s1", "w", "Quercus alba", "", T0, T0, 0.0, 1.0, frames=2,
                                   status="closed"))  # fmt: skip
    store.close()
    known = {sp: f"{cn} ({sp})" if (cn := common_names(db).get(sp)) else sp
             for sp in species_names(db)}  # fmt: skip
    for text, new in [("red maple", False), ("White Oak", True), ("acer", False),
                      ("Pinus spp.", True), ("Sugar maple", True), ("Cornus Kousa", True),
                      ("Cornus kousa", False), ("Cornus kousa", True)]:  # fmt: skip
        try:
            expected: str | None = resolve_relabel(text, known, allow_new=new)[0]
        except FieldtoolError:
            expected = None
        argv = ["review", "relabel", "--db", str(db), "s1", "--species", text, "--by", "a"]
        code = main(argv + ["--new-species"] * new)
        capsys.readouterr()
        stored = query(db, f"SELECT species FROM ({LATEST_REVIEW_SQL}) WHERE sighting_id = 's1'")
        if expected is None or expected == "Quercus alba":
            assert code == 2, text
        else:
            assert code == 0 and stored["species"].iloc[-1] == expected, text
