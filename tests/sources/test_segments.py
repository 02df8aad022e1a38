"""``source.decode_workers``: one file decoded by several processes, segment by segment
between key frames, gives exactly the frames of one PyAV decoder: indices, times, pixels."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fieldtool.cli import DEMO_DATA, build_parser
from fieldtool.cli.common import overrides
from fieldtool.config import DEMO_MODEL, Config, load_config
from fieldtool.decode import PyAVSource
from fieldtool.decode.segments import (
    Segment,
    SegmentedSource,
    decode_segment,
    segmented_source,
)
from fieldtool.pipeline import inputs_from_config, run_from_config
from fieldtool.sources import VideoSource
from fieldtool.store import query
from fieldtool.types import FieldtoolError, Frame

from .conftest import write_h264_pyav

FRAMES, GOP = 95, 10


def write_gop_clip(path: Path, frames: int = FRAMES, gop: int = GOP, fps: int = 30) -> Path:
    """An H.264 MP4 by PyAV's libx264 with a key frame every ``gop`` frames and B-frames
    (decode order differs from presentation order): a gradient with a moving box."""
    import av

    width, height = 160, 120
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(gop), "keyint_min": str(gop),
                          "sc_threshold": "0", "crf": "20", "bf": "2"}  # fmt: skip
        for i in range(frames):
            image = np.empty((height, width, 3), np.uint8)
            image[..., 0] = ramp
            image[..., 1] = rows
            image[..., 2] = (ramp + rows + 7 * i) % 256
            x = (i * 3) % (width - 20)
            image[40:60, x : x + 20] = (0, 0, 255)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_gop_clip(tmp_path_factory.mktemp("segments") / "gop10.mp4")


def _names() -> set[str]:
    """This machine's shared memory blocks now (the names Python gives them)."""
    if not os.path.isdir("/dev/shm"):
        return set()
    return {name for name in os.listdir("/dev/shm") if name.startswith("psm_")}


def _gone(name: str) -> bool:
    try:
        SharedMemory(name=name).close()
    except FileNotFoundError:
        return True
    return False


def _same(one: list[Frame], many: list[Frame]) -> None:
    assert len(many) == len(one) > 0
    assert [f.index for f in many] == [f.index for f in one]
    assert [f.t for f in many] == [f.t for f in one]
    for a, b in zip(one, many, strict=True):
        assert b.image.dtype == np.uint8 and b.image.shape == a.image.shape == (120, 160, 3)
        assert np.array_equal(a.image, b.image)


@pytest.mark.parametrize(
    ("sample_fps", "max_frames", "expected"),
    [(1000.0, None, FRAMES), (7.0, None, 22), (1000.0, 47, 47), (10.0, 50, 17)],
)
def test_workers_give_the_single_decoders_frames(clip, sample_fps, max_frames, expected):
    start = datetime(2026, 5, 1, 6, 0, 0)
    options = {"sample_fps": sample_fps, "max_frames": max_frames, "start_time": start}
    one = list(PyAVSource(str(clip), decoder="pyav", **options).frames())
    logs: list[str] = []
    source = SegmentedSource(str(clip), workers=3, log=logs.append, **options)
    many = list(source.frames())
    assert len(one) == expected
    _same(one, many)
    assert [f.wall_time for f in many] == [f.wall_time for f in one]
    assert any("worker processes" in line for line in logs), logs  # not the one decoder
    assert source.stats.frames_yielded == len(many) and source.stats.timing == "pts"
    assert many[1].wall_time == start + timedelta(seconds=many[1].t)


@pytest.mark.parametrize("sample_fps", [1000.0, 7.0])
def test_workers_hand_over_yuv_planes_as_one_decoder_does(clip, sample_fps):
    """``pixels`` yuv: the processes put the decoded planes in their rings (half the bytes,
    no conversion) and the frames carry them with the stream's matrix and range."""
    one = list(PyAVSource(str(clip), decoder="pyav", pixels="yuv",
                          sample_fps=sample_fps).frames())  # fmt: skip
    logs: list[str] = []
    many = list(SegmentedSource(str(clip), workers=3, pixels="yuv", sample_fps=sample_fps,
                                log=logs.append).frames())  # fmt: skip
    assert any("worker processes" in line for line in logs), logs
    assert len(many) == len(one) > 0 and [f.t for f in many] == [f.t for f in one]
    for a, b in zip(one, many, strict=True):
        assert a.yuv is not None and b.yuv is not None
        assert b.yuv.data.shape == (180, 160)  # (H * 3 / 2, W): 4:2:0 planes, not BGR
        assert (b.yuv.layout, b.yuv.matrix, b.yuv.color_range) == (
            a.yuv.layout, a.yuv.matrix, a.yuv.color_range)
        assert np.array_equal(a.yuv.data, b.yuv.data)


def test_workers_do_not_run_the_parents_main_script(clip, tmp_path, monkeypatch):
    """A spawned process imports the parent's ``__main__`` script again; a Streamlit page or
    a script without a main guard (a test run that ran one before) must not run in the
    decoding processes: they need only fieldtool."""
    import sys
    import types

    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('the parent's script ran in a decoding process')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    one = list(PyAVSource(str(clip), decoder="pyav", sample_fps=7.0).frames())
    many = list(SegmentedSource(str(clip), workers=2, sample_fps=7.0).frames())
    _same(one, many)
    assert sys.modules["__main__"] is main  # the parent's own is left as it was


@pytest.mark.parametrize("sample_fps", [1000.0, 7.0])
def test_a_transport_stream_without_an_index_gives_the_same_frames(tmp_path, sample_fps):
    """MPEG-TS: seeking guesses from the byte rate and may land after the key frame; the
    worker then seeks earlier until it lands at or before it."""
    video = write_gop_clip(tmp_path / "gop10.ts", frames=120)
    one = list(PyAVSource(str(video), decoder="pyav", sample_fps=sample_fps).frames())
    logs: list[str] = []
    many = list(SegmentedSource(str(video), workers=3, sample_fps=sample_fps,
                                log=logs.append).frames())  # fmt: skip
    _same(one, many)
    assert any("worker processes" in line for line in logs), logs


def test_a_tiny_ring_still_gives_every_frame_in_order(clip):
    """Two slots per worker: workers wait for the parent, which takes segments in order."""
    frame_bytes = 120 * 160 * 3
    one = list(PyAVSource(str(clip), decoder="pyav", sample_fps=1000).frames())
    many = list(SegmentedSource(str(clip), workers=2, ring_bytes=2 * 2 * frame_bytes,
                                sample_fps=1000).frames())  # fmt: skip
    _same(one, many)


def test_shared_memory_is_unlinked_after_the_end_and_after_close(clip):
    before = _names()
    frames = SegmentedSource(str(clip), workers=3, sample_fps=1000).frames()
    first = next(frames)
    during = _names() - before
    assert first.index == 0 and len(during) == 3  # one ring per worker
    frames.close()  # the consumer stops early
    assert all(_gone(name) for name in during)
    list(SegmentedSource(str(clip), workers=2, sample_fps=1000).frames())
    assert _names() - before == set()


def failing_decode(container: Any, stream: Any, segment: Segment) -> Iterator[tuple[int, Any]]:
    """The real decoder, which raises in the third segment after its first frame."""
    for n, item in enumerate(decode_segment(container, stream, segment)):
        if segment.number == 2 and n == 1:
            raise ValueError("injected failure\nsecond line")
        yield item


def dying_decode(container: Any, stream: Any, segment: Segment) -> Iterator[tuple[int, Any]]:
    """The real decoder, whose process ends without a word in the second segment."""
    if segment.number == 1:
        os._exit(3)
    yield from decode_segment(container, stream, segment)


@pytest.mark.parametrize("decode", [failing_decode, dying_decode])
def test_a_failing_worker_is_a_one_line_error_naming_the_segment(clip, decode):
    before = _names()
    source = SegmentedSource(str(clip), workers=2, sample_fps=1000, decode=decode)
    got: list[Frame] = []
    with pytest.raises(FieldtoolError) as info:
        for frame in source.frames():
            got.append(frame)
    message = str(info.value)
    assert "\n" not in message and str(clip) in message and "segment" in message
    assert " s to " in message  # the media time span of the segment
    assert ("injected failure" in message) == (decode is failing_decode)
    assert got and [f.index for f in got] == list(range(len(got)))  # frames before it came
    assert _names() - before == set() and multiprocessing.active_children() == []


def test_one_key_frame_falls_back_to_one_decoder_said_in_the_log(tmp_path):
    video = write_h264_pyav(tmp_path / "onegop.mp4", frames=25, fps=30)  # key frame every 30
    logs: list[str] = []
    frames = list(SegmentedSource(str(video), workers=3, sample_fps=1000,
                                  log=logs.append).frames())  # fmt: skip
    assert len(frames) == 25
    assert any("one decoder" in line and "key frame" in line for line in logs), logs


def test_the_config_and_flag_pick_the_workers(tmp_path, clip):
    args = build_parser().parse_args(["run", str(clip), "--decode-workers", "4"])
    assert overrides(args)["source.decode_workers"] == 4
    config = load_config(None, {"source.uri": str(clip), "source.decode_workers": 3,
                                "source.decoder": "pyav", "model.path": str(DEMO_MODEL),
                                "store.db": str(tmp_path / "s.duckdb")})  # fmt: skip
    source = inputs_from_config(config, lambda message: None).source
    assert isinstance(source, SegmentedSource) and source.workers == 3
    with pytest.raises(FieldtoolError, match="decode_workers"):
        load_config(None, {"source.decode_workers": 0})


def test_live_sources_and_one_worker_keep_one_decoder(clip):
    assert type(segmented_source("rtsp://127.0.0.1:9/cam", workers=4)) is VideoSource
    assert type(segmented_source(str(clip), workers=1)) is VideoSource
    assert isinstance(segmented_source(str(clip), workers=2), SegmentedSource)


def test_a_session_with_two_workers_finds_the_sightings_of_one(tmp_path):
    """The demo walk, demo model and its ranges: the same sightings as one decoder."""
    found = {}
    for workers in (1, 2):
        config = load_config(None, {
            "source.uri": str(DEMO_DATA / "walk_west.mp4"), "source.decoder": "pyav",
            "source.decode_workers": workers,
            "position.track": str(DEMO_DATA / "walk_west.gpx"), "model.path": str(DEMO_MODEL),
            "store.db": str(tmp_path / f"{workers}.duckdb"), "store.snapshots": False,
        })  # fmt: skip
        logs: list[str] = []
        result = run_from_config(config, log=logs.append)
        assert (workers == 2) == any("worker processes" in line for line in logs), logs
        found[workers] = [(s.species, s.first_t, s.last_t, s.peak_score)
                          for s in result.sightings]  # fmt: skip
    assert len(found[1]) >= 3 and found[2] == found[1]


@pytest.mark.parametrize(("decoder", "workers", "pixels", "ran"), [
    ("opencv", 2, "auto", ("pyav", "bgr")),  # the workers decode with PyAV
    ("auto", 1, "auto", ("pyav", "bgr")),  # no NVDEC here; auto pixels on the CPU: BGR
    ("opencv", 1, "yuv", ("opencv", "bgr")),  # OpenCV gives BGR whatever pixels says
])  # fmt: skip
def test_the_session_records_the_decoder_that_decoded(tmp_path, clip, decoder, workers, pixels,
                                                      ran):  # fmt: skip
    db = tmp_path / "s.duckdb"
    config = load_config(None, {
        "source.uri": str(clip), "source.decoder": decoder, "source.decode_workers": workers,
        "source.pixels": pixels, "model.path": str(DEMO_MODEL), "store.db": str(db),
        "store.snapshots": False,
    })  # fmt: skip
    run_from_config(config, log=lambda message: None)
    stored = json.loads(query(db, "SELECT config_json FROM sessions").config_json[0])
    assert (stored["source"]["decoder"], stored["source"]["pixels"]) == ran
    assert stored["source"]["decode_workers"] == workers  # as configured
    Config.model_validate(stored)  # still a config that runs again (fieldtool eval reads it)


class Interrupted(SegmentedSource):
    """Ctrl-C arrives while the parent waits for its third frame."""

    def _receive(self, *args: Any, **kwargs: Any) -> Any:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise KeyboardInterrupt
        return super()._receive(*args, **kwargs)


def test_ctrl_c_stops_the_workers_and_unlinks_the_shared_memory(clip):
    before = _names()
    with pytest.raises(KeyboardInterrupt):
        list(Interrupted(str(clip), workers=3, sample_fps=1000).frames())
    assert _names() - before == set() and multiprocessing.active_children() == []


def test_frames_are_lent_without_a_copy_and_their_slots_come_back(clip):
    """A frame's pixels are its slot in shared memory, not a copy: a consumer that lets each
    frame go gets every frame so (its slot went back to the worker), and the pixels are the
    single decoder's."""
    one = list(PyAVSource(str(clip), decoder="pyav", sample_fps=1000).frames())
    source = SegmentedSource(str(clip), workers=2, sample_fps=1000)
    count = 0
    for frame, reference in zip(source.frames(), one, strict=True):
        assert not frame.image.flags.owndata  # a view of the ring
        assert np.array_equal(frame.image, reference.image)
        count += 1
    assert count == FRAMES and source.lent_frames == FRAMES


def test_held_frames_keep_their_pixels_and_the_workers_their_room(clip):
    """Frames the pipeline holds (a batch, a sighting's peak frame) are never overwritten:
    past the slots a worker may lend (it keeps a GOP's kept frames to decode ahead into),
    frames are copies, so the workers decode on; frames held after the end keep their
    pixels, and letting them go then raises nothing."""
    import gc
    import sys

    one = list(PyAVSource(str(clip), decoder="pyav", sample_fps=1000).frames())
    before = _names()
    source = SegmentedSource(str(clip), workers=2, sample_fps=1000)
    held = list(source.frames())  # 2 x GOP slots a worker, one GOP's worth lent at most
    _same(one, held)
    assert 0 < source.lent_frames <= 2 * GOP
    assert _names() - before == set()  # unlinked while frames still use it
    assert sum(not f.image.flags.owndata for f in held) == source.lent_frames
    _same(one, held)  # still intact after the workers and the queues are gone
    raised: list[Any] = []
    hook, sys.unraisablehook = sys.unraisablehook, raised.append
    try:
        del held
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert raised == []


def test_yuv_planes_are_lent_too(clip):
    one = list(PyAVSource(str(clip), decoder="pyav", pixels="yuv", sample_fps=7.0).frames())
    source = SegmentedSource(str(clip), workers=2, pixels="yuv", sample_fps=7.0)
    count = 0
    for frame, reference in zip(source.frames(), one, strict=True):
        assert frame.yuv is not None and not frame.yuv.data.flags.owndata
        assert np.array_equal(frame.yuv.data, reference.yuv.data)
        count += 1
    assert source.lent_frames == count == len(one)


def test_a_ring_that_cannot_be_mapped_again_hands_over_copies(monkeypatch):
    """No /dev/shm to map the block a second time (not Linux): every frame is a copy and
    its slot goes back at once."""
    import queue

    from fieldtool.decode import ring as rings

    def no_shm(path: str, flags: int) -> int:
        raise FileNotFoundError(path)

    monkeypatch.setattr(rings.os, "open", no_shm)
    free: queue.Queue[int] = queue.Queue()
    ring = rings.FrameRing(4, 2, (2, 3), free)  # type: ignore[arg-type]
    try:
        ring.array[1] = 7
        image = ring.take(1)
        assert image.flags.owndata and (image == 7).all() and free.get_nowait() == 1
        assert ring.lent == ring.lent_total == 0
    finally:
        ring.close()


def test_a_ring_lends_past_its_room_to_decode_ahead_no_slot():
    import gc
    import queue

    from fieldtool.decode import ring as rings

    free: queue.Queue[int] = queue.Queue()
    ring = rings.FrameRing(4, 2, (2, 3), free)  # type: ignore[arg-type]
    try:
        for slot in range(4):
            ring.array[slot] = slot
        first, second = ring.take(0), ring.take(1)[1:]  # a view of a view holds it too
        assert not first.flags.owndata and ring.lent == 2 and free.empty()
        third = ring.take(2)  # 4 slots, 2 kept to decode ahead into: a copy
        assert third.flags.owndata and free.get_nowait() == 2 and (third == 2).all()
        del first
        gc.collect()
        assert free.get_nowait() == 0 and ring.lent == 1  # back to the worker
        assert (second == 1).all() and free.empty()
        del second
        gc.collect()
        assert free.get_nowait() == 1 and ring.lent == 0 and ring.lent_total == 2
    finally:
        ring.close()


def test_frames_read_counts_what_was_reached_when_stopped_early(clip):
    """Stopped after a few frames (Ctrl-C), the session's frames_read is the frames up to
    there, as one decoder counts them, not the whole file's."""
    source = SegmentedSource(str(clip), workers=2, sample_fps=1000.0)
    stream = source.frames()
    taken = [next(stream) for _ in range(12)]
    stream.close()
    assert source.stats.frames_read == taken[-1].index + 1 < FRAMES
    whole = SegmentedSource(str(clip), workers=2, sample_fps=1000.0)
    assert len(list(whole.frames())) == FRAMES == whole.stats.frames_read
