"""The station: N sources, one model worker, one store writer, notifications.

Threads: one reader per source (:mod:`fieldtool.station.feed`), the model worker
(:mod:`fieldtool.station.worker`), and the station thread, the only one that touches the
:class:`~fieldtool.store.SightingStore` (it is not thread-safe: every store call, session
rows included, is routed through this thread's queue, no lock) and the notifiers' filters.
The caller's thread (:meth:`Station.run`) adds and removes sources (reload) and stops.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldtool.notify import Notice, Notifiers
from fieldtool.notify.config import unset_secrets
from fieldtool.pipeline import (
    SessionResult,
    classifier_from_config,
    finish_session,
    start_session,
    video_placement,
)
from fieldtool.pipeline.inputs import earlier_sessions
from fieldtool.preview import tiles_seen_by
from fieldtool.priors import RangePriorStage, range_prior_from_config
from fieldtool.sources import source_key
from fieldtool.station.config import SourceEntry, StationConfig
from fieldtool.station.feed import Feed, StationStep, now_iso
from fieldtool.station.status import (
    alive,
    register_station,
    running_statuses,
    status_file_of,
    unregister_station,
)
from fieldtool.station.worker import Batch, ModelWorker, Slot
from fieldtool.store import SightingStore, query
from fieldtool.timebase import utc_now
from fieldtool.types import Classifier, FieldtoolError, SessionStatus

_STOP = "stop"
STATION_REMEDY = ("fieldtool station --replace (or [station] replace_earlier = true) deletes "
                  "the earlier ones first, another [store] db keeps them apart")  # fmt: skip
PROGRESS_INTERVAL_S = 2.0  # as a single session's progress lines


class Station:
    """Runs a :class:`StationConfig`. ``classifier`` (tests, benchmarks): the model to use
    instead of the one ``config.model`` names; ``replace_earlier``: first delete the
    store's earlier sessions of each file source (``--replace``; a live source's stay),
    else a file's earlier sessions are warned about; ``progress``: called with every
    source's live figures (:meth:`Feed.figures`) about every ``PROGRESS_INTERVAL_S`` and
    once at the end; ``attach``: called with the station once it can be stopped (the
    signal handlers' :meth:`~fieldtool.station.reload.StationSignals.attach`), before its
    notification targets open, so no signal falls between the two. Thread-safe entry
    points: :meth:`stop`, :meth:`request_reload`; :meth:`run` blocks until stopped (or
    every source has ended)."""

    def __init__(
        self,
        config: StationConfig,
        *,
        path: Path | None = None,
        classifier: Classifier | None = None,
        log: Callable[[str], None] | None = None,
        replace_earlier: bool = False,
        progress: Callable[[list[dict[str, Any]]], None] | None = None,
        attach: Callable[[Station], None] | None = None,
    ) -> None:
        self.config = config
        self.path = path  # the TOML, re-read on reload
        self.name = config.station.name
        self._log = log or (lambda message: None)
        where = f"{path}: " if path is not None else ""
        for key, variable in unset_secrets(config.notify):  # before anything loads or opens
            raise FieldtoolError(f"{where}{key}: environment variable {variable!r} is not set")
        base = config.session_config(config.sources[0]) if config.sources else None
        if classifier is None:
            if base is None:
                raise FieldtoolError("station: no sources")
            classifier = classifier_from_config(base, self._log)
        self.classifier = classifier
        self.db = Path(config.store.db)
        # opened by run() once every source has opened: a station refused at start-up
        # (a missing file, a bad entry) creates no database file
        self._store: SightingStore | None = None
        self.status_file = config.station.status_file or status_file_of(self.db, self.name)
        self._own_status_file = False  # <name>-<pid>.json: no other run writes it again
        self._entry: Path | None = None  # its entry in the database's station registry
        # whether status_file holds this run's last status (not: stopped before any source
        # started, or its own -<pid> file removed as it stopped)
        self.status_written = False
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=config.worker.queue_batches)
        self.worker = ModelWorker(
            classifier, self._queue.put, max_batch=config.worker.max_batch,
            max_wait_ms=config.worker.max_wait_ms, on_error=self._model_failed,
        )  # fmt: skip
        self.feeds: dict[str, Feed] = {}  # by key, running; the station thread removes ended
        self.by_name: dict[str, Feed] = {}  # the newest run of each name (status file)
        self.results: list[SessionResult] = []  # sessions ended, in order
        self.notices = 0  # notices handed to at least one target
        self._generation = 0
        self._stop = threading.Event()
        self._stop_reason = "station stopped"
        self._reload = threading.Event()
        self._wake = threading.Event()
        self.error: BaseException | None = None
        self._last_status = 0.0
        self._replace_earlier = replace_earlier
        # the files (source_key) this run has started a source on: a reload starting one
        # of them again (restarted with new settings) finds this run's session, no earlier one
        self._files_read: set[str] = set()
        self._progress = progress
        self._last_progress = time.monotonic()
        self._thread = threading.Thread(target=self._serve, name="fieldtool-station",
                                        daemon=True)  # fmt: skip
        if attach is not None:  # from here a signal asks this station to stop (run() says)
            attach(self)
        # last: a signal before the attachment interrupts the start-up with nothing to close
        self.notifiers = Notifiers.from_config(
            config.notify, self.name, self.db.parent, seen_today=self._seen_today(),
            log=self._log,
        )  # fmt: skip

    @property
    def store(self) -> SightingStore:
        """The one store, opened by :meth:`run` once every source has opened."""
        if self._store is None:
            raise RuntimeError("the station's store opens when it runs")
        return self._store

    # -- the caller's thread ---------------------------------------------------------------
    def run(self) -> list[SessionResult]:
        """Start every source and serve until :meth:`stop` (or every source has ended);
        every session is then closed with its open sightings written."""
        ready = self._prepare_all()  # every source opens, or none starts (no session rows)
        if self._stop.is_set():  # stopped while the sources opened: none starts
            written = ("nothing was written to the database" if self._store is None
                       else "no session was written")  # fmt: skip
            self._log(f"{self._stop_reason} before any source started; {written}")
            self._close_unstarted(ready)
            return []
        self._other_stations()
        self._register()
        self.worker.start()
        self._thread.start()
        try:
            for feed in ready:
                self._start(feed)
            while not self._stop.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                if self._reload.is_set():
                    self._reload.clear()
                    self.reload()
                if self.error is not None or not self._live_feeds():
                    break
        finally:
            self._shutdown()
        if self.error is not None:
            raise self.error
        return self.results

    def stop(self, reason: str = "station stopped") -> None:
        """End the station (any thread, a signal handler too); ``reason``: its sessions'
        end reason (``station stopped (SIGTERM)``)."""
        self._stop_reason = reason
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Re-read the TOML at the next turn of :meth:`run` (any thread, SIGHUP)."""
        self._reload.set()
        self._wake.set()

    def _live_feeds(self) -> list[Feed]:
        return [f for f in list(self.feeds.values()) if f.status != "ended"]

    def add(self, entry: SourceEntry) -> Feed:
        """Open a source and start its reader (a reload); its session opens on the station
        thread, after the start-up's check of a file's earlier sessions (:meth:`_earlier_
        sessions`) where this run has not read the file yet. A source that cannot open
        raises with none of its lines said."""
        said: list[str] = []
        feed = self._prepare(entry, said.append)
        for line in said:  # it opened: its notes are true of a source that starts
            self._log(line)
        self._start(feed, check_earlier=self._file_of(feed) not in self._files_read)
        return feed

    def _prepare_all(self) -> list[Feed]:
        """Every source opened (files probed, tracks read), none started, then the store:
        a source that cannot open is a one-line error naming it, and the station ends with
        no session and no database file made. A stop asked meanwhile (a signal) leaves the
        store unopened, or opened with no earlier session deleted (``replace_earlier``)."""
        ready: list[Feed] = []
        said: list[str] = []  # the sources' notes: said once every one has opened
        try:
            for entry in self.config.sources:
                try:
                    ready.append(self._prepare(entry, said.append))
                except FieldtoolError as exc:
                    where = f"{self.path}: " if self.path is not None else ""  # the TOML
                    raise FieldtoolError(f"{where}source {entry.name}: {exc}") from None
            if self._stop.is_set():  # run() says so: no database file made
                return ready
            for line in said:  # refused or stopped above, none started: none said
                self._log(line)
            store_cfg = self.config.store
            self._store = SightingStore(
                self.db, lock_timeout_s=store_cfg.lock_timeout_s,
                flush_interval_s=store_cfg.flush_interval_s, log=self._log,
            )  # fmt: skip
            if not self._stop.is_set():  # a stop asked as it opened: nothing deleted
                self._earlier_sessions(ready)
        except BaseException:
            self._close_unstarted(ready)
            raise
        return ready

    def _close_unstarted(self, ready: list[Feed]) -> None:
        """Sources opened but not started, the targets and the store: closed."""
        for feed in ready:
            close = getattr(feed.positions, "close", None)  # a live receiver's thread
            if close is not None:
                close()
        self.notifiers.close(10.0)
        if self._store is not None:
            self._store.close()

    def _other_stations(self) -> None:
        """One line when other stations run into this database (each keeps its own status
        file, which the dashboard reads); one of this station's name (in another live
        process) keeps its file, and this one writes ``<its name>-<pid>.json``, which no
        other run writes again: removed when this one stops (:meth:`_write_status`)."""
        found = running_statuses(self.db)
        mine = [s for s in found  # found beside the database or through the registry
                if Path(s["status_file"]).resolve() == self.status_file.resolve()]
        others = [s for s in found if s not in mine and alive(s)]
        if taken := [s for s in mine if alive(s, elsewhere_than=os.getpid())]:
            pid = taken[0]["pid"]
            self.status_file = self.status_file.with_name(
                f"{self.status_file.stem}-{os.getpid()}{self.status_file.suffix}")
            self._own_status_file = True  # removed when the station stops
            self._log(f"another station named {self.name} (pid {pid}) runs into {self.db}: "
                      f"this one's status is in {self.status_file}; give it another [station] "
                      "name (its MQTT client id and dead-letter files are named by it)")  # fmt: skip
        if others:
            names = ", ".join(f"{s.get('station')} (pid {s.get('pid')})" for s in others)
            self._log(f"station {names} runs into {self.db} too: each station keeps its own "
                      "status file")  # fmt: skip

    def _register(self) -> None:
        """Say where this station's status file is in the database's station registry
        (``[station] status_file`` may put it anywhere: the dashboard looks there); the
        entry is removed as the station stops (:meth:`_shutdown`)."""
        try:
            self._entry = register_station(self.db, self.name, self.status_file)
        except OSError as exc:  # the station runs on; the dashboard may not find its status
            self._log(f"{self.db.parent}: station registry entry not written "
                      f"({exc.strerror or exc}); the dashboard finds only a status file "
                      "named <db stem>_station-*.json beside the database")  # fmt: skip

    def _earlier_sessions(self, feeds: list[Feed]) -> None:
        """``replace_earlier`` (or ``[station] replace_earlier``): delete the earlier
        sessions of each file source; a live source's are its history, kept. Else a line
        for each file the store already holds sessions of, naming what works for the
        command (a station file's, or ``fieldtool run``'s flags). The one check for both: at
        start-up every source's, before the station thread starts (this thread is then the
        store's only user); on a reload a started source's, on the station thread before
        its session opens (:meth:`add`)."""
        replace = self._replace_earlier or self.config.station.replace_earlier
        remedy = None if self.path is None else STATION_REMEDY
        for feed in feeds:
            live = feed.source.live
            earlier_sessions(self.store, str(feed.source.uri), live=live,
                             replace=replace and not live, log=self._named(feed.name),
                             remedy=remedy)  # fmt: skip

    @staticmethod
    def _file_of(feed: Feed) -> str:
        """The source as its sessions record it (a file made whole)."""
        return source_key(str(feed.source.uri))

    def _named(self, name: str) -> Callable[[str], None]:
        """The log, each line after ``name:`` (a source's)."""
        return lambda line: self._log(f"{name}: {line}")

    def _prepare(self, entry: SourceEntry, log: Callable[[str], None]) -> Feed:
        """A source, its placement and its stages, not yet started; its lines (notes,
        warnings, each after ``<name>:``) go to ``log``, which says them only once the
        source starts (a station refused at start-up says none)."""
        config = self.config.session_config(entry)
        say = (lambda m: log(f"{entry.name}: {m}"))  # noqa: E731
        # The source and its placement as `fieldtool run` opens them (notes and warnings too).
        source, placement = video_placement(config, say)
        source.name = entry.name  # the session's source_name
        ranges = range_prior_from_config(config.prior)
        prior = (RangePriorStage(ranges, self.classifier.labels, config.prior, log=say)
                 if ranges else None)  # fmt: skip
        self._generation += 1
        key = f"{entry.name}#{self._generation}"
        depth = max(2, self.config.worker.max_batch)
        return Feed(key, entry.name, config, source, Slot(key, source.live, depth),
                    placement.positions, prior, placement.time)  # fmt: skip

    def _start(self, feed: Feed, *, check_earlier: bool = False) -> None:
        """Start a prepared source; ``check_earlier`` (a reload's): its session opens after
        :meth:`_earlier_sessions` (on the station thread, the store's one user)."""
        self.feeds[feed.key] = feed
        self.by_name[feed.name] = feed
        if not feed.source.live:
            self._files_read.add(self._file_of(feed))
        # before any of its frames can be classified
        self._queue.put(("open", feed, check_earlier))
        feed.start_reader(self.worker, self.classifier)
        self._log(f"{feed.name}: started ({feed.source.uri})")
        if feed.config.store.preview is not None:
            self._log(f"{feed.name}: preview video {feed.config.store.preview}")

    def remove(self, name: str, reason: str) -> None:
        for feed in list(self.feeds.values()):
            if feed.name == name and feed.status != "ended":
                feed.stop(self.worker, reason)

    def reload(self) -> None:
        """Re-read the TOML: start added sources, stop removed ones, restart changed ones;
        the others keep running untouched."""
        from fieldtool.station.reload import plan_reload

        if self.path is None:
            self._log("reload: no station file to read again (several sources of "
                      "`fieldtool run`): nothing changes")  # fmt: skip
            return
        from fieldtool.station.config import load_station_config

        try:
            new = load_station_config(self.path)
        except FieldtoolError as exc:
            self._log(f"reload refused, the station runs on unchanged: {exc}")
            return
        plan = plan_reload(self.config, new)
        for line in plan.notes:
            self._log(line)
        for name in (*plan.removed, *plan.changed):
            self.remove(name, "removed from the station" if name in plan.removed else
                        "restarted with new settings")  # fmt: skip
        # the station keeps its own sections (model, store, worker, notify): a restart
        self.config = self.config.model_copy(update={"sources": new.sources})
        for name in (*plan.changed, *plan.added):
            try:
                self.add(new.entry(name))
            except FieldtoolError as exc:
                self._log(f"{name}: not started: {exc}")
        self._log(f"reloaded: {len(plan.added)} added, {len(plan.removed)} removed, "
                  f"{len(plan.changed)} restarted, {len(plan.unchanged)} untouched")  # fmt: skip

    def _shutdown(self) -> None:
        for feed in list(self.feeds.values()):
            feed.stop(self.worker, self._stop_reason)
        for feed in list(self.feeds.values()):
            if feed.thread is not None:
                feed.thread.join(feed.config.source.read_timeout_s + 5)
        self.worker.close()
        self._queue.put(_STOP)
        self._thread.join()
        self.notifiers.close(10.0)
        flushed = self.store.close()
        if flushed.unwritten:
            self._log(f"{flushed.unwritten} rows are not in {self.store.path} yet "
                      f"({flushed.journal or 'memory only'})")  # fmt: skip
        try:
            self._write_status(final=True)
        finally:  # after its final status: a reader between the two sees it not running
            if self._entry is not None:
                unregister_station(self._entry)

    def _model_failed(self, exc: BaseException) -> None:
        self.error = exc
        self._log(f"the model failed: {exc}; the station stops")
        for feed in list(self.feeds.values()):
            feed.stop(self.worker, "model failed", discard=True)
        self._queue.put(Batch([], 0.0, [f.slot for f in list(self.feeds.values())]))
        self.stop()

    def _seen_today(self) -> list[str]:
        """Species sighted today (UTC) in the store already: not 'new today'."""
        start = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
        if not self.db.is_file():
            return []
        try:
            rows = query(self.db, "SELECT DISTINCT species FROM sightings "
                         "WHERE first_seen >= ?", [start])  # fmt: skip
        except Exception:  # a held or new file: nothing known
            return []
        return [str(s) for s in rows["species"]]

    # -- the station thread: every store call ---------------------------------------------
    def _serve(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.config.station.status_interval_s)
            except queue.Empty:
                item = None
            try:
                if item == _STOP:
                    for feed in list(self.feeds.values()):  # a reader that hung: end anyway
                        self._finish(feed)
                    return
                if isinstance(item, tuple) and item[0] == "open":
                    if item[2]:  # added by a reload: the start-up's check first
                        self._earlier_sessions([item[1]])
                    self._open(item[1])
                elif isinstance(item, Batch):
                    self._handle(item)
                self._write_status()
            except BaseException as exc:  # noqa: BLE001 - the station must stop, not hang
                self.error = self.error or exc
                self._log(f"station thread failed: {exc}")
                self.stop()

    def _open(self, feed: Feed) -> None:
        config = feed.config
        session = start_session(feed.source, self.classifier, self.store, config,
                                time_basis=feed.time_basis)  # fmt: skip
        labels = self.classifier.labels
        feed.step = StationStep.for_session(
            session, self.store, config, labels, positions=feed.positions, prior=feed.prior,
            log=self._log, tell=self._tell, station=self.name,
            source_name=feed.name, dashboard_url=self.config.notify.dashboard_url,
            seen_tiles=tiles_seen_by(self.classifier),
        )  # fmt: skip
        feed.status = "running"

    def _tell(self, notice: Notice) -> None:
        self.notices += bool(self.notifiers.send(notice))

    def _handle(self, batch: Batch) -> None:
        touched: dict[str, Feed] = {}
        for item in batch.items:
            feed = self.feeds.get(item.key)
            if feed is None or feed.step is None:
                continue
            feed.step.step(item.frame, item.probs, item.tile_probs)
            feed.analysed(item.lag_s, item.arrived)
            touched[item.key] = feed
        for feed in touched.values():
            assert feed.step is not None
            session = feed.step.session
            session.frames_read = feed.source.stats.frames_read
            session.frames_dropped = feed.slot.dropped
            feed.step.record_gaps(feed.source.stats.gaps)
            self.store.record_session(session)  # live counters for the dashboard
        for slot in batch.ended:
            feed = self.feeds.get(slot.key)
            if feed is not None:
                self._finish(feed)
        if touched:
            next(iter(touched.values())).step.flush(due_only=True)  # type: ignore[union-attr]

    def _finish(self, feed: Feed) -> None:
        """The source ended: close its session (open sightings written and told)."""
        self.feeds.pop(feed.key, None)
        feed.status = "ended"
        self._wake.set()
        if feed.step is None:
            return
        session = feed.step.session
        stats = feed.source.stats
        if feed.slot.error is not None:
            session.status = SessionStatus.FAILED
            session.end_reason = str(feed.slot.error).splitlines()[0][:500] if str(
                feed.slot.error) else type(feed.slot.error).__name__  # fmt: skip
            self._log(f"{feed.name}: failed: {session.end_reason}")
        elif stats.lost:
            session.status, session.end_reason = SessionStatus.STREAM_LOST, stats.end_reason
        elif feed.stop_reason is not None:
            session.status, session.end_reason = SessionStatus.INTERRUPTED, feed.stop_reason
        else:
            session.status = SessionStatus.FINISHED
        session.frames_dropped = feed.slot.dropped
        finish_session(feed.step, feed.source.stats)
        close = getattr(feed.positions, "close", None)  # live receivers hold a thread
        if close is not None:
            close()
        self.results.append(feed.step.result)
        self._log(f"{feed.name}: {session.status}; {session.frames_analysed} frames analysed, "
                  f"{len(feed.step.result.sightings)} sightings")  # fmt: skip

    def _write_status(self, *, final: bool = False) -> None:
        """Rewrite the status file (every ``status_interval_s``): atomically, for readers.
        ``final``: the last write (``running`` false), but a ``<name>-<pid>.json`` file of
        this process alone (another live station has the name's) is removed instead: one
        left by every such run would pile up, and a stopped station is not live."""
        now = time.monotonic()
        if not final and now - self._last_status < self.config.station.status_interval_s:
            return
        self._last_status = now
        w = self.worker
        sources = [feed.figures() for feed in list(self.by_name.values())]
        data = {
            "station": self.name, "updated_at": now_iso(), "running": not final,
            "pid": os.getpid(), "db": str(self.db),
            "worker": {"batches": w.batches, "frames": w.frames,
                       "model_busy_s": round(w.model_s, 3),
                       "mean_batch": round(w.frames / w.batches, 2) if w.batches else 0.0,
                       "max_batch": w.max_batch,
                       "max_wait_ms": round(w.max_wait_s * 1000, 3)},
            "notify": {"targets": [t.name for _, t in self.notifiers.targets],
                       "pending": sum(t.pending() for _, t in self.notifiers.targets),
                       "sent": self.notices},
            "sources": sources,
        }  # fmt: skip
        if self._progress is not None and (
            final or now - self._last_progress >= PROGRESS_INTERVAL_S
        ):
            self._last_progress = now
            self._progress(sources)
        if final and self._own_status_file:
            self.status_written = False
            try:
                self.status_file.unlink(missing_ok=True)
            except OSError as exc:
                self._log(f"{self.status_file}: not removed ({exc.strerror or exc})")
            return
        tmp = self.status_file.with_name(self.status_file.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
            os.replace(tmp, self.status_file)
            self.status_written = True
        except OSError as exc:
            if final:
                self.status_written = False  # what is there is not its last status
                self._log(f"{self.status_file}: not written ({exc.strerror or exc})")
