"""The split of ``learn`` by content: sessions sharing a frame (by SHA-256) or a source file
are one group, the first copy of each frame, held-out copies of learnt frames."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fieldtool.learn.collect import (
    LabelledFrame,
    first_copies,
    heldout_copies,
    session_groups,
    split_sessions,
)


def _frame(session: str, sighting: str, content: str, source: str = "") -> LabelledFrame:
    sha = hashlib.sha256(content.encode()).hexdigest()
    return LabelledFrame(sighting, session, "Acer rubrum", "Acer rubrum", "confirm",
                         Path(f"/{content}.jpg"), sha, source)  # fmt: skip


def test_sessions_sharing_a_frame_or_a_source_file_are_one_group():
    frames = [
        _frame("a", "a1", "x1", "/v/walk.mp4"), _frame("a", "a2", "x2", "/v/walk.mp4"),
        _frame("b", "b1", "x2", "/v/copy.mp4"),  # one frame in common with a
        _frame("c", "c1", "y1", "/v/walk.mp4"),  # the same file as a, other frames
        _frame("d", "d1", "z1", "rtsp://cam/1"), _frame("e", "e1", "z2", "rtsp://cam/1"),
        _frame("f", "f1", "w1", "/dev/video0"), _frame("g", "g1", "w2", "/dev/video0"),
        _frame("h", "h1", "v1", "0 #gate"), _frame("i", "i1", "v2", "0 #gate"),  # named camera
    ]  # fmt: skip
    groups = session_groups(frames)
    assert groups["a"] == groups["b"] == groups["c"]
    # a live stream or a camera is no file: its sessions are different footage
    assert len({groups[s] for s in "adefghi"}) == 7
    # the group is named by the member split_sessions orders first, so sessions without
    # copies split as before
    order = sorted("abc", key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    assert groups["a"] == order[0] and groups["d"] == "d"
    for holdout in (0.25, 0.5):
        train, held = split_sessions(list(groups.values()), holdout)
        assert train and held and not train & held


def test_first_copies_keeps_the_first_of_each_content_per_scope():
    frames = [_frame("a", "a1", "x"), _frame("b", "b1", "x"), _frame("b", "b1", "y")]
    assert first_copies(frames) == [True, False, True]
    assert first_copies(frames, lambda f: f.session_id) == [True, True, True]


def test_heldout_copies_of_learnt_frames_and_of_each_other_are_dropped():
    frames = [_frame("a", "a1", "x"), _frame("b", "b1", "x"), _frame("b", "b1", "y"),
              _frame("b", "b2", "y"), _frame("b", "b3", "z")]  # fmt: skip
    held = [False, True, True, True, True]
    learnt, repeated = heldout_copies(frames, held)
    assert learnt == [False, True, False, False, False]
    assert repeated == [False, False, False, True, False]


def test_too_little_left_after_dropping_copies_says_so():
    import numpy as np

    from fieldtool.learn.update import MIN_HELDOUT, _too_few_heldout
    from fieldtool.types import Label, LabelSet

    labels = LabelSet((Label(0, "Acer rubrum"), Label(1, "Quercus alba")))
    said = _too_few_heldout(labels, 2, np.array([0, 1]), MIN_HELDOUT - 1, dropped=40)
    assert said.startswith("too little held out to judge it: ")
    assert f"{MIN_HELDOUT - 1} held-out examples (needs {MIN_HELDOUT}) after dropping 40" in said
    assert _too_few_heldout(labels, 2, np.array([0, 1]), MIN_HELDOUT, dropped=40) == ""
