"""What a session's Camtrap DP package said, read again for its export.

``fieldtool run PACKAGE`` runs one session per deployment: ``sessions.source`` is the
package's folder (:func:`fieldtool.sources.source_key`) and ``sessions.source_name`` the
deploymentID; each ``media`` row's ``path`` is its photo's file. The sightings file holds no
more of the package (no table holds a deployment's period, camera or set-up, nor the
package's own observations), so the export reads the package again from there
(:func:`session_origin`) and writes back what it said:

- the deployment: every column the package gave, as written (:func:`deployment_row`):
  ``cameraID``, ``deploymentStart``/``deploymentEnd`` (the camera's period: the effort
  analyses divide by, not the span of the photos), ``locationID``, ``cameraModel``, ...;
  ``timestampIssues`` is true when the package's or fieldtool's is; ``deploymentComments``
  keeps the package's, then fieldtool's;
- each photo's media row: its ``mediaID``, ``captureMethod``, ``filePublic``, ``favorite``,
  ``exifData``, ``fileName``, ``timestamp`` and ``mediaComments`` (:func:`media_rows`);
- the deployment's media fieldtool did not classify (videos, a photo that did not decode,
  a URL): their rows as written (:mod:`fieldtool.camtrap.carry`);
- the package's observations of the media exported (media level: of those media; event
  level: the deployment's, meeting their times), every column as written, their
  ``mediaID`` the media's in the export (:func:`written_back`). A sighting whose review
  in force they decided (a confirm, a relabel, a reject) is theirs: fieldtool writes no
  row of its own for it; a reject decided in fieldtool is written as the reviewer's
  ``unknown`` row beside them. The same model's observations (a package fieldtool wrote,
  run again) are left to the run's own.

A package no longer readable at the session's source is said (:func:`period_note`): the
period is then the photos' span, as for a folder of photos.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fieldtool.camtrap.read import CamtrapPackage, Media, Observation, is_package, read_package
from fieldtool.camtrap.rows import SessionRows
from fieldtool.camtrap.standard import COLUMNS, parse_time
from fieldtool.export_rows import ExportFilter
from fieldtool.types import FieldtoolError

# media.time_source of a photo timed by its package's media.timestamp (a PhotoItem's time)
GIVEN = "given"
# A session's media rows: frame_index -> (mediaID, row) (write.py's MediaRows).
MediaRows = dict[int, tuple[str, dict[str, str]]]
# Observation types that classify what a photo shows (not "unclassified": nobody did).
CLASSIFIED = frozenset({"animal", "human", "vehicle", "blank", "unknown"})
# How fieldtool's note in deploymentComments begins (write.py), after the package's own.
SESSION_NOTE = "fieldtool session "
# What deploymentComments says of a period that is the photos' span (period_note).
UNKNOWN_PERIOD = "the first and last photo's times, not a known deployment period"
_EARLIER_NOTE = re.compile(f"(?:^|; ){SESSION_NOTE}")


@dataclass(frozen=True)
class Origin:
    """A session's deployment as its package wrote it."""

    package: Path
    deployment: dict[str, str]  # its deployments.csv row, as written
    media: dict[str, dict[str, str]]  # a local photo's file (source_key) -> its media row
    observations: tuple[tuple[Observation, dict[str, str]], ...]  # of the deployment
    # every media row of the deployment (in the table's order), as read and as written
    rows: tuple[tuple[Media, dict[str, str]], ...] = ()
    # (UTC naive, zone as written: "UTC" or "±hh:mm") of each time the package wrote for
    # the deployment (its media's timestamps, its start and end), by time: the session's
    # times are written in these offsets (:func:`offset_at`)
    zones: tuple[tuple[datetime, str], ...] = ()


def _key(path: Path | str) -> str:
    from fieldtool.sources import source_key

    return source_key(str(path))


def package_origin(pkg: CamtrapPackage, deployment_id: str) -> Origin | None:
    """The deployment ``deployment_id`` of ``pkg`` as it wrote it; None when it has none."""
    rows = pkg.tables.get("deployments", ())
    found = [r for r in rows if r.get("deploymentID") == deployment_id]
    if not found:
        return None
    rows_ = tuple((m, row) for m, row in zip(pkg.media, pkg.tables.get("media", ()), strict=False)
                  if m.deployment_id == deployment_id)  # fmt: skip
    media = {_key(m.file_path): row for m, row in rows_ if isinstance(m.file_path, Path)}
    observations = tuple(
        (o, row)
        for o, row in zip(pkg.observations, pkg.tables.get("observations", ()), strict=False)
        if o.deployment_id == deployment_id
    )
    zones = [(m.timestamp, m.zone) for m, _ in rows_]
    for column in ("deploymentStart", "deploymentEnd"):
        with contextlib.suppress(FieldtoolError):  # read_package checked them; a gap is none
            zones.append(parse_time(found[0].get(column, ""), "package"))
    return Origin(pkg.path, found[0], media, observations, rows_, tuple(sorted(zones)))


def offset_at(zones: Sequence[tuple[datetime, str]], when: datetime) -> str | None:
    """The zone the package wrote its time nearest ``when`` in (the earlier on a tie), so a
    time fieldtool writes of a package's deployment reads as the package's beside it (a
    camera at -05:00 stays at -05:00; a package written across a daylight saving change
    keeps each side's offset); None without ``zones``. ``when``: UTC naive."""
    if not zones:
        return None
    i = bisect.bisect_left(zones, when, key=lambda z: z[0])
    near = [zones[k] for k in (i - 1, i) if 0 <= k < len(zones)]
    return min(near, key=lambda z: abs((z[0] - when).total_seconds()))[1]


def session_origin(
    s: SessionRows, cache: dict[str, CamtrapPackage | str]
) -> Origin | str | None:
    """The package deployment ``s`` ran; a note (str) when it was a package's (its photos
    timed by the package) that cannot be read now; None for any other session. ``cache``:
    packages (or why not) by path, each read once per export."""
    given = any(p.time_source == GIVEN for p in s.photos)
    if not s.source_name or "://" in s.source or not (given or is_package(s.source)):
        return None
    if s.source not in cache:
        try:
            cache[s.source] = read_package(s.source)
        except FieldtoolError as exc:
            cache[s.source] = str(exc)
    pkg = cache[s.source]
    if isinstance(pkg, str):
        return f"its Camtrap DP package cannot be read at export ({pkg})"
    found = package_origin(pkg, s.source_name)
    if found is None:
        return f"its Camtrap DP package {s.source} has no deployment {s.source_name} now"
    return found


def period_note(s: SessionRows, origin: Origin | str | None) -> str:
    """What ``deploymentComments`` says of a photo session's period that is not a
    package's: the first and last photo's times (and why no package's)."""
    if isinstance(origin, Origin) or not s.photos:
        return ""
    note = f"deploymentStart/deploymentEnd are {UNKNOWN_PERIOD}"
    return f"{note}: {origin}" if isinstance(origin, str) else note


def _utc(text: str) -> datetime | None:
    try:
        return parse_time(text, "package")[0] if text else None
    except FieldtoolError:
        return None


def own_comments(text: str) -> str:
    """A package's own ``deploymentComments``: what an earlier fieldtool export appended
    (its note, from "fieldtool session ..." to the end, and the notes after it) left out,
    since this export writes its own; so a round trip says fieldtool's note once."""
    found = _EARLIER_NOTE.search(text)
    return text[: found.start()] if found else text


def deployment_row(row: dict[str, str], origin: Origin, s: SessionRows) -> dict[str, str]:
    """``row`` (fieldtool's deployment of ``s``) with every column the package gave, as it
    wrote it (module doc)."""
    given = origin.deployment
    out = {c: given.get(c, "") or row.get(c, "") for c in COLUMNS["deployments"]}
    out["deploymentID"] = row["deploymentID"]
    issues = "true" in (given.get("timestampIssues", "").lower(), row.get("timestampIssues"))
    out["timestampIssues"] = "true" if issues else "false"
    notes = [own_comments(given.get("deploymentComments", "")),
             row.get("deploymentComments", "")]
    if UNKNOWN_PERIOD in given.get("deploymentComments", ""):  # no period known still
        notes.append(f"deploymentStart/deploymentEnd are {UNKNOWN_PERIOD}")
    start, end = _utc(out["deploymentStart"]), _utc(out["deploymentEnd"])
    times = [p.captured_at for p in s.photos if p.captured_at is not None and not p.local_clock]
    outside = sum((start is not None and t < start) or (end is not None and t > end)
                  for t in times)  # fmt: skip
    if outside:
        notes.append(f"{outside} of {len(times)} photos fall outside the package's "
                     "deploymentStart..deploymentEnd")  # fmt: skip
    out["deploymentComments"] = "; ".join(n for n in notes if n)
    return out


def merged_comments(given: str, *ours: str) -> str:
    """A package's ``mediaComments`` with fieldtool's notes (``ours``, each "a; b") after it,
    each note once: one a package fieldtool wrote says already is not said again (a round
    trip says it once)."""
    notes = [n for n in given.split("; ") if n]
    for text in ours:
        notes += [n for n in text.split("; ") if n and n not in notes]
    return "; ".join(notes)


def media_rows(
    rows: MediaRows, s: SessionRows, origin: Origin, taken: set[str]
) -> tuple[MediaRows, dict[str, str]]:
    """``rows`` (fieldtool's media rows of ``s``) with the package's own columns (module
    doc); a package mediaID another row of the export took already stays fieldtool's.
    Also returns package mediaID -> the exported one. ``taken``: the export's mediaIDs,
    updated."""
    paths = {p.frame_index: p.path for p in s.photos}
    out: MediaRows = {}
    ids: dict[str, str] = {}
    for frame, (media_id, row) in rows.items():
        given = origin.media.get(_key(paths.get(frame, "")))
        if given is None:
            taken.add(media_id)
            out[frame] = (media_id, row)
            continue
        new = dict(row)
        if given["mediaID"] and given["mediaID"] not in taken:
            new["mediaID"] = given["mediaID"]
        for column in ("captureMethod", "filePublic", "exifData", "favorite", "fileName"):
            new[column] = given.get(column, "") or row.get(column, "")
        if _utc(given.get("timestamp", "")) == _utc(row.get("timestamp", "")):
            new["timestamp"] = given["timestamp"]  # the same instant, as the package wrote it
        new["mediaComments"] = merged_comments(given.get("mediaComments", ""),
                                               row.get("mediaComments", ""))  # fmt: skip
        taken.add(new["mediaID"])
        ids[given["mediaID"]] = new["mediaID"]
        out[frame] = (new["mediaID"], new)
    return out, ids


def wanted(o: Observation, filters: ExportFilter) -> bool:
    """An observation of the package within the export's filters on sightings: a species
    filter keeps its species (no blanks), reviewed-only the people's, a chosen set of
    sightings none."""
    from fieldtool.names import label_key

    if filters.sighting_ids is not None:
        return False
    if filters.reviewed_only and (o.classification_method or "").lower() != "human":
        return False
    if filters.species:
        keys = {label_key(name) for name in filters.species}
        return o.scientific_name is not None and label_key(o.scientific_name) in keys
    return True


def written_back(
    origin: Origin, s: SessionRows, dep: str, media: MediaRows, ids: dict[str, str],
    filters: ExportFilter, carried: Sequence[datetime] = (),
) -> list[dict[str, str]]:  # fmt: skip
    """The package's observations of the media of ``s`` exported (module doc), every
    column as written; ``ids``: package mediaID -> exported (:func:`media_rows`, and the
    media carried through, ``carried`` their times, UTC naive)."""
    times = [p.captured_at for p in s.photos
             if p.frame_index in media and p.captured_at is not None] + list(carried)  # fmt: skip
    if not times:
        return []
    first, last = min(times), max(times)
    out = []
    for o, row in origin.observations:
        if (o.classification_method or "").lower() == "machine" and o.classified_by == s.model_id:
            continue  # this model's earlier say: the run's own rows replace it
        if o.media_id is not None and o.media_id not in ids:
            continue  # of a media row not exported (filtered out)
        if o.media_id is None and not (o.event_start <= last and o.event_end >= first):
            continue
        if not wanted(o, filters):
            continue
        back = {c: row.get(c, "") for c in COLUMNS["observations"]}
        back["deploymentID"] = dep
        back["mediaID"] = ids.get(o.media_id, "") if o.media_id else ""
        out.append(back)
    return out


def covered(
    rows: list[dict[str, str]], s: SessionRows, media: MediaRows
) -> set[int]:  # fmt: skip
    """Frame indices of the photos of ``s`` that the package's observations written back
    (``rows``) classify: the photo's own (its mediaID), or an event-level one meeting its
    time. fieldtool writes no ``blank`` of its own over them: a model that does not know
    what the package's observer named cannot say the photo is empty."""
    by_media = {r["mediaID"] for r in rows if r["mediaID"] and r["observationType"] in CLASSIFIED}
    spans = [(_utc(r["eventStart"]), _utc(r["eventEnd"])) for r in rows
             if not r["mediaID"] and r["observationType"] in CLASSIFIED]  # fmt: skip
    found = set()
    for p in s.photos:
        if p.frame_index not in media:
            continue
        if media[p.frame_index][0] in by_media or (p.captured_at is not None and any(
                a is not None and b is not None and a <= p.captured_at <= b for a, b in spans)):
            found.add(p.frame_index)
    return found


def unique_ids(
    rows: list[dict[str, str]], reserved: set[str] | frozenset[str] = frozenset()
) -> list[dict[str, str]]:
    """``rows`` (observations) with each observationID once (the primary key): a later row
    whose id an earlier one has, or one of ``reserved`` (a package's observations a filter
    left out: an id names the same content in every export), gets ``_2``, ``_3``, ... (a
    package fieldtool wrote, run again, holds ids fieldtool makes again)."""
    seen: set[str] = set(reserved)
    for row in rows:
        base, n = row["observationID"], 1
        while row["observationID"] in seen:
            n += 1
            row["observationID"] = f"{base}_{n}"
        seen.add(row["observationID"])
    return rows
