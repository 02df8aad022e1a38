"""``fieldtool model`` and ``gallery``: classifiers; what ``gallery list`` and ``add`` say of
a gallery (how alike its species' photos are)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fieldtool.gallery import Gallery


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _model_commands(sub)
    _gallery_commands(sub)


def _model_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool model import-plantclef | import-hf | pull``."""
    from fieldtool import importers  # light: torch and transformers come with a command

    def done(folder: Path) -> int:
        from fieldtool.model import describe_folder  # torch: 10-30 s on a field laptop

        print(describe_folder(folder))
        return 0

    model = sub.add_parser("model", help="import or download models")
    msub = model.add_subparsers(dest="model_command", required=True)
    p = msub.add_parser("import-plantclef", help="convert the PlantCLEF 2024 timm checkpoint")
    p.add_argument("checkpoint", type=Path, help="model_best.pth.tar (or a .safetensors copy)")
    p.add_argument("--classes", type=Path, required=True, help="class_mapping.txt")
    p.add_argument("--names", type=Path, required=True, help="species_id_to_name.txt")
    p.add_argument("--heads", type=int, help="attention heads (default: hidden size / 64)")
    p.set_defaults(func=lambda a: done(importers.import_plantclef(
        a.checkpoint, a.classes, a.names, a.out, model_id=a.model_id, num_heads=a.heads,
        overwrite=a.force, log=print)))  # fmt: skip
    h = msub.add_parser("import-hf", help="convert a Hugging Face DINOv2 folder")
    h.add_argument("folder", type=Path, help="folder with config.json and model.safetensors")
    h.add_argument("--labels", type=Path, help="labels.csv for a classifier head")
    h.add_argument("--image-size", type=int, help="input size in px (default: preprocessor's)")
    h.set_defaults(func=lambda a: done(importers.import_hf_dinov2(
        a.folder, a.out, a.labels, model_id=a.model_id, image_size=a.image_size,
        overwrite=a.force, log=print)))  # fmt: skip
    d = msub.add_parser("pull", help="download a DINOv2 backbone from the Hugging Face hub")
    d.add_argument("name", choices=importers.HF_MODELS, metavar="NAME",
                   help=", ".join(importers.HF_MODELS))  # fmt: skip
    d.set_defaults(func=lambda a: done(importers.pull(a.name, a.out, overwrite=a.force, log=print)))
    for command in (p, h, d):
        command.add_argument("-o", "--out", type=Path, required=True, help="model folder to write")
        command.add_argument("--force", action="store_true",
                             help="replace a model folder already there (whole)")  # fmt: skip
        if command is not d:
            command.add_argument("--model-id", help="name recorded with sessions (default: folder)")


def _gallery_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool gallery add | list | remove | set``."""
    from fieldtool import gallery as g

    def add(a: argparse.Namespace) -> int:
        gallery = g.Gallery(a.gallery, create=True)
        if a.species is None:  # folders of species sub-folders, the model loaded once
            counts = gallery.enroll_folders(
                a.model, a.photos, embedding=a.embedding, device=a.device,
                progress=lambda species, n: print(f"{gallery.path}: enrolled {n} photos of "
                                                  f"{species}", flush=True),
                log=print,
            )  # fmt: skip
            print(f"{gallery.path}: {sum(counts.values())} photos of {len(counts)} species")
            for line in warnings(gallery):
                print(line)
            return 0
        added = gallery.enroll(a.model, a.species, g.expand_photos(a.photos),
                               common_name=a.common_name or "", embedding=a.embedding,
                               device=a.device, log=print)  # fmt: skip
        total = dict(gallery.list()).get(" ".join(a.species.split()), 0)
        print(f"{gallery.path}: enrolled {added} photos of {a.species} ({total} in all)")
        return 0

    def remove(a: argparse.Namespace) -> int:
        gallery = g.Gallery(a.gallery)
        print(f"{gallery.path}: removed {gallery.remove(a.species)} photos of {a.species}")
        return 0

    def settings(a: argparse.Namespace) -> int:
        gallery = g.Gallery(a.gallery)
        for key in ("threshold", "temperature", "mode"):
            if getattr(a, key) is not None:
                setattr(gallery.settings, key, getattr(a, key))
        gallery.settings.check()
        gallery.save()
        print(f"{gallery.path}: {dataclasses.asdict(gallery.settings)}")
        return 0

    top = sub.add_parser("gallery", help="few-shot species gallery from your photos")
    gsub = top.add_subparsers(dest="gallery_command", required=True)
    ad = gsub.add_parser("add", help="enroll reference photos of one species, or folders "
                         "of species sub-folders (Acer_rubrum/*.jpg, ...) at once")
    ad.add_argument("--model", type=Path, required=True, help="model folder for embeddings")
    ad.add_argument("--species", help='scientific name, e.g. "Acer rubrum" (without it: '
                    "each photos folder holds one sub-folder per species)")
    ad.add_argument("--common-name", help="common name shown with sightings")
    ad.add_argument("--embedding", choices=g.EMBEDDING_KINDS, help="new galleries only (cls)")
    ad.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    ad.add_argument("photos", nargs="+", type=Path, help="photo files or folders")
    ad.set_defaults(func=add)
    ls = gsub.add_parser("list", help="enrolled species, photo counts and similarities")
    ls.set_defaults(func=lambda a: print(describe(g.Gallery(a.gallery))) or 0)
    rm = gsub.add_parser("remove", help="remove a species and its photos")
    rm.add_argument("--species", required=True)
    rm.set_defaults(func=remove)
    st = gsub.add_parser("set", help="change matching settings")
    st.add_argument("--threshold", type=float, help="cosine similarity below which: unknown")
    st.add_argument("--temperature", type=float, help="softmax temperature (0.05)")
    st.add_argument("--mode", choices=g.MODES)
    st.set_defaults(func=settings)
    for command, required in ((ad, "gallery folder (created)"), (ls, None), (rm, None), (st, None)):
        command.add_argument("--gallery", type=Path, required=True, help=required)


def separability(gallery: Gallery) -> dict[str, tuple[float, str, float]]:
    """Per species with 2+ photos and another species: (mean cosine between its own
    photos, the other species its photos are most alike, their mean cosine to that
    species' photos)."""
    names = gallery.species
    owner = np.array([names.index(e.species) for e in gallery.entries])
    sims = gallery.embeddings @ gallery.embeddings.T
    out = {}
    for k, name in enumerate(names):
        mine = owner == k
        if mine.sum() < 2 or len(names) < 2:
            continue
        block = sims[np.ix_(mine, mine)]
        same = float((block.sum() - np.trace(block)) / (mine.sum() * (mine.sum() - 1)))
        other = {j: float(sims[np.ix_(mine, owner == j)].mean())
                 for j in range(len(names)) if j != k}  # fmt: skip
        j = max(other, key=lambda i: other[i])
        out[name] = (same, names[j], other[j])
    return out


def warnings(gallery: Gallery) -> tuple[str, ...]:
    """One line per species whose photos are less alike than they are to another
    species' photos: the gallery cannot tell those two apart."""
    return tuple(
        f"warning: {name}: the mean similarity among its photos ({same:.3f}) is below "
        f"their mean similarity to {other}'s photos ({to_other:.3f}); the gallery cannot "
        "tell them apart (add photos, or use cls+mean embeddings or another model)"
        for name, (same, other, to_other) in separability(gallery).items()
        if same < to_other
    )


def leave_one_out(gallery: Gallery) -> dict[str, tuple[float, float]]:
    """Per species: (mean best similarity of its photos to the rest of the gallery's
    same-species photos, mean best similarity to any other species), photo against photo.
    NaN where a species has one photo or is alone. Helps to pick ``threshold``."""
    names = gallery.species
    owner = np.array([names.index(e.species) for e in gallery.entries])
    sims = gallery.embeddings @ gallery.embeddings.T
    np.fill_diagonal(sims, -np.inf)
    out = {}
    for k, name in enumerate(names):
        rows = sims[owner == k]
        same, other = rows[:, owner == k], rows[:, owner != k]
        best_same = same.max(axis=1) if same.shape[1] > 1 else np.array([np.nan])
        best_other = other.max(axis=1) if other.shape[1] else np.array([np.nan])
        out[name] = (float(np.mean(best_same)), float(np.mean(best_other)))
    return out


def describe(gallery: Gallery) -> str:
    """What ``fieldtool gallery list`` prints: model, settings, and per species the photo
    count with its leave-one-out same- and other-species similarities."""
    s = gallery.settings
    model = f"{gallery.model.model_id} ({gallery.model.path})" if gallery.model else "none yet"
    lines = [
        f"gallery {gallery.path}: model {model}",
        f"embedding {s.embedding}, mode {s.mode}, threshold {s.threshold}, "
        f"temperature {s.temperature}",
    ]
    if not gallery.entries:
        return "\n".join([*lines, "(no species enrolled)"])
    loo = leave_one_out(gallery)
    lines.append(
        f"{'species':<32} {'photos':>6}  {'nearest same-species':>20}  {'nearest other-species':>21}"
    )
    for species, count in gallery.list():
        same, other = loo[species]
        lines.append(f"{species:<32} {count:>6}  {same:>20.3f}  {other:>21.3f}")
    lines.append("(nearest: each photo's most similar other photo of its own species, or of any "
                 "other species, cosine, averaged over the species' photos)")  # fmt: skip
    return "\n".join([*lines, *warnings(gallery)])
