"""Reviewed sightings -> labelled frames.

The review in force (:data:`fieldtool.store.views.LATEST_REVIEW_SQL`) decides each
sighting's label: ``confirm`` -> its species, ``relabel`` -> the reviewer's species,
``reject`` -> background (nothing of the predicted species is there). A sighting's frames
are its ``sighting_frames`` rows (the snapshot and frames spread over it, kept by
:class:`fieldtool.learn.keep.FrameKeeper`); sightings from before those rows existed
give their snapshot alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fieldtool.store.locking import connect
from fieldtool.store.schema import has_table
from fieldtool.store.views import LATEST_REVIEW_SQL
from fieldtool.types import FieldtoolError

BACKGROUND_LABEL = ""  # a labelled frame's species for rejected sightings


@dataclass(frozen=True)
class LabelledFrame:
    """One frame to learn from."""

    sighting_id: str
    session_id: str
    label: str  # species, or BACKGROUND_LABEL for a rejected sighting
    predicted: str  # the sighting's species as the model said
    decision: str  # confirm / reject / relabel
    path: Path  # the JPEG, absolute
    sha256: str  # of the JPEG's bytes

    @property
    def is_background(self) -> bool:
        return self.label == BACKGROUND_LABEL


def _frames_sql(kept: bool) -> str:
    frames = (
        "SELECT sighting_id, path, sha256 FROM sighting_frames"
        if kept
        else "SELECT NULL::VARCHAR AS sighting_id, NULL::VARCHAR AS path, "
        "NULL::VARCHAR AS sha256 WHERE false"
    )
    # a sighting with kept frames gives those (its snapshot among them); others their snapshot
    return f"""
    WITH r AS ({LATEST_REVIEW_SQL}),
    f AS ({frames})
    SELECT s.sighting_id, s.session_id, s.species, r.decision, r.species AS reviewed,
           f.path, f.sha256
    FROM sightings s JOIN r USING (sighting_id) JOIN f USING (sighting_id)
    UNION ALL
    SELECT s.sighting_id, s.session_id, s.species, r.decision, r.species, s.snapshot_path,
           NULL
    FROM sightings s JOIN r USING (sighting_id)
    WHERE s.snapshot_path IS NOT NULL AND s.sighting_id NOT IN (SELECT sighting_id FROM f)
    ORDER BY 2, 1, 6
    """


def collect(db: Path | str, *, timeout_s: float = 10.0) -> tuple[list[LabelledFrame], list[str]]:
    """The labelled frames of every reviewed sighting of ``db``, and one line per problem
    skipped (a frame file gone). Frames without a recorded hash are hashed here."""
    db = Path(db)
    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        if not has_table(con, "reviews"):
            return [], []
        rows = con.execute(_frames_sql(has_table(con, "sighting_frames"))).fetchall()
    folder = db.resolve().parent
    frames: list[LabelledFrame] = []
    skipped: list[str] = []
    for sighting_id, session_id, species, decision, reviewed, rel, sha in rows:
        path = folder / rel
        if not path.is_file():
            skipped.append(f"{path}: frame of sighting {sighting_id} is gone")
            continue
        if decision == "reject":
            label = BACKGROUND_LABEL
        elif decision in ("confirm", "relabel"):
            label = " ".join(str(reviewed or species).split())
        else:
            raise FieldtoolError(f"{db}: sighting {sighting_id} has unknown decision {decision!r}")
        sha = sha or hashlib.sha256(path.read_bytes()).hexdigest()
        frames.append(
            LabelledFrame(sighting_id, session_id, label, species, decision, path, sha)
        )
    return frames, skipped


def split_sessions(sessions: list[str], holdout: float = 0.25) -> tuple[set[str], set[str]]:
    """(train, held-out) session ids: a fixed share of the sessions, picked by a hash of
    their ids (the same sessions every run, whatever order they come in); at least one in
    each part when there are two or more."""
    ordered = sorted(set(sessions), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    if len(ordered) < 2:
        return set(ordered), set()
    n = min(len(ordered) - 1, max(1, round(holdout * len(ordered))))
    return set(ordered[n:]), set(ordered[:n])
