"""Little's *Atlas of United States Trees*, bundled, and "which species are expected here".

    fieldtool atlas build [--source DIR] [--out FILE] [--tolerance DEG]
    fieldtool species --lat 44.06 --lon -121.3 [--ranges FILE ...]

The build turns the 679 per-species shapefiles (NAD27, no ``.prj``) into one GeoPackage,
``data/ranges/little_atlas.gpkg`` (layer ``little_atlas``, R-tree indexed, EPSG:4326),
with columns ``species``, ``common_name``, ``code`` (the atlas file code) and
``presence``: 1 = range with its absence islands already cut out, 0 = the absence
islands themselves (so ``load_ranges(..., presence_field="presence")`` gives the same
ranges). To keep it small the polygons are simplified (``tolerance_deg``, topology
preserved), small parts (< ``min_part_deg2``) lying within ``near_deg`` of a larger part
of the same species are dropped (isolated small parts, e.g. disjunct stands, are kept),
and coordinates are snapped to a ``grid_deg`` grid. Little drew these maps at a scale
of tens of km, so a few km of simplification loses nothing that was there.

:func:`load_atlas` reads the built file into a
:class:`fieldtool.priors.indexed.IndexedPrior` (the fast run-time prior, re-exported
here for now); :func:`species_here` ranks the species any prior expects at a place.
This module uses :mod:`fieldtool.priors`, never the reverse.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from fieldtool.config import PriorConfig
from fieldtool.config.sections import check_place
from fieldtool.names import canonical
from fieldtool.priors.extent import outside_coverage
from fieldtool.priors.files import prior_from_files
from fieldtool.priors.indexed import IndexedPrior
from fieldtool.priors.occurrences import is_occurrence_file
from fieldtool.priors.polygons import RangePrior
from fieldtool.priors.stage import SpeciesPrior
from fieldtool.resources import shipped
from fieldtool.types import FieldtoolError

DEFAULT_ATLAS = shipped("data", "ranges", "little_atlas.gpkg")
# Little's shapefiles, where a checkout keeps them beside the repository (build only).
DEFAULT_SOURCE = shipped("data").parent.parent / "shared" / "data" / "ranges" / "little_us_trees"
LAYER = "little_atlas"
ATLAS_CRS = "EPSG:4267"  # NAD27 geographic; the atlas ships no .prj


# ------------------------------------------------------------------------ build


@dataclass(frozen=True, slots=True)
class AtlasBuild:
    """What :func:`build_atlas` wrote."""

    path: Path
    species: int
    absence_species: int  # species with absence islands
    vertices: int
    parts_dropped: int
    size_bytes: int
    seconds: float

    def summary(self) -> str:
        return (
            f"wrote {self.path} ({self.size_bytes / 1e6:.2f} MB): {self.species} species "
            f"({self.absence_species} with absence islands), {self.vertices} vertices, "
            f"{self.parts_dropped} small parts next to larger ones dropped, {self.seconds:.0f} s"
        )


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Only the polygon parts of a geometry (make_valid can add lines and points)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    flat = [q for p in parts for q in shapely.get_parts(p)]
    if not flat:
        return shapely.MultiPolygon()
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def _thin(geom: BaseGeometry, min_part_deg2: float, near_deg: float) -> tuple[BaseGeometry, int]:
    """Drop small parts lying within ``near_deg`` of a larger part; returns (geom, dropped)."""
    parts = shapely.get_parts(geom)
    if len(parts) < 2 or min_part_deg2 <= 0:
        return geom, 0
    area = shapely.area(parts)
    big = area >= min_part_deg2
    if not big.any():
        big[int(np.argmax(area))] = True
    small = parts[~big]
    if len(small) == 0:
        return geom, 0
    tree = shapely.STRtree(parts[big])
    hits = tree.query(small, predicate="dwithin", distance=near_deg)[0]
    near = np.zeros(len(small), dtype=bool)
    near[hits] = True
    kept = list(parts[big]) + list(small[~near])
    return shapely.MultiPolygon(kept), int(near.sum())


def simplify_range(
    geom: BaseGeometry,
    tolerance_deg: float,
    min_part_deg2: float,
    near_deg: float,
    grid_deg: float,
) -> tuple[BaseGeometry, int]:
    """Simplified, thinned, grid-snapped, valid polygons; returns (geom, parts dropped)."""
    out = shapely.simplify(geom, tolerance_deg, preserve_topology=True)
    out, dropped = _thin(_polygonal(out), min_part_deg2, near_deg)
    if grid_deg > 0:
        out = shapely.set_precision(out, grid_deg)
    out = _polygonal(shapely.make_valid(out))
    return out, dropped


def build_atlas(
    source: Path = DEFAULT_SOURCE,
    out: Path = DEFAULT_ATLAS,
    *,
    tolerance_deg: float = 0.05,
    min_part_deg2: float = 0.01,
    near_deg: float = 0.1,
    grid_deg: float = 1e-4,
    progress: bool = False,
) -> AtlasBuild:
    """Build the GeoPackage (and its licence note) from Little's atlas folder."""
    import geopandas as gpd  # heavy (~0.5 s): only for the build, not for `import fieldtool.atlas`

    started = time.perf_counter()
    source = Path(source)
    table_path = source / "Little_datatable.csv"
    if not table_path.exists():
        raise FieldtoolError(f"{source}: not Little's atlas folder (no Little_datatable.csv)")
    table = pd.read_csv(table_path)
    need = {"Latin Name", "Common Name", "SHP/*"}
    if not need <= set(table.columns):
        raise FieldtoolError(f"{table_path}: expected columns {', '.join(sorted(need))}")
    rows: list[dict[str, object]] = []
    dropped_total = 0
    n_absent = 0
    for i, (code, name, common) in enumerate(
        zip(table["SHP/*"], table["Latin Name"], table["Common Name"], strict=True)
    ):
        shp = source / "shp" / str(code) / f"{code}.shp"
        if not shp.exists():
            raise FieldtoolError(f"{shp}: shapefile not found")
        frame = gpd.read_file(shp, engine="pyogrio")
        frame = frame.set_crs(ATLAS_CRS, allow_override=True).to_crs("EPSG:4326")
        geoms = shapely.make_valid(np.asarray(frame.geometry.values, dtype=object))
        codes = pd.to_numeric(frame["CODE"], errors="coerce").to_numpy()
        present = shapely.union_all(geoms[codes != 0])
        absent = shapely.union_all(geoms[codes == 0]) if (codes == 0).any() else None
        if absent is not None and not absent.is_empty:
            present = shapely.difference(present, absent)
        parts = [(1, present)] + ([(0, absent)] if absent is not None else [])
        for presence, geom in parts:
            simple, dropped = simplify_range(
                _polygonal(geom), tolerance_deg, min_part_deg2, near_deg, grid_deg
            )
            dropped_total += dropped
            if simple.is_empty:
                continue
            rows.append({"species": " ".join(str(name).split()), "common_name": str(common),
                         "code": str(code), "presence": presence, "geometry": simple})  # fmt: skip
        n_absent += absent is not None
        if progress and (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(table)} species", file=sys.stderr, flush=True)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    frame.to_file(tmp, driver="GPKG", layer=LAYER, engine="pyogrio")
    tmp.replace(out)
    settings = dict(tolerance_deg=tolerance_deg, min_part_deg2=min_part_deg2,
                    near_deg=near_deg, grid_deg=grid_deg)  # fmt: skip
    write_licence(source, out, settings)
    vertices = int(shapely.get_num_coordinates(np.asarray(frame.geometry.values)).sum())
    return AtlasBuild(
        out,
        int((frame["presence"] == 1).sum()),
        n_absent,
        vertices,
        dropped_total,
        out.stat().st_size,
        time.perf_counter() - started,
    )


def licence_path(atlas: Path) -> Path:
    """``little_atlas.gpkg`` → ``little_atlas.LICENSE.md``."""
    return atlas.with_name(atlas.name.split(".")[0] + ".LICENSE.md")


def write_licence(source: Path, out: Path, settings: Mapping[str, float]) -> Path:
    """The licence and attribution note next to the built file."""
    licence = (source / "License.md").read_text(encoding="utf-8").strip()
    src = source / "SOURCE"
    origin = src.read_text(encoding="utf-8").strip() if src.exists() else ""
    path = licence_path(out)
    path.write_text(
        f"# {out.name}: licence and attribution\n\n"
        "Range maps of all 679 tree species of Elbert L. Little, Jr., *Atlas of United "
        "States Trees* (U.S. Department of Agriculture, Forest Service, 1971-1978), "
        "digitised by the U.S. Geological Survey"
        + (f", taken from `{origin}`" if origin else "")
        + ".\n\nLicence note copied from the source's `License.md`:\n\n"
        f"> {licence}\n\n"
        "Changes made here: reprojected from NAD27 (EPSG:4267) to WGS84 (EPSG:4326); range "
        "polygons (`CODE` 1) dissolved per species with the absence islands (`CODE` 0) cut "
        "out (`presence` 1), the absence islands kept as `presence` 0; simplified with a "
        f"{settings['tolerance_deg']:g}° tolerance (topology preserved); parts smaller than "
        f"{settings['min_part_deg2']:g} square degrees within {settings['near_deg']:g}° of a "
        "larger part of the same species dropped; coordinates snapped to a "
        f"{settings['grid_deg']:g}° grid. Built by `fieldtool atlas build`. USGS "
        "notes digitising errors in the original maps.\n",
        encoding="utf-8",
    )
    return path


# ------------------------------------------------------------------------ load


@dataclass(frozen=True)
class Atlas:
    """The bundled atlas, loaded: its prior and the common names."""

    path: Path
    prior: IndexedPrior
    common_names: dict[str, str]  # species → common name
    load_s: float  # seconds the load took


def load_atlas(
    path: str | Path = DEFAULT_ATLAS,
    decay_km: float = 50.0,
    *,
    cutoff: float = 1e-3,
    h3_resolution: int = 8,
) -> Atlas:
    """Read the bundled GeoPackage (or any file with ``species``/``presence`` columns)
    into an :class:`IndexedPrior` (``decay_km``, ``cutoff``, ``h3_resolution``)."""
    import pyogrio  # GDAL, ~0.4 s to import: only when a file is read

    started = time.perf_counter()
    path = Path(path)
    if not path.exists():
        hint = " (build it: fieldtool atlas build)" if path == DEFAULT_ATLAS else ""
        raise FieldtoolError(f"{path}: atlas file not found{hint}")
    try:
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio/GDAL raise many types
        msg = " ".join(str(exc).split())
        raise FieldtoolError(f"{path}: cannot read as a vector file ({msg})") from None
    if "species" not in frame.columns:
        raise FieldtoolError(f"{path}: no 'species' column; not an atlas file")
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    present = frame["presence"].astype(int) == 1 if "presence" in frame.columns else None
    ranges: dict[str, BaseGeometry] = {}
    commons: dict[str, str] = {}
    rows = frame if present is None else frame[present.to_numpy()]
    for name, geom in zip(rows["species"], rows.geometry, strict=True):
        ranges[str(name)] = geom if str(name) not in ranges else ranges[str(name)].union(geom)
    if "common_name" in frame.columns:
        commons = {str(s): str(c) for s, c in zip(frame["species"], frame["common_name"],
                                                  strict=True)}  # fmt: skip
    prior = IndexedPrior(ranges, decay_km=decay_km, cutoff=cutoff, h3_resolution=h3_resolution)
    return Atlas(path, prior, commons, time.perf_counter() - started)


# ------------------------------------------------------------------ what grows here


def species_here(
    lat: float,
    lon: float,
    prior: SpeciesPrior,
    *,
    min_prior: float = 0.05,
    decay_km: float | None = None,
    limit: int | None = None,
) -> list[tuple[str, float]]:
    """Species expected at a place: ``(species, prior)`` with prior >= ``min_prior``,
    ranked by prior (highest first), then name.

    ``prior``: an :class:`IndexedPrior` (fast), a :class:`RangePrior` (indexed for the
    query), an occurrence prior, or any other :class:`SpeciesPrior`.
    """
    check_place(lat, lon)
    if isinstance(prior, RangePrior):
        prior = IndexedPrior.from_range_prior(prior)
    if isinstance(prior, IndexedPrior):
        values = prior.all_priors(lat, lon, decay_km)
    else:
        names = sorted(prior.species)
        got = prior.prior(lat, lon, names, decay_km)
        values = dict(zip(names, (float(v) for v in got), strict=True))
    ranked = sorted(((s, v) for s, v in values.items() if v >= min_prior),
                    key=lambda sv: (-sv[1], sv[0]))  # fmt: skip
    return ranked[:limit] if limit is not None else ranked


def species_prior(
    ranges: Sequence[Path] | None,
    *,
    atlas: Path = DEFAULT_ATLAS,
    species_field: str = "species",
    presence_field: str | None = "presence",
    crs: str | None = None,
    decay_km: float = 50.0,
) -> tuple[SpeciesPrior, dict[str, str], str]:
    """(prior, common names, description) for ``fieldtool species``: the ``ranges`` files
    (polygons and/or occurrence tables), else the bundled atlas."""
    if not ranges:
        loaded = load_atlas(atlas, decay_km=decay_km)
        return (
            loaded.prior,
            loaded.common_names,
            f"{loaded.path.name} (loaded in {loaded.load_s:.2f} s)",
        )
    cfg = PriorConfig(species_field=species_field, presence_field=presence_field, crs=crs,
                      decay_km=decay_km)  # fmt: skip
    prior = prior_from_files(ranges, cfg)
    if prior is None:  # ranges is not empty
        raise FieldtoolError("species: no --ranges files given")
    polygons = [p for p in ranges if not is_occurrence_file(p)]
    commons = _common_names(polygons, species_field) if polygons else {}
    return prior, commons, ", ".join(str(p) for p in ranges)


@functools.lru_cache(maxsize=1)
def atlas_common_names() -> Mapping[str, str]:
    """Species -> common name of the bundled atlas (679 US trees; read once, without the
    polygons, ~20 ms): what tells a relabel's "Red maple" from a scientific name
    (:func:`fieldtool.store.reviews.relabel_species`). Empty, and a warning logged, in an
    install without it."""
    if not DEFAULT_ATLAS.exists():
        logging.getLogger(__name__).warning(
            "%s not found: common names of US trees are not told from scientific names",
            DEFAULT_ATLAS)  # fmt: skip
        return MappingProxyType({})
    return MappingProxyType(_common_names([DEFAULT_ATLAS], "species"))


def _common_names(paths: Sequence[Path], species_field: str) -> dict[str, str]:
    """``common_name`` per species from polygon files that have one (else nothing)."""
    import pyogrio  # GDAL, ~0.4 s to import: only when a file is read

    out: dict[str, str] = {}
    for path in paths:
        try:
            cols = pyogrio.read_info(path)["fields"]
            if species_field in cols and "common_name" in cols:
                frame = pyogrio.read_dataframe(
                    path, columns=[species_field, "common_name"], read_geometry=False
                )
                out.update(zip(frame[species_field].astype(str), frame["common_name"].astype(str),
                               strict=True))  # fmt: skip
        except Exception:  # noqa: BLE001 - names are a nicety; load_ranges reports real errors
            continue
    return out


def species_report(
    lat: float,
    lon: float,
    prior: SpeciesPrior,
    commons: Mapping[str, str],
    what: str,
    *,
    min_prior: float = 0.05,
    limit: int | None = None,
) -> list[str]:
    """The lines ``fieldtool species`` prints: a heading (how many species are expected,
    and how many of them ``limit`` shows), then rank, prior, name, common name of each
    species expected at (``lat``, ``lon``) degrees."""
    check_place(lat, lon)  # before the extent: an impossible place is "nan km" from any
    common_by_key = {canonical(s): c for s, c in commons.items()}
    away = outside_coverage(prior, lat, lon)
    if away is not None:  # "0 species expected" would read as an ecological answer
        return [f"{what} does not cover this place: {away}; no species can be ranked here "
                "(unknown, not absent); give --ranges that cover it"]
    started = time.perf_counter()
    ranked = species_here(lat, lon, prior, min_prior=min_prior)
    took = time.perf_counter() - started
    shown = ranked[:limit] if limit is not None else ranked
    cut = f", the first {len(shown)} shown" if len(shown) < len(ranked) else ""
    lines = [f"{len(ranked)} species expected at {lat:.4f}, {lon:.4f}{cut} "
             f"(prior >= {min_prior:g}; {what}; query {took:.2f} s)"]  # fmt: skip
    for rank, (name, value) in enumerate(shown, 1):
        common = commons.get(name) or common_by_key.get(canonical(name), "")
        lines.append(f"{rank:4d}  {value:5.3f}  {name:<32} {common}")
    return lines
