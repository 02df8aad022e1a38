"""``fieldtool species`` and ``atlas build``: what lives where."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fieldtool species`` (expected at a place) and ``fieldtool atlas build``."""
    from fieldtool import atlas
    from fieldtool.config.sections import check_place
    from fieldtool.types import FieldtoolError

    def species(a: argparse.Namespace) -> int:
        check_place(a.lat, a.lon, prefix="--")  # as run --lat/--lon; before reading ranges
        if a.limit is not None and a.limit < 1:
            raise FieldtoolError(f"--limit {a.limit}: give 1 or more lines")
        prior, commons, what = atlas.species_prior(
            a.ranges, atlas=a.atlas, species_field=a.species_field,
            presence_field=a.presence_field, crs=a.ranges_crs, decay_km=a.decay_km,
        )  # fmt: skip
        for note in getattr(prior, "notes", ()):  # rows read/skipped, names merged: stderr
            print(note, file=sys.stderr)
        for line in atlas.species_report(a.lat, a.lon, prior, commons, what,
                                         min_prior=a.min_prior, limit=a.limit):  # fmt: skip
            print(line)
        return 0

    def build(a: argparse.Namespace) -> int:
        built = atlas.build_atlas(a.source, a.out, tolerance_deg=a.tolerance,
                                  min_part_deg2=a.min_part, near_deg=a.near, progress=True)  # fmt: skip
        print(built.summary())
        return 0

    p = sub.add_parser("species", help="species expected at a place, ranked by range prior",
                       description="Species expected at a place, ranked by prior then name "
                       "(bundled Little atlas unless --ranges is given).")  # fmt: skip
    p.add_argument("--lat", type=float, required=True, help="latitude, degrees")
    p.add_argument("--lon", type=float, required=True, help="longitude, degrees")
    p.add_argument("--ranges", type=Path, nargs="+",
                   help="range polygon files and/or occurrence tables (.csv/.tsv)")  # fmt: skip
    p.add_argument("--ranges-crs", help="CRS for range files that carry none, e.g. EPSG:4267")
    p.add_argument("--species-field", default="species", help="range attribute with the name")
    p.add_argument("--presence-field", default="presence", help="range attribute: 1 / 0")
    p.add_argument("--atlas", type=Path, default=atlas.DEFAULT_ATLAS, help="bundled atlas file")
    p.add_argument("--decay-km", type=float, default=50.0, help="prior decay outside a range")
    p.add_argument("--min-prior", type=float, default=0.05, help="list species at least this")
    p.add_argument("--limit", type=int, help="show at most this many species (the heading "
                   "still counts all)")
    p.set_defaults(func=species)
    top = sub.add_parser("atlas", help="the bundled range atlas")
    b = top.add_subparsers(dest="atlas_command", required=True).add_parser(
        "build", help="build data/ranges/little_atlas.gpkg from Little's shapefiles"
    )
    b.add_argument("--source", type=Path, default=atlas.DEFAULT_SOURCE, help="atlas folder")
    b.add_argument("--out", type=Path, default=atlas.DEFAULT_ATLAS, help="GeoPackage to write")
    b.add_argument("--tolerance", type=float, default=0.05, help="simplify tolerance, degrees")
    b.add_argument("--min-part", type=float, default=0.01, help="small part, square degrees")
    b.add_argument("--near", type=float, default=0.1, help="drop small parts this near, degrees")
    b.set_defaults(func=build)
