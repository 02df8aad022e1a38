"""What a session shows and keeps of its frames: the JPEG snapshots of sightings, the
dashboard's live view and the ``--preview`` video (:class:`FrameViews`, :class:`SnapshotWriter`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fieldtool.config import Config
from fieldtool.preview import PreviewVideo, annotate, write_jpeg
from fieldtool.store import SightingStore
from fieldtool.types import Frame, FrameResult, LabelSet, Sighting

SNAPSHOT_MAX_WIDTH = 640  # px
# After a failed write, pictures are skipped this long (s) before one is tried again: a full
# card is not asked once per frame, and a card with room again gets pictures again
RETRY_S = 60.0


class FrameViews:
    """What the camera sees, annotated: ``latest`` (a JPEG for the dashboard's live view,
    rewritten every ``store.live_frame_interval_s``) and the ``--preview`` video."""

    def __init__(
        self, latest: Path, labels: LabelSet, config: Config, images: SnapshotWriter | None = None
    ) -> None:
        self.latest = latest
        self.labels = labels
        self.interval_s = config.store.live_frame_interval_s
        self.images = images or SnapshotWriter(None)
        self._last = -np.inf
        self.video = (
            PreviewVideo(config.store.preview, config.source.sample_fps)
            if config.store.preview
            else None
        )

    def show(self, item: FrameResult) -> None:
        now = time.monotonic()
        live = self.interval_s > 0 and now - self._last >= self.interval_s
        if not (live or self.video):
            return
        where = f"{item.position.lat:.5f}, {item.position.lon:.5f}" if item.position else "no fix"
        caption = f"t {item.frame.t:6.1f} s  {where}"
        fused = item.fused if item.fused is not None else item.raw
        if fused is None:
            return  # nothing classified yet: nothing to draw
        drawn = annotate(item.frame.image, self.labels, fused, item.tile_probs, caption=caption)
        if self.video:
            self.video.write(drawn)
        if live:
            self.images.write(self.latest, drawn)
            self._last = now

    def close(self) -> None:
        if self.video:
            self.video.close()


class SnapshotWriter:
    """JPEGs of sightings and of the live view. A folder that cannot take them (disk full,
    no permission) costs the pictures while it fails, said once, never the session or its
    sightings: after a failure nothing is written for :data:`RETRY_S`, then a write is
    tried again, and once one succeeds the log says how many were skipped."""

    def __init__(
        self,
        log: Callable[[str], None] | None,
        what: str = "snapshots",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self.what = what  # what it writes, as the warning names it ("live view frames")
        self.failed: str | None = None  # the last error while writing fails; None: it works
        self.tries = 0  # writes tried (those skipped during a pause are not tried)
        self._clock = clock
        self._retry_at = 0.0  # clock time (s) before which no write is tried
        self._skipped = 0  # pictures not written since writing failed
        self._warned = False

    def write(self, target: Path, image: np.ndarray) -> bool:
        """Write ``image`` (H, W, 3) BGR to ``target``; False when it was not written."""
        if self.failed is not None and self._clock() < self._retry_at:
            self._skipped += 1
            return False
        self.tries += 1
        try:
            write_jpeg(target, image)
        except OSError as exc:
            self.failed = f"{target.parent}: {exc.strerror or exc}"
            self._retry_at = self._clock() + RETRY_S
            self._skipped += 1
            if self._log and not self._warned:
                self._log(f"warning: {self.what} skipped while they cannot be written "
                          f"({self.failed}; tried again every {RETRY_S:g} s); sightings are "
                          "still recorded")  # fmt: skip
            self._warned = True
            return False
        if self.failed is not None:
            if self._log:
                self._log(f"{self.what} written again to {target.parent} ({self._skipped} "
                          f"skipped while it failed: {self.failed})")  # fmt: skip
            self.failed, self._skipped = None, 0
        return True

    def snapshot(self, store: SightingStore, sighting: Sighting, frame: Frame) -> str | None:
        """Save a sighting's frame; its path relative to the store's folder, or None."""
        image = frame.image
        if image.shape[1] > SNAPSHOT_MAX_WIDTH:
            scale = SNAPSHOT_MAX_WIDTH / image.shape[1]
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        target = store.snapshot_dir(sighting.session_id) / f"{sighting.sighting_id}.jpg"
        if not self.write(target, image):
            return None
        return target.relative_to(store.folder).as_posix()
