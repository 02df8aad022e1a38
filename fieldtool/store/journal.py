"""The journal: rows a writer could not write yet, safe on disk beside the file.

A writer that cannot get the file appends its unwritten rows to its own journal
``<db>.journal-<host>-<pid>-<token>.jsonl`` (fsynced): one header line (host, pid, pid
start time), then one JSON line per row. Upserted tables keep the row's last version on
replay; appended ones are replayed idempotently. A writer deletes its journal once the
rows are in the file; the next writer on the host replays the journals of dead writers
(:func:`fieldtool.store.maintenance.recover`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from fieldtool.store.process import HOST, SAFE_HOST, ProcessIdentity
from fieldtool.store.schema import APPEND_KEYS, TABLES, TIMESTAMP, UPSERT_KEYS

JOURNAL_FORMAT = 1
# The writer's host, pid and token; older journals had a counter as the token.
_NAME = re.compile(r"\.journal-(.+)-(\d+)-(\w+)\.jsonl$")


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def journal_path(db: Path, writer: ProcessIdentity, token: str) -> Path:
    """The journal of one store (``token``: unique to it) in process ``writer``."""
    return db.with_name(f"{db.name}.journal-{SAFE_HOST}-{writer.pid}-{token}.jsonl")


def journals_of(db: Path) -> list[Path]:
    """Every journal beside ``db``, of any writer."""
    return sorted(db.parent.glob(f"{glob_escape(db.name)}.journal-*.jsonl"))


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

    Raises OSError when the journal cannot be written."""
    new = not path.exists()
    with path.open("a", encoding="utf-8") as out:
        if new:
            header = {"journal": JOURNAL_FORMAT, "db": db.name, "host": writer.host,
                      "pid": writer.pid, "pid_started_at": encode(writer.started_at)}  # fmt: skip
            out.write(json.dumps(header) + "\n")
        out.write("".join(lines))
        out.flush()
        os.fsync(out.fileno())


def _decode_row(table: str, row: dict) -> dict:
    types = TABLES[table]
    out = {}
    for key, value in row.items():
        if key in types:
            if types[key] == TIMESTAMP and isinstance(value, str):
                value = datetime.fromisoformat(value)
            out[key] = value
    return out


def read_journal(path: Path) -> tuple[dict, dict[str, list[dict]], int]:
    """(header, rows per table, damaged lines) of a journal; upserts keep the last row."""
    header: dict = {}
    upserts: dict[str, dict[str, dict]] = {t: {} for t in UPSERT_KEYS}
    appends: dict[str, list[dict]] = {t: [] for t in APPEND_KEYS}
    damaged = 0
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            try:
                item = json.loads(line)
                if n == 0 and "journal" in item:
                    header = item
                    continue
                table, row = item["table"], _decode_row(item["table"], item["row"])
            except (ValueError, KeyError, TypeError):
                damaged += 1  # a line cut short by a kill
                continue
            if table in upserts:
                upserts[table][row[UPSERT_KEYS[table]]] = row
            elif table in appends:
                appends[table].append(row)
    rows: dict[str, list[dict]] = {t: list(r.values()) for t, r in upserts.items()}
    rows.update(appends)
    return header, rows, damaged


def journal_owner(path: Path, header: dict) -> ProcessIdentity | None:
    """The writer of a journal, from its header or else its name; None where unknown."""
    if header:
        started = header.get("pid_started_at")
        return ProcessIdentity(
            header.get("host", ""),
            int(header.get("pid", -1)),
            datetime.fromisoformat(started) if started else None,
        )
    found = _NAME.search(path.name)
    if found is None:
        return None
    host = HOST if found.group(1) == SAFE_HOST else found.group(1)
    return ProcessIdentity(host, int(found.group(2)), None)
