""":class:`~fieldtool.decode.segments.SegmentedSource` opens its file once with PyAV in the
parent process: the packets read ahead and the first frame (its turn, its planes) come from
one container."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtool.decode.segments import SegmentedSource
from tests.sources.test_segments import write_gop_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_gop_clip(tmp_path_factory.mktemp("opens") / "gop10.mp4")


def _counted(monkeypatch) -> tuple[list[str], list[str]]:
    """(files PyAV opens, files OpenCV opens) in this process from now on."""
    import av
    import cv2

    import fieldtool.sources as sources

    pyav: list[str] = []
    opencv: list[str] = []
    av_open, capture = av.open, cv2.VideoCapture

    def counting_av(file, *args, **kwargs):
        pyav.append(str(file))
        return av_open(file, *args, **kwargs)

    def counting_cv(target, *args):
        opencv.append(str(target))
        return capture(target, *args)

    monkeypatch.setattr(av, "open", counting_av)
    monkeypatch.setattr(sources.cv2, "VideoCapture", counting_cv)
    return pyav, opencv


@pytest.mark.parametrize("pixels", ["bgr", "yuv"])
def test_the_parent_opens_the_file_once_with_pyav(clip, monkeypatch, pixels):
    """Defect: the parent opened the file three times before the workers started: OpenCV
    for the frame rate and count, PyAV to read the packets ahead, PyAV again for the first
    frame. The last two are one container now; OpenCV's probe stays (the frame rate and
    count every decoder times a file's frames by, as one PyAV decoder gets them)."""
    single = [(f.index, f.t) for f in SegmentedSource(str(clip), workers=1, sample_fps=30,
                                                       pixels=pixels).frames()]  # fmt: skip
    pyav, opencv = _counted(monkeypatch)
    source = SegmentedSource(str(clip), workers=2, sample_fps=30, pixels=pixels)
    frames = list(source.frames())
    assert [(f.index, f.t) for f in frames] == single  # every frame, as one decoder gives
    assert pyav == [str(clip)], pyav
    assert opencv == [str(clip)], opencv
    # the first frame read with the packets still says how frames go: planes as decoded
    assert all((f.yuv is not None) == (pixels == "yuv") for f in frames)
