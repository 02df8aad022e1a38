"""Media time of a file's frames, whichever decoder reads it (OpenCV, PyAV, decoding
processes): the presentation timestamps while they are sane, else frame number / rate."""

from __future__ import annotations

import bisect
import math
import struct
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fieldtool.types import FieldtoolError

RAW_SUFFIXES = (".h264", ".264", ".avc", ".h265", ".265", ".hevc")  # elementary streams
MAX_PTS_STEP_S = 60.0  # a longer step between two frames' timestamps is a discontinuity
RECENT_PTS = 32  # timestamps a late frame is placed among (a decoder reorders fewer)


def stopped_early(uri: str, last_t: float, frame_count: int | None, fps: float,
                  max_frames: int | None, log: Callable[[str], None],
                  cause: str = "file truncated or damaged") -> float | None:  # fmt: skip
    """The file's stated length (``frame_count`` / ``fps``, s) when its frames stopped at
    ``last_t`` (s) well before it without ``max_frames`` asking so (a file cut short or
    damaged to its end, ``cause`` says which where known: said in the log); else None."""
    duration = frame_count / fps if frame_count and fps else 0.0
    if max_frames is None and last_t < duration - max(1.0, duration / 20):
        log(f"{uri}: decoding stopped at {last_t:.1f} s of about {duration:.1f} s ({cause}); "
            "sightings so far are kept")  # fmt: skip
        return duration
    return None


class MediaClock:
    """Media time of each decoded frame of a file: its presentation timestamp while those
    are sane, else frame index / ``fps``, said once in the log.

    A frame a decoder puts out late (its timestamp fills a hole left between two earlier
    frames': a B-frame the decoder's reorder buffer let others pass) keeps its own
    timestamp, earlier than :attr:`last_t`, so a caller sampling by time passes it over;
    later frames keep theirs. Only a true discontinuity (timestamps going back not into a
    hole, a step forward over :data:`MAX_PTS_STEP_S`, or a frame without one) moves an
    offset, from which later frames go on."""

    def __init__(self, uri: str, fps: float, *, known: bool, invented: bool,
                 log: Callable[[str], None]) -> None:  # fmt: skip
        self.uri = uri
        self.fps = fps
        self.known = known  # the file gives its frame rate
        self._log = log
        self.mode: Literal["pts", "frame rate"] = "pts"
        self.last_pts = 0.0  # the latest timestamp so far (late frames aside), s
        self.furthest_pts = 0.0  # the highest timestamp so far (before any jump back too), s
        self.last_t = 0.0  # the latest media time so far (late frames aside), s
        self.late = 0  # frames put out after a later one, each kept at its own timestamp
        self._frames = 0
        self._offset = 0.0  # media time - timestamp, moved at each discontinuity
        self._recent: deque[float] = deque(maxlen=RECENT_PTS)  # timestamps since it moved
        self._jumped = False
        if invented:  # FFmpeg made the timestamps up from a rate it assumed
            self._fall_back()

    @property
    def timing(self) -> str:
        if self.mode == "pts":
            return "pts"
        return "frame rate" if self.known else "assumed frame rate"

    def _fall_back(self) -> None:
        self.mode = "frame rate"
        if self.known:
            self._log(f"{self.uri}: no timestamps: times from the frame rate ({self.fps:g} fps)")
        else:
            self._log(
                f"{self.uri}: frame rate unknown, assumed {self.fps:g} fps: times are frame "
                f"number / {self.fps:g} (give the true rate as source.assume_fps)"
            )

    def check_end(self, last_index: int) -> None:
        """At the end of decoding: a one-line error when no frame was decoded
        (``last_index`` < 0)."""
        if last_index < 0:
            raise FieldtoolError(f"{self.uri}: no frame could be decoded (corrupt or not a video)")

    def _fills_hole(self, pts: float) -> bool:
        """True when ``pts`` (s, behind :attr:`last_pts`) lies in a hole between two recent
        timestamps (a step over 1.5 of the smallest recent one or frame period, no
        timestamp repeated): a frame the decoder put out late, not timestamps going back.
        The frame period counts too as the first late frame may come before a step the
        size of one was seen."""
        ordered = sorted(self._recent)
        steps = [b - a for a, b in zip(ordered, ordered[1:], strict=False) if b - a > 1e-6]
        at = bisect.bisect_left(ordered, pts)
        if at == 0 or at == len(ordered):
            return False
        below, above = ordered[at - 1], ordered[at]
        step = min([*steps, 1.0 / self.fps])
        return min(pts - below, above - pts) > 1e-6 and above - below > 1.5 * step

    def _jump(self, index: int, pts: float | None) -> float:
        """A discontinuity at frame ``index``: media time goes on one frame after the
        last, later frames from there (said once in the log)."""
        t = self.last_t + 1.0 / self.fps
        if pts is not None:
            self._offset = t - pts
            self._recent.clear()
        if not self._jumped:
            self._jumped = True
            seen = f"{pts:.3f} s" if pts is not None else "none"
            self._log(f"{self.uri}: timestamps jump at frame {index} ({self.last_pts:.3f} s to "
                      f"{seen}); times go on from {t:.3f} s")  # fmt: skip
        return t

    def time(self, index: int, msec: float) -> float:
        """Media time (s) of frame ``index`` whose ``CAP_PROP_POS_MSEC`` is ``msec``; a
        late frame's is below :attr:`last_t` (see the class)."""
        self._frames += 1
        pts = msec / 1000.0 if math.isfinite(msec) and msec >= 0 else None
        self.furthest_pts = max(self.furthest_pts, pts or 0.0)
        if self.mode != "pts":
            t = index / self.fps
        elif self._frames == 1:
            t = pts if pts is not None else index / self.fps
        elif self._frames == 2 and (pts is None or pts <= self.last_pts):
            self._fall_back()  # every frame at 0 (or none): the file has no timestamps
            t = index / self.fps
        elif pts is not None and 0 < pts - self.last_pts <= MAX_PTS_STEP_S:
            t = pts + self._offset
        elif pts is not None and pts < self.last_pts and self._fills_hole(pts):
            self.late += 1
            if self.late == 1:
                self._log(f"{self.uri}: frame {index} came out of order ({pts:.3f} s after "
                          f"{self.last_pts:.3f} s): frames keep their own timestamps, one "
                          "that comes after a later one is passed over")  # fmt: skip
            self._recent.append(pts)
            return pts + self._offset  # neither last_t nor last_pts: later frames go on
        else:
            t = self._jump(index, pts)
        if pts is not None and self.mode == "pts":
            self.last_pts = pts
            self._recent.append(pts)
        self.last_t = t
        return t


def invented_timing(path: Path) -> bool:
    """True for files whose frame times FFmpeg makes up from a rate it assumes (25 fps):
    raw H.264 / H.265 streams and AVIs whose headers give no frame rate."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    if path.suffix.lower() in RAW_SUFFIXES:
        return True
    body = head.lstrip(b"\0")
    if 2 <= len(head) - len(body) <= 3 and body[:1] == b"\x01" and len(body) > 1:
        # an Annex B start code: H.264 (AUD, SPS, SEI, IDR) or H.265 (VPS, SPS, AUD, SEI)
        return body[1] in (0x09, 0x67, 0x27, 0x47, 0x06, 0x65, 0x25, 0x40, 0x42, 0x46, 0x4E)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        avih = head.find(b"avih")
        usec = struct.unpack_from("<I", head, avih + 8)[0] if 0 <= avih < len(head) - 12 else 0
        strh = head.find(b"strh")
        while 0 <= strh < len(head) - 36:
            if head[strh + 8 : strh + 12] == b"vids":
                scale, rate = struct.unpack_from("<II", head, strh + 28)
                return not ((scale and rate) or usec)
            strh = head.find(b"strh", strh + 4)
    return False
