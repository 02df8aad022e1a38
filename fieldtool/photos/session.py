"""What a session over photos does besides what it does over a video.

:class:`PhotoSteps` is the pipeline's photo work, per frame: the photo's own place (EXIF GPS
or deployment), its ``media`` row, and in plot mode its species set. Sightings, smoothing
and the tracker are the video's, restarted at each event (``Frame.segment``) by the
pipeline; over photos a sighting may open on one photo (``min_duration_s`` 0: a photo is
evidence by itself) and bridges gaps up to the sequence gap (:meth:`PhotoSteps.session_config`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from fieldtool.camtrap.read import is_package, package_photos, read_package
from fieldtool.config import Config
from fieldtool.photos.files import expand_photos, is_photo_input
from fieldtool.photos.plot import plot_scores, species_set
from fieldtool.photos.source import Photo, PhotoItem, PhotoSource
from fieldtool.store import SightingStore
from fieldtool.types import Deployment, Frame, LabelSet, Position


class Prior(Protocol):
    """The session's prior stage: (..., C) probabilities reweighted for a place."""

    def apply(self, probs: np.ndarray, position: Position | None) -> np.ndarray: ...


@runtime_checkable
class PhotoMedia(Protocol):
    """What the pipeline asks of a photo source beyond a source's frames."""

    sequence_gap_s: float

    def photo(self, index: int) -> Photo: ...

    def skipped_summary(self) -> str | None: ...


def is_photos(uri: str) -> bool:
    """Whether ``uri`` names photos: a photo, a folder, a glob, or a Camtrap DP package."""
    return is_photo_input(uri) or is_package(uri)


def photo_source_from_config(
    config: Config, log: Callable[[str], None], deployments: Sequence[Deployment] = ()
) -> PhotoSource:
    """The photos ``config.source.uri`` names (a photo, a folder, a glob), or the local
    photos of a Camtrap DP package with its deployments (their places and times)."""
    src, pos = config.source, config.position
    place = (pos.lat, pos.lon) if pos.lat is not None and pos.lon is not None else None
    photos: list[Path] | list[PhotoItem]
    if is_package(src.uri):
        found, package_deployments = package_photos(read_package(src.uri))
        photos = [PhotoItem(p.path, p.deployment_id, p.timestamp) for p in found]
        deployments = [*deployments, *package_deployments]
        log(f"{src.uri}: Camtrap DP package, {len(photos)} local photos, "
            f"{len(package_deployments)} deployments")  # fmt: skip
    else:
        photos = expand_photos(src.uri, log)
    return PhotoSource(
        photos, deployments=deployments,
        sequence_gap_s=config.photos.sequence_gap_s, tz=src.tz, place=place, uri=src.uri,
        max_frames=src.max_frames, log=log,
    )  # fmt: skip


class PhotoSteps:
    """One session's photo work (module doc). ``species_sets``: plot mode's output, one
    (photo path, [(species, score), ...]) per photo, in frame order."""

    def __init__(self, media: PhotoMedia, labels: LabelSet, config: Config) -> None:
        self.media = media
        self.labels = labels
        self.cfg = config.photos
        self._background = labels.background_mask
        self.species_sets: list[tuple[str, list[tuple[str, float]]]] = []

    def session_config(self, config: Config) -> Config:
        """``config`` as a photo session runs it: a sighting may open on one photo and
        bridges gaps up to the sequence gap; plot mode keeps at least ``plot_top_n``
        species per detection (so ``fieldtool eval`` sees the whole set)."""
        smoothing = config.smoothing.model_copy(update={
            "min_duration_s": 0.0,
            "max_gap_s": max(config.smoothing.max_gap_s, self.media.sequence_gap_s),
        })  # fmt: skip
        model = config.model
        if self.cfg.plot:
            model = model.model_copy(update={"top_k": max(model.top_k, self.cfg.plot_top_n)})
        return config.model_copy(update={"smoothing": smoothing, "model": model})

    def position(self, frame: Frame) -> Position | None:
        """The photo's own place (EXIF GPS, else its deployment's); None: ask the session's."""
        return self.media.photo(frame.index).position

    def scores(
        self, frame: Frame, raw: np.ndarray, tile_probs: np.ndarray, prior: Prior,
        position: Position | None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The photo's (C,) raw and fused scores. Plot mode: per species the maximum over
        its (T, C) tiles, fused with the prior tile by tile (each tile is one plant's
        view); the photo's species set, from the fused scores, goes to :attr:`species_sets`."""
        if not self.cfg.plot:
            return raw, prior.apply(raw, position)
        raw = plot_scores(tile_probs, self._background)
        fused = plot_scores(prior.apply(tile_probs, position), self._background)
        found = species_set(fused, self.labels, self.cfg.plot_threshold, self.cfg.plot_top_n)
        self.species_sets.append((str(frame.path), found))
        return raw, fused

    def record(self, store: SightingStore, session_id: str, frame: Frame) -> None:
        """The photo's ``media`` row."""
        p = self.media.photo(frame.index)
        store.record_media(
            session_id, frame.index, str(p.path), p.captured_at, event_id=p.event_id,
            camera=p.camera, position=p.own_position, size=p.size, time_source=p.time_source,
        )  # fmt: skip
