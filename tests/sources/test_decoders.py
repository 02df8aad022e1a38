"""``source.decoder``: PyAV (frame threads, NVDEC) reads a file as OpenCV does: the same
frames at the same media times, the same pixels within rounding, the same sightings."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import numpy as np
import pytest

from fieldtool.cli import DEMO_DATA
from fieldtool.config import DEMO_MODEL, Config, load_config
from fieldtool.decode import PyAVSource, nvdec_unavailable, video_source
from fieldtool.pipeline import inputs_from_config, run_from_config
from fieldtool.sources import VideoSource
from fieldtool.types import FieldtoolError

from .conftest import presentation_times, write_h264_pyav, write_vfr

NO_GPU = 99  # a CUDA device index no machine has: NVDEC is unavailable there everywhere


@pytest.fixture
def clip(tmp_path):
    return write_h264_pyav(tmp_path / "clip.mp4", frames=60, fps=30)


def _frames(source: VideoSource):
    return list(source.frames())


@pytest.mark.parametrize("sample_fps", [1000.0, 7.0])
def test_pyav_gives_opencv_frames_times_and_pixels(clip, sample_fps):
    cv = _frames(VideoSource(str(clip), sample_fps=sample_fps))
    pyav_source = video_source(str(clip), decoder="pyav", sample_fps=sample_fps)
    assert isinstance(pyav_source, PyAVSource) and pyav_source.decoder == "pyav"
    av = _frames(pyav_source)
    assert len(av) == len(cv) and len(cv) == (60 if sample_fps > 30 else 14)
    assert [f.index for f in av] == [f.index for f in cv]
    period = 1 / 30
    assert max(abs(a.t - c.t) for a, c in zip(av, cv, strict=True)) < period / 2
    for a, c in zip(av, cv, strict=True):
        assert a.image.dtype == np.uint8 and a.image.shape == c.image.shape == (240, 320, 3)
        assert np.abs(a.image.astype(int) - c.image.astype(int)).mean() < 2.0
    # the moving box is red (BGR) in PyAV's frames too: channels are not swapped
    box = av[-1].image[80 + 10 : 80 + 30]
    assert (box[..., 2] > 200).any() and pyav_source.stats.frames_read == 60
    assert pyav_source.stats.frames_yielded == len(av) and pyav_source.stats.timing == "pts"


def test_pyav_keeps_a_variable_rate_files_presentation_times(tmp_path, ffmpeg):
    durations = [0.04, 0.12, 0.28, 0.04, 0.08] * 6
    video = write_vfr(ffmpeg, tmp_path / "phone.mp4", durations)
    truth = presentation_times(video)
    frames = _frames(video_source(str(video), decoder="pyav", sample_fps=1000))
    assert len(frames) == len(truth) == len(durations)
    assert max(abs(f.t - pts) for f, pts in zip(frames, truth, strict=True)) < 0.02 / 2


def test_max_frames_and_start_time_are_kept(clip):
    start = datetime(2026, 5, 1, 6, 0, 0)
    frames = _frames(video_source(str(clip), decoder="pyav", sample_fps=1000, max_frames=10,
                                  start_time=start))  # fmt: skip
    assert [f.index for f in frames] == list(range(10))
    assert all(f.wall_time == start + timedelta(seconds=f.t) for f in frames)
    assert abs(frames[3].t - 3 / 30) < 1e-3


def test_damaged_data_is_skipped_with_a_gap(tmp_path):
    video = write_h264_pyav(tmp_path / "long.mp4", frames=150, fps=30, bframes=False)
    data = bytearray(video.read_bytes())
    middle, size = len(data) // 2, len(data) // 20  # zeros over 1/20 of the file, half way
    data[middle : middle + size] = bytes(size)
    video.write_bytes(bytes(data))
    logs: list[str] = []
    source = video_source(str(video), decoder="pyav", sample_fps=1000, log=logs.append)
    frames = _frames(source)
    times = [f.t for f in frames]
    assert times == sorted(times) and frames[-1].t > 4.5  # read on to the end after the damage
    assert len(frames) < 150
    # each frame keeps its own number past the damage (the frames lost are not renumbered
    # away: frame n is the one at n / 30 s, as OpenCV and the decoding processes number it)
    assert [f.index for f in frames] == [round(f.t * 30) for f in frames]
    opencv = {f.index: f.t for f in _frames(video_source(str(video), sample_fps=1000))}
    assert all(abs(opencv[f.index] - f.t) < 1e-6 for f in frames if f.index in opencv)
    (gap,) = source.stats.gaps
    assert 1.0 < gap.start_t < gap.end_t < 4.5 and "damaged data" in gap.reason
    skipped = [f for f in frames if gap.start_t < f.t < gap.end_t]
    assert skipped == [] and gap.ended_at is not None
    span = (gap.ended_at - gap.started_at).total_seconds()
    assert abs(span - (gap.end_t - gap.start_t)) < 1e-5
    assert len(logs) == 1 and "damaged data" in logs[0]


def test_nvdec_without_a_gpu_decoder_is_a_one_line_error(clip):
    with pytest.raises(FieldtoolError) as info:
        video_source(str(clip), decoder="nvdec", gpu=NO_GPU)
    message = str(info.value)
    assert "\n" not in message and "nvdec" in message and str(clip) in message


def test_auto_falls_back_to_the_cpu_with_a_warning(clip):
    logs: list[str] = []
    source = video_source(str(clip), decoder="auto", gpu=NO_GPU, sample_fps=1000,
                          log=logs.append)  # fmt: skip
    assert isinstance(source, PyAVSource) and source.decoder == "pyav"
    assert len(logs) == 1 and logs[0].startswith("warning:") and "NVDEC unavailable" in logs[0]
    assert len(_frames(source)) == 60


def test_nvdec_where_it_works_decodes_through_pyavs_hwaccel(clip, monkeypatch):
    """The wiring without a GPU: NVDEC said available, its settings recorded (None here:
    av.open then decodes in software), the frames as PyAV's on the CPU."""
    import fieldtool.decode.pyav as pyav_module

    asked: list[tuple[int, bool]] = []
    monkeypatch.setattr(pyav_module, "nvdec_unavailable", lambda uri, gpu: None)
    monkeypatch.setattr(pyav_module, "_hwaccel",
                        lambda gpu, on_device=False: asked.append((gpu, on_device)))  # fmt: skip
    bound: list[int] = []
    monkeypatch.setattr(pyav_module, "_torch_context_current", bound.append)
    logs: list[str] = []
    source = video_source(str(clip), decoder="auto", gpu=1, sample_fps=1000, log=logs.append)
    assert isinstance(source, PyAVSource) and source.decoder == "nvdec"
    frames = _frames(source)
    cpu = _frames(video_source(str(clip), decoder="pyav", sample_fps=1000))
    assert asked == [(1, False)] and [f.t for f in frames] == [f.t for f in cpu]
    assert len(logs) == 1 and "NVDEC" in logs[0]
    # YUV planes: the frames are asked to stay on the GPU (copied there by device_planes)
    yuv = video_source(str(clip), decoder="nvdec", gpu=1, pixels="yuv", sample_fps=1000)
    assert [f.t for f in _frames(yuv)] == [f.t for f in cpu] and asked[-1] == (1, True)
    assert bound == [1]  # torch's context made current on the opening thread first


def test_nvdec_is_said_unavailable_with_a_reason(clip):
    why = nvdec_unavailable(str(clip), gpu=NO_GPU)
    assert why and "\n" not in why


def test_no_gpu_is_said_plainly(clip, monkeypatch):
    """A machine without a CUDA device: said so, not as FFmpeg's PermissionError."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert nvdec_unavailable(str(clip)) == "no NVIDIA GPU here (CUDA sees no device)"


def test_without_pyav_pyav_is_an_error_and_auto_falls_back_to_opencv(clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    with pytest.raises(FieldtoolError, match="needs PyAV"):
        video_source(str(clip), decoder="pyav")
    logs: list[str] = []
    source = video_source(str(clip), decoder="auto", log=logs.append)
    assert type(source) is VideoSource and "PyAV is not installed" in logs[0]


@pytest.mark.parametrize("uri", ["0", "rtsp://127.0.0.1:9/cam"])
def test_live_sources_keep_opencv(uri):
    source = video_source(uri, decoder="pyav")
    assert type(source) is VideoSource and source.live


def test_unknown_decoder_is_refused():
    with pytest.raises(FieldtoolError, match="source.decoder"):
        video_source("x.mp4", decoder="gpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Config.model_validate({"source": {"decoder": "gpu"}})


def test_the_config_picks_the_decoder(tmp_path, clip):
    config = load_config(None, {"source.uri": str(clip), "source.decoder": "pyav",
                                "store.db": str(tmp_path / "s.duckdb"),
                                "model.path": str(DEMO_MODEL)})  # fmt: skip
    source = inputs_from_config(config, lambda message: None).source
    assert isinstance(source, PyAVSource) and source.decoder == "pyav"


def test_a_session_with_pyav_finds_the_sightings_opencv_finds(tmp_path):
    """The demo walk, demo model and its ranges: the same sightings, spans and peaks."""
    found = {}
    for decoder in ("opencv", "pyav"):
        config = load_config(None, {
            "source.uri": str(DEMO_DATA / "walk_west.mp4"), "source.decoder": decoder,
            "position.track": str(DEMO_DATA / "walk_west.gpx"), "model.path": str(DEMO_MODEL),
            "store.db": str(tmp_path / f"{decoder}.duckdb"), "store.snapshots": False,
        })  # fmt: skip
        result = run_from_config(config, log=lambda message: None)
        found[decoder] = [(s.species, s.first_t, s.last_t, s.peak_score) for s in result.sightings]
    assert len(found["opencv"]) >= 3
    assert len(found["pyav"]) == len(found["opencv"])
    for (sp_a, first_a, last_a, peak_a), (sp_c, first_c, last_c, peak_c) in zip(
        found["pyav"], found["opencv"], strict=True
    ):
        assert sp_a == sp_c
        assert abs(first_a - first_c) < 0.5 / 15 and abs(last_a - last_c) < 0.5 / 15
        assert abs(peak_a - peak_c) < 0.02


@pytest.mark.parametrize("how", ["opencv", "pyav", "workers"])
def test_a_file_cut_short_records_the_missing_end_as_a_gap(tmp_path, how):
    """A file cut at half its bytes (an SD card that filled up): the frames up to the cut,
    and the rest of its stated length a gap, whichever decoder reads it: said in the log and
    kept in ``source_gaps``."""
    from fieldtool.decode import segmented_source

    video = write_h264_pyav(tmp_path / "cut.mp4", frames=300, fps=30, bframes=False,
                            index_first=True)  # fmt: skip
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    logs: list[str] = []
    decoder = "opencv" if how == "opencv" else "pyav"
    source = segmented_source(str(video), workers=2 if how == "workers" else 1,
                              decoder=decoder, sample_fps=5, log=logs.append)  # fmt: skip
    frames = _frames(source)
    assert 2.0 < frames[-1].t < 8.0  # the frames before the cut
    end = source.stats.gaps[-1]
    assert "file ends early" in end.reason
    assert frames[-1].t <= end.start_t < frames[-1].t + 0.5 and end.end_t == pytest.approx(10.0)
    assert end.ended_at is not None and end.started_at < end.ended_at
    assert sum("decoding stopped at" in line for line in logs) == 1


def test_opencv_reads_on_past_damage_far_from_the_next_key_frame(tmp_path):
    """Damage early in a long GOP (a key frame every 10 s, as many cameras write): OpenCV's
    decoder found no frame within 5 s past it, so it took the rest of the file (28 of
    40 s) for cut short. It reads on from about the next key frame, with a gap for the
    stretch."""
    video = write_h264_pyav(tmp_path / "gop10s.mp4", frames=600, fps=15, size=(160, 120),
                            bframes=False, gop=150)  # fmt: skip
    data = bytearray(video.read_bytes())
    at = int(len(data) * 0.30)  # about 12 s in: 8 s before the key frame at 20 s
    data[at : at + 2000] = np.random.default_rng(1).integers(0, 255, 2000, np.uint8).tobytes()
    video.write_bytes(bytes(data))
    logs: list[str] = []
    source = VideoSource(str(video), sample_fps=1000, log=logs.append)
    frames = list(source.frames())
    assert frames[-1].t > 39.0  # read on to the end
    times = [f.t for f in frames]
    assert times == sorted(set(times))  # each frame once, in order, after the search
    (gap,) = source.stats.gaps
    # from the damage to the key frame at 20 s, and no more than a little past it (OpenCV
    # seeks a little before its target, so one just past a key frame still lands before)
    assert 5.0 < gap.start_t < 20.0 <= gap.end_t < 22.0 and "damaged" in gap.reason
    assert not [f for f in frames if gap.start_t < f.t < gap.end_t]
    assert any("damaged data after frame" in line for line in logs), logs
    assert not any("stopped at" in line for line in logs), logs


def test_frames_the_decoder_passes_over_without_an_error_are_a_gap(tmp_path):
    """Random bytes over an eighth of a file: FFmpeg reports the first broken packets, then
    passes 60 more frames over without a word. Those 4 s were recorded as surveyed; every
    stretch of frames that never came out is a gap now."""
    video = write_h264_pyav(tmp_path / "g.mp4", frames=450, fps=15, size=(320, 240), gop=250)
    data = bytearray(video.read_bytes())
    at, size = int(len(data) * 0.37), len(data) // 8
    data[at : at + size] = np.random.default_rng(2).integers(0, 255, size, np.uint8).tobytes()
    video.write_bytes(bytes(data))
    source = video_source(str(video), decoder="pyav", sample_fps=1000)
    frames = _frames(source)
    pairs = zip(frames, frames[1:], strict=False)
    holes = [(a.t, b.t) for a, b in pairs if b.index - a.index > 2]
    assert holes and max(b - a for a, b in holes) > 2.0  # the silent stretch is there
    for a, b in holes:
        assert any(g.start_t <= a + 1e-6 and g.end_t >= b - 1e-6 for g in source.stats.gaps), (
            a, b, [(g.start_t, g.end_t) for g in source.stats.gaps])


def _damaged_mid_gop(tmp_path, gop: int, share: float = 0.52):
    """A 30 s clip at 15 fps, a key frame every ``gop`` frames, random bytes over 1,500
    bytes ``share`` of the way in (an error FFmpeg reports, mid-GOP), and the key frames'
    times of the clean clip (s)."""
    import av

    video = write_h264_pyav(tmp_path / f"gop{gop}.mp4", frames=450, fps=15, size=(320, 240),
                            bframes=False, gop=gop)  # fmt: skip
    with av.open(str(video)) as clean:
        stream = clean.streams.video[0]
        keys = [float(f.pts * stream.time_base) for f in clean.decode(stream) if f.key_frame]
    data = bytearray(video.read_bytes())
    at = int(len(data) * share)
    data[at : at + 1500] = np.random.default_rng(52).integers(0, 255, 1500, np.uint8).tobytes()
    video.write_bytes(bytes(data))
    return video, keys


@pytest.mark.parametrize("workers", [1, 2])
def test_frames_decoded_from_damaged_references_are_not_classified(tmp_path, workers):
    """After damage mid-GOP, FFmpeg goes on decoding P-frames whose references the damage
    took (smeared pictures, not flagged corrupt) until the next key frame: they were
    classified, and counted as surveyed. They are passed over now, in the gap, up to the
    next key frame (here 3 s on)."""
    from fieldtool.decode.segments import SegmentedSource

    video, keys = _damaged_mid_gop(tmp_path, gop=45)
    source = (video_source(str(video), decoder="pyav", sample_fps=1000) if workers == 1
              else SegmentedSource(str(video), workers=workers, sample_fps=1000))  # fmt: skip
    frames = _frames(source)
    (gap,) = source.stats.gaps
    assert 10.0 < gap.start_t < 20.0 and "damaged" in gap.reason
    after = [f for f in frames if f.t > gap.start_t]
    assert after and min(abs(after[0].t - k) for k in keys) < 1e-3, (gap, after[0].t, keys)
    assert after[0].t == pytest.approx(gap.end_t)
    assert frames[-1].t > 29.0  # read on to the end


def test_a_long_gop_after_damage_is_passed_over_for_a_bounded_time(tmp_path):
    """No key frame for 16 s after the damage (a long GOP): frames are passed over for at
    most DAMAGE_SETTLE_S, then classified again (a stream may have no later key frame)."""
    from fieldtool.decode.pyav import DAMAGE_SETTLE_S

    video, keys = _damaged_mid_gop(tmp_path, gop=250, share=0.2)
    source = video_source(str(video), decoder="pyav", sample_fps=1000)
    frames = _frames(source)
    (gap,) = source.stats.gaps
    assert not any(gap.start_t < k <= gap.end_t for k in keys)  # no key frame to wait for
    assert DAMAGE_SETTLE_S <= gap.end_t - gap.start_t < DAMAGE_SETTLE_S + 1.0
    assert frames[-1].t > 29.0


@pytest.mark.parametrize("workers", [1, 2])
def test_damage_near_the_end_is_a_gap_to_the_end(tmp_path, workers):
    """A review found: with the decoding processes, frames passed over after damage in the
    file's last key-frame interval left no gap (the gap was only made where a frame came
    after it), and one decoder's gap said it "resumed" where nothing did."""
    from fieldtool.decode.segments import SegmentedSource

    video, keys = _damaged_mid_gop(tmp_path, gop=250, share=0.9)
    source = (video_source(str(video), decoder="pyav", sample_fps=1000) if workers == 1
              else SegmentedSource(str(video), workers=workers, sample_fps=1000))  # fmt: skip
    frames = _frames(source)
    (gap,) = source.stats.gaps
    assert 20.0 < gap.start_t < 29.0 and gap.end_t > 29.5, gap
    assert "damaged" in gap.reason and "resumed" not in gap.reason, gap.reason
    assert not [f for f in frames if f.t > gap.start_t]
