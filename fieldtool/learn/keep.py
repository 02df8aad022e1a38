"""Frames kept for learning: the snapshot plus up to k frames spread over each sighting.

:class:`FrameKeeper` sits in the pipeline's frame step. While a sighting is open it holds
a bounded, evenly thinned sample of its frames (at most ``2k``, downscaled to
:data:`KEEP_MAX_WIDTH`: a long sighting doubles its stride instead of growing); when the
sighting closes it writes up to k of them, spread over the sighting (the middles of k
equal parts of its span, not its ends, where the animal comes into view and leaves partly
in the frame: :func:`spread`), as JPEGs beside the snapshots
(``<snapshots>/<session>/learn/``) and records them, with the snapshot itself, in
``sighting_frames``. Retention: the rows hang on sightings, which pruning keeps;
forgetting a source deletes the rows (every session table) and the session's snapshot
folder, these JPEGs included.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fieldtool.preview import JpegWriter
from fieldtool.types import Frame, SightingEvent

if TYPE_CHECKING:
    from fieldtool.store.writer import SightingStore

KEEP_MAX_WIDTH = 640  # px; larger frames are downscaled before they are held
JPEG_QUALITY = 90


@dataclass
class _Sample:
    """Frames of one open sighting, every ``stride``-th one seen, at most ``capacity``."""

    capacity: int
    stride: int = 1
    seen: int = 0
    frames: list[tuple[int, float, np.ndarray]] = field(default_factory=list)

    def add(self, frame: Frame) -> None:
        if self.seen % self.stride == 0:
            self.frames.append((frame.index, frame.t, _small(frame.image)))
            if len(self.frames) > self.capacity:
                self.frames = self.frames[::2]
                self.stride *= 2
        self.seen += 1


def _small(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.shape[1] <= KEEP_MAX_WIDTH:
        return image.copy()  # the reader may reuse its buffer
    scale = KEEP_MAX_WIDTH / image.shape[1]
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def spread(times: Sequence[float], first_t: float, last_t: float, k: int) -> list[int]:
    """Up to ``k`` indices into ``times`` (s, ascending): for each of ``k`` equal parts of
    the span ``first_t``..``last_t``, the time nearest the part's middle, each index once
    and in order (all of them where there are ``k`` or fewer). The span's ends are where
    the animal comes into view and leaves it, partly in the frame: a pick lies half a part
    from either end, give or take the spacing of the frames held."""
    if len(times) <= k:
        return list(range(len(times)))
    part = (last_t - first_t) / k
    picked: list[int] = []
    for i in range(k):  # the nearest after the last pick that leaves one for each part after
        middle = first_t + (i + 0.5) * part
        lo, hi = picked[-1] + 1 if picked else 0, len(times) - (k - i)
        picked.append(min(range(lo, hi + 1), key=lambda j: abs(times[j] - middle)))
    return picked


class FrameKeeper:
    """Keeps frames of open sightings; writes k of them when a sighting ends.

    ``log`` hears once when frames cannot be written (disk full): frames are not kept
    while writing fails, and kept again once it works
    (:class:`~fieldtool.preview.JpegWriter`); the session goes on.
    """

    def __init__(
        self, log: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._open: dict[str, _Sample] = {}
        # not counted: a sighting stops writing at its first failure, and none starts its
        # sample while writing is paused, so the writes skipped are no count of frames
        self._jpegs = JpegWriter(log, "frames for learning", quality=JPEG_QUALITY, clock=clock,
                                 counted=False)  # fmt: skip
        self.kept = 0  # frames written, snapshots not counted

    @property
    def failed(self) -> str | None:
        """The last error while writing frames fails; None while it works."""
        return self._jpegs.failed

    def observe(self, frame: Frame) -> None:
        """Offer one analysed frame to every open sighting (before its events)."""
        for sample in self._open.values():
            sample.add(frame)

    def handle(self, event: SightingEvent, store: SightingStore, k: int) -> None:
        """A sighting event: "start" begins a sample, "end" writes and records it."""
        sighting = event.sighting
        if event.kind == "start" and k > 0 and not self._jpegs.paused():
            sample = _Sample(capacity=max(2 * k, 2))
            if event.frame is not None:
                sample.add(event.frame)
            self._open[sighting.sighting_id] = sample
        elif event.kind == "end":
            done = self._open.pop(sighting.sighting_id, None)
            if done is not None:
                self._record(event, done, store, k)

    def _record(self, event: SightingEvent, sample: _Sample, store: SightingStore,
                k: int) -> None:  # fmt: skip
        sighting = event.sighting
        snap_index = event.frame.index if event.frame is not None else None
        if sighting.snapshot_path:
            snap = store.folder / sighting.snapshot_path
            try:
                digest = hashlib.sha256(snap.read_bytes()).hexdigest()
                store.record_sighting_frame(
                    sighting.sighting_id, sighting.session_id,
                    snap_index if snap_index is not None else -1,
                    event.frame.t if event.frame is not None else sighting.first_t,
                    sighting.snapshot_path, digest,
                )  # fmt: skip
            except OSError:
                pass  # the snapshot could not be written: SnapshotWriter said so
        inside = [f for f in sample.frames if f[0] != snap_index
                  and sighting.first_t - 1e-6 <= f[1] <= sighting.last_t + 1e-6]  # fmt: skip
        folder = store.snapshot_dir(sighting.session_id) / "learn"
        for i in spread([f[1] for f in inside], sighting.first_t, sighting.last_t, k):
            index, t, image = inside[i]
            target = folder / f"{sighting.sighting_id}_{index}.jpg"
            digest_or_none = self._write(target, image)
            if digest_or_none is None:
                return
            rel = target.relative_to(store.folder).as_posix()
            store.record_sighting_frame(sighting.sighting_id, sighting.session_id, index, t,
                                        rel, digest_or_none)  # fmt: skip
            self.kept += 1

    def _write(self, target: Path, image: np.ndarray) -> str | None:
        """Write a JPEG atomically; its bytes' SHA-256, or None where it was not written."""
        data = self._jpegs.write(target, image)
        return None if data is None else hashlib.sha256(data).hexdigest()
