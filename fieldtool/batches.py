"""Frames to the model: in batches, one batch ahead on a model thread, and the motion gate.

The model thread (:func:`classified_ahead`) classifies batch N+1 while the session handles
batch N (prior, tracker, DuckDB), so neither waits on the other; :class:`MotionGate` skips
the model for a view that did not change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

from fieldtool.colour import YuvImage
from fieldtool.types import Classifier

if TYPE_CHECKING:  # torch is imported where planes on the GPU are shrunk
    import torch

T = TypeVar("T")
R = TypeVar("R")


def batches(frames: Iterator[T], size: int) -> Iterator[list[T]]:
    """Group frames; if the source fails, the frames already decoded are still analysed."""
    batch: list[T] = []
    try:
        for frame in frames:
            batch.append(frame)
            if len(batch) >= size:
                yield batch
                batch = []
    except (Exception, KeyboardInterrupt):  # not GeneratorExit: a closed generator yields no more
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def classified_ahead(
    batches: Iterator[list[T]], classify: Callable[[list[T]], R], *, live: bool
) -> Iterator[tuple[list[T], R]]:
    """(batch, classify(batch)) pairs, in order, with the next batch's classification
    running on a model thread while the caller handles the one before it (prior, tracker,
    DuckDB writes, snapshots), so the model does not wait on them.

    Live sources take their next frame only once the model is free, so the frame it gets
    is the newest one. When the source fails (or Ctrl-C arrives while waiting on it), the
    batches already taken from it are still classified and yielded before the error.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldtool-model") as model:
        taken: deque[tuple[list[T], Future[R]]] = deque()
        while True:
            if live and taken:
                wait([taken[-1][1]])
            try:
                batch = next(batches, None)
            except (Exception, KeyboardInterrupt):
                for done, future in taken:
                    if future.exception() is None:
                        yield done, future.result()
                raise
            if batch is None:
                break
            taken.append((batch, model.submit(classify, batch)))
            if len(taken) > 1:
                done, future = taken.popleft()
                yield done, future.result()
        for done, future in taken:
            yield done, future.result()


class MotionGate:
    """Skips the model for views that did not change (a camera trap on a still scene).

    Compares 32 x 32 grey thumbnails of a frame and the last classified frame; a mean
    absolute difference below ``threshold`` (0-255 grey levels) reuses that frame's
    probabilities.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._thumb: np.ndarray | None = None
        self._probs: tuple[np.ndarray, np.ndarray] | None = None

    def _thumbnail(self, image: np.ndarray | YuvImage) -> np.ndarray:
        return self._thumbnails([image])[0]

    def _thumbnails(self, images: Sequence[np.ndarray | YuvImage]) -> list[np.ndarray]:
        """(32, 32) int16 grey thumbnails of a batch's frames. Planes on the GPU are shrunk
        there, those of one size together, and come back in one copy (not one wait each)."""
        thumbs: dict[int, np.ndarray] = {}
        on_gpu: dict[tuple[int, ...], list[tuple[int, torch.Tensor]]] = {}
        for i, image in enumerate(images):
            if isinstance(image, YuvImage) and not isinstance(image.data, np.ndarray):
                luma = image.data[: image.height]
                on_gpu.setdefault(tuple(luma.shape), []).append((i, luma))
            else:
                thumbs[i] = self._host_thumbnail(image)
        if on_gpu:
            import torch
        for group in on_gpu.values():
            stacked = torch.stack([luma for _, luma in group])[:, None].float()  # (N, 1, H, W)
            small = torch.nn.functional.interpolate(stacked, size=(32, 32), mode="area")
            grey = small[:, 0].round().to(torch.int16).cpu().numpy()  # one copy back
            thumbs.update((i, g) for (i, _), g in zip(group, grey, strict=True))
        return [thumbs[i] for i in range(len(images))]

    @staticmethod
    def _host_thumbnail(image: np.ndarray | YuvImage) -> np.ndarray:
        # YUV planes: the luma plane is the grey image (limited-range luma differs from
        # BGR2GRAY by a scale, the same for every frame of a stream, so changes compare).
        if isinstance(image, YuvImage):
            grey = np.asarray(image.data[: image.height])
        else:
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.int16)

    def classify(
        self,
        classifier: Classifier,
        images: Sequence[np.ndarray | YuvImage],
        prepared: Sequence[np.ndarray | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Like ``classifier.predict``; also returns how many frames reused a prediction.

        ``prepared``: the classifier's ``prepare`` output per frame, made on the reader thread.
        """

        def predict(indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
            if prepared is None or all(p is None for p in prepared):
                return classifier.predict([images[i] for i in indices])
            return classifier.predict([images[i] for i in indices], [prepared[i] for i in indices])

        if self.threshold <= 0:
            return (*predict(list(range(len(images)))), 0)
        source: list[int] = []  # per frame: index into the classified list, -1 = earlier batch
        classify: list[int] = []
        for i, thumb in enumerate(self._thumbnails(images)):
            changed = self._thumb is None or np.abs(thumb - self._thumb).mean() >= self.threshold
            if changed:
                classify.append(i)
                self._thumb = thumb
            source.append(len(classify) - 1)
        if classify:
            probs, tiles = predict(classify)
        else:
            assert self._probs is not None  # the first frame ever is always classified
            probs, tiles = self._probs[0][None][:0], self._probs[1][None][:0]
        if self._probs is not None:
            probs = np.concatenate([self._probs[0][None], probs])
            tiles = np.concatenate([self._probs[1][None], tiles])
            source = [s + 1 for s in source]
        self._probs = (probs[-1], tiles[-1])
        return probs[source], tiles[source], len(images) - len(classify)
