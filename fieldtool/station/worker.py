"""The station's one model worker: frames of every source in dynamic batches.

Each source has a :class:`Slot` its reader thread fills: a live source keeps only its
newest frame (one replaced before the model took it counts in ``dropped``); a file keeps
up to ``depth`` frames and its reader waits when they are queued, so none is lost. The
worker thread takes frames round-robin, one per source per round starting one source
further each batch (a file cannot starve a camera), classifies up to ``max_batch`` frames
in one call, and waits at most ``max_wait_ms`` after the first frame for the batch to
fill (no longer once every source has a frame in it). A frame's lag is its age (since
its reader decoded it) when the model starts on it: at most one batch (the one running
when it arrived) plus ``max_wait_ms``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fieldtool.types import Classifier, Frame, classifier_input


@dataclass
class Item:
    """A decoded frame waiting for the model."""

    frame: Frame
    prepared: np.ndarray | None  # the classifier's ``prepare`` output, or None
    arrived: float  # monotonic seconds when the reader handed it over


@dataclass
class Slot:
    """One source's frames waiting for the model (guarded by the worker's condition)."""

    key: str  # the source's name
    live: bool
    depth: int = 8  # files: frames queued at most
    items: deque[Item] = field(default_factory=deque)
    dropped: int = 0  # live frames replaced before the model took them
    ended: bool = False  # the reader is done (end, loss, error or stop)
    stopped: bool = False  # the station asked the reader to stop: put() refuses
    error: BaseException | None = None  # what ended the reader, when it failed


@dataclass
class Classified:
    """One frame's model output. ``probs`` (C,), ``tile_probs`` (T, C)."""

    key: str
    frame: Frame
    probs: np.ndarray
    tile_probs: np.ndarray
    lag_s: float  # the frame's age when the model started on it
    arrived: float  # monotonic seconds when the reader handed it over


@dataclass
class Batch:
    """What one model call gave, and the slots that ended after it (their last frames are
    in this batch or an earlier one)."""

    items: list[Classified]
    model_s: float  # wall seconds of the model call
    ended: list[Slot] = field(default_factory=list)


class ModelWorker:
    """One thread, one classifier, every source. ``deliver`` gets each :class:`Batch` in
    order (it may block: back-pressure reaches the slots); ``on_error`` gets a model error,
    after which the worker stops."""

    def __init__(
        self,
        classifier: Classifier,
        deliver: Callable[[Batch], None],
        *,
        max_batch: int = 8,
        max_wait_ms: float = 20.0,
        on_error: Callable[[BaseException], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.classifier = classifier
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self._deliver = deliver
        self._on_error = on_error
        self._clock = clock
        self._cond = threading.Condition()
        self._slots: list[Slot] = []
        self._next = 0  # round-robin start
        self._closing = False
        self.batches = 0
        self.frames = 0
        self.model_s = 0.0  # wall seconds in the model
        self._thread = threading.Thread(target=self._run, name="fieldtool-model", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # the readers' side
    def add(self, slot: Slot) -> None:
        with self._cond:
            self._slots.append(slot)

    def put(self, slot: Slot, item: Item) -> bool:
        """Hand a frame over (a file's reader waits for room); False once stopped."""
        with self._cond:
            if slot.live:
                slot.dropped += len(slot.items)
                slot.items.clear()
            else:
                while len(slot.items) >= slot.depth and not slot.stopped:
                    self._cond.wait()
            if slot.stopped:
                return False
            slot.items.append(item)
            self._cond.notify_all()
            return True

    def end(self, slot: Slot, error: BaseException | None = None) -> None:
        """The reader of ``slot`` is done; its queued frames are still classified."""
        with self._cond:
            slot.ended = True
            slot.error = error
            self._cond.notify_all()

    def stop_slot(self, slot: Slot, *, discard: bool = False) -> None:
        """Refuse the slot's further frames (``discard``: and drop the queued ones)."""
        with self._cond:
            slot.stopped = True
            if discard:
                slot.items.clear()
            self._cond.notify_all()

    def close(self, timeout_s: float = 30.0) -> None:
        """End the thread once every slot has ended and been delivered."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    # the worker's side
    def _take(self, n: int) -> list[tuple[Slot, Item]]:
        taken: list[tuple[Slot, Item]] = []
        slots = self._slots
        while len(taken) < n:
            before = len(taken)
            for j in range(len(slots)):
                slot = slots[(self._next + j) % len(slots)]
                if slot.items and len(taken) < n:
                    taken.append((slot, slot.items.popleft()))
            if len(taken) == before:
                break
        if taken:
            self._next = (self._next + 1) % max(1, len(slots))
            self._cond.notify_all()  # room for waiting file readers
        return taken

    def _finished(self) -> list[Slot]:
        done = [s for s in self._slots if s.ended and not s.items]
        if done:
            self._slots = [s for s in self._slots if s not in done]
        return done

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not any(s.items for s in self._slots) and not any(
                        s.ended for s in self._slots
                    ):
                        if self._closing and not self._slots:
                            return
                        self._cond.wait()
                    taken = self._take(self.max_batch)
                    if taken and len(taken) < self.max_batch and self.max_wait_s > 0:
                        deadline = self._clock() + self.max_wait_s
                        while len(taken) < self.max_batch:
                            left = deadline - self._clock()
                            if left <= 0 or len({s.key for s, _ in taken}) >= len(self._slots):
                                break  # every source has a frame in: waiting adds only lag
                            self._cond.wait(left)
                            taken += self._take(self.max_batch - len(taken))
                    ended = self._finished()
                self._deliver(self._classify(taken, ended))
        except BaseException as exc:  # the model failed: the station stops
            if self._on_error is not None:
                self._on_error(exc)

    def _classify(self, taken: list[tuple[Slot, Item]], ended: list[Slot]) -> Batch:
        if not taken:
            return Batch([], 0.0, ended)
        start = self._clock()
        images = [classifier_input(self.classifier, item.frame) for _, item in taken]
        prepared = [item.prepared for _, item in taken]
        if any(p is not None for p in prepared):
            probs, tiles = self.classifier.predict(images, prepared)
        else:
            probs, tiles = self.classifier.predict(images)
        took = self._clock() - start
        self.batches += 1
        self.frames += len(taken)
        self.model_s += took
        items = [
            Classified(slot.key, item.frame, probs[i], tiles[i], start - item.arrived, item.arrived)
            for i, (slot, item) in enumerate(taken)
        ]
        return Batch(items, took, ended)
