"""Frames a decoder puts out late (a B-frame whose reorder FFmpeg underestimated: H.264
without the stream's reorder depth, timestamps rewritten) are put back in presentation
order by PyAV's readers, one decoder and the decoding processes alike: every frame kept at
its own time and number, and no false "damaged data" gap where a planned frame came late."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from fieldtool.decode import PyAVSource
from fieldtool.decode.pyav import REORDER_FRAMES, in_presentation_order
from fieldtool.decode.segments import SegmentedSource

from .conftest import presentation_times


def test_one_pyav_decoder_gives_every_frame_in_presentation_order(late_clip):
    truth = presentation_times(late_clip)  # in the order the decoder puts frames out
    assert any(b < a for a, b in zip(truth, truth[1:], strict=False))  # the file's point
    logs: list[str] = []
    source = PyAVSource(str(late_clip), decoder="pyav", sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    # none passed over: each frame at its own timestamp, numbered by its rank
    assert [f.t for f in frames] == pytest.approx(sorted(truth), abs=1e-6)
    assert [f.index for f in frames] == list(range(len(truth)))
    assert source.stats.gaps == [] and source.stats.timing == "pts"
    assert not any("out of order" in line or "jump" in line for line in logs), logs


@pytest.mark.parametrize("sample_fps", [1000.0, 7.0])
def test_decoding_processes_give_one_decoders_frames_and_no_false_gap(late_clip, sample_fps):
    one = list(PyAVSource(str(late_clip), decoder="pyav", sample_fps=sample_fps).frames())
    logs: list[str] = []
    source = SegmentedSource(str(late_clip), workers=2, sample_fps=sample_fps, log=logs.append)
    many = list(source.frames())
    assert any("worker processes" in line for line in logs), logs  # not one decoder
    assert source.stats.gaps == [], [g.reason for g in source.stats.gaps]
    assert not any("damaged" in line for line in logs), logs
    assert [(f.index, f.t) for f in many] == [(f.index, f.t) for f in one]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(one, many, strict=True))


@dataclass
class _Frame:
    pts: int | None


def _order(pts: list[int | None], depth: int = 3) -> list[int | None]:
    frames = [None if p == -1 else _Frame(p) for p in pts]
    return [-1 if f is None else f.pts for f in in_presentation_order(frames, depth)]


def test_late_frames_within_the_depth_are_put_back_in_order():
    assert _order([0, 2, 3, 1, 5, 4, 6, 8, 7]) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert _order([0, 1, 2]) == [0, 1, 2]  # the last ones come out at the end
    assert _order([0, 4, 1, 2, 3], depth=0) == [0, 4, 1, 2, 3]  # depth 0: as decoded


def test_timestamps_that_start_again_are_not_sorted_into_the_last_recording():
    """A second recording appended (timestamps from 0 again): the first one's frames come
    out first, then the second's, each in order (the media clock treats it as a jump)."""
    assert _order([10, 12, 11, 13, 0, 2, 1, 3]) == [10, 11, 12, 13, 0, 1, 2, 3]


def test_damage_and_frames_without_a_timestamp_keep_their_place():
    """A decode failure (None) or a frame without a timestamp: the frames before it come
    out first, in order; nothing is held across it."""
    assert _order([0, 2, 1, -1, 5, 4]) == [0, 1, 2, -1, 4, 5]
    assert _order([0, 2, None, 1, 3]) == [0, 2, None, 1, 3]


def test_a_frame_later_than_the_depth_comes_out_where_it_came():
    """Later than the buffer holds: put out where it came (behind frames already gone),
    so the media clock passes it over as before."""
    late = list(range(1, REORDER_FRAMES + 3))
    got = _order([0, *late, 0], depth=REORDER_FRAMES)  # pts 0 again: behind all
    assert got[: len(late) + 1] == [0, *late] and got[-1] == 0
