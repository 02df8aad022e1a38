"""One colour per species on every page (map, legend, timeline), told apart for 30+ species.

Colours come from a fixed qualitative palette (the first entries of Glasbey's palette,
chosen so that neighbouring entries differ most), handed out in the order of the species
keys of the whole file (:func:`fieldtool.dashboard.aggregate.species_group_key`), not of
what a page happens to show: a species keeps its colour whatever the filters. Past the
palette, colours repeat with a darker shade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

# Glasbey (2007) categorical colours on white, as colorcet's glasbey_bw lists them.
PALETTE: tuple[str, ...] = (
    "#d60000", "#8c3bff", "#018700", "#00acc6", "#97ff00", "#ff7ed1", "#6b004f", "#ffa52f",
    "#573b00", "#005659", "#0000dd", "#00fdcf", "#a17569", "#bcb6ff", "#95b577", "#bf03b8",
    "#645474", "#790000", "#0774d8", "#fdf490", "#004b00", "#8e7900", "#ff7266", "#edb8b8",
    "#5d7e66", "#9ae4ff", "#eb0077", "#a57bb8", "#5900a3", "#03c600", "#9e4b00", "#9c3b4f",
)  # fmt: skip
UNKNOWN = (128, 128, 128)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` → (r, g, b), 0-255."""
    text = hex_colour.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def colour_at(index: int) -> tuple[int, int, int]:
    """The ``index``-th colour; past the palette, its colours again, darker each round."""
    r, g, b = rgb(PALETTE[index % len(PALETTE)])
    shade = 0.65 ** (index // len(PALETTE))
    return round(r * shade), round(g * shade), round(b * shade)


class SpeciesColours:
    """Colours of the species of one file: ``colours(name)`` → (r, g, b).

    ``names``: every species name in the file; ``key`` groups names that are one species
    (they share a colour). Unknown names get :data:`UNKNOWN`.
    """

    def __init__(self, names: Iterable[str], key: Callable[[str], str]) -> None:
        self._key = key
        keys = sorted({key(str(n)) for n in names if n})
        self._index = {k: i for i, k in enumerate(keys)}

    def __call__(self, name: str) -> tuple[int, int, int]:
        index = self._index.get(self._key(str(name)))
        return UNKNOWN if index is None else colour_at(index)

    def hex(self, name: str) -> str:
        r, g, b = self(name)
        return f"#{r:02x}{g:02x}{b:02x}"

    def __len__(self) -> int:
        return len(self._index)
