"""A remote video's DJI SRT (and GPX) beside it, as for a local one: keyed (a corrected SRT
is other work) and read by its run (copied to the worker beside the video). The remote
filesystem is a local folder behind a ``mem://`` scheme (pyarrow's SubTreeFileSystem): no
network, no Ray."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import fieldtool.scale.plan as plan
from fieldtool.placement import sidecar_srt
from fieldtool.scale.decode import decode_frames, local_file
from fieldtool.scale.plan import PlanRow, content_sha256, with_hash
from tests.scale.conftest import demo_config
from tests.test_placement import SRT_DIR, _mp4, needs_shared

SRT = "1\n00:00:00,000 --> 00:00:00,033\n[latitude: 41.424724] [longitude: 2.234156]\n"


@pytest.fixture
def bucket(tmp_path, monkeypatch) -> Path:
    """The folder that ``mem://`` URIs name (``mem://flights/a.mp4``: flights/a.mp4 in it)."""
    from pyarrow import fs

    folder = tmp_path / "bucket"
    (folder / "flights").mkdir(parents=True)
    remote = fs.SubTreeFileSystem(str(folder), fs.LocalFileSystem())
    real = plan._filesystem

    def filesystem(uri: str):
        return (remote, uri.removeprefix("mem://")) if uri.startswith("mem://") else real(uri)

    monkeypatch.setattr(plan, "_filesystem", filesystem)
    return folder


def test_a_remote_videos_srt_is_keyed_as_a_local_ones(bucket):
    """Defect: a DJI SRT beside a remote video was not keyed (a corrected SRT did not run
    the video again); now it is, read through the video's own filesystem, as for a local
    file; a video without one keeps the key it had."""
    (bucket / "flights" / "DJI_0001.MP4").write_bytes(b"video bytes")
    row = PlanRow("mem://flights/DJI_0001.MP4").as_row()
    legacy = hashlib.sha256(f"{hashlib.sha256(b'video bytes').hexdigest()}|s|||0".encode())
    assert with_hash(row, "s")["batch_key"] == legacy.hexdigest()  # none beside it
    srt = bucket / "flights" / "DJI_0001.SRT"
    srt.write_text(SRT)
    keyed = with_hash(row, "s")
    assert keyed["sidecar_sha256"] == hashlib.sha256(SRT.encode()).hexdigest()
    assert keyed["batch_key"] != legacy.hexdigest()
    srt.write_text(SRT.replace("41.424724", "41.424725"))  # corrected: other work
    assert with_hash(row, "s")["batch_key"] not in (keyed["batch_key"], legacy.hexdigest())
    srt.unlink()
    (bucket / "flights" / "DJI_0001.gpx").write_text("<gpx>logged</gpx>")  # a GPX as well
    assert with_hash(row, "s")["sidecar_gpx_sha256"] == content_sha256(
        str(bucket / "flights" / "DJI_0001.gpx"))  # fmt: skip


def test_a_remote_videos_srt_is_copied_beside_its_local_copy(bucket):
    """Defect: only the video was copied to the worker, so its run found no SRT beside it
    (the video was placed without its telemetry)."""
    (bucket / "flights" / "DJI_0001.MP4").write_bytes(b"video bytes")
    (bucket / "flights" / "DJI_0001.SRT").write_text(SRT)
    (bucket / "flights" / "DJI_0002.SRT").write_text("another flight's")
    with local_file("mem://flights/DJI_0001.MP4", beside=True) as local:
        found = sidecar_srt(Path(local))
        assert found is not None and found.read_text() == SRT
        assert sorted(p.name for p in Path(local).parent.iterdir()) == [
            "DJI_0001.MP4", "DJI_0001.SRT"]  # fmt: skip
        folder = Path(local).parent
    assert not folder.exists()  # removed afterwards
    with local_file("mem://flights/DJI_0001.MP4") as local:  # a track: no files beside it
        assert sidecar_srt(Path(local)) is None


def test_the_copies_keep_their_remote_file_times(bucket):
    """An SRT without dates (old firmware) is timed by its file's modification time
    (docs/time.md, ``srt-file-mtime``): the worker's copy keeps the remote file's time, as
    the run of a local file reads it, not the time it was copied."""
    import os

    for name in ("DJI_0001.MP4", "DJI_0001.SRT"):
        (bucket / "flights" / name).write_text(name)
        os.utime(bucket / "flights" / name, ns=(1_500_000_000_123_456_789,) * 2)
    with local_file("mem://flights/DJI_0001.MP4", beside=True) as local:
        for copy in (Path(local), Path(local).with_suffix(".SRT")):
            assert copy.stat().st_mtime_ns == 1_500_000_000_123_456_789, copy


@needs_shared
def test_a_remote_drone_clip_is_placed_by_its_srt(bucket, tmp_path):
    """The whole decode of a remote DJI clip (no Ray): its run uses the SRT beside it."""
    _mp4(bucket / "flights" / "DJI_0001.MP4", seconds=2.0)
    shutil.copy(SRT_DIR / "mavic_pro.SRT", bucket / "flights" / "DJI_0001.SRT")
    config = demo_config(tmp_path / "b.duckdb", **{"source.sample_fps": 2.0,
                                                    "store.snapshots": False})  # fmt: skip
    row = with_hash(PlanRow("mem://flights/DJI_0001.MP4").as_row(), "s")
    rows = list(decode_frames(row, config))
    assert not rows[-1]["error"], rows[-1]["error"]
    notes = json.loads(rows[-1]["end"])["notes"]
    assert any("using DJI_0001.SRT" in line for line in notes), notes
