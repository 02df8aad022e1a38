"""What the camera sees now: analysed frames with the top species drawn on them.

Used for the dashboard's live view (the newest frame, saved about once a second) and for
``fieldtool run --preview out.mp4`` (every analysed frame, as a video).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from fieldtool.preprocessing import Bounds, tile_bounds
from fieldtool.types import FieldtoolError, LabelSet

WHITE = (255, 255, 255)
DARK = (20, 20, 20)
# After a failed write, pictures are skipped this long (s) before one is tried again: a full
# card is not asked once per frame, and a card with room again gets pictures again
RETRY_S = 60.0
# (height, width) px of a frame -> (y0, y1, x0, x1) px of the part of each tile the model
# saw, in tile_probs order; None: the tiles are a grid of the frame
SeenTiles = Callable[[int, int], Sequence[Bounds] | None]


def tiles_seen_by(classifier: object) -> SeenTiles | None:
    """A classifier's ``seen_tiles`` (:meth:`fieldtool.classify.DinoClassifier.seen_tiles`,
    a gallery's), where each tile's label is drawn; None for one that has none (a test's
    stand-in): its tiles are drawn as a grid."""
    found = getattr(classifier, "seen_tiles", None)
    return found if callable(found) else None


def annotate(
    image: np.ndarray, labels: LabelSet, probs: np.ndarray, tile_probs: np.ndarray | None = None,
    *, top: int = 3, caption: str = "", tile_boxes: Sequence[Bounds] | None = None,
) -> np.ndarray:  # fmt: skip
    """A copy of the (H, W, 3) BGR frame with the ``top`` classes of (C,) ``probs`` written on
    it and, for (T, C) ``tile_probs`` with T > 1, each tile's best species in its box.

    ``tile_boxes``: (y0, y1, x0, x1) px of each tile's part the model saw, in ``tile_probs``
    order (:data:`SeenTiles`: a cropping model's tiles are
    squares that overlap, not a grid's cells); None: the cells of a grid of the frame."""
    out = np.ascontiguousarray(image).copy()
    names = labels.species
    scale = max(0.35, out.shape[1] / 900)
    if tile_probs is not None and len(tile_probs) > 1:
        tiles = int(round(np.sqrt(len(tile_probs))))
        boxes = tile_bounds(out.shape[0], out.shape[1], tiles)  # without a crop: the grid
        if tile_boxes is not None and len(tile_boxes) == len(tile_probs):
            boxes = list(tile_boxes)
        for k, (y0, y1, x0, x1) in enumerate(boxes):
            best = int(np.argmax(tile_probs[k]))
            if labels.labels[best].is_background:
                continue
            cv2.rectangle(out, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), WHITE, 1)
            _text(out, f"{names[best]} {tile_probs[k][best]:.2f}", (int(x0) + 3, int(y0) + 14),
                  scale * 0.8)  # fmt: skip
    order = np.argsort(-probs)[:top]
    lines = [caption] if caption else []
    lines += [f"{names[i]}  {probs[i]:.2f}" for i in order]
    for n, line in enumerate(lines):
        _text(
            out, line, (6, out.shape[0] - 8 - int(18 * scale * 1.6) * (len(lines) - 1 - n)), scale
        )
    return out


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, DARK, 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, WHITE, 1, cv2.LINE_AA)


def write_jpeg(path: Path, image: np.ndarray, quality: int = 85) -> bytes | None:
    """Write atomically, so a reader never sees half a file; the bytes written, None where
    the image does not encode. OSError where the file cannot be written."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # a part written to a full disk: its room back
        raise
    return data.tobytes()


class JpegWriter:
    """JPEGs into a folder that may stop taking them for a while (a card full, then
    emptied; no permission): they cost the pictures while it fails, said once, never the
    session. After a failure nothing is written for :data:`RETRY_S`, then a write is tried
    again, and once one succeeds the log says how many were skipped (``counted``; a caller
    that stops asking while writing fails says none were written). ``clock``: seconds
    (monotonic; a test's own)."""

    def __init__(
        self,
        log: Callable[[str], None] | None,
        what: str,
        *,
        quality: int = 85,
        clock: Callable[[], float] = time.monotonic,
        counted: bool = True,
    ) -> None:
        self._log = log
        self.counted = counted  # whether the pictures skipped are one per write asked for
        self.what = what  # what it writes, as the log names it ("snapshots")
        self.quality = quality
        self.failed: str | None = None  # the last error while writing fails; None: it works
        self.tries = 0  # writes tried (those skipped during a pause are not tried)
        self._clock = clock
        self._retry_at = 0.0  # clock time (s) before which no write is tried
        self._skipped = 0  # pictures not written since writing failed
        self._warned = False

    def paused(self) -> bool:
        """Whether writing failed and is not to be tried yet."""
        return self.failed is not None and self._clock() < self._retry_at

    def skip(self) -> bool:
        """Count a picture as skipped when writing is paused (as :meth:`write` does),
        so the caller does no work for it; whether it was."""
        if self.paused():
            self._skipped += 1
            return True
        return False

    def write(self, target: Path, image: np.ndarray) -> bytes | None:
        """Write ``image`` (H, W, 3) BGR to ``target``; the JPEG's bytes, or None when it
        was not written."""
        if self.skip():
            return None
        self.tries += 1
        try:
            data = write_jpeg(target, image, self.quality)
            if data is None:
                raise OSError("JPEG encoding failed")
        except OSError as exc:
            self.failed = f"{target.parent}: {exc.strerror or exc}"
            self._retry_at = self._clock() + RETRY_S
            self._skipped += 1
            if self._log and not self._warned:
                self._log(f"warning: {self.what} skipped while they cannot be written "
                          f"({self.failed}; tried again every {RETRY_S:g} s); sightings are "
                          "still recorded")  # fmt: skip
            self._warned = True
            return None
        if self.failed is not None:
            if self._log:
                skipped = f"{self._skipped} skipped" if self.counted else "none written"
                self._log(f"{self.what} written again to {target.parent} ({skipped} while it "
                          f"failed: {self.failed})")  # fmt: skip
            self.failed, self._skipped, self._warned = None, 0, False  # a later outage: said
        return data


class PreviewVideo:
    """Annotated frames to an MP4 file, opened on the first frame (its size sets the video's).

    A later frame of another size (a stream that renegotiated, a camera that switched
    mode) is scaled to fit the first size, with black bars where the shapes differ, so
    no frame is dropped; ``resized`` counts them."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the video
        self.resized = 0
        if not self.path.parent.is_dir():
            raise FieldtoolError(f"{self.path}: folder {self.path.parent} does not exist")

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            height, width = frame.shape[:2]
            self._size = (width, height)
            self._writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (width, height)
            )
            if not self._writer.isOpened():
                raise FieldtoolError(f"{self.path}: cannot write a preview video here")
        assert self._size is not None
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = letterbox(frame, self._size)  # the writer drops frames of another size
            self.resized += 1
        self._writer.write(np.ascontiguousarray(frame))  # OpenCV 5 crashes on strided arrays

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit (width, height) ``size``, centred on black."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    fit = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    small = cv2.resize(image, fit, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - fit[0]) // 2, (height - fit[1]) // 2
    out[y : y + fit[1], x : x + fit[0]] = small
    return out
