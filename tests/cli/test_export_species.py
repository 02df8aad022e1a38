"""``fieldtool export --species``: any spelling of a species of the file (case, spacing,
authorship, a synonym) exports its sightings; a name the file lacks is a one-line error
with the nearest name, not an empty export (it wrote 0 rows without a word)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.store import SightingStore
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 5, 1, 6, 0, 0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("walk1", "walk1.mp4", "m", T0, status="finished"))
    for n, name in enumerate(("Acer rubrum", "Quercus alba", "Acer rubrum")):
        start = T0 + timedelta(minutes=5 * n)
        store.record_sighting(Sighting(f"s{n}", "walk1", name, "", start,
                                       start + timedelta(seconds=60), 300.0 * n, 300.0 * n + 60,
                                       frames=5, peak_score=0.9, score_sum=4.0, latitude=44.5,
                                       longitude=-123.2, status="closed"))  # fmt: skip
    store.close()
    return path


def _rows(path: Path) -> list[str]:
    return path.read_text().strip().splitlines()[1:]


def test_any_spelling_of_a_species_exports_it(db, tmp_path, capsys):
    out = tmp_path / "acer.csv"
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(out),
                 "--species", "acer  RUBRUM L."]) == 0  # fmt: skip
    assert len(_rows(out)) == 2


def test_a_species_the_file_lacks_is_one_line_with_the_nearest(db, tmp_path, capsys):
    out = tmp_path / "none.csv"
    code = main(["export", "--db", str(db), "--format", "csv", "-o", str(out),
                 "--species", "Acer rubum"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "'Acer rubum'" in err[0] and "did you mean 'Acer rubrum'" in err[0]
    assert not out.exists()  # nothing written


def test_a_session_the_file_lacks_is_one_line_not_an_empty_export(db, tmp_path, capsys):
    out = tmp_path / "none.csv"
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(out),
                 "--session", "walk2"]) == 2  # fmt: skip
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no session 'walk2'" in line and "walk1" in line
    assert not out.exists()
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(out),
                 "--session", "walk1"]) == 0  # fmt: skip
    assert len(_rows(out)) == 3


def test_a_common_name_of_the_file_exports_its_species(db, tmp_path, capsys):
    """As ``review --species`` takes it: the species table's common name is its species."""
    store = SightingStore(db)
    store.record_species("Acer rubrum", "red maple")
    store.close()
    out = tmp_path / "red.csv"
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(out),
                 "--species", "Red  Maple"]) == 0  # fmt: skip
    assert len(_rows(out)) == 2
