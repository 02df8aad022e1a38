"""The model card written beside a learnt model: ``model_card.json`` and ``MODEL_CARD.md``.

What it was learnt from (the database and the photo sources: a gallery or folders of species
sub-folders; reviewed sightings, their frames and photos per class, train and held-out), its
parent (model id and SHA-256 of ``model.safetensors``), and the parent's and the new head's
scores on what was held out (sightings of the held-out sessions, held-out photos), and
the duplicate frames found (by SHA-256) and how the split handled them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"


def duplicates_text(duplicates: dict[str, int]) -> str:
    """A card's ``duplicates`` in words, one line."""
    d = {k: duplicates.get(k, 0) for k in ("copies", "linked_sessions",
         "heldout_copies_of_train", "heldout_repeats")}  # fmt: skip
    return (f"{d['copies']} frame{'s' * (d['copies'] != 1)} copy another (same SHA-256); "
            f"{d['linked_sessions']} review sessions share frames or a source file with "
            "another and are learnt from or held out together; dropped from the held-out "
            f"part: {d['heldout_copies_of_train']} copies of frames learnt from, "
            f"{d['heldout_repeats']} repeats")  # fmt: skip


@dataclass
class Scores:
    """Sighting-level scores of one head on the held-out sightings.

    A sighting's prediction is the top class of the mean of its frames' probabilities;
    its truth the review's label (background for a rejected one). A held-out photo is a
    sighting of one frame, its truth its species.
    """

    sightings: int  # held-out examples: reviewed sightings and photos
    accuracy: float  # share of sightings predicted right
    macro_f1: float  # mean F1 over the classes in truth or prediction
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)  # f1, support

    @classmethod
    def of(cls, truth: np.ndarray, pred: np.ndarray, names: list[str]) -> Scores:
        """(N,) true and predicted class indices into ``names``."""
        if not len(truth):
            return cls(0, float("nan"), float("nan"))
        per_class: dict[str, dict[str, float]] = {}
        for c in sorted(set(truth.tolist()) | set(pred.tolist())):
            tp = int(((pred == c) & (truth == c)).sum())
            fp = int(((pred == c) & (truth != c)).sum())
            fn = int(((pred != c) & (truth == c)).sum())
            f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
            per_class[names[c]] = {"f1": round(f1, 4), "support": int((truth == c).sum())}
        return cls(
            int(len(truth)),
            round(float((truth == pred).mean()), 4),
            round(float(np.mean([v["f1"] for v in per_class.values()])), 4),
            per_class,
        )


@dataclass
class ModelCard:
    model_id: str
    parent_model_id: str
    parent_sha256: str
    parent_path: str
    database: str  # the reviews' database, absolute; "" when learnt from photos alone
    created_at: str  # UTC, ISO 8601
    classes: list[str]
    new_classes: list[str]
    train_sessions: list[str]
    heldout_sessions: list[str]
    # class -> train_/heldout_ sightings, frames (of reviewed sightings) and photos
    counts: dict[str, dict[str, int]]
    before: Scores
    after: Scores
    accepted: bool  # better on enough held out (update.verdict, update.MIN_HELDOUT)
    forced: bool  # written although refused (worse or no better, too little held out; --force)
    reason: str  # one line: why accepted or refused
    settings: dict = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # "gallery:<folder>", "photos:<folder>"
    # frames that copy another (same SHA-256): "copies" (frames beyond the first of each
    # content), "linked_sessions" (review sessions sharing frames or a source file with
    # another, kept on one side), "heldout_copies_of_train" and "heldout_repeats" (held-out
    # frames dropped: copies of a frame learnt from, repeats of an earlier held-out frame)
    duplicates: dict[str, int] = field(default_factory=dict)
    # old class -> (share of the parent's prototypes of it that the parent gives it, share of
    # those the new head gives it too): what it keeps of the classes it knew (update.RETAIN)
    retention: dict[str, tuple[float, float]] = field(default_factory=dict)

    def learnt_from(self) -> str:
        """What the head was learnt from, in words."""
        parts = [f"reviews in {self.database}"] * bool(self.database)
        parts += [s.replace(":", " ", 1) for s in self.sources]
        return " and ".join(parts) or "nothing"

    def write(self, folder: Path | str) -> None:
        folder = Path(folder)
        (folder / CARD_JSON).write_text(
            json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (folder / CARD_MD).write_text(self.markdown(), encoding="utf-8")

    def _kept(self) -> str:
        if not self.retention:
            return "not measured (the parent has no prototypes)"
        lowest = min(self.retention, key=lambda n: self.retention[n][1])
        return (f"{len(self.retention)} classes, lowest {lowest or 'background'} "
                f"{self.retention[lowest][1]:.3f}")

    def markdown(self) -> str:
        rows = "\n".join(
            f"| {name or 'background'} | {c['train_sightings']} | {c['train_frames']} | "
            f"{c.get('train_photos', 0)} | {c['heldout_sightings']} | {c['heldout_frames']} | "
            f"{c.get('heldout_photos', 0)} |"
            for name, c in self.counts.items()
        )
        per_class = "\n".join(
            f"| {name} | {self.before.per_class.get(name, {}).get('f1', float('nan')):.3f} | "
            f"{self.after.per_class.get(name, {}).get('f1', float('nan')):.3f} | "
            f"{self.after.per_class.get(name, self.before.per_class.get(name, {})).get('support', 0)} |"
            for name in sorted(set(self.before.per_class) | set(self.after.per_class))
        )
        new = ", ".join(self.new_classes) or "none"
        rule = self.settings.get("photo_heldout", "")
        photos = f"from {', '.join(self.sources)}; held out: {rule}" if self.sources else "none"
        return f"""# Model card: `{self.model_id}`

Learnt from {self.learnt_from()} on {self.created_at} UTC: a new linear head over the
frozen backbone of its parent.

- parent: `{self.parent_model_id}` (`{self.parent_path}`), model.safetensors SHA-256
  `{self.parent_sha256}`
- classes: {len(self.classes)}; new: {new}
- review sessions: {len(self.train_sessions)} to learn from, {len(self.heldout_sessions)} held out
- photos: {photos}
- duplicate frames: {duplicates_text(self.duplicates)}
- old classes kept on the parent's prototypes: {self._kept()}
- verdict: {"accepted" if self.accepted else "refused"}{" (written with --force)" if self.forced else ""}: {self.reason}

## Data (reviewed sightings, their frames, and photos per class)

| class | train sightings | train frames | train photos | held-out sightings | held-out frames | held-out photos |
|---|---|---|---|---|---|---|
{rows}

## Held out (sightings of held-out sessions, held-out photos), before and after

| | examples | accuracy | macro F1 |
|---|---|---|---|
| parent | {self.before.sightings} | {self.before.accuracy:.3f} | {self.before.macro_f1:.3f} |
| this model | {self.after.sightings} | {self.after.accuracy:.3f} | {self.after.macro_f1:.3f} |

| class | F1 before | F1 after | held-out examples |
|---|---|---|---|
{per_class}
"""
