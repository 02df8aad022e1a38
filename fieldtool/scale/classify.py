"""The model stage: an actor holding one classifier, fed batches of decoded frames.

Ray Data runs it as ``map_batches(ClassifyActor, concurrency=N, num_gpus=...)``: each
actor loads the model once (:func:`fieldtool.pipeline.classifier_from_config`, the loader
``fieldtool run`` uses) and classifies batches of ``model.batch_size`` frames, whatever
file they come from. It does the classifier's per-frame CPU preparation itself, as the
reader thread does in ``run``, so the same pixels reach the same model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from fieldtool.config import Config
from fieldtool.scale.decode import frame_image
from fieldtool.types import Classifier

ClassifierFactory = Callable[[Config], Classifier]


def load_classifier(config: Config) -> Classifier:
    """The classifier ``config`` names (the default factory)."""
    from fieldtool.pipeline import classifier_from_config

    return classifier_from_config(config, lambda message: None)


class ClassifyActor:
    """One classifier; ``__call__`` maps a numpy batch of decoded rows to the same rows
    with ``probs`` (N, C) and ``tile_probs`` (N, T, C) float32, ``model_settings`` (the
    device and precision that ran, JSON) and without the image.
    Rows of failed files (``index`` -1) pass with zeros."""

    def __init__(self, config_json: str, factory: ClassifierFactory | None = None) -> None:
        self.config = Config.model_validate_json(config_json)
        self.classifier = (factory or load_classifier)(self.config)
        self.classes = len(self.classifier.labels)
        self.tiles = self.config.model.tiles**2
        self.settings = json.dumps(dict(self.classifier.run_settings()), sort_keys=True)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        n = len(batch["index"])
        probs = np.zeros((n, self.classes), np.float32)
        tile_probs = np.zeros((n, self.tiles, self.classes), np.float32)
        ok = [i for i in range(n) if batch["index"][i] >= 0]
        if ok:
            images = [
                frame_image({k: batch[k][i] for k in ("image", "height", "width")}) for i in ok
            ]
            prepared = [self.classifier.prepare(image) for image in images]
            if all(p is None for p in prepared):
                p, tp = self.classifier.predict(images)
            else:
                p, tp = self.classifier.predict(images, prepared)
            probs[ok] = p
            tile_probs[ok] = tp.reshape(len(ok), -1, self.classes)[:, : self.tiles]
        out = {k: v for k, v in batch.items() if k != "image"}
        out["probs"] = probs
        out["tile_probs"] = tile_probs
        out["model_settings"] = np.array([self.settings] * n, dtype=object)
        return out
