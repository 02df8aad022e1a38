"""Photos a database already holds from another path: a card's folder run, then a copy of it
run from elsewhere, would count every sighting twice (the rerun check knows paths only)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePath

import pandas as pd

from fieldtool.photos.same import photo_key
from fieldtool.photos.source import PhotoSource
from fieldtool.sources import source_key
from fieldtool.store import query
from fieldtool.types import FieldtoolError


def held_elsewhere(db: Path | str, source: PhotoSource) -> str | None:
    """A one-line warning when ``db`` holds media rows of ``source``'s photos from sessions
    of another source path: how many of its photos, from which session(s) and path(s), and
    what to do; else None (also for a file that does not exist yet or that another process
    holds). A photo is the same by file name and capture time to the second
    (``media.captured_at``, as stored; :func:`~fieldtool.photos.same.photo_key`): the media
    table keeps no hash of the bytes nor the file's size. Sessions of
    ``source``'s own path are left to the "already holds" warning."""
    if not Path(db).is_file() or not source.photos:
        return None
    ours = {photo_key(p.path.name, p.captured_at) for p in source.photos}
    times = sorted({p.captured_at.replace(microsecond=0) for p in source.photos})
    uri = str(source.uri)
    try:
        rows = query(db, "SELECT m.path, m.captured_at, m.session_id, s.source FROM media m "
                         "JOIN sessions s USING (session_id) WHERE s.source NOT IN (?, ?) "
                         "AND date_trunc('second', m.captured_at) IN "
                         "(SELECT unnest(?::TIMESTAMP[]))",
                     [source_key(uri), uri, times])  # fmt: skip
    except FieldtoolError:
        return None
    found: set[object] = set()
    where: Counter[tuple[str, str]] = Counter()  # (session, source path): photos of ours
    for path, at, session_id, held_in in rows.itertuples(index=False):
        key = photo_key(PurePath(str(path)).name, pd.Timestamp(at).to_pydatetime())
        if key in ours:
            found.add(key)
            where[(str(session_id), str(held_in))] += 1
    if not found:
        return None
    sessions = ", ".join(f"{n} in session {sid} of {path}" for (sid, path), n in
                         where.most_common(3))  # fmt: skip
    more = f" and {len(where) - 3} more session(s)" if len(where) > 3 else ""
    first = where.most_common(1)[0][0][1]
    return (f"warning: {db} already holds {len(found)} of its {len(source.photos)} photos "
            f"(same file name and capture time) from another path: {sessions}{more}; this "
            "run's sightings of them are added beside those, so counts include both; to run "
            f"them again in their place, run {first} with --replace (it deletes its earlier "
            "sessions first), or give another --db")
