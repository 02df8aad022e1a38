"""A file no decoder opens is one line saying why, where its structure tells: an MP4 whose
``moov`` was never written (a recording not closed properly), a file with no video stream
(audio only). A new-user trial found both said "cannot open video file (unsupported or
unreadable)"."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from fieldtool.sources import VideoSource
from fieldtool.types import FieldtoolError

from .conftest import write_h264_pyav

DECODERS = ["opencv", "pyav"]


def _error(path, decoder: str) -> str:
    from fieldtool.decode import video_source

    with pytest.raises(FieldtoolError) as err:
        list(video_source(str(path), decoder=decoder, sample_fps=5).frames())
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    return message


def _audio_m4a(path):
    """An AAC-only M4A (PyAV's encoder), as a voice recorder writes."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        stream.layout = "mono"
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")  # fmt: skip
            frame.sample_rate, frame.pts = 8000, i * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("decoder", DECODERS)
def test_an_audio_only_file_says_it_has_no_video_stream(tmp_path, decoder):
    message = _error(_audio_m4a(tmp_path / "voice note.m4a"), decoder)
    assert "no video stream (audio only?)" in message, message


def test_an_audio_file_of_another_kind_says_so_too(tmp_path):
    """A WAV is no MP4: PyAV, where installed, tells its streams."""
    path = tmp_path / "birds.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(16000))
    assert "no video stream (audio only?)" in _error(path, "opencv")


@pytest.mark.parametrize("decoder", DECODERS)
def test_an_mp4_without_its_moov_says_it_was_never_closed(tmp_path, decoder):
    """The index (``moov``) is written when recording stops: a camera whose battery died
    leaves the frames without it."""
    video = write_h264_pyav(tmp_path / "GX010042.MP4", frames=60, fps=30, size=(64, 48))
    data = video.read_bytes()
    assert data.find(b"moov") > len(data) // 2  # at the end, as cameras write it
    video.write_bytes(data[: len(data) // 2])
    message = _error(video, decoder)
    assert "no moov atom" in message and "cut off before its index was written" in message


def test_an_unreadable_file_still_says_so(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(3).integers(0, 255, 5000, np.uint8).tobytes())
    message = _error(path, "opencv")
    assert "cannot open video file (unsupported or unreadable)" in message, message


def test_a_readable_file_says_nothing_new(tmp_path):
    video = write_h264_pyav(tmp_path / "ok.mp4", frames=10, fps=10, size=(64, 48))
    assert len(list(VideoSource(str(video), sample_fps=10).frames())) == 10
