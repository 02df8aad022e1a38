"""Parquet parts -> the batch's DuckDB file, through one writer, idempotently.

The driver merges each finished part in one transaction of its own: the part's rows
(:func:`fieldtool.store.schema.insert_rows`, idempotent: a part merged twice adds
nothing) and its ``batch_files`` row, so a file is either wholly in the database and
marked done, or not at all. A file that failed gets its ``batch_files`` row with the
error, and an identical copy of another path (not run) a row naming that path. Snapshots
move beside the database, where the sightings' relative paths expect them; those of a
session a rerun replaces are deleted once the merge that replaced it is committed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldtool.scale.post import part_dir
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:
    from fieldtool.store.maintenance import Forgotten

    # What to say of a replaced session once committed: a line, or the session deleted,
    # the paths of its identical copies whose rows went with it and why it ran again.
    Replaced = str | tuple[Forgotten, list[str], str]

CHANGED = "its content, track or settings changed"  # why a file under another key ran again
BATCH_FILE_COLUMNS = ("batch_key", "path", "content_sha256", "settings_sha256", "status",
                      "error", "session_id", "finished_at", "identical_to")  # fmt: skip


@dataclass
class FileOutcome:
    """What the batch did with one file (a ``batch_files`` row to be)."""

    batch_key: str
    path: str
    content_sha256: str
    settings_sha256: str
    status: str  # done / failed (identical: a copy of another path, not run; merge's copies)
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


def recorded_paths(db: Path) -> dict[str, list[str]]:
    """Key -> the paths ``db``'s ``batch_files`` holds under it, done or as its identical
    copies, the newest done first: a path with a key done before is itself "done before"
    only where it has its row (else it is a copy of the first, met now)."""
    from fieldtool.store import connect

    if not db.exists():
        return {}
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT batch_key, path FROM batch_files WHERE status IN ('done', "
                           "'identical') ORDER BY status <> 'done', finished_at DESC, "
                           "path").fetchall()  # fmt: skip
    out: dict[str, list[str]] = {}
    for key, path in rows:
        out.setdefault(str(key), []).append(str(path))
    return out


def merge(
    db: Path, parts: Path, outcomes: Iterable[FileOutcome], *, lock_timeout_s: float = 30.0,
    log: Callable[[str], None] | None = None, copies: Sequence[FileOutcome] = (),
    batch_keys: Sequence[str] = (), reasons: Mapping[tuple[str, str], str] | None = None,
    moved: Mapping[str, str] | None = None,
    photo_copies: Sequence[tuple[FileOutcome, str]] = (),
) -> int:
    """Merge the parts of ``outcomes`` done and record every outcome; returns the number
    of files merged. A file done again under another key (its content, track or SRT
    changed) replaces its earlier session (:func:`_replace_earlier`), said in ``log``;
    a session of this batch is never earlier: ``batch_keys`` are the whole batch's keys
    (a batch merged in chunks: a chunk before this one ran the same video with another
    track), beside those of ``outcomes``. ``copies``: the batch's paths not run because
    their key is another path's (identical to a file of this batch, or done before), each
    recorded after the outcomes (:func:`_record_copies`). ``reasons``: (a key of this
    batch, an earlier key of its path) -> why it ran again, where not :data:`CHANGED`
    (the model folder at another path: :func:`fieldtool.scale.earlier.earlier_work`).
    ``moved``: a key of ``copies`` -> the key its work was done under with the model
    folder at another path (accepted as the same model: recorded under both keys).
    ``photo_copies``: (a photo unit not run, every photo of it run before; the unit or
    source that ran the most of them), each recorded ``identical`` to that, without a
    session (:mod:`fieldtool.scale.copies`)."""
    import pyarrow.parquet as pq

    from fieldtool.store import TABLES, connect, maintenance
    from fieldtool.store.schema import insert_rows

    merged = 0
    todo = list(outcomes)
    this_batch = sorted({o.batch_key for o in todo} | set(batch_keys))
    say = log or (lambda m: None)
    with connect(db, read_only=False, timeout_s=lock_timeout_s) as con:
        for number, outcome in enumerate(todo):
            folder = part_dir(parts, outcome.batch_key)
            con.execute("BEGIN TRANSACTION")
            try:
                replaced: list[Replaced] = []
                if outcome.status == "done":
                    replaced = _replace_earlier(con, outcome, folder, this_batch,
                                                reasons or {})  # fmt: skip
                    for table in TABLES:
                        path = folder / f"{table}.parquet"
                        if path.exists():
                            rows = pq.read_table(path).to_pylist()
                            insert_rows(con, table, rows, idempotent=True)
                _record(con, outcome, this_batch)
                checkpoint = maintenance.commit(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            # said (and their snapshots deleted) once committed: nothing claimed undone
            _say_replaced(con, db, outcome, replaced, checkpoint is None, say)
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
        if copies or photo_copies:
            con.execute("BEGIN TRANSACTION")
            try:
                if copies:
                    _record_copies(con, copies, moved or {})
                for outcome, of in photo_copies:
                    _record(con, outcome, this_batch, of)
                checkpoint = maintenance.commit(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if checkpoint is not None:
                raise FieldtoolError(f"{db}: the rows of the identical copies recorded, then the "
                                     f"file's checkpoint failed ({checkpoint}): free disk "
                                     "space")  # fmt: skip
    return merged


def _replace_earlier(
    con: Any, outcome: FileOutcome, folder: Path, this_batch: list[str],
    reasons: Mapping[tuple[str, str], str],
) -> list[Replaced]:  # fmt: skip
    """Before ``outcome``'s rows go in: the sessions an earlier batch recorded for the same
    file (path, and source name: a package's deployment, a camera) under another key are
    deleted with their key's rows (keyed by content: its identical copies' rows too, whose
    session it was), so a rerun does not double every sighting; one whose sightings were
    reviewed is kept (deleting it would lose the reviews). Keys of this batch stay (a
    manifest may run one video with two tracks). Returns what to say once committed
    (:func:`_say_replaced`)."""
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
    keys: dict[str, list[str]] = {}  # a session -> its keys (moved: one per folder path)
    reviewed: dict[str, int] = {}
    for key, session_id, reviews in earlier:
        keys.setdefault(session_id, []).append(key)
        reviewed[session_id] = reviews
    said: list[Replaced] = []
    for session_id, its in keys.items():
        if reviews := reviewed[session_id]:
            said.append(f"warning: batch: {outcome.path}: its earlier session {session_id} is "
                        "kept beside the new one, so their sightings count twice: deleting it "
                        f"would lose the {reviews} review(s) of its sightings")  # fmt: skip
            continue
        gone = maintenance.forget_sessions(con, [session_id])
        copies = con.execute("DELETE FROM batch_files WHERE list_contains(?, batch_key) "
                             "RETURNING path, status", [its]).fetchall()  # fmt: skip
        why = next((reasons[(outcome.batch_key, k)] for k in its
                    if (outcome.batch_key, k) in reasons), CHANGED)  # fmt: skip
        said.append((gone, sorted({str(p) for p, status in copies if status == "identical"}),
                     why))  # fmt: skip
    return said


def _say_replaced(
    con: Any, db: Path, outcome: FileOutcome, replaced: list[Replaced], committed: bool,
    log: Callable[[str], None],
) -> None:
    """After the commit: each replaced session said, its snapshot files that no row names
    now deleted and counted (not when the checkpoint failed: DuckDB closed the file)."""
    from fieldtool.store import maintenance

    for item in replaced:
        if isinstance(item, str):
            log(item)
            continue
        gone, copies, why = item
        files = maintenance.remove_snapshots(con, db, gone) if committed else 0
        also = f" and its {files} snapshot file(s)" if files else ""
        if not committed and gone.snapshots:
            also = " (its snapshot files are left: the file's checkpoint failed)"
        rows = (f"; the row(s) of its identical copy {', '.join(copies)} went with it (run "
                "again by the next batch that names it)" if copies else "")  # fmt: skip
        log(f"batch: {outcome.path}: replaced its earlier session {gone[0]}{also} (run again: "
            f"{why}){rows}")  # fmt: skip


def _record(
    con: Any, outcome: FileOutcome, this_batch: list[str], identical_to: str | None = None
) -> None:
    """``outcome``'s row (``identical_to``: where most photos of a photo unit whose photos
    were all run before were run); a row of its path as an identical copy under another
    key (its content changed since) goes: each path one row of what it is now."""
    values = [outcome.batch_key, outcome.path, outcome.content_sha256, outcome.settings_sha256,
              outcome.status, outcome.error or None, outcome.session_id or None, utc_now(),
              identical_to]  # fmt: skip
    con.execute("DELETE FROM batch_files WHERE path = ? AND status = 'identical' AND NOT "
                "list_contains(?, batch_key)", [outcome.path, this_batch])  # fmt: skip
    _insert(con, values)


def _insert(con: Any, values: list[Any]) -> None:
    marks = ", ".join("?" for _ in BATCH_FILE_COLUMNS)
    con.execute(
        f"INSERT OR REPLACE INTO batch_files ({', '.join(BATCH_FILE_COLUMNS)}) VALUES ({marks})",
        values,
    )


def _record_copies(
    con: Any, copies: Sequence[FileOutcome], moved: Mapping[str, str] | None = None
) -> None:
    """A row for each path whose key another path's row holds (done before failed, then the
    newest): status ``identical``, ``identical_to`` that path, its session. A path whose own
    row holds the key done (the same path run before) keeps it; a copy's row that says so
    already stays as it was. One statement for all (a rerun skips thousands).

    First, work done with the model folder at another path and accepted as the same model
    (``moved``: a key of ``copies`` -> the key it was done under) gets its done row under
    the key of ``copies`` too (:func:`_record_moved`), so a later batch finds it by that key
    alone, the folder it ran with gone or not; the rows under the earlier key stay."""
    import pyarrow as pa

    unique = {(c.batch_key, c.path): c for c in copies}.values()
    _record_moved(con, {c.batch_key: c.settings_sha256 for c in unique
                        if c.batch_key in (moved or {})}, moved or {})  # fmt: skip
    columns = ("batch_key", "path", "content_sha256", "settings_sha256")
    con.register("copies", pa.table({k: [getattr(c, k) for c in unique] for k in columns},
                                    schema=pa.schema([(k, pa.string()) for k in columns])))  # fmt: skip
    try:
        con.execute(f"""
            INSERT OR REPLACE INTO batch_files ({', '.join(BATCH_FILE_COLUMNS)})
            SELECT c.batch_key, c.path, c.content_sha256, c.settings_sha256, 'identical', NULL,
                   o.session_id, ?, o.path
            FROM copies c
            JOIN (SELECT batch_key, path, session_id, row_number() OVER (PARTITION BY batch_key
                      ORDER BY status = 'done' DESC, finished_at DESC) AS n
                  FROM batch_files WHERE status <> 'identical'
                  AND batch_key IN (SELECT batch_key FROM copies)) o
              ON o.batch_key = c.batch_key AND o.n = 1 AND o.path <> c.path
            LEFT JOIN batch_files b ON b.batch_key = c.batch_key AND b.path = c.path
            WHERE b.status IS NULL OR b.status = 'failed' OR (b.status = 'identical' AND (
                b.identical_to IS DISTINCT FROM o.path OR b.session_id IS DISTINCT FROM o.session_id))
        """, [utc_now()])  # fmt: skip
    finally:
        con.unregister("copies")


def _record_moved(con: Any, settings: Mapping[str, str], moved: Mapping[str, str]) -> None:
    """For each key of ``settings`` (a key -> its settings_sha256): the done row of the key
    ``moved`` gives (the newest) copied under it, with those settings and its session."""
    if not settings:
        return
    now = sorted(settings)
    con.execute(f"""
        INSERT OR REPLACE INTO batch_files ({', '.join(BATCH_FILE_COLUMNS)})
        SELECT m.now, o.path, o.content_sha256, m.settings, 'done', NULL, o.session_id, ?, NULL
        FROM (SELECT unnest(?) AS now, unnest(?) AS earlier, unnest(?) AS settings) m
        JOIN (SELECT batch_key, path, content_sha256, session_id, row_number() OVER (
                  PARTITION BY batch_key ORDER BY finished_at DESC, path) AS n
              FROM batch_files WHERE status = 'done') o ON o.batch_key = m.earlier AND o.n = 1
    """, [utc_now(), now, [moved[k] for k in now], [settings[k] for k in now]])  # fmt: skip


def _move_snapshots(folder: Path, db: Path) -> None:
    """Snapshot folders of a part to ``<db stem>_snapshots/<session>/`` beside ``db``."""
    from fieldtool.store.maintenance import snapshot_folder

    target = snapshot_folder(db)
    source = folder / target.name
    if not source.is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    for session in source.iterdir():
        dest = target / session.name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(session), str(dest))
