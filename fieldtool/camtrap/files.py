"""The media files of a Camtrap DP export: found where a run read them, laid out in the
package below ``media/`` by their path in the folder the session ran (:func:`package_path`:
a card's ``cardA/DCIM/100RECNX/IMG_0001.JPG`` stays that, its name kept), copied there (a
copy-on-write reflink where the file system offers one, never a hard link)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path, PurePath, PurePosixPath

from fieldtool.types import FieldtoolError

FICLONE = 0x40049409  # Linux ioctl: clone a file's extents (copy-on-write copy)
_GLOB = re.compile(r"[*?\[]")
# The media schema's filePath pattern forbids ".." anywhere (and /, ., ~ first).
_DOTS = re.compile(r"\.{2,}")


def source_file(path: str, db: Path) -> Path | None:
    """The photo's file: as given, else relative to the database's folder."""
    for candidate in (Path(path), db.parent / path):
        if candidate.is_file():
            return candidate
    return None


def place_file(src: Path, dst: Path) -> int:
    """A copy of ``src`` at ``dst`` (a reflink where the file system offers one, else
    bytes), writable by the user; returns its size in bytes. Never a hard link: the
    package is edited in place (blurring people), which must not change the originals."""
    dst.unlink(missing_ok=True)
    if not _reflink(src, dst):
        shutil.copy2(src, dst)
    os.chmod(dst, dst.stat().st_mode | stat.S_IWUSR)
    return dst.stat().st_size


def _reflink(src: Path, dst: Path) -> bool:
    """A copy-on-write clone (Linux FICLONE: btrfs, XFS); False where not offered."""
    try:
        import fcntl  # POSIX only

        with src.open("rb") as a, dst.open("wb") as b:
            fcntl.ioctl(b.fileno(), FICLONE, a.fileno())
    except (ImportError, OSError):
        dst.unlink(missing_ok=True)
        return False
    shutil.copystat(src, dst)
    return True


def session_root(source: str) -> Path | None:
    """The folder a session ran (``sessions.source``), that its media paths are laid out
    below: a folder as given, a glob up to its first pattern part (``cards/*/DCIM`` ->
    ``cards``), a single file itself (its media's path is then the root: their name). None
    for a camera, a stream or a URL (no local folder)."""
    if not source or "://" in source or not os.path.isabs(source):
        return None
    kept: list[str] = []
    for part in PurePath(source).parts:
        if _GLOB.search(part):
            break
        kept.append(part)
    return Path(*kept) if kept else None


def _below(path: str, root: Path | None) -> PurePosixPath:
    """``path`` relative to ``root`` (POSIX separators); its name alone where it is not
    below (another folder, a URL), or is the root itself (a session of one file)."""
    given = PurePath(path)
    if root is not None:
        try:
            rel = given.relative_to(root)
        except ValueError:
            rel = None
        if rel is not None and rel.parts:
            return PurePosixPath(*rel.parts)
    return PurePosixPath(given.name or "media")


def package_path(
    path: str, root: Path | None, folder: str, key: str, used: set[str], *,
    own_layout: bool = False,
) -> str:  # fmt: skip
    """Where a media file goes in the package (``filePath``): ``media/<folder>/`` and its
    path below the session's ``root`` (:func:`session_root`), the file's name always kept;
    ``own_layout`` (a package's photo, ``root`` the package's folder): its own path there
    where that is below ``media/`` (a round trip moves nothing). A path ``used`` already,
    in any case (one file on macOS or Windows), goes below a folder of its own,
    ``media/<folder>/_<key>/`` (``key``: the photo's frame index, a carried row's mediaID),
    then ``_<key>_2``, ...; the path chosen is added to ``used`` (casefolded). ``..`` in a
    name (the schema forbids it) becomes ``.``."""
    rel = PurePosixPath(*(_DOTS.sub(".", p) for p in _below(path, root).parts))
    base = f"media/{folder}"
    candidate = (
        str(rel)
        if own_layout and rel.parts[0] == "media" and len(rel.parts) > 1
        else f"{base}/{rel}"
    )
    n = 1
    while candidate.casefold() in used:
        n += 1
        tag = _DOTS.sub(".", re.sub(r"[^A-Za-z0-9_.-]+", "_", key))
        candidate = f"{base}/_{tag}{'' if n == 2 else f'_{n - 1}'}/{rel}"
    used.add(candidate.casefold())
    return candidate


def written_by_fieldtool(descriptor: Path) -> bool:
    try:
        sources = json.loads(descriptor.read_text(encoding="utf-8")).get("sources") or []
    except (OSError, ValueError, AttributeError):
        return False
    return any(isinstance(s, dict) and s.get("title") == "fieldtool" for s in sources)


def check_out(out: Path) -> None:
    """``out`` is new, empty, or an earlier fieldtool export (which the export replaces
    whole, its media/ included)."""
    if out.exists() and not out.is_dir():
        raise FieldtoolError(f"{out}: is a file; Camtrap DP is written to a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    descriptor = out / "datapackage.json"
    if not descriptor.is_file():
        raise FieldtoolError(
            f"{out}: folder holds other files; give a new or empty folder (or an earlier "
            "fieldtool Camtrap DP export to replace)"
        )
    if not written_by_fieldtool(descriptor):
        raise FieldtoolError(f"{out}: holds a data package fieldtool did not write; give a "
                             "new or empty folder")  # fmt: skip
