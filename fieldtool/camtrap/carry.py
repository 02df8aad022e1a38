"""A package's media that fieldtool did not classify, carried through its export.

``fieldtool run PACKAGE`` runs a deployment's local photos; its videos (fileMediatype not
``image/*``), its media at a URL, a photo that does not decode (skipped, said by the run)
and one whose file is missing make no ``media`` row of the session. The export of that
session (:mod:`fieldtool.camtrap.write`) writes their media rows back as the package wrote
them (:func:`carried`): every column, its ``mediaID`` (unless the export took it already),
the file copied into the package below ``media/`` as a photo is
(:func:`fieldtool.camtrap.files.package_path`), a URL kept, ``mediaComments`` saying that
fieldtool did not classify it (and why: :data:`KINDS`; a local path that is no file is a
``missing file`` whatever its type, its row written without it). A file outside the
package (``file:///...``, ``media/../..``, a link out of it) is never copied: its row
says so (:data:`OUTSIDE`), and the export says so in one line. Their observations are the package's alone
(:func:`fieldtool.camtrap.origin.written_back`): fieldtool writes none over them.
``--since``/``--until`` keep those whose ``timestamp`` is in the window.

A deployment that no session of the file ran (all videos, all remote, a video session of
a fieldtool export, which has no media rows) has nothing in the sightings file: the export
carries it through whole (:func:`unrun`), as the package wrote it: its deployment row, its
media rows (as above), its observations (its sighting), and names it in one line
(``pkg: 1 deployment no session of this file ran carried through as the package wrote
it (not classified by fieldtool): walk-1: 2 media (2 videos), 1 observations``). So
export -> run -> export keeps every row.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fieldtool.camtrap.files import Layout, inside, package_path
from fieldtool.camtrap.origin import Origin, merged_comments, package_origin, wanted
from fieldtool.camtrap.read import CamtrapPackage, Media
from fieldtool.camtrap.rows import SessionRows
from fieldtool.camtrap.standard import COLUMNS
from fieldtool.export_rows import ExportFilter
from fieldtool.sources import source_key

# Why a media row was not run, in words (one, several) for comments and log lines.
KINDS = {
    "video": ("video", "videos"),
    "other": ("file not a photo", "files not photos"),
    "remote": ("remote", "remote"),
    "missing": ("missing file", "missing files"),
    "not run": ("photo not run", "photos not run"),  # skipped by the run (its log: why)
}
# A package's row naming a file outside it (file:///..., media/../.., a link out of it): a
# package someone else wrote must not pull a local file into an export that is published.
OUTSIDE = "file outside the package, not copied"


@dataclass
class Carried:
    """What :func:`carried` wrote of a session's package deployment."""

    rows: list[dict[str, str]] = field(default_factory=list)  # media rows, the table's order
    ids: dict[str, str] = field(default_factory=dict)  # package mediaID -> exported
    times: list[datetime] = field(default_factory=list)  # their timestamps, UTC naive
    kinds: Counter[str] = field(default_factory=Counter)  # by KINDS key


def kind(m: Media) -> str:
    """Why fieldtool did not run ``m`` (a :data:`KINDS` key): a local path that is not a
    file is ``missing`` whatever its type (a package shipped without its large videos)."""
    if not isinstance(m.file_path, Path):
        return "remote"
    if not m.file_path.is_file():
        return "missing"
    major = m.file_mediatype.split("/", 1)[0].lower()
    if major != "image":
        return "video" if major == "video" else "other"
    return "not run"


def counted(kinds: Counter[str]) -> str:
    """``{"video": 3, "not run": 1}`` as "3 videos, 1 photo not run (...)"."""
    return ", ".join(f"{n} {KINDS[k][n != 1]}" for k, n in sorted(
        kinds.items(), key=lambda item: list(KINDS).index(item[0])))  # fmt: skip


def _in_window(when: datetime, filters: ExportFilter, until: datetime | None = None) -> bool:
    """Whether ``when`` (UTC naive) is in ``--since``/``--until``; with ``until``, whether
    ``when``..``until`` (an observation's event) meets them."""
    from fieldtool.timebase import utc_naive

    since = utc_naive(filters.since) if filters.since is not None else None
    last = utc_naive(filters.until) if filters.until is not None else None
    return (since is None or (until or when) >= since) and (last is None or when <= last)


def _media_row(
    m: Media, given: dict[str, str], package: Path, dep: str, *, used: Layout, taken: set[str]
) -> tuple[str, dict[str, str]]:  # fmt: skip
    """(why, row): the media row ``given`` as written, of deployment ``dep``, its mediaID
    one ``taken`` has not (updated), its file to copy below ``media/<folder>/`` (``used``:
    the paths taken and the copies planned, updated; a file outside the ``package``, or
    not there, is not copied: ``used.outside``, ``used.missing``), ``mediaComments``
    saying fieldtool did not classify it."""
    why = kind(m)
    row = {c: given.get(c, "") for c in COLUMNS["media"]}
    row["deploymentID"] = dep
    media_id, n = given["mediaID"], 1
    while media_id in taken:
        n += 1
        media_id = f"{given['mediaID']}_{n}"
    taken.add(media_id)
    row["mediaID"] = media_id
    comments = [f"not classified by fieldtool ({KINDS[why][0]})"]
    if isinstance(m.file_path, Path):
        row["filePath"] = package_path(str(m.file_path), package, used.folder(dep), media_id,
                                       used, own_layout=True)  # fmt: skip
        if not inside(m.file_path, package):  # file:///..., media/../.., a link out of it
            used.outside.append(str(m.file_path))
            comments.append(OUTSIDE)
        elif why == "missing":
            used.missing.append(str(m.file_path))
            comments.append(f"file not found at export: {m.file_path}")
        else:
            used.copies.append((m.file_path, row["filePath"], f"package {package}"))
    row["mediaComments"] = merged_comments(given.get("mediaComments", ""), *comments)
    return why, row


def carried(
    origin: Origin, s: SessionRows, dep: str, filters: ExportFilter, *, used: Layout,
    taken: set[str],
) -> Carried:  # fmt: skip
    """The media rows of ``origin`` (the package deployment ``s`` ran, exported as ``dep``)
    that are none of the session's photos (:attr:`SessionRows.paths`): as written, their
    files to copy below the deployment's folder. ``used``: the package's file paths and
    the copies planned (:class:`~fieldtool.camtrap.files.Layout`), ``taken``: its
    mediaIDs, both updated."""
    ran = {source_key(path) for path in s.paths}
    done = Carried()
    for m, given in origin.rows:
        local = isinstance(m.file_path, Path)
        if (local and source_key(str(m.file_path)) in ran) or not _in_window(m.timestamp, filters):
            continue
        why, row = _media_row(m, given, origin.package, dep, used=used, taken=taken)
        done.rows.append(row)
        done.ids[given["mediaID"]] = row["mediaID"]
        done.times.append(m.timestamp)
        done.kinds[why] += 1
    return done


@dataclass
class Unrun:
    """The packages' deployments no session of the file ran, as :func:`unrun` carried them."""

    deployments: list[dict[str, str]] = field(default_factory=list)
    media: list[dict[str, str]] = field(default_factory=list)
    observations: list[dict[str, str]] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)  # their media, by KINDS key


def _free_id(dep: str, package: Path, deployments: set[str]) -> str:
    """``dep``, or where another deployment of the export has it (a primary key), ``dep``
    with a hash of its package's path appended: the same in every export."""
    name, n = dep, 0
    while name in deployments:
        n += 1
        digest = hashlib.sha256(f"{package}|{dep}|{n}".encode()).hexdigest()[:8]
        name = f"{dep}-{digest}"
    deployments.add(name)
    return name


def unrun(
    packages: Iterable[CamtrapPackage], sessions: Iterable[SessionRows], filters: ExportFilter,
    say: Callable[[str], None], *, deployments: set[str], used: Layout, taken: set[str],
) -> Unrun:  # fmt: skip
    """The deployments of ``packages`` that no session of the file (``sessions``) ran (only
    videos, only URLs, no media, one ``--deployment`` left out), carried through whole, as
    each package wrote them: the deployment row, its media rows (as :func:`carried` writes
    them, their files below ``media/<deploymentID>/``), its observations (every column;
    :func:`~fieldtool.camtrap.origin.wanted` by the filters on sightings). Nothing of
    them is in the sightings file, so this is all a round trip keeps of them (a video's
    sighting). ``--since``/``--until`` keep the media and observations in the window, and
    a deployment with none is left out; ``--session`` and chosen sightings keep none
    (another session's business). One line per package names what was carried.
    ``deployments``: the export's deploymentIDs (a taken one gets a suffix, said),
    ``used``/``taken`` as for :func:`carried`."""
    done = Unrun()
    if filters.session_id is not None or filters.sighting_ids is not None:
        return done
    windowed = filters.since is not None or filters.until is not None
    ran = {(s.source, s.source_name) for s in sessions}
    for pkg in sorted(packages, key=lambda p: str(p.path)):
        key = source_key(str(pkg.path))
        said: list[str] = []
        for d in pkg.deployments:
            origin = package_origin(pkg, d.deployment_id)
            if (key, d.deployment_id) in ran or origin is None:
                continue
            kept = [(m, given) for m, given in origin.rows if _in_window(m.timestamp, filters)]
            notes = [(o, row) for o, row in origin.observations
                     if _in_window(o.event_start, filters, o.event_end)]  # fmt: skip
            if windowed and not kept and not notes:
                continue  # nothing of it in the window: no deployment
            dep = _free_id(d.deployment_id, pkg.path, deployments)
            row = {c: origin.deployment.get(c, "") for c in COLUMNS["deployments"]}
            row["deploymentID"] = dep
            done.deployments.append(row)
            ids: dict[str, str] = {}
            for m, given in kept:
                why, media = _media_row(m, given, pkg.path, dep, used=used, taken=taken)
                done.media.append(media)
                ids[given["mediaID"]] = media["mediaID"]
                done.kinds[why] += 1
            n = len(done.observations)
            for o, given in notes:
                if (o.media_id is not None and o.media_id not in ids) or not wanted(o, filters):
                    continue  # of a media row left out; not a sighting the filters keep
                back = {c: given.get(c, "") for c in COLUMNS["observations"]}
                back["deploymentID"] = dep
                back["mediaID"] = ids[o.media_id] if o.media_id else ""
                done.observations.append(back)
            renamed = f" as {dep}, its ID another deployment's" if dep != d.deployment_id else ""
            said.append(f"{d.deployment_id}{renamed}: {len(kept)} media"
                        + (f" ({counted(Counter(kind(m) for m, _ in kept))})" if kept else "")
                        + f", {len(done.observations) - n} observation"
                        + "s" * (len(done.observations) - n != 1))  # fmt: skip
        if said:
            named = "; ".join(said[:5]) + (f"; and {len(said) - 5} more" if len(said) > 5 else "")
            say(f"{pkg.path}: {len(said)} deployment{'s' * (len(said) != 1)} no session of this "
                f"file ran carried through as the package wrote {'them' if len(said) != 1 else 'it'}"
                f" (not classified by fieldtool): {named}")  # fmt: skip
    return done
