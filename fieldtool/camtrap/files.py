"""The media files of a Camtrap DP export: found where a run read them, laid out in the
package below ``media/`` by their path in the folder the session ran (:func:`package_path`:
a card's ``cardA/DCIM/100RECNX/IMG_0001.JPG`` stays that, its name kept), each path one
file on every file system (:class:`Layout`: in any case, in any Unicode form, folders
too), planned before any file is copied, then copied (a copy-on-write reflink where the
file system offers one, never a hard link) into a folder in ``-o`` whose entries replace
an earlier export's once complete (:func:`write_folder`, a user's other files there kept):
a refusal or a failure leaves an earlier export whole, and an export never replaces a
folder holding what it reads (:func:`refuse_inside`, :func:`refuse_replaced`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath

from fieldtool.types import FieldtoolError

FICLONE = 0x40049409  # Linux ioctl: clone a file's extents (copy-on-write copy)
_GLOB = re.compile(r"[*?\[]")
# The media schema's filePath pattern forbids ".." anywhere (and /, ., ~ first).
_DOTS = re.compile(r"\.{2,}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")  # not in a deployment's folder name


def deployment_folder(dep: str) -> str:
    """A deployment's folder below ``media/``: its deploymentID, other characters as ``_``."""
    return _UNSAFE.sub("_", dep).strip("_") or "deployment"


def fold(path: str) -> str:
    """``path`` as macOS and Windows compare names: case-blind (casefolded) and blind to
    Unicode's forms (NFC before and after: an ``é`` typed and one from a Mac's name)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


@dataclass
class Layout:
    """The files of one export, planned before any is copied: the paths taken (one file or
    folder per :func:`fold`, folders in the spelling first given), each deployment's folder
    below ``media/``, the files to copy (``copies``: file, filePath, whose: "session X" or
    "package P"), the media rows written without their file (``missing``: not there at
    export; ``outside``: a package's row naming a file outside it, never copied)."""

    files: set[str] = field(default_factory=set)  # folded filePaths
    folders: dict[str, str] = field(default_factory=dict)  # folded -> as spelled
    deployments: dict[str, str] = field(default_factory=dict)  # deploymentID -> folder
    copies: list[tuple[Path, str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def folder(self, dep: str) -> str:
        """Deployment ``dep``'s folder below ``media/`` (:func:`deployment_folder`), the
        same for each call; one another deployment's folder is in any case (Trap1, trap1)
        gets ``_2``, ``_3``, ... appended."""
        if dep not in self.deployments:
            name, n = deployment_folder(dep), 1
            while fold(f"media/{name}") in self.folders or fold(f"media/{name}") in self.files:
                n += 1
                name = f"{deployment_folder(dep)}_{n}"
            self.folders.setdefault(fold("media"), "media")
            self.folders[fold(f"media/{name}")] = f"media/{name}"
            self.deployments[dep] = name
        return self.deployments[dep]

    def claim(self, path: str) -> str | None:
        """``path`` (POSIX) taken as a file, its folders spelled as first given (``cardA/``
        then ``carda/``: one folder, ``cardA``); None where it is a file or folder already
        in any case or Unicode form, or a folder of it is a file."""
        parts = path.split("/")
        for i in range(1, len(parts)):
            key = fold("/".join(parts[:i]))
            if key in self.files:
                return None
            if key in self.folders:
                parts[:i] = self.folders[key].split("/")
        spelled = "/".join(parts)
        if fold(spelled) in self.files or fold(spelled) in self.folders:
            return None
        for i in range(1, len(parts)):
            self.folders.setdefault(fold("/".join(parts[:i])), "/".join(parts[:i]))
        self.files.add(fold(spelled))
        return spelled


def inside(path: Path | str, folder: Path | str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, both resolved (``..`` and links
    followed: a link in a package to a file outside it is outside)."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def refuse_inside(out: Path, sources: Iterable[tuple[str | Path | None, str]]) -> None:
    """Refuse an export into ``out`` where ``out`` holds what it reads: ``sources``, each
    (a session's folder or file, or a file to copy; whose: "session X", "package P"). The
    export replaces ``out``'s :data:`ENTRIES` (its ``media/``), so they would be gone (a
    package run, exported into itself); refused anywhere in ``out``, to be sure."""
    for path, whose in sources:
        if path is not None and inside(path, out):
            raise FieldtoolError(f"{out}: holds what {whose} ran ({path}), which an export "
                                 "there replaces: give another folder")  # fmt: skip


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
    path: str, root: Path | None, folder: str, key: str, used: Layout, *,
    own_layout: bool = False,
) -> str:  # fmt: skip
    """Where a media file goes in the package (``filePath``): ``media/<folder>/`` and its
    path below the session's ``root`` (:func:`session_root`), the file's name always kept;
    ``own_layout`` (a package's photo, ``root`` the package's folder): its own path there
    where that is below ``media/`` (a round trip moves nothing). A path ``used`` already
    (:meth:`Layout.claim`: in any case or Unicode form, one file on macOS or Windows; a
    file where a folder is, or a folder where a file is) goes below a folder of its own,
    ``media/<folder>/_<key>/`` (``key``: the photo's frame index, a carried row's
    mediaID), then ``_<key>_2``, ...; a folder given in another case is written as first
    given. ``..`` in a name (the schema forbids it) becomes ``.``."""
    rel = PurePosixPath(*(_DOTS.sub(".", p) for p in _below(path, root).parts))
    base = f"media/{folder}"
    candidate = (
        str(rel)
        if own_layout and rel.parts[0] == "media" and len(rel.parts) > 1
        else f"{base}/{rel}"
    )
    n = 1
    while (claimed := used.claim(candidate)) is None:
        n += 1
        tag = _DOTS.sub(".", re.sub(r"[^A-Za-z0-9_.-]+", "_", key))
        candidate = f"{base}/_{tag}{'' if n == 2 else f'_{n - 1}'}/{rel}"
    return claimed


def written_by_fieldtool(descriptor: Path) -> bool:
    try:
        sources = json.loads(descriptor.read_text(encoding="utf-8")).get("sources") or []
    except (OSError, ValueError, AttributeError):
        return False
    return any(isinstance(s, dict) and s.get("title") == "fieldtool" for s in sources)


# What an export writes in -o, all it replaces there: the user's other files stay.
ENTRIES = ("datapackage.json", "deployments.csv", "media.csv", "observations.csv", "media")
STAGE = ".fieldtool-export-"  # -o's own folders an export works in: <pid>, old-<pid>


def check_out(out: Path) -> None:
    """``out`` is new, empty, or holds an earlier fieldtool export (whose :data:`ENTRIES`
    the export replaces, any other file there kept); a killed export's folders are no
    files of the user's."""
    if out.exists() and not out.is_dir():
        raise FieldtoolError(f"{out}: is a file; Camtrap DP is written to a folder")
    if not out.is_dir() or not any(p for p in out.iterdir() if not p.name.startswith(STAGE)):
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


def refuse_replaced(out: Path, kept: Iterable[tuple[Path, str]]) -> None:
    """Refuse an export into ``out`` where what must outlast it (``kept``: each path and
    what it is, the sightings database and its snapshots' folder) lies in an entry the
    export replaces (:data:`ENTRIES`: ``-o .`` beside the database is fine, the database
    in ``media/`` is not)."""
    for path, what in kept:
        for entry in ENTRIES:
            if inside(path, out / entry):
                raise FieldtoolError(f"{out}: {what} {path} lies in {out}/{entry}, which an "
                                     "export there replaces: give another folder")  # fmt: skip


def write_folder(
    out: Path, tables: dict[str, bytes], used: Layout, say: Callable[[str], None],
) -> list[int]:  # fmt: skip
    """The package in the folder ``out`` (made, with folders above it): ``used.copies``
    copied and ``tables`` (file name -> bytes) written into ``out/.fieldtool-export-<pid>/``
    (one file system; ``out``'s parent never written: a USB stick's mount point), whose
    :data:`ENTRIES` then replace ``out``'s (:func:`_swap`); nothing else in ``out`` is
    touched. On any error the folder is removed and ``out`` is as it was (a folder made
    above it stays). A killed export's folders there are removed, said in one line.
    Returns the copied files' sizes (bytes)."""
    from fieldtool.export_rows import make_parent

    target = out.resolve()  # "-o .": the folder itself; a link: the folder it names
    make_parent(target)  # -o new/pkg: new/ made
    made = not target.exists()
    if made:  # an existing -o (a mount point) is only written in
        target.mkdir()
    stage = target / f"{STAGE}{os.getpid()}"
    left = sorted(p for p in target.iterdir() if p.name.startswith(STAGE))
    for old in left:  # a killed export's: a half-written package, or entries moved aside
        shutil.rmtree(old, ignore_errors=True)
    if left:
        say(f"{out}: removed what a killed export left there: "
            f"{', '.join(p.name for p in left)}")  # fmt: skip
    try:
        stage.mkdir()
        sizes = []
        for src, rel, _ in used.copies:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            sizes.append(place_file(src, stage / rel))
        for name, data in tables.items():
            (stage / name).write_bytes(data)
        _swap(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if made:
            with contextlib.suppress(OSError):
                target.rmdir()  # only where nothing was written: an export failed
    return sizes


def _swap(stage: Path, out: Path) -> None:
    """``stage``'s :data:`ENTRIES` (a complete package) in ``out``'s place, one by one:
    each of ``out``'s moved aside into ``out/.fieldtool-export-old-<pid>/``, the new one
    moved in, the aside folder removed once all are in. A failure midway moves them back
    and is one line saying what state ``out`` is in."""
    aside = out / f"{STAGE}old-{os.getpid()}"
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir()
    done: list[str] = []
    try:
        for entry in ENTRIES:
            done.append(entry)
            if os.path.lexists(out / entry):
                os.replace(out / entry, aside / entry)
            if os.path.lexists(stage / entry):
                os.replace(stage / entry, out / entry)
    except OSError as exc:
        why = exc.strerror or str(exc)
        try:
            for entry in reversed(done):
                if os.path.lexists(aside / entry):
                    if os.path.lexists(out / entry):
                        os.replace(out / entry, stage / entry)
                    os.replace(aside / entry, out / entry)
                elif os.path.lexists(out / entry) and not os.path.lexists(stage / entry):
                    os.replace(out / entry, stage / entry)  # new there, none before
        except OSError:
            raise FieldtoolError(
                f"{out}: cannot write ({why}), and cannot put the earlier export back: "
                f"{out} is half replaced, the earlier export's "
                f"{', '.join(p.name for p in sorted(aside.iterdir()))} are in {aside}"
            ) from None
        with contextlib.suppress(OSError):
            aside.rmdir()
        raise FieldtoolError(f"{out}: cannot write ({why}); the earlier export there is as "
                             "it was") from None  # fmt: skip
    with contextlib.suppress(OSError):
        shutil.rmtree(aside)
