"""A session from a config: the source, positions, time basis, classifier and range prior it
names (:func:`inputs_from_config`), and the run of it into its store (:func:`run_from_config`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from fieldtool.classify import DinoClassifier, pick_device
from fieldtool.config import Config
from fieldtool.decode.segments import segmented_source
from fieldtool.gallery import classifier_from_gallery
from fieldtool.importers import is_backbone_only
from fieldtool.model import load_model_folder
from fieldtool.photos import PhotoSource, is_photos, photo_source_from_config
from fieldtool.pipeline.session import run_session
from fieldtool.pipeline.steps import Progress, SessionResult
from fieldtool.placement import (
    Placement,
    held_warning,
    overlap_share,
    overlap_warning,
    place_session,
)
from fieldtool.priors import RangePriorStage, range_coverage, range_prior_from_config
from fieldtool.sources import VideoSource, is_live
from fieldtool.store import SightingStore, query
from fieldtool.timebase import TimeBasis
from fieldtool.tracks import PositionProvider, TrackPositions, positions_from_config
from fieldtool.types import (
    Classifier,
    FieldtoolError,
    FrameSource,
)


@dataclass
class SessionInputs:
    """Everything a session needs besides the store, built from a config."""

    source: FrameSource
    classifier: Classifier
    positions: PositionProvider | None
    prior: RangePriorStage | None
    time: TimeBasis | None = None  # where the session's times come from


def inputs_from_config(config: Config, log: Callable[[str], None]) -> SessionInputs:
    """Open the source, model, positions and ranges that ``config`` names.

    A file's media time 0 gets its time by the rule of ``docs/time.md``
    (:func:`fieldtool.placement.place_session`); before a file runs, a warning says when
    fewer than half of its frames can get a position from the track. Photos (a photo, a
    folder, a glob, a Camtrap DP package: :func:`fieldtool.photos.is_photos`) take each its own time and
    place (``docs/photos.md``).
    """
    source: FrameSource
    if not is_live(config.source.uri) and is_photos(config.source.uri):
        source, positions, basis = photo_placement(config, log)
    else:
        video, placement = video_placement(config, log)
        source, positions, basis = video, placement.positions, placement.time
    classifier = classifier_from_config(config, log)
    prior = None
    ranges = range_prior_from_config(config.prior)
    if ranges is not None:
        for line in range_coverage(ranges, classifier.labels).lines():
            log(line)
        prior = RangePriorStage(ranges, classifier.labels, config.prior)
    elif positions is not None:  # placed, yet nothing to weigh species by where they live
        log("no range prior: species are not weighed by where they live (give range maps "
            "with --ranges, e.g. data/ranges/little_atlas.gpkg for US trees)")  # fmt: skip
    return SessionInputs(source, classifier, positions, prior, basis)


def photo_placement(
    config: Config, log: Callable[[str], None]
) -> tuple[PhotoSource, PositionProvider | None, TimeBasis]:
    """Photos: each its own time and place; the config's positions (``--lat/--lon``, a
    track) place those with neither EXIF GPS nor a deployment. Notes go to ``log``
    (``fieldtool run`` and ``fieldtool batch`` set up a photo session with it)."""
    source = photo_source_from_config(config, log)
    basis = source.time_basis()
    gps = sum(p.own_position is not None for p in source.photos)
    events = len({p.event_id for p in source.photos})
    log(f"photos: {len(source.photos)} in {events} event(s) (gap "
        f"{source.sequence_gap_s:g} s), {gps} placed by their EXIF GPS")  # fmt: skip
    log(basis.describe())
    kinds = Counter(p.time_source for p in source.photos)
    if kinds["file-mtime"]:  # a copy to or from the card may have set it
        log(f"warning: {kinds['file-mtime']} photo(s) carry no EXIF time: dated by their file's "
            "modification time, which copying can change")  # fmt: skip
    if kinds["exif-local"]:
        log(f"warning: {kinds['exif-local']} photo(s) carry a local clock time of unknown zone "
            "(no offset in EXIF, no zone from a place or track): stored as the camera's "
            "clock, not UTC; give --tz")  # fmt: skip
    return source, positions_from_config(config.position, log), basis


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
            f"warning: {config.source.uri} carries no recording time and no track: its "
            "sightings are dated at the processing time; give --start-time"
        )
    source.start_time = placement.time.start
    start = placement.time.start  # set for every file
    if isinstance(positions, TrackPositions) and source.frame_count and fps and start:
        # The span that will be analysed: max_frames stops the run after its first frames.
        duration = min(source.frame_count, src.max_frames or source.frame_count) / fps
        share = overlap_share(positions, start, duration, source.sample_fps)
        for warning in (overlap_warning(positions, placement.time, duration, share),
                        held_warning(positions, start, duration)):  # fmt: skip
            if warning:
                log(warning)
    return source, placement


def classifier_from_config(config: Config, log: Callable[[str], None]) -> Classifier:
    """The classifier ``config.model`` names: a gallery, or a model folder with its head."""
    if config.model.gallery is not None:
        return classifier_from_gallery(
            config.model.gallery, config.model.device, config.model.batch_size,
            tiles=config.model.tiles, tile_reduce=config.model.tile_reduce,
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


def earlier_runs(db: Path, uri: str) -> str | None:
    """A warning when ``db`` already holds sessions of the file ``uri`` (run again, its
    sightings are added beside theirs: per-species and per-day counts hold both), else
    None; a file that does not exist yet, or that another process holds, says nothing."""
    if not Path(db).is_file():
        return None
    try:
        found = query(db, "SELECT count(*) AS n, max(started_at) AS last FROM sessions "
                          "WHERE source = ?", [str(uri)])  # fmt: skip
    except FieldtoolError:
        return None
    count = int(found["n"].iloc[0])
    if not count:
        return None
    last = pd.Timestamp(found["last"].iloc[0]).isoformat(sep=" ", timespec="seconds")
    return (f"warning: {db} already holds {count} session(s) of {uri} (the last started "
            f"{last} UTC): this run's sightings are added beside them, so counts include "
            "both; --replace deletes the earlier ones first, another --db keeps them apart")  # fmt: skip


def run_from_config(
    config: Config,
    *,
    log: Callable[[str], None],
    progress: Callable[[Progress], None] | None = None,
    session_id: str | None = None,
    replace_earlier: bool = False,
) -> SessionResult:
    """Build the inputs named by ``config`` and run one session into its store.

    ``replace_earlier`` first deletes earlier sessions of the same source (the demo
    uses it so that running it twice does not double its sightings).
    """
    inputs = inputs_from_config(config, log)
    store = SightingStore(
        config.store.db,
        lock_timeout_s=config.store.lock_timeout_s,
        flush_interval_s=config.store.flush_interval_s,
        log=log,
    )
    if replace_earlier and (gone := store.forget_source(str(inputs.source.uri))):
        log(f"replaced {len(gone)} earlier session(s) of {inputs.source.uri}")
    elif not inputs.source.live and (said := earlier_runs(config.store.db, inputs.source.uri)):
        log(said)
    try:
        return run_session(
            inputs.source,
            inputs.classifier,
            store,
            config,
            positions=inputs.positions,
            prior=inputs.prior,
            time_basis=inputs.time,
            log=log,
            session_id=session_id,
            progress=progress,
        )
    finally:
        close = getattr(inputs.positions, "close", None)  # live receivers hold a thread
        if close is not None:
            close()
