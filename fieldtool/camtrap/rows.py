"""What a sightings file holds, read for a Camtrap DP export: one :class:`SessionRows` per
session (its deployment's place and times, its photos with their top fused species, the
sightings' event ids) and the sightings in force (:func:`fieldtool.export_rows.load_occurrences`:
closed, newest review applied, rejected ones left out).

Where a deployment's place comes from, first found: where its exported photos were placed
(each photo's own EXIF GPS, else where the run placed it: ``detections``, whatever the
source: a fixed point, a track, a package's deployment), the session's GPS track, its
sightings' positions. The place is their centroid and ``uncertainty_m`` the farthest of
them from it (a spread under :data:`ONE_POINT_M` is one point) plus the largest accuracy
the track states for it (a Camtrap DP package's own ``coordinateUncertainty`` arrives so);
None for one point without a stated accuracy. A walk or a scatter of phone photos is one
circle, as the standard's ``coordinateUncertainty`` asks; ``spread_m`` (the radius alone)
beyond :data:`WIDE_SPREAD_M` is not a camera trap's place, and the export says so.
Its times: the first and last photo; without photos, the first and last of its analysed
frames, track points and sightings; else the session's own start and end.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldtool.camtrap.files import source_file
from fieldtool.export_rows import LOCAL_CLOCK_SOURCES, ExportFilter, load_occurrences
from fieldtool.tracks.exif import open_image, photo_exif
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

EXIT_DEFAULT = 0.3  # smoothing.exit when a session's settings lack it (SmoothingConfig's)
# m: points closer than this to their centroid are one point (float error in a mean of
# equal coordinates is ~1e-9 m; a GPS fix is no better than metres).
ONE_POINT_M = 1.0
# m: a deployment whose positions lie farther than this from their centroid is not one
# camera's place (a trap is moved metres, not kilometres): the export warns.
WIDE_SPREAD_M = 1000.0


@dataclass
class Photo:
    """One ``media`` row with the top fused species of its detection (None without one)."""

    frame_index: int
    path: str
    captured_at: datetime | None  # naive: UTC unless ``local_clock``
    event_id: str | None
    camera: str | None
    top_species: str | None = None  # best fused name that is a taxon (not background)
    top_score: float | None = None
    detected: bool = False  # a detections row exists for the photo
    local_clock: bool = False  # captured_at is the camera's clock of unknown zone, not UTC
    time_source: str | None = None  # media.time_source
    place: tuple[float, float] | None = None  # (lat, lon): own EXIF GPS, else where placed


@dataclass
class Rejected:
    """A sighting whose review in force is a reject (the export writes it as the
    reviewer's ``unknown`` observation naming the rejected species)."""

    sighting_id: str
    species: str  # the rejected species (the model's)
    first_seen: datetime  # naive, the session's clock
    last_seen: datetime
    event_id: str | None
    reviewer: str
    reviewed_at: datetime | None
    note: str | None


@dataclass
class SessionRows:
    """A session as a deployment: place, times, photos, and the event ids of its sightings."""

    session_id: str
    source: str
    source_name: str | None
    model_id: str
    time_zone: str | None
    time_zone_known: bool
    classified_at: datetime | None  # when the model ran: the session's end, else last write
    exit_threshold: float
    time_source: str | None = None  # sessions.time_source
    lat: float | None = None
    lon: float | None = None
    uncertainty_m: float | None = None  # m: spread plus stated accuracy; None: one point
    spread_m: float = 0.0  # m: the farthest position from (lat, lon)
    place_from: str = ""  # what the place is the centroid of ("28 photos", "track", ...)
    start: datetime | None = None
    end: datetime | None = None
    photos: list[Photo] = field(default_factory=list)
    sighted_events: set[str] = field(default_factory=set)  # of any sighting, any review
    # media.event_id -> (frame index, path) of the sequence's first timed photo in the
    # whole session, whatever --since/--until keep (its eventID: camtrap.events)
    firsts: dict[str, tuple[int, str]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)  # closed, rejected in force
    # media.path of every photo of the session, whatever the filters keep (a package's
    # media rows that are none of them were not run: camtrap.carry)
    paths: set[str] = field(default_factory=set)
    # a package's deployment: (UTC naive, zone) of the times its package wrote, by time
    # (:attr:`fieldtool.camtrap.origin.Origin.zones`); its times are written in those
    # offsets, not the session's zone (a run of a package is timed in UTC)
    zones: tuple[tuple[datetime, str], ...] = ()


def _exit(config_json: str | None) -> float:
    """``smoothing.exit`` of a session's stored settings."""
    try:
        value = json.loads(config_json or "{}").get("smoothing", {}).get("exit", EXIT_DEFAULT)
        return float(value)
    except (ValueError, TypeError, AttributeError):
        return EXIT_DEFAULT


def _is_taxon(name: str, known: set[str]) -> bool:
    """A fused class name that names a taxon: in the species table, or a binomial (a
    model's background class, "background", is neither)."""
    from fieldtool.names import binomial

    return name in known or binomial(name) is not None


def _centre(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(lat, lon, radius m): the points' centroid (longitude the short way round, across
    180 too: :func:`fieldtool.geo.mean_lon`) and the farthest point's distance (0 for a
    spread under :data:`ONE_POINT_M`)."""
    import numpy as np

    from fieldtool.geo import haversine_m, mean_lon

    lats = np.array([p[0] for p in points], dtype=np.float64)
    lons = np.array([p[1] for p in points], dtype=np.float64)
    lat, lon = float(lats.mean()), mean_lon(lons)
    radius = float(haversine_m(lat, lon, lats, lons).max())
    return lat, lon, (radius if radius >= ONE_POINT_M else 0.0)


def _sessions(con: duckdb.DuckDBPyConnection, session_id: str | None) -> list[SessionRows]:
    where, params = ("WHERE session_id = ?", [session_id]) if session_id else ("", [])
    rows = con.execute(
        "SELECT session_id, source, source_name, model_id, time_zone, "
        "coalesce(time_zone_known, TRUE), coalesce(ended_at, updated_at, started_at), "
        f"config_json, time_source FROM sessions {where} ORDER BY started_at, session_id",
        params,
    ).fetchall()
    return [
        SessionRows(r[0], r[1] or "", r[2], r[3] or "", r[4], bool(r[5]), r[6], _exit(r[7]),
                    r[8])  # fmt: skip
        for r in rows
    ]


def _local_clock(s: SessionRows, time_source: str | None) -> bool:
    """Whether a photo's time is a camera's clock of unknown zone: only in a session whose
    zone is unknown, per photo by ``media.time_source`` (the session's label without one),
    the rule of :func:`fieldtool.export_rows.load_occurrences`."""
    if s.time_zone_known:
        return False
    return time_source is None or time_source in LOCAL_CLOCK_SOURCES


def _photos(
    con: duckdb.DuckDBPyConnection, s: SessionRows, f: ExportFilter, known: set[str]
) -> None:
    clauses = ["m.session_id = $sid"]
    params: dict[str, Any] = {"sid": s.session_id}
    if f.since is not None:
        clauses.append("coalesce(m.captured_at, d.time) >= $since")
        params["since"] = f.since
    if f.until is not None:
        clauses.append("coalesce(m.captured_at, d.time) <= $until")
        params["until"] = f.until
    rows = con.execute(
        "SELECT m.frame_index, m.path, coalesce(m.captured_at, d.time), m.event_id, m.camera, "
        "d.fused_species, d.fused_scores, d.session_id IS NOT NULL, m.time_source, "
        "m.latitude, m.longitude, d.latitude, d.longitude "
        "FROM media m LEFT JOIN detections d "
        "ON d.session_id = m.session_id AND d.frame_index = m.frame_index "
        f"WHERE {' AND '.join(clauses)} ORDER BY 3, m.frame_index",
        params,
    ).fetchall()
    seen: set[int] = set()
    for index, path, when, event, camera, names, scores, detected, clock, *at in rows:
        if index in seen:  # one photo, one row (a replayed detection is the same)
            continue
        seen.add(index)
        photo = Photo(int(index), str(path), when, event, camera, detected=bool(detected),
                      local_clock=_local_clock(s, clock), time_source=clock,
                      place=_point(*at[:2]) or _point(*at[2:]))  # fmt: skip
        for name, score in zip(names or [], scores or [], strict=False):
            if _is_taxon(str(name), known):
                photo.top_species, photo.top_score = str(name), float(score)
                break  # fused lists are best first
        s.photos.append(photo)
    s.paths = {str(r[0]) for r in con.execute(
        "SELECT DISTINCT path FROM media WHERE session_id = ?", [s.session_id]).fetchall()}
    s.firsts = {
        str(r[0]): (int(r[1]), str(r[2]))
        for r in con.execute(
            "SELECT m.event_id, m.frame_index, m.path FROM media m LEFT JOIN detections d "
            "ON d.session_id = m.session_id AND d.frame_index = m.frame_index "
            "WHERE m.session_id = ? AND m.event_id IS NOT NULL AND "
            "coalesce(m.captured_at, d.time) IS NOT NULL QUALIFY row_number() OVER ("
            "PARTITION BY m.event_id ORDER BY coalesce(m.captured_at, d.time), m.frame_index) = 1",
            [s.session_id],
        ).fetchall()
    }


def own_media_id(deployment_id: str, frame_index: int) -> str:
    """fieldtool's mediaID of a session's photo (a package's own mediaID aside)."""
    return f"{deployment_id}_{frame_index}"


def _point(lat: Any, lon: Any) -> tuple[float, float] | None:
    """(lat, lon) when both are finite numbers, else None."""
    if lat is None or lon is None:
        return None
    lat, lon = float(lat), float(lon)
    return (lat, lon) if math.isfinite(lat) and math.isfinite(lon) else None


def _place(con: duckdb.DuckDBPyConnection, s: SessionRows) -> None:
    """The deployment's place (module doc): where the exported photos were placed, else
    the track, else the sightings; the track's largest stated accuracy is added."""
    points = [p.place for p in s.photos if p.place is not None]
    s.place_from = f"{len(points)} photos"
    for table in ("track", "sightings"):
        if points:
            break
        s.place_from = table
        points = [
            (float(a), float(b))
            for a, b in con.execute(
                f"SELECT latitude, longitude FROM {table} WHERE session_id = ? AND latitude "
                "IS NOT NULL AND longitude IS NOT NULL AND isfinite(latitude) AND "
                "isfinite(longitude)",
                [s.session_id],
            ).fetchall()
        ]
    if not points:
        return
    s.lat, s.lon, s.spread_m = _centre(points)
    row = con.execute(
        "SELECT max(accuracy_m) FROM track WHERE session_id = ? AND isfinite(accuracy_m)",
        [s.session_id],
    ).fetchone()
    stated = float(row[0]) if row and row[0] is not None and row[0] > 0 else 0.0
    s.uncertainty_m = (s.spread_m + stated) or None


def _span(con: duckdb.DuckDBPyConnection, s: SessionRows) -> None:
    """The deployment's start and end (naive, the session's clock)."""
    times = [p.captured_at for p in s.photos if p.captured_at is not None]
    if times:
        s.start, s.end = min(times), max(times)
        return
    spans = [
        row
        for sql in (
            "SELECT min(time), max(time) FROM detections WHERE session_id = ?",
            "SELECT min(time), max(time) FROM track WHERE session_id = ?",
            "SELECT min(first_seen), max(last_seen) FROM sightings WHERE session_id = ?",
        )
        if (row := con.execute(sql, [s.session_id]).fetchone()) is not None and row[0] is not None
    ]
    if not spans:  # the run's own clock: for a file, when it was processed
        spans = con.execute(
            "SELECT started_at, coalesce(ended_at, updated_at, started_at) FROM sessions "
            "WHERE session_id = ? AND started_at IS NOT NULL",
            [s.session_id],
        ).fetchall()
    if spans:
        s.start = min(r[0] for r in spans)
        s.end = max(r[1] or r[0] for r in spans)


def load_sessions(
    db: Path,
    filters: ExportFilter,
    *,
    timeout_s: float = 10.0,
    log: Callable[[str], None] | None = None,
) -> tuple[list[SessionRows], pd.DataFrame, dict[str, tuple[str | None, datetime | None]],
           dict[str, tuple[str, str | None, str | None]]]:  # fmt: skip
    """Sessions (as deployments), the sightings to export (``load_occurrences`` rows), each
    sighting's (event_id, updated_at), and the species table (species -> (common name,
    genus, family)). One read-only connection after ``load_occurrences``' own (``log``: its
    upgrade line)."""
    from fieldtool.store import connect

    # upgrades an old file, and ``log`` hears it
    occurrences = load_occurrences(db, filters, timeout_s=timeout_s, log=log)
    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        species = {
            r[0]: (r[1] or "", r[2], r[3])
            for r in con.execute(
                "SELECT species, common_name, genus, family FROM species"
            ).fetchall()
        }
        sessions = _sessions(con, filters.session_id)
        for s in sessions:
            _photos(con, s, filters, set(species))
            _place(con, s)
            _span(con, s)
            s.sighted_events = {
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT event_id FROM sightings WHERE session_id = ? AND "
                    "event_id IS NOT NULL",
                    [s.session_id],
                ).fetchall()
            }
        _rejected(con, sessions, filters)
        extra = {
            r[0]: (r[1], r[2])
            for r in con.execute("SELECT sighting_id, event_id, updated_at FROM sightings")
            .fetchall()
        }  # fmt: skip
    return sessions, occurrences, extra, species


def _rejected(
    con: duckdb.DuckDBPyConnection, sessions: list[SessionRows], f: ExportFilter
) -> None:
    """Each session's closed sightings rejected in force, within the filters on time and
    species (the rejected species); none for a chosen set of sightings."""
    from fieldtool.store.views import LATEST_REVIEW_SQL, sighting_filter_sql

    if f.sighting_ids is not None:
        return
    clauses, params = sighting_filter_sql(species=f.species or None, start=f.since,
                                          end=f.until, table="s")  # fmt: skip
    where = " AND ".join(["s.status = 'closed'", "r.decision = 'reject'", *clauses])
    by_id = {s.session_id: s for s in sessions}
    for row in con.execute(
        "SELECT s.session_id, s.sighting_id, s.species, s.first_seen, s.last_seen, "
        "s.event_id, r.reviewer, r.reviewed_at, r.note FROM sightings s "
        f"JOIN ({LATEST_REVIEW_SQL}) r USING (sighting_id) WHERE {where} "
        "ORDER BY s.first_seen, s.sighting_id", params,
    ).fetchall():  # fmt: skip
        if row[0] in by_id:
            by_id[row[0]].rejected.append(Rejected(*row[1:]))


def main_camera(photos: list[Photo]) -> str | None:
    """The camera most of a session's photos name (None without any)."""
    counts = Counter(p.camera for p in photos if p.camera)
    return counts.most_common(1)[0][0] if counts else None


def exif_camera(photos: list[Photo], db: Path) -> tuple[str, str] | None:
    """(cameraID, cameraModel) of a session from the EXIF of the first of its photos at
    hand (:func:`fieldtool.camtrap.files.source_file`) that names its main camera
    (:func:`main_camera`): cameraModel the standard's manufacturer-model, ``Make-Model``
    (``RECONYX-HYPERFIRE 2 COVERT``), cameraID the BodySerialNumber ("" when not written).
    None when that file is not at hand, unreadable, or now names another camera:
    ``media.camera`` joins make, model and serial with spaces and cannot be split."""
    main = main_camera(photos)
    files = (source_file(p.path, db) for p in photos if main and p.camera == main)
    src = next((f for f in files if f is not None), None)
    if src is None:
        return None
    try:
        with open_image(src) as image:
            read = photo_exif(image.getexif())
    except (FieldtoolError, OSError):  # Pillow's UnidentifiedImageError is an OSError
        return None
    if read.camera != main:
        return None  # another file at that path since the run
    model = read.model  # "Canon" + "Canon EOS 5D": the make once (as PhotoExif.camera)
    if read.make and model.lower().startswith(read.make.lower()):
        model = model[len(read.make) :].strip()
    return read.serial, "-".join(part for part in (read.make, model) if part)


def as_float(value: Any) -> float | None:
    """A number from a frame cell; None for a missing one (None, NaN)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number
