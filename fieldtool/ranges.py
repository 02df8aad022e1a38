"""Shim: the range prior moved to :mod:`fieldtool.priors`; these names are re-exported
until every import names the new modules (then this file goes)."""

from fieldtool.priors.coverage import range_coverage
from fieldtool.priors.files import range_prior_from_config
from fieldtool.priors.polygons import RangePrior, load_ranges
from fieldtool.priors.stage import RangePriorStage, fuse

__all__ = [
    "RangePrior",
    "RangePriorStage",
    "fuse",
    "load_ranges",
    "range_coverage",
    "range_prior_from_config",
]
