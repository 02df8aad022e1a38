"""Photos run before: in a batch's database each photo (its picture) counts once, whatever
unit holds it.

A batch keys a photo unit by its photos' paths and bytes (:mod:`fieldtool.scale.plan`), so a
card copied into the season folder twice (``season/card07/`` and ``season/card07_copy/``),
re-tagged (``season/card07_tagged/``: a tagging tool rewrote the photos' metadata), or
copied again later with more photos, is another unit, whose photos would run again and
count twice. A photo is told by its picture hash and its name
(:func:`fieldtool.photos.same.picture_key`: a JPEG's compressed image data, read with the
unit's key, and the file name, which copying and re-tagging keep) or by its bytes, so
copies and re-tagged copies are one photo, while two cameras that wrote one file name in
one second took two, and two black frames of one camera are two. Each photo of a unit to run (a photo folder, glob or
photo; a Camtrap DP package's media rows are records of their own, as in ``fieldtool run``)
is left out of it (:attr:`~fieldtool.scale.plan.PlanRow.leave_out`) only in favour of work
that is done:

1. a photo the database holds (a ``media`` row of a session, of this batch's input or not,
   wherever its file now lives: :func:`fieldtool.photos.held.held_in`, by
   ``media.picture_sha256``; a row of an older file, without one, by reading its path
   again, only where its file name and size are a photo's here; its file gone, by file name
   and capture time, read from the unit's photos as its run times them: ``catalog``),
   except the sessions of a unit's own path that its run now replaces
   (:func:`fieldtool.scale.merge.merge`). A killed run's finished parts are merged first,
   so they count for what they ran, not for the photos they left out;
2. a photo of a unit before it in this batch: the unit waits (:func:`next_turn`). The units
   run in turns: first those whose photos no unit before them holds (the units whose own
   path was run before and now runs again come first: they keep their photos; then plan
   order); once their outcomes are merged, the next turn tells the waiting units again, so
   a photo whose unit failed runs in the next unit that holds it.

A copy of another photo of its own unit is left out of it too (its ``leave_out`` names that
photo). A unit with no photo left is not run: its ``batch_files`` row says ``identical``,
naming the unit or source that ran the most of them (``identical_to``; no session: its
photos may be of several, and a session's row keeps the content of the unit it ran). A unit
with some left runs those, as a session of them (a card copied again later with new photos:
those new photos). Each unit with photos run before is said in one line when its turn
comes (after the outcomes it names): how many, where, and how they were told (the same
picture, or file name and capture time).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from fieldtool.photos import Photo
from fieldtool.photos.held import PICTURE, Asked, Stored, held_in
from fieldtool.photos.same import picture_key, picture_sha256
from fieldtool.scale.plan import unit_name
from fieldtool.sources import source_key

NAMED = 3  # places a unit's line names before "and N more"
Catalog = Callable[[dict[str, Any]], Sequence[Photo]]


@dataclass
class UnitCopies:
    """One unit's photos not to run, of its ``total`` photos: ``left_out`` (the photo's
    path as the unit names it -> where it was run: a session's source), ``same`` (a copy of
    another photo of the unit -> that photo's path), ``how`` they were told, and
    ``waits_for``: units of this batch before it, still to run, that hold its other photos
    (their names)."""

    key: str
    name: str
    total: int
    left_out: dict[str, str] = field(default_factory=dict)
    same: dict[str, str] = field(default_factory=dict)
    how: set[str] = field(default_factory=set)  # held.PICTURE, held.NAME_TIME
    waits_for: set[str] = field(default_factory=set)

    @property
    def none_left(self) -> bool:
        return len(self.left_out) >= self.total

    @property
    def most(self) -> str:
        """Where the most of its photos were run (its row's ``identical_to``)."""
        return Counter(self.left_out.values()).most_common(1)[0][0]

    def leave_out(self) -> dict[str, str]:
        """Its row's ``leave_out``: every photo not to run
        (:class:`~fieldtool.photos.PhotoSource`)."""
        return {**self.same, **self.left_out}

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
        told = " or ".join(sorted(self.how or {PICTURE}))
        return f"{self.name}: {which} run before ({told}) in {where}{more}: {rest}"


@dataclass
class Turn:
    """A turn of a batch's units (:func:`next_turn`): ``run`` (rows to run now, each with
    its ``leave_out``, in plan order), ``copies`` (photo units not run: every photo run
    before) and ``waiting`` (rows that share photos with a unit before them still to run:
    told again once its outcome is merged); ``said``: the units with photos run before."""

    run: list[dict[str, Any]] = field(default_factory=list)
    copies: list[UnitCopies] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    said: list[UnitCopies] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [unit.line() for unit in self.said]


def next_turn(
    db: Path, hashed: Sequence[dict[str, Any]], pending: Sequence[dict[str, Any]],
    catalog: Catalog | None = None,
) -> Turn:  # fmt: skip
    """The next turn of ``pending`` (hashed plan rows still to run, in plan order) against
    what ``db`` holds now (module doc; ``hashed``, ``catalog``: as
    :func:`photos_run_before`). The first unit never waits, so turns end."""
    found = photos_run_before(db, hashed, pending, catalog)
    turn = Turn()
    for row in pending:
        unit = found.get(row["batch_key"])
        if unit is not None and unit.waits_for:
            turn.waiting.append(row)
            continue
        if unit is not None and unit.left_out:
            turn.said.append(unit)
        if unit is not None and unit.none_left:
            turn.copies.append(unit)
        else:
            turn.run.append({**row, "leave_out": json.dumps(unit.leave_out() if unit else {})})
    return turn


def _photos(row: dict[str, Any]) -> list[tuple[str, str]]:
    """A hashed row's photos: (path, picture hash); none for a video or a package."""
    photos = json.loads(row.get("photo_sha256") or "[]")
    return [(str(p), str(picture)) for p, *_, picture in photos]


def photos_run_before(
    db: Path, hashed: Sequence[dict[str, Any]], todo: Sequence[dict[str, Any]],
    catalog: Catalog | None = None,
) -> dict[str, UnitCopies]:  # fmt: skip
    """The units of ``todo`` (hashed plan rows to run) with photos not to run now, or to
    wait for a unit before them (module doc), by batch key. ``hashed``: every row of the
    batch (a photo the database holds at a path it names is known by that path's hash);
    ``catalog``: a unit's photos as its run times them
    (:func:`fieldtool.scale.decode.unit_photos`), asked only of a unit with a photo named
    as one a row without a hash held (None: that rule is not told)."""
    units = [r for r in todo if r.get("photo_sha256")]
    if not units:
        return {}
    this_batch = sorted({r["batch_key"] for r in hashed})
    known = {source_key(p): picture for r in hashed for p, picture in _photos(r)}
    sizes = {p: int(size) for r in units for p, _, size, *_ in json.loads(r["photo_sha256"])}
    asked = [Asked(p, picture, sizes[p]) for row in units for p, picture in _photos(row)]
    replaced, own = _replaced(db, [r["path"] for r in units], this_batch)
    stored = held_in(db, asked, skip_sessions=own,
                     read=lambda path: known.get(path) or picture_sha256(path))  # fmt: skip
    done: dict[str, tuple[str, str]] = {p: (h.where, h.how) for p, h in stored.by_picture.items()}
    if catalog is not None and stored.by_time:
        _told_by_time(units, catalog, stored, done)
    first: dict[str, str] = {}  # photo -> the unit to run first that holds it (its key)
    # a photo: its picture and name (same.picture_key), or the first such of its bytes (a
    # copy renamed)
    alias: dict[str, str] = {}
    names = {r["batch_key"]: unit_name(r) for r in units}
    out: dict[str, UnitCopies] = {}
    # a unit run before at its own path keeps its photos: those first, then in plan order
    for row in sorted(units, key=lambda r: r["path"] not in replaced):
        name, key = unit_name(row), row["batch_key"]
        photos = json.loads(row["photo_sha256"])
        unit = UnitCopies(key, name, len(photos))
        mine: dict[str, str] = {}  # photo -> its first path in this unit
        for path, whole, *_, picture in photos:
            itself = picture_key(picture, path)
            photo = alias.setdefault(whole, itself)
            if (held := done.get(itself) or done.get(photo)) is not None:
                unit.left_out[path], told = held
                unit.how.add(told)
            elif photo in mine:
                unit.same[path] = mine[photo]
            elif first.setdefault(photo, key) != key:
                unit.waits_for.add(names[first[photo]])
            mine.setdefault(photo, path)
        if unit.left_out or unit.same or unit.waits_for:
            out[key] = unit
    return out


def _told_by_time(
    units: Sequence[dict[str, Any]], catalog: Catalog, stored: Stored,
    done: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    """Into ``done``: the photos of ``units`` that rows without a hash, their files gone,
    held (same file name, capture time and camera), read from ``catalog`` only for a unit
    with a photo of such a name."""
    names = stored.names()
    for row in units:
        pictures = dict(_photos(row))
        if names.isdisjoint(PurePath(p).name for p in pictures):
            continue
        for photo in catalog(row):
            picture = pictures.get(str(photo.path), "")
            taken = None if photo.time_source == "file-mtime" else photo.captured_at
            key = picture_key(picture, photo.path)
            if picture and key not in done and (
                held := stored.of(Asked(str(photo.path), "", 0, taken, photo.camera))
            ):
                done[key] = (held.where, held.how)


def _replaced(db: Path, paths: list[str], this_batch: list[str]) -> tuple[set[str], list[str]]:
    """The unit paths of ``paths`` whose earlier sessions their run replaces, and those
    sessions: the rows :func:`fieldtool.scale.merge._replace_earlier` replaces (the same
    path, done under a key that is not this batch's)."""
    from fieldtool.store import connect

    if not db.exists():
        return set(), []
    with connect(db, read_only=True) as con:
        own = con.execute("SELECT path, session_id FROM batch_files WHERE status = 'done' AND "
                          "list_contains(?, path) AND NOT list_contains(?, batch_key)",
                          [paths, this_batch]).fetchall()  # fmt: skip
    return {p for p, _ in own}, [s for _, s in own if s]
