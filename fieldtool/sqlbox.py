"""Read-only SQL over a sightings file: the runner ``fieldtool sql`` and the dashboard share.

A query runs only if it is one SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE that neither
writes nor reaches files, URLs, extensions or other databases (:func:`check_readonly_sql`).
Past the check, :func:`run_readonly_sql` runs it on a fresh engine (:func:`open_engine`: an
in-memory DuckDB of its own with the file attached read-only, memory and thread limits,
external access off, configuration locked), stops it after a time limit and returns at
most a given number of rows and bytes. :class:`SqlGate` queues a process's queries and
lets its writes (reviews) in between them.

Imports neither Streamlit nor pydeck: the command line runs SQL without the dashboard.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from fieldtool.store import locking
from fieldtool.store.files import check_before_open, check_opened, first_line, open_error
from fieldtool.store.schema import older_schema_note, schema_version
from fieldtool.types import FieldtoolError

SQL_ALLOWED_FIRST = ("select", "with", "describe", "show", "summarize")
SQL_MAX_ROWS = 10_000
SQL_MAX_BYTES = 64 * 1024 * 1024  # about this much of a result is kept (pandas' in-memory size)
SQL_TIME_LIMIT_S = 20.0
SQL_MEMORY_LIMIT = "1GB"  # DuckDB's memory_limit of each query's engine
SQL_THREADS = 2
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
        # a lone separator ('/', as in split_part(path, '/', -1)) names no file
        if len(literal.strip()) > 1 and _FILE_LITERAL.search(literal.strip()):
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


class SqlGate:
    """Queues read-only queries of one process and lets a write in between them.

    At most ``slots`` queries run at once; more wait their turn (up to ``queue_s``) rather
    than fail. DuckDB lets a process hold a file read-only or read-write, not both, so a
    write of the same process (a review) calls :meth:`writing`: no query starts, the
    running ones are interrupted (their callers are told to run them again) and the write
    goes ahead at once instead of waiting for them.
    """

    def __init__(self, slots: int = 2, queue_s: float = 60.0) -> None:
        if slots < 1:
            raise FieldtoolError(f"SQL query slots: {slots}, expected at least 1")
        self.slots = slots
        self.queue_s = queue_s
        self._cond = threading.Condition()
        self._running: dict[int, duckdb.DuckDBPyConnection] = {}
        self._stopped: set[int] = set()
        self._writers = 0
        self._next = 0

    @contextmanager
    def turn(self) -> Iterator[Callable[[duckdb.DuckDBPyConnection], int]]:
        """Wait for a free slot; yields ``register(con)``, which makes ``con`` one a write
        may interrupt and returns its ticket (for :meth:`stopped_for_write`)."""
        tickets: list[int] = []
        with self._cond:
            free = self._cond.wait_for(
                lambda: self._writers == 0 and len(self._running) < self.slots, self.queue_s
            )
            if not free:
                raise FieldtoolError(
                    f"Query not run: {self.slots} queries kept the database busy for "
                    f"{self.queue_s:g} s; run it again."
                )
            self._next += 1
            ticket = self._next
            self._running[ticket] = None  # type: ignore[assignment]  # slot taken, no engine yet

        def register(con: duckdb.DuckDBPyConnection) -> int:
            with self._cond:
                self._running[ticket] = con
            tickets.append(ticket)
            return ticket

        try:
            yield register
        finally:
            with self._cond:
                self._running.pop(ticket, None)
                self._cond.notify_all()

    def engines(self) -> int:
        """Queries whose engine is open now."""
        with self._cond:
            return sum(con is not None for con in self._running.values())

    def stopped_for_write(self, ticket: int) -> bool:
        """Whether the query of ``ticket`` was interrupted by :meth:`writing`."""
        with self._cond:
            return ticket in self._stopped

    @contextmanager
    def writing(self, wait_s: float = 5.0) -> Iterator[None]:
        """Hold queries back and interrupt the running ones for the length of a write."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            self._writers += 1
            # Again and again: a query may have been between connecting and starting.
            while self._running and time.monotonic() < deadline:
                for ticket, con in self._running.items():
                    if con is not None:
                        self._stopped.add(ticket)
                        with suppress(duckdb.Error):  # closed already, on its way out
                            con.interrupt()
                self._cond.wait(0.05)
        try:
            yield
        finally:
            with self._cond:
                self._writers -= 1
                self._stopped.clear()
                self._cond.notify_all()


def _held(exc: Exception) -> bool:
    """Whether an ATTACH failed because the file is held read-write: by another process
    (a file lock) or by a writer of this one (DuckDB's one handle per file)."""
    text = str(exc).lower()
    return any(
        words in text
        for words in ("could not set lock", "conflicting lock", "lock on file",
                      "unique file handle conflict", "already attached")
    )  # fmt: skip


def open_engine(
    db_path: Path | str,
    *,
    memory_limit: str = SQL_MEMORY_LIMIT,
    threads: int = SQL_THREADS,
    timeout_s: float = 10.0,
) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with ``db_path`` attached read-only as the default database.

    Its own instance, so its limits (``memory_limit``, ``threads``) and locked settings
    (external access off, extensions never installed or loaded by themselves) touch no
    other connection of the process. Retries while another process writes the file.
    """
    path = Path(db_path)
    if path.is_dir():
        raise FieldtoolError(f"{path}: is a folder, expected a database file")
    if not path.is_file():
        raise FieldtoolError(f"{path}: sightings database not found")
    maybe_short = check_before_open(path)  # a SQLite file would make DuckDB fetch its extension
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "threads": int(threads),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    literal = str(path.resolve()).replace("'", "''")
    deadline = time.monotonic() + timeout_s
    while True:
        con = duckdb.connect(":memory:", config=config)
        try:
            locking.apply_settings(con)  # what every connection of fieldtool gets
            con.execute(f"ATTACH '{literal}' AS db (READ_ONLY)")
            con.execute("USE db")
        except duckdb.Error as exc:
            con.close()
            if not _held(exc):
                raise FieldtoolError(f"{path}: {open_error(exc)}") from None
            if time.monotonic() >= deadline:
                raise FieldtoolError(
                    f"{path}: held by a writer for {timeout_s:g} s; run the query again"
                ) from None
            time.sleep(0.05)
            continue
        try:  # a file cut short, a schema version that is not a number: refused
            check_opened(con, path, maybe_short)
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        return con


def run_readonly_sql(
    db_path: Path | str,
    sql: str,
    *,
    max_rows: int = SQL_MAX_ROWS,
    max_bytes: int = SQL_MAX_BYTES,
    time_limit_s: float = SQL_TIME_LIMIT_S,
    timeout_s: float = 10.0,
    memory_limit: str = SQL_MEMORY_LIMIT,
    threads: int = SQL_THREADS,
    gate: SqlGate | None = None,
    nullable: bool = False,
    note: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, bool]:
    """Run a checked query (:func:`check_readonly_sql`); returns (rows, truncated).

    ``nullable``: columns of pandas' Arrow types (``pd.ArrowDtype``), in which a NULL is
    ``pd.NA`` and a NaN stays a value; by default pandas' own types, in which a NULL
    double, decimal or text is NaN (``fieldtool sql`` prints NULL, so it asks for these).

    Besides the check: a fresh engine per query (:func:`open_engine`: the file read-only,
    ``memory_limit`` and ``threads``, external access off and locked), stopped after
    ``time_limit_s``, at most ``max_rows`` rows and about ``max_bytes`` bytes returned.
    ``gate`` queues the query behind others of the process (:class:`SqlGate`).

    A file of an older schema is read as it is (never migrated here): a query that fails
    on it says so in its error (a later table or column is missing), and ``note`` hears
    the same line before the rows of one that runs (:func:`~fieldtool.store.schema.older_schema_note`).
    """
    statement = check_readonly_sql(sql)
    try:  # again past the check: one read-only statement, whatever the check let through
        parsed = duckdb.extract_statements(statement)
    except duckdb.Error as exc:
        raise FieldtoolError(f"SQL error: {first_line(exc)}") from None
    if len(parsed) != 1 or parsed[0].type != duckdb.StatementType.SELECT:
        raise FieldtoolError("Refused: one read-only query at a time.")
    with gate.turn() if gate is not None else nullcontext(None) as register:
        con = open_engine(db_path, memory_limit=memory_limit, threads=threads,
                          timeout_s=timeout_s)  # fmt: skip
        try:
            # read before the engine is registered: a review interrupts registered engines,
            # and that stop is told only around the query (_fetch)
            older = older_schema_note(db_path, schema_version(con, db_path))
        except BaseException:
            con.close()
            raise
        ticket = register(con) if register is not None else None
        try:
            found = _fetch(con, statement, max_rows, max_bytes, time_limit_s, gate, ticket,
                           nullable, older)  # fmt: skip
        finally:
            con.close()
    if older and note is not None:
        note(older)
    return found


def _fetch(
    con: duckdb.DuckDBPyConnection,
    statement: str,
    max_rows: int,
    max_bytes: int,
    time_limit_s: float,
    gate: SqlGate | None,
    ticket: int | None,
    nullable: bool = False,
    older: str | None = None,
) -> tuple[pd.DataFrame, bool]:
    """The rows (see :func:`run_readonly_sql`); ``older``: what a failed query adds of a file
    of an older schema."""
    chunks: list[pd.DataFrame] = []
    columns: list[str] = []
    timer = threading.Timer(time_limit_s, con.interrupt)
    timer.daemon = True
    timer.start()
    size = rows = 0
    try:
        for chunk, nbytes in _chunks(con, statement, nullable, columns):
            chunks.append(chunk)
            rows += len(chunk)
            size += nbytes
            if rows > max_rows or size > max_bytes:
                break
    except duckdb.InterruptException:
        if gate is not None and ticket is not None and gate.stopped_for_write(ticket):
            raise FieldtoolError(
                "Query stopped so that a review could be stored; run it again."
            ) from None
        raise FieldtoolError(f"Query stopped after {time_limit_s:g} s.") from None
    except duckdb.OutOfMemoryException:
        raise FieldtoolError(
            "Query stopped: it needed more memory than the SQL page allows "
            "(aggregate or filter more, or use `fieldtool sql`)."
        ) from None
    except duckdb.Error as exc:
        why = f" ({older})" if older else ""
        raise FieldtoolError(f"Query failed: {first_line(exc)}{why}") from None
    finally:
        timer.cancel()
    if not chunks:
        return pd.DataFrame(columns=columns), False
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    keep = min(max_rows, len(frame))
    if size > max_bytes:  # keep the rows that fit (rows of a frame are about equal in size)
        keep = min(keep, max(1, int(len(frame) * max_bytes / size)))
    return frame.iloc[:keep].reset_index(drop=True), len(frame) > keep


def _chunks(
    con: duckdb.DuckDBPyConnection, statement: str, nullable: bool, columns: list[str]
) -> Iterator[tuple[pd.DataFrame, int]]:
    """The result's rows a chunk at a time (DuckDB's vector size, 2,048 rows) with their
    size in bytes; its column names into ``columns`` (an empty result has no chunk)."""
    if nullable:  # Arrow keeps NULL (a null) apart from NaN (a value); pandas' types do not
        reader = con.sql(statement).to_arrow_reader(2048)
        columns += reader.schema.names
        for batch in reader:
            if batch.num_rows:
                yield _nullable_frame(batch), batch.nbytes
        return
    result = con.execute(statement)
    columns += [d[0] for d in result.description or []]
    while not (chunk := result.fetch_df_chunk()).empty:
        yield chunk, int(chunk.memory_usage(deep=True).sum())


def _nullable_frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """A batch as columns of pandas' Arrow types; an INTERVAL column, which pandas cannot
    hold so, as objects: a ``pd.Timedelta`` (as pandas' own types give it), a text with
    its months when it has some, None for NULL."""
    intervals = [i for i, f in enumerate(batch.schema) if pa.types.is_interval(f.type)]
    frame = batch.to_pandas(
        types_mapper=lambda kind: None if pa.types.is_interval(kind) else pd.ArrowDtype(kind)
    )
    for i in intervals:
        values = [_interval(v) for v in batch.column(i).to_pylist()]
        frame.isetitem(i, pd.Series(values, dtype=object))
    return frame


def _interval(value: Any) -> pd.Timedelta | str | None:
    """An Arrow month-day-nanosecond interval (or None) for display."""
    if value is None:
        return None
    span = pd.Timedelta(days=value.days, nanoseconds=value.nanoseconds)
    return f"{value.months} months {span}" if value.months else span
