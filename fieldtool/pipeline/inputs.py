"""A session from a config: the source, positions, time basis, classifier and range prior it
names (:func:`inputs_from_config`), and the run of it into its store (:func:`run_from_config`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from fieldtool.camtrap.read import Observation
from fieldtool.classify import DinoClassifier, pick_device
from fieldtool.config import DEMO_MODEL, Config
from fieldtool.decode.segments import segmented_source
from fieldtool.gallery import classifier_from_gallery, model_not_used
from fieldtool.importers import is_backbone_only
from fieldtool.model import check_model_folder, load_model_folder
from fieldtool.names import first_few
from fieldtool.photos import (
    PhotoSource,
    config_track,
    deployment_name,
    is_photos,
    only_deployment,
    photo_source_from_config,
    photo_sources_from_config,
)
from fieldtool.photos.held import HeldCheck
from fieldtool.photos.session import photo_positions
from fieldtool.pipeline.session import run_session
from fieldtool.pipeline.steps import Progress, SessionResult
from fieldtool.placement import (
    Placement,
    held_warning,
    overlap_share,
    overlap_warning,
    place_session,
    start_time_warning,
    track_start_warning,
)
from fieldtool.priors import (
    RangePriorStage,
    prior_off_note,
    range_coverage,
    range_prior_from_config,
)
from fieldtool.sources import VideoSource, is_live, source_key
from fieldtool.store import SightingStore, query
from fieldtool.timebase import UNKNOWN_ZONE_CLOCKS, TimeBasis
from fieldtool.tracks import PositionProvider, TrackPositions
from fieldtool.types import (
    Classifier,
    FieldtoolError,
    FrameSource,
    Position,
    SessionStatus,
)


@dataclass
class SessionInputs:
    """Everything a session needs besides the store, built from a config."""

    source: FrameSource
    classifier: Classifier
    positions: PositionProvider | None
    prior: RangePriorStage | None
    time: TimeBasis | None = None  # where the session's times come from
    # A Camtrap DP package with photos of several deployments: (source, time basis) of each,
    # each run as a session of its own (source and time above are the first's); else empty.
    deployments: list[tuple[PhotoSource, TimeBasis]] = field(default_factory=list)

    def sessions(self) -> list[tuple[FrameSource, TimeBasis | None]]:
        """(source, time basis) of each session these inputs run, in order."""
        return list(self.deployments) or [(self.source, self.time)]


def inputs_from_config(
    config: Config, log: Callable[[str], None], *, leave_held: bool = True
) -> SessionInputs:
    """Open the source, model, positions and ranges that ``config`` names.

    A file's media time 0 gets its time by the rule of ``docs/time.md``
    (:func:`fieldtool.placement.place_session`); before a file runs, a warning says when
    fewer than half of its frames can get a position from the track. Photos (a photo, a
    folder, a glob, a Camtrap DP package: :func:`fieldtool.photos.is_photos`) take each its own time and
    place (``docs/photos.md``); ``leave_held``: those ``config.store.db`` holds from
    another path are left out, said (:class:`~fieldtool.photos.held.HeldCheck`).
    """
    source: FrameSource
    deployments: list[tuple[PhotoSource, TimeBasis]] = []
    only_deployment(config)  # --deployment names a package's deployment: fail before opening
    if config.model.gallery is None:  # a wrong --model is said before the source is read
        check_model_folder(config.model.path)
    if not is_live(config.source.uri) and is_photos(config.source.uri):
        placed, positions = photo_placements(config, log, leave_held=leave_held)
        source, basis = placed[0]
        if len(placed) > 1:
            deployments = placed
    else:
        video, placement = video_placement(config, log)
        source, positions, basis = video, placement.positions, placement.time
    classifier = classifier_from_config(config, log)
    prior = None
    ranges = range_prior_from_config(config.prior)
    if ranges is not None:
        for line in range_coverage(ranges, classifier.labels).lines():
            log(line)
        prior = RangePriorStage(ranges, classifier.labels, config.prior, log=log)
        if config.position.lat is not None and config.position.lon is not None:
            prior.say_place(Position(config.position.lat, config.position.lon))  # before it runs
    elif (off := prior_off_note(config.prior)) is not None:
        log(off)
    elif positions is not None:  # placed, yet nothing to weigh species by where they live
        log("no range prior: species are not weighed by where they live (give range maps "
            "with --ranges, e.g. data/ranges/little_atlas.gpkg for US trees)")  # fmt: skip
    return SessionInputs(source, classifier, positions, prior, basis, deployments)


def photo_placement(
    config: Config, log: Callable[[str], None], leave_out: Mapping[str, str] | None = None
) -> tuple[PhotoSource, PositionProvider | None, TimeBasis]:
    """Photos as one set: each its own time and place; the config's positions
    (``--lat/--lon``, a track) place those with neither EXIF GPS nor a deployment. Notes go
    to ``log`` (``fieldtool batch`` sets up a photo unit with it; ``fieldtool run`` runs a
    Camtrap DP package one deployment at a time: :func:`photo_placements`). ``leave_out``:
    photos run before elsewhere (a batch unit's copies: :mod:`fieldtool.scale.copies`)."""
    track = config_track(config, log)  # once: the photos' zone and the session's positions
    source = photo_source_from_config(config, log, track=track, leave_out=leave_out)
    positions = photo_positions(config, track)  # --time-offset: in the photos' times
    return source, positions, _describe_photos(source, log)


def photo_placements(
    config: Config, log: Callable[[str], None], *, leave_held: bool = True
) -> tuple[list[tuple[PhotoSource, TimeBasis]], PositionProvider | None]:
    """Photos as the sessions ``fieldtool run`` makes of them: (source, time basis) of each
    (a Camtrap DP package: one per deployment with local photos, in ``deployments.csv``
    order; any other photo input: one), and the config's positions. A package's deployment
    is introduced in ``log`` by a line of its own: its number, deploymentID, camera, place,
    photos and their span. ``leave_held``: as :func:`inputs_from_config`."""
    track = config_track(config, log)  # once: the photos' zone and the session's positions
    held = HeldCheck(Path(config.store.db), log) if leave_held else None
    sources = photo_sources_from_config(config, log, track, held)
    placed = []
    for n, source in enumerate(sources, start=1):
        if len(sources) > 1 or source.deployment is not None:
            log(_deployment_line(source, n, len(sources)))
        placed.append((source, _describe_photos(source, log)))
    return placed, photo_positions(config, track)  # --time-offset: in the photos' times


def _deployment_line(source: PhotoSource, n: int, count: int) -> str:
    """``deployment 1 of 2: dep-north, camera SN01 at 44.5601, -123.2999: 4 photos ...``
    (its place as deployments.csv writes it; the photos' span in UTC)."""
    dep = source.deployment
    assert dep is not None  # a package's set: one deployment
    camera = dep.camera_id or dep.camera_model or "camera not named"
    times = [p.captured_at for p in source.photos]
    return (f"deployment {n} of {count}: {dep.deployment_id}, camera {camera} at "
            f"{dep.lat}, {dep.lon}: {len(source.photos)} photos "
            f"{min(times):%Y-%m-%d %H:%M:%S} .. {max(times):%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip


def _describe_photos(source: PhotoSource, log: Callable[[str], None]) -> TimeBasis:
    """The photo set's lines (events, EXIF GPS, time basis, time warnings); its basis."""
    basis = source.time_basis()
    log(source.photos_line())  # the photos that run, in their events
    log(basis.describe())
    kinds = Counter(p.time_source for p in source.photos)
    if kinds["file-mtime"]:  # a copy to or from the card may have set it
        unset = [p.path.name for p in source.photos if p.time_source == "file-mtime"]
        log(f"warning: {len(unset)} photo(s) carry no EXIF time: dated by their file's "
            f"modification time, which copying can change: {first_few(unset, 5)}")  # fmt: skip
    if local := sum(kinds[kind] for kind in UNKNOWN_ZONE_CLOCKS):
        log(f"warning: {local} photo(s) carry a local clock time of unknown zone "
            "(no offset in EXIF, no zone from a place or track): stored as the camera's "
            "clock, not UTC; give --tz")  # fmt: skip
    return basis


def decoded_pixels(config: Config) -> Literal["bgr", "yuv"]:
    """``source.pixels`` resolved: "auto" is YUV planes when the model runs on a CUDA GPU
    (converted there, beside its resize), else BGR (the CPU converts either way)."""
    if config.source.pixels != "auto":
        return config.source.pixels  # OpenCV decodes to BGR whatever it says (video_placement)
    return "yuv" if pick_device(config.model.device).type == "cuda" else "bgr"


def video_placement(config: Config, log: Callable[[str], None]) -> tuple[VideoSource, Placement]:
    """A video file, camera or stream, and its placement: positions and the time of media
    t=0 (``docs/time.md``; ``source.start_time`` is set from it). Notes and warnings go
    to ``log``."""
    src = config.source
    if src.pixels == "yuv" and src.decoder == "opencv" and src.decode_workers <= 1:
        log(f"{src.uri}: source.pixels yuv: OpenCV decodes to BGR; YUV planes need "
            "--decoder pyav or nvdec")  # fmt: skip
    source = segmented_source(
        src.uri,
        workers=src.decode_workers,
        decoder=src.decoder,
        pixels=decoded_pixels(config),
        sample_fps=src.sample_fps,
        max_frames=src.max_frames,
        retry=src.retry,
        reconnect_backoff_s=src.reconnect_backoff_s,
        reconnect_backoff_max_s=src.reconnect_backoff_max_s,
        open_timeout_s=src.open_timeout_s,
        read_timeout_s=src.read_timeout_s,
        assume_fps=src.assume_fps,
        log=log,
    )
    fps = source.probe()
    placement = place_session(config, live=source.live, fps=fps, log=log)
    positions = placement.positions
    for note in (*placement.notes, *getattr(positions, "notes", ())):
        log(note)
    log(placement.time.describe())
    if placement.time.source == "processing-time":
        log(
            f"warning: {config.source.uri} carries no recording time (none written, or a "
            "camera clock never set: before 1992) and no track: its sightings are dated at "
            "the processing time; give --start-time"
        )
    source.start_time = placement.time.start
    if source.live:  # timed by this computer's clock: --time-offset corrects it (docs/time.md)
        source.clock_offset_s = config.position.time_offset_s
        source.gps_time = getattr(positions, "gps_now", None)  # gpsd: for a clock not set
    start = placement.time.start  # set for every file
    if isinstance(positions, TrackPositions) and source.frame_count and fps and start:
        # The span that will be analysed: max_frames stops the run after its first frames.
        duration = min(source.frame_count, src.max_frames or source.frame_count) / fps
        share = overlap_share(positions, start, duration, source.sample_fps)
        name = placement.track_name or "the track"
        for warning in (overlap_warning(positions, placement.time, duration, share,
                                        config.position.time_offset_s),
                        held_warning(positions, start, duration),
                        start_time_warning(positions, placement.time),
                        track_start_warning(positions, placement.time,  # the whole video
                                            source.frame_count / fps, name)):  # fmt: skip
            if warning:
                log(warning)
    return source, placement


def classifier_from_config(config: Config, log: Callable[[str], None]) -> Classifier:
    """The classifier ``config.model`` names: a gallery, or a model folder with its head."""
    if config.model.gallery is not None:
        if note := model_not_used(config.model.gallery, config.model.path):
            log(note)  # the gallery's own model classifies: a --model beside it is not used
        return classifier_from_gallery(
            config.model.gallery, config.model.device, config.model.batch_size,
            tiles=config.model.tiles, tile_reduce=config.model.tile_reduce,
            model=None if Path(config.model.path) == DEMO_MODEL else config.model.path,
        )  # fmt: skip
    model = load_model_folder(config.model.path)
    if is_backbone_only(model.info):
        raise FieldtoolError(
            f"{config.model.path}: a backbone without a species head; use it with a "
            "gallery ('fieldtool gallery add --model ...', then 'run --gallery')"
        )
    return DinoClassifier(
        model,
        device=config.model.device,
        batch_size=config.model.batch_size,
        tiles=config.model.tiles,
        tile_reduce=config.model.tile_reduce,
        precision=config.model.precision,
        compile=config.model.compile,
        compile_mode=config.model.compile_mode,
        micro_batch=config.model.cpu_micro_batch,
        log=log,
    )


def earlier_sessions(
    store: SightingStore,
    uri: str,
    *,
    live: bool,
    replace: bool,
    log: Callable[[str], None],
    only: str | None = None,
    remedy: str | None = None,
) -> None:
    """Before a source runs: ``replace`` deletes the store's earlier sessions of ``uri``
    (``only``: of that package deployment), said in ``log``; else a file the store already
    holds sessions of is said (:func:`earlier_runs`, with ``remedy``)."""
    # the text as typed too: files before sessions recorded the path made whole
    names = dict.fromkeys((source_key(uri), uri)) if replace else {}
    forgotten = [store.forget_source(name, only) for name in names]
    if gone := [session for ids in forgotten for session in ids]:
        reviews = sum(ids.reviews for ids in forgotten)  # deleted with their sightings
        also = f" and their {reviews} review(s)" if reviews else ""
        files = sum(ids.removed for ids in forgotten)  # snapshot files only they named
        snaps = f"; {files} snapshot file(s) deleted with them" if files else ""
        log(f"replaced {len(gone)} earlier session(s){also} of {deployment_name(uri, only)}"
            f"{snaps}")  # fmt: skip
    elif not live and (said := earlier_runs(store.path, uri, only, remedy=remedy)):
        log(said)


RUN_REMEDY = "--replace deletes the earlier ones first, another --db keeps them apart"


def earlier_runs(
    db: Path, uri: str, source_name: str | None = None, *, remedy: str | None = None
) -> str | None:
    """A warning when ``db`` already holds sessions of the file ``uri`` (with
    ``source_name``: of that name, a package's deployment) (run again, its sightings are
    added beside theirs: per-species and per-day counts hold both), else None; a file that
    does not exist yet, or that another process holds, says nothing. ``remedy``: what
    keeps them apart for the command that says it (default: ``fieldtool run``'s flags)."""
    if not Path(db).is_file():
        return None
    try:
        found = query(db, "SELECT count(*) AS n, max(started_at) AS last FROM sessions "
                          "WHERE source IN (?, ?) AND (? IS NULL OR source_name = ?)",
                      [source_key(str(uri)), str(uri), source_name, source_name])  # fmt: skip
    except FieldtoolError:
        return None
    count = int(found["n"].iloc[0])
    if not count:
        return None
    last = pd.Timestamp(found["last"].iloc[0]).isoformat(sep=" ", timespec="seconds")
    return (f"warning: {db} already holds {count} session(s) of "
            f"{deployment_name(uri, source_name)} (the last started "
            f"{last} UTC): this run's sightings are added beside them, so counts include "
            f"both; {remedy or RUN_REMEDY}")  # fmt: skip


def run_from_config(
    config: Config,
    *,
    log: Callable[[str], None],
    progress: Callable[[Progress], None] | None = None,
    session_id: str | None = None,
    replace_earlier: bool = False,
    run_held: bool = False,
) -> SessionResult:
    """Build the inputs named by ``config`` and run one session into its store; a Camtrap
    DP package with photos of several deployments runs one session per deployment, one
    after the other, and returns their summary (:func:`combined`; ``session_id``, when
    given, gets ``-1``, ``-2``, ... appended). A session that does not finish stops the
    deployments after it (they are named in ``log``).

    ``replace_earlier`` first deletes earlier sessions of the same source (the demo
    uses it so that running it twice does not double its sightings; a package's
    deployments: all of them, before the first runs). Photos the store holds from another
    path (a card's folder renamed) are left out, said in one line (every one held:
    :class:`~fieldtool.photos.held.PhotosHeld`, nothing run), unless ``run_held``.
    """
    inputs = inputs_from_config(config, log, leave_held=not run_held)
    store = _store(config, log)
    uri = str(inputs.source.uri)
    only = config.photos.deployment  # a package's one deployment (none for other inputs)
    earlier_sessions(store, uri, live=inputs.source.live, replace=replace_earlier, log=log,
                     only=only)  # fmt: skip
    runs = inputs.sessions()
    results: list[SessionResult] = []
    read: dict[str, tuple[Observation, ...]] = {}  # a package's observations, read once
    try:
        for n, (source, basis) in enumerate(runs, start=1):
            if n > 1:
                store = _store(config, log)  # run_session closed the one before
            if len(runs) > 1:
                log(f"running deployment {n} of {len(runs)}: {source.name}")
            try:
                result = run_session(
                    source,
                    inputs.classifier,
                    store,
                    config,
                    positions=inputs.positions,
                    prior=inputs.prior,
                    time_basis=basis,
                    log=log,
                    session_id=f"{session_id}-{n}" if session_id and len(runs) > 1 else session_id,
                    progress=progress,
                )
            except BaseException:  # recorded as failed; the deployments after it do not run
                if n < len(runs):
                    log(_not_run(inputs.source.uri, runs[n:]))
                raise
            results.append(result)
            _package_reviews(config, uri, source, result, log, read)
            if len(runs) == 1:
                return result
            done = getattr(progress, "done", None)  # a terminal's status line: end it
            if done is not None:
                done()
            log(_part_line(source.name, result))
            if result.session.status != SessionStatus.FINISHED and n < len(runs):
                log(_not_run(inputs.source.uri, runs[n:]))
                break
    finally:
        close = getattr(inputs.positions, "close", None)  # live receivers hold a thread
        if close is not None:
            close()
    return combined(results)


def _package_reviews(
    config: Config, uri: str, source: FrameSource, result: SessionResult,
    log: Callable[[str], None], read: dict[str, tuple[Observation, ...]],
) -> None:  # fmt: skip
    """A Camtrap DP package's observations by people as reviews of the deployment's
    sightings (:mod:`fieldtool.camtrap.reviews`), when ``photos.package_reviews``."""
    deployment = getattr(source, "deployment", None)
    if deployment is None or not config.photos.package_reviews:
        return
    from fieldtool.camtrap.reviews import review_session

    review_session(config.store.db, result.session.session_id, uri, deployment.deployment_id,
                   log, timeout_s=config.store.lock_timeout_s, read=read)  # fmt: skip


def _store(config: Config, log: Callable[[str], None]) -> SightingStore:
    return SightingStore(
        config.store.db,
        lock_timeout_s=config.store.lock_timeout_s,
        flush_interval_s=config.store.flush_interval_s,
        log=log,
    )


def _not_run(uri: str, rest: list[tuple[FrameSource, TimeBasis | None]]) -> str:
    return f"{uri}: deployment(s) not run: {', '.join(str(s.name) for s, _ in rest)}"


def _part_line(name: str | None, result: SessionResult) -> str:
    """A deployment's session in one line: ``dep-north: finished; 4 of 4 photos ...``."""
    s = result.session
    why = f" ({s.end_reason})" if s.end_reason else ""
    return (f"{name}: {s.status}{why}; {s.frames_analysed} of {s.frames_read} photos analysed, "
            f"{len(result.sightings)} sightings (session {s.session_id})")  # fmt: skip


_WORST = (SessionStatus.FAILED, SessionStatus.STREAM_LOST, SessionStatus.INTERRUPTED,
          SessionStatus.RUNNING, SessionStatus.FINISHED)  # fmt: skip


def combined(results: list[SessionResult]) -> SessionResult:
    """One result for the sessions of one run (a package's deployments), for a caller that
    reports one: ``parts`` holds each session's own. Its ``session`` is their summary, not
    a stored row: ids joined by ``", "``, frame counts summed, the worst status (failed,
    stream lost, interrupted, finished), end reasons named by deployment, no
    ``source_name``; sightings, plot-mode species and unwritten rows of all of them."""
    sessions = [r.session for r in results]
    status = min((s.status for s in sessions), key=lambda x: _WORST.index(SessionStatus(x)))
    reasons = "; ".join(f"{s.source_name}: {s.end_reason}" for s in sessions if s.end_reason)
    summary = replace(
        sessions[-1], session_id=", ".join(s.session_id for s in sessions), source_name=None,
        status=status, end_reason=reasons or None, started_at=sessions[0].started_at,
        frames_read=sum(s.frames_read for s in sessions),
        frames_analysed=sum(s.frames_analysed for s in sessions),
        frames_dropped=sum(s.frames_dropped for s in sessions),
        frames_positioned=sum(s.frames_positioned for s in sessions),
    )  # fmt: skip
    return SessionResult(
        summary, [x for r in results for x in r.sightings],
        frames_reused=sum(r.frames_reused for r in results),
        unwritten_rows=sum(r.unwritten_rows for r in results),
        unwritten_where="; ".join(r.unwritten_where for r in results if r.unwritten_where),
        unwritten_note=" ".join(r.unwritten_note for r in results if r.unwritten_note),
        model_busy_s=sum(r.model_busy_s for r in results),
        post_busy_s=sum(r.post_busy_s for r in results),
        store_write_s=sum(r.store_write_s for r in results),
        wall_s=sum(r.wall_s for r in results),
        photo_species=[x for r in results for x in r.photo_species],
        parts=results,
    )  # fmt: skip
