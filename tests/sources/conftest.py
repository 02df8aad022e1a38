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
