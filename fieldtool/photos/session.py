"""What a session over photos does besides what it does over a video.

:class:`PhotoSteps` is the pipeline's photo work, per frame: the photo's own place (EXIF GPS
or deployment), its ``media`` row, and in plot mode its species set. Sightings, smoothing
and the tracker are the video's, restarted at each event (``Frame.segment``) by the
pipeline; over photos a sighting may open on one photo (``min_duration_s`` 0: a photo is
evidence by itself) and bridges gaps up to the sequence gap (:meth:`PhotoSteps.session_config`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from fieldtool.camtrap.read import (
    by_deployment,
    is_package,
    package_photos,
    read_package,
    skipped_line,
    skipped_media,
    untaken_line,
)
from fieldtool.config import Config, SmoothingConfig
from fieldtool.photos.files import expand_photos, is_photo_input
from fieldtool.photos.held import HeldCheck
from fieldtool.photos.plot import plot_scores, species_set
from fieldtool.photos.source import Photo, PhotoItem, PhotoSource
from fieldtool.sources import source_key
from fieldtool.store import SightingStore
from fieldtool.tracks import (
    PositionProvider,
    TrackPositions,
    TrackRead,
    positions_from_config,
    read_track,
    track_in_utc,
)
from fieldtool.types import Deployment, FieldtoolError, Frame, LabelSet, Position


class Prior(Protocol):
    """The session's prior stage: (..., C) probabilities reweighted for a place."""

    def apply(self, probs: np.ndarray, position: Position | None) -> np.ndarray: ...


@runtime_checkable
class PhotoMedia(Protocol):
    """What the pipeline asks of a photo source beyond a source's frames."""

    sequence_gap_s: float

    def photo(self, index: int) -> Photo: ...

    def picture_sha256(self, path: str | Path) -> str: ...

    def skipped_summary(self) -> str | None: ...


def is_photos(uri: str) -> bool:
    """Whether ``uri`` names photos: a photo, a folder, a glob, or a Camtrap DP package."""
    return is_photo_input(uri) or is_package(uri)


def package_deployments(uri: str) -> list[str]:
    """The deploymentIDs of a Camtrap DP package that have local photos, in
    ``deployments.csv`` order (``fieldtool batch`` plans a unit for each)."""
    pkg = read_package(uri)
    found, _ = package_photos(pkg)
    return [d.deployment_id for d, _ in by_deployment(pkg, found)]


def _package_photos(
    uri: str, log: Callable[[str], None], only: str | None = None
) -> tuple[list[tuple[Deployment, list[PhotoItem]]], list[Deployment]]:
    """A Camtrap DP package's local photos, one group per deployment that has any (in
    ``deployments.csv`` order; ``only``: that deploymentID's group alone, a FieldtoolError
    naming the others when it has none), and all its deployments; the package's line goes
    to ``log`` (photos, deployments, the media rows skipped and why), then a line on the
    observations of deployments without local photos, which are not taken."""
    pkg = read_package(uri)
    found, deployments = package_photos(pkg)
    groups = [(d, [PhotoItem(p.path, p.deployment_id, p.timestamp) for p in photos])
              for d, photos in by_deployment(pkg, found)]  # fmt: skip
    with_photos = f" ({len(groups)} with local photos)" if len(groups) < len(deployments) else ""
    skipped = skipped_line(skipped_media(pkg))
    log(f"{uri}: Camtrap DP package, {len(found)} local photos, {len(deployments)} deployments"
        f"{with_photos}" + (f"; {skipped}" if skipped else ""))  # fmt: skip
    if untaken := untaken_line(pkg, {d.deployment_id for d, _ in groups}):
        log(f"{uri}: {untaken}")
    if only is not None:
        chosen = [(d, items) for d, items in groups if d.deployment_id == only]
        if not chosen:
            known = ", ".join(d.deployment_id for d, _ in groups) or "none"
            raise FieldtoolError(f"{uri}: no deployment {only!r} with local photos "
                                 f"(deployments with local photos: {known})")  # fmt: skip
        groups = chosen
    return groups, deployments


def deployment_name(uri: str, deployment: str | None) -> str:
    """``uri`` as lines name it: with `` [deployment ID]`` where one of a package's
    deployments is meant (``--deployment``, a batch unit)."""
    return f"{uri} [deployment {deployment}]" if deployment else uri


def only_deployment(config: Config) -> str | None:
    """``photos.deployment`` (a deploymentID or None); a FieldtoolError when it is given
    and ``source.uri`` is not a Camtrap DP package."""
    only = config.photos.deployment
    if only is not None and not is_package(config.source.uri):
        raise FieldtoolError(f"{config.source.uri}: not a Camtrap DP package; --deployment "
                             f"({only!r}) names one of a package's deployments")  # fmt: skip
    return only


def photo_sources_from_config(
    config: Config, log: Callable[[str], None], track: TrackRead | None = None,
    held: HeldCheck | None = None,
) -> list[PhotoSource]:  # fmt: skip
    """The photo sets ``config.source.uri`` names, one per session: a Camtrap DP package's
    local photos one set per deployment (each its own session: ``source_name`` its
    deploymentID, its place and times; ``docs/camtrap.md``; ``photos.deployment``: that
    one's set only), any other photo input one set
    (:func:`photo_source_from_config`). ``fieldtool run`` runs them one after the other.
    A deployment none of whose photos can be read is left out with a warning (the others
    run); the error is raised when that leaves none. ``track``: :func:`config_track`, read
    already (else read here). ``held``: the photos a database holds from another path are
    left out (:class:`~fieldtool.photos.held.HeldCheck`; a package's are records of their own)."""
    only = only_deployment(config)
    if not is_package(config.source.uri):
        return [photo_source_from_config(config, log, track=track, held=held)]
    groups, _ = _package_photos(config.source.uri, log, only)
    _say_unused_place(config, log)
    track = track if track is not None else config_track(config)
    sources, unread = [], []
    for deployment, items in groups:
        try:
            sources.append(_source(config, items, [deployment], log, track))
        except FieldtoolError as exc:  # none of its photos could be read
            unread.append(exc)
            log(f"warning: deployment {deployment.deployment_id} left out: {exc}")
    if not sources:
        raise unread[0]
    for later in sources[1:]:  # one photo's pixels held, not one per deployment
        later.forget_kept()
    return sources


def photo_source_from_config(
    config: Config,
    log: Callable[[str], None],
    deployments: Sequence[Deployment] = (),
    track: TrackRead | None = None,
    leave_out: Mapping[str, str] | None = None,
    held: HeldCheck | None = None,
) -> PhotoSource:
    """The photos ``config.source.uri`` names (a photo, a folder, a glob) as one set, or the
    local photos of a Camtrap DP package with its deployments (their places and times) —
    all its deployments in one set: ``fieldtool run`` takes a package's deployments one
    set each (:func:`photo_sources_from_config`).

    With a track (``--track``/``--gpx``) its first fix gives local clocks without any other
    zone theirs (``docs/time.md``), and a warning names the photos without a place of
    their own that the track cannot place (:func:`track_overlap_warning`); ``track``:
    :func:`config_track`, read already (else read here). ``leave_out``: photos run before
    elsewhere, left out (:class:`PhotoSource`; ``fieldtool batch``'s copies); ``held``: those
    a database holds from another path (``fieldtool run``'s)."""
    src = config.source
    photos: list[Path] | list[PhotoItem]
    only = only_deployment(config)
    if is_package(src.uri):
        groups, in_package = _package_photos(src.uri, log, only)
        _say_unused_place(config, log)
        photos = [item for _, items in groups for item in items]
        deployments = [*deployments, *in_package]
        if len(groups) > 1:
            log(f"warning: {src.uri}: photos of {len(groups)} deployments in one session (its "
                "source_name empty); 'fieldtool run' runs one session per deployment")  # fmt: skip
    else:
        photos = expand_photos(src.uri, log)
    return _source(config, photos, deployments, log,
                   track if track is not None else config_track(config), leave_out, held)


def _say_unused_place(config: Config, log: Callable[[str], None]) -> None:
    """A package's deployments place its photos (each has its place): --lat/--lon, which
    would place only photos with no place of their own, place none; said, not silent."""
    pos = config.position
    if pos.lat is not None and pos.lon is not None:
        log(f"position: --lat/--lon ({pos.lat}, {pos.lon}) not used: each deployment of "
            f"{config.source.uri} places its photos (EXIF GPS first)")  # fmt: skip


def config_track(
    config: Config, log: Callable[[str], None] | None = None
) -> TrackRead | None:
    """``position.track`` read (its format and NMEA date as configured), a local clock (a
    GPX without zones) moved to UTC as a video's is (``--tz``, else where it starts), said
    in ``log`` as a video's run says it; None without one."""
    pos = config.position
    if pos.track is None:
        return None
    track = read_track(pos.track, pos.track_format, nmea_date=pos.track_date,
                       srt_order=pos.srt_order)  # fmt: skip
    track, _, line = track_in_utc(track, config.source.tz)
    if line is not None and log is not None:
        log(line)
    return track


def photo_positions(config: Config, track: TrackRead | None = None) -> PositionProvider | None:
    """The session's positions for a photo set (:func:`positions_from_config`; ``track``:
    :func:`config_track`, read already): each photo is looked up at its stored time as it
    is. ``--time-offset`` is in that time already where the camera's clock gave it
    (:class:`PhotoSource`), and is no correction of the other clocks (GPS time): the track
    adds nothing again."""
    return positions_from_config(config.position.model_copy(update={"time_offset_s": 0.0}),
                                 track=track)  # fmt: skip


def _source(
    config: Config, photos: Sequence[Path | PhotoItem], deployments: Sequence[Deployment],
    log: Callable[[str], None], track: TrackRead | None,
    leave_out: Mapping[str, str] | None = None, held: HeldCheck | None = None,
) -> PhotoSource:  # fmt: skip
    """One photo set as a source; with a track, its overlap warning goes to ``log``."""
    src, pos = config.source, config.position
    place = (pos.lat, pos.lon) if pos.lat is not None and pos.lon is not None else None
    source = PhotoSource(
        photos, deployments=deployments,
        sequence_gap_s=config.photos.sequence_gap_s, tz=src.tz, place=place, uri=src.uri,
        max_frames=src.max_frames, log=log, track=track.fixes if track else (),
        time_offset_s=pos.time_offset_s, leave_out=leave_out, held=held,
    )  # fmt: skip
    if track is not None and track.fixes:  # looked up as photo_positions does: no offset
        positions = TrackPositions(track.fixes, pos.max_fix_gap_s, source=track.format)
        if (warning := track_overlap_warning(source.photos, positions)) is not None:
            log(warning)
    return source


def _when(time: datetime) -> str:
    return time.isoformat(sep=" ", timespec="seconds")


def track_overlap_warning(photos: Sequence[Photo], positions: TrackPositions) -> str | None:
    """One warning line naming the photos without a place of their own (EXIF GPS,
    deployment) that get no position from the track at their time, with both spans and
    the fix; None when the track places them all (the photos' check of ``docs/time.md``)."""
    asking = [p for p in photos if p.position is None]
    missed = [p for p in asking if positions.position_at(p.captured_at) is None]
    if not missed:
        return None
    times = sorted(p.captured_at for p in asking)
    clock = "UTC" if all(p.zone is not None for p in asking) else "local time"
    hint = "fix with --time-offset SECONDS (added to photo times) or --tz"
    lead = positions.fixes[0].time - (times[0] + timedelta(seconds=positions.time_offset_s))
    hours = lead.total_seconds() / 3600.0
    if 2 * len(missed) >= len(asking) and round(hours) != 0 and abs(hours - round(hours)) < 0.05:
        hint = f"the track starts ~{round(hours):+d} h from the photos: a time zone error? {hint}"
    names = [f"{p.path.name} ({_when(p.captured_at)})" for p in missed[:5]]
    more = f" and {len(missed) - 5} more" if len(missed) > 5 else ""
    return (
        f"warning: {len(missed)} of {len(asking)} photos without a place of their own fall "
        f"outside the track and get no position: {', '.join(names)}{more}; photos "
        f"{_when(times[0])} .. {_when(times[-1])} ({clock}), track "
        f"{_when(positions.fixes[0].time)} .. {_when(positions.end)} ({positions.source}); "
        f"{hint}"
    )


def photo_smoothing(smoothing: SmoothingConfig, sequence_gap_s: float) -> SmoothingConfig:
    """``smoothing`` as a photo session runs it (the one rule: the run and ``fieldtool
    eval`` take it): no moving average over photos (``tau_s`` 0: each photo's scores on
    their own), no minimum duration, and gaps bridged up to the sequence gap
    (``sequence_gap_s``, s)."""
    return smoothing.model_copy(update={
        "tau_s": 0.0,
        "min_duration_s": 0.0,
        "max_gap_s": max(smoothing.max_gap_s, sequence_gap_s),
    })  # fmt: skip


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
        """``config`` as a photo session runs it: each photo's scores count on their own
        (no moving average over photos: a burst is often written within one second, and
        one photo may show another species than the one before), a sighting may open on one
        photo and bridges gaps up to the sequence gap, so a species' photos of one event are
        one sighting; plot mode keeps at least ``plot_top_n`` species per detection (so
        ``fieldtool eval`` sees the whole set)."""
        smoothing = photo_smoothing(config.smoothing, self.media.sequence_gap_s)
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
        """The photo's ``media`` row; its path absolute (normalised, links not followed),
        so an export from another folder than the run's finds the photo; its picture hash,
        so a later run knows it wherever it lives then (:mod:`fieldtool.photos.held`)."""
        p = self.media.photo(frame.index)
        store.record_media(
            session_id, frame.index, source_key(str(p.path)), p.captured_at, event_id=p.event_id,
            camera=p.camera, position=p.own_position, size=p.size, time_source=p.time_source,
            picture_sha256=self.media.picture_sha256(p.path) or None,
        )  # fmt: skip
