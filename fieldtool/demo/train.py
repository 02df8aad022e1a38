"""Train the demo's small DINOv2-architecture classifier from scratch on rendered samples.

Classes: the 12 demo species in ``DEMO_SPECIES`` order, then ``background``. Every sample
is a walk-like frame from :func:`fieldtool.demo.render.render_sample` (walk frame size,
JPEG-compressed like a decoded video frame), preprocessed exactly as the pipeline's
classifier stage does: BGR -> RGB, ``cv2.resize`` of the whole frame to
``image_size`` x ``image_size`` (INTER_AREA), /255, normalised with the mean/std written
to ``fieldtool.json``.

The training pool is rendered up front (seed ``seed``) and a part of it is replaced by
fresh renders after every epoch; a validation set (another stream of the same seed)
picks the best epoch and stops training when it no longer improves; the reported
accuracy comes from a held-out set rendered from a different seed (``seed + 1000``).

    python -m fieldtool.demo.train --out models/demo --minutes 12
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import multiprocessing
import multiprocessing.pool
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from transformers import Dinov2Config

from fieldtool.demo.render import FRAME_SIZE, class_names, render_sample
from fieldtool.demo.species import BACKGROUND, DEMO_SPECIES
from fieldtool.model import ModelInfo, SpeciesClassifier, save_model_folder
from fieldtool.types import FieldtoolError, Label, LabelSet

_TRAIN, _VAL, _TEST, _REFRESH = 0, 1, 2, 3  # sample streams
HELDOUT_SEED_OFFSET = 1000


@dataclass
class TrainSettings:
    """Network and optimisation settings (recorded in ``fieldtool.json``)."""

    image_size: int = 96  # px, square network input
    patch_size: int = 8
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    drop_path: float = 0.05
    head_input: str = "cls+mean"
    batch_size: int = 64
    lr: float = 8e-4  # peak, after warm-up; cosine decay over the time budget
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    per_class: int = 450  # training pool, samples per class
    refresh: float = 0.15  # fraction of the pool re-rendered after each epoch
    val_per_class: int = 40
    test_per_class: int = 100
    patience: int = 4  # epochs without a better validation accuracy before stopping
    minutes: float = 12.0  # wall-clock budget of the training loop
    seed: int = 0
    workers: int = 2  # render processes
    threads: int = 2  # torch threads
    walks: str = "data/demo"  # folder of demo walks to check the model on ("" for none)


def label_set() -> LabelSet:
    """The demo model's labels: 12 species in ``DEMO_SPECIES`` order, then background."""
    labels = [Label(i, s.species, s.common_name) for i, s in enumerate(DEMO_SPECIES)]
    labels.append(Label(len(labels), BACKGROUND, "no plant", is_background=True))
    return LabelSet(tuple(labels))


def preprocess(frame_bgr: np.ndarray, image_size: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR frame -> (S, S, 3) uint8 RGB, the whole frame squashed."""
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (image_size, image_size), interpolation=cv2.INTER_AREA)


def _render_chunk(job: tuple[int, int, int, list[tuple[int, int]], int]) -> np.ndarray:
    """Worker: render samples ``(class index, sample index)`` of one stream -> (n, S, S, 3)."""
    seed, stream, image_size, items, _ = job
    cv2.setNumThreads(1)
    names = class_names()
    out = np.empty((len(items), image_size, image_size, 3), np.uint8)
    for j, (c, i) in enumerate(items):
        rng = np.random.default_rng([seed, stream, c, i])
        out[j] = preprocess(render_sample(names[c], rng, FRAME_SIZE), image_size)
    return out


def render_set(
    seed: int,
    stream: int,
    items: Sequence[tuple[int, int]],
    image_size: int,
    pool: multiprocessing.pool.Pool | None,
) -> np.ndarray:
    """Render ``items`` (class index, sample index) -> (n, S, S, 3) uint8 RGB, deterministic."""
    chunks = [list(items[k : k + 50]) for k in range(0, len(items), 50)]
    jobs = [(seed, stream, image_size, chunk, k) for k, chunk in enumerate(chunks)]
    parts = pool.map(_render_chunk, jobs) if pool is not None else [_render_chunk(j) for j in jobs]
    return np.concatenate(parts) if parts else np.zeros((0, image_size, image_size, 3), np.uint8)


def _grid(classes: int, per_class: int, start: int = 0) -> list[tuple[int, int]]:
    return [(c, i) for i in range(start, start + per_class) for c in range(classes)]


def _to_tensor(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) uint8 RGB -> (B, 3, S, S) float, normalised."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    return (x - torch.from_numpy(mean).view(1, 3, 1, 1)) / torch.from_numpy(std).view(1, 3, 1, 1)


@torch.no_grad()
def predict(
    network: nn.Module, images: np.ndarray, mean: np.ndarray, std: np.ndarray
) -> np.ndarray:
    """(N, S, S, 3) uint8 RGB -> (N, C) probabilities."""
    network.eval()
    out = []
    for k in range(0, len(images), 128):
        out.append(torch.softmax(network(_to_tensor(images[k : k + 128], mean, std)), -1).numpy())
    return np.concatenate(out)


def accuracy_report(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Top-1 accuracy overall, for distinct species, look-alikes and background."""
    names = class_names()
    bg = names.index(BACKGROUND)
    pair = {s.species: s.lookalike_of for s in DEMO_SPECIES}
    lookalike = np.array([pair.get(n) is not None for n in names])
    distinct = np.array([n != BACKGROUND and pair.get(n) is None for n in names])
    correct = pred == truth

    def acc(mask: np.ndarray) -> float:
        return round(float(correct[mask].mean()), 4) if mask.any() else float("nan")

    in_pair = np.array(
        [t == p or pair.get(names[t]) == names[p] for t, p in zip(truth, pred, strict=True)]
    )
    confusion = np.zeros((len(names), len(names)), int)
    np.add.at(confusion, (truth, pred), 1)
    return {
        "overall": acc(np.ones_like(correct)),
        "distinct_species": acc(distinct[truth]),
        "lookalike_species": acc(lookalike[truth]),
        "lookalike_pair": round(float(in_pair[lookalike[truth]].mean()), 4),
        "background": acc(truth == bg),
        "species_called_background": round(float((pred[truth != bg] == bg).mean()), 4),
        "per_class": {names[c]: acc(truth == c) for c in range(len(names))},
        "confusion": confusion.tolist(),  # rows: truth, columns: prediction, class order
    }


def evaluate_walks(
    network: nn.Module,
    walk_dir: Path,
    mean: np.ndarray,
    std: np.ndarray,
    image_size: int,
    every: int = 3,
) -> dict:
    """Top-1 on every ``every``-th frame of the demo walks in ``walk_dir`` (videos + truth).

    ``in_view``: frames whose truth names a species; ``in_view_pair``: the prediction is that
    species or its look-alike; ``no_plant_in_view_called_background``: frames outside every
    truth interval (ground, or less than half a plant) predicted as background.
    """
    names = class_names()
    bg = names.index(BACKGROUND)
    pair = {s.species: s.lookalike_of for s in DEMO_SPECIES}
    result: dict = {}
    for video in sorted(Path(walk_dir).glob("walk_*.mp4")):
        truth_path = video.with_name(video.stem + "_truth.csv")
        if not truth_path.is_file():
            continue
        with truth_path.open(newline="", encoding="utf-8") as fh:
            rows = [
                (r["species"], float(r["start_s"]), float(r["end_s"])) for r in csv.DictReader(fh)
            ]
        cap = cv2.VideoCapture(str(video))
        fps = cap.get(cv2.CAP_PROP_FPS) or 15.0
        images, truth, i = [], [], 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every == 0:
                t = i / fps
                hit = [sp for sp, a, b in rows if a - 1e-6 <= t <= b + 1e-6]
                images.append(preprocess(frame, image_size))
                truth.append(names.index(hit[0]) if hit else -1)
            i += 1
        cap.release()
        if not images:
            continue
        pred = predict(network, np.stack(images), mean, std).argmax(1)
        truth_a = np.array(truth)
        seen = truth_a >= 0
        pair_ok = [
            p == t or pair.get(names[t]) == names[p]
            for p, t in zip(pred[seen], truth_a[seen], strict=True)
        ]
        result[video.stem] = {
            "frames": int(len(pred)),
            "in_view": round(float((pred[seen] == truth_a[seen]).mean()), 4)
            if seen.any()
            else None,
            "in_view_pair": round(float(np.mean(pair_ok)), 4) if seen.any() else None,
            "no_plant_in_view_called_background": round(float((pred[~seen] == bg).mean()), 4)
            if (~seen).any()
            else None,
        }
    return result


def _lr_at(progress: float, peak: float) -> float:
    """Warm-up over the first 5 % of the budget, then cosine decay to 2 % of the peak."""
    if progress < 0.05:
        return peak * max(progress / 0.05, 0.02)
    p = min(1.0, (progress - 0.05) / 0.95)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))


def train(out: Path, settings: TrainSettings, log=print) -> dict:
    """Render, train, evaluate, write the model folder; returns the held-out report."""
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    cv2.setNumThreads(1)
    gen = np.random.default_rng([settings.seed, 9])
    labels = label_set()
    names = class_names()
    assert names == labels.species
    n_cls = len(names)
    size = settings.image_size
    t_start = time.time()

    with _render_pool(settings.workers) as pool_or_none:
        train_items = _grid(n_cls, settings.per_class)
        x_train = render_set(settings.seed, _TRAIN, train_items, size, pool_or_none)
        y_train = np.array([c for c, _ in train_items])
        x_val = render_set(
            settings.seed, _VAL, _grid(n_cls, settings.val_per_class), size, pool_or_none
        )
        y_val = np.array([c for c, _ in _grid(n_cls, settings.val_per_class)])
        log(
            f"rendered {len(x_train)} training + {len(x_val)} validation samples "
            f"in {time.time() - t_start:.0f} s"
        )
        pix = x_train[::7].reshape(-1, 3).astype(np.float32) / 255
        mean = pix.mean(0, dtype=np.float64).round(4).astype(np.float32)
        std = pix.std(0, dtype=np.float64).round(4).astype(np.float32)
        del pix

        config = Dinov2Config(
            hidden_size=settings.hidden_size,
            num_hidden_layers=settings.layers,
            num_attention_heads=settings.heads,
            mlp_ratio=settings.mlp_ratio,
            patch_size=settings.patch_size,
            image_size=size,
            drop_path_rate=settings.drop_path,
            layerscale_value=1.0,
        )
        network = SpeciesClassifier(config, n_cls, settings.head_input)
        decay = [p for n, p in network.named_parameters() if p.ndim >= 2 and "embeddings" not in n]
        no_decay = [p for n, p in network.named_parameters() if p.ndim < 2 or "embeddings" in n]
        optimiser = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": settings.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=settings.lr,
        )
        loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)

        budget = settings.minutes * 60
        t0 = time.time()
        best_acc, best_state, best_epoch, stale, epoch, steps = -1.0, None, 0, 0, 0, 0
        next_refresh = settings.per_class
        history = []
        while time.time() - t0 < budget and stale < settings.patience:
            epoch += 1
            network.train()
            order = gen.permutation(len(x_train))
            losses = []
            for k in range(0, len(order) - settings.batch_size + 1, settings.batch_size):
                progress = (time.time() - t0) / budget
                if progress >= 1:
                    break
                for group in optimiser.param_groups:
                    group["lr"] = _lr_at(progress, settings.lr)
                idx = order[k : k + settings.batch_size]
                images = x_train[idx]
                flip = gen.uniform(size=len(idx)) < 0.5
                images[flip] = images[flip, :, ::-1]
                logits = network(_to_tensor(images, mean, std))
                loss = loss_fn(logits, torch.from_numpy(y_train[idx]))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), 1.0)
                optimiser.step()
                losses.append(loss.item())
                steps += 1
            val_acc = float((predict(network, x_val, mean, std).argmax(1) == y_val).mean())
            history.append(
                {
                    "epoch": epoch,
                    "loss": round(float(np.mean(losses or [0])), 4),
                    "val": round(val_acc, 4),
                }
            )
            log(
                f"epoch {epoch}: {steps} steps, loss {np.mean(losses or [0]):.3f}, "
                f"val acc {val_acc:.3f}, {time.time() - t0:.0f} s"
            )
            if val_acc > best_acc:
                best_acc, best_epoch, stale = val_acc, epoch, 0
                best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
            else:
                stale += 1
            # replace part of the pool with fresh renders (the renderer's own variation)
            n_new = int(settings.refresh * settings.per_class)
            if n_new and time.time() - t0 < budget and stale < settings.patience:
                items = _grid(n_cls, n_new, next_refresh)
                next_refresh += n_new
                fresh = render_set(settings.seed, _REFRESH, items, size, pool_or_none)
                slots = gen.choice(len(x_train), len(fresh), replace=False)
                x_train[slots] = fresh
                y_train[slots] = [c for c, _ in items]
        train_s = time.time() - t0
        if best_state is not None:
            network.load_state_dict(best_state)

        test_items = _grid(n_cls, settings.test_per_class)
        x_test = render_set(
            settings.seed + HELDOUT_SEED_OFFSET, _TEST, test_items, size, pool_or_none
        )
    y_test = np.array([c for c, _ in test_items])
    report = accuracy_report(predict(network, x_test, mean, std).argmax(1), y_test)
    log(json.dumps({k: v for k, v in report.items() if k not in ("per_class", "confusion")}))
    walks = evaluate_walks(network, settings.walks, mean, std, size) if settings.walks else {}
    if walks:
        log(json.dumps(walks))

    info = ModelInfo(
        model_id=f"fieldtool-demo-vit-h{settings.hidden_size}l{settings.layers}-{size}px-s{settings.seed}",
        image_size=size,
        mean=tuple(round(float(v), 4) for v in mean),
        std=tuple(round(float(v), 4) for v in std),
        head_input=settings.head_input,
        extra={
            "description": "demo model trained from scratch on procedurally rendered plants "
            "(fieldtool.demo.render); not a real plant classifier",
            "command": f"python -m fieldtool.demo.train --out {out} --minutes {settings.minutes:g} --seed {settings.seed}",
            "heldout_accuracy": {k: v for k, v in report.items() if k != "confusion"},
            "heldout_confusion": report["confusion"],
            "heldout_samples": int(len(y_test)),
            "heldout_seed": settings.seed + HELDOUT_SEED_OFFSET,
            "walk_frames": walks,
            "best_val_accuracy": round(best_acc, 4),
            "best_epoch": best_epoch,
            "epochs": epoch,
            "steps": steps,
            "train_seconds": round(train_s, 1),
            "total_seconds": round(time.time() - t_start, 1),
            "history": history,
            "settings": settings.__dict__,
            "frame_size": list(FRAME_SIZE),
            "preprocessing": "BGR->RGB, cv2.resize whole frame to image_size (INTER_AREA), /255, (x-mean)/std",
            "torch": torch.__version__,
        },
    )
    save_model_folder(out, network, labels, info)
    _write_readme(Path(out), info, report, settings, walks)
    return report


def train_head(
    backbone: Path | str,
    out: Path | str,
    *,
    leave_out: Sequence[str] = (),
    per_class: int = 60,
    seed: int = 0,
    workers: int = 1,
    model_id: str | None = None,
    prototypes_per_class: int = 32,
) -> dict:
    """A model folder with ``backbone``'s frozen backbone and a new linear head fitted on
    ``per_class`` fresh renders of each demo class but ``leave_out`` (a model that has never
    been taught those species), with ``prototypes_per_class`` of its training features per
    class as prototypes (:mod:`fieldtool.learn.head`). Returns per-class accuracy on
    held-out renders (seed ``seed + HELDOUT_SEED_OFFSET``).
    """
    from fieldtool.learn.embed import FeatureExtractor
    from fieldtool.learn.head import Prototypes, fit_head, head_probs
    from fieldtool.model import load_model_folder

    model = load_model_folder(backbone)
    names = class_names()
    keep = [c for c, name in enumerate(names) if name not in set(leave_out)]
    every = label_set().labels
    labels = LabelSet(tuple(Label(i, every[c].species, every[c].common_name,
                                  every[c].is_background) for i, c in enumerate(keep)))  # fmt: skip
    size = int(model.info.image_size)
    extract = FeatureExtractor(model)

    def features(seed_: int, stream: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        items = [(c, i) for i in range(count) for c in keep]
        with _render_pool(workers) as pool:
            rgb = render_set(seed_, stream, items, size, pool)
        feats = extract([np.ascontiguousarray(x[..., ::-1]) for x in rgb])  # as BGR frames
        return feats, np.array([keep.index(c) for c, _ in items])

    x, y = features(seed, _TRAIN, per_class)
    weight, bias = fit_head(x, y, len(keep))
    x_test, y_test = features(seed + HELDOUT_SEED_OFFSET, _TEST, max(10, per_class // 2))
    pred = head_probs(weight, bias, x_test).argmax(1)
    network = model.network
    with torch.no_grad():
        network.head = nn.Linear(weight.shape[1], weight.shape[0])
        network.head.weight.copy_(torch.from_numpy(weight))
        network.head.bias.copy_(torch.from_numpy(bias))
    report = {
        labels.labels[c].species: round(float((pred[y_test == c] == c).mean()), 4)
        for c in range(len(keep))
    }
    info = ModelInfo(
        model_id=model_id or f"{model.info.model_id}-head{len(keep)}-s{seed}",
        image_size=size, mean=model.info.mean, std=model.info.std,
        head_input=model.info.head_input,
        extra={"description": f"demo backbone, head fitted on renders without {list(leave_out)}",
               "heldout_per_class": report},
    )  # fmt: skip
    save_model_folder(out, network, labels, info)
    Prototypes.from_features(x, y, len(keep), per_class=prototypes_per_class).save(out)
    return report


@contextlib.contextmanager
def _render_pool(workers: int) -> Iterator[multiprocessing.pool.Pool | None]:
    """A pool of ``workers`` spawned render processes, or None (render in-process) for 1."""
    if workers <= 1:
        yield None
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield pool


def _write_readme(
    out: Path, info: ModelInfo, report: dict, settings: TrainSettings, walks: dict
) -> None:
    extra = info.extra
    walk_rows = "\n".join(
        f"| {name} | {r['frames']} | {r['in_view']} | {r['in_view_pair']} | "
        f"{r['no_plant_in_view_called_background']} |"
        for name, r in walks.items()
    )
    walk_text = (
        f"""
## On the demo walks

Every 3rd frame of the rendered walks in `{settings.walks}`, classified frame by frame (no
smoothing, no range prior); "in view" frames are those inside a truth interval.

| walk | frames | in view: top-1 | in view: right pair | no plant in view: called background |
|---|---|---|---|---|
{walk_rows}
"""
        if walks
        else ""
    )
    per_class = "\n".join(f"| {name} | {acc:.2f} |" for name, acc in report["per_class"].items())
    text = f"""# Demo species model (`{info.model_id}`)

A tiny DINOv2-architecture vision transformer (`transformers.Dinov2Model`, {settings.layers} layers,
hidden size {settings.hidden_size}, {settings.heads} heads, patch {settings.patch_size} px, input
{info.image_size} x {info.image_size} px, head on CLS + mean patch token) with a linear head over
13 classes: the 12 demo species (`fieldtool.demo.species.DEMO_SPECIES` order) and `background`.

It is trained **from scratch on procedurally rendered images** (`fieldtool.demo.render`) for the
offline demo. It knows nothing about real plants. Three cross-region look-alike pairs (maples,
oaks, dogwoods) are drawn almost alike on purpose, so the image alone confuses them; the range
prior is what separates them.

## Training

    python -m fieldtool.demo.train --out models/demo --minutes {settings.minutes:g} --seed {settings.seed}

- samples: walk-like 320 x 240 frames (ground, clutter, at most one plant with >= half its width in
  view; background frames may hold a sliver of a plant), JPEG-compressed at random quality,
  preprocessed like the pipeline (BGR->RGB, whole-frame `cv2.resize` to {info.image_size} px with
  INTER_AREA, /255, mean/std below);
- pool of {settings.per_class} renders per class (seed {settings.seed}), {int(settings.refresh * 100)} % replaced by
  fresh renders after each epoch, random horizontal flips;
- AdamW (peak lr {settings.lr:g}, weight decay {settings.weight_decay:g}), batch {settings.batch_size},
  label smoothing {settings.label_smoothing:g}, warm-up then cosine decay over a {settings.minutes:g}-minute budget,
  best epoch by validation accuracy, early stop after {settings.patience} epochs without improvement;
- this run: {extra["epochs"]} epochs, {extra["steps"]} steps, {extra["train_seconds"] / 60:.1f} min of training
  ({extra["total_seconds"] / 60:.1f} min in all) on {settings.threads} CPU threads, best epoch {extra["best_epoch"]};
- mean {list(info.mean)}, std {list(info.std)} (RGB, 0-1, from the training pool).

## Held-out accuracy

{extra["heldout_samples"]} fresh renders ({settings.test_per_class} per class) from seed {extra["heldout_seed"]}, top-1:

| set | accuracy |
|---|---|
| overall | {report["overall"]:.3f} |
| distinct species (fir, redcedar, madrone, tulip tree, sweetgum, loblolly) | {report["distinct_species"]:.3f} |
| look-alike species (maples, oaks, dogwoods), exact species | {report["lookalike_species"]:.3f} |
| look-alike species, right pair (either species of the pair) | {report["lookalike_pair"]:.3f} |
| background | {report["background"]:.3f} |
| species frames called background | {report["species_called_background"]:.3f} |

Per class:

| class | accuracy |
|---|---|
{per_class}

The full confusion matrix and the training history are in `fieldtool.json` (`extra`).
{walk_text}"""
    (out / "README.md").write_text(text, encoding="utf-8")


def write_prototypes(folder: Path | str, per_class: int = 32, seed: int = 0) -> float:
    """``prototypes.safetensors`` for a demo model folder: ``per_class`` training-pool
    renders of each class, embedded with its own backbone (what ``fieldtool learn``
    measures a new head's retention of the old classes on). Returns the model's top-1 on
    them (its head's own verdict, for the log)."""
    from fieldtool.learn.embed import FeatureExtractor
    from fieldtool.learn.head import Prototypes, head_probs
    from fieldtool.model import load_model_folder

    model = load_model_folder(folder)
    names = class_names()
    if names != model.labels.species:
        raise FieldtoolError(f"{folder}: not the demo model (its classes differ)")
    items = _grid(len(names), per_class)
    rgb = render_set(seed, _TRAIN, items, int(model.info.image_size), None)
    x = FeatureExtractor(model)([np.ascontiguousarray(a[..., ::-1]) for a in rgb])  # BGR
    y = np.array([c for c, _ in items])
    Prototypes.from_features(x, y, len(names), per_class=per_class).save(Path(folder))
    head = model.network.head
    weight, bias = head.weight.detach().numpy(), head.bias.detach().numpy()
    return float((head_probs(weight, bias, x).argmax(1) == y).mean())


def main(argv: Sequence[str] | None = None) -> int:
    defaults = TrainSettings()
    parser = argparse.ArgumentParser(
        prog="python -m fieldtool.demo.train", description="Train the demo species model."
    )
    parser.add_argument("--out", type=Path, default=Path("models/demo"))
    parser.add_argument("--minutes", type=float, default=defaults.minutes, help="training budget")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--per-class", type=int, default=defaults.per_class, help="training pool size per class"
    )
    parser.add_argument("--test-per-class", type=int, default=defaults.test_per_class)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--workers", type=int, default=defaults.workers, help="render processes")
    parser.add_argument(
        "--walks", default=defaults.walks, help="folder of demo walks to check on ('' for none)"
    )
    args = parser.parse_args(argv)
    settings = TrainSettings(
        minutes=args.minutes,
        seed=args.seed,
        per_class=args.per_class,
        test_per_class=args.test_per_class,
        image_size=args.image_size,
        workers=args.workers,
        walks=args.walks if args.walks and Path(args.walks).is_dir() else "",
    )
    train(args.out, settings, log=lambda msg: print(msg, flush=True))
    top1 = write_prototypes(args.out, seed=args.seed)
    print(f"prototypes written: the model's top-1 on them {top1:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
