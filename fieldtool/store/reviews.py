"""A person's decision on a sighting: confirm, reject, or relabel to another species.

A review is one short write of its own (the dashboard's, or a SQL user's); it never
changes the sighting row. The newest review of a sighting is the one in force:
:data:`fieldtool.store.views.LATEST_REVIEW_SQL`. An undo deletes nothing: it is a newer row
whose ``supersedes`` names the review taken back and whose decision is the one that was in
force before it (:data:`~fieldtool.store.views.NO_DECISION` when there was none).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import duckdb

from fieldtool.store.locking import connect
from fieldtool.store.schema import (
    SCHEMA_VERSION,
    SPECIES_FROM,
    ensure_schema,
    has_table,
    schema_version,
)
from fieldtool.store.views import NO_DECISION
from fieldtool.timebase import utc_naive, utc_now
from fieldtool.types import FieldtoolError, ReviewDecision

REVIEW_DECISIONS: tuple[str, ...] = tuple(decision.value for decision in ReviewDecision)


def add_review(
    path: Path | str,
    sighting_id: str,
    decision: str,
    *,
    reviewer: str,
    species: str | None = None,
    note: str = "",
    timeout_s: float = 10.0,
) -> str:
    """Store a person's decision on a sighting (one short write); returns the review id."""
    if decision not in REVIEW_DECISIONS:
        raise FieldtoolError(f"review decision {decision!r}: expected one of {REVIEW_DECISIONS}")
    relabel = decision == ReviewDecision.RELABEL
    if relabel and not species:
        raise FieldtoolError("review decision 'relabel' needs the new species")
    if not reviewer.strip():
        raise FieldtoolError("review needs a reviewer name")
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        _up_to_date(con, path)
        row = con.execute(
            "SELECT species FROM sightings WHERE sighting_id = ?", [sighting_id]
        ).fetchone()
        if row is None:
            raise FieldtoolError(f"{path}: no sighting {sighting_id!r}")
        review_id = uuid.uuid4().hex
        con.execute(
            "INSERT INTO reviews (review_id, sighting_id, decision, species, reviewer, "
            "reviewed_at, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [review_id, sighting_id, str(decision), species or row[0], reviewer.strip(),
             utc_now(), note],
        )  # fmt: skip
        if relabel and has_table(con, "species"):
            new = SPECIES_FROM.format(src="(SELECT ? AS species, '' AS common_name)")
            con.execute(f"INSERT INTO species {new}", [species])
    return review_id


def undo_review(
    path: Path | str, sighting_id: str, *, reviewer: str, timeout_s: float = 10.0
) -> tuple[str, str]:
    """Take back the newest review of a sighting that is still standing; returns (the new
    row's review id, the decision now in force, :data:`NO_DECISION` for none).

    Nothing is deleted: the new row supersedes the review taken back and restores the one
    before it. Undoing again takes back the review before that, and so on.
    """
    if not reviewer.strip():
        raise FieldtoolError("undo needs a reviewer name")
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        _up_to_date(con, path)
        rows = con.execute(
            "SELECT review_id, decision, species, supersedes, reviewed_at FROM reviews "
            "WHERE sighting_id = ? ORDER BY reviewed_at, review_id",
            [sighting_id],
        ).fetchall()
        taken_back = {row[3] for row in rows if row[3]}
        standing = [row for row in rows if not row[3] and row[0] not in taken_back]
        if not standing:
            raise FieldtoolError(f"sighting {sighting_id!r} has no review to undo")
        target = standing[-1]
        before = standing[-2] if len(standing) > 1 else None
        decision = before[1] if before else NO_DECISION
        species = before[2] if before else None
        # Newer than every row of the sighting even if the clock stepped back.
        when = max(utc_now(), utc_naive(rows[-1][4]) + timedelta(microseconds=1))
        review_id = uuid.uuid4().hex
        con.execute(
            "INSERT INTO reviews (review_id, sighting_id, decision, species, reviewer, "
            "reviewed_at, note, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [review_id, sighting_id, decision, species, reviewer.strip(), when,
             f"undo of {target[1]}", target[0]],
        )  # fmt: skip
    return review_id, decision


def _up_to_date(con: duckdb.DuckDBPyConnection, path: Path | str) -> None:
    """Migrate an older file first: a review may be the first write of a new fieldtool
    into it (the dashboard's), and undo needs ``reviews.supersedes``."""
    if schema_version(con, path) != SCHEMA_VERSION:
        con.execute("BEGIN")
        ensure_schema(con, path)
        con.execute("COMMIT")
