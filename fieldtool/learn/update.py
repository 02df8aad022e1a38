"""``fieldtool learn``: reviewed sightings and/or photos -> a new model folder, measured
before it is used.

1. :func:`~fieldtool.learn.collect.collect` the frames of reviewed sightings (``db``),
   and :func:`~fieldtool.learn.photos.read_photos` the photos of a gallery or of folders
   of species sub-folders (``gallery``, ``photos``): each photo a positive of its species;
2. embed them with the model's frozen backbone (cached by frame hash:
   :class:`~fieldtool.learn.embed.FeatureCache`);
3. hold out a share of the review sessions
   (:func:`~fieldtool.learn.collect.split_sessions`) and, of the photos, every k-th
   photo of each species (:mod:`~fieldtool.learn.photos`); sessions that share a frame (by
   SHA-256) or read the same file are one group, held out or learnt from together
   (:func:`~fieldtool.learn.collect.session_groups`), and held-out frames that still copy
   a frame learnt from, or an earlier held-out frame, are dropped
   (:func:`~fieldtool.learn.collect.heldout_copies`): nothing is measured on a frame the
   head was fitted on, and each frame counts once;
4. fit a new head on the rest (:func:`~fieldtool.learn.head.fit_head`): the old classes
   start from the old head and are rehearsed from the model's prototypes, species named
   by relabels or photos that the model lacks (by :func:`fieldtool.names.species_key`)
   are added;
5. score parent and new head on everything held out (a reviewed sighting or a photo is
   one example each); write the new folder (model, prototypes, model card) unless
   :func:`verdict` refuses it: it is worse or no better, or the held-out part is too small
   to judge it after de-duplication (fewer than :data:`MIN_HELDOUT` examples, or a new
   species without any held-out example), or it loses an old class on the parent's
   prototypes (:func:`retention`, :data:`RETAIN`; a parent without them cannot be judged
   so), and ``force`` is off.

Reviews at genus level ("Acer sp.") are left out, as they cannot teach a species
(:func:`~fieldtool.learn.collect.species_level`).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from fieldtool.gallery import read_image
from fieldtool.learn.card import ModelCard, Scores, duplicates_text
from fieldtool.learn.collect import (
    LabelledFrame,
    collect,
    genus_note,
    heldout_copies,
    session_groups,
    species_level,
    split_sessions,
)
from fieldtool.learn.embed import FeatureCache, FeatureExtractor, backbone_key
from fieldtool.learn.head import (
    PROTOTYPES_FILE,
    HeadSettings,
    Prototypes,
    fit_head,
    head_probs,
    read_prototypes,
)
from fieldtool.learn.photos import (
    PHOTO_DECISION,
    PhotoSet,
    check_species,
    heldout_rule,
    read_photos,
)
from fieldtool.model import LoadedModel, load_model_folder, save_model_folder
from fieldtool.names import species_key
from fieldtool.types import FieldtoolError, Label, LabelSet

BACKGROUND = "background"
# Fewer held-out examples (sightings and photos) than this judge nothing: one photo more or
# less right swings accuracy by 20 points or more. The demo's honest cases hold out 6 (one
# review session) and 13 (a gallery's every 4th photo). Counted after de-duplication: a
# copy of a frame learnt from is no example, and copies within the held-out part count once.
MIN_HELDOUT = 5
# Of the parent's prototypes of an old class that the parent itself gives that class, the
# share the new head must still give it. Held-out examples may all be of new species (the
# parent scores 0 on them by construction): without this the verdict never looks at the old
# classes, and photos of new species alone took the demo's west walk from F1 1.000 to 0.476.
RETAIN = 0.9


@dataclass
class LearnResult:
    card: ModelCard
    written: bool  # the model folder was written
    message: str  # one line for the user
    skipped: list[str]  # frames that could not be read


def _label_set(old: LabelSet, frames: list[LabelledFrame]) -> tuple[LabelSet, dict[str, int]]:
    """The old labels plus new species from relabels (and a background class when the old
    model has none but rejections need one); index of each frame label."""
    labels = list(old.labels)
    by_key = {species_key(x.species): x.index for x in labels if not x.is_background}
    background = next((x.index for x in labels if x.is_background), None)
    index: dict[str, int] = {}
    for frame in frames:
        if frame.label in index:
            continue
        if frame.is_background:
            if background is None:
                background = len(labels)
                labels.append(Label(background, BACKGROUND, "no species", is_background=True))
            index[frame.label] = background
            continue
        key = species_key(frame.label)
        if key not in by_key:
            by_key[key] = len(labels)
            labels.append(Label(len(labels), frame.label))
        index[frame.label] = by_key[key]
    return LabelSet(tuple(labels)), index


def _per_sighting(
    probs: np.ndarray, sightings: list[str], truth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Frame probabilities (N, C) -> (true, predicted) class per sighting (mean of frames)."""
    order = list(dict.fromkeys(sightings))
    where = {s: i for i, s in enumerate(order)}
    rows = np.array([where[s] for s in sightings])
    mean = np.zeros((len(order), probs.shape[1]))
    np.add.at(mean, rows, probs)
    first = {s: i for i, s in reversed(list(enumerate(sightings)))}
    return truth[[first[s] for s in order]], mean.argmax(axis=1)


def _counts(frames: list[LabelledFrame], held: np.ndarray, names: list[str],
            index: dict[str, int]) -> dict[str, dict[str, int]]:  # fmt: skip
    """Per class with data: reviewed sightings and their frames, and photos, learnt from
    (train) and held out."""
    counts: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for f, is_held in zip(frames, held, strict=True):
        part = "heldout" if is_held else "train"
        c = counts.setdefault(names[index[f.label]], {
            "train_sightings": 0, "train_frames": 0, "heldout_sightings": 0,
            "heldout_frames": 0, "train_photos": 0, "heldout_photos": 0})  # fmt: skip
        if f.decision == PHOTO_DECISION:
            c[f"{part}_photos"] += 1
            continue
        c[f"{part}_frames"] += 1
        if f.sighting_id not in seen:
            seen.add(f.sighting_id)
            c[f"{part}_sightings"] += 1
    return counts


def _too_few_heldout(labels: LabelSet, old: int, held_targets: np.ndarray,
                     examples: int, dropped: int = 0) -> str:  # fmt: skip
    """Why the held-out part is too small to judge a head, in words; "" when it is not:
    fewer than :data:`MIN_HELDOUT` examples, or a new species (class index >= ``old``)
    without any held-out example (its row would be written unmeasured)."""
    new = [x for x in labels.labels[old:] if not x.is_background]
    held = set(held_targets.tolist())
    unjudged = [x.species for x in new if x.index not in held]
    after = f" after dropping {dropped} held-out copies (same SHA-256)" * bool(dropped)
    parts = [f"{examples} held-out example{'s' * (examples != 1)} (needs {MIN_HELDOUT}){after}"]
    parts = parts * (examples < MIN_HELDOUT)
    fix = ["give more photos (or reviewed sessions)"] * (examples < MIN_HELDOUT)
    if unjudged:
        parts.append(f"{len(unjudged)} of {len(new)} new species without a held-out example "
                     f"(first: {unjudged[0]})")  # fmt: skip
        fix = ["give each new species 2+ photos (or reviews in a held-out session)"]
    if not parts:
        return ""
    return "too little held out to judge it: " + ", ".join(parts) + "; " + fix[0]


def retention(protos: Prototypes | None, old: tuple[np.ndarray, np.ndarray],
              new: tuple[np.ndarray, np.ndarray], names: Sequence[str],
              classes: int) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Per old class (the first ``classes`` of ``names``) with prototypes: (the share of
    its prototypes the parent head ``old`` gives it, the share of those that the new head
    ``new`` gives it too; 1.0 when the parent gives it none, as there is nothing to keep).
    Heads are (weight (C, D), bias (C,)); the new one may have more classes."""
    if protos is None or not len(protos.points):
        return {}
    parent = head_probs(old[0], old[1], protos.points).argmax(1)
    after = head_probs(new[0], new[1], protos.points).argmax(1)
    out: dict[str, tuple[float, float]] = {}
    for c in range(classes):
        mine = protos.owner == c
        if not mine.any():
            continue
        agreed = mine & (parent == c)
        kept = float((after[agreed] == c).mean()) if agreed.any() else 1.0
        out[names[c]] = (round(float(agreed.sum() / mine.sum()), 4), round(kept, 4))
    return out


def _retention_verdict(kept: dict[str, tuple[float, float]], names: Sequence[str],
                       classes: int, parent: Path) -> tuple[str, str]:  # fmt: skip
    """(why the new head is refused for what it loses of the parent's old classes, or "";
    what it keeps, in words)."""
    where = parent / PROTOTYPES_FILE
    unmeasured = [n or BACKGROUND for n in names[:classes] if n not in kept]
    if len(unmeasured) == classes:
        return (f"cannot measure what it keeps of the parent's {classes} classes: {where} "
                "(stored examples of each class) is missing, so a head that gains new species "
                "may silently lose old ones; learn from a model folder that has one (written "
                "by every `fieldtool learn`)", "")  # fmt: skip
    if unmeasured:
        return (f"cannot measure what it keeps of {len(unmeasured)} of the parent's "
                f"{classes} classes (first: {unmeasured[0]}): {where} holds no stored "
                "examples of them", "")  # fmt: skip
    lowest = min(kept, key=lambda n: kept[n][1])
    said = (f"old classes kept on the parent's prototypes: {len(kept)}, lowest "
            f"{lowest or BACKGROUND} {kept[lowest][1]:.3f} (needs {RETAIN})")  # fmt: skip
    lost = sorted((n for n, (_, k) in kept.items() if k < RETAIN), key=lambda n: kept[n][1])
    if not lost:
        return "", said
    what = ", ".join(f"{n or BACKGROUND} ({kept[n][1]:.3f})" for n in lost[:3])
    more = f" and {len(lost) - 3} more" * (len(lost) > 3)
    return (f"it would lose {len(lost)} old class{'es' * (len(lost) != 1)}: {what}{more} "
            "(share of the parent's prototypes of it, those the parent gives it, that the new "
            f"head still gives it; needs {RETAIN}, {where})", said)  # fmt: skip


def verdict(before: Scores, after: Scores, measured: str, *, unjudged: str = "",
            lost: str = "", kept: str = "") -> tuple[bool, str]:  # fmt: skip
    """Whether ``learn`` writes a new head, and why in one line: the one place it decides.

    Refused when what is held out cannot judge it (``unjudged``: the reason, e.g. nothing
    or too little held out), when it is worse than the parent on the held-out examples
    (``before``/``after``: the parent's and its scores on them, ``measured`` names them), or
    no better (the same accuracy and no higher macro F1: a head that learnt nothing, "0.000
    -> 0.000", would replace its parent for nothing), or when it loses an old class on the
    parent's prototypes (``lost``, :func:`retention`); ``kept`` says what it keeps of them."""
    if unjudged:
        return False, unjudged
    on = f"on {after.sightings} {measured}"
    if after.accuracy < before.accuracy:
        return False, (f"held-out accuracy {after.accuracy:.3f} < parent's "
                       f"{before.accuracy:.3f} {on}")  # fmt: skip
    figures = (f"held-out accuracy {before.accuracy:.3f} -> {after.accuracy:.3f}, macro F1 "
               f"{before.macro_f1:.3f} -> {after.macro_f1:.3f} {on}")  # fmt: skip
    if after.accuracy == before.accuracy and not after.macro_f1 > before.macro_f1:
        return False, f"{figures}: no better than the parent"
    if lost:
        return False, lost
    return True, f"{figures}; {kept}" if kept else figures


def _split_reviews(reviewed: list[LabelledFrame], holdout: float,
                   heldout_sessions: Sequence[str] | None, db: Path | None,
                   say: Callable[[str], None]) -> tuple[set[str], set[str], int]:  # fmt: skip
    """(train, held-out) review sessions, whole groups of sessions that share frames or a
    source file (:func:`~fieldtool.learn.collect.session_groups`) on one side; and how many
    sessions are in such groups of two or more."""
    groups = session_groups(reviewed)
    sizes: dict[str, int] = {}
    for g in groups.values():
        sizes[g] = sizes.get(g, 0) + 1
    linked = sum(n for n in sizes.values() if n > 1)
    if heldout_sessions is None:
        _, held_g = split_sessions(list(groups.values()), holdout)
    else:
        if db is None:
            raise FieldtoolError("a held-out session needs reviewed sightings (--db)")
        unknown = set(heldout_sessions) - set(groups)
        if unknown:
            raise FieldtoolError(f"{db}: no reviewed sightings in session {sorted(unknown)[0]!r}")
        held_g = {groups[s] for s in heldout_sessions}
    held_s = {s for s, g in groups.items() if g in held_g}
    joined = sorted(held_s - set(heldout_sessions or held_s))
    if joined:
        say(f"also held out, as they share frames (same SHA-256) or a source file with a "
            f"named session: {len(joined)} session{'s' * (len(joined) != 1)} "
            f"({', '.join(joined)})")  # fmt: skip
    return set(groups) - held_s, held_s, linked


def _nothing_heldout(sessions: int, linked: int, dropped: int) -> str:
    """Why nothing is held out, in one line."""
    if dropped:
        return (f"nothing held out to measure it on: all {dropped} held-out frames are copies "
                "of frames learnt from or of each other (same SHA-256)")  # fmt: skip
    if sessions >= 2 and linked == sessions:
        return (f"nothing held out to measure it on: the {sessions} review sessions are runs "
                "of the same footage (they share frames, same SHA-256, or a source file), so "
                "none can be held out without its copies being learnt from; needs reviews "
                "of 2+ different recordings, or 2+ photos of a species")  # fmt: skip
    return ("nothing held out to measure it on (needs reviews from 2+ sessions, or 2+ "
            "photos of a species)")


def _readable(frames: list[LabelledFrame], cache: FeatureCache, photos: bool = False,
              say: Callable[[str], None] | None = None) -> tuple[list[LabelledFrame], list[str]]:
    """The frames whose pixels decode fully, and one line per frame left out. Checked: the
    frames not in ``cache``, and every photo (``photos``; a user's file, whose features may
    have been cached from a partial decode before truncated files were refused). ``say``
    hears progress."""
    kept, bad = [], []
    for i, f in enumerate(frames, 1):
        if say and (i % 256 == 0 or i == len(frames)):
            say(f"decoded {i}/{len(frames)} {'photos' if photos else 'frames'}")
        if photos or not cache.has(f.sha256):
            try:
                read_image(f.path)
            except FieldtoolError as exc:
                bad.append(f"{exc}; left out")
                continue
        kept.append(f)
    return kept, bad


def _say_photos(say: Callable[[str], None], photos: PhotoSet, holdout: float) -> None:
    rule = heldout_rule(holdout)
    species = len({species_key(f.label) for f in photos.frames if not f.is_background})
    background = sum(f.is_background for f in photos.frames)
    also = f" and {background} background" * bool(background)
    say(f"{len(photos.frames)} photos of {species} species{also} from {', '.join(photos.sources)} "
        f"({len(photos.heldout)} held out: {rule})"
        + (f"; {photos.duplicates} given twice, counted once" if photos.duplicates else ""))
    if photos.read_as:
        groups: dict[str, list[str]] = {}
        for given, learnt in photos.read_as.items():
            groups.setdefault(learnt, []).append(given)
        say("photos learnt as their species (the species key merges ranks below species): "
            + "; ".join(f"{' + '.join(given)} -> {name}" for name, given in groups.items()))


def learn(
    db: Path | str | None,
    model_folder: Path | str,
    out: Path | str,
    *,
    gallery: Path | str | None = None,
    photos: Sequence[Path | str] = (),
    force: bool = False,
    holdout: float = 0.25,
    heldout_sessions: Sequence[str] | None = None,
    cache_dir: Path | str | None = None,
    device: str = "cpu",
    settings: HeadSettings | None = None,
    model_id: str | None = None,
    log: Callable[[str], None] | None = None,
) -> LearnResult:
    """Learn a new head from the reviews in ``db`` and/or the photos of ``gallery`` and of
    ``photos`` (folders of species sub-folders); write it to ``out`` when :func:`verdict`
    accepts it (better than ``model_folder`` on what is held out, ...) or ``force``.

    ``heldout_sessions``: the review sessions to measure on (default: a share ``holdout``
    of them, picked by :func:`~fieldtool.learn.collect.split_sessions`); photos are held
    out by photo, every k-th of each species with k = round(1 / ``holdout``)
    (:mod:`~fieldtool.learn.photos`). ``cache_dir``: where features are cached (default:
    beside ``db``, or ``learn_cache/`` beside ``out`` without a database)."""
    say = log or (lambda line: None)
    out = Path(out)
    db = Path(db) if db is not None else None
    if db is None and gallery is None and not photos:
        raise FieldtoolError("learn needs reviewed sightings (--db) or photos (--gallery, --photos)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FieldtoolError(f"{out}: exists and is not empty; give a new folder")
    # photos first: a gone photo or a bad folder is reported before the model loads
    shots = read_photos(gallery, photos, holdout=holdout,
                        progress=lambda done, total: say(f"hashed {done}/{total} photos"))  # fmt: skip
    model = load_model_folder(model_folder)
    check_species(shots, model.labels.species)
    for line in shots.conflicts:
        say(line)
    reviewed, skipped = collect(db) if db is not None else ([], [])
    reviewed, genus = species_level(reviewed, model.labels.species)
    if genus:
        say(genus_note(genus))
    default_cache = (db.resolve().parent / f"{db.stem}_learn_cache" if db is not None
                     else out.resolve().parent / "learn_cache")  # fmt: skip
    cache = FeatureCache(cache_dir or default_cache, backbone_key(model))
    # a frame whose pixels do not decode fully (a truncated JPEG) is left out, said
    reviewed, bad = _readable(reviewed, cache)
    shots.frames, bad_photos = _readable(shots.frames, cache, photos=True, say=say)
    skipped += bad + bad_photos
    if db is not None and not reviewed and not shots.frames:
        gone = (f": {len(skipped)} frame(s) of reviewed sightings are not where the "
                f"database says (e.g. {skipped[0].split(': ')[0]}); they are read beside the "
                "database, so move its snapshot folders with it") if skipped else ""  # fmt: skip
        left = len({f.sighting_id for f in genus})
        gone += f" ({left} sightings reviewed as a genus only are left out)" * bool(left)
        raise FieldtoolError(f"{db}: no reviewed sightings with frames to learn from{gone}")
    frames = reviewed + shots.frames
    labels, index = _label_set(model.labels, frames)
    names = labels.species
    train_s, held_s, linked = _split_reviews(reviewed, holdout, heldout_sessions, db, say)
    if reviewed:
        say(f"{len(reviewed)} frames of {len({f.sighting_id for f in reviewed})} reviewed "
            f"sightings in {len(train_s) + len(held_s)} sessions ({len(held_s)} held out)")  # fmt: skip
    if shots.frames:
        _say_photos(say, shots, holdout)
    split = [f.session_id in held_s or f.sighting_id in shots.heldout for f in frames]
    copy_of_learnt, repeated = heldout_copies(frames, split)
    duplicates = {
        "copies": len(frames) - len({f.sha256 for f in frames}),
        "linked_sessions": linked,
        "heldout_copies_of_train": sum(copy_of_learnt),
        "heldout_repeats": sum(repeated),
    }
    dropped = duplicates["heldout_copies_of_train"] + duplicates["heldout_repeats"]
    if duplicates["copies"] or linked:
        say(f"duplicate frames: {duplicates_text(duplicates)}")
    keep = [not (a or b) for a, b in zip(copy_of_learnt, repeated, strict=True)]
    frames = [f for f, k in zip(frames, keep, strict=True) if k]

    extract = FeatureExtractor(model, device=device)
    what = "frames" if not shots.frames else "photos" if not reviewed else "frames and photos"
    feats = cache.features(
        [f.sha256 for f in frames], lambda i: read_image(frames[i].path), extract,
        progress=lambda done, total: say(f"embedded {done}/{total} {what}"),
    )  # fmt: skip
    say(f"features: {cache.hits} cached, {cache.misses} computed")
    targets = np.array([index[f.label] for f in frames])
    held = np.array([h for h, k in zip(split, keep, strict=True) if k], dtype=bool)
    sightings = [f.sighting_id for f in frames]
    # each sighting (or photo) weighs one example, however many frames it kept
    per_sighting: dict[str, int] = {}
    for s in sightings:
        per_sighting[s] = per_sighting.get(s, 0) + 1
    weights = np.array([1.0 / per_sighting[s] for s in sightings], np.float32)

    head = model.network.head
    old_w = head.weight.detach().cpu().numpy()
    old_b = head.bias.detach().cpu().numpy()
    protos = read_prototypes(model.path, len(model.labels), old_w.shape[1])
    if protos is not None:
        protos = protos.grown(len(labels))
    settings = settings or HeadSettings()
    train = ~held
    if not train.any():
        why = " (with the sessions that share frames or a source file with it)" * bool(linked)
        raise FieldtoolError(f"{db or gallery or photos[0]}: everything to learn from is held "
                             f"out{why}")  # fmt: skip
    weight, bias = fit_head(feats[train], targets[train], len(labels), weights=weights[train],
                            init=(old_w, old_b), prototypes=protos, settings=settings)  # fmt: skip

    def scores(w: np.ndarray, b: np.ndarray) -> Scores:
        if not held.any():
            return Scores.of(np.zeros(0, int), np.zeros(0, int), names)
        probs = head_probs(w, b, feats[held])
        truth, pred = _per_sighting(probs, [s for s, h in zip(sightings, held, strict=True) if h],
                                    targets[held])  # fmt: skip
        return Scores.of(truth, pred, names)

    pad_w = np.vstack([old_w, np.zeros((len(labels) - len(old_w), old_w.shape[1]), np.float32)])
    # the parent cannot name the new classes: their logits are -inf
    pad_b = np.concatenate([old_b, np.full(len(labels) - len(old_b), -1e9, np.float32)])
    before, after = scores(pad_w, pad_b), scores(weight, bias)
    measured = "sightings" if not shots.frames else "photos" if not reviewed else "examples"
    # what the new head keeps of the old classes: the held-out part may hold none of them
    kept = retention(protos, (old_w, old_b), (weight, bias), names, len(model.labels))
    lost, kept_text = _retention_verdict(kept, names, len(model.labels), model.path)
    if kept_text:
        say(kept_text)
    too_few = _too_few_heldout(labels, len(model.labels), targets[held], after.sightings,
                               dropped)  # fmt: skip
    unjudged = (too_few if held.any()
                else _nothing_heldout(len(train_s) + len(held_s), linked, dropped))  # fmt: skip
    accepted, reason = verdict(before, after, measured, unjudged=unjudged, lost=lost,
                               kept=kept_text)  # fmt: skip
    now = datetime.now(UTC).replace(tzinfo=None)
    new_id = model_id or f"{model.info.model_id}+learn-{now:%Y%m%dT%H%M%S}"
    card = ModelCard(
        model_id=new_id, parent_model_id=model.info.model_id, parent_sha256=model.sha256,
        parent_path=str(model.path.resolve()),
        database=str(db.resolve()) if db is not None else "",
        created_at=now.isoformat(timespec="seconds"), classes=names,
        new_classes=names[len(model.labels):], train_sessions=sorted(train_s),
        heldout_sessions=sorted(held_s), counts=_counts(frames, held, names, index),
        before=before, after=after, accepted=accepted, forced=force and not accepted,
        reason=reason, sources=shots.sources, duplicates=duplicates, retention=kept,
        settings=asdict(settings) | {"holdout": holdout,
                                     "photo_heldout": heldout_rule(holdout)},
    )  # fmt: skip
    if not accepted and not force:
        return LearnResult(card, False, f"not written: {reason} (--force writes it anyway)",
                           skipped)  # fmt: skip
    _write(out, model, labels, weight, bias, card, protos, feats[train], targets[train])
    return LearnResult(card, True, f"wrote {out}: {reason}", skipped)


def _write(out: Path, model: LoadedModel, labels: LabelSet, weight: np.ndarray,
           bias: np.ndarray, card: ModelCard, protos: Prototypes | None,
           feats: np.ndarray, targets: np.ndarray) -> None:  # fmt: skip
    network = copy.deepcopy(model.network)
    network.head = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        network.head.weight.copy_(torch.from_numpy(weight))
        network.head.bias.copy_(torch.from_numpy(bias))
    info = copy.deepcopy(model.info)
    info.model_id = card.model_id
    info.extra = {
        "description": f"head learnt from {card.learnt_from()}; parent {card.parent_model_id}",
        "learnt_from": [card.database] * bool(card.database) + card.sources,
        "parent_model_id": card.parent_model_id,
        "parent_sha256": card.parent_sha256,
        "learnt_at": card.created_at,
        "heldout_before": asdict(card.before),
        "heldout_after": asdict(card.after),
    } | {k: v for k, v in model.info.extra.items() if k in ("resize",)}
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model_folder(tmp, network, labels, info)
    fresh = Prototypes.from_features(feats, targets, len(labels))
    (protos.merged(fresh) if protos is not None else fresh).save(tmp)
    card.write(tmp)
    if out.exists():
        out.rmdir()  # checked empty above
    tmp.rename(out)

