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
from fieldtool.types import FieldtoolError, SessionInfo, Sighting

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


@pytest.fixture
def disk_12m(tmp_path):
    disk = tmp_path / "disk12"
    _mount(disk, "size=12m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def closed_sighting(i: int, status: str = "closed") -> Sighting:
    return Sighting(f"s{i}", "sess", "Acer rubrum", "red maple", T0, T0, float(i), float(i) + 1,
                    frames=3, peak_score=0.9, score_sum=2.4, status=status)  # fmt: skip


def fill(disk):
    """Fill the file system to the last byte; returns the filler file."""
    filler = disk / "filler.bin"
    with pytest.raises(OSError), filler.open("wb") as fh:
        while True:
            fh.write(b"\0" * (1 << 16))
            fh.flush()
    return filler


def detections(store: SightingStore, frames) -> None:
    for i in frames:
        store.record_detection("sess", i, float(i), T0, None, ([uuid.uuid4().hex] * 5, [0.2] * 5),
                               ([uuid.uuid4().hex] * 5, [0.2] * 5))  # fmt: skip


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


def test_a_full_disk_keeps_the_rows_where_it_says_and_writes_them_when_space_returns(disk_12m):
    """No journal fits on a full disk either: the store says "memory only", does not raise
    twice, keeps the open sighting, and writes everything once space is back."""
    db = disk_12m / "s.duckdb"
    logs: list[str] = []
    store = SightingStore(db, lock_timeout_s=1, log=logs.append)
    store.record_session(SessionInfo("sess", "cam0", "m", T0))
    store.record_sighting(closed_sighting(1))
    assert store.flush().written
    filler = fill(disk_12m)
    detections(store, range(2, 101))
    store.record_sighting(closed_sighting(2, "open"))
    with pytest.raises(FieldtoolError) as err:
        store.flush()
    message = str(err.value)
    assert "No space left on device" in message and "memory only" in message, message
    assert "\n" not in message and str(db) in message
    assert not list(disk_12m.glob("s.duckdb.journal-*"))  # no torn journal left behind
    again = store.flush()  # a cleanup path flushing again: no second error
    assert not again.written and again.unwritten == again.memory_only == 100
    assert again.journal is None
    filler.unlink()  # space again
    result = store.close()
    assert result.written and result.unwritten == 0, logs
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 99
    got = query(db, "SELECT sighting_id, status FROM sightings ORDER BY 1").values.tolist()
    assert got == [["s1", "closed"], ["s2", "open"]]
    assert not list(disk_12m.glob("s.duckdb.journal-*"))


def test_close_on_a_full_disk_returns_and_says_what_it_kept(disk_12m):
    db = disk_12m / "s.duckdb"
    logs: list[str] = []
    store = SightingStore(db, lock_timeout_s=1, log=logs.append)
    store.record_session(SessionInfo("sess", "cam0", "m", T0))
    assert store.flush().written
    filler = fill(disk_12m)
    detections(store, range(50))
    result = store.close()  # the first failure is in close(): it returns all the same
    assert not result.written and result.unwritten == result.memory_only == 50
    assert "No space left on device" in (result.error or "")
    assert "memory only" in logs[-1], logs
    filler.unlink()
