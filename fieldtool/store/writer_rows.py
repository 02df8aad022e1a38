"""What the pipeline records: per frame, for a batch of frames at once, the top-k classes
of (N, C) probabilities (:func:`top_k_rows`), which ``detections`` rows hold; a session's
settings as ``sessions.config_json`` holds them (:func:`config_json`); a ``track`` row."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from fieldtool.types import Position


def top_k_rows(
    probs: np.ndarray, names: Sequence[str], k: int
) -> list[tuple[list[str], list[float]]]:
    """The k best classes of each row of (N, C) probabilities, best first: per row the
    names and the scores (Python floats). One sort over the whole batch; row n is what a
    sort of row n alone gives (ties included: each row is sorted on its own)."""
    order = np.argsort(-probs, axis=-1)[:, :k]  # (N, k)
    scores = np.take_along_axis(probs, order, axis=-1).tolist()
    return [([names[i] for i in row], row_scores)
            for row, row_scores in zip(order.tolist(), scores, strict=True)]  # fmt: skip


def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> tuple[list[str], list[float]]:
    """The k best classes of a (C,) probability vector, best first."""
    return top_k_rows(probs[None], names, k)[0]  # one way to rank, for one frame or a batch


def config_json(data: dict) -> str:
    """A session's settings as ``sessions.config_json`` holds them (sorted keys)."""
    return json.dumps(data, default=str, sort_keys=True)


def track_row(session_id: str, when: datetime, t: float, position: Position) -> tuple:
    """A ``track`` row (TABLES order); accuracy and elevation None unless finite numbers."""
    acc, ele = position.accuracy_m, position.elevation_m
    acc = None if acc is None or not math.isfinite(acc) else float(acc)
    ele = None if ele is None or not math.isfinite(ele) else float(ele)
    return (session_id, when, t, position.lat, position.lon, position.source, acc, ele)
