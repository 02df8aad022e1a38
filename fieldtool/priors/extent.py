"""Where a prior's data lies: its extent, and whether a place is so far outside it that the
prior cannot judge there (a US atlas asked about Belgium gives every species about 0)."""

from __future__ import annotations

import math

from fieldtool.geo import geodesic_km

# Below this, every species' prior at a place says only "far from all the data": the data
# cannot judge there (a US atlas asked about Belgium gives each species about 0).
FAR_PRIOR = 0.01

Extent = tuple[float, float, float, float]  # (west, south, east, north) lon/lat degrees


def extent_of(prior: object) -> Extent | None:
    """The bounding box of all of a prior's data (its ``extent``; several priors' ``parts``:
    the box around theirs), or None where a prior does not say one."""
    parts = getattr(prior, "parts", None)
    if parts is not None:
        boxes = [extent_of(part) for part in parts]
        known = [b for b in boxes if b is not None]
        if not known or len(known) < len(boxes):
            return None
        return (min(b[0] for b in known), min(b[1] for b in known),
                max(b[2] for b in known), max(b[3] for b in known))  # fmt: skip
    box = getattr(prior, "extent", None)
    if box is None:
        return None
    west, south, east, north = (float(v) for v in box)
    return west, south, east, north


def outside_coverage(
    prior: object, lat: float, lon: float, decay_km: float | None = None
) -> str | None:
    """A phrase saying that (``lat``, ``lon``) degrees lies outside the extent of all of
    ``prior``'s data, so far (``decay_km``: the prior's fall-off, km; default the prior's
    own, else 50) that every species' prior there is below :data:`FAR_PRIOR`: the prior
    cannot judge there. None inside, near enough, or where the prior says no extent."""
    box = extent_of(prior)
    if box is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    west, south, east, north = box
    decay = float(decay_km if decay_km is not None else getattr(prior, "decay_km", 50.0))
    near_lat, near_lon = min(max(lat, south), north), min(max(lon, west), east)
    km = float(geodesic_km(lat, lon, [near_lat], [near_lon])[0])
    if km <= decay * math.log(1.0 / FAR_PRIOR):
        return None
    return (f"{lat:.4f}, {lon:.4f} lies {km:.0f} km outside the extent of the range data "
            f"(lat {south:.1f}..{north:.1f}, lon {west:.1f}..{east:.1f})")
