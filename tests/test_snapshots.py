"""Snapshots on a folder that stops taking them for a while (a card briefly full): skipped
while it fails, tried again after a pause, and written again once it takes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fieldtool.preview import RETRY_S
from fieldtool.snapshots import SnapshotWriter

IMAGE = np.zeros((8, 8, 3), np.uint8)


def test_snapshots_are_written_again_once_the_folder_takes_them(tmp_path: Path) -> None:
    """Defect: one failed write turned snapshots off for the rest of the session, though
    the disk had room again a minute later (rows are retried; pictures were not)."""
    now = [0.0]
    lines: list[str] = []
    writer = SnapshotWriter(lines.append, clock=lambda: now[0])
    folder = tmp_path / "snaps"
    folder.write_text("a file where the folder should be")  # writing there fails
    assert not writer.write(folder / "1.jpg", IMAGE)
    folder.unlink()  # room again
    now[0] = RETRY_S / 2
    assert not writer.write(folder / "2.jpg", IMAGE)  # not tried yet: no write per frame
    assert not (folder / "2.jpg").exists()
    now[0] = RETRY_S + 1.0
    assert writer.write(folder / "3.jpg", IMAGE) and (folder / "3.jpg").is_file()
    assert writer.failed is None
    assert writer.write(folder / "4.jpg", IMAGE)
    warned = [line for line in lines if line.startswith("warning")]
    again = [line for line in lines if "again" in line and not line.startswith("warning")]
    assert len(warned) == 1 and "skipped" in warned[0], lines
    assert len(again) == 1 and "2 skipped" in again[0], lines


def test_a_folder_that_keeps_failing_is_tried_once_per_pause_and_said_once(
    tmp_path: Path,
) -> None:
    now = [0.0]
    lines: list[str] = []
    writer = SnapshotWriter(lines.append, clock=lambda: now[0])
    folder = tmp_path / "snaps"
    folder.write_text("not a folder")
    tries = 0
    for step in range(40):
        now[0] = step * RETRY_S / 4  # ten pauses in all
        before = writer.tries
        assert not writer.write(folder / f"{step}.jpg", IMAGE)
        tries += writer.tries - before
    assert tries == 10  # once at the start and once after each pause, not per frame
    assert len(lines) == 1 and "skipped" in lines[0], lines
    assert not list(tmp_path.glob("**/*.tmp"))


def test_a_second_outage_is_said_again(tmp_path: Path) -> None:
    """A review found: after writing came back, a second failure said nothing, so the
    log's last word on pictures was "written again"."""
    now = [0.0]
    lines: list[str] = []
    writer = SnapshotWriter(lines.append, clock=lambda: now[0])
    folder = tmp_path / "snaps"
    folder.write_text("not a folder")
    assert not writer.write(folder / "1.jpg", IMAGE)
    folder.unlink()
    now[0] = RETRY_S
    assert writer.write(folder / "2.jpg", IMAGE)
    (folder / "2.jpg").unlink()
    folder.rmdir()
    folder.write_text("not a folder again")
    assert not writer.write(folder / "3.jpg", IMAGE)
    assert [line.startswith("warning") for line in lines] == [True, False, True], lines


def test_a_paused_writer_does_no_work_for_a_snapshot_it_drops(tmp_path: Path, monkeypatch) -> None:
    """Defect: a sighting's frame was scaled down for its snapshot while the writer was
    paused after a failure, and then dropped unwritten. The contract
    (:class:`~fieldtool.preview.JpegWriter`): pictures asked for during a pause are
    skipped, counted, and nothing is tried; so nothing is resized either. Once the pause
    is over the next snapshot is scaled and written as ever."""
    from datetime import datetime

    import fieldtool.snapshots as snapshots
    from fieldtool.types import Frame, Sighting

    class Store:  # what SnapshotWriter.snapshot needs of a SightingStore
        def __init__(self, folder: Path) -> None:
            self.folder = folder

        def snapshot_dir(self, session_id: str) -> Path:
            return self.folder / "snaps" / session_id

    resized: list[tuple[int, ...]] = []
    real_resize = snapshots.cv2.resize

    def counting_resize(image, *args, **kwargs):
        resized.append(image.shape)
        return real_resize(image, *args, **kwargs)

    monkeypatch.setattr(snapshots.cv2, "resize", counting_resize)
    now = [0.0]
    lines: list[str] = []
    writer = SnapshotWriter(lines.append, clock=lambda: now[0])
    blocked = Store(tmp_path / "blocked")
    blocked.folder.write_text("a file where the folder should be")
    start = datetime(2026, 6, 1, 9)
    big = Frame(0, 0.0, start, np.zeros((480, 1280, 3), np.uint8))  # wider than 640 px
    sighting = Sighting("s1", "sess", "Acer rubrum", "", start, start, 0.0, 1.0)
    assert writer.snapshot(blocked, sighting, big) is None  # tried: fails, pause begins
    assert len(resized) == 1 and writer.paused()
    now[0] = RETRY_S / 2
    for _ in range(3):  # paused: dropped unseen
        assert writer.snapshot(blocked, sighting, big) is None
    assert len(resized) == 1, resized
    now[0] = RETRY_S + 1.0
    room = Store(tmp_path / "room")
    path = writer.snapshot(room, sighting, big)
    assert path is not None and (room.folder / path).is_file() and len(resized) == 2
    again = [line for line in lines if "again" in line and not line.startswith("warning")]
    assert len(again) == 1 and "4 skipped" in again[0], lines


def test_the_live_view_is_not_drawn_for_a_paused_writer(tmp_path: Path, monkeypatch) -> None:
    """The live view's frame, like a snapshot: while writing is paused it is counted as
    skipped and not drawn (annotating a frame costs more than scaling one)."""
    from datetime import datetime

    import fieldtool.snapshots as snapshots
    from fieldtool.config import Config
    from fieldtool.snapshots import FrameViews
    from fieldtool.types import Frame, FrameResult, Label, LabelSet

    drawn: list[int] = []
    real_annotate = snapshots.annotate

    def counting_annotate(image, *args, **kwargs):
        drawn.append(1)
        return real_annotate(image, *args, **kwargs)

    monkeypatch.setattr(snapshots, "annotate", counting_annotate)
    now = [0.0]
    lines: list[str] = []
    writer = SnapshotWriter(lines.append, clock=lambda: now[0])
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    assert not writer.write(blocked / "1.jpg", IMAGE)  # fails: paused from now
    labels = LabelSet((Label(0, "Acer rubrum"), Label(1, "Thuja plicata")))
    probs = np.array([0.7, 0.3], np.float32)
    frame = Frame(0, 0.0, datetime(2026, 6, 1, 9), np.zeros((48, 64, 3), np.uint8))
    FrameViews(blocked / "latest.jpg", labels, Config(), writer).show(
        FrameResult(frame, raw=probs, fused=probs))  # fmt: skip
    assert drawn == []
    now[0] = RETRY_S + 1.0
    latest = tmp_path / "room" / "latest.jpg"
    FrameViews(latest, labels, Config(), writer).show(FrameResult(frame, raw=probs, fused=probs))
    assert drawn == [1] and latest.is_file()
    again = [line for line in lines if "again" in line and not line.startswith("warning")]
    assert len(again) == 1 and "2 skipped" in again[0], lines


def test_a_pause_ending_while_a_dropped_picture_is_counted_writes_nothing_broken(
    tmp_path: Path,
) -> None:
    """Defect (a reviewer's race): ``dropped`` read the clock to see the pause, then
    ``write`` read it again; a pause that ended between the two readings had ``write``
    encode the empty stand-in picture, and OpenCV raised (a station crashed at a retry
    boundary while its card was full). The clock is read once: the picture is counted
    as skipped, nothing is written."""
    # the failure sets the pause (0.0); the next readings: just before, then just after it ends
    now = iter([0.0, RETRY_S - 0.0005, RETRY_S + 0.0005, RETRY_S + 1.0])
    writer = SnapshotWriter(lambda _: None, clock=lambda: next(now))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    assert writer.write(blocked / "a.jpg", np.zeros((8, 8, 3), np.uint8)) is None  # fails
    target = tmp_path / "b.jpg"
    assert writer.dropped(target) is True  # paused at the first reading, only one taken
    assert not target.exists()
