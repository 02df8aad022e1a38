"""What a write did: :class:`FlushResult`, :class:`StoreWriteError`, and the sentences
that say where unwritten rows are (the writer never claims more than it kept)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fieldtool.types import FieldtoolError


@dataclass
class FlushResult:
    """What a flush (or ``SightingStore.close()``) did, and where the rows it could not
    write are: ``unwritten`` in all, of which ``memory_only`` are in no journal (lost if
    the process ends) and the rest in ``journal`` (what ``fieldtool recover`` replays),
    ``stale`` of those only in an earlier version (a sighting or session row changed
    after it was journaled, when the journal could no longer be written)."""

    written: bool  # everything buffered is in the file now
    rows: int  # rows this flush was to write
    waited_s: float
    unwritten: int = 0  # rows not in the file: in the journal and/or in memory only
    journal: Path | None = None  # the journal holding (some of) them; None: none on disk
    memory_only: int = 0  # unwritten rows in no journal: lost if this process ends
    error: str | None = None  # why the write failed, when not a lock (one line)
    dropped: int = 0  # rows given up by this store (memory bound reached), in all
    journal_error: str | None = None  # why the journal could not be written, if it could not
    # ended sessions whose last row is neither in the file nor in a journal (close() only)
    ends_unrecorded: tuple[str, ...] = ()
    stale: int = 0  # rows in ``journal`` whose last change is in memory only

    @property
    def journaled(self) -> int:
        """Rows ``journal`` holds (some in an earlier version): what recover replays."""
        return self.unwritten - self.memory_only


class StoreWriteError(FieldtoolError):
    """A write failed for another reason than a lock (raised once per episode); ``result``
    says what is unwritten and where."""

    def __init__(self, message: str, result: FlushResult, logged: bool = False) -> None:
        super().__init__(message)
        self.result = result
        self.logged = logged  # the store's own log has said it already: do not say it again


def reason_of(exc: BaseException, db: Path) -> str:
    """Why a write of ``db`` failed, in one line."""
    if isinstance(exc, FieldtoolError):
        return str(exc).removeprefix(f"{db}: ")
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


LOST = "could not be journaled and is lost"


def _stale(result: FlushResult, change: str) -> str:
    """The clause on journaled rows whose last change is in memory only ('' if none)."""
    if not result.stale:
        return ""
    return f", {result.stale} of them only in an earlier version (their last change {change})"


def kept(result: FlushResult, max_memory_rows: int) -> str:
    """Where the unwritten rows of ``result`` are, as a clause of a log line."""
    n, only = result.unwritten, result.memory_only
    if result.journal is not None and not only and not result.stale:
        return f"keeping {n} rows in memory and in {result.journal.name} until it can be written"
    cannot = f"the journal cannot be written either ({result.journal_error or 'unknown'})"
    bound = f"at most {max_memory_rows} track/detection rows are kept"
    if result.journal is not None:
        return (f"keeping {n} rows in memory, {n - only} of them in {result.journal.name}"
                f"{_stale(result, 'is in memory only')}; {cannot}: {only} in memory "
                f"only ({bound})")  # fmt: skip
    return f"{cannot}: keeping {n} rows in memory only ({bound})"


def left_behind(db: Path, result: FlushResult) -> str | None:
    """What a store that closed without writing everything leaves, and what becomes of it;
    None where it left nothing (no row was waiting: the file was only held)."""
    if not result.unwritten:
        return None
    on_disk = ""
    if result.journal is not None:
        on_disk = (f"{result.journaled} rows are kept in {result.journal.name}"
                   f"{_stale(result, LOST)}; `fieldtool recover --db {db}` or the next "
                   "fieldtool run on this file writes them")  # fmt: skip
    if not result.memory_only:
        return f"{db}: {on_disk}"
    lost = (f"{result.memory_only} rows are in memory only (the journal cannot be written: "
            f"{result.journal_error or 'unknown'}) and are lost when this process ends")  # fmt: skip
    return f"{db}: {on_disk}; {lost}" if on_disk else f"{db}: {lost}"


def final_note(db: Path, result: FlushResult, session_id: str, end: str) -> str:
    """What the end of a run says about the rows ``result`` (its store's ``close()``) left
    unwritten: where they are, and only where they are. ``recover`` is named only for rows
    a journal holds, and the count given is the one recover replays (a row journaled in an
    earlier version counts there, its lost change is said); rows in memory only are said
    lost, how many and of which session.
    ``end``: the session's status (and why) as the run ended, for an end not recorded."""
    parts = []
    journaled = result.journaled
    if result.journal is not None and journaled > 0:
        parts.append(f"{journaled} are kept in {result.journal.name} beside it"
                     f"{_stale(result, LOST)}; `fieldtool recover --db {db}` (or the next run "
                     "on this file) writes them once the file can be written")  # fmt: skip
    if result.memory_only:
        why = f" ({result.journal_error})" if result.journal_error else ""
        parts.append(f"{result.memory_only} could be written neither to the file nor to a "
                     f"journal{why} and are lost")  # fmt: skip
    if result.dropped:
        parts.append(f"{result.dropped} track/detection rows more were dropped from memory "
                     "before (the memory bound) and are lost")  # fmt: skip
    note = f"{db}: {result.unwritten} rows of session {session_id} are not in the file: "
    note += "; ".join(parts) if parts else "they are in memory only and are lost"
    if session_id in result.ends_unrecorded:
        note += (f"; the session's end ({end}) is not recorded in the file either: the file "
                 "shows it running until the next writer marks it interrupted")  # fmt: skip
    return note
