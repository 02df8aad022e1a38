"""``fieldtool sql``: a NULL prints as NULL (as DuckDB's own CLI shows it), a real NaN as NaN."""

from __future__ import annotations

import pytest

from fieldtool.cli import main
from fieldtool.sqlbox import run_readonly_sql
from fieldtool.store import SightingStore
from fieldtool.types import FieldtoolError

# One row of values, one row of NULLs, one real NaN; a type of each kind DuckDB returns.
QUERY = (
    "SELECT * FROM (VALUES (1, 0.5::DOUBLE, 'NaN'::DOUBLE, 'oak', TIMESTAMP '2024-05-01 12:00:00', "
    "2.50::DECIMAL(5, 2)), (2, NULL, NULL, NULL, NULL, NULL), (3, 'NaN'::DOUBLE, 1.25, 'ash', "
    "NULL, NULL)) t(k, x, y, name, seen, d) ORDER BY k"
)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "s.duckdb"
    SightingStore(path).close()
    return path


def _cells(out: str) -> list[list[str]]:
    """The table ``fieldtool sql`` printed, as rows of cells (no cell here holds a space
    but the timestamp, which is joined back)."""
    rows = []
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 7:  # date and time of a timestamp
            cells[4:6] = [f"{cells[4]} {cells[5]}"]
        rows.append(cells)
    return rows


def test_sql_prints_null_as_null_and_nan_as_nan(db, capsys):
    code = main(["sql", "--db", str(db), QUERY])
    out = capsys.readouterr().out
    assert code == 0
    header, first, nulls, nan = _cells(out)
    assert header == ["k", "x", "y", "name", "seen", "d"]
    assert first == ["1", "0.5", "NaN", "oak", "2024-05-01 12:00:00", "2.50"]
    assert nulls == ["2", "NULL", "NULL", "NULL", "NULL", "NULL"]
    assert nan == ["3", "NaN", "1.25", "ash", "NULL", "NULL"]


def test_nullable_rows_keep_null_apart_from_nan(db):
    frame, truncated = run_readonly_sql(db, QUERY, nullable=True)
    assert not truncated and len(frame) == 3
    assert frame["x"].isna().tolist() == [False, True, False]  # NaN is a value, NULL is not
    assert frame["y"].isna().tolist() == [False, True, False]
    assert frame["name"].isna().tolist() == [False, True, False]
    # The dashboard's frames (the default) are as before: pandas' own types.
    plain, _ = run_readonly_sql(db, QUERY)
    assert plain["x"].isna().tolist() == [False, True, True]


def test_nullable_rows_are_cut_at_max_rows_and_stopped_at_the_time_limit(db):
    frame, truncated = run_readonly_sql(db, "SELECT range AS n FROM range(5000)", max_rows=100,
                                        nullable=True)  # fmt: skip
    assert truncated and frame["n"].tolist() == list(range(100))
    empty, truncated = run_readonly_sql(db, "SELECT 1 AS a WHERE false", nullable=True)
    assert list(empty.columns) == ["a"] and len(empty) == 0 and not truncated
    with pytest.raises(FieldtoolError, match="stopped after"):
        run_readonly_sql(db, "SELECT count(*) FROM range(1000000000000) a, range(1000) b",
                         time_limit_s=0.5, nullable=True)  # fmt: skip


def test_sql_prints_intervals_and_their_nulls(db, capsys):
    """A difference of times (an INTERVAL, which pandas cannot hold as an Arrow type)."""
    took = ("SELECT TIMESTAMP '2024-01-01 10:00' - TIMESTAMP '2024-01-01 09:00:30' AS took "
            "UNION ALL SELECT NULL::INTERVAL ORDER BY 1")  # fmt: skip
    code = main(["sql", "--db", str(db), took])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.strip() for line in lines] == ["took", "0 days 00:59:30", "NULL"]


def test_the_database_may_come_before_the_query_as_duckdbs_own_cli_takes_it(db, capsys):
    """``fieldtool sql FILE "QUERY"`` (as ``duckdb FILE`` and ``sqlite3 FILE`` take it) is
    ``fieldtool sql --db FILE "QUERY"``; both at once, or a query not quoted, is one line."""
    assert main(["sql", str(db), "SELECT 41 + 1 AS answer"]) == 0
    assert capsys.readouterr().out.split() == ["answer", "42"]
    assert main(["sql", "--db", str(db), str(db), "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert "given twice" in err and len(err.strip().splitlines()) == 1
    assert main(["sql", "--db", str(db), "SELECT", "1"]) == 2
    err = capsys.readouterr().err
    assert "quote" in err and len(err.strip().splitlines()) == 1
