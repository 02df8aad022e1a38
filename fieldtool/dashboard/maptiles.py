"""The map's data as tiles, so what is drawn follows the zoom the user chooses.

The page registers the current filter (:meth:`MapTiles.register`) and puts two deck.gl
``TileLayer`` s in the deck (:func:`fieldtool.dashboard.mapview.data_tile_layers`); the
browser then fetches, for each 512-px tile of the view at its zoom ``z``,
``/map/{view}/s/{z}/{x}/{y}.json`` (sightings) and ``/map/{view}/t/{z}/{x}/{y}.json``
(tracks) from the dashboard's own tile server (:class:`fieldtool.dashboard.tiles.TileServer`).
Each answer is a GeoJSON FeatureCollection, which the TileLayer draws with its default
sub-layer (a GeoJsonLayer), so no JavaScript callback is needed in Streamlit's JSON deck.

A sightings tile holds one of (each placed sighting counted in exactly one tile, so the
tiles of a view add up to the page's exact figures):

- points: every sighting in the tile, coloured by species, when at most ``points`` fall in
  it; sightings that share a :data:`DOT_PX`-pixel square are one dot with their count;
- dots (site zoom, :data:`~fieldtool.dashboard.mapview.SITE_ZOOM` and deeper): sightings
  grouped into squares of :data:`DOT_PX` screen pixels, one dot each at their mean
  position, coloured by the most seen species, with count and species in the tooltip;
- cells (coarser zooms): the tile's sightings per H3 cell of the resolution
  :func:`~fieldtool.dashboard.mapview.cell_resolution` gives for ``z``, coloured on the
  legend's count scale. A cell across the tile's edge is cut there (:func:`clip_ring`): each
  tile draws its part of the cell with the sightings that lie in that part, so a neighbour
  in another mode (points beside cells) neither counts them again nor misses them. A cell
  part too thin to draw (an H3 parent does not exactly contain its children) is a dot at its
  sightings' mean position.

Every mode counts the same sightings: those whose own position is in the tile, west and
north edges in (:func:`_half_open`), so whatever mode each tile is in, each placed
sighting is counted in exactly one tile at each zoom.

A tracks tile: each session's fixes in the tile (and a margin of :data:`TRACK_MARGIN_PX`),
snapped to one pixel at ``z``, as lines broken where the walk leaves the tile
(:func:`track_features`).

Answers are cached per (view, kind, z, x, y); a view's id holds the database's change mark,
so new data gets new URLs and the browser fetches only when something changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import pandas as pd

from fieldtool.dashboard.aggregate import (
    TOP_SPECIES_SQL,
    filtered_sql,
    h3_parent_sql,
    top_species,
)
from fieldtool.dashboard.data import SightingFilter, with_elevations
from fieldtool.dashboard.deck import tile_bounds
from fieldtool.dashboard.mapview import (
    SITE_ZOOM,
    cell_resolution,
    count_colour,
    degrees_per_pixel,
    point_text,
)
from fieldtool.dashboard.tilechanges import DataState, changed_areas, grow, read_state, touches
from fieldtool.store import query

DOT_PX = 8  # side of the squares sightings are grouped into at site zoom, screen pixels
TRACK_MARGIN_PX = 16  # track fixes this far outside a tile still draw its lines
# Coarser than site zoom, a longer step between first visits breaks a line: the walk left
# the tile's margin (or the fixes have a gap). A track whose fixes lie farther apart than
# this on the screen would be drawn broken; 8 px is 600 m at zoom 11, 5 km at zoom 8.
TRACK_JUMP_PX = 8
KINDS = ("s", "t")  # sightings, tracks
_COLUMNS = "sighting_id, species, common_name, first_seen, peak_score, status, latitude, longitude"
Colour = Callable[[str], tuple[int, int, int]]


@dataclass(frozen=True)
class MapView:
    """One registered filter: the SQL of its sightings and how to draw them."""

    db_path: Path
    sql: str  # SELECT of the filtered sightings (:func:`filtered_sql`)
    params: dict[str, Any]
    session_id: str | None  # tracks: this session's, or every session's
    colour: Colour
    label: Callable[[str], str]
    points: int  # most sightings a tile draws one by one
    timeout_s: float


def _half_open(bounds: tuple[float, float, float, float]) -> tuple[str, dict[str, float]]:
    """WHERE clause placing a sighting in exactly one tile: west edge and north edge in."""
    w, s, e, n = bounds
    return (
        "longitude >= $w AND longitude < $e AND latitude > $s AND latitude <= $n",
        {"w": w, "e": e, "s": s, "n": n},
    )


def _margin(bounds: tuple[float, float, float, float], dlat: float) -> dict[str, float]:
    w, s, e, n = grow(bounds, dlat)
    return {"w": w, "e": e, "s": s, "n": n}


def tile_margin(kind: str, z: int) -> float:
    """Degrees of latitude around tile ``z`` of ``kind`` whose data it draws (a sightings
    tile draws only its own sightings: a pixel, for rounding)."""
    if kind == "t":
        return (TRACK_MARGIN_PX + 1) * degrees_per_pixel(z)
    return degrees_per_pixel(z)


def _feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _dot(view: MapView, lon: float, lat: float, n: int, species: int, top: str) -> dict[str, Any]:
    """A dot for ``n`` sightings of ``species`` species near (lon, lat), coloured by ``top``
    (the most seen), larger with more sightings."""
    return _feature(
        {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        c=list(view.colour(top)), l=[40, 40, 40, 200], r=min(4 + 2 * math.log10(n), 12),
        n=f"{n:,} sightings · {species} species · most seen: {view.label(top)}",
    )  # fmt: skip


def point_features(rows: pd.DataFrame, view: MapView, z: int) -> list[dict[str, Any]]:
    """Each sighting as a Point (c: species colour, l: dark outline when open, n: its
    tooltip), except where several fall within the same :data:`DOT_PX`-pixel square at
    ``z``: there one dot with their count (:func:`_dot`), so none hides under another."""
    step = degrees_per_pixel(z) * DOT_PX
    squares: dict[tuple[int, int], list[Any]] = {}
    for r in rows.itertuples(index=False):
        key = (math.floor(float(r.longitude) / step), math.floor(float(r.latitude) / step))
        squares.setdefault(key, []).append(r)
    features = []
    for key in sorted(squares):
        group = squares[key]
        if len(group) > 1:
            counts: dict[str, int] = {}
            for r in group:
                counts[str(r.species)] = counts.get(str(r.species), 0) + 1
            top = top_species(counts)
            lon = sum(float(r.longitude) for r in group) / len(group)
            lat = sum(float(r.latitude) for r in group) / len(group)
            features.append(_dot(view, lon, lat, len(group), len(counts), top))
            continue
        r = group[0]
        features.append(_feature(
            {"type": "Point",
             "coordinates": [round(float(r.longitude), 6), round(float(r.latitude), 6)]},
            c=list(view.colour(str(r.species))),
            l=[20, 20, 20, 255] if r.status == "open" else [255, 255, 255, 0],
            r=5, n=point_text(r),
        ))  # fmt: skip
    return features


def dot_features(view: MapView, z: int, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Sightings grouped into :data:`DOT_PX`-pixel squares: one dot per square (in SQL,
    for more sightings than a tile draws one by one)."""
    step = degrees_per_pixel(z) * DOT_PX
    rows = query(
        view.db_path,
        f"""WITH f AS (SELECT species, latitude, longitude,
                              floor(longitude / {step!r}) AS gx, floor(latitude / {step!r}) AS gy
                       FROM ({view.sql}) WHERE {where}),
            g AS (SELECT gx, gy, species, count(*) AS n, sum(longitude) AS sx,
                         sum(latitude) AS sy FROM f GROUP BY ALL)
            SELECT sum(n)::BIGINT AS sightings, count(*) AS species, {TOP_SPECIES_SQL} AS top,
                   sum(sx) / sum(n) AS longitude, sum(sy) / sum(n) AS latitude
            FROM g GROUP BY gx, gy ORDER BY gx, gy""",
        {**view.params, **params},
        timeout_s=view.timeout_s,
    )
    return [_dot(view, float(r.longitude), float(r.latitude), int(r.sightings), int(r.species),
                 str(r.top)) for r in rows.itertuples(index=False)]  # fmt: skip


def clip_ring(
    ring: list[tuple[float, float]], bounds: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """The part of the convex polygon ``ring`` ((lon, lat) degrees, not closed) inside the
    box ``bounds`` (west, south, east, north): Sutherland-Hodgman against each edge; the
    empty list when they do not overlap. Longitudes are first unwrapped around the box, so
    a cell across the antimeridian is cut, not lost."""
    w, s, e, n = bounds
    unwrapped: list[tuple[float, float]] = []
    for lon, lat in ring:  # each vertex within 180 degrees of the one before
        if unwrapped:
            lon += 360.0 * round((unwrapped[-1][0] - lon) / 360.0)
        unwrapped.append((lon, lat))
    if unwrapped:  # then the whole ring to the turn of the world nearest the box
        mid = sum(lon for lon, _ in unwrapped) / len(unwrapped)
        shift = 360.0 * round(((w + e) / 2 - mid) / 360.0)
        unwrapped = [(lon + shift, lat) for lon, lat in unwrapped]
    # (axis: 0 lon / 1 lat, edge value, keep the side >= edge)
    planes = ((0, w, True), (0, e, False), (1, s, True), (1, n, False))
    out = unwrapped
    for axis, edge, above in planes:
        if not out:
            break
        points, out = out, []
        for i, cur in enumerate(points):
            prev = points[i - 1]
            cur_in = (cur[axis] >= edge) if above else (cur[axis] <= edge)
            prev_in = (prev[axis] >= edge) if above else (prev[axis] <= edge)
            if cur_in != prev_in:  # the side crosses the edge: keep the crossing point
                f = (edge - prev[axis]) / (cur[axis] - prev[axis])
                cross = [prev[0] + f * (cur[0] - prev[0]), prev[1] + f * (cur[1] - prev[1])]
                cross[axis] = edge
                out.append((cross[0], cross[1]))
            if cur_in:
                out.append(cur)
    return out


def _area(ring: list[list[float]]) -> float:
    """Absolute shoelace area of ``ring`` (square degrees)."""
    pairs = zip(ring, ring[1:] + ring[:1], strict=True)
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in pairs)) / 2


def cell_features(
    view: MapView,
    z: int,
    where: str,
    params: dict[str, Any],
    bounds: tuple[float, float, float, float],
) -> list[dict[str, Any]]:
    """The tile's sightings (``where``) per H3 cell, each cell cut to the tile (module
    docstring); sightings without a cell, or in a part of a cell too thin to draw, are a
    dot at their mean position."""
    parent = h3_parent_sql("h3_cell", cell_resolution(z))
    rows = query(
        view.db_path,
        f"""WITH f AS (SELECT species, h3_cell, longitude, latitude FROM sightings JOIN
                         (SELECT sighting_id FROM ({view.sql}) WHERE {where})
                         USING (sighting_id)),
            -- Counted per stored cell first: the parent's text is then computed once a
            -- cell and species, not once a sighting.
            c AS (SELECT h3_cell, species, count(*) AS n, sum(longitude) AS sx,
                         sum(latitude) AS sy FROM f GROUP BY ALL),
            p AS (SELECT {parent} AS hex, species, sum(n) AS n, sum(sx) AS sx, sum(sy) AS sy
                  FROM c GROUP BY ALL)
            SELECT hex, sum(n)::BIGINT AS sightings, count(*) AS species,
                   {TOP_SPECIES_SQL} AS top, sum(sx) / sum(n) AS longitude,
                   sum(sy) / sum(n) AS latitude
            FROM p GROUP BY hex ORDER BY hex NULLS LAST""",
        {**view.params, **params},
        timeout_s=view.timeout_s,
    )
    pixel = degrees_per_pixel(z)
    features = []
    for r in rows.itertuples(index=False):
        count, kinds, top = int(r.sightings), int(r.species), str(r.top)
        ring: list[list[float]] = []
        if not pd.isna(r.hex):
            whole = [(lon, lat) for lat, lon in h3.cell_to_boundary(str(r.hex))]
            ring = [[round(x, 6), round(y, 6)] for x, y in clip_ring(whole, bounds)]
        if len(ring) < 3 or _area(ring) < pixel * pixel:  # nothing to see: a dot says it
            features.append(_dot(view, float(r.longitude), float(r.latitude), count, kinds,
                                 top))  # fmt: skip
            continue
        features.append(
            _feature(
                {"type": "Polygon", "coordinates": [ring + ring[:1]]},
                c=count_colour(count), l=[90, 90, 90, 160], r=0,
                n=f"{count:,} sightings · {kinds} species · most seen: {view.label(top)}",
            )  # fmt: skip
        )
    return features


def sighting_features(view: MapView, z: int, x: int, y: int) -> list[dict[str, Any]]:
    """The features of sightings tile ``z/x/y`` (points, dots or cells; module docstring)."""
    bounds = tile_bounds(z, x, y)
    where, params = _half_open(bounds)
    args = {**view.params, **params}
    count = query(view.db_path, f"SELECT count(*) AS n FROM ({view.sql}) WHERE {where}", args,
                  timeout_s=view.timeout_s).iloc[0, 0]  # fmt: skip
    if count == 0:
        return []
    if count <= view.points:
        rows = query(view.db_path, f"SELECT {_COLUMNS} FROM ({view.sql}) WHERE {where} "
                     "ORDER BY first_seen DESC, sighting_id", args,
                     timeout_s=view.timeout_s)  # fmt: skip
        rows = with_elevations(view.db_path, rows, timeout_s=view.timeout_s)  # the tooltip's
        return point_features(rows, view, z)
    if z >= SITE_ZOOM:
        return dot_features(view, z, where, params)
    return cell_features(view, z, where, params, bounds)


def track_features(view: MapView, z: int, x: int, y: int) -> list[dict[str, Any]]:
    """LineStrings of the tracks in tile ``z/x/y`` (and a margin), at a pixel's resolution.

    Fixes are snapped to the pixel grid. At site zoom (a pixel may be shorter than the way
    between two fixes) the fixes here and the one before and after each are kept (so a
    segment crossing the tile's edge is drawn), a fix when its pixel differs from the one
    before, and a line breaks where the session's next fix is not here. Coarser, each
    pixel keeps its first visit (one GROUP BY, no window over every fix), and a line breaks
    at a jump of more than :data:`TRACK_JUMP_PX` pixels: the walk left the tile's margin.
    Either way no straight line crosses ground never walked.
    """
    step = degrees_per_pixel(z)
    params: dict[str, Any] = _margin(tile_bounds(z, x, y), TRACK_MARGIN_PX * step)
    session = ""
    if view.session_id is not None:
        session, params["session_id"] = "AND session_id = $session_id", view.session_id
    inside = "longitude BETWEEN $w AND $e AND latitude BETWEEN $s AND $n"
    grid = f"round(longitude / {step!r}) AS gx, round(latitude / {step!r}) AS gy"
    if z >= SITE_ZOOM:
        sql = f"""
            WITH here AS (SELECT DISTINCT session_id FROM track WHERE {inside} {session}),
            seq AS (SELECT session_id, longitude, latitude, ({inside}) AS here,
                           row_number() OVER (PARTITION BY session_id ORDER BY time, t) AS rn
                    FROM track WHERE session_id IN (SELECT session_id FROM here)
                      AND latitude IS NOT NULL AND longitude IS NOT NULL),
            near AS (SELECT *, coalesce(lag(here) OVER w, FALSE) AS before,
                            coalesce(lead(here) OVER w, FALSE) AS after
                     FROM seq WINDOW w AS (PARTITION BY session_id ORDER BY rn)),
            f AS (SELECT session_id, rn, {grid} FROM near WHERE here OR before OR after),
            g AS (SELECT *, rn - lag(rn) OVER w AS gap, lag(gx) OVER w AS px,
                         lag(gy) OVER w AS py
                  FROM f WINDOW w AS (PARTITION BY session_id ORDER BY rn))
            SELECT session_id, gx, gy, coalesce(gap <> 1, TRUE) AS broken FROM g
            WHERE gap IS NULL OR gap <> 1 OR gx <> px OR gy <> py
            ORDER BY session_id, rn"""
    else:
        sql = f"""
            SELECT session_id, gx, gy, FALSE AS broken FROM (
                SELECT session_id, {grid}, min(time) AS time, min(t) AS t FROM track
                WHERE {inside} {session} GROUP BY ALL)
            ORDER BY session_id, time, t"""
    rows = query(view.db_path, sql, params, timeout_s=view.timeout_s)
    features: list[dict[str, Any]] = []
    line: list[list[float]] = []
    last: tuple[str, float, float] | None = None
    for r in rows.itertuples(index=False):
        gx, gy = float(r.gx), float(r.gy)
        jump = last is not None and max(abs(gx - last[1]), abs(gy - last[2])) > TRACK_JUMP_PX
        if r.broken or last is None or last[0] != r.session_id or (jump and z < SITE_ZOOM):
            if len(line) >= 2:
                features.append(_feature({"type": "LineString", "coordinates": line}))
            line = []
        line.append([round(gx * step, 7), round(gy * step, 7)])
        last = (str(r.session_id), gx, gy)
    if len(line) >= 2:
        features.append(_feature({"type": "LineString", "coordinates": line}))
    return features


def view_id(db_path: Path, filters: SightingFilter, mark: tuple[Any, ...], points: int) -> str:
    """A short id of (file, filter, change mark, points a tile): new data, new id."""
    text = repr((str(db_path), filters, mark, points))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class MapTiles:
    """Registered map views and the tiles of each, cached (one per dashboard process).

    A view registered again after the data changed (a new change mark) keeps the cached
    tiles of its previous read that the change does not touch
    (:mod:`fieldtool.dashboard.tilechanges`), so a refresh during a live session rebuilds
    the tiles where the session is, not the season's.

    ``max_views``: views kept (oldest dropped: its tiles then answer 404 until the page
    registers it again); ``max_tiles``: answers kept.
    """

    def __init__(self, *, max_views: int = 64, max_tiles: int = 2048) -> None:
        self._lock = threading.Lock()
        self._views: OrderedDict[str, MapView] = OrderedDict()
        self._tiles: OrderedDict[tuple[str, str, int, int, int], bytes] = OrderedDict()
        # The latest read of each (file, filter, points): its view id and data state.
        self._latest: OrderedDict[str, tuple[str, DataState]] = OrderedDict()
        self._building: dict[tuple[str, str, int, int, int], threading.Event] = {}
        self._max_views, self._max_tiles = max_views, max_tiles

    def register(
        self,
        db_path: Path,
        filters: SightingFilter,
        mark: tuple[Any, ...],
        *,
        colour: Colour,
        label: Callable[[str], str],
        points: int,
        style: str = "",
        timeout_s: float = 10.0,
    ) -> str:
        """The id of the view of ``filters`` over ``db_path`` at change mark ``mark``.
        ``style``: a fingerprint of ``colour`` and ``label`` (tiles drawn with other colours
        or names are not carried over to this view)."""
        key = view_id(db_path, filters, (mark, style), points)
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return key
        sql, params = filtered_sql(db_path, filters, timeout_s=timeout_s)
        view = MapView(Path(db_path), sql, params, filters.session_id, colour, label,
                       int(points), timeout_s)  # fmt: skip
        family = view_id(db_path, filters, (style,), points)
        state = read_state(Path(db_path), timeout_s)
        with self._lock:
            previous = self._latest.get(family)
        areas = None
        if previous is not None and filters.review is None:  # reviews move no tile's box
            areas = changed_areas(Path(db_path), previous[1], state, timeout_s)
        with self._lock:
            if previous is not None and areas is not None:
                self._carry(previous[0], key, areas)
            self._latest[family] = (key, state)
            self._latest.move_to_end(family)
            while len(self._latest) > self._max_views:
                self._latest.popitem(last=False)
            self._views[key] = view
            while len(self._views) > self._max_views:
                self._views.popitem(last=False)
        return key

    def _carry(self, old: str, new: str, areas: dict[str, Any]) -> None:
        """Copy the cached tiles of view ``old`` that ``areas`` do not touch to ``new``."""
        for view, kind, z, x, y in [k for k in self._tiles if k[0] == old]:
            if not touches(tile_bounds(z, x, y), tile_margin(kind, z), areas[kind]):
                self._tiles[(new, kind, z, x, y)] = self._tiles[(view, kind, z, x, y)]

    def tile(self, view: str, kind: str, z: int, x: int, y: int) -> bytes | None:
        """GeoJSON bytes of tile ``z/x/y`` of ``kind`` (``s`` or ``t``) of a registered
        view; None for an unknown view or kind."""
        key = (view, kind, z, x, y)
        while True:
            with self._lock:
                found = self._tiles.get(key)
                if found is not None:
                    self._tiles.move_to_end(key)
                    return found
                registered = self._views.get(view)
                if registered is None or kind not in KINDS:
                    return None
                # One build a tile: a request meeting the warm-up's build waits for it.
                building = self._building.get(key)
                if building is None:
                    building = self._building[key] = threading.Event()
                    break
            building.wait()
        try:
            build = sighting_features if kind == "s" else track_features
            features = build(registered, z, x, y)
            data = json.dumps({"type": "FeatureCollection", "features": features},
                              separators=(",", ":")).encode()  # fmt: skip
            with self._lock:
                self._tiles[key] = data
                while len(self._tiles) > self._max_tiles:
                    self._tiles.popitem(last=False)
            return data
        finally:
            with self._lock:
                del self._building[key]
            building.set()

    def warm(self, view: str, lon: float, lat: float, zoom: float, *,
             width_px: int = 1200, height_px: int = 520) -> threading.Thread:
        """Build, on a thread, the tiles a browser opening ``view`` at (lon, lat, zoom) in
        a map of about ``width_px`` × ``height_px`` will ask for first (deck.gl's 512-px
        tiles at the rounded zoom), while it is still loading the page."""
        z = max(0, min(int(round(zoom)), 20))
        n = 1 << z
        scale = 2.0 ** (z - zoom)  # tile pixels per screen pixel
        cx = (lon + 180.0) / 360.0 * n
        cy = (1 - math.asinh(math.tan(math.radians(max(-85.0, min(85.0, lat))))) / math.pi) / 2 * n
        dx, dy = width_px * scale / 512 / 2, height_px * scale / 512 / 2
        tiles = [(x % n, y) for x in range(math.floor(cx - dx), math.floor(cx + dx) + 1)
                 for y in range(max(0, math.floor(cy - dy)), min(n - 1, math.floor(cy + dy)) + 1)]
        order = sorted(tiles, key=lambda t: (t[0] + 0.5 - cx) ** 2 + (t[1] + 0.5 - cy) ** 2)

        def run() -> None:
            for x, y in order[:64]:
                for kind in KINDS:
                    with contextlib.suppress(Exception):  # the browser's request says it
                        self.tile(view, kind, z, x, y)

        thread = threading.Thread(target=run, name="fieldtool-map-warm", daemon=True)
        thread.start()
        return thread
