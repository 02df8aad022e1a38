"""Photos run before: in a batch's database each photo (its bytes) counts once, whatever unit
holds it.

A batch keys a photo unit by its photos' paths and bytes (:mod:`fieldtool.scale.plan`), so a
card copied into the season folder twice (``season/card07/`` and ``season/card07_copy/``), or
copied again later with more photos, is another unit, whose photos would run again and count
twice. Before the units run, each photo of a unit to run (a photo folder, glob or photo; a
Camtrap DP package's media rows are records of their own, as in ``fieldtool run``) whose
sha256 (:attr:`~fieldtool.scale.plan.PlanRow.photo_sha256`, hashed with the unit's key) is
that of a photo run before is left out of it (:attr:`~fieldtool.scale.plan.PlanRow.leave_out`):

1. a photo the database holds (a ``media`` row of a session, of this batch's input or not:
   one at another path is hashed only where its file name and size are a photo's here),
   except the sessions of a unit's own path that its run now replaces
   (:func:`fieldtool.scale.merge.merge`);
2. a photo of a killed run's finished part, merged now;
3. a photo of a unit before it in this batch: first the units whose own path was run before
   (they keep their photos), then in plan order.

A unit with no photo left is not run: its ``batch_files`` row says ``identical``, naming the
unit or source that ran the most of them (``identical_to``; no session: its photos may be of
several, and a session's row keeps the content of the unit it ran). A unit with some
left runs those, as a session of them (a card copied again later with new photos: those new
photos). Each unit with photos run before is said in one line: how many, and where.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from fieldtool.scale.plan import content_sha256, unit_name
from fieldtool.sources import source_key

NAMED = 3  # places a unit's line names before "and N more"


@dataclass
class UnitCopies:
    """One unit's photos run before: ``left_out`` (the photo's path as the unit names it ->
    where it was run: a unit's name or a session's source), of its ``total`` photos."""

    key: str
    name: str
    total: int
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def none_left(self) -> bool:
        return len(self.left_out) >= self.total

    @property
    def most(self) -> str:
        """Where the most of its photos were run (its row's ``identical_to``)."""
        return Counter(self.left_out.values()).most_common(1)[0][0]

    def line(self) -> str:
        counts = Counter(self.left_out.values()).most_common()
        where = ", ".join(f"{name} ({n})" for name, n in counts[:NAMED])
        more = f" and {len(counts) - NAMED} more" if len(counts) > NAMED else ""
        n = len(self.left_out)
        if self.none_left:
            which, rest = f"its {n} photo(s) were", "not run again"
        else:
            which = f"{n} of its {self.total} photo(s) were"
            rest = f"left out, its {self.total - n} other photo(s) run"
        return f"{self.name}: {which} run before (the same bytes) in {where}{more}: {rest}"


def _photos(row: dict[str, Any]) -> list[tuple[str, str, int]]:
    """A hashed row's photos: (path, sha256, bytes); none for a video or a package."""
    return [(str(p), str(s), int(b)) for p, s, b in json.loads(row.get("photo_sha256") or "[]")]


def photos_run_before(
    db: Path, hashed: Sequence[dict[str, Any]], todo: Sequence[dict[str, Any]],
    finished: Sequence[str],
) -> dict[str, UnitCopies]:  # fmt: skip
    """The units of ``todo`` (hashed plan rows to run) with photos run before (module doc),
    by batch key. ``hashed``: every row of the batch (the photos of those done before are
    known by their paths); ``finished``: keys of a killed run's finished parts."""
    units = [r for r in todo if r.get("photo_sha256")]
    if not units:
        return {}
    this_batch = sorted({r["batch_key"] for r in hashed})
    known = {source_key(p): sha for r in hashed for p, sha, _ in _photos(r)}
    wanted: dict[str, set[int]] = {}  # file name -> the sizes of the photos to run so named
    for row in units:
        for path, _, size in _photos(row):
            wanted.setdefault(PurePath(path).name, set()).add(size)
    replaced, held = _held(db, [r["path"] for r in units], this_batch, sorted(wanted))
    seen: dict[str, tuple[str, str]] = {}  # sha256 -> (where it was run, session or key)
    for path, session_id, source in held:
        sha = known.get(path) or _hash_if_alike(path, wanted)
        if sha and sha not in seen:
            seen[sha] = (source, session_id)
    by_key = {r["batch_key"]: r for r in hashed}
    for key in finished:
        for _, sha, _ in _photos(by_key.get(key, {})):
            seen.setdefault(sha, (unit_name(by_key[key]), key))
    out: dict[str, UnitCopies] = {}
    # a unit run before at its own path keeps its photos: those first, then in plan order
    for row in sorted(units, key=lambda r: r["path"] not in replaced):
        name, key = unit_name(row), row["batch_key"]
        photos = _photos(row)
        copies = UnitCopies(key, name, len(photos))
        for path, sha, _ in photos:
            where, whose = seen.setdefault(sha, (name, key))
            if whose != key:
                copies.left_out[path] = where
        if copies.left_out:
            out[key] = copies
    return out


def _held(
    db: Path, paths: list[str], this_batch: list[str], names: list[str]
) -> tuple[set[str], list[tuple[str, str, str]]]:
    """The unit paths of ``paths`` whose earlier sessions their run replaces, and the photos
    ``db`` holds named as one of ``names`` in other sessions: (path, session id, source),
    oldest session first."""
    from fieldtool.store import connect

    if not db.exists():
        return set(), []
    with connect(db, read_only=True) as con:
        # the rows fieldtool.scale.merge._replace_earlier replaces: the same path, done
        # under a key that is not this batch's
        own = con.execute("SELECT path, session_id FROM batch_files WHERE status = 'done' AND "
                          "list_contains(?, path) AND NOT list_contains(?, batch_key)",
                          [paths, this_batch]).fetchall()  # fmt: skip
        rows = con.execute(
            "SELECT m.path, m.session_id, s.source FROM media m JOIN sessions s USING "
            "(session_id) WHERE parse_filename(m.path) IN (SELECT unnest(?::VARCHAR[])) AND "
            "NOT list_contains(?::VARCHAR[], m.session_id) ORDER BY s.started_at, "
            "m.session_id, m.frame_index", [names, [s for _, s in own if s]],
        ).fetchall()  # fmt: skip
    return {p for p, _ in own}, [(str(p), str(i), str(s)) for p, i, s in rows]


def _hash_if_alike(path: str, wanted: dict[str, set[int]]) -> str:
    """sha256 of a photo a session holds at a path this batch does not name, read only
    where its name and size are those of a photo to run ("" otherwise, or gone)."""
    try:
        if os.stat(path).st_size not in wanted.get(PurePath(path).name, set()):
            return ""
        return content_sha256(path)
    except OSError:
        return ""
