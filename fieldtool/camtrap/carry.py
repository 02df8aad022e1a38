"""A package's media that fieldtool did not classify, carried through its export.

``fieldtool run PACKAGE`` runs a deployment's local photos; its videos (fileMediatype not
``image/*``), its media at a URL, a photo that does not decode (skipped, said by the run)
and one whose file is missing make no ``media`` row of the session. The export of that
session (:mod:`fieldtool.camtrap.write`) writes their media rows back as the package wrote
them (:func:`carried`): every column, its ``mediaID`` (unless the export took it already),
the file copied into the package below ``media/`` as a photo is
(:func:`fieldtool.camtrap.files.package_path`), a URL kept, ``mediaComments`` saying that
fieldtool did not classify it. Their observations are the package's alone
(:func:`fieldtool.camtrap.origin.written_back`): fieldtool writes none over them.
``--since``/``--until`` keep those whose ``timestamp`` is in the window.

A deployment that no session of the file ran (all videos, all remote) has nothing in the
sightings file to export: :func:`unrun_line` names its media in one line
(``2 media of the package not exported: 2 videos (deployment walk-1: ...)``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fieldtool.camtrap.files import package_path, place_file
from fieldtool.camtrap.origin import Origin, merged_comments
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


@dataclass
class Carried:
    """What :func:`carried` wrote of a session's package deployment."""

    rows: list[dict[str, str]] = field(default_factory=list)  # media rows, the table's order
    ids: dict[str, str] = field(default_factory=dict)  # package mediaID -> exported
    times: list[datetime] = field(default_factory=list)  # their timestamps, UTC naive
    kinds: Counter[str] = field(default_factory=Counter)  # by KINDS key


def kind(m: Media) -> str:
    """Why fieldtool did not run ``m`` (a :data:`KINDS` key)."""
    if not isinstance(m.file_path, Path):
        return "remote"
    major = m.file_mediatype.split("/", 1)[0].lower()
    if major != "image":
        return "video" if major == "video" else "other"
    return "not run" if m.file_path.is_file() else "missing"


def counted(kinds: Counter[str]) -> str:
    """``{"video": 3, "not run": 1}`` as "3 videos, 1 photo not run (...)"."""
    return ", ".join(f"{n} {KINDS[k][n != 1]}" for k, n in sorted(
        kinds.items(), key=lambda item: list(KINDS).index(item[0])))  # fmt: skip


def _in_window(when: datetime, filters: ExportFilter) -> bool:
    from fieldtool.timebase import utc_naive

    since = utc_naive(filters.since) if filters.since is not None else None
    until = utc_naive(filters.until) if filters.until is not None else None
    return (since is None or when >= since) and (until is None or when <= until)


def carried(
    origin: Origin, s: SessionRows, dep: str, folder: str, out: Path, filters: ExportFilter,
    *, used: set[str], taken: set[str], copied: list[int], missing: list[str],
) -> Carried:  # fmt: skip
    """The media rows of ``origin`` (the package deployment ``s`` ran, exported as ``dep``
    below ``media/<folder>/``) that are none of the session's photos (:attr:`SessionRows.paths`):
    as written, their files copied into ``out``. ``used``: the package's file paths
    (casefolded), ``taken``: its mediaIDs, both updated; ``copied`` gets each file's size,
    ``missing`` each local file not there."""
    ran = {source_key(path) for path in s.paths}
    done = Carried()
    for m, given in origin.rows:
        local = isinstance(m.file_path, Path)
        if (local and source_key(str(m.file_path)) in ran) or not _in_window(m.timestamp, filters):
            continue
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
        if local:
            row["filePath"] = package_path(str(m.file_path), origin.package, folder, media_id,
                                           used, own_layout=True)  # fmt: skip
            if why == "missing":
                missing.append(str(m.file_path))
                comments.append(f"file not found at export: {m.file_path}")
            else:
                (out / row["filePath"]).parent.mkdir(parents=True, exist_ok=True)
                copied.append(place_file(Path(m.file_path), out / row["filePath"]))
        row["mediaComments"] = merged_comments(given.get("mediaComments", ""), *comments)
        done.rows.append(row)
        done.ids[given["mediaID"]] = media_id
        done.times.append(m.timestamp)
        done.kinds[why] += 1
    return done


def unrun_line(
    packages: Iterable[CamtrapPackage], sessions: Iterable[SessionRows], filters: ExportFilter,
    say: Callable[[str], None],
) -> None:  # fmt: skip
    """One line per package naming its media (in the window) of deployments that no session
    of the file ran (by :data:`KINDS`), which the export does not write: nothing of them is
    in the sightings file. Nothing with ``--session`` (another session's business)."""
    if filters.session_id is not None:
        return
    ran = {(s.source, s.source_name) for s in sessions}
    for pkg in sorted(packages, key=lambda p: str(p.path)):
        key = source_key(str(pkg.path))
        unrun = {d.deployment_id for d in pkg.deployments if (key, d.deployment_id) not in ran}
        left = [m for m in pkg.media
                if m.deployment_id in unrun and _in_window(m.timestamp, filters)]  # fmt: skip
        if not left:
            continue
        deps = list(dict.fromkeys(m.deployment_id for m in left))
        named = ", ".join(deps[:5]) + (f" and {len(deps) - 5} more" if len(deps) > 5 else "")
        say(
            f"{pkg.path}: {len(left)} media of the package not exported: "
            f"{counted(Counter(kind(m) for m in left))} (deployment{'s' * (len(deps) != 1)} "
            f"{named}: no session of this file ran {'them' if len(deps) != 1 else 'it'})"
        )
