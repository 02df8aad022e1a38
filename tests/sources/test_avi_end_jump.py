"""A camera trap's H.264 AVI whose last frames (B-frames the decoder gives up only when
the file ends) carry no timestamp: OpenCV times them 0 s, a jump back at the very end of
the file. Its end then read as damage, and the search past it, seeking from 0 s, read
the file again and again forever (the trial's 3 s clip: 148,500 frames in 10 minutes)."""

from __future__ import annotations

from fieldtool.sources import VideoSource
from tests.sources.conftest import write_h264_pyav


def test_a_timestamp_jump_back_at_the_end_of_an_avi_is_its_end_not_damage(tmp_path):
    """15 frames at 5 fps with B-frames in an AVI (the trial's IMG_0012.AVI: OpenCV times
    its last two frames 0 s): 15 frames, each once, and no gap."""
    video = write_h264_pyav(tmp_path / "trap.avi", frames=15, fps=5, size=(64, 48))
    logs: list[str] = []
    # max_frames only bounds the test where the source would loop: it is far past 15
    source = VideoSource(str(video), sample_fps=1000, max_frames=100, log=logs.append)
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(15)), logs
    times = [f.t for f in frames]
    assert times == sorted(set(times)) and times[-1] < 3.5, times
    assert source.stats.frames_read == 15
    assert source.stats.gaps == [], source.stats.gaps
    assert not any("damaged" in line for line in logs), logs
