"""``fieldtool review`` as a new user met it: common names, genus-level relabels, earlier
reviews stamped in the future, decisions written by SQL in another case."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.store import ReviewRow, SightingStore, add_reviews, connect, query
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.timebase import utc_now
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 5, 1, 6, 0, 0)
SPECIES = (("Acer rubrum", "red maple"), ("Acer macrophyllum", "bigleaf maple"),
           ("Quercus alba", "white oak"), ("Thuja plicata", "western redcedar"))  # fmt: skip


def sighting(sid: str, species: str, start_s: float) -> Sighting:
    start = T0 + timedelta(seconds=start_s)
    return Sighting(sid, "walk1", species, "", start, start + timedelta(seconds=60), start_s,
                    start_s + 60.0, frames=5, peak_score=0.9, score_sum=4.0, status="closed")  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """One session, a species table with common names, and a genus-level sighting."""
    return make_db(tmp_path / "s.duckdb", genus_level=True)


def make_db(path: Path, *, genus_level: bool) -> Path:
    store = SightingStore(path)
    store.record_session(SessionInfo("walk1", "walk1.mp4", "m", T0, status="finished"))
    for name, common in SPECIES:
        store.record_species(name, common)
    store.record_sighting(sighting("s1", "Thuja plicata", 0))
    store.record_sighting(sighting("s2", "Quercus alba", 100))
    if genus_level:
        store.record_sighting(sighting("s3", "Acer sp.", 200))
    store.close()
    return path


def in_force(db: Path) -> dict[str, tuple[str, str, str]]:
    frame = query(db, f"SELECT * FROM ({LATEST_REVIEW_SQL})")
    return {r.sighting_id: (r.decision, r.species, r.reviewer) for r in frame.itertuples()}


def species_rows(db: Path) -> list[str]:
    return sorted(query(db, "SELECT species FROM species")["species"])


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    said = capsys.readouterr()
    return code, said.out, said.err


# 1 ---------------------------------------------------------------------------------


def test_a_cli_review_is_in_force_over_an_earlier_one_stamped_in_the_future(db, capsys):
    later = utc_now() + timedelta(days=200)  # a package's classificationTimestamp
    add_reviews(db, [ReviewRow("s1", "confirm", "Thuja plicata", "Ann", later)])
    code, out, err = run(capsys, "review", "reject", "--db", str(db), "s1", "--by", "Bob")
    assert code == 0 and out.split("\t")[:2] == ["s1", "reject"]
    assert in_force(db)["s1"] == ("reject", "Thuja plicata", "Bob")
    note = err.strip().splitlines()
    assert len(note) == 1 and "Ann" in note[0] and "newest" in note[0], note  # says so
    code, out, _ = run(capsys, "review", "list", "--db", str(db))
    assert "\treject by Bob at " in out
    code, out, _ = run(capsys, "review", "undo", "--db", str(db), "s1", "--by", "Bob")
    assert code == 0 and "undone, now confirm in force" in out, out
    assert in_force(db)["s1"][:1] == ("confirm",)


# 2 ---------------------------------------------------------------------------------


def test_list_shows_a_sql_decision_in_another_case_and_warns_of_an_unknown_one(db, capsys):
    with connect(db, read_only=False) as con:
        con.execute("INSERT INTO reviews VALUES ('b1', 's1', 'Reject', 'Thuja plicata', "
                    "'sqluser', TIMESTAMP '2026-11-29 12:00:00', 'caps', NULL)")  # fmt: skip
        con.execute("INSERT INTO reviews VALUES ('b2', 's2', 'perhaps', 'Quercus alba', "
                    "'sqluser', TIMESTAMP '2026-11-29 12:00:00', '', NULL)")  # fmt: skip
    code, out, err = run(capsys, "review", "list", "--db", str(db))
    assert code == 0
    rows = {line.split("\t")[0]: line.split("\t")[-1] for line in out.splitlines()}
    assert rows["s1"].startswith("reject by sqluser")
    assert rows["s2"] == "-"  # the unknown decision is not in force
    warned = err.strip().splitlines()
    assert len(warned) == 1 and "'perhaps'" in warned[0] and "s2" in warned[0], warned
    assert warned[0].startswith("fieldtool: warning: ")
    code, out, _ = run(capsys, "review", "list", "--db", str(db), "--unreviewed")
    assert [line.split("\t")[0] for line in out.splitlines()] == ["s2", "s3"]


# 3 ---------------------------------------------------------------------------------


def test_relabel_by_a_common_name_takes_the_files_species_and_says_so(db, capsys):
    code, out, err = run(capsys, "review", "relabel", "--db", str(db), "s1", "--species",
                         "Red  Maple", "--by", "ana")  # fmt: skip
    assert code == 0, err
    assert in_force(db)["s1"][:2] == ("relabel", "Acer rubrum")
    assert "Red  Maple: Acer rubrum" in err
    # --new-species with a known species' common name: the known species, no new row.
    before = species_rows(db)
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s2", "--species",
                       "bigleaf maple", "--new-species", "--by", "ana")  # fmt: skip
    assert code == 0, err
    assert in_force(db)["s2"][:2] == ("relabel", "Acer macrophyllum")
    assert species_rows(db) == before


def test_a_new_species_must_look_like_a_scientific_name(db, capsys):
    for text in ("red oak", "sugar MAPLE", "cornus KOUSA"):
        code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s1", "--species",
                           text, "--new-species", "--by", "ana")  # fmt: skip
        assert code == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and f"{text!r}" in lines[0] and "scientific" in lines[0], lines
    assert "s1" not in in_force(db)
    assert not [s for s in species_rows(db) if s.lower().startswith(("red", "sugar"))]
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s1", "--species",
                       "Cornus  kousa Hance", "--new-species", "--by", "ana")  # fmt: skip
    assert code == 0, err
    assert in_force(db)["s1"][:2] == ("relabel", "Cornus kousa")


def test_an_unknown_name_without_new_species_hints_at_a_common_name(db, capsys):
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s1", "--species",
                       "red mapel", "--by", "ana")  # fmt: skip
    assert code == 2
    assert "red maple" in err and "Acer rubrum" in err, err


def test_list_filters_by_a_common_name(db, capsys):
    code, out, _ = run(capsys, "review", "list", "--db", str(db), "--species", "WHITE oak")
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == ["s2"]


# 4 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Acer sp.", "acer  spp.", "Acer"])
def test_relabel_to_a_genus_of_the_file(tmp_path, capsys, text):
    db = make_db(tmp_path / "s.duckdb", genus_level=False)  # a genus of its species only
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s2", "--species", text,
                       "--by", "ana")  # fmt: skip
    assert code == 0, err
    assert in_force(db)["s2"][:2] == ("relabel", "Acer sp.")


def test_a_genus_new_to_the_file_needs_new_species(db, capsys):
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s2", "--species",
                       "Cornus sp.", "--by", "ana")  # fmt: skip
    assert code == 2 and "--new-species" in err
    assert "s2" not in in_force(db)
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s2", "--species",
                       "Cornus spp.", "--new-species", "--by", "ana")  # fmt: skip
    assert code == 0, err
    assert in_force(db)["s2"][:2] == ("relabel", "Cornus sp.")
    assert "Cornus sp." in species_rows(db)
    # a bare capitalised word new to the file may be a common name: not taken as a genus
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s2", "--species",
                       "Badger", "--new-species", "--by", "ana")  # fmt: skip
    assert code == 2 and "scientific name" in err
    assert "Badger sp." not in species_rows(db)


def test_relabel_of_a_genus_level_sighting_to_its_genus_is_a_confirm(db, capsys):
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s3", "--species", "Acer",
                       "--by", "ana")  # fmt: skip
    assert code == 2 and "confirm" in err
    code, _, err = run(capsys, "review", "relabel", "--db", str(db), "s3", "--species",
                       "red maple", "--by", "ana")  # fmt: skip
    assert code == 0, err
    assert in_force(db)["s3"][:2] == ("relabel", "Acer rubrum")
