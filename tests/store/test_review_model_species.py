"""A session writes every species of its model's labels to the ``species`` table (its
common name, and genus and family where the labels give them), sighted or not, so a
relabel to a species of the model needs no ``--new-species`` and gets the labels' common
name (the views' ``common_name``, Darwin Core's vernacularName). A label's empty value
never replaces what the file has (another model's family, a common name)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from fieldtool.cli import main
from fieldtool.config import Config, SmoothingConfig
from fieldtool.pipeline import run_session
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore, connect
from fieldtool.types import LabelSet
from tests.conftest import ColourClassifier, write_video

START = datetime(2026, 6, 1, 9, 0, 0)


def run_red(tmp_path: Path, db: Path, classifier: ColourClassifier) -> list[str]:
    """A 3 s walk past species 0 (Acer rubrum) only; the ids of its sightings."""
    video = write_video(tmp_path / "walk.avi", [(3, 0.5), (0, 2.0), (3, 0.5)])
    cfg = Config()
    cfg.smoothing = SmoothingConfig(tau_s=0.3, enter=0.5, exit=0.3, min_duration_s=0.5,
                                    max_gap_s=0.5)  # fmt: skip
    cfg.store.db = db
    cfg.source.sample_fps = 10.0
    source = VideoSource(str(video), sample_fps=10, start_time=START)
    result = run_session(source, classifier, SightingStore(db), cfg)
    ids = [s.sighting_id for s in result.sightings]
    assert ids and {s.species for s in result.sightings} == {"Acer rubrum"}
    return ids


def species_rows(db: Path) -> dict[str, tuple[str | None, str | None, str | None]]:
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT species, common_name, genus, family FROM species").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_a_relabel_to_an_unsighted_species_of_the_model_needs_no_new_species(
    tmp_path, colour_classifier, capsys
):
    db = tmp_path / "s.duckdb"
    sid = run_red(tmp_path, db, colour_classifier)[0]
    assert species_rows(db) == {
        "Acer rubrum": ("red maple", "Acer", None),
        "Quercus alba": ("white oak", "Quercus", None),
        "Pinus taeda": ("loblolly pine", "Pinus", None),
    }  # every label but the background
    assert main(["review", "relabel", "--db", str(db), sid, "--species", "Pinus taeda",
                 "--by", "ana"]) == 0  # fmt: skip
    assert capsys.readouterr().out.split("\t")[1] == "relabel to Pinus taeda"
    with connect(db, read_only=True) as con:
        view = con.execute("SELECT species, common_name FROM sightings_reviewed "
                           "WHERE sighting_id = ?", [sid]).fetchall()  # fmt: skip
    assert view == [("Pinus taeda", "loblolly pine")]
    from fieldtool.export_rows import load_occurrences

    occurrences = load_occurrences(db, None)
    row = occurrences[occurrences.sighting_id == sid].iloc[0]
    assert (row.species, row.common_name) == ("Pinus taeda", "loblolly pine")


def test_a_relabel_by_the_common_name_of_an_unsighted_label_is_its_species(
    tmp_path, colour_classifier, capsys
):
    db = tmp_path / "s.duckdb"
    sid = run_red(tmp_path, db, colour_classifier)[0]
    assert main(["review", "relabel", "--db", str(db), sid, "--species", "White Oak",
                 "--by", "ana"]) == 0  # fmt: skip
    assert "relabel to Quercus alba" in capsys.readouterr().out


def test_a_labels_empty_values_keep_what_the_file_has(tmp_path, colour_classifier):
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    # another model's taxonomy, and a species a reviewer added before (no common name)
    store.record_species("Quercus alba", "white oak", "Quercus", "Fagaceae")
    store.record_species("Pinus taeda", "", "Pinus", None)
    store.close()
    plain = {"Quercus alba": ""}  # this model gives no common name for the oak
    colour_classifier.labels = LabelSet(tuple(
        replace(lb, common_name=plain.get(lb.species, lb.common_name))
        for lb in colour_classifier.labels.labels
    ))  # fmt: skip
    run_red(tmp_path, db, colour_classifier)
    rows = species_rows(db)
    assert rows["Quercus alba"] == ("white oak", "Quercus", "Fagaceae")
    assert rows["Pinus taeda"] == ("loblolly pine", "Pinus", None)  # the labels fill it in
    assert "background" not in rows


def test_a_file_that_cannot_be_read_gets_only_the_labels_taxonomy(tmp_path, colour_classifier):
    import duckdb

    from fieldtool.store.species import model_species

    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    labels = LabelSet(tuple(replace(lb, family="Pinaceae") if lb.species == "Pinus taeda" else lb
                            for lb in colour_classifier.labels.labels))  # fmt: skip
    assert [r[0] for r in model_species(db, labels)] == ["Acer rubrum", "Quercus alba",
                                                         "Pinus taeda"]  # fmt: skip
    held = duckdb.connect(str(db))  # another writer (read-write, other settings) holds it
    try:
        assert model_species(db, labels, timeout_s=0.0) == [
            ("Pinus taeda", "loblolly pine", None, "Pinaceae")
        ]  # nothing that might replace what the file has unseen
    finally:
        held.close()


def test_a_species_row_merged_from_elsewhere_keeps_what_it_leaves_empty(tmp_path):
    """A batch session writes its model's species into a scratch file that knows nothing
    of the file it is merged into: a label without a common name, genus or family must
    not blank the file's (``insert_rows``: a value given replaces, none given keeps)."""
    import duckdb

    from fieldtool.store.schema import insert_rows

    db = tmp_path / "s.duckdb"
    SightingStore(db).close()
    with duckdb.connect(str(db)) as con:
        insert_rows(con, "species", [("Pseudotsuga menziesii", "Douglas fir", "Pseudotsuga",
                                      "Pinaceae")])  # fmt: skip
        insert_rows(con, "species", [("Pseudotsuga menziesii", "", None, ""),
                                     ("Acer rubrum", "red maple", None, None)])  # fmt: skip
        insert_rows(con, "species", [("Acer rubrum", "swamp maple", "Acer", None)])
        rows = con.execute("SELECT * FROM species ORDER BY species").fetchall()
    assert rows == [("Acer rubrum", "swamp maple", "Acer", None),
                    ("Pseudotsuga menziesii", "Douglas fir", "Pseudotsuga", "Pinaceae")]
