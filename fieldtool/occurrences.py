"""Shim: the occurrence prior moved to :mod:`fieldtool.priors.occurrences` (and
``CombinedPrior`` to :mod:`fieldtool.priors.stage`); these names are re-exported until
every import names the new modules (then this file goes)."""

from fieldtool.priors.occurrences import (
    OccurrencePrior,
    detect_delimiter,
    is_occurrence_file,
    load_occurrences,
    read_occurrence_files,
    read_occurrences,
)
from fieldtool.priors.stage import CombinedPrior

__all__ = [
    "CombinedPrior",
    "OccurrencePrior",
    "detect_delimiter",
    "is_occurrence_file",
    "load_occurrences",
    "read_occurrence_files",
    "read_occurrences",
]
