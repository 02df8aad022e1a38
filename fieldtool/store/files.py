"""Is this a sound sightings file? Checked before DuckDB opens it, and right after.

Before: a folder, a file that is not DuckDB's (a text file) and a SQLite file are refused
without DuckDB seeing them (an empty one DuckDB refuses itself): DuckDB opens a SQLite file through its
``sqlite`` extension, which it would try to fetch from the network. After (the file is
open, so no other process writes it): a file cut short (a copy or an SD card that lost
its end) is refused when data blocks it uses lie past its end, and a
``meta.schema_version`` that is not a number is refused, both before anything reads or
writes it. Damage DuckDB finds by itself (a checksum that does not match) is reported as
one line too (:func:`open_error`).

A DuckDB file starts with three 4 KiB headers: the main one (``DUCK`` at byte 8), then
two database headers of which the one with the higher iteration is in force; it holds
the block count and block size. A checkpoint may cut free blocks off the end without
lowering that count, so a file shorter than the count says is only damaged when a block
in use lies past its end: more blocks are missing than are free, or a table's data or the
catalog lies there (``pragma_database_size``, ``pragma_storage_info``,
``pragma_metadata_info``).
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import duckdb

from fieldtool.store.schema import parse_version
from fieldtool.types import FieldtoolError

HEADER_SIZE = 3 * 4096  # main header + two database headers
SQLITE_MAGIC = b"SQLite format 3\x00"
DUCKDB_MAGIC = b"DUCK"  # at byte 8


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (DuckDB's run on with hints and links)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def check_before_open(path: Path) -> bool:
    """Refuse what DuckDB must not be given; True when the file's headers claim more
    blocks than it holds (then :func:`check_opened` looks at which blocks are in use)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False  # a writer creates it (readers refuse a missing file earlier)
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot open ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise FieldtoolError(f"{path}: is a folder, expected a database file")
    if not stat.S_ISREG(st.st_mode):
        raise FieldtoolError(f"{path}: not a regular file, expected a database file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEADER_SIZE)
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head.startswith(SQLITE_MAGIC):
        raise FieldtoolError(
            f"{path}: a SQLite database, not a DuckDB file (fieldtool keeps sightings in DuckDB)"
        )
    if not head:
        return False  # empty: DuckDB says what it is (a file another writer is creating)
    if len(head) < 12 or head[8:12] != DUCKDB_MAGIC:
        raise FieldtoolError(
            f"{path}: not a DuckDB database file, expected a fieldtool sightings database"
        )
    claimed = _claimed_size(head)
    return claimed is not None and st.st_size < claimed


def _claimed_size(head: bytes) -> int | None:
    """Bytes the database header in force accounts for; None where it cannot be read."""
    if len(head) < HEADER_SIZE:
        return None
    best: tuple[int, int, int] | None = None
    for offset in (4096, 8192):
        iteration, _, _, blocks, block_size = struct.unpack_from("<QqqQQ", head, offset + 8)
        if best is None or iteration > best[0]:
            best = (iteration, blocks, block_size)
    assert best is not None
    _, blocks, block_size = best
    block_size = block_size or 262144  # files of DuckDB before 1.2 leave it 0
    if block_size & (block_size - 1) or not 4096 <= block_size <= 1 << 30 or blocks > 1 << 40:
        return None  # not a header we understand: DuckDB's checksums decide
    return HEADER_SIZE + blocks * block_size


def check_opened(con: duckdb.DuckDBPyConnection, path: Path, maybe_short: bool) -> None:
    """Checks that need the open file: data past its end, a schema version that is not a
    number. Raises FieldtoolError naming ``path``."""
    try:
        if maybe_short:
            _check_length(con, path)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except duckdb.CatalogException:
            row = None  # a new file: no tables yet
        if row is not None:
            parse_version(row[0], path)
    except duckdb.Error as exc:
        raise FieldtoolError(f"{path}: {open_error(exc)}") from None


def _check_length(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Blocks past the end of the file must all be free ones a checkpoint cut off."""
    row = con.execute(
        "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchone()
    if row is None:
        return
    block_size, total, free = int(row[0]), int(row[1]), int(row[2])
    size = os.stat(path).st_size
    have = max(size - HEADER_SIZE, 0) // block_size  # whole blocks in the file
    if have >= total:
        return
    used = [r[0] for r in con.execute("SELECT block_id FROM pragma_metadata_info()").fetchall()]
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary"
    ).fetchall()
    for schema, table in tables:
        top = con.execute(
            "SELECT max(greatest(block_id, coalesce(list_max(additional_block_ids), -1))) "
            "FROM pragma_storage_info(?) WHERE persistent",
            [f'"{schema}"."{table}"'],
        ).fetchone()
        if top is not None and top[0] is not None:
            used.append(top[0])
    last = max((int(b) for b in used if b is not None), default=-1)
    missing = total - have  # blocks past the end; more than the free ones: some were in use
    if last >= have or missing > free:
        lost = f"data up to byte {HEADER_SIZE + (last + 1) * block_size}" if last >= have else (
            f"{missing - free} block(s) in use past its end")  # fmt: skip
        raise FieldtoolError(
            f"{path}: damaged: truncated to {size} bytes, but it holds {lost}; restore it "
            "from a copy (nothing was written into it)"
        )


def open_error(exc: BaseException) -> str:
    """What a DuckDB error met while opening or checking a file says, in a few words."""
    first = first_line(exc)
    if "Corrupt database file" in first or "checksum" in first:
        return f"damaged DuckDB file ({first})"
    if "Could not read enough bytes" in first:
        return f"damaged DuckDB file, truncated ({first})"
    if "not a valid DuckDB database file" in first:
        return "not a DuckDB database file, expected a fieldtool sightings database"
    return f"cannot open database ({first})"
