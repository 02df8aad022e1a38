"""The demo world for learning: a model that was never taught one species, review walks
run through the pipeline and reviewed from their truth, a held-out walk, and folders of
rendered species photos."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fieldtool.config import load_config
from fieldtool.resources import demo_model, shipped
from fieldtool.store import add_review, query

MISSING = "Liriodendron tulipifera"  # a distinct east species the old model never saw
REVIEW_SEEDS = (1, 2, 3, 5)  # east walks whose sightings get reviewed
HELDOUT_REVIEW_SEED = 1  # the review session learn measures on
EVAL_SEEDS = (12, 13)  # walks nobody reviews; the missing species is in view in each
WALK_S = 45.0
DEMO_RANGES = shipped("data", "ranges", "demo_ranges.geojson")


@dataclass
class LearnWorld:
    root: Path
    old_model: Path
    db: Path  # review sessions, reviewed from truth
    sessions: dict[int, str]  # walk seed -> session id
    walks: dict[int, Path]  # walk seed -> path without suffix (.mp4, .gpx, _truth.csv)
    eval_walks: list[Path]
    west_walk: Path  # species no review touched, nor the missing one


def walk(root: Path, seed: int, region: str = "east") -> Path:
    from fieldtool.demo.world import build_walk

    folder = root / f"walk{seed}{'' if region == 'east' else region}"
    if not folder.exists():
        build_walk(folder, region, seed, WALK_S)
    return folder / f"walk_{region}"


def run_walk(db: Path, walk_path: Path, model: Path) -> str:
    """One pipeline session of ``walk_path`` with ``model`` and the demo range prior."""
    from fieldtool.pipeline import run_from_config

    config = load_config(None, {
        "source.uri": f"{walk_path}.mp4", "store.db": str(db), "model.path": str(model),
        "position.track": f"{walk_path}.gpx", "prior.ranges": [str(DEMO_RANGES)],
    })  # fmt: skip
    return run_from_config(config, log=lambda line: None).session.session_id


def truth_rows(walk_path: Path) -> list[tuple[str, float, float]]:
    with open(f"{walk_path}_truth.csv", newline="", encoding="utf-8") as fh:
        return [(r["species"], float(r["start_s"]), float(r["end_s"])) for r in csv.DictReader(fh)]


def review_from_truth(db: Path, session_id: str, truth: list[tuple[str, float, float]],
                      wrong: dict[str, str] | None = None) -> dict[str, int]:  # fmt: skip
    """What a careful reviewer says of each sighting, looking at its snapshot (the peak
    frame): the truth species in view at ``peak_t`` (confirm or relabel), reject where none
    is. ``wrong``: species -> the species a careless reviewer relabels it to instead.
    Returns counts per decision."""
    counts = {"confirm": 0, "relabel": 0, "reject": 0}
    rows = query(db, "SELECT sighting_id, species, peak_t FROM sightings WHERE session_id = ?",
                 [session_id])  # fmt: skip
    for r in rows.itertuples():
        seen = [species for species, a, b in truth if a - 1.0 <= r.peak_t <= b + 1.0]
        if not seen:
            decision, species = "reject", None
        elif wrong is not None:
            decision, species = "relabel", wrong.get(seen[0], seen[0])
        elif seen[0] == r.species:
            decision, species = "confirm", None
        else:
            decision, species = "relabel", seen[0]
        add_review(db, r.sighting_id, decision, reviewer="test", species=species)
        counts[decision] += 1
    return counts


def copy_db(db: Path, to: Path) -> Path:
    """The database with its snapshots folder (the frames' paths are relative to it)."""
    to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, to / db.name)
    shutil.copytree(db.parent / f"{db.stem}_snapshots", to / f"{db.stem}_snapshots")
    return to / db.name


def write_species_photos(folder: Path, counts: dict[str, int], seed: int = 7) -> Path:
    """``folder/<Genus_epithet>/<i>.jpg``: ``counts[species]`` fresh demo renders (walk
    frames, BGR, JPEG) of each species, from a render stream no model was fitted on."""
    import cv2

    from fieldtool.demo.render import FRAME_SIZE, class_names, render_sample

    names = class_names()
    for species, n in counts.items():
        sub = folder / species.replace(" ", "_")
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            rng = np.random.default_rng([seed, names.index(species), i])
            image = render_sample(species, rng, FRAME_SIZE)
            cv2.imwrite(str(sub / f"{species.split()[0].lower()}_{i:03d}.jpg"), image,
                        [cv2.IMWRITE_JPEG_QUALITY, 90])  # fmt: skip
    return folder


def render_accuracy(folders, per_class: int = 50) -> list[dict[str, float]]:
    """Top-1 per class of each model's head on the same fresh renders (no prior, no
    smoothing); the models share one frozen backbone, so the renders are embedded once."""
    import torch

    from fieldtool.demo.render import class_names
    from fieldtool.demo.train import _TEST, HELDOUT_SEED_OFFSET, render_set
    from fieldtool.learn.embed import FeatureExtractor
    from fieldtool.model import load_model_folder

    models = [load_model_folder(f) for f in folders]
    names = class_names()
    items = [(c, i) for i in range(per_class) for c in range(len(names))]
    rgb = render_set(77 + HELDOUT_SEED_OFFSET, _TEST, items, models[0].info.image_size, None)
    feats = torch.from_numpy(
        FeatureExtractor(models[0])([np.ascontiguousarray(x[..., ::-1]) for x in rgb])
    )
    truth = np.array([names[c] for c, _ in items])
    out = []
    for model in models:
        with torch.no_grad():
            pred = model.network.head(feats).argmax(1).numpy()
        said = np.array([model.labels.species[p] for p in pred])
        out.append({n: float((said[truth == n] == n).mean()) for n in names})
    return out


@pytest.fixture(scope="session")
def old_model(tmp_path_factory) -> Path:
    """~30 s: a head without MISSING fitted on renders over the demo backbone."""
    from fieldtool.demo.train import train_head

    folder = tmp_path_factory.mktemp("old_model") / "old-model"
    train_head(demo_model(), folder, leave_out=[MISSING], per_class=40, model_id="demo-11")
    return folder


@pytest.fixture(scope="session")
def learn_world(tmp_path_factory, old_model: Path) -> LearnWorld:
    """~2-3 minutes on 2 busy cores: ``old_model``, four reviewed east walks, one held-out
    walk."""
    root = tmp_path_factory.mktemp("learn_world")
    db = root / "reviews" / "r.duckdb"
    db.parent.mkdir()
    sessions, walks = {}, {}
    for seed in REVIEW_SEEDS:
        walks[seed] = walk(root, seed)
        sessions[seed] = run_walk(db, walks[seed], old_model)
        review_from_truth(db, sessions[seed], truth_rows(walks[seed]))
    return LearnWorld(root, old_model, db, sessions, walks, [walk(root, s) for s in EVAL_SEEDS],
                      walk(root, EVAL_SEEDS[0], "west"))
