"""The journal: rows a writer could not write yet, safe on disk beside the file.

A writer that cannot get the file (or cannot write it) appends its unwritten rows to its
own journal ``<db>.journal-<host>-<pid>-<token>.jsonl`` (fsynced): one header line (host,
pid, pid start time, boot id and start ticks; the file's resolved path, device and
inode), then one JSON line per row. The journal lies beside the file itself, symlinks
resolved, so a file opened under another name finds it. Upserted tables keep the row's
last version on replay; appended ones are replayed idempotently. A writer deletes its
journal once the rows are in the file; the next writer on the host (or ``fieldtool
recover``) replays the journals of dead writers and of closed stores of its own process
(:func:`fieldtool.store.maintenance.recover`). Lines that cannot be read (cut short by a
power loss, not UTF-8, a value of the wrong type) are moved to ``<journal>.damaged``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fieldtool.store.process import HOST, SAFE_HOST, ProcessIdentity
from fieldtool.store.schema import APPEND_KEYS, TABLES, TIMESTAMP, UPSERT_KEYS

JOURNAL_FORMAT = 1
# The writer's host, pid and token; older journals had a counter as the token.
_NAME = re.compile(r"\.journal-(.+)-(\d+)-(\w+)\.jsonl$")


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def journal_path(db: Path, writer: ProcessIdentity, token: str) -> Path:
    """The journal of one store (``token``: unique to it) in process ``writer``: beside
    the file itself (symlinks resolved)."""
    real = db.resolve()
    return real.with_name(f"{real.name}.journal-{SAFE_HOST}-{writer.pid}-{token}.jsonl")


def journals_of(db: Path) -> list[Path]:
    """Every journal of ``db``, of any writer: beside the file itself, and beside the name
    it was given (where journals of an older fieldtool opened through a symlink lie)."""
    found: set[Path] = set()
    for place in {db.resolve(), db.absolute()}:
        found.update(place.parent.glob(f"{glob_escape(place.name)}.journal-*.jsonl"))
    return sorted(found)


def file_identity(db: Path) -> tuple[int, int] | None:
    """(device, inode) of the file ``db`` names; None when it does not exist."""
    try:
        st = db.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


# Journals of stores this process closed with rows in them: no writer of this process
# appends to them any more, so the next store (or recover) may replay them at once.
_RELEASED: set[Path] = set()


def release(path: Path) -> None:
    """A closed store leaves its journal to be replayed (in this process too)."""
    _RELEASED.add(path.resolve())


def released(path: Path) -> bool:
    """Whether a store of this process closed leaving this journal."""
    return path.resolve() in _RELEASED


def forget(path: Path) -> None:
    """The journal was replayed and deleted."""
    _RELEASED.discard(path.resolve())


def encode(value: Any) -> Any:
    """A row value as JSON can hold it (times as ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def journal_line(table: str, names: Iterable[str], row: tuple) -> str:
    """One row of ``table`` (values in the order of ``names``) as a journal line."""
    data = {name: encode(value) for name, value in zip(names, row, strict=True)}
    return json.dumps({"table": table, "row": data}) + "\n"


def append_journal(path: Path, db: Path, writer: ProcessIdentity, lines: list[str]) -> None:
    """Append ``lines`` to the journal at ``path`` (a header first when new), fsynced.

    All or nothing: raises OSError when the journal cannot be written, after cutting it
    back to what it held (or removing it when it was new), so no torn line is left."""
    new = not path.exists() or path.stat().st_size == 0
    text = "".join(lines)
    if new:
        real = db.resolve()
        dev_ino = file_identity(real)
        header = {"journal": JOURNAL_FORMAT, "db": real.name, "db_path": str(real),
                  "db_dev": dev_ino[0] if dev_ino else None,
                  "db_ino": dev_ino[1] if dev_ino else None, "host": writer.host,
                  "pid": writer.pid, "pid_started_at": encode(writer.started_at),
                  "boot_id": writer.boot_id, "start_ticks": writer.start_ticks}  # fmt: skip
        text = json.dumps(header) + "\n" + text
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            if new:  # the journal's name, too, survives a power loss
                _fsync_folder(path.parent)
        except OSError:
            try:
                os.ftruncate(fd, size)
                if new:
                    os.unlink(path)
            except OSError:
                pass  # the torn end is a damaged line for the reader
            raise
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not on this platform (Windows): the file's own fsync is what there is
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fits(typ: pa.DataType, value: Any) -> bool:
    """Whether a journal value (JSON-decoded) fits a column of arrow type ``typ``."""
    if value is None:
        return True
    if pa.types.is_string(typ):
        return isinstance(value, str)
    if pa.types.is_boolean(typ):
        return isinstance(value, bool)
    if pa.types.is_integer(typ):
        return isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_floating(typ):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if pa.types.is_timestamp(typ):
        return isinstance(value, datetime)
    if pa.types.is_list(typ):
        return isinstance(value, list) and all(_fits(typ.value_type, v) for v in value)
    return False


def _decode_row(table: str, row: dict) -> dict:
    """A journal row as insert_rows takes it; ValueError when a value does not fit."""
    types = TABLES[table]
    out = {}
    for key, value in row.items():
        if key in types:
            if types[key] == TIMESTAMP and isinstance(value, str):
                value = datetime.fromisoformat(value)
            if not _fits(types[key], value):
                raise ValueError(f"{table}.{key}: {value!r}")
            out[key] = value
    keys = APPEND_KEYS.get(table) or (UPSERT_KEYS[table],)
    if any(out.get(k) is None for k in keys[:1]):
        raise ValueError(f"{table}: no {keys[0]}")
    return out


@dataclass
class JournalContents:
    """What a journal holds: its header, rows per table (upserts: the last version of
    each row), and the raw lines that could not be read."""

    header: dict
    rows: dict[str, list[dict]]
    damaged: list[bytes] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())


def read_journal(path: Path) -> JournalContents:
    """Read a journal; a line that is not UTF-8, not JSON, or not a row of a known table
    with values of the right types is set aside in ``damaged``, the others are kept."""
    header: dict = {}
    upserts: dict[str, dict[str, dict]] = {t: {} for t in UPSERT_KEYS}
    appends: dict[str, list[dict]] = {t: [] for t in APPEND_KEYS}
    damaged: list[bytes] = []
    with path.open("rb") as lines:
        for n, raw in enumerate(lines):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw.decode("utf-8"))
                if n == 0 and isinstance(item, dict) and "journal" in item:
                    header = item
                    continue
                table = item["table"]
                row = _decode_row(table, item["row"])
            except (ValueError, KeyError, TypeError, AttributeError):
                damaged.append(raw if raw.endswith(b"\n") else raw + b"\n")
                continue
            if table in upserts:
                upserts[table][row[UPSERT_KEYS[table]]] = row
            else:
                appends[table].append(row)
    rows: dict[str, list[dict]] = {t: list(r.values()) for t, r in upserts.items()}
    rows.update(appends)
    return JournalContents(header, rows, damaged)


def quarantine(path: Path, damaged: list[bytes]) -> Path:
    """Append ``damaged`` lines to ``<journal>.damaged`` beside it (fsynced); its path."""
    target = path.with_name(path.name + ".damaged")
    with target.open("ab") as out:
        out.write(b"".join(damaged))
        out.flush()
        os.fsync(out.fileno())
    return target


def journal_owner(path: Path, header: dict) -> ProcessIdentity | None:
    """The writer of a journal, from its header or else its name; None where unknown."""
    if header:
        started = header.get("pid_started_at")
        ticks = header.get("start_ticks")
        return ProcessIdentity(
            header.get("host", ""),
            int(header.get("pid", -1)),
            datetime.fromisoformat(started) if started else None,
            header.get("boot_id") or None,
            int(ticks) if isinstance(ticks, int) else None,
        )
    found = _NAME.search(path.name)
    if found is None:
        return None
    host = HOST if found.group(1) == SAFE_HOST else found.group(1)
    return ProcessIdentity(host, int(found.group(2)), None)


def other_file(header: dict, db: Path) -> bool:
    """Whether the journal was written for another file than the one ``db`` names now
    (device and inode differ: the file was replaced, or the name points elsewhere)."""
    dev, ino = header.get("db_dev"), header.get("db_ino")
    if dev is None or ino is None:
        return False  # an older journal, or written before the file existed
    return file_identity(db.resolve()) not in (None, (dev, ino))


def moved(header: dict, path: Path) -> bool:
    """Whether the journal at ``path`` lies in another folder than the file it was written
    for (a writer writes it beside that file only): it was copied or moved with a folder."""
    written_for = header.get("db_path")
    return isinstance(written_for, str) and Path(written_for).parent != path.resolve().parent
