"""Score a stored session against ground truth: raw, smoothed, and smoothed + range prior.

The session's per-frame detections (top-k raw and fused probabilities) are replayed
through the same smoother and tracker the live pipeline uses, so the three rows differ
only in what they feed the tracker:

- ``raw``: raw probabilities, no smoothing, no hysteresis (enter = exit, no minimum
  duration, no gap bridging): what a per-frame classifier reports;
- ``smoothed``: raw probabilities through the session's smoothing and hysteresis (a
  photo session's as its run applied them: each photo's scores on their own, whatever
  ``tau_s`` says; :func:`fieldtool.photos.session.photo_smoothing`);
- ``smoothed+prior``: the range-prior-fused probabilities through the same.

Species are matched by :func:`fieldtool.names.label_key` (the key the range prior
matches by): a truth file's "Thuja plicata" is a model's "Thuja plicata Donn ex D.Don".
Sighting level: a predicted sighting is correct if it overlaps in media time a true
interval of the same species; precision = correct / predicted, recall = true intervals
overlapped by some predicted sighting of their species / true intervals. Frame level:
top-1 of each analysed frame is correct if it is a species in view at that time, or the
background class when none is; for a model without a background class, over the frames
with a species in view only (it cannot be right on the others), and said.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from fieldtool.config import PhotosConfig, SmoothingConfig
from fieldtool.gallery import UNKNOWN
from fieldtool.inputs import read_csv_rows, read_input_text
from fieldtool.model import read_labels
from fieldtool.names import first_few as first_names
from fieldtool.names import label_key
from fieldtool.photos import stored_set
from fieldtool.photos.session import photo_smoothing
from fieldtool.smoothing import SightingTracker, TemporalSmoother
from fieldtool.store import query
from fieldtool.types import FieldtoolError, Frame, FrameResult, Label, LabelSet, Sighting

EMPTY_IMAGE = np.zeros((1, 1, 3), np.uint8)


@dataclass(frozen=True)
class TruthInterval:
    species: str
    start_s: float  # media seconds
    end_s: float


@dataclass
class Scores:
    """One row of the evaluation table."""

    name: str
    predicted: int  # sightings
    true: int  # truth intervals
    precision: float
    recall: float
    f1: float
    frame_top1: float
    frames: int


@dataclass
class Detections:
    """A session's analysed frames as dense arrays, (N,) and (N, C)."""

    t: np.ndarray
    wall: list[datetime]
    raw: np.ndarray
    fused: np.ndarray
    labels: LabelSet
    labels_csv: Path | None = None  # the model's full label list they came from; None: stored names


def read_truth(path: Path | str) -> list[TruthInterval]:
    path = Path(path)
    rows = read_csv_rows(path, "ground-truth")
    truth = []
    for n, row in enumerate(rows, start=2):
        try:
            item = TruthInterval(row["species"].strip(), float(row["start_s"]), float(row["end_s"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise FieldtoolError(f"{path}: line {n} needs species,start_s,end_s") from None
        if item.end_s < item.start_s:
            raise FieldtoolError(f"{path}: line {n} ends before it starts")
        truth.append(item)
    return truth


def _session_labels(db: Path, session_id: str, names: set[str]) -> tuple[LabelSet, Path | None]:
    """The labels the session's classifier had, as far as the store can tell, and the
    ``labels.csv`` they were read from (None: the stored names, not the full list).

    A session run on a model's species head: that model folder's ``labels.csv`` (its
    order and background class), while it still names every stored species; else (folder
    gone, or retrained on other species) the stored names. A gallery session: always the
    stored names, with ``unknown`` as background, because ``model.path`` is then only the
    backbone (its ``labels.csv`` knows none of the gallery's species) and the gallery
    folder may have changed or gone since.
    """
    rows = query(
        db, "SELECT model_id, config_json FROM sessions WHERE session_id = ?", [session_id]
    )
    if rows.empty:
        raise FieldtoolError(f"{db}: no session {session_id!r}")
    model_id, settings = rows.iloc[0, 0], rows.iloc[0, 1]
    model = json.loads(settings or "{}").get("model", {})
    # model_id too: it names the gallery even where config_json was written without one.
    gallery = bool(model.get("gallery")) or str(model_id or "").startswith("gallery:")
    labels_csv = Path(model["path"]) / "labels.csv" if model.get("path") else None
    if not gallery and labels_csv is not None and labels_csv.is_file():
        labels = read_labels(labels_csv)
        if names <= set(labels.species):
            return labels, labels_csv
    background = {"background", UNKNOWN} if gallery else {"background"}
    stored = tuple(Label(i, n, "", n in background) for i, n in enumerate(sorted(names)))
    return LabelSet(stored), None


def load_detections(db: Path | str, session_id: str) -> Detections:
    db = Path(db)
    rows = query(
        db,
        "SELECT t, time, raw_species, raw_scores, fused_species, fused_scores FROM detections "
        "WHERE session_id = ? ORDER BY t",
        [session_id],
    )
    if rows.empty:
        raise FieldtoolError(f"{db}: session {session_id!r} has no stored detections")
    names = {n for column in ("raw_species", "fused_species") for ns in rows[column] for n in ns}
    labels, labels_csv = _session_labels(db, session_id, names)
    index = {label.species: label.index for label in labels.labels}
    raw = np.zeros((len(rows), len(labels)), np.float32)
    fused = np.zeros_like(raw)
    for target, species_col, score_col in ((raw, "raw_species", "raw_scores"),
                                            (fused, "fused_species", "fused_scores")):  # fmt: skip
        for r, (species, scores) in enumerate(zip(rows[species_col], rows[score_col], strict=True)):
            for name, score in zip(species, scores, strict=True):
                if name in index:
                    target[r, index[name]] = score
    wall = [ts.to_pydatetime() for ts in rows["time"]]
    return Detections(rows["t"].to_numpy(float), wall, raw, fused, labels, labels_csv)


def replay(
    t: np.ndarray, wall: list[datetime], probs: np.ndarray, labels: LabelSet, cfg: SmoothingConfig
) -> tuple[list[Sighting], np.ndarray]:
    """Run smoother and tracker over (N, C) probabilities; returns sightings and (N, C) smoothed."""
    smoother = TemporalSmoother(cfg.tau_s)
    tracker = SightingTracker(labels, cfg, keep_frames=False)
    smoothed = np.zeros_like(probs)
    for i in range(len(t)):
        result = FrameResult(Frame(i, float(t[i]), wall[i], EMPTY_IMAGE), raw=probs[i])
        result.smoothed = smoothed[i] = smoother.update(probs[i], float(t[i]))
        tracker.update(result)
    tracker.finish()
    return tracker.closed, smoothed


def score(
    name: str,
    sightings: list[Sighting],
    t: np.ndarray,
    probs: np.ndarray,
    labels: LabelSet,
    truth: list[TruthInterval],
) -> Scores:
    keys = {iv.species: label_key(iv.species) for iv in truth}

    def overlaps(s: Sighting, iv: TruthInterval) -> bool:
        same = label_key(s.species) == keys[iv.species]
        return same and s.first_t <= iv.end_s and iv.start_s <= s.last_t

    correct = sum(any(overlaps(s, iv) for iv in truth) for s in sightings)
    found = sum(any(overlaps(s, iv) for s in sightings) for iv in truth)
    precision = correct / len(sightings) if sightings else 0.0
    recall = found / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    names = labels.species
    label_keys = [label_key(n) for n in names]
    background = {label.species for label in labels.labels if label.is_background}
    hits = counted = 0
    for i, ti in enumerate(t):
        in_view = {keys[iv.species] for iv in truth if iv.start_s <= ti <= iv.end_s}
        if not in_view and not background:
            continue  # expects "background", which a model without that class never says
        top = int(np.argmax(probs[i]))
        hits += label_keys[top] in in_view if in_view else names[top] in background
        counted += 1
    top1 = hits / counted if counted else 0.0
    return Scores(name, len(sightings), len(truth), precision, recall, f1, top1, counted)


def smoothing_as_run(db: Path | str, session_id: str, cfg: SmoothingConfig) -> SmoothingConfig:
    """``cfg`` as the stored session's run applied it: a photo session (``time_source``
    photos) scores each photo on its own, by the run's own rule
    (:func:`~fieldtool.photos.session.photo_smoothing`, with the session's stored sequence
    gap); a video session's as given. A file of an older schema is read as it is, never
    migrated: before schema 5 sessions had no ``time_source`` (unrecorded: no photo
    sessions, which came with schema 7)."""
    # *: the columns the file has (an older schema lacks time_source), not a fixed list
    rows = query(db, "SELECT * FROM sessions WHERE session_id = ?", [session_id])
    if rows.empty or rows.iloc[0].get("time_source") != "photos":
        return cfg
    photos = json.loads(rows.iloc[0]["config_json"] or "{}").get("photos", {})
    gap = float(photos.get("sequence_gap_s", PhotosConfig().sequence_gap_s))
    return photo_smoothing(cfg, gap)


def evaluate_session(
    db: Path | str,
    session_id: str,
    truth: list[TruthInterval],
    cfg: SmoothingConfig,
    log: Callable[[str], None] | None = None,
) -> list[Scores]:
    """The three rows (raw, smoothed, smoothed+prior) for one stored session, replayed
    with ``cfg`` as the session's run applied it (:func:`smoothing_as_run`). ``log``
    hears a warning when truth intervals lie outside the session's frames, and those of
    :func:`truth_warnings` (truth species the model lacks, or none of them predicted)."""
    det = load_detections(db, session_id)
    cfg = smoothing_as_run(db, session_id, cfg)
    outside = [i for i in truth if det.t.size and (i.start_s > det.t[-1] or i.end_s < det.t[0])]
    if outside and log is not None:
        log(f"warning: {len(outside)} of {len(truth)} truth intervals lie outside the "
            f"session's frames ({det.t[0]:.1f} s to {det.t[-1]:.1f} s of media time): truth "
            "for another clip or span? They count as missed")  # fmt: skip
    per_frame = cfg.model_copy(
        update={"tau_s": 0.0, "exit": cfg.enter, "min_duration_s": 0.0, "max_gap_s": 0.0}
    )
    rows = []
    predicted: set[str] = set()
    for name, probs, settings in (
        ("raw", det.raw, per_frame),
        ("smoothed", det.raw, cfg),
        ("smoothed+prior", det.fused, cfg),
    ):
        sightings, smoothed = replay(det.t, det.wall, probs, det.labels, settings)
        predicted.update(s.species for s in sightings)
        rows.append(score(name, sightings, det.t, smoothed, det.labels, truth))
    if log is not None and rows and rows[0].frames < det.t.size:
        log(f"note: frame top-1 is over the {rows[0].frames} of {det.t.size} frames with a "
            "truth species in view: the model has no background class for the others")
    if log is not None:
        for line in truth_warnings([i.species for i in truth], det.labels, det.labels_csv,
                                   predicted, session_id, "no sighting, raw or smoothed"):  # fmt: skip
            log(line)
    return rows


def truth_warnings(
    truth: Iterable[str],
    labels: LabelSet,
    labels_csv: Path | None,
    predicted: Iterable[str],
    session_id: str,
    what: str,
) -> list[str]:
    """One-line warnings about the truth's species (matched by
    :func:`~fieldtool.names.label_key`): those the model's labels lack, which can never be
    predicted (from ``labels_csv``, the model's full list; without it, the session's
    stored names: then only "in none of its stored predictions" is claimed), and, where
    some could be, none of them among ``predicted`` (``what``: how that was judged)."""
    by_key: dict[str, str] = {}
    for name in truth:  # one spelling per species: the truth's first
        if name:
            by_key.setdefault(label_key(name), name)
    names = list(by_key.values())
    if not names:
        return []
    known = {label_key(label.species) for label in labels.labels if not label.is_background}
    lacking = [n for n in names if label_key(n) not in known]
    out = []
    if lacking:
        listed = first_names(lacking, 8)
        out.append(
            f"warning: the model's labels ({labels_csv}) lack {len(lacking)} of the "
            f"{len(names)} truth species, so they can never be predicted: {listed}"
            if labels_csv is not None
            else f"warning: {len(lacking)} of the {len(names)} truth species are in none of "
            f"session {session_id}'s stored predictions (its model's label list is not at "
            f"hand): {listed}"
        )
    found = {label_key(p) for p in predicted}
    if len(lacking) < len(names) and not any(label_key(n) in found for n in names):
        out.append(f"warning: none of the {len(names)} truth species ({first_names(names, 8)}) "
                   f"was ever predicted in session {session_id} ({what}): truth for another "
                   "session? (--session)")  # fmt: skip
    return out


def format_scores(rows: list[Scores]) -> str:
    head = f"{'predictions':<16}{'sightings':>10}{'true':>6}{'precision':>11}{'recall':>8}{'F1':>7}{'frame top-1':>13}"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.name:<16}{r.predicted:>10}{r.true:>6}{r.precision:>11.3f}{r.recall:>8.3f}"
            f"{r.f1:>7.3f}{r.frame_top1:>13.3f}"
        )
    return "\n".join(lines)


# Multi-label: photo -> species set (plot mode, PlantCLEF) -----------------------------


@dataclass
class SetScores:
    """Species sets per photo against the truth, as PlantCLEF scores them."""

    photos: int  # photos scored (in the truth and in the session)
    missing: int  # photos of the truth the session has no detection for (scored as empty)
    sample_f1: float  # mean over photos of each photo's F1 ("macro F1 per sample")
    macro_f1: float  # mean over species (in truth or predicted) of each species' F1
    precision: float  # micro: over all (photo, species) pairs
    recall: float


def read_photo_truth(path: Path | str) -> dict[str, set[str]]:
    """A multi-label truth CSV: ``photo,species``; one row per species of a photo, or the
    species ``;``-separated in one row; a photo with an empty species holds none.
    ``photo``: a file name, or a path ending the stored one."""
    path = Path(path)
    truth: dict[str, set[str]] = {}
    for n, row in enumerate(read_csv_rows(path, "ground-truth"), start=2):
        photo = (row.get("photo") or "").strip()
        if not photo or "species" not in row:
            raise FieldtoolError(f"{path}: line {n} needs photo,species")
        names = {s.strip() for s in (row["species"] or "").split(";") if s.strip()}
        truth.setdefault(photo, set()).update(names)
    return truth


def is_photo_truth(path: Path | str) -> bool:
    """Whether a truth CSV is multi-label (a ``photo`` column) rather than intervals."""
    lines = read_input_text(Path(path), "ground-truth").splitlines()
    return bool(lines) and "photo" in [c.strip().lower() for c in lines[0].split(",")]


def photo_sets(db: Path | str, session_id: str) -> dict[str, set[str]]:
    """Each photo's predicted species set, from its stored detection (the fused scores:
    plot mode's per-tile maximum with the prior) by the session's plot threshold and top-n."""
    return _photo_sets(db, session_id)[0]


def evaluate_photos(
    db: Path | str,
    session_id: str,
    truth: dict[str, set[str]],
    log: Callable[[str], None] | None = None,
) -> SetScores:
    """:func:`score_sets` of the stored session's :func:`photo_sets` against ``truth``;
    ``log`` hears :func:`truth_warnings` (truth species the model lacks, or none of them
    in any photo's set)."""
    predicted, labels, labels_csv = _photo_sets(db, session_id)
    if log is not None:
        every = [s for species in truth.values() for s in sorted(species)]
        found = [s for species in predicted.values() for s in species]
        for line in truth_warnings(every, labels, labels_csv, found, session_id,
                                   "in no photo's species set"):  # fmt: skip
            log(line)
    return score_sets(truth, predicted)


def _photo_sets(
    db: Path | str, session_id: str
) -> tuple[dict[str, set[str]], LabelSet, Path | None]:
    """:func:`photo_sets`, and the session's labels and their ``labels.csv`` (or None)."""
    rows = query(
        db,
        "SELECT m.path, d.fused_species, d.fused_scores FROM media m JOIN detections d "
        "ON d.session_id = m.session_id AND d.frame_index = m.frame_index "
        "WHERE m.session_id = ? ORDER BY m.frame_index",
        [session_id],
    )
    if rows.empty:
        raise FieldtoolError(f"{db}: session {session_id!r} has no photos with detections")
    settings = query(db, "SELECT config_json FROM sessions WHERE session_id = ?", [session_id])
    photos = json.loads(settings.iloc[0, 0] or "{}").get("photos", {})
    threshold, top_n = float(photos.get("plot_threshold", 0.5)), int(photos.get("plot_top_n", 10))
    names = {n for ns in rows["fused_species"] for n in ns}
    labels, labels_csv = _session_labels(Path(db), session_id, names)
    background = {label.species for label in labels.labels if label.is_background}
    sets = {
        path: stored_set(list(species), list(scores), threshold, top_n, background)
        for path, species, scores in zip(
            rows["path"], rows["fused_species"], rows["fused_scores"], strict=True
        )
    }
    return sets, labels, labels_csv


def _f1(hits: int, predicted: int, true: int) -> float:
    return 2 * hits / (predicted + true) if predicted + true else 1.0


def score_sets(truth: dict[str, set[str]], predicted: dict[str, set[str]]) -> SetScores:
    """Sample-averaged F1 (per photo, then the mean: PlantCLEF's "macro F1 per sample";
    a photo with no species, none predicted, scores 1) and macro F1 (per species over all
    photos, then the mean). A truth photo matches the stored path it names (file name, or
    the path's end); one the session lacks counts as predicted empty. Species match by
    :func:`~fieldtool.names.label_key` ("Thuja plicata" is "Thuja plicata Donn ex D.Don")."""
    truth = {photo: {label_key(s) for s in species} for photo, species in truth.items()}
    predicted = {path: {label_key(s) for s in species} for path, species in predicted.items()}
    by_name: dict[str, list[str]] = {}
    for stored in predicted:
        by_name.setdefault(Path(stored).name, []).append(stored)
    pairs: list[tuple[set[str], set[str]]] = []
    missing = 0
    for photo, species in truth.items():
        key = photo.replace("\\", "/")
        found = [s for s in by_name.get(Path(key).name, []) if Path(s).as_posix().endswith(key)]
        if len(found) > 1:
            raise FieldtoolError(
                f"truth photo {photo!r} matches {len(found)} photos; give more path"
            )
        missing += not found
        pairs.append((species, predicted[found[0]] if found else set()))
    if not pairs:
        raise FieldtoolError("the truth names no photo")
    sample = float(np.mean([_f1(len(t & p), len(p), len(t)) for t, p in pairs]))
    every = sorted({s for t, p in pairs for s in t | p})
    per_species = [
        _f1(sum(s in t and s in p for t, p in pairs), sum(s in p for _, p in pairs),
            sum(s in t for t, _ in pairs))
        for s in every
    ]  # fmt: skip
    hits = sum(len(t & p) for t, p in pairs)
    n_pred, n_true = sum(len(p) for _, p in pairs), sum(len(t) for t, _ in pairs)
    return SetScores(
        len(pairs) - missing, missing, sample, float(np.mean(per_species)) if every else 1.0,
        hits / n_pred if n_pred else 0.0, hits / n_true if n_true else 0.0,
    )  # fmt: skip


def format_set_scores(s: SetScores) -> str:
    lines = [f"{'photos':>7}{'missing':>9}{'sample F1':>11}{'macro F1':>10}{'precision':>11}"
             f"{'recall':>8}",
             f"{s.photos:>7}{s.missing:>9}{s.sample_f1:>11.3f}{s.macro_f1:>10.3f}"
             f"{s.precision:>11.3f}{s.recall:>8.3f}"]  # fmt: skip
    return "\n".join(lines)
