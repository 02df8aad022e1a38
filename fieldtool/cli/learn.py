"""``fieldtool learn``: a new model from reviewed sightings; ``learn export``: confirmed
frames for training elsewhere."""

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
    if a.gallery is not None:
        from fieldtool.learn.update import check_gallery

        check_gallery(a.gallery)  # raises: a gallery holds no photos to re-embed
    from fieldtool.learn.head import HeadSettings

    settings = HeadSettings() if a.anchor is None else HeadSettings(anchor=a.anchor)
    result = learn(a.db, a.model, a.out, force=a.force, holdout=a.holdout, device=a.device,
                   settings=settings,
                   heldout_sessions=a.heldout_session,
                   model_id=a.model_id, log=log)  # fmt: skip
    for line in result.skipped[:5]:
        log(f"skipped: {line}")
    print(result.message)
    return 0 if result.written else 1


def _export(a: argparse.Namespace) -> int:
    from fieldtool.learn.export import export_confirmed

    written = export_confirmed(a.db, a.out, include_rejected=a.rejected)
    print(f"wrote {written} frames to {a.out} (labels in {Path(a.out) / 'labels.csv'})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "learn",
        help="learn a new model head from reviewed sightings (refused when it is worse)",
        description="Fit a new linear head on the frames of reviewed sightings (confirmed: "
        "the species; relabelled: the new species, added when the model lacks it; rejected: "
        "background), measured against the parent on held-out sessions. Exit status 1 when "
        "the new model is worse and was not written.",
    )
    p.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    p.add_argument("--model", type=Path, help="model folder to start from")
    p.add_argument("-o", "--out", type=Path, help="new model folder to write")
    p.add_argument("--force", action="store_true", help="write it even when it is worse")
    p.add_argument("--holdout", type=float, default=0.25,
                   help="share of sessions held out to measure on (0.25)")  # fmt: skip
    p.add_argument("--heldout-session", action="append", metavar="SESSION_ID",
                   help="measure on this session (repeatable; default: --holdout of them)")
    p.add_argument("--anchor", type=float,
                   help="how strongly the old classes keep their weights (4.0; lower learns "
                   "more from reviews of known species and risks more drift)")
    p.add_argument("--gallery", type=Path,
                   help="not supported: a gallery keeps no photos to re-embed (an error)")
    p.add_argument("--model-id", help="name of the new model (default: parent+learn-<time>)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_learn)
    lsub = p.add_subparsers(dest="learn_command")
    e = lsub.add_parser("export", help="confirmed frames as an ImageFolder with labels.csv")
    e.add_argument("--db", type=Path, default=Path("sightings.duckdb"))
    e.add_argument("-o", "--out", type=Path, required=True, help="folder to write (new or empty)")
    e.add_argument("--rejected", action="store_true",
                   help="also rejected sightings' frames, under background/")  # fmt: skip
    e.set_defaults(func=_export)
