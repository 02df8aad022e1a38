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
