"""The classifier's hand-over of host frames to its device."""

from __future__ import annotations

import numpy as np
import torch

from fieldtool.classify import stacked_upload


def test_frames_are_stacked_in_one_copy_into_the_tensor_sent():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(3)]
    frames.append(rng.integers(0, 256, (6, 16, 3), dtype=np.uint8)[:, ::2])  # a strided view
    batch = stacked_upload(frames, torch.device("cpu"))
    assert batch.dtype == torch.uint8 and batch.shape == (4, 6, 8, 3)
    assert np.array_equal(batch.numpy(), np.stack(frames))
    assert not any(np.shares_memory(batch.numpy(), f) for f in frames)  # the frames' slots may go
