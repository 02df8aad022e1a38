"""Priors from files: polygon files and occurrence tables, in any mix, as ONE prior.

The one place that turns a list of files into a prior, for ``fieldtool run`` (through
:func:`range_prior_from_config`) and the ``species`` command alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fieldtool.config import PriorConfig
from fieldtool.priors.indexed import IndexedPrior
from fieldtool.priors.occurrences import is_occurrence_file, load_occurrences
from fieldtool.priors.polygons import load_ranges
from fieldtool.priors.stage import CombinedPrior, SpeciesPrior


def prior_from_files(paths: Iterable[str | Path], cfg: PriorConfig) -> SpeciesPrior | None:
    """The prior of some files, or None when no file is given.

    Polygon files (shp, GeoJSON, GeoPackage; ``cfg.species_field``, ``cfg.presence_field``,
    ``cfg.crs``) become one spatially indexed prior (:class:`IndexedPrior`); occurrence
    tables (CSV/TSV/TXT by extension, e.g. GBIF downloads) one smoothed record density;
    both together a :class:`CombinedPrior` (per species, the larger prior). Both decay
    with ``cfg.decay_km``. Raises :class:`fieldtool.types.FieldtoolError` for a file that
    cannot be read.
    """
    files = [Path(p) for p in paths]
    polygons = [p for p in files if not is_occurrence_file(p)]
    tables = [p for p in files if is_occurrence_file(p)]
    parts: list[SpeciesPrior] = []
    if polygons:
        ranges = load_ranges(
            polygons,
            species_field=cfg.species_field,
            presence_field=cfg.presence_field,
            crs=cfg.crs,
            decay_km=cfg.decay_km,
        )
        parts.append(IndexedPrior.from_range_prior(ranges))
    if tables:
        parts.append(load_occurrences(tables, decay_km=cfg.decay_km,
                                      species_field=cfg.species_field))  # fmt: skip
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else CombinedPrior(parts)


def range_prior_from_config(cfg: PriorConfig) -> SpeciesPrior | None:
    """The prior a config asks for (``cfg.ranges``, see :func:`prior_from_files`), or
    None when no range files are given or ``cfg.weight`` is 0 (the files are then not
    read: :func:`prior_off_note` says so)."""
    if cfg.weight == 0:
        return None
    return prior_from_files(cfg.ranges, cfg)


def prior_off_note(cfg: PriorConfig) -> str | None:
    """The log line for range files given with the prior turned off (``cfg.weight`` 0:
    ``--prior-weight 0`` or ``--ignore-location``), which are not read; None otherwise."""
    if cfg.weight != 0 or not cfg.ranges:
        return None
    names = ", ".join(Path(p).name for p in cfg.ranges)
    return (f"range prior off (prior weight 0: --prior-weight 0 or --ignore-location); "
            f"range files not read: {names}")  # fmt: skip
