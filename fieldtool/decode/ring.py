"""A decoding process's frame slots in shared memory, lent to frames without a copy.

:class:`FrameRing` is the parent's side of one worker's ring
(:mod:`fieldtool.decode.segments`): the worker writes decoded frames into free slots and
sends slot numbers; the parent hands each slot's pixels to a frame and the slot goes back
to the worker's free queue when the frame lets it go.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import threading
import weakref
from multiprocessing.shared_memory import SharedMemory
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from multiprocessing.queues import Queue


class FrameRing:
    """One worker's frame slots in shared memory, as the parent hands them to frames.

    :meth:`take` lends a slot's pixels without a copy while more than ``ahead`` slots (the
    worker's room to decode ahead) would stay unlent: the frame's array is a view of a
    second mapping of the block, and a finalizer on the one array every view of it is based
    on (numpy bases a view of a view on the first array, here the one made over the
    mapping) gives the slot back to the worker when the last of them is gone, so a frame
    the pipeline still holds (a batch not yet uploaded, a sighting's peak frame) is never
    overwritten. Past that, ``take`` copies and gives the slot back at once, so the worker
    always has ``ahead`` slots to decode into. At :meth:`close` the block is unlinked;
    frames still held keep the second mapping, which goes when they do (an ``mmap`` with
    views on it cannot be closed, but is unmapped when collected). Where the block cannot
    be mapped again (no /dev/shm), every frame is a copy.
    """

    def __init__(self, slots: int, ahead: int, shape: tuple[int, ...], free: Queue[int]) -> None:
        self.slots, self.ahead, self.shape = slots, ahead, shape
        self.frame_bytes = math.prod(shape)
        self.shm = SharedMemory(create=True, size=slots * self.frame_bytes)
        self.array = np.ndarray((slots, *shape), np.uint8, buffer=self.shm.buf)
        self.free: Queue[int] | None = free  # None once closed
        self.lent = 0  # slots lent to frames now
        self.lent_total = 0  # frames handed over without a copy, in all
        self._lock = threading.Lock()
        self._open = True
        self._mapping: mmap.mmap | None = None
        with contextlib.suppress(OSError):  # not Linux: copies only
            fd = os.open(os.path.join("/dev/shm", self.shm.name.lstrip("/")), os.O_RDWR)
            try:
                self._mapping = mmap.mmap(fd, slots * self.frame_bytes)
            finally:
                os.close(fd)

    def take(self, slot: int) -> np.ndarray:
        """The pixels of ``slot`` for one frame: lent, or a copy (class docstring)."""
        with self._lock:
            mapping = self._mapping
            lend = mapping is not None and self._open and self.lent < self.slots - self.ahead
            if lend:
                self.lent += 1
                self.lent_total += 1
        if not lend or mapping is None:
            image = self.array[slot].copy()
            if self.free is not None:
                self.free.put(slot)
            return image
        base = np.frombuffer(mapping, np.uint8, self.frame_bytes, slot * self.frame_bytes)
        weakref.finalize(base, self._give_back, slot).atexit = False  # nothing to give at exit
        return base.reshape(self.shape)

    def _give_back(self, slot: int) -> None:
        """The last array over a lent slot is gone (any thread): the worker may refill it."""
        with self._lock:
            self.lent -= 1
            free = self.free if self._open else None
        if free is not None:
            with contextlib.suppress(ValueError, OSError):  # closed meanwhile: nobody waits
                free.put(slot)

    def close(self) -> None:
        """Unlink the block; frames still held keep their pixels (class docstring)."""
        with self._lock:
            self._open = False
            self._mapping = None  # held frames keep it; it goes with the last of them
            self.free = None  # frames held on keep the ring, not the worker's queue
        try:
            self.shm.unlink()  # first: the name goes whatever closing says
        finally:
            del self.array
            self.shm.close()
