"""Commands on a file of an older schema (3): a command that migrates it says so in the one
line run and recover print; ``fieldtool sql`` (read-only) says the file is older when a
query misses later tables or columns; ``eval`` reads it without writing."""

from __future__ import annotations

from datetime import datetime

import duckdb

from fieldtool.cli import main
from fieldtool.config import SmoothingConfig
from fieldtool.evaluate import smoothing_as_run
from fieldtool.store import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION, query

T0 = datetime(2024, 6, 1, 9)


def make_v3_file(db) -> None:
    """A file as fieldtool of schema 3 left it: one finished session, one closed sighting."""
    con = duckdb.connect(str(db))
    con.execute(SCHEMA_V1)
    for migrate in MIGRATIONS[:2]:
        migrate(con)
    con.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    con.execute(
        "INSERT INTO sessions (session_id, source, status, config_json, started_at) "
        "VALUES ('old', 'walk.mp4', 'finished', '{}', ?)",
        [T0],
    )
    con.execute(
        "INSERT INTO sightings (sighting_id, session_id, species, common_name, first_seen, "
        "last_seen, first_t, last_t, frames, peak_score, status) VALUES ('s1', 'old', "
        "'Vulpes vulpes', 'red fox', ?, ?, 1, 2, 3, 0.9, 'closed')",
        [T0, T0],
    )
    con.close()


def _version(db) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert row is not None
    return row[0]


def _upgraded(db) -> str:
    return f"{db}: schema upgraded from version 3 to {SCHEMA_VERSION}"


def test_export_of_a_v3_file_says_it_upgraded_it(tmp_path, capsys):
    db = tmp_path / "v3.duckdb"
    make_v3_file(db)
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(tmp_path / "a.csv")]) == 0
    assert capsys.readouterr().err.count(_upgraded(db)) == 1
    assert _version(db) == str(SCHEMA_VERSION)
    assert "Vulpes vulpes" in (tmp_path / "a.csv").read_text()


def test_a_review_into_a_v3_file_says_it_upgraded_it(tmp_path, capsys):
    db = tmp_path / "v3.duckdb"
    make_v3_file(db)
    assert main(["review", "confirm", "--db", str(db), "--by", "ann", "s1"]) == 0
    err = capsys.readouterr().err
    assert err.count(_upgraded(db)) == 1
    assert _version(db) == str(SCHEMA_VERSION)
    assert query(db, "SELECT decision FROM reviews").decision.tolist() == ["confirm"]


def test_sql_on_a_v3_file_says_it_is_older_and_leaves_it(tmp_path, capsys):
    db = tmp_path / "v3.duckdb"
    make_v3_file(db)
    code = main(["sql", "--db", str(db), "SELECT time_source FROM sessions"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"{db}: schema 3, older than this fieldtool's {SCHEMA_VERSION}" in err
    assert f"fieldtool recover --db {db}" in err
    assert _version(db) == "3"


def test_sql_on_a_v3_file_that_works_says_it_too(tmp_path, capsys):
    db = tmp_path / "v3.duckdb"
    make_v3_file(db)
    assert main(["sql", "--db", str(db), "SELECT species FROM sightings"]) == 0
    out, err = capsys.readouterr()
    assert "Vulpes vulpes" in out
    assert err.count(f"{db}: schema 3, older than this fieldtool's {SCHEMA_VERSION}") == 1


def test_sql_on_a_current_file_says_nothing_of_the_schema(tmp_path, capsys):
    from fieldtool.store import SightingStore

    db = tmp_path / "new.duckdb"
    SightingStore(db).close()
    assert main(["sql", "--db", str(db), "SELECT count(*) AS n FROM sessions"]) == 0
    assert "schema" not in capsys.readouterr().err


def test_eval_reads_a_v3_session_without_writing(tmp_path):
    """Before schema 5 sessions had no time_source (photo sessions came with 7): the
    session is scored as a video session, and the file stays as it was."""
    db = tmp_path / "v3.duckdb"
    make_v3_file(db)
    cfg = SmoothingConfig()
    assert smoothing_as_run(db, "old", cfg) == cfg
    assert _version(db) == "3"


def test_the_dashboards_accumulation_reads_a_file_from_before_the_media_table(tmp_path):
    """The dashboard opens a file read-only and never upgrades it: a file from before the
    media table (schema 7: schema 5 and 6 files have the effort view) has no photo
    sessions, and its effort is walked as video's."""
    from datetime import timedelta

    from fieldtool.dashboard.aggregate import load_accumulation
    from fieldtool.store import SightingStore
    from fieldtool.store.views import track_legs_sql
    from fieldtool.types import Position, SessionInfo, Sighting

    db = tmp_path / "v6.duckdb"
    t0 = datetime(2026, 6, 1, 9)
    store = SightingStore(db)
    store.record_session(SessionInfo("s", "/x/walk.mp4", "tiny", t0))
    for k in range(3):  # 0.001 degrees of latitude a step: ~111 m each
        store.record_track("s", t0 + timedelta(seconds=k), float(k), Position(44.0 + k / 1e3, -123.0))
    store.record_sighting(Sighting("a", "s", "Acer rubrum", "", t0, t0, 2.5, 2.5, frames=1,
                                   peak_score=0.9, score_sum=0.9, status="closed"))  # fmt: skip
    store.close()
    from fieldtool.store.views import VIEWS

    (select,) = [sql for name, _, sql in VIEWS if name == "effort"]
    con = duckdb.connect(str(db))  # as a schema 6 file is: no media table, its own effort view
    con.execute("DROP VIEW effort")
    con.execute("DROP TABLE media")
    con.execute("CREATE VIEW effort AS "
                + select.replace(track_legs_sql(), track_legs_sql(photos=False)))  # fmt: skip
    con.close()
    frame = load_accumulation(db, reviewed=False)
    assert frame["km"].iloc[-1] * 1000 > 200  # the walk's ~222 m
