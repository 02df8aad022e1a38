"""Pipeline stage "store": sightings, GPS track and per-frame detections in a DuckDB file.

One writer, many readers, no process keeping the file open; a writer that cannot get the
file journals its rows and never stalls; the next writer recovers what a killed one left.
See ``docs/storage.md`` for the design and its measurements. By concept:

- :mod:`~fieldtool.store.locking`: opening the file (retries, lock errors, read-only vs
  read-write, the turnstile, DuckDB settings), :func:`connect`, :func:`query`;
- :mod:`~fieldtool.store.schema`: tables, schema version and migrations, in one place;
- :mod:`~fieldtool.store.views`: named views and the review in force (``LATEST_REVIEW_SQL``);
- :mod:`~fieldtool.store.writer`: :class:`SightingStore`, the buffered writer;
- :mod:`~fieldtool.store.outcome`: what a write did (:class:`FlushResult`,
  :class:`StoreWriteError`) and where unwritten rows are;
- :mod:`~fieldtool.store.journal`: the writer's journal file;
- :mod:`~fieldtool.store.files`: whether a file is a sound DuckDB file, before and after
  DuckDB opens it;
- :mod:`~fieldtool.store.process`: writer processes and whether they are alive;
- :mod:`~fieldtool.store.maintenance`: recovery after dead writers (:func:`recover_file`:
  ``fieldtool recover``), pruning, forgetting;
- :mod:`~fieldtool.store.reviews`: :func:`add_review`, :func:`add_reviews`.

The names below are importable from ``fieldtool.store`` and load their module on first
use (PEP 562): ``fieldtool export`` imports :mod:`fieldtool.store.views` with every CLI
call, which must not load DuckDB, pandas and pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldtool.lazy import lazy_exports

if TYPE_CHECKING:
    from fieldtool.store.locking import StoreLocked, connect, query
    from fieldtool.store.maintenance import prune_detections, recover_file
    from fieldtool.store.outcome import FlushResult, StoreWriteError
    from fieldtool.store.process import HOST, process_alive, process_started_at
    from fieldtool.store.reviews import REVIEW_DECISIONS, ReviewRow, add_review, add_reviews
    from fieldtool.store.schema import (
        DETECTION_COLUMNS,
        GAP_COLUMNS,
        H3_RESOLUTION,
        MIGRATIONS,
        SCHEMA_V1,
        SCHEMA_VERSION,
        SESSION_COLUMNS,
        SIGHTING_COLUMNS,
        TABLES,
        TRACK_COLUMNS,
        ensure_schema,
        schema_version,
    )
    from fieldtool.store.views import LATEST_REVIEW_SQL
    from fieldtool.store.writer import HELD_RETRY_S, SightingStore, config_json, top_k

# Submodule of each name above (keep in step with the imports; tests/store/test_writer.py checks).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "locking": ("StoreLocked", "connect", "query"),
    "maintenance": ("prune_detections", "recover_file"),
    "outcome": ("FlushResult", "StoreWriteError"),
    "process": ("HOST", "process_alive", "process_started_at"),
    "reviews": ("REVIEW_DECISIONS", "ReviewRow", "add_review", "add_reviews"),
    "schema": (
        "DETECTION_COLUMNS", "H3_RESOLUTION", "MIGRATIONS", "SCHEMA_V1", "SCHEMA_VERSION",
        "SESSION_COLUMNS", "SIGHTING_COLUMNS", "TABLES", "TRACK_COLUMNS", "GAP_COLUMNS",
        "ensure_schema", "schema_version",
    ),
    "views": ("LATEST_REVIEW_SQL",),
    "writer": ("HELD_RETRY_S", "SightingStore", "config_json", "top_k"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "DETECTION_COLUMNS",
    "GAP_COLUMNS",
    "H3_RESOLUTION",
    "HELD_RETRY_S",
    "HOST",
    "LATEST_REVIEW_SQL",
    "MIGRATIONS",
    "REVIEW_DECISIONS",
    "SCHEMA_V1",
    "SCHEMA_VERSION",
    "SESSION_COLUMNS",
    "SIGHTING_COLUMNS",
    "TABLES",
    "TRACK_COLUMNS",
    "FlushResult",
    "ReviewRow",
    "SightingStore",
    "StoreLocked",
    "StoreWriteError",
    "add_review",
    "add_reviews",
    "config_json",
    "connect",
    "ensure_schema",
    "process_alive",
    "process_started_at",
    "prune_detections",
    "query",
    "recover_file",
    "schema_version",
    "top_k",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)
