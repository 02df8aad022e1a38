"""The model worker: fair round-robin batches, dynamic batching, live newest-only."""

from __future__ import annotations

import threading
from datetime import datetime

import numpy as np

from fieldtool.station.worker import Batch, Item, ModelWorker, Slot
from fieldtool.types import Frame

from ..conftest import ColourClassifier


def item(i: int) -> Item:
    return Item(Frame(i, i / 10, datetime(2026, 1, 1), np.zeros((8, 8, 3), np.uint8)), None, 0.0)


class Recorder:
    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.done = threading.Event()

    def __call__(self, batch: Batch) -> None:
        self.batches.append(batch)
        if batch.ended:
            self.done.set()


def test_a_file_cannot_starve_a_live_camera(labels):
    out = Recorder()
    worker = ModelWorker(ColourClassifier(labels), out, max_batch=4, max_wait_ms=0)
    file, cam = Slot("file", live=False, depth=100), Slot("cam", live=True)
    worker.add(file)
    worker.add(cam)
    for i in range(40):
        worker.put(file, item(i))
    for i in range(3):
        worker.put(cam, item(i))  # only the newest is kept
    worker.end(file)
    worker.end(cam)
    worker.start()
    assert out.done.wait(60)
    worker.close()
    keys = [[c.key for c in b.items] for b in out.batches if b.items]
    assert "cam" in keys[0]  # the first batch already has the camera's frame
    cam_frames = [c.frame.index for b in out.batches for c in b.items if c.key == "cam"]
    assert cam_frames == [2] and cam.dropped == 2
    file_frames = [c.frame.index for b in out.batches for c in b.items if c.key == "file"]
    assert file_frames == list(range(40))  # every file frame, in order
    assert all(len(k) <= 4 for k in keys) and worker.frames == 41
    assert {s.key for b in out.batches for s in b.ended} == {"file", "cam"}


def test_a_batch_waits_up_to_max_wait_for_more_frames(labels):
    out = Recorder()
    worker = ModelWorker(ColourClassifier(labels), out, max_batch=3, max_wait_ms=10_000)
    slots = [Slot(f"cam{i}", live=True) for i in range(3)]
    for s in slots:
        worker.add(s)
    worker.put(slots[0], item(0))
    worker.start()  # the batch has one frame and waits (up to 10 s) for two more
    worker.put(slots[1], item(1))
    worker.put(slots[2], item(2))
    for s in slots:
        worker.end(s)
    assert out.done.wait(60)
    worker.close()
    sizes = [len(b.items) for b in out.batches if b.items]
    assert sizes == [3]  # one model call for the three sources
    assert all(c.lag_s >= 0 for c in out.batches[0].items)
