"""Which files a photo input names: one photo, a folder (recursive) or a glob pattern."""

from __future__ import annotations

import fnmatch
import glob
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from fieldtool.tracks.exif import HEIF_SUFFIXES, heif_readable
from fieldtool.types import FieldtoolError

# What Pillow reads without plug-ins; HEIC/HEIF (iPhones' photos) with the ``heic`` extra
# (pillow-heif, not a dependency: its wheel bundles codecs under the GPL/LGPL)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
_GLOB_CHARS = set("*?[")


def photo_suffixes() -> tuple[str, ...]:
    """The suffixes of the photos fieldtool reads here: :data:`PHOTO_SUFFIXES`, and
    :data:`~fieldtool.tracks.exif.HEIF_SUFFIXES` where pillow-heif is installed."""
    return PHOTO_SUFFIXES + (HEIF_SUFFIXES if heif_readable() else ())


def is_photo(path: Path, suffixes: tuple[str, ...] | None = None) -> bool:
    """A photo by its name (the suffix, one of ``suffixes``, default
    :func:`photo_suffixes`); hidden files (``._IMG_1.JPG``) are not."""
    known = photo_suffixes() if suffixes is None else suffixes
    return path.suffix.lower() in known and not path.name.startswith(".")


def is_photo_input(uri: str) -> bool:
    """Whether ``uri`` names photos rather than a video or a stream: a photo file, a folder,
    or a pattern with ``*``, ``?`` or ``[`` that is not itself an existing file."""
    path = Path(uri)
    if path.is_dir():
        return True
    # a HEIC is a photo whether or not it can be read here: reading it says what to do
    every = PHOTO_SUFFIXES + HEIF_SUFFIXES
    if path.exists():
        return is_photo(path, every)
    return bool(_GLOB_CHARS & set(uri)) or is_photo(path, every)


# what a card or phone folder holds beside photos, and what to do with it
_HEIF_ADVICE = "pip install 'fieldtool[heic]', or convert to JPEG"
_ADVICE = {".heic": _HEIF_ADVICE, ".heif": _HEIF_ADVICE, ".dng": "raw: export JPEG",
           ".cr2": "raw: export JPEG", ".nef": "raw: export JPEG", ".arw": "raw: export JPEG",
           ".mp4": "a video: run it as a file", ".mov": "a video: run it as a file",
           ".avi": "a video: run it as a file"}  # fmt: skip


def left_out(files: list[Path], suffixes: tuple[str, ...] | None = None) -> str | None:
    """One line on the files of a photo folder that are not photos fieldtool reads (by
    suffix, with what to do where known), or None when there are none; hidden files
    (``.DS_Store``, ``._IMG_1.JPG``) are not counted."""
    counts = Counter(p.suffix.lower() or "(no suffix)" for p in files
                     if not is_photo(p, suffixes) and not p.name.startswith("."))  # fmt: skip
    if not counts:
        return None
    kinds = ", ".join(
        f"{n} {suffix}" + (f" ({_ADVICE[suffix]})" if suffix in _ADVICE else "")
        for suffix, n in counts.most_common()
    )
    total = sum(counts.values())
    return f"{total} file{'s' if total != 1 else ''} left out, not photos fieldtool reads: {kinds}"


def expand_photos(uri: str, log: Callable[[str], None] | None = None) -> list[Path]:
    """The photo files ``uri`` names, in path order (capture-time order is the source's):
    a folder is searched recursively, a pattern is expanded (``**`` spans folders).
    ``log`` hears of a folder's files that are not photos fieldtool reads (:func:`left_out`).

    A :class:`FieldtoolError` when nothing is found; a named photo that does not exist is
    "not found", like a video.
    """
    path = Path(uri)
    suffixes = photo_suffixes()  # once: without pillow-heif each look asks the importer again
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        found = [p for p in files if is_photo(p, suffixes)]
        skipped = left_out(files, suffixes)
        if skipped is not None and log is not None:
            log(f"{uri}: {skipped}")
        if not found:
            raise FieldtoolError(
                f"{uri}: is a folder without photos ({', '.join(suffixes)}); "
                f"give a video file or a folder of photos{f' ({skipped})' if skipped else ''}"
            )
        return found
    if path.is_file():
        if path.suffix.lower() in HEIF_SUFFIXES and path.suffix.lower() not in suffixes:
            raise FieldtoolError(f"{path}: a HEIC photo: {_HEIF_ADVICE}")
        return [path]
    if _GLOB_CHARS & set(uri):
        files = _glob_files(uri)
        found = [p for p in files if is_photo(p, suffixes)]
        skipped = left_out(files, suffixes)
        if skipped is not None and log is not None:
            log(f"{uri}: {skipped}")
        if not found:
            raise FieldtoolError(f"{uri}: no photos ({', '.join(suffixes)}) match"
                                 f"{f' ({skipped})' if skipped else ''}")  # fmt: skip
        return found
    raise FieldtoolError(f"{uri}: photo not found")


def _glob_files(pattern: str) -> list[Path]:
    """The files ``pattern`` matches, in path order, its file-name part matched without
    regard to case (a camera trap's ``RCNX0001.JPG`` by ``*.jpg``, as a folder's suffixes
    are); its folders as typed (``**`` spans folders)."""
    folder, name = os.path.split(pattern)
    if name == "**":  # "photos/**": every file below, as glob's recursive ** gives them
        folder, name = pattern, "*"
    wanted = (name or "*").lower()  # "photos/*/": the folders' files
    every = glob.glob(os.path.join(folder, "*") if folder else "*", recursive=True)
    return sorted(path for p in every
                  if (path := Path(p)).is_file()
                  and fnmatch.fnmatchcase(path.name.lower(), wanted))  # fmt: skip
