"""What the ``track`` table holds: how often a row is kept, what its ``elevation_m`` is
measured from, and a sighting's elevation read from it.

The pipeline keeps a frame's position as a ``track`` row at most once every
:data:`TRACK_STEP_S` media seconds, so the frames of a sighting are stood for by the rows
from :data:`TRACK_STEP_S` before its first frame to its last frame (the row just before the
first frame is the one the frames after it did not repeat).

``track.elevation_m`` is the camera's elevation, in metres, as its track gives it; what it
is measured from depends on the track's format (``track.source``,
:data:`ELEVATION_REFERENCES`):

- ``gpx``: ``<ele>``, the point's elevation (GPX 1.0/1.1), which receivers and apps write
  above mean sea level (GPX keeps the geoid-ellipsoid separation apart, in
  ``<geoidheight>``);
- ``nmea``: the GGA altitude, above mean sea level (the geoid; GGA's next field is the
  geoid's separation from the ellipsoid);
- ``gpsd``: ``altMSL`` (gpsd before 3.20: ``alt``, its mean-sea-level altitude);
- ``exif``: ``GPSAltitude`` signed by ``GPSAltitudeRef``, above (or below) sea level;
- ``gpmf``: GoPro GPS5/GPS9 altitude, above the WGS84 ellipsoid (GoPro:
  gopro/gpmf-parser#4), not sea level: the two differ by the geoid's undulation, -106 to
  +85 m over the Earth;
- ``srt``: DJI's ``altitude``/``abs_alt`` (or a ``GPS(.., ..M)`` altitude): the drone's
  altitude in the air, datum not stated by DJI (``rel_alt``, height over take-off, is not
  read). It is not the ground's elevation where the plants grow.

Only the sea-level ones are an elevation in Darwin Core's sense; the exports say which is
which (``elevation_reference``). Pure Python: ``fieldtool export``'s command line imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

TRACK_STEP_S = 1.0  # media seconds: the pipeline keeps a frame's position at most this often
SEA_LEVEL = "above sea level"
# track.source -> what its elevation_m is measured from (the module doc says why), as the
# exports write it after the number of metres.
ELEVATION_REFERENCES: Mapping[str, str] = MappingProxyType({
    "gpx": SEA_LEVEL,
    "nmea": SEA_LEVEL,
    "gpsd": SEA_LEVEL,
    "exif": SEA_LEVEL,
    "gpmf": "above the WGS84 ellipsoid",
    "srt": "drone altitude, datum not stated by DJI",
})  # fmt: skip
UNKNOWN_REFERENCE = "reference not known"
# What the exports and the dashboard add to a sighting (after the older export columns).
ELEVATION_COLUMNS = ("elevation_m", "elevation_min_m", "elevation_max_m", "elevation_reference")
_BUCKET_S = 60.0  # media seconds: the join's buckets (sighting_elevations_sql)


def sighting_elevations_sql(chosen: str) -> str:
    """SQL: the camera's elevation (m) for each sighting of the relation ``chosen`` (with
    ``sighting_id``) that has one: ``elevation_m`` at its peak (the row standing for the
    peak frame, as ``latitude``/``longitude`` are taken there), ``elevation_min_m`` and
    ``elevation_max_m`` over its frames (the rows from :data:`TRACK_STEP_S` before its first
    frame to its last), ``elevation_sources`` (those rows' ``source``: "gpx"). Rows without
    an elevation do not count; a sighting without any has no row."""
    step, width = repr(TRACK_STEP_S), repr(_BUCKET_S)
    # Track rows are joined by the minute they fall in (a hash join over each sighting's
    # few minutes), then to the sighting's span: a join on the span alone compares every
    # row of a session with every sighting of it (80,000 sightings over 800,000 rows in 4
    # sessions: 41 s that way, 0.9 s this way).
    return f"""
    WITH spans AS (
        SELECT s.sighting_id, s.session_id, s.first_t, s.last_t,
               coalesce(s.peak_t, s.first_t) AS at,
               unnest(range(CAST(floor((s.first_t - {step}) / {width}) AS BIGINT),
                            CAST(floor(s.last_t / {width}) AS BIGINT) + 1)) AS bucket
        FROM {chosen} c JOIN sightings s USING (sighting_id)
    )
    SELECT x.sighting_id,
           arg_max(tr.elevation_m, tr.t) FILTER (WHERE tr.t <= x.at AND tr.t > x.at - {step})
               AS elevation_m,
           min(tr.elevation_m) AS elevation_min_m, max(tr.elevation_m) AS elevation_max_m,
           string_agg(DISTINCT tr.source, ', ' ORDER BY tr.source) AS elevation_sources
    FROM spans x JOIN track tr
      ON tr.session_id = x.session_id AND CAST(floor(tr.t / {width}) AS BIGINT) = x.bucket
     AND tr.t > x.first_t - {step} AND tr.t <= x.last_t AND tr.elevation_m IS NOT NULL
    GROUP BY x.sighting_id
    """


def elevation_reference(sources: object) -> str | None:
    """What a sighting's elevation is measured from, with the track formats it came from
    ("above sea level (gpx)", "above the WGS84 ellipsoid (gpmf)"), from the
    ``elevation_sources`` of :func:`sighting_elevations_sql`; None without any (NaN)."""
    if not isinstance(sources, str) or not sources.strip():
        return None
    names = [s.strip() for s in sources.split(",") if s.strip()]
    kinds: dict[str, list[str]] = {}
    for name in names:
        kinds.setdefault(ELEVATION_REFERENCES.get(name, UNKNOWN_REFERENCE), []).append(name)
    return "; ".join(f"{kind} ({', '.join(of)})" for kind, of in kinds.items())


def above_sea_level(reference: object) -> bool:
    """Whether an :func:`elevation_reference` is sea level alone (an elevation in Darwin
    Core's sense), not an ellipsoid, a drone's altitude or a mix."""
    return (
        isinstance(reference, str)
        and reference.startswith(f"{SEA_LEVEL} (")
        and ";" not in reference
    )
