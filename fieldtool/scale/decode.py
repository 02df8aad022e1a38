"""CPU decode: one plan row -> its sampled frames, as Ray Data rows (a ``flat_map`` task).

Frames come from :class:`fieldtool.sources.VideoSource`, built from the file's config as
``fieldtool run`` builds it, so the frames sampled and their media times are ``run``'s; a
photo unit's from :class:`fieldtool.photos.PhotoSource` (:func:`fieldtool.pipeline.photo_placement`,
as ``run`` sets up a photo session), each photo a frame with its ``photo`` path and its
event as ``segment``. A file that cannot be read gives one row with ``index`` -1 and its
``error``: it fails alone, the batch goes on.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fieldtool.config import Config
from fieldtool.photos import Photo, PhotoMedia, PhotoSource
from fieldtool.placement import Placement
from fieldtool.scale import plan
from fieldtool.scale.plan import parse_place, sidecar_uri
from fieldtool.snapshots import SNAPSHOT_MAX_WIDTH
from fieldtool.sources import VideoSource
from fieldtool.timebase import TimeBasis
from fieldtool.tracks import PositionProvider
from fieldtool.types import FieldtoolError, FrameSource

JPEG_QUALITY = 90


def file_config(config: Config, row: dict[str, Any], local: str, track: str | None) -> Config:
    """The config ``fieldtool run`` would get for this file: its path, and the manifest's
    track, place (as ``--lat/--lon``), start time (and a package's deployment) where given.
    No live view or preview in a batch. (``camera_id`` names the session: the source's
    name, :mod:`fieldtool.scale.post`.)"""
    data = config.model_dump()
    data["source"]["uri"] = local
    if row.get("start_time"):
        data["source"]["start_time"] = datetime.fromisoformat(row["start_time"])
    if track:
        data["position"]["track"] = Path(track)
    if row.get("place"):  # a fixed camera: every frame at this point (read_manifest checked it)
        data["position"]["lat"], data["position"]["lon"] = parse_place(row["place"])
    if row.get("deployment"):  # a package's unit: the photos of one deployment
        data["photos"]["deployment"] = row["deployment"]
    data["store"]["live_frame_interval_s"] = 0.0
    data["store"]["preview"] = None
    return Config.model_validate(data)


def open_file(config: Config, log: Callable[[str], None]) -> tuple[VideoSource, Placement]:
    """The file's source and placement, as ``fieldtool run`` opens them
    (:func:`fieldtool.pipeline.video_placement`; the model is loaded once per actor)."""
    from fieldtool.pipeline import video_placement

    return video_placement(config, log)


def open_photos(
    config: Config, log: Callable[[str], None], leave_out: dict[str, str] | None = None
) -> tuple[PhotoSource, PositionProvider | None, TimeBasis]:
    """A photo unit's source, positions and time basis, as ``fieldtool run`` sets up a
    photo session (:func:`fieldtool.pipeline.photo_placement`), less ``leave_out`` (its
    photos run before in another unit: :mod:`fieldtool.scale.copies`)."""
    from fieldtool.pipeline import photo_placement

    return photo_placement(config, log, leave_out=leave_out)


def unit_photos(config: Config, row: dict[str, Any]) -> list[Photo]:
    """A photo unit's photos as its run times them (EXIF only, no pixels but the first
    photo's), for the copy check's file name and capture time rule
    (:mod:`fieldtool.scale.copies`); none where the unit cannot be read (its decode says why)."""
    try:
        with local_file(row["track"] or "") as track:
            cfg = file_config(config, row, row["path"], track or None)
            source, _, _ = open_photos(cfg, lambda line: None)
    except (OSError, FieldtoolError):
        return []
    return list(source.photos)


def open_unit(
    config: Config, row: dict[str, Any], log: Callable[[str], None]
) -> tuple[FrameSource, PositionProvider | None, TimeBasis]:
    """A plan row's source, positions and time basis: a video file's (its placement) or a
    photo unit's."""
    if row.get("kind") == "photos":
        if "://" in row["path"] and not row["path"].startswith("file://"):
            raise FieldtoolError(f"{row['path']}: photos are read from local paths only")
        return open_photos(config, log, json.loads(row.get("leave_out") or "{}"))
    video, placement = open_file(config, log)
    return video, placement.positions, placement.time


@contextmanager
def local_file(uri: str, beside: bool = False) -> Iterator[str]:
    """A local path for ``uri``: the path itself, or a temporary copy of a remote file
    (OpenCV reads local files only), removed afterwards. ``beside`` (a video): the DJI SRT
    and the GPX beside a remote one are copied beside it too, as its run reads them there
    and its key holds them (:func:`~fieldtool.scale.plan.sidecar_uri`)."""
    if "://" not in uri or uri.startswith("file://"):
        yield uri.removeprefix("file://")
        return
    folder = tempfile.mkdtemp(prefix="fieldtool-batch-")
    try:
        target = _copy(uri, folder)
        for ext in ("srt", "gpx") if beside else ():
            if (found := sidecar_uri(uri, ext)) is not None:
                _copy(found, folder)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy(uri: str, folder: str) -> str:
    """Copy a remote file into ``folder`` under its own name and modification time (an SRT
    without dates is timed by it, as a local one); the copy's path."""
    filesystem, path = plan._filesystem(uri)
    target = os.path.join(folder, os.path.basename(path))
    with filesystem.open_input_stream(path) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 2**20)
    if (mtime := filesystem.get_file_info(path).mtime_ns) is not None:
        os.utime(target, ns=(mtime, mtime))
    return target


def thumbnail(image: np.ndarray, keep_max_side: int) -> bytes:
    """JPEG of a frame as the pipeline would snapshot it: scaled to ``keep_max_side`` (as
    the reader keeps frames), then to :data:`SNAPSHOT_MAX_WIDTH`."""
    h, w = image.shape[:2]
    scale = 1.0
    if keep_max_side and max(h, w) > keep_max_side:
        scale = keep_max_side / max(h, w)
    if w * scale > SNAPSHOT_MAX_WIDTH:
        scale = SNAPSHOT_MAX_WIDTH / w
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data.tobytes() if ok else b""


def _row(key: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"batch_key": key, "index": -1, "t": 0.0, "height": 0, "width": 0,
                           "image": b"", "thumb": b"", "frames_read": 0, "end": "", "error": "",
                           "photo": "", "segment": ""}  # fmt: skip
    row.update(values)
    return row


def decode_frames(row: dict[str, Any], config: Config) -> Iterator[dict[str, Any]]:
    """Sampled frames of one plan row: ``index``, ``t`` (media s), the BGR image as bytes
    with ``height`` x ``width`` (x 3), a snapshot JPEG (``thumb``, when snapshots are on),
    ``frames_read`` so far, and for photos the ``photo`` (its path) and ``segment`` (its
    event). The last row of a file has ``end``: JSON with the media length, the source's
    damage gaps and (photos) the skipped ones; a file that fails gives one row with
    ``error``."""
    key = row["batch_key"]
    notes: list[str] = []
    try:
        photos = row.get("kind") == "photos"
        unit = nullcontext(row["path"]) if photos else local_file(row["path"], beside=True)
        with unit as local, local_file(row["track"] or "") as track:
            cfg = file_config(config, row, local, track or None)
            source, _, _ = open_unit(cfg, row, notes.append)
            keep = config.source.keep_max_side
            last = None
            for frame in source.frames():
                if last is not None:
                    yield last
                h, w = frame.image.shape[:2]
                thumb = thumbnail(frame.image, keep) if config.store.snapshots else b""
                last = _row(key, index=frame.index, t=frame.t, height=h, width=w,
                            image=np.ascontiguousarray(frame.image).tobytes(), thumb=thumb,
                            frames_read=source.stats.frames_read, photo=frame.path or "",
                            segment=frame.segment or "")  # fmt: skip
            if last is None:
                raise FieldtoolError(f"{row['path']}: no frame decoded")
            gaps = [(g.start_t, g.end_t, g.reason) for g in source.stats.gaps]
            # Media time decoded (all of it, unless max_frames stopped early).
            read = source.stats.frames_read
            # Photos: no media length (no hours of video); the photos skipped, for the session.
            duration = read / source.fps if source.fps else 0.0 if photos else last["t"]
            skipped = source.skipped_summary() if isinstance(source, PhotoMedia) else None
            last["frames_read"] = read
            last["end"] = json.dumps({"duration_s": duration, "gaps": gaps, "notes": notes,
                                      "skipped": skipped})  # fmt: skip
            yield last
    except Exception as exc:  # the file fails alone; its error is recorded
        message = " ".join(str(exc).split()) or type(exc).__name__
        yield _row(key, error=message[:1000])


def frame_image(row: dict[str, Any]) -> np.ndarray:
    """(H, W, 3) uint8 BGR image of a decoded row."""
    data = np.frombuffer(row["image"], np.uint8)
    return data.reshape(int(row["height"]), int(row["width"]), 3)
