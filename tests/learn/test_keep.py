"""FrameKeeper: the snapshot plus up to k frames spread over each closed sighting."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from fieldtool.learn.keep import FrameKeeper, spread
from fieldtool.preview import write_jpeg
from fieldtool.types import Frame, Sighting, SightingEvent

T0 = datetime(2026, 6, 1, 9)


@dataclass
class FakeStore:
    """What the keeper needs of a SightingStore: its folder and the rows it records."""

    folder: Path
    rows: list[tuple] = field(default_factory=list)

    def snapshot_dir(self, session_id: str) -> Path:
        return self.folder / "snaps" / session_id

    def record_sighting_frame(self, *row) -> None:
        self.rows.append(row)


def _frame(i: int) -> Frame:
    image = np.full((120, 160, 3), i % 256, np.uint8)  # each frame its own grey
    return Frame(i, i / 10, T0, image)


def _run(keeper: FrameKeeper, store: FakeStore, k: int, frames: int, snapshot: bool = True):
    sighting = Sighting("s1", "sess", "Acer rubrum", "", T0, T0, 0.5, (frames - 1) / 10)
    keeper.observe(_frame(0))
    keeper.handle(SightingEvent("start", sighting, _frame(0)), store, k)  # before: t=0 < first_t
    for i in range(1, frames):
        keeper.observe(_frame(i))
    peak = _frame(frames // 2)
    if snapshot:
        target = store.snapshot_dir("sess") / "s1.jpg"
        write_jpeg(target, peak.image)
        sighting.snapshot_path = target.relative_to(store.folder).as_posix()
    keeper.handle(SightingEvent("end", sighting, peak), store, k)
    return sighting


def test_a_closed_sighting_keeps_its_snapshot_and_k_frames_spread_over_it(tmp_path):
    store, keeper = FakeStore(tmp_path), FrameKeeper()
    sighting = _run(keeper, store, k=4, frames=200)
    snapshot = [r for r in store.rows if r[4] == sighting.snapshot_path]
    kept = [r for r in store.rows if r[4] != sighting.snapshot_path]
    assert len(snapshot) == 1 and snapshot[0][2] == 100  # the peak frame's index
    assert len(kept) == 4 and keeper.kept == 4
    times = sorted(r[3] for r in kept)
    assert sighting.first_t <= times[0] and times[-1] <= sighting.last_t
    assert times[-1] - times[0] > 0.6 * (sighting.last_t - sighting.first_t)  # spread out
    for _, _, _, _, path, sha in store.rows:
        data = (tmp_path / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
    assert len({r[4] for r in store.rows}) == 5


def test_a_long_sighting_holds_a_bounded_sample(tmp_path):
    store, keeper = FakeStore(tmp_path), FrameKeeper()
    sighting = Sighting("s1", "sess", "Acer rubrum", "", T0, T0, 0.0, 1e9)
    keeper.handle(SightingEvent("start", sighting, _frame(0)), store, 3)
    for i in range(1, 5000):
        keeper.observe(_frame(i))
        assert len(keeper._open["s1"].frames) <= 6  # 2k, however long it runs


def test_keeping_off_or_failing_costs_nothing_else(tmp_path):
    store = FakeStore(tmp_path)
    _run(FrameKeeper(), store, k=0, frames=50, snapshot=False)
    assert store.rows == []
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    lines: list[str] = []
    keeper = FrameKeeper(log=lines.append)
    store = FakeStore(blocked)  # snapshots and frames would go under a file: OSError
    _run(keeper, store, k=4, frames=50, snapshot=False)
    assert store.rows == [] and keeper.failed and len(lines) == 1


def test_spread_picks_the_middles_of_equal_parts_not_the_ends():
    times = [float(t) for t in range(10)]  # frames held at 0..9 s of a sighting 0..9 s
    assert spread(times, 0.0, 9.0, 4) == [1, 3, 6, 8]  # middles 1.1, 3.4, 5.6, 7.9 s
    assert spread(times[:3], 0.0, 9.0, 4) == [0, 1, 2]  # k or fewer held: all of them
    assert spread([], 0.0, 9.0, 4) == []
    # held frames bunched at the end (a sighting that opened late): still k, in order
    assert spread([7.0, 7.5, 8.0, 8.5, 9.0], 0.0, 9.0, 4) == [0, 1, 2, 3]


def test_frames_are_kept_again_once_the_disk_takes_them(tmp_path):
    """Defect: one failed write (a card briefly full) stopped keeping frames for learning
    for the rest of the session."""
    from fieldtool.preview import RETRY_S

    now = [0.0]
    lines: list[str] = []
    keeper = FrameKeeper(log=lines.append, clock=lambda: now[0])
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    _run(keeper, FakeStore(blocked), k=4, frames=50, snapshot=False)
    assert keeper.failed and keeper.kept == 0
    now[0] = RETRY_S + 1.0  # a minute on, with room again
    store = FakeStore(tmp_path / "room")
    _run(keeper, store, k=4, frames=50, snapshot=False)
    assert keeper.kept == 4 and len(store.rows) == 4 and keeper.failed is None
    assert [line.startswith("warning") for line in lines] == [True, False], lines


def test_kept_frames_are_the_middles_of_the_sighting_not_its_ends(tmp_path):
    """Defect: the frames kept for learning were spread from the first frame held to the
    last inside the sighting, ends included: the frame at ``last_t`` (the last one above
    the exit score: the animal leaving, partly in view) was always among them, as was the
    first frame held. Now each of the k frames is the one nearest the middle of one of k
    equal parts of the sighting's span, so none is at either end."""
    store, keeper = FakeStore(tmp_path), FrameKeeper()
    sighting = _run(keeper, store, k=4, frames=200)  # first_t 0.5 s, last_t 19.9 s
    kept = sorted(r[3] for r in store.rows if r[4] != sighting.snapshot_path)
    assert len(kept) == 4
    part = (sighting.last_t - sighting.first_t) / 4
    ends = [t for t in kept
            if t < sighting.first_t + part / 4 or t > sighting.last_t - part / 4]  # fmt: skip
    assert not ends, (kept, sighting.first_t, sighting.last_t)
    middles = [sighting.first_t + (i + 0.5) * part for i in range(4)]
    held = 3.2  # s between the frames held (200 frames thinned to at most 8)
    assert all(abs(t - m) <= held / 2 + 1e-9 for t, m in zip(kept, middles, strict=True)), kept
