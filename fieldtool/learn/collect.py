"""Reviewed sightings -> labelled frames.

The review in force (:data:`fieldtool.store.views.LATEST_REVIEW_SQL`) decides each
sighting's label: ``confirm`` -> its species, ``relabel`` -> the reviewer's species,
``reject`` -> background (nothing of the predicted species is there). A sighting's frames
are its ``sighting_frames`` rows (the snapshot and frames spread over it, kept by
:class:`fieldtool.learn.keep.FrameKeeper`); sightings from before those rows existed
give their snapshot alone.

"The same frame" is one rule, here: the SHA-256 of its JPEG's bytes
(:func:`frame_sha256`, recorded in ``sighting_frames``). :func:`first_copies` keeps the first
frame of each content (``learn export`` writes one file per species and content), and the
split keeps copies apart from what they copy: :func:`session_groups` joins sessions that
share a frame or read the same file (a video run twice), each group goes wholly to one
side, and :func:`heldout_copies` finds the held-out frames that are still copies (of a
frame learnt from, e.g. a photo exported from a review session, or of each other).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
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
    sha256: str  # of the JPEG's bytes (frame_sha256)
    # the footage its session read: the file's content SHA-256 where a batch recorded it,
    # else the session's source as recorded (a path, a stream URL, a camera); "" for photos
    source: str = ""

    @property
    def is_background(self) -> bool:
        return self.label == BACKGROUND_LABEL


def frame_sha256(path: Path) -> str:
    """SHA-256 (hex) of a frame file's bytes: two frames are the same when these match."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _frames_sql(kept: bool, batch: bool) -> str:
    frames = (
        "SELECT sighting_id, path, sha256 FROM sighting_frames"
        if kept
        else "SELECT NULL::VARCHAR AS sighting_id, NULL::VARCHAR AS path, "
        "NULL::VARCHAR AS sha256 WHERE false"
    )
    content = (
        "SELECT session_id, min(content_sha256) AS content FROM batch_files "
        "WHERE content_sha256 <> '' GROUP BY 1"
        if batch
        else "SELECT NULL::VARCHAR AS session_id, NULL::VARCHAR AS content WHERE false"
    )
    # sessions.source_name came with sighting_frames (schema v7)
    named = " || coalesce(' #' || s.source_name, '')" if kept else ""
    # a sighting with kept frames gives those (its snapshot among them); others their
    # snapshot. Its source: the file (or batch content hash) and the session's name: one
    # package's deployments are different cameras' footage, not one file read twice.
    return f"""
    WITH r AS ({LATEST_REVIEW_SQL}),
    f AS ({frames}),
    src AS (SELECT s.session_id, coalesce(b.content, s.source, ''){named} AS source
            FROM sessions s LEFT JOIN ({content}) b USING (session_id))
    SELECT u.sighting_id, u.session_id, u.species, u.decision, u.reviewed, u.path, u.sha256,
           src.source
    FROM (
    SELECT s.sighting_id, s.session_id, s.species, r.decision, r.species AS reviewed,
           f.path, f.sha256
    FROM sightings s JOIN r USING (sighting_id) JOIN f USING (sighting_id)
    UNION ALL
    SELECT s.sighting_id, s.session_id, s.species, r.decision, r.species, s.snapshot_path,
           NULL
    FROM sightings s JOIN r USING (sighting_id)
    WHERE s.snapshot_path IS NOT NULL AND s.sighting_id NOT IN (SELECT sighting_id FROM f)
    ) u LEFT JOIN src ON src.session_id = u.session_id
    ORDER BY 2, 1, 6
    """


def collect(db: Path | str, *, timeout_s: float = 10.0) -> tuple[list[LabelledFrame], list[str]]:
    """The labelled frames of every reviewed sighting of ``db``, and one line per problem
    skipped (a frame file gone). Frames without a recorded hash are hashed here."""
    db = Path(db)
    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        if not has_table(con, "reviews"):
            return [], []
        sql = _frames_sql(has_table(con, "sighting_frames"), has_table(con, "batch_files"))
        rows = con.execute(sql).fetchall()
    folder = db.resolve().parent
    frames: list[LabelledFrame] = []
    skipped: list[str] = []
    for sighting_id, session_id, species, decision, reviewed, rel, sha, source in rows:
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
        sha = sha or frame_sha256(path)
        frames.append(LabelledFrame(sighting_id, session_id, label, species, decision, path,
                                    sha, source or ""))  # fmt: skip
    return frames, skipped


def species_level(
    frames: Sequence[LabelledFrame], classes: Sequence[str] = ()
) -> tuple[list[LabelledFrame], list[LabelledFrame]]:
    """(frames whose label is a species, or background; frames reviewed as a genus only).

    A confirm or relabel to a genus ("Acer sp.", as smoothing writes a genus-level sighting
    and a reviewer may relabel one) says "a maple, species unknown": it cannot teach a
    species, and learnt as it is it would become a class of its own. Such frames are left
    out, unless the genus is one of ``classes`` (a model with a genus-level class; matched
    by :func:`fieldtool.names.species_key`). ``learn export`` gives no classes: a genus is
    never a folder."""
    from fieldtool.names import is_species_key, species_key

    ours = {species_key(name) for name in classes}
    kept: list[LabelledFrame] = []
    genus: list[LabelledFrame] = []
    for f in frames:
        key = species_key(f.label)
        at_genus = not f.is_background and not is_species_key(key) and key not in ours
        (genus if at_genus else kept).append(f)
    return kept, genus


def genus_note(frames: Sequence[LabelledFrame]) -> str:
    """One line on the frames :func:`species_level` left out; "" when none."""
    if not frames:
        return ""
    sightings = len({f.sighting_id for f in frames})
    names = list(dict.fromkeys(f.label for f in frames))
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"left out: {len(frames)} frame{'s' * (len(frames) != 1)} of {sightings} "
            f"sighting{'s' * (sightings != 1)} reviewed as a genus only ({shown}): a genus "
            "(species unknown) cannot teach a species class")  # fmt: skip


def split_sessions(sessions: list[str], holdout: float = 0.25) -> tuple[set[str], set[str]]:
    """(train, held-out) session ids: a fixed share of the sessions, picked by a hash of
    their ids (the same sessions every run, whatever order they come in); at least one in
    each part when there are two or more."""
    ordered = sorted(set(sessions), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    if len(ordered) < 2:
        return set(ordered), set()
    n = min(len(ordered) - 1, max(1, round(holdout * len(ordered))))
    return set(ordered[n:]), set(ordered[:n])


def _order(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _same_footage(source: str) -> bool:
    """Whether two sessions with this source read the same footage: a file (or a file's
    content hash) yes; a live stream (``rtsp://``, ``frigate://``), a camera device
    (``/dev/video0``, ``0``) or nothing recorded no (each session is new footage). A
    session's name after `` #`` (a package's deployment, a station's camera) is not asked."""
    source = source.split(" #", 1)[0]
    return bool(source) and "://" not in source and not source.startswith("/dev/") and \
        not source.isdigit()  # fmt: skip


def session_groups(frames: Sequence[LabelledFrame]) -> dict[str, str]:
    """Session id -> its group: sessions that share a frame (:attr:`LabelledFrame.sha256`)
    or read the same file (:attr:`LabelledFrame.source`: a video run twice, whose kept
    frames may differ by a frame or two) are one group, named by the member that
    :func:`split_sessions` orders first (a session without copies is its own group)."""
    parent: dict[str, str] = {f.session_id: f.session_id for f in frames}

    def root(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    first: dict[str, str] = {}  # frame hash or source -> the first session that had it
    for f in frames:
        keys = ["sha256:" + f.sha256] + ["source:" + f.source] * _same_footage(f.source)
        for key in keys:
            other = first.setdefault(key, f.session_id)
            a, b = root(other), root(f.session_id)
            if a != b:  # the representative is the one split_sessions orders first
                a, b = sorted((a, b), key=_order)
                parent[b] = a
    return {s: root(s) for s in parent}


def first_copies(
    frames: Sequence[LabelledFrame], scope: Callable[[LabelledFrame], str] | None = None
) -> list[bool]:
    """Per frame: whether it is the first of its content (SHA-256) within its ``scope``
    (e.g. the species folder it is written to; default: all frames are one scope)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for f in frames:
        key = (scope(f) if scope else "", f.sha256)
        out.append(key not in seen)
        seen.add(key)
    return out


def heldout_copies(
    frames: Sequence[LabelledFrame], held: Sequence[bool]
) -> tuple[list[bool], list[bool]]:
    """Per frame, (a held-out copy of a frame learnt from, a held-out copy of an earlier
    held-out frame): the held-out frames to drop so that nothing is measured on a frame
    the head was fitted on, and each held-out frame counts once."""
    learnt = {f.sha256 for f, h in zip(frames, held, strict=True) if not h}
    kept = [f for f, h in zip(frames, held, strict=True) if h and f.sha256 not in learnt]
    first = iter(first_copies(kept))
    copy_of_learnt, repeated = [], []
    for f, h in zip(frames, held, strict=True):
        is_copy = bool(h) and f.sha256 in learnt
        copy_of_learnt.append(is_copy)
        repeated.append(bool(h) and not is_copy and not next(first))
    return copy_of_learnt, repeated
