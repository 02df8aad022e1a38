"""``fieldtool review``: list, confirm, reject, relabel and undo sightings from a shell.

Reviews go through :func:`fieldtool.store.add_review` (the dashboard's writer); the review
in force is read back with :data:`fieldtool.store.views.LATEST_REVIEW_SQL`.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.store import SightingStore, query
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2026, 5, 1, 6, 0, 0)


def sighting(
    sid: str,
    session: str,
    species: str,
    start_s: float,
    *,
    lat: float | None = None,
    lon: float | None = None,
    status: str = "closed",
    peak: float = 0.9,
) -> Sighting:
    start = T0 + timedelta(seconds=start_s)
    return Sighting(sid, session, species, "", start, start + timedelta(seconds=90), start_s,
                    start_s + 90.0, frames=5, peak_score=peak, score_sum=4.0, latitude=lat,
                    longitude=lon, status=status)  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two sessions (one on a local clock of unknown zone), four sightings, and a model
    species list with a species never seen and one accepted name of a synonym."""
    path = tmp_path / "s.duckdb"
    store = SightingStore(path)
    store.record_session(SessionInfo("walk1", "walk1.mp4", "m", T0, status="finished"))
    store.record_session(SessionInfo("trap2", "trap2/", "m", T0, status="finished",
                                     time_zone=None, time_zone_known=False))  # fmt: skip
    for name in ("Acer rubrum", "Quercus alba", "Pinus taeda", "Notholithocarpus densiflorus"):
        store.record_species(name, "", name.split()[0], None)
    store.record_sighting(
        sighting("s1", "walk1", "Acer rubrum", 0, lat=44.5612345, lon=-123.2654321)
    )
    store.record_sighting(sighting("s2", "walk1", "Quercus alba", 120, peak=0.75))
    store.record_sighting(sighting("s3", "trap2", "Acer rubrum", 300))
    store.record_sighting(sighting("s4", "walk1", "Acer rubrum", 600, status="open"))
    store.close()
    return path


def in_force(db: Path) -> dict[str, tuple[str, str, str, str | None]]:
    """sighting_id -> (decision, species, reviewer, note: None for none) of the review in
    force."""
    frame = query(db, f"SELECT * FROM ({LATEST_REVIEW_SQL})")
    return {
        r.sighting_id: (
            r.decision,
            r.species,
            r.reviewer,
            r.note if isinstance(r.note, str) else None,
        )
        for r in frame.itertuples(index=False)
    }


def review_rows(db: Path) -> int:
    return int(query(db, "SELECT count(*) AS n FROM reviews")["n"].iloc[0])


def listed(db: Path, capsys, *extra: str) -> dict[str, list[str]]:
    assert main(["review", "list", "--db", str(db), *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert len(rows) == len(lines)  # one line per sighting
    return rows


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("fieldtool: error: "), err
    return err[0]


def test_confirm_then_reject_the_latest_is_in_force_and_both_are_kept(db, capsys):
    assert main(["review", "confirm", "--db", str(db), "s1", "s2", "--by", "ana", "--note", "leaf"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out] == ["s1", "s2"]
    assert in_force(db) == {"s1": ("confirm", "Acer rubrum", "ana", "leaf"),
                            "s2": ("confirm", "Quercus alba", "ana", "leaf")}  # fmt: skip
    assert main(["review", "reject", "--db", str(db), "s1", "--by", "ben"]) == 0
    assert in_force(db)["s1"] == ("reject", "Acer rubrum", "ben", None)  # no note: NULL
    assert review_rows(db) == 3  # appended: the confirm of s1 is still there
    history = query(
        db, "SELECT decision FROM reviews WHERE sighting_id = 's1' ORDER BY reviewed_at"
    )
    assert history["decision"].tolist() == ["confirm", "reject"]


def test_relabel_stores_the_files_spelling_of_the_species(db, capsys):
    assert (
        main(["review", "relabel", "--db", str(db), "s1", "--species", "quercus  ALBA", "--by", "ana"]) == 0
    )
    assert in_force(db)["s1"][:2] == ("relabel", "Quercus alba")
    # A synonym with authorship is the file's accepted name (fieldtool.names.canonical).
    assert main(["review", "relabel", "--db", str(db), "s2", "--species",
                 "Lithocarpus densiflorus (Hook. & Arn.) Rehder", "--by", "ana"]) == 0  # fmt: skip
    assert in_force(db)["s2"][:2] == ("relabel", "Notholithocarpus densiflorus")
    # The model's species never seen in a sighting is known too.
    assert (
        main(["review", "relabel", "--db", str(db), "s3", "--species", "PINUS TAEDA", "--by", "ana"]) == 0
    )
    assert in_force(db)["s3"][:2] == ("relabel", "Pinus taeda")


def test_a_species_new_to_the_file_needs_new_species_and_a_binomial(db, capsys):
    code = main(["review", "relabel", "--db", str(db), "s1", "--species", "cornus kousa", "--by", "ana"])
    assert code == 2
    line = one_error(capsys)
    assert "'cornus kousa'" in line and "--new-species" in line
    assert review_rows(db) == 0
    # An epithet alone is no name ("Cornus" alone is a genus: tests/cli/test_review_names.py).
    code = main(["review", "relabel", "--db", str(db), "s1", "--species", "kousa", "--new-species",
                 "--by", "ana"])  # fmt: skip
    assert code == 2
    assert "'kousa'" in one_error(capsys)
    assert review_rows(db) == 0
    assert main(["review", "relabel", "--db", str(db), "s1", "--species", "Cornus  kousa Hance",
                 "--new-species", "--by", "ana"]) == 0  # fmt: skip
    assert in_force(db)["s1"][:2] == ("relabel", "Cornus kousa")
    # Now a species of the file: a second relabel to it needs no --new-species.
    assert (
        main(["review", "relabel", "--db", str(db), "s2", "--species", "Cornus kousa", "--by", "bo"]) == 0
    )
    assert in_force(db)["s2"][:2] == ("relabel", "Cornus kousa")


def test_relabel_to_the_predicted_species_is_refused(db, capsys):
    assert main(["review", "relabel", "--db", str(db), "s1", "--species", "acer rubrum", "--by", "a"]) == 2
    line = one_error(capsys)
    assert "s1" in line and "confirm" in line
    assert review_rows(db) == 0


def test_list_shows_each_sighting_with_time_place_score_and_review(db, capsys):
    rows = listed(db, capsys)
    assert sorted(rows) == ["s1", "s2", "s3", "s4"]
    s1 = rows["s1"]
    assert s1[1:3] == ["walk1", "Acer rubrum"]
    assert s1[3] == "2026-05-01T06:00:00Z/2026-05-01T06:01:30Z"
    assert float(s1[4]) == pytest.approx(0.9)
    lat, lon = (float(v) for v in s1[5].split(","))
    assert lat == pytest.approx(44.56123, abs=1e-5) and lon == pytest.approx(-123.26543, abs=1e-5)
    assert s1[6] == "-"  # no review
    assert rows["s2"][5] == "-"  # no place
    assert "Z" not in rows["s3"][3] and "local clock" in rows["s3"][3]
    assert "open" in rows["s4"][3] and "open" not in s1[3]
    assert list(rows) == ["s1", "s2", "s3", "s4"]  # by first seen

    assert main(["review", "relabel", "--db", str(db), "s1", "--species", "Quercus alba", "--by", "ana",
                 "--note", "bark\tand\nleaves"]) == 0  # fmt: skip
    assert main(["review", "reject", "--db", str(db), "s3", "--by", "ben"]) == 0
    capsys.readouterr()
    rows = listed(db, capsys)
    review = rows["s1"][6]
    assert review.startswith("relabel to Quercus alba by ana at ")
    assert review.endswith("Z: bark and leaves")  # reviewed_at is UTC; the note on one line
    assert rows["s3"][6].startswith("reject by ben")
    assert len(rows["s1"]) == 7  # the note's tab did not add a column


def test_list_filters(db, capsys):
    assert main(["review", "confirm", "--db", str(db), "s2", "--by", "ana"]) == 0
    assert (
        main(["review", "relabel", "--db", str(db), "s3", "--species", "Quercus alba", "--by", "ana"]) == 0
    )
    capsys.readouterr()
    assert sorted(listed(db, capsys, "--unreviewed")) == ["s1", "s4"]
    assert sorted(listed(db, capsys, "--session", "walk1")) == ["s1", "s2", "s4"]
    # The species in force, by any spelling: s3 counts as Quercus alba now, s1 does not.
    assert sorted(listed(db, capsys, "--species", "QUERCUS alba L.")) == ["s2", "s3"]
    assert sorted(listed(db, capsys, "--species", "acer rubrum")) == ["s1", "s4"]
    assert list(listed(db, capsys, "--limit", "2")) == ["s1", "s2"]
    assert list(listed(db, capsys, "--unreviewed", "--session", "walk1", "--limit", "1")) == ["s1"]
    # A species of the file without sightings: no lines, not an error.
    assert listed(db, capsys, "--species", "Pinus taeda") == {}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["review", "list", "--db", "{db}", "--session", "nowhere"], "'nowhere'"),
        (["review", "list", "--db", "{db}", "--species", "Quercus albus"], "'Quercus albus'"),
        (["review", "list", "--db", "{db}", "--limit", "0"], "--limit"),
        (["review", "confirm", "--db", "{db}", "s1", "nope", "--by", "ana"], "'nope'"),
        (["review", "reject", "--db", "{db}", "nope", "--by", "ana"], "'nope'"),
        (["review", "relabel", "--db", "{db}", "nope", "--species", "Quercus alba", "--by", "a"], "'nope'"),
        (["review", "confirm", "--db", "{db}", "s1", "--by", "  "], "--by"),
        (["review", "undo", "--db", "{db}", "s1", "--by", "ana"], "'s1'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(db, capsys, argv, named):
    code = main([a.replace("{db}", str(db)) for a in argv])
    assert code == 2
    assert named in one_error(capsys)
    assert review_rows(db) == 0  # s1 of "s1 nope" was not reviewed either


def test_a_missing_file_is_one_line_and_not_created(tmp_path, capsys):
    missing = tmp_path / "none.duckdb"
    for argv in (["review", "list", "--db", str(missing)],
                 ["review", "confirm", "--db", str(missing), "s1", "--by", "ana"]):  # fmt: skip
        assert main(argv) == 2
        assert str(missing) in one_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_file_held_read_write_by_another_process_is_one_line(db, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for argv in (["review", "confirm", "--db", str(db), "s1", "--by", "ana", "--wait", "0"],
                     ["review", "list", "--db", str(db), "--wait", "0"]):  # fmt: skip
            assert main(argv) == 2
            line = one_error(capsys)
            assert str(db) in line and "another process" in line and "one writer" in line, line
            assert f"PID {holder.pid}" in line, line
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    assert review_rows(db) == 0


def test_the_reviewer_defaults_to_the_environment_then_the_login_name(db, capsys, monkeypatch):
    monkeypatch.setenv("FIELDTOOL_REVIEWER", "cleo")
    assert main(["review", "confirm", "--db", str(db), "s1"]) == 0
    assert in_force(db)["s1"][2] == "cleo"
    monkeypatch.delenv("FIELDTOOL_REVIEWER")
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "dora")
    assert main(["review", "reject", "--db", str(db), "s2"]) == 0
    assert in_force(db)["s2"][2] == "dora"
    assert main(["review", "confirm", "--db", str(db), "s3", "--by", "eve"]) == 0  # --by wins
    assert in_force(db)["s3"][2] == "eve"


def test_help_says_where_the_reviewer_name_comes_from(capsys):
    with pytest.raises(SystemExit) as done:
        main(["review", "confirm", "--help"])
    assert done.value.code == 0
    assert "FIELDTOOL_REVIEWER" in capsys.readouterr().out


def test_undo_takes_the_latest_back_and_keeps_every_row(db, capsys):
    assert main(["review", "confirm", "--db", str(db), "s1", "--by", "ana"]) == 0
    assert (
        main(["review", "relabel", "--db", str(db), "s1", "--species", "Quercus alba", "--by", "ben"]) == 0
    )
    assert main(["review", "undo", "--db", str(db), "s1", "--by", "ben"]) == 0
    assert in_force(db)["s1"][:2] == ("confirm", "Acer rubrum")
    assert main(["review", "undo", "--db", str(db), "s1", "--by", "ben"]) == 0
    assert "s1" not in in_force(db)
    capsys.readouterr()
    assert "s1" in listed(db, capsys, "--unreviewed")
    assert review_rows(db) == 4


def test_an_error_partway_says_what_was_stored_before_it(db, capsys):
    """s1 has a review to undo, s2 none: s1's undo is kept and the one line says so."""
    assert main(["review", "confirm", "--db", str(db), "s1", "--by", "ana"]) == 0
    capsys.readouterr()
    assert main(["review", "undo", "--db", str(db), "s1", "s2", "--by", "ana"]) == 2
    line = one_error(capsys)
    assert "'s2'" in line and "1 of 2 stored before it (s1)" in line, line
    assert "s1" not in in_force(db)
    assert review_rows(db) == 2
