"""``fieldtool station``: many sources on one model, with notifications."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fieldtool.cli.common import ProgressPrinter, log
from fieldtool.config import Config
from fieldtool.types import FieldtoolError


def cmd_station(args: argparse.Namespace) -> int:
    from fieldtool.station.reload import station_signals  # light: its handlers go in first

    with station_signals(log) as signals:  # from before start-up: a SIGHUP never kills it
        try:  # the station attaches itself to the signals as it is built: no gap between
            # Loading the station's code (torch, the pipeline) takes seconds: in the block.
            from fieldtool.station import Station, load_station_config

            config = load_station_config(args.station_file)
            station = Station(config, path=args.station_file, log=log,
                              replace_earlier=args.replace, attach=signals.attach)  # fmt: skip
        except KeyboardInterrupt as exc:
            return _stopped_starting(exc)
        results = station.run()
    # none where it stopped before it started, or removed its own -<pid> file
    status = f"; status in {station.status_file}" if station.status_written else ""
    log(f"station {config.station.name}: {len(results)} sessions ended{status}")
    return _exit(results)


def _stopped_starting(exc: KeyboardInterrupt) -> int:
    """SIGTERM or Ctrl-C while a station (or a run of several sources) started: stopped
    as asked, before it wrote anything (exit 0, as a station stopped later)."""
    log(f"stopped during start-up ({exc or 'SIGINT'}); nothing was written to the database")
    return 0


def run_sources(
    config: Config, uris: list[str], *, quiet: bool = False, replace: bool = False
) -> int:
    """``fieldtool run SRC1 SRC2 ...``: the sources as one station on one model, with the
    session settings of ``config`` for each (no notifications); Ctrl-C / SIGTERM stop.
    ``quiet``: no progress lines; ``replace``: first delete the earlier sessions of each
    source (as ``fieldtool run --replace``). A file that is missing, or any source that
    cannot open, is a one-line error before any source starts."""
    import cv2  # here: the CLI's import stays light
    from pydantic import ValidationError

    from fieldtool.config.base import validation_line
    from fieldtool.station.config import StationConfig, source_names
    from fieldtool.station.reload import station_signals

    for uri in uris:
        if Path(uri).is_dir() or (Path(uri).is_file() and cv2.haveImageReader(uri)):
            raise FieldtoolError(
                f"{uri}: photos run one set at a time; several sources run as a station of "
                "videos and streams (quote a photo glob)"
            )
    missing = [u for u in uris if "://" not in u and not u.isdigit() and not Path(u).exists()]
    if missing:  # before the model loads: nothing started, no session written
        raise FieldtoolError(f"{', '.join(missing)}: video file not found; no source was started")
    names = source_names(uris)
    shared = ("source", "model", "position", "prior", "smoothing", "store")  # a station's
    sections = config.model_dump(include=set(shared), exclude={"source": {"uri"}})
    sources = [{"name": n, "uri": u} for n, u in zip(names, uris, strict=True)]
    data = {**sections, "sources": sources}
    try:
        station_config = StationConfig.model_validate(data)
    except ValidationError as exc:  # settings fine for one source, not for a station
        raise FieldtoolError(validation_line(exc, StationConfig, data=data)) from None
    printer = None if quiet else SourcesProgress("progress")
    try:
        with station_signals(log) as signals:  # from before the model loads
            try:  # attached to the signals as it is built (cmd_station)
                from fieldtool.station import Station  # seconds (torch): in the block

                station = Station(station_config, log=log, replace_earlier=replace,
                                  progress=printer, attach=signals.attach)  # fmt: skip
            except KeyboardInterrupt as exc:
                return _stopped_starting(exc)
            results = station.run()
    finally:
        if printer is not None:
            printer.done()
    for result in results:
        for s in result.sightings:
            print(f"{result.session.source_name:<16} {s.species:<28} "
                  f"{s.first_t:7.1f}-{s.last_t:7.1f} s  peak {s.peak_score:.2f}  "
                  f"frames {s.frames}")  # fmt: skip
    return _exit(results)


class SourcesProgress(ProgressPrinter):
    """One status line for all the sources of a station run (rewritten in place on a
    terminal, as a single session's): each source's analysed frames, rate and sightings."""

    def __call__(self, figures: list[dict[str, Any]]) -> None:
        parts = [f"{f['name']} {f['frames_analysed']} frames ({f['rate_fps']:.1f}/s), "
                 f"{f['open_sightings']} open" for f in figures]  # fmt: skip
        line = f"{self.label}: " + ("; ".join(parts) or "starting")
        end = "\r" if self.tty else "\n"
        print(line.ljust(100) if self.tty else line, end=end, file=self.stream, flush=True)


def _exit(results: list[Any]) -> int:
    """0 when every session finished (or was stopped) with its rows written, else 1."""
    from fieldtool.types import SessionStatus

    ok = {SessionStatus.FINISHED, SessionStatus.INTERRUPTED}
    return 0 if all(r.session.status in ok and not r.unwritten_rows for r in results) else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "station",
        help="run a station: every source of a TOML file on one model, with MQTT and "
        "webhook notifications (SIGHUP reloads the file, Ctrl-C / SIGTERM stop)",
    )
    p.add_argument("station_file", type=Path, help="station TOML (docs/station.md)")
    p.add_argument("--replace", action="store_true",
                   help="first delete the database's earlier sessions of each file source (a "
                   "restart adds a file's sightings beside theirs otherwise, said); a live "
                   "source's earlier sessions stay; [station] replace_earlier = true in the "
                   "file does it at every start")  # fmt: skip
    p.set_defaults(func=cmd_station)
