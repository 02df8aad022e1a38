"""The model card written beside a learnt model: ``model_card.json`` and ``MODEL_CARD.md``.

What it was learnt from (reviewed sightings and frames per class, train and held-out),
its parent (model id and SHA-256 of ``model.safetensors``), and the parent's and the new
head's scores on the held-out sessions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"


@dataclass
class Scores:
    """Sighting-level scores of one head on the held-out sightings.

    A sighting's prediction is the top class of the mean of its frames' probabilities;
    its truth the review's label (background for a rejected one).
    """

    sightings: int
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
    database: str
    created_at: str  # UTC, ISO 8601
    classes: list[str]
    new_classes: list[str]
    train_sessions: list[str]
    heldout_sessions: list[str]
    counts: dict[str, dict[str, int]]  # class -> train/heldout sightings and frames
    before: Scores
    after: Scores
    accepted: bool  # better (or as good) on the held-out sessions
    forced: bool  # written although worse (--force)
    reason: str  # one line: why accepted or refused
    settings: dict = field(default_factory=dict)

    def write(self, folder: Path | str) -> None:
        folder = Path(folder)
        (folder / CARD_JSON).write_text(
            json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (folder / CARD_MD).write_text(self.markdown(), encoding="utf-8")

    def markdown(self) -> str:
        rows = "\n".join(
            f"| {name or 'background'} | {c['train_sightings']} | {c['train_frames']} | "
            f"{c['heldout_sightings']} | {c['heldout_frames']} |"
            for name, c in self.counts.items()
        )
        per_class = "\n".join(
            f"| {name} | {self.before.per_class.get(name, {}).get('f1', float('nan')):.3f} | "
            f"{self.after.per_class.get(name, {}).get('f1', float('nan')):.3f} | "
            f"{self.after.per_class.get(name, self.before.per_class.get(name, {})).get('support', 0)} |"
            for name in sorted(set(self.before.per_class) | set(self.after.per_class))
        )
        new = ", ".join(self.new_classes) or "none"
        return f"""# Model card: `{self.model_id}`

Learnt from reviewed sightings of `{self.database}` on {self.created_at} UTC: a new linear
head over the frozen backbone of its parent.

- parent: `{self.parent_model_id}` (`{self.parent_path}`), model.safetensors SHA-256
  `{self.parent_sha256}`
- classes: {len(self.classes)}; new: {new}
- sessions: {len(self.train_sessions)} to learn from, {len(self.heldout_sessions)} held out
- verdict: {"accepted" if self.accepted else "worse than the parent"}{" (written with --force)" if self.forced else ""}: {self.reason}

## Data (reviewed sightings and their frames per class)

| class | train sightings | train frames | held-out sightings | held-out frames |
|---|---|---|---|---|
{rows}

## Held-out sessions, before and after

| | sightings | accuracy | macro F1 |
|---|---|---|---|
| parent | {self.before.sightings} | {self.before.accuracy:.3f} | {self.before.macro_f1:.3f} |
| this model | {self.after.sightings} | {self.after.accuracy:.3f} | {self.after.macro_f1:.3f} |

| class | F1 before | F1 after | held-out sightings |
|---|---|---|---|
{per_class}
"""
