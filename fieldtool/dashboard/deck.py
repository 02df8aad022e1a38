"""The map: an offline pydeck Deck with basemap, species ranges, GPS tracks and sightings.

No map provider: the basemap is Natural Earth 1:110m GeoJSON from ``data/basemap``, so
nothing is fetched from the network. Builds from loaded frames; reads no database.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pydeck as pdk
import shapely.geometry
from pydeck.bindings.json_tools import default_serialize

from fieldtool.resources import shipped
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:
    from fieldtool.priors.polygons import RangePrior

BASEMAP_DIR = shipped("data", "basemap")
# (latitude, longitude, zoom) of the contiguous USA, shown when there is nothing to fit.
US_VIEW = (39.5, -98.35, 3.0)

# Basemap: (layer id, file, filled, fill colour, line colour, line width in pixels).
_BASEMAP = (
    ("land", "ne_110m_land.geojson", True, (243, 240, 233), None, 0.0),
    ("lakes", "ne_110m_lakes.geojson", True, (205, 224, 238), None, 0.0),
    ("rivers", "ne_110m_rivers_lake_centerlines.geojson", False, None, (150, 190, 220), 1.0),
    ("states", "ne_110m_admin_1_states_provinces.geojson", False, None, (185, 180, 175), 0.6),
    ("countries", "ne_110m_admin_0_countries.geojson", False, None, (120, 115, 110), 1.0),
)
_OCEAN = (205, 224, 238)
# pydeck turns bare strings into data accessors; a String stays a literal.
_PIXELS = pdk.types.String("pixels")


def species_color(species: str) -> list[int]:
    """A stable RGB colour for a species (same in every process and run)."""
    digest = hashlib.sha1(species.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:4], "big") / 2**32
    saturation = 0.65 + 0.3 * digest[4] / 255
    value = 0.75 + 0.2 * digest[5] / 255
    return [round(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value)]


@functools.lru_cache(maxsize=16)
def load_geojson(path: str, decimals: int = 3) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the file's geometries only, coordinates rounded.

    Read once per process. Natural Earth 1:110m is accurate to kilometres, so three
    decimals (about 100 m) lose nothing and shrink what is sent to the browser.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise FieldtoolError(f"{path}: cannot read basemap GeoJSON ({exc})") from None
    features = []
    for feature in data.get("features", []):
        geometry = feature.get("geometry")
        if not geometry:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": geometry["type"],
                    "coordinates": _round(geometry["coordinates"], decimals),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _round(coords: Any, decimals: int) -> Any:
    if coords and isinstance(coords[0], (int, float)):
        return [round(float(c), decimals) for c in coords]
    return [_round(c, decimals) for c in coords]


def basemap_files(basemap_dir: Path | str = BASEMAP_DIR) -> dict[str, Path]:
    """The basemap's GeoJSON files there are, by name."""
    found = {name: Path(basemap_dir) / name for _, name, *_ in _BASEMAP}
    return {name: path for name, path in found.items() if path.is_file()}


def basemap_bytes(path: Path) -> bytes:
    """A basemap file as :func:`load_geojson` compacts it, for a server to send."""
    return json.dumps(load_geojson(str(path)), separators=(",", ":")).encode()


def basemap_layers(
    basemap_dir: Path | str = BASEMAP_DIR, url: Callable[[str], str] | None = None
) -> list[pdk.Layer]:
    """Ocean background, land, lakes, rivers, state and country borders (missing files
    skipped). ``url``: where the browser fetches a file by name (:func:`basemap_bytes`
    from the dashboard's tile server) instead of the deck carrying it: deck.gl's JSON
    converter walks every coordinate of a deck's inline data, which took the browser
    about 2 s for these 0.36 MB on this project's 2-core VM."""
    layers = [
        pdk.Layer(
            "PolygonLayer",
            id="ocean",
            data=[{"polygon": [[-180, -85], [180, -85], [180, 85], [-180, 85]]}],
            get_polygon="polygon",
            get_fill_color=list(_OCEAN),
            stroked=False,
            pickable=False,
        )
    ]
    files = basemap_files(basemap_dir)
    for layer_id, name, filled, fill, line, width in _BASEMAP:
        if name not in files:
            continue
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                id=layer_id,
                data=url(name) if url is not None else load_geojson(str(files[name])),
                filled=filled,
                stroked=line is not None,
                get_fill_color=list(fill) if fill else [0, 0, 0, 0],
                get_line_color=list(line) if line else [0, 0, 0, 0],
                line_width_units=_PIXELS,
                get_line_width=width,
                line_width_min_pixels=width,
                pickable=False,
            )
        )
    return layers


def tile_layers(
    url: str,
    view: pdk.ViewState,
    *,
    min_zoom: int = 0,
    max_zoom: int = 19,
    layer_id: str = "tiles",
    width_px: int = 900,
    height_px: int = 520,
) -> list[pdk.Layer]:
    """Raster XYZ tiles from ``url`` (``{z}``, ``{x}``, ``{y}`` template) around ``view``:
    one BitmapLayer per 256-px tile, at the view's zoom and two and four levels coarser
    (each covering 1.5 views, so about 5 x 4 tiles a level; the coarse ones reach 6 and
    24 views around), clamped to ``min_zoom``-``max_zoom`` (overzoomed past it).

    Not deck.gl's TileLayer: it needs a JavaScript ``renderSubLayers``, which Streamlit's
    JSON deck cannot carry (deck.gl issues 4637, 9615), and TerrainLayer, which textures
    tiles by itself, parses in a web worker that loaders.gl fetches from a CDN. So the
    tiles are chosen here for the view the page opens with: zooming in far past it shows
    them coarser, panning far away shows the Natural Earth basemap beneath.
    """
    zoom = float(view.zoom)
    top = int(max(min_zoom, min(max_zoom, math.floor(zoom) + 1)))  # 256-px tiles: zoom + 1
    levels = sorted({max(min_zoom, top - 4), max(min_zoom, top - 2), top})
    # View centre in world pixels at deck zoom ``zoom`` (the world is 512 * 2**zoom wide).
    cx = (float(view.longitude) + 180.0) / 360.0
    cy = (math.pi - _merc_y(max(-85.0, min(85.0, float(view.latitude))))) / (2 * math.pi)
    layers = []
    for level in levels:
        n = 1 << level
        # Half the covered span, as a fraction of the world: 1.5 views, more when coarser.
        spread = 1.5 * 2.0 ** (top - level) / (512.0 * 2.0**zoom) / 2
        x0, x1 = int((cx - spread * width_px) * n), int((cx + spread * width_px) * n)
        y0, y1 = int((cy - spread * height_px) * n), int((cy + spread * height_px) * n)
        for x in range(max(0, x0), min(n - 1, x1) + 1):
            for y in range(max(0, y0), min(n - 1, y1) + 1):
                tile = url.replace("{z}", str(level)).replace("{x}", str(x))
                layers.append(
                    pdk.Layer(
                        "BitmapLayer", id=f"{layer_id}-{level}-{x}-{y}", data=None,
                        image=pdk.types.String(tile.replace("{y}", str(y))),
                        bounds=list(tile_bounds(level, x, y)), pickable=False,
                    )
                )  # fmt: skip
    return layers


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) degrees of XYZ tile ``z/x/y`` (Web Mercator, y from the
    north)."""
    n = 1 << z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (
        round(x / n * 360.0 - 180.0, 9),
        round(lat(y + 1), 9),
        round((x + 1) / n * 360.0 - 180.0, 9),
        round(lat(y), 9),
    )


def track_records(tracks: pd.DataFrame) -> list[dict[str, Any]]:
    """PathLayer rows: session_id, path, colour."""
    return [
        {
            "session_id": str(row.session_id),
            "path": list(row.path),
            "color": [60, 60, 70],
        }
        for row in tracks.itertuples(index=False)
        if len(row.path) >= 1
    ]


def density_resolution(zoom: float) -> int | None:
    """H3 resolution whose cells stay a few pixels wide at ``zoom``; None when zoomed in so
    far (a single site) that a density layer would only cover the map."""
    if zoom > 7:
        return None
    return 3 if zoom <= 4 else 4 if zoom <= 6 else 5


def density_records(points: list[dict[str, Any]], resolution: int) -> list[dict[str, Any]]:
    """H3HexagonLayer rows: sightings per H3 cell (``hex``, ``count``, ``color``)."""
    import h3

    counts: dict[str, int] = {}
    for p in points:
        cell = h3.latlng_to_cell(p["lat"], p["lon"], resolution)
        counts[cell] = counts.get(cell, 0) + 1
    top = max(counts.values(), default=1)
    return [
        {"hex": cell, "count": n, "color": [200, 60, 40, int(60 + 140 * n / top)]}
        for cell, n in counts.items()
    ]


def sighting_records(sightings: pd.DataFrame) -> list[dict[str, Any]]:
    """ScatterplotLayer rows (plain JSON types) for sightings that have a position."""
    records = []
    for row in sightings.itertuples(index=False):
        if pd.isna(row.latitude) or pd.isna(row.longitude):
            continue
        is_open = row.status == "open"
        records.append(
            {
                "sighting_id": str(row.sighting_id),
                "species": str(row.species),
                "common_name": "" if pd.isna(row.common_name) else str(row.common_name),
                "first_seen": _fmt_time(row.first_seen),
                "last_seen": _fmt_time(row.last_seen),
                "peak": f"{float(row.peak_score):.2f}",
                "frames": int(row.frames) if not pd.isna(row.frames) else 0,
                "status": str(row.status),
                "lon": float(row.longitude),
                "lat": float(row.latitude),
                "color": species_color(str(row.species)),
                "line_color": [20, 20, 20] if is_open else [255, 255, 255],
                "radius": 5.0 + 5.0 * max(0.0, min(1.0, float(row.peak_score))),
            }
        )
    return records


def _fmt_time(value: Any) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


TOOLTIP = {
    "text": "{common_name} ({species})\n"
    "first seen {first_seen} UTC\n"
    "last seen {last_seen} UTC\n"
    "peak score {peak}, {frames} frames, {status}",
}


def fit_view(
    points: Iterable[Sequence[float]],
    *,
    width_px: int = 900,
    height_px: int = 520,
    max_zoom: float = 13.0,
) -> pdk.ViewState:
    """A view that shows all ``(lon, lat)`` points (zoomed in at most to ``max_zoom``), or
    the USA when there are none."""
    pts = [(float(lon), float(lat)) for lon, lat in points]
    if not pts:
        lat, lon, zoom = US_VIEW
        return pdk.ViewState(latitude=lat, longitude=lon, zoom=zoom, pitch=0, bearing=0)
    lons = [p[0] for p in pts]
    lats = [max(-85.0, min(85.0, p[1])) for p in pts]
    lon_span = max(max(lons) - min(lons), 0.0005) * 1.2  # a 50 m walk still fits
    y_lo, y_hi = _merc_y(min(lats)), _merc_y(max(lats))
    y_span = max(y_hi - y_lo, math.radians(0.0005)) * 1.2
    # At zoom z the world is 512 * 2**z pixels wide (2*pi in Mercator y units).
    zoom_lon = math.log2(width_px * 360.0 / (512.0 * lon_span))
    zoom_lat = math.log2(height_px * 2 * math.pi / (512.0 * y_span))
    zoom = max(1.0, min(max_zoom, zoom_lon, zoom_lat))
    center_lat = math.degrees(math.atan(math.sinh((y_lo + y_hi) / 2)))
    return pdk.ViewState(
        latitude=round(center_lat, 6),
        longitude=round((min(lons) + max(lons)) / 2, 6),
        zoom=round(zoom, 2),
        pitch=0,
        bearing=0,
    )


def _merc_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


class CompactDeck(pdk.Deck):
    """A Deck whose JSON has no indentation (pydeck's indents double the size sent)."""

    def to_json(self) -> str:
        return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))


# Range of a species -------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _load_polygons(
    files: tuple[str, ...], species_field: str, presence_field: str | None, crs: str | None
) -> RangePrior:
    from fieldtool.priors.polygons import load_ranges

    return load_ranges(
        list(files), species_field=species_field, presence_field=presence_field, crs=crs
    )


def range_geojson(
    settings: dict[str, Any] | None, species: str, tolerance_deg: float = 0.02
) -> dict[str, Any] | None:
    """GeoJSON of a species' range from the polygon files a session used, or None."""
    from fieldtool.priors.occurrences import is_occurrence_file

    if not settings:
        return None
    files = tuple(
        str(f)
        for f in settings.get("ranges", [])
        if not is_occurrence_file(f) and Path(f).is_file()
    )
    if not files:
        return None
    try:
        prior = _load_polygons(files, settings.get("species_field", "species"),
                               settings.get("presence_field", "presence"), settings.get("crs"))  # fmt: skip
    except FieldtoolError:
        return None
    geometry = prior.geometry(species)
    if geometry is None or geometry.is_empty:
        return None
    shape = shapely.geometry.mapping(geometry.simplify(tolerance_deg, preserve_topology=True))
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {"species": species}, "geometry": shape}]}  # fmt: skip


def build_deck(
    sightings: pd.DataFrame,
    tracks: pd.DataFrame | None = None,
    *,
    basemap_dir: Path | str = BASEMAP_DIR,
    species_range: tuple[str, dict[str, Any]] | None = None,
) -> pdk.Deck:
    """The map: offline basemap, a species' range (``(species, geojson)``), GPS tracks and
    sightings coloured by species."""
    points = sighting_records(sightings)
    paths = track_records(tracks) if tracks is not None else []
    layers = basemap_layers(basemap_dir)
    if species_range is not None:
        name, shape = species_range
        layers.append(
            pdk.Layer(
                "GeoJsonLayer", id="species-range", data=shape, filled=True, stroked=True,
                get_fill_color=[*species_color(name), 60], get_line_color=[*species_color(name), 200],
                line_width_units=_PIXELS, get_line_width=1, pickable=False,
            )
        )  # fmt: skip
    layers.append(
        pdk.Layer(
            "PathLayer",
            id="tracks",
            data=paths,
            get_path="path",
            get_color="color",
            width_units=_PIXELS,
            get_width=2,
            width_min_pixels=2,
            joint_rounded=True,
            cap_rounded=True,
            pickable=False,
        )
    )
    layers.append(
        pdk.Layer(
            "ScatterplotLayer",
            id="sightings",
            data=points,
            get_position=["lon", "lat"],
            get_fill_color="color",
            get_line_color="line_color",
            get_radius="radius",
            radius_units=_PIXELS,
            stroked=True,
            line_width_units=_PIXELS,
            get_line_width=1.5,
            pickable=True,
            auto_highlight=True,
        )
    )
    if species_range is not None:  # show the whole range around the sightings
        xmin, ymin, xmax, ymax = shapely.geometry.shape(
            species_range[1]["features"][0]["geometry"]
        ).bounds
        corners = [(xmin, ymin), (xmax, ymax)]
        view = fit_view([*corners, *((p["lon"], p["lat"]) for p in points)])
    elif points:
        view = fit_view((p["lon"], p["lat"]) for p in points)
    else:
        view = fit_view(pt for path in paths for pt in path["path"])
    resolution = density_resolution(view.zoom)
    if resolution is not None and points:  # where sightings concentrate, seen from afar
        layers.insert(
            len(layers) - 2,
            pdk.Layer(
                "H3HexagonLayer", id="density", data=density_records(points, resolution),
                get_hexagon="hex", get_fill_color="color", extruded=False, stroked=False,
                pickable=False, opacity=0.6,
            ),
        )  # fmt: skip
    # No provider and pydeck's default style marker: Streamlit then draws no basemap of its
    # own. (``map_style=None`` would make it fetch a Carto style from the internet.)
    return CompactDeck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        tooltip=TOOLTIP,
    )
