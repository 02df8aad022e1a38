"""Head-input features of frames from a frozen backbone, cached by the frame's SHA-256.

The features are what the model's linear head reads
(:meth:`fieldtool.model.SpeciesClassifier.features`: CLS, or CLS + mean patch token),
with the pipeline classifier's preprocessing (:class:`fieldtool.classify.DinoClassifier`),
so a head fitted on them classifies the pipeline's frames. The cache is one ``.npz`` per
backbone (named by the SHA-256 of its weights and input settings) in a cache folder:
``keys`` (N,) frame hashes and ``features`` (N, D) float32.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from fieldtool.model import LoadedModel


def backbone_key(model: LoadedModel) -> str:
    """SHA-256 of the backbone's weights and the input settings: the same for a model and
    every head learnt from it, so their frames share one cache."""
    digest = hashlib.sha256()
    info = model.info
    digest.update(repr((info.image_size, tuple(info.mean), tuple(info.std),
                        info.head_input, info.extra.get("resize"))).encode())  # fmt: skip
    if info.preprocessing is not None:  # a re-import that crops: other features than squash
        digest.update(info.preprocessing.model_dump_json().encode())
    for name, tensor in sorted(model.network.backbone.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
    return digest.hexdigest()


class FeatureExtractor:
    """BGR uint8 frames (H, W, 3) -> (N, D) head-input features, on ``device``."""

    def __init__(self, model: LoadedModel, *, device: str = "cpu", batch_size: int = 32) -> None:
        from fieldtool.classify import DinoClassifier

        self._classifier = DinoClassifier(model, device=device, batch_size=batch_size)
        self.network = model.network
        self.batch_size = batch_size

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        dim = self.network.head.in_features
        if not images:
            return np.zeros((0, dim), np.float32)
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                pixels = self._classifier.preprocess(images[start : start + self.batch_size])
                out.append(self.network.features(pixels).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)


class FeatureCache:
    """Features by frame hash for one backbone, in ``folder/<key>.npz``."""

    def __init__(self, folder: Path | str, key: str) -> None:
        self.path = Path(folder) / f"{key[:32]}.npz"
        self._rows: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path) as data:
                    keys, feats = data["keys"], data["features"]
                self._rows = {str(k): feats[i] for i, k in enumerate(keys)}
            except (OSError, ValueError, KeyError):
                self._rows = {}  # a damaged cache is only lost time: computed again
        self.hits = 0
        self.misses = 0

    def has(self, key: str) -> bool:
        """Whether the frame with hash ``key`` has cached features."""
        return key in self._rows

    def features(
        self,
        hashes: Sequence[str],
        load: Callable[[int], np.ndarray],
        extract: Callable[[Sequence[np.ndarray]], np.ndarray],
        *,
        batch: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """(N, D) features of the frames ``hashes``; ``load(i)`` reads frame i (BGR) for
        those not cached, ``extract`` embeds a batch of them. Saves new rows."""
        missing = [i for i, h in enumerate(hashes) if h not in self._rows]
        self.hits += len(hashes) - len(missing)
        self.misses += len(missing)
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            feats = extract([load(i) for i in part])
            for i, row in zip(part, feats, strict=True):
                self._rows[hashes[i]] = row
            if progress:
                progress(min(start + batch, len(missing)), len(missing))
        if missing:
            self.save()
        if not hashes:
            return np.zeros((0, 0), np.float32)
        return np.stack([self._rows[h] for h in hashes]).astype(np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._rows), dtype=str)
        feats = np.stack(list(self._rows.values())).astype(np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, features=feats)
        os.replace(tmp, self.path)
