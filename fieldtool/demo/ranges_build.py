"""Build ``data/ranges/demo_ranges.geojson`` from Little's atlas for the 12 demo species.

    python -m fieldtool.demo.ranges_build [--atlas DIR] [--out FILE] [--tolerance DEG]

One row per species and presence value: columns ``species``, ``common_name``,
``presence`` (1 = range, 0 = absence island, from the atlas's ``CODE``) and the geometry
in EPSG:4326 (reprojected from NAD27, EPSG:4267), simplified with topology preserved to
keep the file small. ``LICENSE.md`` with the atlas's public-domain note is written next
to it. The build checks that each region's walk origin lies inside all six ranges of its
region and outside the other region's six.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import shapely

from fieldtool.demo.species import DEMO_SPECIES, REGION_ORIGINS
from fieldtool.types import FieldtoolError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ATLAS = REPO_ROOT / ".." / "shared" / "data" / "ranges" / "little_us_trees"
DEFAULT_OUT = REPO_ROOT / "data" / "ranges" / "demo_ranges.geojson"
ATLAS_CRS = "EPSG:4267"  # NAD27 geographic; the atlas ships no .prj


def _read_source(atlas: Path) -> tuple[str, str]:
    """(License.md text, SOURCE line) of the atlas folder."""
    licence = (atlas / "License.md").read_text(encoding="utf-8").strip()
    source_file = atlas / "SOURCE"
    source = source_file.read_text(encoding="utf-8").strip() if source_file.exists() else ""
    return licence, source


def build_frame(atlas: Path, tolerance_deg: float = 0.01):  # -> geopandas.GeoDataFrame
    """Read, reproject, dissolve and simplify the demo species' ranges."""
    import geopandas as gpd

    table = pd.read_csv(atlas / "Little_datatable.csv")
    by_code = dict(zip(table["SHP/*"], table["Latin Name"], strict=True))
    rows = []
    for sp in DEMO_SPECIES:
        if by_code.get(sp.little_code) != sp.species:
            raise FieldtoolError(
                f"{atlas}: code {sp.little_code} is {by_code.get(sp.little_code)!r} in "
                f"Little_datatable.csv, expected {sp.species!r}"
            )
        shp = atlas / "shp" / sp.little_code / f"{sp.little_code}.shp"
        if not shp.exists():
            raise FieldtoolError(f"{shp}: shapefile not found")
        frame = gpd.read_file(shp, engine="pyogrio")
        frame = frame.set_crs(ATLAS_CRS, allow_override=True).to_crs("EPSG:4326")
        frame["geometry"] = shapely.make_valid(frame.geometry.values)
        for presence in (1, 0):
            part = frame[frame["CODE"].astype(int) == presence]
            if part.empty:
                continue
            geom = shapely.union_all(part.geometry.values)
            geom = shapely.simplify(geom, tolerance_deg, preserve_topology=True)
            geom = shapely.make_valid(geom)
            rows.append(
                {
                    "species": sp.species,
                    "common_name": sp.common_name,
                    "presence": presence,
                    "geometry": geom,
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def check_origins(path: Path) -> list[str]:
    """Problems with REGION_ORIGINS against the built file (empty list: all good)."""
    from fieldtool.priors import load_ranges

    prior = load_ranges(path)
    problems = []
    for region, (lat, lon) in REGION_ORIGINS.items():
        for sp in DEMO_SPECIES:
            d = float(prior.distances_km(lat, lon, [sp.species])[0])
            inside = d == 0.0
            if inside != (sp.region == region):
                where = "outside" if sp.region == region else "inside"
                problems.append(f"{region} origin {lat},{lon} is {where} {sp.species} ({d:.0f} km)")
    return problems


def write_licence(out_dir: Path, licence: str, source: str, tolerance_deg: float) -> Path:
    path = out_dir / "LICENSE.md"
    path.write_text(
        "# demo_ranges.geojson: licence and attribution\n\n"
        "Range maps of 12 tree species from Elbert L. Little, Jr., *Atlas of United States "
        "Trees* (U.S. Department of Agriculture, Forest Service, 1971-1978), digitised by "
        "the U.S. Geological Survey" + (f", taken from `{source}`" if source else "") + ".\n\n"
        "Licence note copied from the source's `License.md`:\n\n"
        f"> {licence}\n\n"
        "Changes made here: reprojected from NAD27 (EPSG:4267) to WGS84 (EPSG:4326); "
        "range polygons (`CODE` 1) and absence islands (`CODE` 0) dissolved per species "
        f"into `presence` 1 / 0; simplified with a {tolerance_deg:g}° tolerance "
        "(topology preserved); coordinates rounded to 5 decimals. Built by "
        "`python -m fieldtool.demo.ranges_build`. USGS notes digitising errors in the "
        "original maps.\n",
        encoding="utf-8",
    )
    return path


def build(atlas: Path, out: Path, tolerance_deg: float = 0.01) -> Path:
    """Write the GeoJSON and LICENSE.md; returns the GeoJSON path."""
    atlas = atlas.resolve()
    if not (atlas / "Little_datatable.csv").exists():
        raise FieldtoolError(f"{atlas}: not Little's atlas folder (no Little_datatable.csv)")
    licence, source = _read_source(atlas)
    frame = build_frame(atlas, tolerance_deg)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.unlink(missing_ok=True)
    frame.to_file(
        tmp,
        driver="GeoJSON",
        engine="pyogrio",
        layer_options={"COORDINATE_PRECISION": 5, "RFC7946": "YES", "WRITE_NAME": "NO"},
    )
    tmp.replace(out)
    write_licence(out.parent, licence, source, tolerance_deg)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fieldtool.demo.ranges_build", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--atlas", type=Path, default=DEFAULT_ATLAS, help="Little atlas folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="GeoJSON to write")
    parser.add_argument("--tolerance", type=float, default=0.01, help="simplify, degrees")
    args = parser.parse_args(argv)
    try:
        out = build(args.atlas, args.out, args.tolerance)
        problems = check_origins(out)
    except FieldtoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.parent / 'LICENSE.md'}")
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
