"""Photos to learn from besides reviews: a gallery's photos, or folders of species sub-folders.

``fieldtool learn --gallery G`` re-embeds the photos a gallery (:mod:`fieldtool.gallery`)
was enrolled from: its rows keep unit-length embeddings, which the head cannot read (it
reads unnormalised head features, :class:`~fieldtool.learn.embed.FeatureExtractor`), so
the photos themselves are read again. A row's photo is the absolute path recorded at
enrollment (:attr:`fieldtool.gallery.Entry.path`), or, for rows enrolled before paths were
recorded, its file name in the gallery folder. Any photo that is gone is an error naming how
many and the first one: a head learnt from part of a gallery would silently lose species or
balance, so the user decides (learn from the photos' folders with ``--photos`` instead,
or ``gallery remove`` / ``gallery add`` the species again).

``--photos FOLDER`` takes what ``gallery add`` takes: a folder of species sub-folders
(:func:`fieldtool.gallery.species_folders`; ``Acer_rubrum/`` is "Acer rubrum"). A
sub-folder named ``background`` gives photos without any species.

Names: a species is learnt as its binomial (:func:`fieldtool.names.binomial`), because the
species key (:func:`fieldtool.names.species_key`) drops ranks below species by design:
``Pinus_contorta_var._contorta/`` and ``Pinus_contorta_var._latifolia/`` are both "Pinus
contorta", one class (:attr:`PhotoSet.read_as` lists such names, and ``learn`` logs them).
A sub-folder (or gallery species) that is neither a species the model knows (by the key)
nor a scientific name (``images/``, ``Acer sp./``) is an error naming it
(:func:`check_species`): it would become a class of its own.

Each photo is one example (a "sighting" of one frame) in a pseudo-session named by its
source (``gallery:<folder>`` or ``photos:<folder>``). The same photo (by SHA-256 of its
bytes) given twice for one species counts once. Photos are held out **by photo**: of each
species' photos, in order of file name, every k-th (k = round(1 / holdout): the 4th, 8th,
... at the default 0.25) is held out; a species with 2 to k-1 photos has its last one held
out, a species with one photo none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fieldtool.learn.collect import BACKGROUND_LABEL, LabelledFrame, frame_sha256
from fieldtool.names import binomial, looks_scientific, species_key
from fieldtool.types import FieldtoolError

PHOTO_DECISION = "photo"  # LabelledFrame.decision of a photo (not a review)
BACKGROUND_FOLDER = "background"  # a species folder of photos without any species


@dataclass
class PhotoSet:
    """Labelled photos, and which of them are held out."""

    frames: list[LabelledFrame] = field(default_factory=list)
    heldout: set[str] = field(default_factory=set)  # sighting ids of held-out photos
    sources: list[str] = field(default_factory=list)  # "gallery:<folder>", "photos:<folder>"
    duplicates: int = 0  # photos given more than once for one species, counted once
    # species name as given (folder, gallery species) -> the species it is learnt as, where
    # they differ ("Pinus contorta var. latifolia" -> "Pinus contorta")
    read_as: dict[str, str] = field(default_factory=dict)
    # (source, species name as given, where: the sub-folder or the gallery), each once
    given: list[tuple[str, str, Path]] = field(default_factory=list)
    # one line per photo given under two labels or more (a species and background, or two
    # species): such a photo is left out of all of them, as it would teach both
    conflicts: list[str] = field(default_factory=list)

    @property
    def species(self) -> list[str]:
        return sorted({f.label for f in self.frames if not f.is_background})


def gallery_photos(path: Path | str) -> dict[str, list[Path]]:
    """Species -> the photo files a gallery was enrolled from; an error when the folder is
    no gallery, holds no rows, or when any photo is gone (how many, and the first)."""
    from fieldtool.gallery import Gallery

    gallery = Gallery(path)
    if not gallery.entries:
        raise FieldtoolError(f"{path}: the gallery is empty; nothing to learn from")
    groups: dict[str, list[Path]] = {}
    gone: list[Path] = []
    for entry in gallery.entries:
        photo = Path(entry.path) if entry.path else gallery.path / entry.source
        if photo.is_file():
            groups.setdefault(entry.species, []).append(photo)
        else:
            gone.append(photo)
    if gone:
        raise FieldtoolError(
            f"{path}: {len(gone)} of {len(gallery.entries)} enrolled photos are gone "
            f"(first: {gone[0]}); learn from their folders with --photos instead, or enroll "
            "them again"
        )
    return groups


def folder_photos(folder: Path | str) -> dict[str, list[Path]]:
    """Species -> photo files of a folder of species sub-folders (``gallery add``'s input);
    ``background/`` becomes :data:`~fieldtool.learn.collect.BACKGROUND_LABEL`."""
    from fieldtool.gallery import species_folders

    groups = species_folders([folder])  # its own one-line errors for a bad folder
    return {(BACKGROUND_LABEL if name.lower() == BACKGROUND_FOLDER else name): photos
            for name, photos in groups.items()}  # fmt: skip


def species_label(name: str) -> str:
    """The species a folder (or gallery species) ``name`` is learnt as: its binomial
    (``"Pinus contorta var. latifolia"`` -> ``"Pinus contorta"``; the species key merges
    ranks below species), the name itself when it is no scientific name."""
    if name == BACKGROUND_LABEL:
        return name
    return binomial(name) or name


def check_species(shots: PhotoSet, known: Sequence[str]) -> None:
    """A one-line error naming every photo folder (or gallery species) whose name is neither
    a species in ``known`` (the model's labels, matched by the species key) nor a
    scientific name (Genus epithet, optionally a rank below; spelt as one, and not a common
    name of the bundled atlas: "Red_maple/" is no species "Red maple"): it would become a
    class."""
    from fieldtool.atlas import atlas_common_names

    keys = {species_key(name) for name in known}
    commons = {common.lower() for common in atlas_common_names().values()}
    bad = [(source, name, where) for source, name, where in shots.given
           if name != BACKGROUND_LABEL and species_key(name) not in keys
           and (binomial(name) is None or not looks_scientific(name)
                or name.lower() in commons)]  # fmt: skip
    if not bad:
        return
    folders = [str(where) for source, _, where in bad if source.startswith("photos:")]
    species = [f"{name!r} of gallery {where}" for source, name, where in bad
               if source.startswith("gallery:")]  # fmt: skip
    what = ", ".join(folders + species)
    fix = []
    if folders:
        fix.append("rename each folder to its species' scientific name (Acer_rubrum/) or "
                   f"move it out (photos of no species go in {BACKGROUND_FOLDER}/)")
    if species:
        fix.append("`gallery remove` each such species and add its photos again from a "
                   "folder named by the species")
    raise FieldtoolError(
        f"{what}: not a species the model knows nor a scientific name (Genus epithet); "
        + "; ".join(fix)
    )


def heldout_every(holdout: float) -> int:
    """k of "every k-th photo of a species is held out"; 0 when none is (holdout <= 0)."""
    if not holdout > 0:
        return 0
    return max(2, round(1.0 / min(holdout, 0.5)))


def heldout_rule(holdout: float) -> str:
    """The photo split in words: "every 4th photo of each species"."""
    k = heldout_every(holdout)
    if not k:
        return "no photo (holdout is 0)"
    return f"every {k}{'nd' if k == 2 else 'rd' if k == 3 else 'th'} photo of each species"


def read_photos(
    gallery: Path | str | None = None,
    folders: Sequence[Path | str] = (),
    *,
    holdout: float = 0.25,
    progress: Callable[[int, int], None] | None = None,
) -> PhotoSet:
    """The labelled photos of ``gallery`` and ``folders``, split by photo (module doc).
    ``progress(done, total)`` hears while the photos are hashed."""
    sources: list[tuple[str, dict[str, list[Path]]]] = []
    if gallery is not None:
        sources.append((f"gallery:{Path(gallery).resolve()}", gallery_photos(gallery)))
    for folder in folders:
        sources.append((f"photos:{Path(folder).resolve()}", folder_photos(folder)))
    out = PhotoSet(sources=[name for name, _ in sources])
    total = sum(len(p) for _, groups in sources for p in groups.values())
    seen: set[tuple[str, str]] = set()
    by_species: dict[str, list[LabelledFrame]] = {}
    done = 0
    for source, groups in sources:
        for given, photos in groups.items():
            where = Path(source.split(":", 1)[1])
            if source.startswith("photos:"):
                where = photos[0].parent if photos else where
            out.given.append((source, given, where))
            species = species_label(given)
            if species != given:
                out.read_as[given] = species
            key = species_key(species) if species != BACKGROUND_LABEL else BACKGROUND_LABEL
            for photo in photos:
                sha = frame_sha256(photo)
                done += 1
                if progress and (done % 256 == 0 or done == total):
                    progress(done, total)
                if (sha, key) in seen:
                    out.duplicates += 1
                    continue
                seen.add((sha, key))
                photo = photo.resolve()
                frame = LabelledFrame(f"{source}:{photo}", source, species, "", PHOTO_DECISION,
                                      photo, sha)  # fmt: skip
                by_species.setdefault(key, []).append(frame)
    _leave_out_conflicts(out, by_species)
    k = heldout_every(holdout)
    for frames in by_species.values():
        frames.sort(key=lambda f: (f.path.name, str(f.path)))
        out.frames += frames
        if k and len(frames) >= 2:
            held = frames[k - 1 :: k] or frames[-1:]
            out.heldout.update(f.sighting_id for f in held)
    return out


def _leave_out_conflicts(out: PhotoSet, by_species: dict[str, list[LabelledFrame]]) -> None:
    """Drop from ``by_species`` every photo (by SHA-256) given under two labels or more, and
    say each in ``out.conflicts``: the labels and where each copy is."""
    where: dict[str, list[LabelledFrame]] = {}
    for frames in by_species.values():
        for f in frames:
            where.setdefault(f.sha256, []).append(f)
    both = {sha: fs for sha, fs in where.items() if len({f.label for f in fs}) > 1}
    if not both:
        return
    for key, frames in by_species.items():
        by_species[key] = [f for f in frames if f.sha256 not in both]
    for fs in both.values():
        given = " and ".join(f"{f.label or BACKGROUND_FOLDER} ({f.path})" for f in fs)
        out.conflicts.append(f"left out: one photo (same SHA-256) is given as {given}; a photo "
                             "under two labels would teach both, so it is learnt as neither")
    for key in [k for k, frames in by_species.items() if not frames]:
        del by_species[key]
