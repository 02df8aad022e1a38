"""A field station: many sources on one model, one store writer, notifications.

- :mod:`~fieldtool.station.config`: the station TOML (:class:`StationConfig`);
- :mod:`~fieldtool.station.worker`: the one model worker (dynamic batches across sources);
- :mod:`~fieldtool.station.feed`: one source's reader, stages and live figures;
- :mod:`~fieldtool.station.runner`: :class:`Station`, the threads and the one store writer;
- :mod:`~fieldtool.station.reload`: SIGHUP reload, SIGTERM / Ctrl-C stop.

``docs/station.md`` shows a station file, the MQTT topics and the webhook body.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fieldtool.lazy import lazy_exports

# Lazy: the dashboard reads a station's status (``status``) without loading the model,
# the pipeline or paho.
if TYPE_CHECKING:
    from fieldtool.station.config import (
        SourceEntry,
        StationConfig,
        WorkerConfig,
        load_station_config,
    )
    from fieldtool.station.runner import Station
    from fieldtool.station.status import read_status, running_statuses, status_file_of

_MODULE_OF = {
    "SourceEntry": "config", "StationConfig": "config", "WorkerConfig": "config",
    "load_station_config": "config", "Station": "runner", "read_status": "status",
    "running_statuses": "status", "status_file_of": "status",
}  # fmt: skip

__all__ = [
    "SourceEntry",
    "Station",
    "StationConfig",
    "WorkerConfig",
    "load_station_config",
    "notify_review",
    "read_status",
    "running_statuses",
    "status_file_of",
]


def notify_review(station_file: Path, review_id: str, *, timeout_s: float = 10.0) -> int:
    """Tell a station's targets about a stored review (the dashboard calls it after
    :func:`fieldtool.store.add_review`): the station file names the targets and the
    database. Returns how many targets were sent it (filters may hold it back)."""
    from fieldtool.notify import Notifiers, review_notice
    from fieldtool.station.config import load_station_config

    config = load_station_config(station_file)
    notice = review_notice(config.store.db, review_id, station=config.station.name,
                           dashboard_url=config.notify.dashboard_url)  # fmt: skip
    folder = Path(config.store.db).parent
    notifiers = Notifiers.from_config(config.notify, config.station.name, folder)
    try:
        return notifiers.send(notice)
    finally:
        notifiers.close(timeout_s)


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)
