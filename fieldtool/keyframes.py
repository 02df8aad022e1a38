"""Where a damaged video file reads whole again, for OpenCV's reader
(:class:`fieldtool.sources.VideoSource`): the key frames after the damage, from the
container's packets (PyAV's demuxer, nothing decoded), and reading on to the first of them
that decodes.

Why read on: OpenCV's seek (``CAP_PROP_POS_MSEC``) starts 16 frames before its target, so
a target within 16 frames after a key frame lands on the key frame before it, in the
damage, and fails; the earliest target a seek reads on from is 16 frames past the key
frame, and those 16 frames were lost. Reading on from where the damage stopped the
decoder passes the damaged packets (each failed ``grab()`` reads past one) and the frames
decoded from references the damage took (not the file's pictures: left out, as PyAV's
reader leaves them out, :class:`~fieldtool.decode.pyav.AfterDamage`), and stops at the
first key frame after the damage that decodes: the first frame whole again. The seek
search stays for what this cannot do (no PyAV, no timestamps, damage over every key frame
listed): :func:`resume_at` is one of its tries.
"""

from __future__ import annotations

import cv2

from fieldtool.mediaclock import MediaClock

KEYS_TRIED = 3  # key frames after the damage read on to, at most, before the seek search


def key_frames_after(uri: str, after_s: float, count: int = KEYS_TRIED) -> list[float]:
    """Media times (s from the video stream's start, as OpenCV's ``CAP_PROP_POS_MSEC``
    counts) of the first ``count`` key frames later than ``after_s``, as the container's
    packets flag them; those found before PyAV fails. [] without PyAV or timestamps, or
    where the seek to ``after_s`` lands after it (a container without an index, MPEG-TS:
    a key frame skipped would cost the frames up to the next)."""
    try:
        import av
    except ImportError:
        return []
    keys: list[float] = []
    try:
        with av.open(uri) as container:
            stream = container.streams.video[0]
            base, zero = float(stream.time_base or 0), stream.start_time or 0
            if not base:
                return []
            container.seek(zero + int(after_s / base), stream=stream, backward=True,
                           any_frame=False)  # fmt: skip
            for n, packet in enumerate(container.demux(stream)):
                t = (packet.pts - zero) * base if packet.pts is not None else -1.0
                if n == 0 and t > after_s + 1e-6:
                    return []
                if packet.is_keyframe and packet.size and t > after_s + 1e-6:
                    keys.append(t)
                    if len(keys) >= count:
                        break
    except (av.FFmpegError, IndexError, OSError, ValueError):
        pass  # the damage itself may stop the demuxer: the key frames before it stand
    return keys


def read_on(cap: cv2.VideoCapture, clock: MediaClock, index: int, uri: str) -> int | None:
    """After ``cap.grab()`` failed past frame ``index`` of ``uri`` (timed by its pts):
    grab on, frame by frame, to the first of :func:`key_frames_after` the damage that
    decodes; the capture then holds it. Its frame number (its time x the frame rate, as
    OpenCV numbers a frame it seeks to), or None where none of them decodes (the capture
    is then anywhere: the seek search goes on from the last frame read)."""
    keys = key_frames_after(uri, clock.furthest_pts)
    if not keys:
        return None
    # s: a key frame's own time, as the two demuxers may round it; under half a frame,
    # as a variable-rate file's frames may come faster than its average rate
    near = 0.25 / clock.fps
    # every frame up to the last key frame, and as many failures (damaged packets)
    for _ in range(2 * round((keys[-1] - clock.furthest_pts) * clock.fps) + 64):
        if not cap.grab():
            continue  # a damaged packet read past (or the file's end: the loop ends)
        t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if any(abs(t - key) <= near for key in keys):
            return max(index + 1, round(t * clock.fps))
        if t > keys[-1] + near:
            return None
    return None


def resume_at(cap: cv2.VideoCapture, clock: MediaClock, index: int, skip: float) -> int | None:
    """Seek ``skip`` s past the furthest frame read, grab on to the first later one (each
    resume further on, after timestamps jumping back too: it ends); its index, or None."""
    fps = clock.fps
    if clock.mode == "pts":
        moved = cap.set(cv2.CAP_PROP_POS_MSEC, (clock.furthest_pts + skip) * 1000.0)
    else:
        moved = cap.set(cv2.CAP_PROP_POS_FRAMES, index + 1 + round(skip * fps))
    if not moved:
        return None
    for _ in range(round(fps * (skip + 10)) + 2):
        if not cap.grab():
            return None
        if clock.mode == "pts":
            later = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 > clock.furthest_pts + 1e-6
        else:
            later = cap.get(cv2.CAP_PROP_POS_FRAMES) - 1 > index
        if later:
            return max(index + 1, int(cap.get(cv2.CAP_PROP_POS_FRAMES)) - 1)
    return None
