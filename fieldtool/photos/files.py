"""Which files a photo input names: one photo, a folder (recursive) or a glob pattern."""

from __future__ import annotations

import glob
from pathlib import Path

from fieldtool.types import FieldtoolError

# What Pillow reads without plug-ins. HEIC needs the pillow-heif wheel (not a dependency):
# convert HEIC photos to JPEG first.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
_GLOB_CHARS = set("*?[")


def is_photo(path: Path) -> bool:
    """A photo by its name (the suffix); hidden files (``._IMG_1.JPG``) are not."""
    return path.suffix.lower() in PHOTO_SUFFIXES and not path.name.startswith(".")


def is_photo_input(uri: str) -> bool:
    """Whether ``uri`` names photos rather than a video or a stream: a photo file, a folder,
    or a pattern with ``*``, ``?`` or ``[`` that is not itself an existing file."""
    path = Path(uri)
    if path.is_dir():
        return True
    if path.exists():
        return is_photo(path)
    return bool(_GLOB_CHARS & set(uri)) or is_photo(path)


def expand_photos(uri: str) -> list[Path]:
    """The photo files ``uri`` names, in path order (capture-time order is the source's):
    a folder is searched recursively, a pattern is expanded (``**`` spans folders).

    A :class:`FieldtoolError` when nothing is found; a named photo that does not exist is
    "not found", like a video.
    """
    path = Path(uri)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and is_photo(p))
        if not found:
            raise FieldtoolError(
                f"{uri}: is a folder without photos ({', '.join(PHOTO_SUFFIXES)}); "
                "give a video file or a folder of photos"
            )
        return found
    if path.is_file():
        return [path]
    if _GLOB_CHARS & set(uri):
        found = sorted(Path(p) for p in glob.glob(uri, recursive=True) if is_photo(Path(p)))
        if not found:
            raise FieldtoolError(f"{uri}: no photos ({', '.join(PHOTO_SUFFIXES)}) match")
        return [p for p in found if p.is_file()]
    raise FieldtoolError(f"{uri}: photo not found")
