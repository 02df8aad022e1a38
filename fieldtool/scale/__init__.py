"""``fieldtool batch``: archives of videos on Ray Data, with ``fieldtool run``'s stages.

By concept (``docs/scale.md`` has the cluster recipe):

- :mod:`~fieldtool.scale.plan`: inputs (folder, glob, manifest; local or pyarrow URIs) as
  plan rows, content and settings hashes, the batch key;
- :mod:`~fieldtool.scale.decode`: CPU decode tasks (``VideoSource``, as ``run`` samples);
- :mod:`~fieldtool.scale.classify`: the classify actor, one model each;
- :mod:`~fieldtool.scale.post`: per file in time order, ``run``'s post-model stages into
  Parquet parts;
- :mod:`~fieldtool.scale.merge`: parts into the DuckDB file, one writer, idempotent;
- :mod:`~fieldtool.scale.runner`: :func:`run_batch`, the Ray Data pipeline.

Ray is an extra (``pip install 'fieldtool[scale]'``): nothing here imports it at module
level, and the names below load their module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldtool.lazy import lazy_exports

if TYPE_CHECKING:
    from fieldtool.scale.runner import BatchOptions, BatchSummary, run_batch

__all__ = ["BatchOptions", "BatchSummary", "run_batch"]


__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "runner"))
