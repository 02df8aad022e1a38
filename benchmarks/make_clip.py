"""An H.264 MP4 for the decode benchmarks, encoded by PyAV's bundled libx264 (no ffmpeg
binary, no download): moving grain over a drifting gradient with a box crossing it, so the
encoder spends bits as on real footage; key frame every second, B-frames (a camera's or
phone's usual stream).

    python benchmarks/make_clip.py /tmp/clip.mp4                       # 1080p, 300 frames
    python benchmarks/make_clip.py /tmp/small.mp4 --size 320x240 --frames 60
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def make_clip(path: Path, width: int = 1920, height: int = 1080, frames: int = 300,
              fps: int = 30, preset: str = "veryfast", crf: int = 23,
              rotation: int = 0) -> Path:  # fmt: skip
    """Write the clip to ``path`` (MP4) and return it; ``rotation``: degrees counter-clockwise
    its display matrix says to turn the frames by (a phone's portrait video)."""
    import av

    rng = np.random.default_rng(0)
    grain = rng.integers(0, 48, (height, width + 64), np.uint8)  # shifted: it moves
    x = np.linspace(0, 160, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 160, height, dtype=np.float32)[:, None]
    base = np.empty((height, width, 3), np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": str(crf), "g": str(fps), "bf": "2"}
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            base[..., 0] = (x + 2 * i) % 256
            base[..., 1] = (y + i) % 256
            base[..., 2] = 90
            image = base + grain[:, i % 64 : i % 64 + width, None]
            side = height // 5
            left = (i * width // max(frames, 1)) % (width - side)
            image[height // 3 : height // 3 + side, left : left + side] = (30, 60, 200)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", type=Path)
    p.add_argument("--size", type=parse_size, default=(1920, 1080), help="WxH (1920x1080)")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--preset", default="veryfast", help="libx264 preset")
    args = p.parse_args()
    start = time.perf_counter()
    make_clip(args.path, *args.size, frames=args.frames, fps=args.fps, preset=args.preset)
    print(f"{args.path}: {args.size[0]}x{args.size[1]} H.264, {args.frames} frames at "
          f"{args.fps} fps, {args.path.stat().st_size / 2**20:.1f} MiB, made in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
