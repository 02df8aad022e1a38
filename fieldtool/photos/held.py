"""Photos a database already holds, wherever they now live: a card's folder run, then renamed,
moved into a per-site folder, copied or re-tagged and run again, would count every sighting
twice (the rerun check knows paths only).

A photo is held when a ``media`` row of another session is of it (:func:`held_in`), told

1. by its picture and file name: ``media.picture_sha256`` (stored since schema 10;
   :func:`~fieldtool.photos.same.photo_hashes`: a JPEG's compressed image data, which a
   tagging tool leaves as it was) and ``media.path``'s name, case aside
   (:func:`~fieldtool.photos.same.picture_key`: two black frames, the same pixels under two
   names, are two photos);
2. for a row stored without a hash (an older file), by reading the file at the row's path
   again, where one is there with the photo's file name and size;
3. for a row without a hash whose file is gone, by the same file name and capture time to
   the second and, where both name one by EXIF, the same camera
   (:func:`~fieldtool.photos.same.photo_key`); never a photo dated by its file's time.

``fieldtool run`` leaves such photos out of its set (:class:`HeldCheck`), ``fieldtool
batch`` out of its units (:mod:`fieldtool.scale.copies`): each photo counts once.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath

import pandas as pd

from fieldtool.names import first_few
from fieldtool.photos.same import photo_key, picture_key, picture_sha256, told_camera
from fieldtool.sources import source_key
from fieldtool.types import FieldtoolError

PICTURE = "the same picture"
NAME_TIME = "the same file name and capture time"


@dataclass(frozen=True)
class Asked:
    """A photo to run, as the check compares it: its path as given, picture hash ("":
    unknown; :func:`~fieldtool.photos.same.photo_hashes`), size (bytes), capture time as its
    run stores it (None: dated by its file, never told by time) and camera
    (``media.camera``'s form)."""

    path: str
    picture: str
    size: int
    taken: datetime | None = None
    camera: str = ""


@dataclass(frozen=True)
class Held:
    """Where a photo was run: the session's source and id, and how it was told."""

    where: str
    session_id: str
    how: str  # PICTURE or NAME_TIME


@dataclass
class Stored:
    """What a database holds of the photos asked about (oldest session first): by picture
    hash and file name (:func:`~fieldtool.photos.same.picture_key`), and by (file name, capture second) -> [(camera as told, where)] for rows without
    a hash whose file is gone."""

    by_picture: dict[str, Held] = field(default_factory=dict)
    by_time: dict[tuple[str, datetime], list[tuple[str, Held]]] = field(default_factory=dict)

    def of(self, photo: Asked) -> Held | None:
        """Where ``photo`` was run before, or None."""
        if photo.picture and (told := picture_key(photo.picture, photo.path)) in self.by_picture:
            return self.by_picture[told]
        key = photo_key(PurePath(photo.path).name, photo.taken)
        mine = told_camera(photo.path, photo.camera)
        for camera, held in self.by_time.get(key[:2], []) if key else []:
            if not camera or not mine or camera == mine:
                return held
        return None

    def names(self) -> set[str]:
        """The file names the capture-time rule may tell."""
        return {name for name, _ in self.by_time}


def held_in(
    db: Path | str, photos: Sequence[Asked], *, skip_sessions: Sequence[str] = (),
    skip_sources: Sequence[str] = (), read: Callable[[str], str] = picture_sha256,
) -> Stored:  # fmt: skip
    """The ``media`` rows of ``db`` that are of ``photos`` (module doc), but those of
    ``skip_sessions`` and of sessions whose source is one of ``skip_sources``; ``read``
    gives the picture hash of a file at a row's path (rule 2). A file without a ``media``
    table holds none; one that cannot be read raises FieldtoolError (a line naming it)."""
    from fieldtool.store import connect

    found = Stored()
    if not photos or not Path(db).is_file():
        return found
    sizes: dict[str, set[int]] = {}  # file name -> the sizes of the photos so named
    for photo in photos:
        sizes.setdefault(PurePath(photo.path).name, set()).add(photo.size)
    with connect(db, read_only=True) as con:
        columns = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE "
                                             "table_name = 'media'").fetchall()}  # fmt: skip
        if not columns:
            return found
        sha = "m.picture_sha256" if "picture_sha256" in columns else "CAST(NULL AS VARCHAR)"
        rows = con.execute(
            f"SELECT m.path, {sha}, m.captured_at, m.camera, m.time_source, m.session_id, "
            f"s.source FROM media m JOIN sessions s USING (session_id) WHERE ({sha} IN "
            f"(SELECT unnest(?::VARCHAR[])) OR ({sha} IS NULL AND parse_filename(m.path) IN "
            "(SELECT unnest(?::VARCHAR[])))) AND NOT list_contains(?::VARCHAR[], m.session_id) "
            "AND coalesce(s.source, '') NOT IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY s.started_at, m.session_id, m.frame_index",
            [sorted({p.picture for p in photos if p.picture}), sorted(sizes),
             list(skip_sessions), list(skip_sources)],
        ).fetchall()  # fmt: skip
    ours = {picture_key(p.picture, p.path) for p in photos if p.picture}
    for path, digest, at, camera, time_source, session_id, source in rows:
        where = (str(source), str(session_id))
        if digest:
            found.by_picture.setdefault(picture_key(digest, str(path)), Held(*where, PICTURE))
            continue
        name = PurePath(str(path)).name
        try:
            if os.stat(path).st_size in sizes.get(name, set()):
                digest = read(str(path))
        except FileNotFoundError:  # gone: told by its name and time (rule 3)
            key = photo_key(name, None if time_source == "file-mtime" or at is None
                            else pd.Timestamp(at).to_pydatetime())  # fmt: skip
            if key is not None:
                found.by_time.setdefault(key[:2], []).append(
                    (told_camera(str(path), camera), Held(*where, NAME_TIME)))
            continue
        except OSError:  # there, but not readable: not told
            continue
        if (told := picture_key(digest, name)) in ours:
            found.by_picture.setdefault(told, Held(*where, PICTURE))
    return found


class PhotosHeld(FieldtoolError):
    """Every photo of a set is held from another path: nothing to run (its one line)."""


@dataclass
class HeldCheck:
    """``fieldtool run``'s check of a photo set against its database ``db`` (module doc):
    called by :class:`~fieldtool.photos.PhotoSource` with its uri and photos, it returns
    the held ones (path -> where), said in one line in ``log``; every photo held raises
    :class:`PhotosHeld` with that line. Sessions of the set's own path are not asked
    (its rerun: the "already holds" warning, ``--replace``). ``remedy``: how to run them
    anyway."""

    db: Path
    log: Callable[[str], None]
    remedy: str = "--run-again runs them anyway"

    def __call__(self, uri: str, photos: Sequence[Asked]) -> dict[str, str]:
        try:
            stored = held_in(self.db, photos, skip_sources=[source_key(uri), uri])
        except FieldtoolError as exc:  # held by another process past the readers' wait
            self.log(f"warning: {exc}: the photos it may hold from another path are not "
                     "looked for; they run")  # fmt: skip
            return {}
        held = {p.path: found for p in photos if (found := stored.of(p)) is not None}
        if not held:
            return {}
        places = Counter(h.where for h in held.values()).most_common()
        where = first_few([f"{w} ({n})" for w, n in places], 3)
        how = " or ".join(sorted({h.how for h in held.values()}))
        every = len(held) == len(photos)
        count = f"its {len(held)}" if every else f"{len(held)} of its {len(photos)}"
        line = (f"{uri}: {count} photo(s) are held in {self.db} from another path, run before "
                f"({how}) in {where}: {'not run again' if every else 'left out'} (each photo "
                f"counts once; {self.remedy})")  # fmt: skip
        if every:
            raise PhotosHeld(line)
        self.log(line)
        return {path: h.where for path, h in held.items()}
