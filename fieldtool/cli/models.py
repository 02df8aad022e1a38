"""``fieldtool model`` and ``gallery``: classifiers."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


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
        overwrite=a.force)))  # fmt: skip
    h = msub.add_parser("import-hf", help="convert a Hugging Face DINOv2 folder")
    h.add_argument("folder", type=Path, help="folder with config.json and model.safetensors")
    h.add_argument("--labels", type=Path, help="labels.csv for a classifier head")
    h.add_argument("--image-size", type=int, help="input size in px (default: preprocessor's)")
    h.set_defaults(func=lambda a: done(importers.import_hf_dinov2(
        a.folder, a.out, a.labels, model_id=a.model_id, image_size=a.image_size,
        overwrite=a.force)))  # fmt: skip
    d = msub.add_parser("pull", help="download a DINOv2 backbone from the Hugging Face hub")
    d.add_argument("name", choices=importers.HF_MODELS, metavar="NAME",
                   help=", ".join(importers.HF_MODELS))  # fmt: skip
    d.set_defaults(func=lambda a: done(importers.pull(a.name, a.out, overwrite=a.force)))
    for command in (p, h, d):
        command.add_argument("-o", "--out", type=Path, required=True, help="model folder to write")
        command.add_argument("--force", action="store_true", help="replace a non-empty folder")
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
            )  # fmt: skip
            print(f"{gallery.path}: {sum(counts.values())} photos of {len(counts)} species")
            for line in gallery.warnings():
                print(line)
            return 0
        added = gallery.enroll(a.model, a.species, g.expand_photos(a.photos),
                               common_name=a.common_name or "", embedding=a.embedding,
                               device=a.device)  # fmt: skip
        total = dict(gallery.list())[" ".join(a.species.split())]
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
    ls.set_defaults(func=lambda a: print(g.describe(g.Gallery(a.gallery))) or 0)
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
