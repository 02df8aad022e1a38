"""Places to map cells, each distinct cell once: the batch look-ups of the priors."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def distinct_cells(
    lats: Sequence[float], lons: Sequence[float], cell_of: Callable[[float, float], str]
) -> tuple[list[str], list[int]]:
    """The distinct cells of N places (first seen first) and, per place, its cell's index
    in that list: a batch of frames along a walk falls in few cells, looked up once each."""
    cells: dict[str, int] = {}
    inverse = [cells.setdefault(cell_of(a, o), len(cells)) for a, o in zip(lats, lons, strict=True)]
    return list(cells), inverse
