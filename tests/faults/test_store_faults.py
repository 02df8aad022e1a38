"""Faults at the store: a full disk and a read-only folder (small tmpfs mounts).

Mounting needs root (CI and the dev machines run as root); elsewhere these tests skip
with the reason.
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import datetime

import pytest

from fieldtool.store import SightingStore, query
from fieldtool.types import FieldtoolError, Sighting

T0 = datetime(2026, 6, 1, 9)


def _mount(path, options: str) -> None:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    _mount(disk, "size=3m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def closed_sighting(i: int) -> Sighting:
    return Sighting(f"s{i}", "sess", "Acer rubrum", "red maple", T0, T0, float(i), float(i) + 1,
                    frames=3, peak_score=0.9, score_sum=2.4, status="closed")  # fmt: skip


def test_full_disk_is_a_clear_error_and_keeps_closed_sightings(small_disk):
    db = small_disk / "s.duckdb"
    store = SightingStore(db, lock_timeout_s=1)
    store.record_sighting(closed_sighting(1))
    assert store.flush().written
    filler = small_disk / "filler.bin"
    with pytest.raises(OSError), filler.open("wb") as fh:  # fill the disk to the last byte
        while True:
            fh.write(b"\0" * (1 << 16))
            fh.flush()
    for i in range(2, 2000):
        store.record_detection("sess", i, float(i), T0, None, ([uuid.uuid4().hex] * 5, [0.2] * 5),
                               ([uuid.uuid4().hex] * 5, [0.2] * 5))  # fmt: skip
    with pytest.raises(FieldtoolError) as err:
        store.flush()
    assert str(db) in str(err.value) and "\n" not in str(err.value)
    filler.unlink()  # space again: what was written before is intact
    assert query(db, "SELECT sighting_id, status FROM sightings").values.tolist() == [
        ["s1", "closed"]
    ]


def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    _mount(folder, "size=1m,ro")
    try:
        with pytest.raises(FieldtoolError) as err:
            SightingStore(folder / "s.duckdb")
        assert "s.duckdb" in str(err.value) and "\n" not in str(err.value)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
