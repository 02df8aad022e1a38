"""What the ``track`` table holds: how often a row is kept, what its ``elevation_m`` is
measured from, and a sighting's rows (its elevation and GPS accuracy read from them).

The pipeline keeps a video frame's position as a ``track`` row at most once every
:data:`TRACK_STEP_S` media seconds (:class:`TrackRows`), so the frames of a video's sighting
are stood for by the rows from :data:`TRACK_STEP_S` before its first frame to its last frame
(the row just before the first frame is the one the frames after it did not repeat). A
photo keeps a row of its own: a photo session's ``t`` (seconds after its earliest photo) is
no clock order, as events run one after another and the next may be another camera's that
began earlier, so a photo sighting's frames are its own photos (``media`` rows of its event
in its span) and their rows, never a window of ``t``.

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

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fieldtool.types import Position

TRACK_STEP_S = 1.0  # media seconds: the pipeline keeps a video frame's position at most this often
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


class TrackRows:
    """Which positioned frames of one session keep a ``track`` row: a video frame's when its
    ``t`` is :data:`TRACK_STEP_S` or more after the last row kept (a video's frames come
    many a second: a row a second is its track, not a copy of every frame's position, which
    ``detections`` hold); a photo's always (a frame of its own; a photo session's ``t`` may
    go back, at the next camera's event), unless a photo before it kept the very same row
    (its ``t``, place and elevation: a burst's second, two cameras placed by one track),
    which a replay could not tell from it (:data:`fieldtool.store.schema.APPEND_KEYS`)."""

    def __init__(self) -> None:
        self.last_t = -math.inf  # media seconds of the last video row kept
        self._photos: set[tuple[float, float, float, float | None]] = set()  # rows kept

    def keep(self, t: float, position: Position, *, photo: bool) -> bool:
        """Whether the frame at media time ``t`` (s), at ``position``, keeps a row; a row
        kept is noted."""
        if photo:
            row = (t, position.lat, position.lon, position.elevation_m)
            if row in self._photos:
                return False
            self._photos.add(row)
            return True
        if t - self.last_t < TRACK_STEP_S:
            return False
        self.last_t = t
        return True


def photo_track_rows_sql() -> str:
    """SQL relation: each photo's own ``track`` row, one per (``media`` row, track row):
    ``session_id``, ``frame_index``, ``event_id``, ``camera`` (the photo's) and ``t``,
    ``time``, ``latitude``, ``longitude`` (degrees), ``accuracy_m``, ``elevation_m`` (m),
    ``source`` (its row's). The one rule matching a photo to its row (a photo session's
    ``t`` goes back at the next camera's event, so no window of ``t`` will do): its time
    (``track.time`` is the photo's ``captured_at``) and place, the row at its own EXIF GPS
    place where it has one, else one at no photo's own place at that time (the session
    track's, the ``--lat/--lon`` place's), so a photo of another camera taken at the same
    second never lends its row. A photo without a position has none."""
    return """
    SELECT m.session_id, m.frame_index, m.event_id, m.camera, tr.t, tr.time, tr.latitude,
           tr.longitude, tr.accuracy_m, tr.elevation_m, tr.source
    FROM media m
    JOIN track tr ON tr.session_id = m.session_id AND tr.time = m.captured_at
    WHERE CASE WHEN m.latitude IS NOT NULL
               THEN tr.latitude = m.latitude AND tr.longitude = m.longitude
               ELSE NOT EXISTS (
                   SELECT 1 FROM media o
                   WHERE o.session_id = tr.session_id AND o.captured_at = tr.time
                     AND o.latitude = tr.latitude AND o.longitude = tr.longitude)
          END
    """


def sighting_track_rows_sql(chosen: str) -> str:
    """SQL relation: the ``track`` rows of each sighting of the relation ``chosen`` (with
    ``sighting_id``): ``sighting_id``, ``t``, ``accuracy_m``, ``elevation_m``, ``source``
    and ``at_peak`` (the row standing for the peak frame, where ``latitude``/``longitude``
    are taken). The one place that says which rows are a sighting's
    (:func:`sighting_elevations_sql`, :func:`sighting_accuracy_sql`).

    A video's sighting (``event_id`` NULL): the rows from :data:`TRACK_STEP_S` before its
    first frame to its last; at the peak, the one within :data:`TRACK_STEP_S` up to it. A
    photo sighting: the rows of its own photos (the ``media`` rows of its event from
    ``first_t`` to ``last_t``, :func:`photo_track_rows_sql`); at the peak, its peak
    photo's."""
    step, width = repr(TRACK_STEP_S), repr(_BUCKET_S)
    # Track rows are joined by the minute they fall in (a hash join over each sighting's
    # few minutes), then to the sighting's span: a join on the span alone compares every
    # row of a session with every sighting of it (80,000 sightings over 800,000 rows in 4
    # sessions: 41 s that way, 0.9 s this way).
    return f"""
    WITH picked AS (
        SELECT s.sighting_id, s.session_id, s.first_t, s.last_t, s.event_id,
               coalesce(s.peak_t, s.first_t) AS peak_at
        FROM {chosen} c JOIN sightings s USING (sighting_id)
    ),
    spans AS (
        SELECT sighting_id, session_id, first_t, last_t, peak_at,
               unnest(range(CAST(floor((first_t - {step}) / {width}) AS BIGINT),
                            CAST(floor(last_t / {width}) AS BIGINT) + 1)) AS bucket
        FROM picked WHERE event_id IS NULL
    )
    SELECT x.sighting_id, tr.t, tr.accuracy_m, tr.elevation_m, tr.source,
           tr.t <= x.peak_at AND tr.t > x.peak_at - {step} AS at_peak
    FROM spans x JOIN track tr
      ON tr.session_id = x.session_id AND CAST(floor(tr.t / {width}) AS BIGINT) = x.bucket
     AND tr.t > x.first_t - {step} AND tr.t <= x.last_t
    UNION ALL
    SELECT x.sighting_id, p.t, p.accuracy_m, p.elevation_m, p.source, p.t = x.peak_at AS at_peak
    FROM picked x
    JOIN ({photo_track_rows_sql()}) p ON p.session_id = x.session_id AND p.event_id = x.event_id
    WHERE p.t >= x.first_t AND p.t <= x.last_t
    """


def sighting_elevations_sql(chosen: str) -> str:
    """SQL: the camera's elevation (m) for each sighting of the relation ``chosen`` (with
    ``sighting_id``) that has one, from its rows (:func:`sighting_track_rows_sql`):
    ``elevation_m`` at its peak, ``elevation_min_m`` and ``elevation_max_m`` over its
    frames, ``elevation_sources`` (those rows' ``source``: "gpx"). Rows without an
    elevation do not count; a sighting without any has no row."""
    return f"""
    SELECT sighting_id,
           arg_max(elevation_m, t) FILTER (WHERE at_peak) AS elevation_m,
           min(elevation_m) AS elevation_min_m, max(elevation_m) AS elevation_max_m,
           string_agg(DISTINCT source, ', ' ORDER BY source) AS elevation_sources
    FROM ({sighting_track_rows_sql(chosen)})
    WHERE elevation_m IS NOT NULL
    GROUP BY sighting_id
    """


def sighting_accuracy_sql(chosen: str) -> str:
    """SQL: ``sighting_id``, ``accuracy_m`` (m: the receiver's horizontal accuracy; NULL
    where it gave none) for each sighting of the relation ``chosen`` (with ``sighting_id``):
    a photo sighting's is its peak photo's own row's (:func:`sighting_track_rows_sql`), or
    none where that photo has no row (never the row of another camera's photo at the same
    ``t`` or before it). A video sighting's is the nearest row at or before its peak (its
    rule before photos had rows of their own: a peak frame without a position keeps the
    place of an earlier one, which that row stands for)."""
    photos = (f"(SELECT c.sighting_id FROM {chosen} c JOIN sightings s USING (sighting_id) "
              "WHERE s.event_id IS NOT NULL)")  # fmt: skip
    return f"""
    SELECT sighting_id, arg_max(accuracy_m, t) FILTER (WHERE at_peak) AS accuracy_m
    FROM ({sighting_track_rows_sql(photos)})
    GROUP BY sighting_id
    UNION ALL
    SELECT x.sighting_id, tr.accuracy_m
    FROM (SELECT c.sighting_id, s.session_id, coalesce(s.peak_t, s.first_t) AS at
          FROM {chosen} c JOIN sightings s USING (sighting_id) WHERE s.event_id IS NULL) x
    ASOF LEFT JOIN track tr ON tr.session_id = x.session_id AND x.at >= tr.t
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
