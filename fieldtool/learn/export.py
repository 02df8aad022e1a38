"""Confirmed data for those who train elsewhere: an ImageFolder of frames with labels.csv.

Layout: ``<out>/<species>/<sha256[:16]>.jpg`` (the species folder named by the scientific
name, spaces as underscores), one copy per distinct frame, and ``<out>/labels.csv`` with
``path`` (relative to ``<out>``), ``species``, ``decision`` (confirm / relabel / reject),
``predicted`` (the model's species), ``sighting_id``, ``session_id``, ``sha256``.
Rejected sightings go under ``background/`` only when asked for. Sightings reviewed as a
genus only ("Acer sp.") are left out, said: a genus is no species class.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from fieldtool.learn.collect import (
    LabelledFrame,
    collect,
    first_copies,
    genus_note,
    species_level,
)
from fieldtool.types import FieldtoolError

BACKGROUND_FOLDER = "background"
LABELS_FILE = "labels.csv"


def folder_name(species: str) -> str:
    """A species as a folder name: letters, digits, ``-`` and ``.`` kept, the rest ``_``."""
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", species.strip()).strip("_") or "unnamed"


def export_confirmed(db: Path | str, out: Path | str, *, include_rejected: bool = False,
                     log: Callable[[str], None] | None = None) -> int:  # fmt: skip
    """Write the frames of confirmed and relabelled sightings of ``db`` (and rejected ones'
    with ``include_rejected``) to ``out``; returns the frames written. Frames reviewed as
    a genus only ("Acer sp.") are left out, as ``learn`` leaves them out (a genus folder
    would be a class of its own), and ``log`` hears one line on them."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FieldtoolError(f"{out}: exists and is not empty; give a new folder")
    frames, _ = collect(db)
    frames, genus = species_level(frames)
    if genus and log is not None:
        log(genus_note(genus))
    frames = [f for f in frames if include_rejected or not f.is_background]
    rows = []

    def folder_of(frame: LabelledFrame) -> str:
        return BACKGROUND_FOLDER if frame.is_background else folder_name(frame.label)

    # one file per species folder and content (the same frame, by SHA-256, once)
    for frame, first in zip(frames, first_copies(frames, folder_of), strict=True):
        if not first:
            continue
        folder = folder_of(frame)
        rel = f"{folder}/{frame.sha256[:16]}.jpg"
        (out / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(frame.path, out / rel)
        rows.append([rel, frame.label or BACKGROUND_FOLDER, frame.decision, frame.predicted,
                     frame.sighting_id, frame.session_id, frame.sha256])  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    with (out / LABELS_FILE).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "species", "decision", "predicted", "sighting_id",
                         "session_id", "sha256"])  # fmt: skip
        writer.writerows(rows)
    return len(rows)
