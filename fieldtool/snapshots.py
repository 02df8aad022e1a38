"""What a session shows and keeps of its frames: the JPEG snapshots of sightings, the
dashboard's live view and the ``--preview`` video (:class:`FrameViews`, :class:`SnapshotWriter`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fieldtool.config import Config
from fieldtool.preview import JpegWriter, PreviewVideo, SeenTiles, annotate
from fieldtool.store import SightingStore
from fieldtool.types import Frame, FrameResult, LabelSet, Sighting

SNAPSHOT_MAX_WIDTH = 640  # px


class FrameViews:
    """What the camera sees, annotated: ``latest`` (a JPEG for the dashboard's live view,
    rewritten every ``store.live_frame_interval_s``) and the ``--preview`` video."""

    def __init__(
        self, latest: Path, labels: LabelSet, config: Config, images: SnapshotWriter | None = None,
        seen_tiles: SeenTiles | None = None,
    ) -> None:  # fmt: skip
        self.latest = latest
        self.labels = labels
        self.seen_tiles = seen_tiles  # where each tile's label goes; None: a grid
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
        if live and self.images.dropped(self.latest):  # a paused writer: nothing drawn for it
            self._last, live = now, False
        if not (live or self.video):
            return
        where = f"{item.position.lat:.5f}, {item.position.lon:.5f}" if item.position else "no fix"
        caption = f"t {item.frame.t:6.1f} s  {where}"
        fused = item.fused if item.fused is not None else item.raw
        if fused is None:
            return  # nothing classified yet: nothing to draw
        image = item.frame.image
        boxes = self.seen_tiles(*image.shape[:2]) if self.seen_tiles is not None else None
        drawn = annotate(image, self.labels, fused, item.tile_probs, caption=caption,
                         tile_boxes=boxes)  # fmt: skip
        if self.video:
            self.video.write(drawn)
        if live:
            self.images.write(self.latest, drawn)
            self._last = now

    def close(self) -> None:
        if self.video:
            self.video.close()


class SnapshotWriter(JpegWriter):
    """JPEGs of sightings and of the live view. A folder that cannot take them (disk full,
    no permission) costs the pictures while it fails, never the session or its sightings
    (:class:`~fieldtool.preview.JpegWriter`)."""

    def __init__(
        self,
        log: Callable[[str], None] | None,
        what: str = "snapshots",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(log, what, clock=clock)

    def dropped(self, target: Path) -> bool:
        """Whether the picture for ``target`` is dropped unseen: writing is paused after a
        failure, so it is counted as skipped (as :meth:`write` counts it) and the caller
        does no work for it (no BGR from a frame's planes, no scaling, no drawing)."""
        # one reading of the clock: a pause that ends between two readings would hand
        # write() a picture never made
        return self.skip()

    def snapshot(self, store: SightingStore, sighting: Sighting, frame: Frame) -> str | None:
        """Save a sighting's frame, at most :data:`SNAPSHOT_MAX_WIDTH` px wide; its path
        relative to the store's folder, or None (nothing done while writing is paused)."""
        target = store.snapshot_dir(sighting.session_id) / f"{sighting.sighting_id}.jpg"
        if self.dropped(target):
            return None
        image = frame.image
        if image.shape[1] > SNAPSHOT_MAX_WIDTH:
            scale = SNAPSHOT_MAX_WIDTH / image.shape[1]
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if not self.write(target, image):
            return None
        return target.relative_to(store.folder).as_posix()
