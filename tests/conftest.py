"""Synthetic fixtures: colour-coded videos and a classifier that reads colours."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from fieldtool.types import Classifier, Label, LabelSet

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Species i is drawn as a frame of COLOURS[i] (BGR); the last class is background (grey).
COLOURS = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (128, 128, 128)]


@pytest.fixture
def labels() -> LabelSet:
    return LabelSet(
        (
            Label(0, "Acer rubrum", "red maple"),
            Label(1, "Quercus alba", "white oak"),
            Label(2, "Pinus taeda", "loblolly pine"),
            Label(3, "background", "", is_background=True),
        )
    )


class ColourClassifier(Classifier):
    """Stands in for the DINOv2 classifier: probability from the frame's mean colour."""

    model_id = "colour-test"
    model_sha256 = ""

    def __init__(self, labels: LabelSet, sharpness: float = 0.02) -> None:
        self.labels = labels
        self.sharpness = sharpness

    def predict(
        self, images: Sequence[np.ndarray], prepared: Sequence[np.ndarray | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        mean = np.array([img.reshape(-1, 3).mean(axis=0) for img in images])  # (N, 3)
        dist = np.linalg.norm(mean[:, None, :] - np.array(COLOURS)[None], axis=-1)  # (N, C)
        logits = -dist * self.sharpness
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return probs.astype(np.float32), probs[:, None, :].astype(np.float32)


def write_video(path: Path, schedule: Sequence[tuple[int, float]], fps: float = 10.0,
                size: tuple[int, int] = (64, 48)) -> Path:  # fmt: skip
    """Write an MJPG video: ``schedule`` is (class index, seconds) segments in order."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for cls, seconds in schedule:
        frame = np.full((size[1], size[0], 3), COLOURS[cls], np.uint8)
        for _ in range(round(seconds * fps)):
            writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def colour_classifier(labels: LabelSet) -> ColourClassifier:
    return ColourClassifier(labels)


@pytest.fixture
def tiny_model_dir(tmp_path, labels) -> Path:
    """A random-weight DINOv2 model folder with tiny dimensions (register tokens on)."""
    import torch
    from transformers import Dinov2WithRegistersConfig

    from fieldtool.model import ModelInfo, SpeciesClassifier, save_model_folder

    torch.manual_seed(0)
    config = Dinov2WithRegistersConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2,
        patch_size=8, image_size=32, num_register_tokens=2,
    )  # fmt: skip
    network = SpeciesClassifier(config, len(labels), "cls+mean")
    folder = tmp_path / "tiny-model"
    save_model_folder(folder, network, labels, ModelInfo("tiny-test", image_size=32))
    return folder
