"""Species priors: how likely each species is at a place, from range maps or records.

A prior gives each species a value in [0, 1] at a place: range polygons give 1 inside
the range and ``exp(-d / decay_km)`` at ``d`` km outside it; occurrence records give
``1 - exp(-S / saturation)`` of their distance-weighted density ``S`` on an H3 grid.
Species the prior has no data for get 1, so they are neither helped nor hurt.

The pipeline's :class:`RangePriorStage` combines the classifier's probabilities ``p``
with the prior through one function, by ``prior.mode``:

- ``soft`` (default, :func:`fuse`): ``posterior ∝ p · (prior + floor) ** weight``,
  renormalised. ``floor`` > 0 keeps an out-of-range species possible (range maps are
  incomplete, plants are planted): it is down-weighted, never erased; ``weight`` 0
  turns the prior off.
- ``filter`` (:func:`keep_expected`): only the species with prior >= ``filter_threshold``
  (and species without data, and background) are kept and renormalised, unless that
  would leave nothing.

Modules: :mod:`~fieldtool.priors.stage` (the stage, the combining functions, the
``SpeciesPrior`` protocol, ``CombinedPrior``), :mod:`~fieldtool.priors.polygons`
(``RangePrior``, ``load_ranges``), :mod:`~fieldtool.priors.indexed` (``IndexedPrior``,
the fast one used at run time), :mod:`~fieldtool.priors.occurrences` (occurrence
tables, ``OccurrencePrior``), :mod:`~fieldtool.priors.files` (``prior_from_files``:
any mix of files as one prior), :mod:`~fieldtool.priors.coverage` (labels vs prior,
for the log), :mod:`~fieldtool.priors.extent` (where the data lies: a place it cannot
judge), :mod:`~fieldtool.priors.distance` (place-to-range distance).
"""

from fieldtool.priors.coverage import RangeCoverage, range_coverage
from fieldtool.priors.extent import extent_of, outside_coverage
from fieldtool.priors.files import prior_from_files, prior_off_note, range_prior_from_config
from fieldtool.priors.indexed import IndexedPrior
from fieldtool.priors.occurrences import (
    OccurrencePrior,
    OccurrenceTable,
    detect_delimiter,
    is_occurrence_file,
    load_occurrences,
    read_occurrence_files,
    read_occurrences,
)
from fieldtool.priors.polygons import RangePrior, load_ranges
from fieldtool.priors.stage import (
    Combine,
    CombinedPrior,
    RangePriorStage,
    SpeciesPrior,
    combiner,
    fuse,
    keep_expected,
    notes_of,
    prior_rows,
)

__all__ = [
    "Combine",
    "CombinedPrior",
    "IndexedPrior",
    "OccurrencePrior",
    "OccurrenceTable",
    "RangeCoverage",
    "RangePrior",
    "RangePriorStage",
    "SpeciesPrior",
    "combiner",
    "detect_delimiter",
    "extent_of",
    "fuse",
    "is_occurrence_file",
    "keep_expected",
    "load_occurrences",
    "load_ranges",
    "notes_of",
    "outside_coverage",
    "prior_from_files",
    "prior_off_note",
    "prior_rows",
    "range_coverage",
    "range_prior_from_config",
    "read_occurrence_files",
    "read_occurrences",
]
