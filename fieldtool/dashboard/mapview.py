"""The map at any scale: H3 cells with counts from afar, single sightings and tracks up close.

What is drawn follows the zoom of the view the page shows (the whole area of the
filtered sightings, or one session's walk when a session is chosen, up to zoom 20):

- cells: sightings per H3 cell (:func:`fieldtool.dashboard.aggregate.load_cells`) at the
  resolution whose cells are about 20 pixels across at that zoom (:func:`cell_resolution`),
  coloured by count on a five-step scale with a legend (:data:`COUNT_BINS`); at site zoom
  only their outlines, so the points and the track stay readable;
- points: each sighting, coloured by species (:mod:`fieldtool.dashboard.palette`), only
  when few enough match (``dashboard.map_points``);
- tracks: simplified to about a pixel at that zoom (``load_tracks(tolerance_deg=...)``).

Rows are compact (short keys, rounded coordinates, a prepared tooltip line), so the deck
stays far under 2 MB however many sightings the file holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pydeck as pdk

from fieldtool.config.dashboard import DashboardConfig
from fieldtool.dashboard.deck import (
    BASEMAP_DIR,
    CompactDeck,
    basemap_layers,
    fit_view,
    tile_layers,
)
from fieldtool.dashboard.tiles import TileSource

MAX_ZOOM = 20.0
SITE_ZOOM = 12.0  # from here on the view is one site: cells outlined, points and track drawn
# (lowest count of the step, RGBA); counts of sightings per cell.
COUNT_BINS: tuple[tuple[int, tuple[int, int, int, int]], ...] = (
    (1, (255, 237, 160, 190)),
    (10, (254, 178, 76, 200)),
    (100, (253, 141, 60, 210)),
    (1000, (227, 26, 28, 215)),
    (10000, (128, 0, 38, 220)),
)
_PIXELS = pdk.types.String("pixels")
_METERS = pdk.types.String("meters")
TOOLTIP = {"text": "{n}"}


def degrees_per_pixel(zoom: float) -> float:
    """Longitude degrees one screen pixel spans at ``zoom`` (the world is 512·2^z px)."""
    return 360.0 / (512.0 * 2.0**zoom)


def cell_resolution(zoom: float) -> int:
    """H3 resolution (2-8) whose cells are some 20 px across at ``zoom``."""
    return int(max(2, min(8, round((zoom - 3.0) / 1.4 + 3.0))))


def count_colour(count: int) -> list[int]:
    """The legend colour of a cell with ``count`` sightings."""
    colour = COUNT_BINS[0][1]
    for low, rgba in COUNT_BINS:
        if count >= low:
            colour = rgba
    return list(colour)


def cell_records(cells: pd.DataFrame, label: Callable[[str], str]) -> list[dict[str, Any]]:
    """H3HexagonLayer rows: h (cell), c (colour), n (tooltip line)."""
    return [
        {
            "h": str(row.hex),
            "c": count_colour(int(row.sightings)),
            "n": f"{int(row.sightings):,} sightings · {int(row.species)} species · most seen: "
            f"{label(str(row.top))}",
        }
        for row in cells.itertuples(index=False)
    ]


def point_records(
    points: pd.DataFrame, colour: Callable[[str], tuple[int, int, int]]
) -> list[dict[str, Any]]:
    """ScatterplotLayer rows: p ([lon, lat], 6 decimals: 0.1 m), c (species colour, dark
    outline for an open sighting in o), n (tooltip line)."""
    return [
        {
            "p": [round(float(row.longitude), 6), round(float(row.latitude), 6)],
            "c": list(colour(str(row.species))),
            "o": 1 if row.status == "open" else 0,
            "n": point_text(row),
        }
        for row in points.itertuples(index=False)
    ]


def point_text(row: Any) -> str:
    """Tooltip line of one sighting (a row of ``load_points``): name, time, peak, status,
    and the camera's elevation where its track gives one (:func:`elevation_text`)."""
    name = row.common_name if isinstance(row.common_name, str) and row.common_name else ""
    title = f"{name} ({row.species})" if name else str(row.species)
    when = pd.Timestamp(row.first_seen).strftime("%Y-%m-%d %H:%M:%S")
    text = f"{title} · {when} UTC · peak {float(row.peak_score):.2f} · {row.status}"
    elevation = elevation_text(row)
    return f"{text} · {elevation}" if elevation else text


def _metres(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def elevation_text(row: Any) -> str:
    """The camera's elevation of a sighting row with
    :func:`~fieldtool.dashboard.data.with_elevations`' columns, whole metres, with what it
    is measured from: "camera at 736 m above sea level (gpx), 728–736 m over its frames";
    '' without one (never "0 m")."""
    at = _metres(getattr(row, "elevation_m", None))
    low = _metres(getattr(row, "elevation_min_m", None))
    high = _metres(getattr(row, "elevation_max_m", None))
    reference = getattr(row, "elevation_reference", None)
    if not isinstance(reference, str) or (at is None and (low is None or high is None)):
        return ""
    span = None
    if low is not None and high is not None and round(low) != round(high):
        span = f"{low:.0f}–{high:.0f} m"
    if at is None:
        return f"camera at {span or f'{low:.0f} m'} {reference} over its frames"
    return f"camera at {at:.0f} m {reference}" + (f", {span} over its frames" if span else "")


def map_deck(
    cells: pd.DataFrame,
    points: pd.DataFrame | None,
    tracks: pd.DataFrame | None,
    view: pdk.ViewState,
    *,
    colour: Callable[[str], tuple[int, int, int]],
    label: Callable[[str], str],
    basemap_dir: Path | str = BASEMAP_DIR,
    extra: list[pdk.Layer] | None = None,
    tiles: list[pdk.Layer] | None = None,
    data: list[pdk.Layer] | None = None,
    basemap_url: Callable[[str], str] | None = None,
) -> CompactDeck:
    """The deck: basemap, ``tiles`` over it (:func:`basemap_tiles`), ``extra`` layers (a
    species' range), cells, points, the tracks on top (a thin line, so a walk stays
    visible through dense points), then ``data`` (:func:`data_tile_layers`, which draw
    cells, points and tracks by the user's zoom in place of the three before)."""
    site = float(view.zoom) >= SITE_ZOOM
    layers = basemap_layers(basemap_dir, basemap_url) + list(tiles or []) + list(extra or [])
    if not cells.empty:
        layers.append(
            pdk.Layer(
                "H3HexagonLayer", id="cells", data=cell_records(cells, label), get_hexagon="h",
                get_fill_color="c", get_line_color=[90, 90, 90, 160], filled=not site,
                stroked=site, line_width_units=_PIXELS, get_line_width=1, extruded=False,
                pickable=not site, high_precision=site,
            )
        )  # fmt: skip
    if points is not None and not points.empty:
        layers.append(
            pdk.Layer(
                "ScatterplotLayer", id="sightings", data=point_records(points, colour),
                get_position="p", get_fill_color="c",
                get_line_color="o ? [20, 20, 20] : [255, 255, 255, 0]",
                radius_units=_PIXELS, get_radius=6 if site else 4, stroked=True,
                line_width_units=_PIXELS, get_line_width=1.5, pickable=True,
                auto_highlight=True,
            )
        )  # fmt: skip
    paths = [] if tracks is None else [
        {"path": list(p)} for p in tracks["path"] if len(p) >= 1]  # fmt: skip
    if paths:
        layers.append(
            pdk.Layer(
                "PathLayer", id="tracks", data=paths, get_path="path",
                get_color=[40, 40, 55, 220], width_units=_PIXELS, get_width=2,
                width_min_pixels=2, joint_rounded=True, cap_rounded=True, pickable=False,
            )
        )  # fmt: skip
    layers += list(data or [])
    view.max_zoom = MAX_ZOOM
    return CompactDeck(layers=layers, initial_view_state=view, map_provider=None,
                       tooltip=TOOLTIP)  # fmt: skip


def data_tile_layers(sightings_url: str, tracks_url: str) -> list[pdk.Layer]:
    """The map's data as deck.gl TileLayers fetching GeoJSON tiles
    (:mod:`fieldtool.dashboard.maptiles`) at the zoom the user is at: sightings (points,
    dots or H3 cells, each feature carrying its colours ``c``/``l``, radius ``r`` and
    tooltip ``n``), then the tracks on top. The TileLayer's default sub-layer is a
    GeoJsonLayer, so the layer needs no JavaScript callback."""
    common: dict[str, Any] = {
        "min_zoom": 0, "max_zoom": int(MAX_ZOOM), "tile_size": 512,
        "max_cache_size": 200, "refinement_strategy": pdk.types.String("no-overlap"),
    }  # fmt: skip
    return [
        pdk.Layer(
            "TileLayer", id="sighting-tiles", data=sightings_url, get_fill_color="properties.c",
            get_line_color="properties.l", get_point_radius="properties.r", filled=True,
            stroked=True, point_type=pdk.types.String("circle"),
            point_radius_units=_PIXELS, line_width_units=_PIXELS, get_line_width=1,
            pickable=True, auto_highlight=True, **common,
        ),
        pdk.Layer(
            "TileLayer", id="track-tiles", data=tracks_url, get_line_color=[40, 40, 55, 220],
            line_width_units=_PIXELS, get_line_width=2, line_width_min_pixels=2,
            line_joint_rounded=True, line_cap_rounded=True, pickable=False, **common,
        ),
    ]  # fmt: skip


def basemap_tiles(
    settings: DashboardConfig,
    view: pdk.ViewState,
    local_url: str | None = None,
    local: TileSource | None = None,
) -> tuple[list[pdk.Layer], str]:
    """Tile layers around ``view`` over the Natural Earth basemap, and the caption
    crediting them (:func:`fieldtool.dashboard.deck.tile_layers`).

    ``local_url``: the URL template of the dashboard's own tile server for ``local``
    (``dashboard.tiles``); the online basemap only when ``dashboard.online_basemap`` is
    set. Online tiles go under local ones, which are usually the finer, site-scale map.
    """
    layers: list[pdk.Layer] = []
    credits = ["Natural Earth"]
    own = settings.tiles_attribution
    if settings.online_basemap:
        layers += tile_layers(settings.online_basemap, view, layer_id="online-tiles")
        host = settings.online_basemap.split("/")[2]
        credits.append(f"online tiles from {host}" + (f" ({own})" if own else ""))
    if local_url is not None and local is not None:
        layers += tile_layers(local_url, view, min_zoom=local.min_zoom, max_zoom=local.max_zoom)
        credit = own or local.attribution
        credits.append(f"tiles {local.name}, zoom {local.min_zoom}–{local.max_zoom}"
                       + (f" ({credit})" if credit else ""))  # fmt: skip
    return layers, "Basemap: " + "; ".join(credits) + "."


def view_of(bounds: tuple[float, float, float, float] | None, *, site: bool) -> pdk.ViewState:
    """The view fitting ``bounds`` (min lon, min lat, max lon, max lat); a single site may
    zoom in to :data:`MAX_ZOOM`, the whole area stops short of site zoom."""
    if bounds is None:
        return fit_view([])
    x0, y0, x1, y1 = bounds
    return fit_view([(x0, y0), (x1, y1)], max_zoom=MAX_ZOOM if site else SITE_ZOOM - 0.5)


def track_tolerance(zoom: float) -> float:
    """Degrees tracks are simplified to at ``zoom``: one pixel, none past zoom 17."""
    return 0.0 if zoom >= 17 else degrees_per_pixel(zoom)


def deck_size(deck: pdk.Deck) -> int:
    """Bytes of the deck's JSON, as Streamlit sends it."""
    return len(deck.to_json().encode("utf-8"))


def legend_html(colour_of: Callable[[str], str], names: list[tuple[str, str]], more: int) -> str:
    """Species chips (``names``: (species, label)) and the cell count scale, as HTML."""
    import html

    chips = [
        f'<span style="white-space:nowrap;margin-right:.9em">'
        f'<span style="color:{colour_of(sp)};font-size:1.2em">&#9679;</span> '
        f"{html.escape(text)}</span>"
        for sp, text in names
    ]
    if more:
        chips.append(f"<span>and {more} more species</span>")
    steps = []
    for i, (low, (r, g, b, _)) in enumerate(COUNT_BINS):
        high = COUNT_BINS[i + 1][0] - 1 if i + 1 < len(COUNT_BINS) else None
        span = f"{low:,}–{high:,}" if high is not None else f"{low:,}+"
        steps.append(
            f'<span style="white-space:nowrap;margin-right:.6em">'
            f'<span style="display:inline-block;width:1em;height:.8em;'
            f'background:rgb({r},{g},{b})"></span> {span}</span>'
        )
    return (
        " ".join(chips)
        + '<br><span style="font-size:.85em">H3 cells (where too many to draw one by one), '
        "sightings per cell: "
        + " ".join(steps)
        + "</span>"
    )


def zoom_text(zoom: float) -> str:
    """'zoom 5.2 (H3 resolution 4 cells)' for captions."""
    return f"zoom {zoom:.1f}, H3 resolution {cell_resolution(zoom)} cells" + (
        " outlined" if zoom >= SITE_ZOOM else ""
    )
