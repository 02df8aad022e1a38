"""Signals of a running station: SIGHUP re-reads the TOML (:func:`plan_reload` says what
changes), SIGTERM and Ctrl-C stop it cleanly (every open sighting closed and written).

A reload touches only the sources whose entry changed (added, removed, or with another
uri or overrides) or whose merged settings changed with a shared section; the model,
the store, the worker and the notification targets stay as they started (a log line
says a change to them needs a restart).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from fieldtool.station.config import StationConfig

if TYPE_CHECKING:
    from fieldtool.station.runner import Station

RESTART_SECTIONS = ("model", "store", "worker", "notify", "station")


@dataclass
class ReloadPlan:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_reload(old: StationConfig, new: StationConfig) -> ReloadPlan:
    """Which sources a reload from ``old`` to ``new`` starts, stops and restarts."""
    plan = ReloadPlan()
    before = {e.name: e for e in old.sources}
    after = {e.name: e for e in new.sources}
    for name, entry in after.items():
        if name not in before:
            plan.added.append(name)
        elif old.session_config(before[name]) != _merged(old, new, entry):
            plan.changed.append(name)
        else:
            plan.unchanged.append(name)
    plan.removed = [name for name in before if name not in after]
    for section in RESTART_SECTIONS:
        if getattr(old, section) != getattr(new, section):
            plan.notes.append(f"[{section}] changed: it takes effect at the next start")
    return plan


def _merged(old: StationConfig, new: StationConfig, entry: Any) -> Any:
    """The entry's settings under ``new``, but with the station's model and store (which
    a reload does not change)."""
    kept = new.model_copy(update={"model": old.model, "store": old.store})
    return kept.session_config(entry)


class StationSignals:
    """The signals of a station's process from before its start-up (the model's load, the
    sources' opening) to its end (main thread): SIGTERM and SIGINT stop it, SIGHUP reloads
    it. Before :meth:`attach` (start-up) a SIGHUP is kept and acted on once the station
    runs; a SIGTERM or SIGINT ends the start-up at once (``KeyboardInterrupt`` with the
    signal's name: nothing has been written yet)."""

    def __init__(self, log: Callable[[str], None] | None = None) -> None:
        self.station: Station | None = None
        self._log = log or (lambda message: None)
        self._hup = False

    def attach(self, station: Station) -> None:
        """The station now exists: signals go to it (a SIGHUP kept from start-up too)."""
        self.station = station
        if self._hup:
            self._hup = False
            self._log("SIGHUP during start-up: acted on now that the station runs")
            station.request_reload()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.station is None:
            raise KeyboardInterrupt(name)  # start-up ends here
        self.station.stop(f"station stopped ({name})")

    def _reload(self, signum: int, frame: FrameType | None) -> None:
        if self.station is None:
            self._hup = True  # a log line from a handler could interleave: said at attach
        else:
            self.station.request_reload()


@contextmanager
def station_signals(log: Callable[[str], None] | None = None) -> Iterator[StationSignals]:
    """While the block runs (main thread): SIGHUP reloads, SIGTERM and SIGINT stop the
    station :meth:`StationSignals.attach` names, from before it exists; the handlers
    before are put back after."""
    signals = StationSignals(log)
    wanted: dict[signal.Signals, Any] = {signal.SIGTERM: signals._stop,
                                         signal.SIGINT: signals._stop}  # fmt: skip
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = signals._reload
    old: dict[signal.Signals, Any] = {}
    for sig, handler in wanted.items():
        old[sig] = signal.signal(sig, handler)
    try:
        yield signals
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
