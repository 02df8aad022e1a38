"""``fieldtool batch``: plan, then a Ray Data pipeline and a merge per chunk of files.

::

    from_items(plan)                       one row per (file, segment)
      .map(with_hash)                      content hash + settings hash -> batch_key
    (files done in the database, or with a finished part, are skipped here: the parts
     are merged first; a photo run before is left out of its unit, and a unit that shares
     photos with one before it waits for its outcome, in a later turn: fieldtool.scale.copies)
    for each turn, for each chunk (chunks: so many files, about so many bytes):
      from_items(chunk)
      .flat_map(decode_frames)             CPU tasks: sampled frames (retried if a worker dies)
      .map_batches(ClassifyActor, ...)     actor pool, one model each (num_gpus=1 on GPUs)
      .groupby("batch_key")
      .map_groups(post_file)               per file in time order: run's stages -> Parquet parts
      merge                                the chunk's parts -> the DuckDB file, one writer

Ray Data streams blocks between the stages (decode feeds the model while it runs), and
retries tasks and restarts actors whose worker process died. Ray's INFO lines and its
workers' output stay off the terminal (:func:`ray_quiet`) unless ``BatchOptions.verbose``,
and its progress bars show only on a terminal: fieldtool says what it runs and each file as
it ends; Ray's warnings and errors still print.
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from fieldtool.config import Config
from fieldtool.names import first_few
from fieldtool.scale.classify import ClassifierFactory, ClassifyActor, load_classifier
from fieldtool.scale.copies import UnitCopies, next_turn
from fieldtool.scale.decode import decode_frames, unit_photos
from fieldtool.scale.earlier import earlier_work
from fieldtool.scale.merge import FileOutcome, merge, prepare_db, recorded_paths
from fieldtool.scale.plan import (
    PlanRow,
    find_inputs,
    hash_options,
    settings_sha256,
    unit_name,
    with_hash,
)
from fieldtool.scale.post import ModelInfo, finished_part, post_file
from fieldtool.types import FieldtoolError


@dataclass
class BatchOptions:
    """How the batch runs on Ray. ``actors``: classify actors (default: one per GPU, else
    one); ``decode_cpus``: CPUs per decode task; ``parts``: where the Parquet parts go
    (default ``<db>.parts/`` beside the database; on a cluster, a folder every node sees).
    ``factory`` loads the classifier in each actor (tests wrap it). ``verbose``: Ray's own
    log lines, its workers' output and its progress bars on the terminal too.
    ``chunk_files``, ``chunk_bytes``: the files run on Ray in chunks of at most this many
    files and about this many bytes (:func:`chunks`); each chunk is merged into the database
    as it ends, so an interrupted batch keeps every chunk before the one it stopped in."""

    address: str | None = None
    actors: int | None = None
    decode_cpus: float = 1.0
    parts: Path | None = None
    object_store_mb: int | None = None
    factory: ClassifierFactory | None = None
    verbose: bool = False
    chunk_files: int = 64
    chunk_bytes: int = 8 * 2**30


NAMED = 10  # files a summary line names before "and N more"


def named(paths: Sequence[str], most: int = NAMED) -> str:
    """``paths`` joined, at most ``most`` of them, then "and N more"."""
    return first_few(paths, most)


def identical_line(path: str, first: str) -> str:
    return f"{path}: identical to {first} (same bytes, track and settings): not run twice"


@dataclass
class PlanSort:
    """The hashed plan rows sorted for the run: ``todo`` (to decode), ``finished`` (a killed
    run's complete parts, merged without decoding), ``done_before`` (keys the database
    holds as done: their names) and ``identical`` ((path, the first path with its key):
    the same work as a row before it in this batch); ``copies``: the rows of both, whose
    path may be a copy of another path with their key (its ``batch_files`` row to be; a
    row done with the model folder elsewhere is recorded under its key here too:
    :func:`fieldtool.scale.merge.merge`'s ``moved``)."""

    todo: list[dict[str, Any]] = field(default_factory=list)
    finished: list[FileOutcome] = field(default_factory=list)
    done_before: list[str] = field(default_factory=list)
    identical: list[tuple[str, str]] = field(default_factory=list)
    copies: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [identical_line(path, first) for path, first in self.identical]


def sort_plan(
    hashed: Sequence[dict[str, Any]], done_before: set[str], parts: Path, settings: str,
    moved: dict[str, str] | None = None, recorded: Mapping[str, Sequence[str]] | None = None,
) -> PlanSort:  # fmt: skip
    """Hashed plan rows, in order, as :class:`PlanSort`: "done before" only for keys the
    database holds, or done under the key ``moved`` gives (the same work with the model
    folder at another path: :func:`fieldtool.scale.earlier.earlier_work`), at a path it
    holds under that key (``recorded``: :func:`fieldtool.scale.merge.recorded_paths`; None:
    every path); a new path with such a key is identical to the path it was done at, as a
    row whose key an earlier row of this batch has is identical to it (a byte copy at
    another path, with the same track, place and settings)."""
    out = PlanSort()
    first: dict[str, str] = {}  # key -> the name of its first row in this batch
    moved = moved or {}
    for row in hashed:
        key, name = row["batch_key"], unit_name(row)
        if key in done_before or key in moved:
            paths = (recorded or {}).get(moved.get(key, key), [])
            if recorded is None or not paths or row["path"] in paths:
                out.done_before.append(name)
            else:  # a copy met by this batch: another path's work
                out.identical.append((name, paths[0]))
            out.copies.append(row)
        elif key in first:
            out.identical.append((name, first[key]))
            out.copies.append(row)
        elif (part := finished_part(parts, key)) is not None:  # a killed run's finished work
            out.finished.append(_outcome(row, settings, part, resumed=True))
        else:
            out.todo.append(row)
        first.setdefault(key, name)
    return out


@dataclass
class BatchSummary:
    files: list[FileOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # units already done (unit_name)
    identical: list[tuple[str, str]] = field(default_factory=list)  # (unit, the same as)
    copies: list[str] = field(default_factory=list)  # photo units not run: their lines
    wall_s: float = 0.0

    @property
    def done(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "done"]

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]

    def lines(self) -> list[str]:
        frames = sum(f.frames for f in self.done)
        hours = sum(f.duration_s for f in self.done) / 3600
        resumed = sum(f.frames for f in self.done if f.resumed)  # not processed in wall_s
        fps = (frames - resumed) / self.wall_s if self.wall_s > 0 else 0.0
        same = f"{len(self.identical)} identical to another, " if self.identical else ""
        if self.copies:
            same += f"{len(self.copies)} with every photo run before, "
        merged = f"; {resumed} merged from a killed run's finished parts" if resumed else ""
        out = [
            f"batch: {len(self.done)} done, {len(self.skipped)} skipped (done before), "
            f"{same}{len(self.failed)} failed; {hours:.3f} h of video, {frames} frames, "
            f"{sum(f.sightings for f in self.done)} sightings; {self.wall_s:.1f} s "
            f"({fps:.1f} frames/s{merged})"
        ]
        if self.skipped:
            out.append(f"skipped (done before): {named(self.skipped)}")
        out += [f"identical: {identical_line(path, first)}" for path, first in self.identical]
        out += [f"copies: {line}" for line in self.copies]
        out += [
            f"failed: {f.error}" if f.error.startswith(f.path) else f"failed: {f.path}: {f.error}"
            for f in self.failed
        ]
        undated = [f.path for f in self.done if f.time_source == "processing-time"]
        if undated:
            out.append(f"warning: {len(undated)} session(s) dated at the processing time (no "
                       f"recording time; give start_time in a manifest): {named(undated)}")  # fmt: skip
        unplaced = [f.path for f in self.done if f.frames and f.positioned == 0]
        if unplaced:
            out.append(f"warning: {len(unplaced)} session(s) with no frame positioned (give a "
                       f"track or place in a manifest): {named(unplaced)}")  # fmt: skip
        out += [  # done, but not whole: said here, not only in source_gaps
            f"gaps: {f.path}: {f.gaps} stretch(es), {f.gap_s:.1f} s of media not decoded "
            "(damaged or cut short; see source_gaps)"
            for f in self.done if f.gaps
        ]  # fmt: skip
        return out


def ray_init_kwargs(options: BatchOptions) -> dict[str, Any]:
    """``ray.init``'s arguments: the cluster at ``options.address``, else a local one sized
    to the machine; quiet (the "ray" logger at WARNING, workers' output not forwarded)
    unless ``options.verbose``. Errors of tasks still reach the driver as exceptions."""
    quiet: dict[str, Any] = {
        "logging_level": logging.INFO if options.verbose else logging.WARNING,
        "log_to_driver": options.verbose,
    }
    if options.address:
        return {"address": options.address, **quiet}
    memory = options.object_store_mb * 2**20 if options.object_store_mb else None
    return {"object_store_memory": memory, "include_dashboard": False, **quiet}


def _interrupted(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    raise KeyboardInterrupt  # SIGTERM ends the batch like Ctrl-C (`fieldtool: interrupted`)


def _sigterm_interrupts_now() -> None:
    if threading.current_thread() is threading.main_thread():  # signals: main thread only
        signal.signal(signal.SIGTERM, _interrupted)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """For its length (in the main thread): SIGTERM raises KeyboardInterrupt, as Ctrl-C
    does, so a stopped batch ends as an interrupted one (finished parts stay for the
    rerun); the handler before it is set back after. :func:`_ray_init` sets it again after
    ``ray.init``, which installs Ray's own (``sys.exit``; and the driver's core worker dumps
    a C++ stack on SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    _sigterm_interrupts_now()
    try:
        yield
    finally:
        if before is not None:  # None: a handler not set from Python, left as it is
            signal.signal(signal.SIGTERM, before)


def _ray_init(options: BatchOptions) -> None:
    import ray

    if not ray.is_initialized():  # a caller's own cluster (tests, a notebook) is used as is
        ray.init(**ray_init_kwargs(options))
        _sigterm_interrupts_now()  # after Ray's: ours decides what SIGTERM does


_RAY_LOGGERS = ("ray", "ray.data")  # their console handlers print INFO lines by default
_RAY_BARS_LOGGER = "ray.data._internal.progress"  # "Progress bars disabled. To enable ..."


def _not_about_bars(record: logging.LogRecord) -> bool:
    """False for Ray Data's notes that its bars are off (fieldtool turned them off)."""
    return not record.name.startswith(_RAY_BARS_LOGGER) or record.levelno >= logging.ERROR


@contextmanager
def ray_quiet(verbose: bool) -> Iterator[None]:
    """For its length: Ray's console log handlers at WARNING (their INFO lines, e.g. each
    dataset's execution plan, go only to Ray's log files) and Ray Data's progress bars
    only on a terminal (elsewhere, a log file, they are lines by the hundred; on a
    terminal they are the one progress there is while the files' frames are classified:
    fieldtool's own per-file lines come after), its note that the bars are off dropped;
    all set back after. Nothing changes when ``verbose``."""
    if verbose:
        yield
        return
    from ray.data import DataContext

    ctx = DataContext.get_current()
    bars = ctx.enable_progress_bars
    consoles = [
        h
        for name in _RAY_LOGGERS
        for h in logging.getLogger(name).handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    levels = [h.level for h in consoles]
    ctx.enable_progress_bars = bars and sys.stderr.isatty()
    for handler in consoles:
        handler.setLevel(max(handler.level, logging.WARNING))
        handler.addFilter(_not_about_bars)
    try:
        yield
    finally:
        ctx.enable_progress_bars = bars
        for handler, level in zip(consoles, levels, strict=True):
            handler.setLevel(level)
            handler.removeFilter(_not_about_bars)


def run_batch(
    input_uri: str, db: Path, config: Config, options: BatchOptions | None = None,
    log: Callable[[str], None] = print,
) -> BatchSummary:  # fmt: skip
    """Every file ``input_uri`` names through the pipeline into ``db``. SIGTERM interrupts
    it as Ctrl-C does (KeyboardInterrupt; :func:`sigterm_interrupts`)."""
    with sigterm_interrupts():
        return _run_batch(input_uri, db, config, options, log)


def _run_batch(
    input_uri: str, db: Path, config: Config, options: BatchOptions | None,
    log: Callable[[str], None],
) -> BatchSummary:  # fmt: skip
    import ray

    options = options or BatchOptions()
    if config.source.motion_threshold > 0:
        raise FieldtoolError("source.motion_threshold: fieldtool batch classifies every frame "
                             "(frames of a file reach different actors); set it to 0")  # fmt: skip
    start = time.monotonic()
    db = Path(db)
    parts = options.parts or db.with_name(db.name + ".parts")
    plan = [row.as_row() for row in find_inputs(input_uri)]
    # Once here, on the CPU, for its labels and identity; the actors' own resolved settings
    # (device, precision) reach the session rows with their output. Before the database is
    # made: a model that does not load leaves no file behind.
    on_cpu = config.model_copy(update={"model": config.model.model_copy(update={"device": "cpu"})})
    classifier = (options.factory or load_classifier)(on_cpu)
    model = ModelInfo(classifier.labels, classifier.model_id, classifier.model_sha256)
    del classifier
    prepare_db(db, log, lock_timeout_s=config.store.lock_timeout_s)
    settings = settings_sha256(config, model.model_sha256)
    with ray_quiet(options.verbose):
        _ray_init(options)
        planned: Any = ray.data.from_items(plan)  # Ray's stubs do not see through fn_kwargs
        # a GPX beside a video keyed where the file's run looks for one, a start read as
        # the run reads it (the plan's DCF folders listed once, here: hash_options)
        kwargs = {"settings": settings, **hash_options(config, plan)}
        hashed = planned.map(with_hash, fn_kwargs=kwargs).take_all()
    earlier = earlier_work(db, hashed, config, model.model_sha256)
    for line in earlier.lines():
        log(f"batch: {line}")
    plan_sort = sort_plan(hashed, earlier.done, parts, settings, earlier.moved,
                          recorded_paths(db))  # fmt: skip
    summary = BatchSummary(skipped=plan_sort.done_before, identical=plan_sort.identical)
    finished = plan_sort.finished
    for line in plan_sort.lines():
        log(f"batch: {line}")
    for outcome in finished:
        log(f"batch: {outcome.path}: finished by an earlier run (its part is merged now)")
        _say_warnings(outcome, log)
    units = {row["batch_key"]: row for row in hashed}
    # the keys of this batch's work, done before with the model folder elsewhere too: their
    # sessions are not "earlier" ones another row of the same path replaces
    keys = list(units) + sorted(set(earlier.moved.values()))

    def merged(outcomes: list[FileOutcome], copies: list[FileOutcome] | None = None) -> None:
        if not outcomes and not copies:
            return
        merge(db, parts, outcomes, lock_timeout_s=config.store.lock_timeout_s, log=log,
              copies=copies or [], batch_keys=keys, reasons=earlier.why,
              moved=earlier.moved)  # fmt: skip
        if config.photos.package_reviews:  # as `fieldtool run PACKAGE` keeps them
            _package_reviews(db, [(units[f.batch_key], f.session_id) for f in outcomes
                                  if f.status == "done"], config, log)  # fmt: skip

    # a killed run's finished parts first: in the file whatever comes next, so a photo
    # counts as run where a part ran it, not where it was left out for another unit
    merged(finished)
    progress = Progress(0)
    pending, catalog = plan_sort.todo, functools.partial(unit_photos, config)
    while pending:  # in turns: a unit sharing photos with one before it waits for its outcome
        turn = next_turn(db, hashed, pending, catalog)
        for line in turn.lines():
            log(f"batch: {line}")
        summary.copies += [c.line() for c in turn.copies]
        _record_photo_copies(db, parts, config, units, settings, turn.copies)
        if turn.run and progress.total:
            log(f"batch: {len(turn.run)} more file(s) to decode and classify on Ray: they "
                "share photos with files before them, now run (each photo counts once)")
        elif turn.run:
            same = f", {len(summary.identical)} identical to another" if summary.identical else ""
            same += f", {len(turn.copies)} with every photo run before" if turn.copies else ""
            log(f"batch: {len(turn.run)} file(s) to decode and classify on Ray, "
                f"{len(summary.skipped) + len(finished)} done before{same}")  # fmt: skip
        progress.total += len(turn.run)
        groups = chunks(turn.run, options.chunk_files, options.chunk_bytes)
        for number, group in enumerate(groups, 1):
            if len(groups) > 1:
                log(f"batch: chunk {number} of {len(groups)}: {len(group)} file(s), "
                    f"{_gib(group)} GiB")  # fmt: skip
            try:
                with ray_quiet(options.verbose):
                    outcomes = _pipeline(group, config, model, parts, db.stem, settings, options,
                                         log, progress)  # fmt: skip
            except KeyboardInterrupt:
                kept = (f"the {progress.merged} file(s) of the chunks before are in {db}; "
                        if progress.merged else "")  # fmt: skip
                log(f"batch: interrupted; {kept}the files of this chunk finished so far are "
                    f"kept in {parts} and merged by the next run of this batch")  # fmt: skip
                raise
            merged(outcomes)
            progress.merged += len(outcomes)
            finished += outcomes
        pending = turn.waiting
    merged([], [_outcome(row, settings, {"status": "identical"}) for row in plan_sort.copies])
    summary.files = sorted(finished, key=lambda f: f.path)
    summary.wall_s = time.monotonic() - start
    return summary


def _record_photo_copies(
    db: Path, parts: Path, config: Config, units: dict[str, dict[str, Any]], settings: str,
    copies: Sequence[UnitCopies],
) -> None:  # fmt: skip
    """A ``batch_files`` row for each photo unit not run (every photo of it run before):
    ``identical`` to where the most of them were run (:mod:`fieldtool.scale.copies`)."""
    rows = [(_outcome(units[unit.key], settings, {"status": "identical"}), unit.most)
            for unit in copies]  # fmt: skip
    if rows:
        merge(db, parts, [], lock_timeout_s=config.store.lock_timeout_s, photo_copies=rows)


@dataclass
class Progress:
    """Files of a batch's Ray work: ``total`` to do in this run, ``done`` come back from
    the pipeline, ``merged`` into the database (whole chunks)."""

    total: int
    done: int = 0
    merged: int = 0


def chunks(
    todo: Sequence[dict[str, Any]], files: int, size_bytes: int
) -> list[list[dict[str, Any]]]:
    """``todo`` (plan rows, in order) cut into chunks of at most ``files`` rows and at most
    ``size_bytes`` bytes (``size_bytes`` of each row; a row larger than that is a chunk of its
    own). A chunk runs on Ray from its first decode to its last file's stages before the next
    starts: the group-by of a file's frames waits for every frame of the chunk, so what a
    killed batch loses is the chunk it was in, not the whole batch."""
    out: list[list[dict[str, Any]]] = []
    size = 0
    for row in todo:
        grows = int(row.get("size_bytes") or 0)
        if not out or len(out[-1]) >= max(1, files) or (out[-1] and size + grows > size_bytes):
            out.append([])
            size = 0
        out[-1].append(row)
        size += grows
    return out


def _gib(rows: Sequence[dict[str, Any]]) -> str:
    """The rows' bytes in GiB, two significant figures (for the chunk's line)."""
    return f"{sum(int(r.get('size_bytes') or 0) for r in rows) / 2**30:.2g}"


def _pipeline(
    todo: list[dict[str, Any]], config: Config, model: ModelInfo, parts: Path, db_stem: str,
    settings: str, options: BatchOptions, log: Callable[[str], None], progress: Progress,
) -> list[FileOutcome]:  # fmt: skip
    import ray

    gpus = ray.cluster_resources().get("GPU", 0) if config.model.device != "cpu" else 0
    cpus = ray.cluster_resources().get("CPU", 1)
    actors = options.actors or (int(gpus) or 1)
    share = 1.0 if cpus >= 2 else 0.5  # one CPU: decode and model take turns
    config_json = config.model_dump_json()
    plans = {row["batch_key"]: row for row in todo}
    ctx = ray.data.DataContext.get_current()
    if hasattr(ctx, "shuffle_strategy"):  # Ray >= 2.46; older ones sort-shuffle already
        from ray.data.context import ShuffleStrategy

        # The groupby by file: a sort shuffle runs in tasks; the hash shuffle starts
        # aggregator actors (seconds each) that a batch of small groups does not repay.
        ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    if hasattr(ctx, "max_consecutive_actor_init_deaths"):
        ctx.max_consecutive_actor_init_deaths = 3  # a worker lost while loading the model
    ds: Any = ray.data.from_items(todo, override_num_blocks=len(todo))
    # Retries: a task whose worker died runs again (Ray's default, 3 times); an actor that
    # died restarts and its batch runs again (Ray Data's default for actor pools: no limit).
    ds = ds.flat_map(decode_frames, fn_kwargs={"config": config},
                     num_cpus=min(options.decode_cpus, share))  # fmt: skip
    ds = ds.map_batches(
        ClassifyActor, fn_constructor_args=(config_json, options.factory),
        batch_size=config.model.batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if gpus else None, num_cpus=None if gpus else share,
    )  # fmt: skip
    ds = ds.groupby("batch_key", num_partitions=min(len(todo), 4 * int(cpus) or 1)).map_groups(
        post_file, batch_format="numpy", num_cpus=share,
        fn_kwargs={"plans": plans, "config_json": config_json, "model": model,
                   "parts": str(parts), "db_stem": db_stem},
    )  # fmt: skip
    got: dict[str, dict[str, Any]] = {}
    for r in ds.iter_rows():  # one per file, as its stages end (after every file's frames)
        got[r["batch_key"]] = r
        progress.done += 1
        log(f"batch: {progress.done} of {progress.total} file(s) done: "
            f"{unit_name(plans[r['batch_key']])} ({r['status']})")  # fmt: skip
        _say_warnings(_outcome(plans[r["batch_key"]], settings, r), log)
    return [_outcome(row, settings, got.get(row["batch_key"], _lost())) for row in todo]


def _say_warnings(outcome: FileOutcome, log: Callable[[str], None]) -> None:
    """A file's warnings, each with its name (as ``fieldtool run`` says them for one file)."""
    name = outcome.path
    for line in outcome.warnings:
        log(line if name in line else f"{name}: {line}")


def _package_reviews(
    db: Path, units: list[tuple[dict[str, Any], str]], config: Config,
    log: Callable[[str], None],
) -> None:  # fmt: skip
    """The observations by people of each Camtrap DP package unit just merged, as reviews
    of its session's sightings (:mod:`fieldtool.camtrap.reviews`)."""
    from fieldtool.camtrap.read import is_package
    from fieldtool.camtrap.reviews import review_session

    read: dict[str, Any] = {}  # each package's observations, read once for its units
    for row, session_id in units:
        if row.get("kind") == "photos" and session_id and is_package(row["path"]):
            review_session(db, session_id, row["path"], row.get("deployment") or None, log,
                           timeout_s=config.store.lock_timeout_s, read=read)  # fmt: skip


def _lost() -> dict[str, Any]:
    return {"status": "failed", "error": "no result came back from the pipeline"}


def _outcome(
    row: dict[str, Any], settings: str, result: dict[str, Any], resumed: bool = False
) -> FileOutcome:
    """A plan row's outcome from its post task's summary (or a finished part's)."""
    try:
        warnings = [str(w) for w in json.loads(str(result.get("warnings") or "[]"))]
    except ValueError:
        warnings = []
    return FileOutcome(
        row["batch_key"],
        row["path"],
        row["content_sha256"],
        settings,
        str(result["status"]),
        str(result.get("error") or ""),
        str(result.get("session_id") or ""),
        int(result.get("frames") or 0),
        int(result.get("sightings") or 0),
        float(result.get("duration_s") or 0.0),
        int(result.get("gaps") or 0),
        float(result.get("gap_s") or 0.0),
        None if result.get("positioned") is None else int(result["positioned"]),  # old parts: none
        str(result.get("time_source") or ""),
        warnings,
        resumed,
    )


__all__ = ["BatchOptions", "BatchSummary", "PlanRow", "run_batch"]
