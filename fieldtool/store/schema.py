"""The file's tables, their migrations, and how rows go into them.

Schema version 10; :data:`MIGRATIONS` upgrade older files when a writer opens them (in its
first transaction), so a new file and an upgraded one are identical. Times are naive
TIMESTAMP in UTC, except for sessions whose ``time_zone_known`` is false (a camera's local
clock of unknown zone; see docs/time.md); media times are in seconds.

- ``sessions``: session_id, source, model_id, model_sha256, config_json, host, started_at,
  ended_at, status (running / finished / failed / interrupted), frames_read,
  frames_analysed, frames_dropped, pid, pid_started_at (the writer process and its start
  time), updated_at (the writer's last flush: a heartbeat), time_source (where media t=0's
  time came from: start-time, gpmf-gpsu, srt-clock, quicktime-creationdate,
  mp4-creation-time, track-start, wall-clock, ...; "unrecorded" for sessions older than
  version 5), time_zone (IANA name or UTC the times were converted from; NULL when
  unknown), time_zone_known,
  frames_positioned (analysed frames that got a position), end_reason, boot_id,
  pid_start_ticks, source_name (a name for the source: a station's camera, a Camtrap DP
  deploymentID; NULL when the source is only its path/URL).
- ``sightings``: sighting_id, session_id, species, common_name, first_seen, last_seen,
  first_t, last_t, frames, peak_score, mean_score, latitude, longitude, model_id,
  snapshot_path (relative to the database's folder), status (open / closed), updated_at,
  peak_t (media seconds of the peak, where latitude/longitude were taken), h3_cell (H3
  resolution 8 cell of latitude/longitude), rank (species, or genus when congeners shared
  the score: species is then "Genus sp."), event_id (photos: the sequence of photos the
  sighting belongs to; NULL for video).
- ``track``: session_id, time, t, latitude, longitude, source, accuracy_m, elevation_m (the
  camera's, m, as its track gives it: above sea level for GPX <ele>, NMEA, gpsd and EXIF,
  above the WGS84 ellipsoid for GoPro, a drone's altitude for DJI SRT (by ``source``:
  :mod:`fieldtool.store.track`); NULL where none). A video's: at most one row a second of
  media time; a photo session's: one per placed photo (two may share a t).
- ``source_gaps``: session_id, start_t, end_t (media seconds the source was away),
  started_at, ended_at (wall times; ended_at NULL when it never came back), reason.
- ``detections``: session_id, frame_index, t, time, latitude, longitude, raw_species[],
  raw_scores[], fused_species[], fused_scores[] (top-k per analysed frame, best first).
- ``media``: session_id, frame_index, path (the photo as given), captured_at, event_id
  (photos of one camera closer than ``photos.sequence_gap_s``), camera (make/model/serial or
  folder), latitude, longitude (the photo's own EXIF GPS; NULL without), width, height,
  time_source (exif-offset, exif-local, file-mtime, deployment, ...), picture_sha256 (of the
  photo's picture, not its file: a JPEG's compressed image data from its first SOS marker to
  EOI, any other format's whole file; a copy, re-tagged or not, is known wherever it now
  lives, :mod:`fieldtool.photos.same`; NULL in rows before version 10). One row per photo.
- ``sighting_frames``: sighting_id, session_id, frame_index, t, path (a JPEG kept for
  learning, relative to the database's folder), sha256 (of the JPEG's bytes): the snapshot and
  up to k frames spread over each closed sighting.
- ``batch_files``: batch_key (sha256 of content hash and settings hash), path,
  content_sha256, settings_sha256, status (done / failed / identical), error, session_id,
  finished_at, identical_to: what ``fieldtool batch`` did with each input path (reruns skip
  done keys); one row per (batch_key, path): an identical copy of another path (the same
  key) was not run, its row names that path (``identical_to``) and its session.
- ``reviews``: review_id, sighting_id, decision (confirm / reject / relabel), species (the
  reviewer's species: the predicted one when confirming), reviewer, reviewed_at, note, supersedes (the review_id an undo takes back). A
  review never changes the sighting row: the prediction stays beside the decision, and the
  newest review of a sighting is the one in force (:data:`~fieldtool.store.views.LATEST_REVIEW_SQL`).
- ``species``: species (scientific name), common_name, genus, family; filled from the
  sightings written (genus from the binomial) and ``SightingStore.record_species``.
- ``meta``: key, value (``schema_version``).

Named views for ``fieldtool sql`` are in :mod:`fieldtool.store.views`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import duckdb
import h3
import pyarrow as pa

from fieldtool.store.views import VIEW_NAMES, create_views
from fieldtool.types import FieldtoolError

SCHEMA_VERSION = 10
H3_RESOLUTION = 8  # sightings.h3_cell: cells of about 0.7 km²

# The first schema, verbatim: new files are created with it and then migrated, so a new
# file and an upgraded one are identical.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS sessions (
    session_id VARCHAR PRIMARY KEY, source VARCHAR, model_id VARCHAR, model_sha256 VARCHAR,
    config_json VARCHAR,
    host VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR,
    frames_read BIGINT, frames_analysed BIGINT, frames_dropped BIGINT);
CREATE TABLE IF NOT EXISTS sightings (
    sighting_id VARCHAR PRIMARY KEY, session_id VARCHAR, species VARCHAR, common_name VARCHAR,
    first_seen TIMESTAMP, last_seen TIMESTAMP, first_t DOUBLE, last_t DOUBLE, frames INTEGER,
    peak_score DOUBLE, mean_score DOUBLE, latitude DOUBLE, longitude DOUBLE, model_id VARCHAR,
    snapshot_path VARCHAR, status VARCHAR, updated_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS track (
    session_id VARCHAR, time TIMESTAMP, t DOUBLE, latitude DOUBLE, longitude DOUBLE,
    source VARCHAR);
CREATE TABLE IF NOT EXISTS detections (
    session_id VARCHAR, frame_index BIGINT, t DOUBLE, time TIMESTAMP, latitude DOUBLE,
    longitude DOUBLE, raw_species VARCHAR[], raw_scores FLOAT[], fused_species VARCHAR[],
    fused_scores FLOAT[]);
CREATE TABLE IF NOT EXISTS reviews (
    review_id VARCHAR PRIMARY KEY, sighting_id VARCHAR, decision VARCHAR, species VARCHAR,
    reviewer VARCHAR, reviewed_at TIMESTAMP, note VARCHAR);
"""

# Species rows for new species of a sightings relation ``{src}`` (genus from a binomial).
SPECIES_FROM = """
SELECT species, any_value(common_name) AS common_name,
       CASE WHEN regexp_matches(species, '^[A-Z][a-z-]+ [a-z]') THEN split_part(species, ' ', 1)
       END AS genus, CAST(NULL AS VARCHAR) AS family
FROM {src} WHERE species IS NOT NULL AND species NOT IN (SELECT species FROM species)
GROUP BY species
"""


def h3_cell(lat: float | None, lon: float | None) -> str | None:
    """The H3 cell (resolution :data:`H3_RESOLUTION`) of a position; None without one."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return h3.latlng_to_cell(float(lat), float(lon), H3_RESOLUTION)


# Migrations ---------------------------------------------------------------------------
def _v1_to_v2(con: duckdb.DuckDBPyConnection) -> None:
    """Species table (filled from the sightings); writer process and heartbeat on sessions."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS species (species VARCHAR PRIMARY KEY, common_name VARCHAR, "
        "genus VARCHAR, family VARCHAR)"
    )
    con.execute("ALTER TABLE sessions ADD COLUMN pid BIGINT")
    con.execute("ALTER TABLE sessions ADD COLUMN pid_started_at TIMESTAMP")
    con.execute("ALTER TABLE sessions ADD COLUMN updated_at TIMESTAMP")
    con.execute(f"INSERT INTO species {SPECIES_FROM.format(src='sightings')}")


def _v2_to_v3(con: duckdb.DuckDBPyConnection) -> None:
    """Peak time and H3 cell on sightings (cells computed for the existing rows); GPS accuracy."""
    con.execute("ALTER TABLE sightings ADD COLUMN peak_t DOUBLE")
    con.execute("ALTER TABLE sightings ADD COLUMN h3_cell VARCHAR")
    con.execute("ALTER TABLE track ADD COLUMN accuracy_m DOUBLE")
    rows = con.execute(
        "SELECT sighting_id, latitude, longitude FROM sightings "
        "WHERE latitude IS NOT NULL AND longitude IS NOT NULL"
    ).fetchall()
    if rows:
        cells = pa.table(
            {"sighting_id": [r[0] for r in rows], "h3_cell": [h3_cell(r[1], r[2]) for r in rows]}
        )
        con.register("cells", cells)
        try:
            con.execute(
                "UPDATE sightings SET h3_cell = cells.h3_cell FROM cells "
                "WHERE sightings.sighting_id = cells.sighting_id"
            )
        finally:
            con.unregister("cells")


def _v3_to_v4(con: duckdb.DuckDBPyConnection) -> None:
    """Taxonomic rank of a sighting: species, or genus when congeners shared the score."""
    con.execute("ALTER TABLE sightings ADD COLUMN rank VARCHAR DEFAULT 'species'")
    con.execute("UPDATE sightings SET rank = 'species' WHERE rank IS NULL")


def _v4_to_v5(con: duckdb.DuckDBPyConnection) -> None:
    """Where a session's times came from and whether their zone is known; frames placed.

    Sessions written before version 5 stored every time as UTC without saying so; their
    source is unknown, and the zone is left unknown too rather than claimed.
    """
    con.execute("ALTER TABLE sessions ADD COLUMN time_source VARCHAR")
    con.execute("ALTER TABLE sessions ADD COLUMN time_zone VARCHAR")
    con.execute("ALTER TABLE sessions ADD COLUMN time_zone_known BOOLEAN")
    con.execute("ALTER TABLE sessions ADD COLUMN frames_positioned BIGINT")
    con.execute("UPDATE sessions SET time_source = 'unrecorded'")


def _v5_to_v6(con: duckdb.DuckDBPyConnection) -> None:
    """Outages of a source (``source_gaps``); why a session ended; the writer's boot and
    start ticks (liveness independent of the wall clock)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS source_gaps (session_id VARCHAR, start_t DOUBLE, "
        "end_t DOUBLE, started_at TIMESTAMP, ended_at TIMESTAMP, reason VARCHAR)"
    )
    con.execute("ALTER TABLE sessions ADD COLUMN end_reason VARCHAR")
    con.execute("ALTER TABLE sessions ADD COLUMN boot_id VARCHAR")
    con.execute("ALTER TABLE sessions ADD COLUMN pid_start_ticks BIGINT")


def _v6_to_v7(con: duckdb.DuckDBPyConnection) -> None:
    """Photos (``media``, ``sightings.event_id``), frames kept for learning
    (``sighting_frames``), ``fieldtool batch`` bookkeeping (``batch_files``), a source's name,
    and review undo (``reviews.supersedes``)."""
    con.execute("ALTER TABLE sessions ADD COLUMN source_name VARCHAR")
    con.execute("ALTER TABLE sightings ADD COLUMN event_id VARCHAR")
    con.execute("ALTER TABLE reviews ADD COLUMN supersedes VARCHAR")
    con.execute(
        "CREATE TABLE IF NOT EXISTS media (session_id VARCHAR, frame_index BIGINT, "
        "path VARCHAR, captured_at TIMESTAMP, event_id VARCHAR, camera VARCHAR, "
        "latitude DOUBLE, longitude DOUBLE, width INTEGER, height INTEGER, time_source VARCHAR)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS sighting_frames (sighting_id VARCHAR, session_id VARCHAR, "
        "frame_index BIGINT, t DOUBLE, path VARCHAR, sha256 VARCHAR)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS batch_files (batch_key VARCHAR PRIMARY KEY, path VARCHAR, "
        "content_sha256 VARCHAR, settings_sha256 VARCHAR, status VARCHAR, error VARCHAR, "
        "session_id VARCHAR, finished_at TIMESTAMP)"
    )


def _v7_to_v8(con: duckdb.DuckDBPyConnection) -> None:
    """The camera's elevation along its track (drone altitude, GPX <ele>), read and lost
    before."""
    con.execute("ALTER TABLE track ADD COLUMN elevation_m DOUBLE")


def _v8_to_v9(con: duckdb.DuckDBPyConnection) -> None:
    """``batch_files``: a row per path, keyed by (batch_key, path), so an identical copy of
    another path has a row of its own (``identical_to`` that path). DuckDB cannot change a
    primary key in place: the table is made anew, its rows kept."""
    con.execute(
        "CREATE TABLE batch_files_v9 (batch_key VARCHAR, path VARCHAR, content_sha256 VARCHAR, "
        "settings_sha256 VARCHAR, status VARCHAR, error VARCHAR, session_id VARCHAR, "
        "finished_at TIMESTAMP, identical_to VARCHAR, PRIMARY KEY (batch_key, path))"
    )
    con.execute("INSERT INTO batch_files_v9 BY NAME SELECT * FROM batch_files")
    con.execute("DROP TABLE batch_files")
    con.execute("ALTER TABLE batch_files_v9 RENAME TO batch_files")


def _v9_to_v10(con: duckdb.DuckDBPyConnection) -> None:
    """Each photo's picture hash (``media.picture_sha256``: a JPEG's compressed image data,
    which tagging tools leave as it was), so a photo run before is known wherever it now
    lives (a card's folder renamed, copied, re-tagged); earlier rows keep NULL (no photo is
    read to fill them: :mod:`fieldtool.photos.held` tells those by their old path)."""
    con.execute("ALTER TABLE media ADD COLUMN picture_sha256 VARCHAR")


# MIGRATIONS[i] takes a file from version i + 1 to i + 2, inside the opening transaction.
MIGRATIONS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (
    _v1_to_v2,
    _v2_to_v3,
    _v3_to_v4,
    _v4_to_v5,
    _v5_to_v6,
    _v6_to_v7,
    _v7_to_v8,
    _v8_to_v9,
    _v9_to_v10,
)
assert len(MIGRATIONS) == SCHEMA_VERSION - 1


def schema_version(con: duckdb.DuckDBPyConnection, path: Path | str = "database") -> int | None:
    """The file's schema version; None for an empty file. Raises FieldtoolError (naming
    ``path``) when ``meta.schema_version`` is not a version number."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "meta" in tables:
        # fetchall: no result left unfinished on the connection (a streaming query next)
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        if rows:
            return parse_version(rows[0][0], path)
    return 1 if tables & {"sessions", "sightings"} else None


def parse_version(value: object, path: Path | str) -> int:
    """``meta.schema_version`` as a number, or FieldtoolError naming ``path``."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise FieldtoolError(
            f"{path}: meta.schema_version is {str(value)[:40]!r}, not a schema version number; "
            "the file was changed by something other than fieldtool"
        )
    return int(text)


def ensure_schema(con: duckdb.DuckDBPyConnection, path: Path | str) -> tuple[int, int]:
    """Create or migrate the schema and make the views; returns (old, new) version.

    Changes only what is missing or differs: opening an up-to-date file changes no catalog
    entry and no row. DuckDB 2.0.1 damages a file whose catalog changed when it cannot
    write the checkpoint on close (a file-size limit, ``ulimit -f``), so a writer that
    only appends rows must not change the catalog in passing."""
    found = schema_version(con, path)
    if found is not None and found > SCHEMA_VERSION:
        raise FieldtoolError(
            f"{path}: schema version {found} is newer than this fieldtool ({SCHEMA_VERSION})"
        )
    if found != SCHEMA_VERSION:
        _migrate(con, found or 1)
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != str(SCHEMA_VERSION):
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
    stale = stale_views(con)
    if stale:
        create_views(con, stale)
    return found or 0, SCHEMA_VERSION


def upgrade_notice(path: Path | str, old: int, new: int) -> str | None:
    """The one line every command that migrated a file says (``ensure_schema``'s (old,
    new)); None when nothing was upgraded (a new file, or one up to date)."""
    return f"{path}: schema upgraded from version {old} to {new}" if 0 < old < new else None


def older_schema_note(path: Path | str, found: int | None) -> str | None:
    """What a reader that may not migrate says of a file of an older schema ``found``;
    None for a current (or empty) one."""
    if found is None or found >= SCHEMA_VERSION:
        return None
    return (
        f"{path}: schema {found}, older than this fieldtool's {SCHEMA_VERSION}: tables and "
        f"columns of later versions are missing (`fieldtool recover --db {path}` upgrades it, "
        "writing besides only rows left in journals)"
    )


def _migrate(con: duckdb.DuckDBPyConnection, version: int) -> None:
    """Take a file (or an empty one: ``version`` 1) from ``version`` to the current one."""
    con.execute(SCHEMA_V1)  # a new file, or a v1 file missing a table
    for migrate in MIGRATIONS[version - 1 :]:
        migrate(con)


def _views(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str | None]]:
    """fieldtool's views in ``con``'s file: name -> (SQL as DuckDB keeps it, comment)."""
    rows = con.execute(
        "SELECT view_name, sql, comment FROM duckdb_views() "
        "WHERE NOT internal AND view_name IN (SELECT unnest(?))",
        [list(VIEW_NAMES)],
    ).fetchall()
    return {name: (sql, comment) for name, sql, comment in rows}


@functools.cache  # a pure function of this fieldtool's schema: computed once per process
def new_file_views() -> tuple[tuple[str, tuple[str, str | None]], ...]:
    """A new file's views as DuckDB keeps them (see :func:`_views`); about 0.1 s the first
    time in a process, so a writer calls it before it holds the file."""
    with duckdb.connect(":memory:") as fresh:
        _migrate(fresh, 1)
        create_views(fresh)
        return tuple(_views(fresh).items())


def stale_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The views of ``con``'s file (schema current) that are missing or differ from those of
    a new file (SQL as DuckDB renders it, and comment), in :data:`VIEWS` order."""
    want = dict(new_file_views())
    have = _views(con)
    return [name for name in VIEW_NAMES if have.get(name) != want[name]]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
    ).fetchone()
    return row is not None and bool(row[0])


# Tables the writer fills ----------------------------------------------------------------
TIMESTAMP = pa.timestamp("us")
_TS, _STR, _F64, _I64 = TIMESTAMP, pa.string(), pa.float64(), pa.int64()
# Column types of the tables the writer fills, in the file's column order.
TABLES: dict[str, dict[str, pa.DataType]] = {
    "sessions": {
        "session_id": _STR, "source": _STR, "model_id": _STR, "model_sha256": _STR,
        "config_json": _STR, "host": _STR, "started_at": _TS, "ended_at": _TS, "status": _STR,
        "frames_read": _I64, "frames_analysed": _I64, "frames_dropped": _I64, "pid": _I64,
        "pid_started_at": _TS, "updated_at": _TS, "time_source": _STR, "time_zone": _STR,
        "time_zone_known": pa.bool_(), "frames_positioned": _I64, "end_reason": _STR,
        "boot_id": _STR, "pid_start_ticks": _I64, "source_name": _STR,
    },
    "sightings": {
        "sighting_id": _STR, "session_id": _STR, "species": _STR, "common_name": _STR,
        "first_seen": _TS, "last_seen": _TS, "first_t": _F64, "last_t": _F64,
        "frames": pa.int32(), "peak_score": _F64, "mean_score": _F64, "latitude": _F64,
        "longitude": _F64, "model_id": _STR, "snapshot_path": _STR, "status": _STR,
        "updated_at": _TS, "peak_t": _F64, "h3_cell": _STR, "rank": _STR, "event_id": _STR,
    },
    "track": {
        "session_id": _STR, "time": _TS, "t": _F64, "latitude": _F64, "longitude": _F64,
        "source": _STR, "accuracy_m": _F64, "elevation_m": _F64,
    },
    "detections": {
        "session_id": _STR, "frame_index": _I64, "t": _F64, "time": _TS, "latitude": _F64,
        "longitude": _F64, "raw_species": pa.list_(_STR), "raw_scores": pa.list_(pa.float32()),
        "fused_species": pa.list_(_STR), "fused_scores": pa.list_(pa.float32()),
    },
    "species": {"species": _STR, "common_name": _STR, "genus": _STR, "family": _STR},
    "source_gaps": {
        "session_id": _STR, "start_t": _F64, "end_t": _F64, "started_at": _TS, "ended_at": _TS,
        "reason": _STR,
    },
    "media": {
        "session_id": _STR, "frame_index": _I64, "path": _STR, "captured_at": _TS,
        "event_id": _STR, "camera": _STR, "latitude": _F64, "longitude": _F64,
        "width": pa.int32(), "height": pa.int32(), "time_source": _STR,
        "picture_sha256": _STR,
    },
    "sighting_frames": {
        "sighting_id": _STR, "session_id": _STR, "frame_index": _I64, "t": _F64, "path": _STR,
        "sha256": _STR,
    },
}  # fmt: skip
UPSERT_KEYS = {"sessions": "session_id", "sightings": "sighting_id", "species": "species"}
# Appended tables: the natural key that makes a replay (or a rewrite) idempotent.
APPEND_KEYS = {
    # a place at a time: a photo session's photos of two cameras share a t (store.track)
    "track": ("session_id", "t", "latitude", "longitude", "elevation_m"),
    "detections": ("session_id", "frame_index"),
    "source_gaps": ("session_id", "start_t"),
    "media": ("session_id", "frame_index"),
    "sighting_frames": ("sighting_id", "frame_index"),
}

SIGHTING_COLUMNS = list(TABLES["sightings"])
SESSION_COLUMNS = list(TABLES["sessions"])
TRACK_COLUMNS = list(TABLES["track"])
DETECTION_COLUMNS = list(TABLES["detections"])
GAP_COLUMNS = list(TABLES["source_gaps"])
MEDIA_COLUMNS = list(TABLES["media"])
SIGHTING_FRAME_COLUMNS = list(TABLES["sighting_frames"])


def _arrow(table: str, rows: list[dict] | list[tuple]) -> pa.Table:
    types = TABLES[table]
    if rows and isinstance(rows[0], dict):
        columns = {name: [r.get(name) for r in rows] for name in types}
    else:
        columns = {
            name: list(values) for name, values in zip(types, zip(*rows, strict=True), strict=True)
        }
    return pa.table({name: pa.array(columns[name], type=typ) for name, typ in types.items()})


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: list, *, idempotent: bool = False
) -> None:
    """Upsert (sessions, sightings, species) or append (track, detections, source_gaps)
    ``rows``: tuples in :data:`TABLES` column order, or dicts by column name (a journal's).
    ``idempotent``: appended rows already in the table (by :data:`APPEND_KEYS`) are skipped.

    A failed insert raises its own error: the clean-up that follows it (unregistering the
    rows, refused in an aborted transaction) never replaces it."""
    if not rows:
        return
    con.register("incoming", _arrow(table, rows))
    failed = True
    try:
        if table == "species":  # a value given replaces; none given keeps the file's
            # (a batch session's scratch file knows nothing of the file it merges into)
            con.execute("INSERT INTO species BY NAME SELECT * FROM incoming ON CONFLICT "
                        "(species) DO UPDATE SET " + ", ".join(
                            f"{c} = COALESCE(NULLIF(excluded.{c}, ''), species.{c})"
                            for c in ("common_name", "genus", "family"))).fetchall()  # fmt: skip
        elif table in UPSERT_KEYS:
            con.execute(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM incoming")
        elif idempotent:
            on = " AND ".join(f"d.{k} IS NOT DISTINCT FROM i.{k}" for k in APPEND_KEYS[table])
            keys = ", ".join(f"i.{k}" for k in APPEND_KEYS[table])
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT DISTINCT ON ({keys}) i.* FROM incoming i "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} d WHERE {on})"
            )
        else:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
        if table == "sightings":
            con.execute(f"INSERT INTO species {SPECIES_FROM.format(src='incoming')}")
        failed = False
    finally:
        try:
            con.unregister("incoming")
        except duckdb.Error:
            if not failed:
                raise  # after a failure, the first error is the one that counts
