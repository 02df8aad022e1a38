"""Video files with true, uneven presentation times, muxed by Debian's ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

NO_FFMPEG = "Debian's ffmpeg is not installed (apt-get install ffmpeg; .ci/run installs it)"


@pytest.fixture
def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None or shutil.which("ffprobe") is None:
        pytest.skip(NO_FFMPEG)
    return found


def write_vfr(ffmpeg: str, path: Path, durations: Sequence[float], size=(128, 96)) -> Path:
    """An H.264 video whose frame i lasts ``durations[i]`` seconds (a phone's variable rate):
    PNG frames (a box moving across), an ffconcat list of per-image durations, muxed by
    ffmpeg into ``path`` (MKV or MP4 by its extension)."""
    folder = path.parent / f"{path.stem}-frames"
    folder.mkdir()
    lines = ["ffconcat version 1.0"]
    for i, seconds in enumerate(durations):
        image = np.full((size[1], size[0], 3), (40, 90, 40), np.uint8)
        x = (i * 3) % (size[0] - 20)
        image[30:60, x : x + 20] = (0, 0, 255)
        cv2.imwrite(str(folder / f"{i:04d}.png"), image)
        lines += [f"file {i:04d}.png", f"duration {seconds}"]
    listing = folder / "frames.ffconcat"
    listing.write_text("\n".join(lines) + "\n")
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i",
         str(listing), "-fps_mode", "vfr", "-c:v", "libx264", "-g", "30", "-pix_fmt",
         "yuv420p", str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path


def write_raw_h264(ffmpeg: str, path: Path, fps: int, seconds: float) -> Path:
    """A raw H.264 elementary stream (no container, no timestamps) recorded at ``fps``."""
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
         f"testsrc=size=128x96:rate={fps}:duration={seconds}", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-f", "h264", str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path


def presentation_times(path: Path) -> list[float]:
    """Each frame's presentation time in seconds, as ffprobe reads it from the container."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return [float(line.strip().strip(",")) for line in out.splitlines() if line.strip(", ")]


def write_h264_pyav(path: Path, frames: int = 60, fps: int = 30, size=(320, 240),
                    bframes: bool = True, index_first: bool = False, rotation: int = 0,
                    gop: int = 30) -> Path:
    """An H.264 MP4 encoded by PyAV's bundled libx264 (no ffmpeg binary needed): a colour
    gradient with a box moving across it, key frame every ``gop`` frames, B-frames unless
    ``bframes`` is False (so presentation order differs from decode order). ``index_first``:
    the MP4's index before the frames (``faststart``), so a file cut short still opens.
    ``rotation``: degrees counter-clockwise the container's display matrix says to turn the
    frames by to show them (a phone held upright records its frames sideways so)."""
    import av

    width, height = size
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    options = {"movflags": "faststart"} if index_first else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(gop), "crf": "18",
                          "bf": "2" if bframes else "0"}  # fmt: skip
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            image = np.empty((height, width, 3), np.uint8)
            image[..., 0] = ramp
            image[..., 1] = rows
            image[..., 2] = (ramp + rows + 8 * i) % 256
            x = (i * 5) % (width - 40)
            image[height // 3 : height // 3 + 40, x : x + 40] = (0, 0, 255)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def late_clip(tmp_path_factory) -> Path:
    """90 B-frame H.264 frames at 30 fps with every timestamp doubled (``setts=ts=TS*2``)
    in an MKV: the container still says 30 fps, the frames are 1/15 s apart, and the
    decoder puts out about one frame in three after a later one."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or shutil.which("ffprobe") is None:
        pytest.skip(NO_FFMPEG)
    folder = tmp_path_factory.mktemp("late")
    encoded = write_h264_pyav(folder / "b.mp4", frames=90, fps=30, size=(160, 120))
    slow = folder / "slow.mkv"
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", "-i", str(encoded), "-c", "copy",
         "-bsf:v", "setts=ts=TS*2", str(slow)],
        check=True, timeout=120,
    )  # fmt: skip
    return slow
