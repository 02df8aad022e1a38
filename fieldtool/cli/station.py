"""``fieldtool station``: many sources on one model, with notifications."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from fieldtool.cli.common import log
from fieldtool.config import Config
from fieldtool.types import FieldtoolError


def cmd_station(args: argparse.Namespace) -> int:
    from fieldtool.station import Station, load_station_config
    from fieldtool.station.reload import station_signals

    config = load_station_config(args.station_file)
    station = Station(config, path=args.station_file, log=log)
    with station_signals(station):
        results = station.run()
    log(f"station {config.station.name}: {len(results)} sessions ended; status in "
        f"{station.status_file}")  # fmt: skip
    return _exit(results)


def run_sources(config: Config, uris: list[str]) -> int:
    """``fieldtool run SRC1 SRC2 ...``: the sources as one station on one model, with the
    session settings of ``config`` for each (no notifications); Ctrl-C / SIGTERM stop."""
    import cv2  # here: the CLI's import stays light

    from fieldtool.station import Station, StationConfig
    from fieldtool.station.reload import station_signals

    for uri in uris:
        if Path(uri).is_dir() or (Path(uri).is_file() and cv2.haveImageReader(uri)):
            raise FieldtoolError(
                f"{uri}: photos run one set at a time; several sources run as a station of "
                "videos and streams (quote a photo glob)"
            )
    names: list[str] = []
    for uri in uris:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(uri).stem or uri).strip("_") or "source"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    shared = ("source", "model", "position", "prior", "smoothing", "store")  # a station's
    sections = config.model_dump(include=set(shared), exclude={"source": {"uri"}})
    station_config = StationConfig.model_validate(
        {**sections, "sources": [{"name": n, "uri": u} for n, u in zip(names, uris, strict=True)]}
    )
    station = Station(station_config, log=log)
    with station_signals(station):
        results = station.run()
    for result in results:
        for s in result.sightings:
            print(f"{result.session.source_name:<16} {s.species:<28} "
                  f"{s.first_t:7.1f}-{s.last_t:7.1f} s  peak {s.peak_score:.2f}  "
                  f"frames {s.frames}")  # fmt: skip
    return _exit(results)


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
    p.set_defaults(func=cmd_station)
