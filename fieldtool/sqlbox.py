"""Read-only SQL over a sightings file: the runner ``fieldtool sql`` and the dashboard share.

A query runs only if it is one SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE that neither
writes nor reaches files, URLs, extensions or other databases (:func:`check_readonly_sql`).
Past the check, :func:`run_readonly_sql` opens the file read-only, switches external access
off and locks the configuration, stops the query after a time limit and returns at most a
given number of rows.

Imports neither Streamlit nor pydeck: the command line runs SQL without the dashboard.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import duckdb
import pandas as pd

from fieldtool.store import connect
from fieldtool.types import FieldtoolError

SQL_ALLOWED_FIRST = ("select", "with", "describe", "show", "summarize")
SQL_MAX_ROWS = 10_000
SQL_TIME_LIMIT_S = 20.0
# Statements and functions that reach files, URLs, other databases or extensions, or write.
_SQL_REFUSED = re.compile(
    r"\b(read_\w+|\w+_scan|\w+_attach|glob|sniff_csv|parquet_\w+|iceberg_\w+|delta_\w+|st_read\w*"
    r"|httpfs|http_\w+|attach|detach|copy|install|load|export|import|pragma|call|set|reset|use"
    r"|checkpoint|create|insert|update|delete|drop|alter|truncate|vacuum|begin|commit|rollback"
    r"|secret|getenv)\b",
    re.IGNORECASE,
)
_FILE_LITERAL = re.compile(
    r"(://|^[/~\\]|^\.\.?[/\\]|^[a-z]:[/\\]"
    r"|\.(csv|tsv|parquet|json|jsonl|ndjson|txt|xlsx?|duckdb|db|sqlite3?|arrow|feather|avro"
    r"|gz|zst|bz2|xz|zip)$)",
    re.IGNORECASE,
)


def check_readonly_sql(sql: str) -> str:
    """The statement if it is one SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE without file access.

    Raises :class:`FieldtoolError` with the reason otherwise: several statements, another
    kind of statement, a table function or statement that reaches files, URLs, other
    databases or extensions (``read_csv``, ``ATTACH``, ``COPY``, ``INSTALL`` ...), or a
    string literal that looks like a path or URL (``'/data/x.csv'``, ``FROM 'x.parquet'``).
    """
    text = sql.strip()
    if not text:
        raise FieldtoolError("Enter a query.")
    masked, literals = _mask_sql(text)
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise FieldtoolError(f"SQL error: {str(exc).strip().splitlines()[0]}") from None
    if len(statements) != 1:
        raise FieldtoolError(
            f"Refused: one statement at a time, this has {len(statements)} statements."
        )
    head = re.match(r"\s*([A-Za-z_]+)", masked)
    first = head.group(1).lower() if head else ""
    if first not in SQL_ALLOWED_FIRST or statements[0].type != duckdb.StatementType.SELECT:
        kind = first.upper() or "this"
        raise FieldtoolError(
            f"Refused: {kind} statements are not allowed; only read-only queries starting with "
            f"{', '.join(w.upper() for w in SQL_ALLOWED_FIRST)} run here."
        )
    refused = _SQL_REFUSED.search(masked)
    if refused:
        raise FieldtoolError(
            f"Refused: {refused.group(0)!r} reaches files, URLs, extensions or other databases, "
            "or writes; this page only reads the sightings database."
        )
    if re.search(r"\b(from|join)\s*\(?\s*'", masked, re.IGNORECASE):
        raise FieldtoolError("Refused: reading a file or URL named in a string is not allowed.")
    for literal in literals:
        if _FILE_LITERAL.search(literal.strip()):
            raise FieldtoolError(
                f"Refused: the string {literal!r} looks like a file path or URL; file and "
                "network access are not allowed."
            )
    return text


def _mask_sql(sql: str) -> tuple[str, list[str]]:
    """SQL with comments removed and literals/quoted names blanked, and the string literals.

    Strings become ``''`` and quoted identifiers ``""``, so keyword checks see neither.
    """
    out: list[str] = []
    literals: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise FieldtoolError("SQL error: unterminated comment.")
            i = end + 2
            out.append(" ")
        elif ch in "'\"":
            j, value = i + 1, []
            while True:
                if j >= n:
                    raise FieldtoolError("SQL error: unterminated quoted text.")
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote: an escaped quote
                        value.append(ch)
                        j += 2
                        continue
                    break
                value.append(sql[j])
                j += 1
            if ch == "'":
                literals.append("".join(value))
            out.append(ch * 2)
            i = j + 1
        elif ch == "$" and (m := re.match(r"\$(\w*)\$", sql[i:])) and not sql[i - 1 : i].isalnum():
            tag = m.group(0)
            end = sql.find(tag, i + len(tag))
            if end < 0:
                raise FieldtoolError("SQL error: unterminated dollar-quoted text.")
            literals.append(sql[i + len(tag) : end])
            out.append("''")
            i = end + len(tag)
        else:
            out.append(ch)
            i += 1
    return "".join(out), literals


def run_readonly_sql(
    db_path: Path | str,
    sql: str,
    *,
    max_rows: int = SQL_MAX_ROWS,
    time_limit_s: float = SQL_TIME_LIMIT_S,
    timeout_s: float = 10.0,
) -> tuple[pd.DataFrame, bool]:
    """Run a checked query (:func:`check_readonly_sql`); returns (rows, truncated).

    Besides the check: the file is opened read-only, external access (files, URLs,
    extensions, ATTACH) is switched off and locked for the connection, the query is
    stopped after ``time_limit_s`` and at most ``max_rows`` rows are returned.
    """
    statement = check_readonly_sql(sql)
    chunks: list[pd.DataFrame] = []
    with connect(db_path, read_only=True, timeout_s=timeout_s) as con:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        timer = threading.Timer(time_limit_s, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            result = con.execute(statement)
            rows = 0
            while rows <= max_rows:
                chunk = result.fetch_df_chunk()
                if chunk.empty:
                    break
                chunks.append(chunk)
                rows += len(chunk)
        except duckdb.InterruptException:
            raise FieldtoolError(f"Query stopped after {time_limit_s:g} s.") from None
        except duckdb.Error as exc:
            raise FieldtoolError(f"Query failed: {str(exc).strip().splitlines()[0]}") from None
        finally:
            timer.cancel()
    if not chunks:
        columns = [d[0] for d in result.description or []]
        return pd.DataFrame(columns=columns), False
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    return frame.iloc[:max_rows].reset_index(drop=True), len(frame) > max_rows
