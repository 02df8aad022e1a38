"""A person's decision on a sighting: confirm, reject, or relabel to another species.

A review is one short write of its own (the dashboard's, or a SQL user's); it never
changes the sighting row. The newest review of a sighting is the one in force:
:data:`fieldtool.store.views.LATEST_REVIEW_SQL`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from fieldtool.store.locking import connect
from fieldtool.store.schema import SPECIES_FROM, has_table
from fieldtool.timebase import utc_now
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
