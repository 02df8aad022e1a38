"""``fieldtool learn``: a new model from reviewed sightings and/or photos (a gallery, folders
of species sub-folders); ``learn export``: confirmed frames for training elsewhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _learn(a: argparse.Namespace) -> int:
    from fieldtool.learn.update import learn

    def log(line: str) -> None:
        if not a.quiet:
            print(f"fieldtool: {line}", file=sys.stderr, flush=True)

    if a.out is None or a.model is None:
        from fieldtool.types import FieldtoolError

        raise FieldtoolError("learn needs --model (the model to start from) and -o (new folder)")
    from fieldtool.learn.head import HeadSettings

    # the default database only when no photos are given: photos alone need none
    db = a.db if a.db is not None or a.gallery or a.photos else Path("sightings.duckdb")
    settings = HeadSettings() if a.anchor is None else HeadSettings(anchor=a.anchor)
    result = learn(db, a.model, a.out, gallery=a.gallery, photos=a.photos or (),
                   force=a.force, holdout=a.holdout, device=a.device, settings=settings,
                   heldout_sessions=a.heldout_session,
                   model_id=a.model_id, log=log)  # fmt: skip
    for line in result.skipped[:5]:
        log(f"skipped: {line}")
    print(result.message)
    return 0 if result.written else 1


def _export(a: argparse.Namespace) -> int:
    from fieldtool.learn.export import export_confirmed

    written = export_confirmed(a.db, a.out, include_rejected=a.rejected,
                               log=lambda line: print(f"fieldtool: {line}", file=sys.stderr))
    print(f"wrote {written} frames to {a.out} (labels in {Path(a.out) / 'labels.csv'})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "learn",
        help="learn a new model head from reviewed sightings or photos (refused when worse)",
        description="Fit a new linear head on the frames of reviewed sightings (confirmed: "
        "the species; relabelled: the new species, added when the model lacks it; rejected: "
        "background) and/or on photos of species (--gallery: the photos a gallery was "
        "enrolled from, read again; --photos: folders of species sub-folders; a species the "
        "model lacks becomes a new class), measured against the parent on what is held out: "
        "a share of the review sessions, and every k-th photo of each species (k = "
        "1/holdout, in order of file name). Reviews at genus level (Acer sp.) are left out: "
        "they cannot teach a species. Exit status 1 when the new model is worse or no "
        "better (the same accuracy, no higher macro F1), or too little is held out to "
        "judge it (under 5 examples, or a new species with none), or it gives an old class under 0.9 of the parent's prototypes of it that the parent "
        "gives it (a parent without prototypes.safetensors cannot be judged so), and was not "
        "written.",
    )
    p.add_argument("--db", type=Path,
                   help="database of reviewed sightings (sightings.duckdb unless --gallery "
                   "or --photos is given)")  # fmt: skip
    p.add_argument("--model", type=Path, help="model folder to start from")
    p.add_argument("-o", "--out", type=Path, help="new model folder to write")
    p.add_argument("--force", action="store_true",
                   help="write it even when refused (worse or no better, too little held "
                   "out to judge it, ...; the card says so)")  # fmt: skip
    p.add_argument("--holdout", type=float, default=0.25,
                   help="share of sessions, and of each species' photos, held out to "
                   "measure on (0.25: every 4th photo)")  # fmt: skip
    p.add_argument("--heldout-session", action="append", metavar="SESSION_ID",
                   help="measure on this session (repeatable; default: --holdout of them)")
    p.add_argument("--anchor", type=float,
                   help="how strongly the old classes keep their weights (4.0; lower learns "
                   "more from reviews of known species and risks more drift)")
    p.add_argument("--gallery", type=Path,
                   help="learn from the photos this gallery was enrolled from (read again "
                   "from where they were; an error when any is gone)")
    p.add_argument("--photos", type=Path, action="append", metavar="FOLDER",
                   help="learn from a folder of species sub-folders of photos, as `gallery "
                   "add` takes (Acer_rubrum/*.jpg; background/ for no species; repeatable)")
    p.add_argument("--model-id", help="name of the new model (default: parent+learn-<time>)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="cpu",
                   help="where the training runs")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_learn)
    lsub = p.add_subparsers(dest="learn_command")
    e = lsub.add_parser("export", help="confirmed frames as an ImageFolder with labels.csv")
    e.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    e.add_argument("-o", "--out", type=Path, required=True, help="folder to write (new or empty)")
    e.add_argument("--rejected", action="store_true",
                   help="also rejected sightings' frames, under background/")  # fmt: skip
    e.set_defaults(func=_export)
