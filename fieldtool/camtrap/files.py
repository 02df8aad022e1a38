"""The photo files of a Camtrap DP export: found where a run read them, copied into the
package (a copy-on-write reflink where the file system offers one, never a hard link)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

FICLONE = 0x40049409  # Linux ioctl: clone a file's extents (copy-on-write copy)


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
