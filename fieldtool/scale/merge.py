"""Parquet parts -> the batch's DuckDB file, through one writer, idempotently.

The driver merges each finished part in one transaction of its own: the part's rows
(:func:`fieldtool.store.schema.insert_rows`, idempotent: a part merged twice adds
nothing) and its ``batch_files`` row, so a file is either wholly in the database and
marked done, or not at all. A file that failed gets its ``batch_files`` row with the
error. Snapshots move beside the database, where the sightings' relative paths expect them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldtool.scale.post import part_dir
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError

BATCH_FILE_COLUMNS = ("batch_key", "path", "content_sha256", "settings_sha256", "status",
                      "error", "session_id", "finished_at")  # fmt: skip


@dataclass
class FileOutcome:
    """What the batch did with one file (a ``batch_files`` row to be)."""

    batch_key: str
    path: str
    content_sha256: str
    settings_sha256: str
    status: str  # done / failed
    error: str = ""
    session_id: str = ""
    frames: int = 0
    sightings: int = 0
    duration_s: float = 0.0
    gaps: int = 0  # stretches the file's decoding skipped (damage, a cut-short end)
    gap_s: float = 0.0  # their media seconds
    positioned: int | None = None  # analysed frames that got a position (None: not said)
    time_source: str = ""  # the session's (sessions.time_source): "processing-time", ...
    warnings: list[str] = field(default_factory=list)  # as `fieldtool run` would print them
    resumed: bool = False  # a killed run's finished part, merged now (not processed now)


def prepare_db(db: Path, log: Callable[[str], None], lock_timeout_s: float = 30.0) -> None:
    """Create or migrate the database and recover what killed writers left (the store's
    own first transaction), before anything is merged or read from it. A file another
    process holds past ``lock_timeout_s`` is said, and the batch goes on: its merge waits
    for the file again."""
    from fieldtool.store import SightingStore

    def said(line: str) -> None:
        # The store's line for "nothing left behind" is its name alone (no rows were
        # pending here): not a line to print.
        if line.strip() and line.strip() != f"{db}:":
            log(line)

    store = SightingStore(db, log=said, lock_timeout_s=lock_timeout_s)
    store.close()
    if store.held:
        log(f"{db}: still held by another process after {lock_timeout_s:g} s; the batch "
            "runs now, and its merge waits for the file again (store.lock_timeout_s)")  # fmt: skip


def done_keys(db: Path) -> set[str]:
    """Keys of the files already done in ``db``."""
    from fieldtool.store import connect

    if not db.exists():
        return set()
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT batch_key FROM batch_files WHERE status = 'done'").fetchall()
    return {r[0] for r in rows}


def merge(
    db: Path, parts: Path, outcomes: Iterable[FileOutcome], *, lock_timeout_s: float = 30.0,
    log: Callable[[str], None] | None = None,
) -> int:
    """Merge the parts of ``outcomes`` done and record every outcome; returns the number
    of files merged. A file done again under another key (its content, track or SRT
    changed) replaces its earlier session (:func:`_replace_earlier`), said in ``log``."""
    import pyarrow.parquet as pq

    from fieldtool.store import TABLES, connect, maintenance
    from fieldtool.store.schema import insert_rows

    merged = 0
    todo = list(outcomes)
    this_batch = [o.batch_key for o in todo]
    with connect(db, read_only=False, timeout_s=lock_timeout_s) as con:
        for number, outcome in enumerate(todo):
            folder = part_dir(parts, outcome.batch_key)
            con.execute("BEGIN TRANSACTION")
            try:
                if outcome.status == "done":
                    _replace_earlier(con, outcome, folder, this_batch, log or (lambda m: None))
                    for table in TABLES:
                        path = folder / f"{table}.parquet"
                        if path.exists():
                            rows = pq.read_table(path).to_pylist()
                            insert_rows(con, table, rows, idempotent=True)
                _record(con, outcome)
                checkpoint = maintenance.commit(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if outcome.status == "done":
                _move_snapshots(folder, db)
                merged += 1
            if checkpoint is not None:  # DuckDB closes the database after it: stop, say so
                rest = [o.path for o in todo[number + 1 :]]
                left = f"; not recorded: {', '.join(rest)}" if rest else ""
                raise FieldtoolError(
                    f"{db}: {outcome.path} recorded ({outcome.status}), then the file's "
                    f"checkpoint failed ({checkpoint}){left}: free disk space and run the "
                    "batch again (what is recorded is skipped)"
                )
    return merged


def _replace_earlier(
    con: Any, outcome: FileOutcome, folder: Path, this_batch: list[str],
    log: Callable[[str], None],
) -> None:
    """Before ``outcome``'s rows go in: the sessions an earlier batch recorded for the same
    file (path, and source name: a package's deployment, a camera) under another key are
    deleted, so a rerun does not double every sighting; one whose sightings were reviewed
    is kept, said (deleting it would lose the reviews). Keys of this batch stay (a manifest
    may run one video with two tracks)."""
    import pyarrow.parquet as pq

    from fieldtool.store import maintenance

    sessions = folder / "sessions.parquet"
    names = pq.read_table(sessions, columns=["source_name"]).column(0).to_pylist() \
        if sessions.exists() else []  # fmt: skip
    earlier = con.execute(
        "SELECT b.batch_key, b.session_id, (SELECT count(*) FROM reviews r JOIN sightings g "
        "USING (sighting_id) WHERE g.session_id = b.session_id) AS reviews "
        "FROM batch_files b JOIN sessions s USING (session_id) WHERE b.path = ? AND "
        "b.status = 'done' AND NOT list_contains(?, b.batch_key) "
        "AND s.source_name IS NOT DISTINCT FROM ?",
        [outcome.path, this_batch, names[0] if names else None],
    ).fetchall()
    for key, session_id, reviews in earlier:
        if reviews:
            log(f"warning: batch: {outcome.path}: its earlier session {session_id} is kept "
                f"beside the new one, so their sightings count twice: deleting it would lose "
                f"the {reviews} review(s) of its sightings")  # fmt: skip
            continue
        maintenance.forget_sessions(con, [session_id])
        con.execute("DELETE FROM batch_files WHERE batch_key = ?", [key])
        log(f"batch: {outcome.path}: replaced its earlier session {session_id} (run again: its "
            "content, track or settings changed)")  # fmt: skip


def _record(con: Any, outcome: FileOutcome) -> None:
    values = [outcome.batch_key, outcome.path, outcome.content_sha256, outcome.settings_sha256,
              outcome.status, outcome.error or None, outcome.session_id or None, utc_now()]  # fmt: skip
    marks = ", ".join("?" for _ in BATCH_FILE_COLUMNS)
    con.execute(
        f"INSERT OR REPLACE INTO batch_files ({', '.join(BATCH_FILE_COLUMNS)}) VALUES ({marks})",
        values,
    )


def _move_snapshots(folder: Path, db: Path) -> None:
    """Snapshot folders of a part to ``<db stem>_snapshots/<session>/`` beside ``db``."""
    source = folder / f"{db.stem}_snapshots"
    if not source.is_dir():
        return
    target = db.parent / f"{db.stem}_snapshots"
    target.mkdir(parents=True, exist_ok=True)
    for session in source.iterdir():
        dest = target / session.name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(session), str(dest))
