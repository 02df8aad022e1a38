"""The demo's species: real trees of Little's atlas from two regions whose ranges do not overlap.

Three cross-region pairs are look-alikes (maples, oaks, dogwoods), as in the field: the
image alone cannot tell them apart well, the place can.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DemoSpecies:
    species: str  # scientific name, as in Little_datatable.csv
    common_name: str
    little_code: str  # shapefile code in Little's atlas
    region: str  # "west" (Willamette Valley, Oregon) or "east" (Georgia Piedmont)
    look: str  # renderer style key
    lookalike_of: str | None = None  # species of the other region drawn almost alike


DEMO_SPECIES: tuple[DemoSpecies, ...] = (
    DemoSpecies("Pseudotsuga menziesii", "Douglas fir", "pseumenz", "west", "short_needles"),
    DemoSpecies("Thuja plicata", "western redcedar", "thujplic", "west", "scale_sprays"),
    DemoSpecies("Arbutus menziesii", "Pacific madrone", "arbumenz", "west", "glossy_oval"),
    DemoSpecies("Acer macrophyllum", "bigleaf maple", "acermacr", "west", "palmate", "Acer rubrum"),
    DemoSpecies(
        "Quercus garryana", "Oregon white oak", "quergarr", "west", "lobed", "Quercus alba"
    ),
    DemoSpecies(
        "Cornus nuttallii", "Pacific dogwood", "cornnutt", "west", "bracts", "Cornus florida"
    ),
    DemoSpecies("Liriodendron tulipifera", "yellow poplar", "lirituli", "east", "tulip"),
    DemoSpecies("Liquidambar styraciflua", "sweetgum", "liqustyr", "east", "star"),
    DemoSpecies("Pinus taeda", "loblolly pine", "pinutaed", "east", "long_needles"),
    DemoSpecies("Acer rubrum", "red maple", "acerrubr", "east", "palmate", "Acer macrophyllum"),
    DemoSpecies("Quercus alba", "white oak", "queralba", "east", "lobed", "Quercus garryana"),
    DemoSpecies(
        "Cornus florida", "flowering dogwood", "cornflor", "east", "bracts", "Cornus nuttallii"
    ),
)

BACKGROUND = "background"  # the model's no-plant class

# Walk start points, checked to lie inside the Little ranges of all six species of the region.
REGION_ORIGINS: dict[str, tuple[float, float]] = {
    "west": (44.56, -123.30),  # near Corvallis, Oregon (lat, lon)
    "east": (33.95, -83.38),  # near Athens, Georgia
}


def region_species(region: str) -> list[DemoSpecies]:
    return [s for s in DEMO_SPECIES if s.region == region]
