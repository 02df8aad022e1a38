"""A season-sized sightings database, built in seconds with DuckDB SQL (tests and benchmarks).

:func:`generate` creates the file with the schema of :mod:`fieldtool.store.schema` (through
:func:`~fieldtool.store.schema.ensure_schema`) and fills it with ``INSERT ... SELECT`` over
``range()``: sessions spread over sites, a GPS track per session (one point a second), the
sightings along the track with H3 cells, species with a skewed abundance, and reviews.
Everything is deterministic (``hash`` of the row number), so a test computes what a page
must show from the file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import h3
import pyarrow as pa

from fieldtool.store.schema import H3_RESOLUTION, SPECIES_FROM, ensure_schema

START = datetime(2026, 4, 1, 8, 0, 0)
# 40 species of the eastern and western USA; the generator uses the first ``species``.
SPECIES = (
    ("Acer rubrum", "red maple"), ("Quercus alba", "white oak"), ("Pinus taeda", "loblolly pine"),
    ("Cornus florida", "flowering dogwood"), ("Cornus nuttallii", "Pacific dogwood"),
    ("Liriodendron tulipifera", "tulip tree"), ("Acer saccharum", "sugar maple"),
    ("Quercus rubra", "northern red oak"), ("Betula papyrifera", "paper birch"),
    ("Fagus grandifolia", "American beech"), ("Tsuga canadensis", "eastern hemlock"),
    ("Pinus strobus", "eastern white pine"), ("Juniperus virginiana", "eastern redcedar"),
    ("Liquidambar styraciflua", "sweetgum"), ("Nyssa sylvatica", "blackgum"),
    ("Carya ovata", "shagbark hickory"), ("Ulmus americana", "American elm"),
    ("Fraxinus americana", "white ash"), ("Prunus serotina", "black cherry"),
    ("Sassafras albidum", "sassafras"), ("Magnolia grandiflora", "southern magnolia"),
    ("Platanus occidentalis", "American sycamore"), ("Populus tremuloides", "quaking aspen"),
    ("Pseudotsuga menziesii", "Douglas-fir"), ("Sequoia sempervirens", "coast redwood"),
    ("Pinus ponderosa", "ponderosa pine"), ("Quercus agrifolia", "coast live oak"),
    ("Arbutus menziesii", "Pacific madrone"), ("Thuja plicata", "western redcedar"),
    ("Picea sitchensis", "Sitka spruce"), ("Alnus rubra", "red alder"),
    ("Acer macrophyllum", "bigleaf maple"), ("Quercus virginiana", "southern live oak"),
    ("Taxodium distichum", "bald cypress"), ("Ilex opaca", "American holly"),
    ("Oxydendrum arboreum", "sourwood"), ("Robinia pseudoacacia", "black locust"),
    ("Cercis canadensis", "eastern redbud"), ("Diospyros virginiana", "persimmon"),
    ("Salix nigra", "black willow"),
)  # fmt: skip


@dataclass(frozen=True)
class Season:
    """What :func:`generate` writes: counts of each kind of row."""

    sightings: int = 200_000
    sessions: int = 40
    sites: int = 8
    species: int = 40
    track_points: int = 432_000
    reviews: int = 10_000
    running: int = 1  # the newest sessions still running; their last 50 sightings are open


def generate(path: Path | str, season: Season = Season()) -> Path:
    """Write a new sightings database of ``season``'s size at ``path``; returns the path."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(path)
    n, s, k = season.sightings, season.sessions, season.species
    per_track = max(season.track_points // s, 2)  # one fix a second
    with duckdb.connect(str(path)) as con:
        ensure_schema(con, path)
        con.execute(
            "CREATE TEMP TABLE names AS SELECT i, name[1] AS species, name[2] AS common_name "
            "FROM (SELECT unnest(range(?)) AS i, unnest(?) AS name)",
            [k, [list(pair) for pair in SPECIES[:k]]],
        )
        # Sites on a 4-column grid over the south-western USA (on land, where the basemap
        # draws something); a session walks a loop of about 2 km.
        con.execute(
            f"""CREATE TEMP TABLE sess AS SELECT i AS j, 's' || lpad(i::VARCHAR, 3, '0') AS sid,
                34.0 + 4.0 * ((i % {season.sites}) // 4) + 0.01 * (i // {season.sites}) AS lat0,
                -116.0 + 6.0 * ((i % {season.sites}) % 4) + 0.01 * (i // {season.sites}) AS lon0,
                TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}' + INTERVAL 1 DAY * i AS started,
                i >= {s - season.running} AS running
            FROM range({s}) t(i)"""
        )
        con.execute(
            f"""INSERT INTO sessions (session_id, source, model_id, config_json, host,
                started_at, ended_at, status, frames_read, frames_analysed, frames_dropped,
                updated_at, time_source, time_zone, time_zone_known, frames_positioned)
            SELECT sid, '/videos/walk_' || sid || '.mp4', 'demo', '{{}}', 'gen', started,
                CASE WHEN running THEN NULL ELSE started + INTERVAL 1 SECOND * {per_track} END,
                CASE WHEN running THEN 'running' ELSE 'finished' END,
                {per_track}, {per_track}, 0, started, 'start-time', 'UTC', TRUE, {per_track}
            FROM sess"""
        )
        walk = (
            "lat0 + 0.006 * sin(tt / {p} * 2 * pi()) + 0.0004 * sin(tt / 37.0)",
            "lon0 + 0.008 * (1 - cos(tt / {p} * 2 * pi())) + 0.0004 * cos(tt / 29.0)",
        )
        lat, lon = (w.format(p=per_track) for w in walk)
        con.execute(
            f"""INSERT INTO track (session_id, time, t, latitude, longitude, source, accuracy_m)
            SELECT sid, started + INTERVAL 1 SECOND * tt, tt, {lat}, {lon}, 'gpx', 5.0
            FROM sess, (SELECT range::DOUBLE AS tt FROM range({per_track}))"""
        )
        # Species index: a skewed abundance (the first species most common), every one seen.
        con.execute(
            f"""INSERT INTO sightings (sighting_id, session_id, species, common_name,
                first_seen, last_seen, first_t, last_t, frames, peak_score, mean_score,
                latitude, longitude, model_id, snapshot_path, status, updated_at, peak_t,
                h3_cell, rank, event_id)
            WITH rows AS (
                SELECT i, i % {s} AS j, i // {s} AS m,
                       CASE WHEN i < {k} THEN i
                            ELSE floor({k} * pow((hash(i) % 100000) / 100000.0, 2))::BIGINT
                       END AS sp
                FROM range({n}) t(i)),
            placed AS (
                SELECT rows.*, sess.*, names.species, names.common_name,
                       (m * {per_track}.0 / ceil({n} / {s})) AS tt,
                       count(*) OVER (PARTITION BY j ORDER BY m DESC) AS from_end
                FROM rows JOIN sess USING (j) JOIN names ON names.i = rows.sp)
            SELECT 'g' || i, sid, species, common_name,
                   started + INTERVAL 1 MILLISECOND * CAST(tt * 1000 AS BIGINT),
                   started + INTERVAL 1 MILLISECOND * CAST((tt + 2) * 1000 AS BIGINT),
                   tt, tt + 2, 10, 0.4 + (hash(i * 7) % 600) / 1000.0,
                   0.3 + (hash(i * 7) % 600) / 1200.0, {lat}, {lon}, 'demo', NULL,
                   CASE WHEN running AND from_end <= 50 THEN 'open' ELSE 'closed' END,
                   started, tt + 1, NULL, 'species', NULL
            FROM placed"""
        )
        _h3_cells(con)
        con.execute(f"INSERT INTO species {SPECIES_FROM.format(src='sightings')}")
        # Reviews of every (n // reviews)-th closed sighting: confirm, reject, relabel.
        step = max(n // max(season.reviews, 1), 1)
        con.execute(
            f"""INSERT INTO reviews (review_id, sighting_id, decision, species, reviewer,
                reviewed_at, note, supersedes)
            SELECT 'r' || i, 'g' || i,
                   ['confirm', 'reject', 'relabel'][1 + (i // {step}) % 3],
                   CASE WHEN (i // {step}) % 3 = 2
                        THEN (SELECT species FROM names WHERE names.i = (i // {step}) % {k})
                        ELSE sp.species END,
                   'gen', TIMESTAMP '2026-09-01' + INTERVAL 1 SECOND * i, '', NULL
            FROM range(0, {n}, {step}) t(i) JOIN sightings sp ON sp.sighting_id = 'g' || i
            WHERE sp.status = 'closed'
            LIMIT {season.reviews}"""
        )
        con.execute("CHECKPOINT")
    return path


def _h3_cells(con: duckdb.DuckDBPyConnection) -> None:
    """sightings.h3_cell for every position (no H3 extension: the cells come from h3-py)."""
    rows = con.execute(
        "SELECT DISTINCT latitude, longitude FROM sightings WHERE latitude IS NOT NULL"
    ).fetchall()
    cells = pa.table(
        {
            "latitude": [r[0] for r in rows],
            "longitude": [r[1] for r in rows],
            "cell": [h3.latlng_to_cell(r[0], r[1], H3_RESOLUTION) for r in rows],
        }
    )
    con.register("cells", cells)
    con.execute(
        "UPDATE sightings SET h3_cell = cells.cell FROM cells "
        "WHERE sightings.latitude = cells.latitude AND sightings.longitude = cells.longitude"
    )
    con.unregister("cells")


if __name__ == "__main__":  # python -m tests.dashboard.generate OUT [SIGHTINGS]
    import sys
    import time

    began = time.perf_counter()
    size = int(sys.argv[2]) if len(sys.argv) > 2 else Season.sightings
    generate(sys.argv[1], Season(sightings=size, track_points=max(size * 216 // 100, 80)))
    print(f"{sys.argv[1]}: {size} sightings in {time.perf_counter() - began:.1f} s")
