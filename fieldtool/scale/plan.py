"""The plan: what a batch input names, as one row per (file, segment), and each file's key.

An input is a folder (searched recursively for videos and photo folders), a glob
(``clips/**/*.mp4``), or a manifest (CSV or Parquet with a ``path`` column and optional
``track``, ``start_time``, ``place``, ``camera_id``), local or any URI pyarrow's filesystems
read (``s3://``, ``gs://``). A manifest's ``place`` is a fixed camera's position, "lat,lon"
(or "lat lon") in decimal degrees (:func:`parse_place`); its ``camera_id`` names the session
(``sessions.source_name``). A file's key (``batch_files.batch_key``) is the sha256 of its
content hash, the settings hash and what else its run reads (:func:`batch_key`: the
manifest's values, the content of its track and of a DJI SRT or a GPX beside the video
with its name), so a rerun with the same settings and inputs skips it and a changed one runs
it again.

Photos (``kind`` "photos") are units as ``fieldtool run`` makes sessions of them: in a
folder, each topmost folder holding photos is one unit with every photo below it (as
``fieldtool run FOLDER``), a photo in a DCF folder (``CARD/DCIM/100RECNX``) held by its card
(``CARD``: its DCF folders are one camera's, one unit); the photos a glob matches are one unit (as ``fieldtool run
'GLOB'``); a manifest row naming a photo folder, glob or photo
(:func:`fieldtool.photos.is_photos`) is one unit. A Camtrap DP package (the input, or a
manifest row) is a unit per deployment with local photos (``deployment``; a manifest's
``deployment`` column names one), as ``fieldtool run PACKAGE`` runs a session per
deployment. Photo units are local paths (PhotoSource reads local files).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fieldtool.config import Config
from fieldtool.preprocessing import folder_record, read_folder_info
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:
    from fieldtool.placement import DcfFolders

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".m4v", ".mts", ".webm", ".mpg", ".3gp",
                            ".3g2"})
MANIFEST_COLUMNS = ("path", "track", "start_time", "place", "camera_id", "deployment")
CHUNK = 2**20  # bytes read at a time while hashing
# Settings that differ per file or only say where rows go: not part of the settings hash.
PER_FILE = {"source": ("uri", "start_time"), "position": ("track",), "store": None}
# Settings added after batch keys were first stored, with the default they had before
# (their behaviour then): left out of the key at that value, so that an upgrade does not
# make every file of an earlier batch "other settings" and run it again. Add each new
# field of a section the key reads here.
ADDED_LATER = {("position", "srt_order"): "auto"}


@dataclass
class PlanRow:
    """One unit of work: a whole file (``segment`` 0; media seconds ``start_s``..``end_s``,
    ``end_s`` None: to the end), or for ``kind`` "photos" a photo folder, glob or package
    (one session). ``track``, ``start_time`` (ISO 8601), ``place`` and ``camera_id`` come
    from a manifest row ("" where not given); ``deployment``: a Camtrap DP package's
    deploymentID, the unit its photos ("": all of the package's)."""

    path: str
    track: str = ""
    start_time: str = ""
    place: str = ""
    camera_id: str = ""
    segment: int = 0
    start_s: float = 0.0
    end_s: float | None = None
    content_sha256: str = ""
    batch_key: str = ""
    kind: str = "video"  # video / photos
    deployment: str = ""
    track_sha256: str = ""  # the track file's content (with_hash)
    track_clock: str = ""  # "local": a GPX of zone-less times (read as UTC before 2026-11-30)
    sidecar_sha256: str = ""  # a DJI .SRT beside the video: its content (with_hash)
    sidecar_gpx_sha256: str = ""  # a GPX beside the video with its name: its content (with_hash)
    size_bytes: int = 0  # bytes hashed: the video, or a photo unit's photos (with_hash)
    # a photo unit's photos (not a package's): JSON [[path, sha256, bytes, picture sha256],
    # ...] (with_hash; fieldtool.photos.same.photo_hashes)
    photo_sha256: str = ""
    # its photos not to run: JSON {path: where it ran, or the unit's photo it copies}
    # (fieldtool.scale.copies)
    leave_out: str = ""
    # how a video's start is read where results differ from earlier batches' (with_hash):
    # "camera": its mvhd as its camera's clock; "no_offset": GPS time, --time-offset not added
    mvhd_clock: str = ""
    gps_start: str = ""

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def unit_name(row: dict[str, Any]) -> str:
    """A plan row as the batch's lines name it: its path, and a package's deployment."""
    from fieldtool.photos import deployment_name

    return deployment_name(str(row["path"]), row.get("deployment"))


def _per_deployment(row: PlanRow) -> list[PlanRow]:
    """A photo row naming a Camtrap DP package without a deployment: a row per deployment
    with local photos when it has several (one: the row as it is, keyed as before)."""
    from dataclasses import replace

    from fieldtool.camtrap.read import is_package
    from fieldtool.photos import package_deployments

    if row.kind != "photos" or row.deployment or not is_package(row.path):
        return [row]
    found = package_deployments(row.path)
    return [replace(row, deployment=d) for d in found] if len(found) > 1 else [row]


def _filesystem(uri: str) -> tuple[Any, str]:
    """pyarrow filesystem and path of ``uri`` (a local path or any URI pyarrow knows)."""
    from pyarrow import fs

    if "://" not in uri:
        return fs.LocalFileSystem(), uri
    try:
        return fs.FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for unknown schemes
        raise FieldtoolError(f"{uri}: cannot open ({str(exc).splitlines()[0]})") from exc


def _joined(uri: str, path: str) -> str:
    """``path`` (as its filesystem names it) with ``uri``'s scheme put back."""
    if "://" not in uri:
        return path
    return f"{uri.split('://', 1)[0]}://{path}"


def find_inputs(input_uri: str) -> list[PlanRow]:
    """The rows an input names, sorted by path; a FieldtoolError when it names none."""
    from pyarrow import fs

    from fieldtool.camtrap.read import is_package
    from fieldtool.photos.files import is_photo

    suffix = PurePosixPath(input_uri.split("?", 1)[0]).suffix.lower()
    if suffix in (".csv", ".parquet"):
        return read_manifest(input_uri)
    if "://" not in input_uri and is_package(input_uri):
        return _per_deployment(PlanRow(input_uri, kind="photos"))
    glob = any(c in input_uri for c in "*?[")
    base = input_uri
    pattern = ""
    if glob:
        parts = PurePosixPath(input_uri).parts
        cut = next(i for i, p in enumerate(parts) if any(c in p for c in "*?["))
        base = str(PurePosixPath(*parts[:cut])) if cut else "."
        pattern = input_uri
    filesystem, path = _filesystem(base)
    info = filesystem.get_file_info(path)
    if info.type == fs.FileType.NotFound:
        raise FieldtoolError(f"{input_uri}: not found")
    if info.type == fs.FileType.File:
        single = _joined(base, path)
        return [PlanRow(single, kind="photos" if is_photo(Path(path)) else "video")]
    found = filesystem.get_file_info(fs.FileSelector(path, recursive=True))
    rows = []
    photo_folders: set[str] = set()  # folders holding photos directly (filesystem paths)
    for item in found:
        if item.type != fs.FileType.File:
            continue
        name = _joined(base, item.path)
        if glob and not fnmatch.fnmatch(name, pattern):
            continue
        if is_photo(Path(item.path)):
            photo_folders.add(_unit_folder(item.path, path))
        elif glob or PurePosixPath(item.path).suffix.lower() in VIDEO_SUFFIXES:
            rows.append(PlanRow(name))
    if glob and photo_folders:  # what it matches is one session, as with `run 'GLOB'`
        rows.append(PlanRow(input_uri, kind="photos"))
    elif photo_folders:
        rows += [PlanRow(_joined(base, f), kind="photos") for f in _topmost(photo_folders)]
    if not rows:
        raise FieldtoolError(f"{input_uri}: no video files or photos found")
    if any(r.kind == "photos" and "://" in r.path for r in rows):
        raise FieldtoolError(f"{input_uri}: photos are read from local paths only; "
                             "copy or mount them")  # fmt: skip
    return sorted(rows, key=lambda r: r.path)


def _unit_folder(photo: str, base: str) -> str:
    """The folder whose photos a photo's unit is: the card (the folder holding DCIM) for a
    photo in a DCF folder (``DCIM/100RECNX``, whose siblings ``101RECNX`` ... are the same
    camera's, :func:`fieldtool.photos.source.camera_folder`), as ``fieldtool run CARD`` makes
    one session of it; else the photo's own folder. Never above ``base``, the folder the
    input names (``batch CARD/DCIM``: that folder, as ``run CARD/DCIM``)."""
    from fieldtool.photos.source import camera_folder

    folder = PurePosixPath(camera_folder(Path(photo)))
    return base if folder in PurePosixPath(base).parents else str(folder)


def _topmost(folders: set[str]) -> list[str]:
    """The folders none of whose parents is among ``folders``: each one session, with the
    photos below it (``fieldtool run FOLDER`` searches a folder recursively)."""
    return sorted(f for f in folders
                  if not any(str(p) in folders for p in PurePosixPath(f).parents))  # fmt: skip


def read_manifest(uri: str) -> list[PlanRow]:
    """Rows of a CSV or Parquet manifest: ``path`` required; relative paths are taken
    from the manifest's folder."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from fieldtool.photos import is_photos

    filesystem, path = _filesystem(uri)
    try:
        with filesystem.open_input_file(path) as handle:
            if path.lower().endswith(".parquet"):
                table = pq.read_table(handle)
            else:
                options = pcsv.ConvertOptions(
                    strings_can_be_null=False, column_types={c: "string" for c in MANIFEST_COLUMNS}
                )
                table = pcsv.read_csv(handle, convert_options=options)
    except FileNotFoundError as exc:
        raise FieldtoolError(f"{uri}: manifest not found") from exc
    except Exception as exc:  # Arrow's parse errors
        raise FieldtoolError(
            f"{uri}: not a readable manifest ({str(exc).splitlines()[0]})"
        ) from exc
    if "path" not in table.column_names:
        raise FieldtoolError(f"{uri}: manifest has no 'path' column")
    unknown = set(table.column_names) - set(MANIFEST_COLUMNS)
    if unknown:
        raise FieldtoolError(f"{uri}: unknown manifest columns {sorted(unknown)}; "
                             f"expected {', '.join(MANIFEST_COLUMNS)}")  # fmt: skip
    folder = str(PurePosixPath(path).parent)
    rows = []
    for number, record in enumerate(table.to_pylist(), start=1):
        values: dict[str, Any] = {k: "" if v is None else str(v) for k, v in record.items()}
        _check_place(uri, number, values)
        for key in ("path", "track"):
            value = values.get(key, "")
            if value and "://" not in value and not value.startswith("/"):
                values[key] = _joined(uri, f"{folder}/{value}")
        if not values["path"]:
            raise FieldtoolError(f"{uri}: a row without a path")
        if "://" not in values["path"] and is_photos(values["path"]):
            values["kind"] = "photos"  # a photo folder, glob, photo or package's deployment
        rows += _per_deployment(PlanRow(**values))
    if not rows:
        raise FieldtoolError(f"{uri}: manifest lists no files")
    return rows


def parse_place(text: str) -> tuple[float, float]:
    """A manifest's ``place``: "lat,lon", "lat lon" or "lat;lon" in decimal degrees (WGS84)
    -> (lat, lon); a ValueError saying what is wrong otherwise."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    if len(parts) != 2:
        raise ValueError("expected 'lat,lon' in decimal degrees, e.g. 44.56,-123.30")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError("expected 'lat,lon' in decimal degrees, e.g. 44.56,-123.30") from None
    if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon) and -180 <= lon <= 180):
        raise ValueError("latitude must be within -90..90 and longitude within -180..180")
    return lat, lon


def _check_place(uri: str, number: int, values: dict[str, Any]) -> None:
    """A manifest row's ``place`` readable, and not beside a ``track`` (one position source,
    as ``fieldtool run`` takes one of --lat/--lon and --track): else a one-line error naming
    the manifest, the row (``number``, from 1, the header not counted) and the value."""
    place = values.get("place", "")
    if not place:
        return
    try:
        parse_place(place)
    except ValueError as exc:
        raise FieldtoolError(f"{uri}: row {number}: place {place!r}: {exc}") from None
    if values.get("track"):
        raise FieldtoolError(f"{uri}: row {number}: give a track or a place, not both "
                             f"(track {values['track']!r}, place {place!r})")  # fmt: skip


def content_sha256(uri: str) -> str:
    """sha256 of a file's bytes (hex), read in 1 MiB chunks."""
    filesystem, path = _filesystem(uri)
    digest = hashlib.sha256()
    with filesystem.open_input_stream(path) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def unit_size(plan: PlanRow) -> int:
    """Bytes of a plan row's input: the video's size, a photo unit's photos' sizes summed
    (a package: the files in its folder). What the batch cuts its work into chunks by."""
    from fieldtool.camtrap.read import is_package
    from fieldtool.photos import expand_photos

    if plan.kind != "photos":
        filesystem, path = _filesystem(plan.path)
        return int(filesystem.get_file_info(path).size or 0)
    if is_package(plan.path):
        folder = Path(plan.path) if Path(plan.path).is_dir() else Path(plan.path).parent
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return sum(Path(p).stat().st_size for p in expand_photos(plan.path))


def photos_sha256(uri: str, deployment: str = "") -> str:
    """sha256 (hex) of a photo unit: every photo's path and bytes, in path order; of a
    Camtrap DP package, every file in its folder (the tables time and place the photos);
    of one ``deployment`` of a package, what its run reads (:func:`_deployment_sha256`)."""
    from fieldtool.camtrap.read import is_package

    if is_package(uri) and deployment:
        return _deployment_sha256(uri, deployment)
    if is_package(uri):
        folder = Path(uri) if Path(uri).is_dir() else Path(uri).parent
        files = [(p, content_sha256(str(p))) for p in sorted(folder.rglob("*")) if p.is_file()]
    else:
        files = [(Path(path), sha) for path, sha, *_ in each_photo_sha256(uri)]
    return _unit_sha256(files)


def _unit_sha256(files: list[tuple[Path, str]]) -> str:
    """sha256 (hex) of (path, content sha256) pairs, in their order: a photo unit's."""
    digest = hashlib.sha256()
    for path, sha in files:
        digest.update(f"{path}\0{sha}\0".encode())
    return digest.hexdigest()


def each_photo_sha256(uri: str) -> list[tuple[str, str, int, str]]:
    """(path, sha256 of its bytes, bytes, its picture hash) of every photo a photo folder,
    glob or photo names, in path order (:func:`fieldtool.photos.expand_photos`; paths as it
    gives them), each read once (:func:`fieldtool.photos.same.photo_hashes`)."""
    from fieldtool.photos import expand_photos
    from fieldtool.photos.same import photo_hashes

    out = []
    for path in expand_photos(uri):
        whole, picture = photo_hashes(path)
        out.append((str(path), whole, path.stat().st_size, picture))
    return out


def _deployment_sha256(uri: str, deployment: str) -> str:
    """sha256 (hex) of what a run of one deployment of a package reads: its row of
    ``deployments``, its ``media`` rows and their files' bytes, its ``observations`` (the
    people's become reviews). A change in another deployment leaves it as it was."""
    from fieldtool.camtrap.read import read_package

    pkg = read_package(uri)
    try:
        digest = hashlib.sha256(repr(pkg.deployment(deployment)).encode())
    except KeyError:  # the unit's decode names the package's deployments
        raise FieldtoolError(f"{uri}: no deployment {deployment!r}") from None
    for media in sorted((m for m in pkg.media if m.deployment_id == deployment),
                        key=lambda m: m.media_id):  # fmt: skip
        content = content_sha256(str(media.file_path)) if media.local else ""
        digest.update(f"{media!r}\0{content}\0".encode())
    for seen in sorted((o for o in pkg.observations if o.deployment_id == deployment),
                       key=lambda o: o.observation_id):  # fmt: skip
        digest.update(f"{seen!r}\0".encode())
    return digest.hexdigest()


def settings_sha256(config: Config, model_sha256: str, model_path: str | None = None) -> str:
    """sha256 of the settings that change a file's results (hex): the config less the
    per-file and storage fields, the model's weights, and how the model sees a frame where
    its folder records it (a re-import that centre-crops the same weights gives other
    results; a folder without the record keeps the key it had). ``model_path``: the
    ``model.path`` the key names instead of ``config``'s (the folder read is still
    ``config``'s): the key an earlier run of this folder at that path stored
    (:mod:`fieldtool.scale.earlier`)."""
    data = config.model_dump(mode="json")
    if model_path is not None:
        data["model"]["path"] = model_path
    for section, keys in PER_FILE.items():
        if keys is None:
            data.pop(section, None)
        else:
            for key in keys:
                data[section].pop(key, None)
    for (section, key), default in ADDED_LATER.items():
        if data.get(section, {}).get(key, default) == default:
            data.get(section, {}).pop(key, None)
    identity: dict[str, Any] = {"config": data, "model_sha256": model_sha256}
    if config.position.time_offset_s:
        # it corrects the stored times since 2026-11-30 (before: the track look-up only), so
        # a batch run with one before holds other results; not a GPS-timed start (a GoPro's
        # GPSU) since 2026-12-01: those clips alone are keyed so (batch_key's gps_start)
        identity["time_offset"] = "corrects stored times"
    if (record := _preprocessing_record(config)) is not None:
        identity["preprocessing"] = record
        if config.model.tiles > 1 and record.get("fit") == "crop":
            # since 2026-11-30 squares that cover the frame (the frame's shape before)
            identity["tiles"] = "squares that cover the frame"
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _preprocessing_record(config: Config) -> Any:
    """The ``preprocessing`` record of the model folder a session of ``config`` loads (its
    ``fieldtool.json``; :mod:`fieldtool.preprocessing`); None without one, or with a
    gallery (whose model a changed record is refused for: ``Gallery.check_model``)."""
    if config.model.gallery is not None:
        return None
    return folder_record(read_folder_info(config.model.path))


def batch_key(content: str, settings: str, row: PlanRow) -> str:
    """The key of one file's work: content and settings hashes, the manifest's per-file
    values (a different track, place or camera_id is different work) and the content of
    the track and of the SRT and GPX beside the video (``row.track_sha256``,
    ``row.sidecar_sha256``, ``row.sidecar_gpx_sha256``: an edited track, a corrected SRT, a
    GPX that appears is different work). Each of deployment, place, camera_id and the
    content hashes only where there is one, so a row with none keeps the key it had before
    they were keyed (a database of those does not run them again)."""
    extra = f"{row.track}|{row.start_time}|{row.segment}"
    if row.deployment:
        extra += f"|{row.deployment}"
    if row.place:
        lat, lon = parse_place(row.place)  # "44.56,-123.3" and "44.56 -123.30": one place
        extra += f"|place={lat!r},{lon!r}"
    for name in ("camera_id", "track_sha256", "sidecar_sha256", "track_clock",
                 "sidecar_gpx_sha256", "mvhd_clock", "gps_start"):  # fmt: skip
        if value := getattr(row, name):  # mvhd_clock, gps_start: set by with_hash
            extra += f"|{name}={value}"
    return hashlib.sha256(f"{content}|{settings}|{extra}".encode()).hexdigest()


def sidecar_sha256(uri: str, ext: str = "srt") -> str:
    """sha256 (hex) of the file beside a video that ``run`` finds and reads
    (``position.auto_track``; :func:`sidecar_uri`): the DJI SRT (``ext`` "srt") or a GPS
    logger's GPX with its name ("gpx"); "" where there is none. A GoPro's GPMF is in its
    own bytes."""
    found = sidecar_uri(uri, ext)
    return content_sha256(found) if found is not None else ""


def sidecar_uri(uri: str, ext: str = "srt") -> str | None:
    """The file beside a video that ``run`` reads with it, as
    :func:`fieldtool.placement.sidecar_srt` (``ext`` "srt") and ``sidecar_gpx`` ("gpx") find
    it: the video's name with ``.SRT``, ``.srt`` or ``.Srt``. A remote video's (any URI of a
    pyarrow filesystem) is looked for through that filesystem, and the batch copies it to
    the worker beside the video (:func:`fieldtool.scale.decode.local_file`). None: none."""
    from pyarrow import fs

    from fieldtool.placement import sidecar_gpx, sidecar_srt

    if "://" not in uri or uri.startswith("file://"):
        found = (sidecar_gpx if ext == "gpx" else sidecar_srt)(Path(uri.removeprefix("file://")))
        return None if found is None else str(found)
    filesystem, path = _filesystem(uri)
    stem = str(PurePosixPath(path).with_suffix(""))
    names = [f"{stem}.{suffix}" for suffix in (ext.upper(), ext, ext.capitalize())]
    infos = filesystem.get_file_info(names)
    return next((_joined(uri, i.path) for i in infos if i.type == fs.FileType.File), None)


def hash_options(config: Config, rows: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """What :func:`with_hash` takes of a batch's ``config`` besides its settings hash, for
    its plan ``rows``: the camera cards' DCF folders its local videos lie in listed once,
    here (:class:`fieldtool.placement.DcfFolders`; each task hashing rows gets a copy)."""
    from fieldtool.placement import DcfFolders

    given = config.source.start_time is not None
    videos = [Path(r["path"]) for r in rows if r.get("kind", "video") == "video"
              and "://" not in r["path"] and not (given or r.get("start_time"))]  # fmt: skip
    return {"beside": config.position.looks_for_track(), "time_offset":
            bool(config.position.time_offset_s), "start_time": given,
            "folders": DcfFolders().listing(videos)}  # fmt: skip


def with_hash(
    row: dict[str, Any], settings: str, beside: bool = True, time_offset: bool = False,
    start_time: bool = False, folders: DcfFolders | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A plan row with its content hash and batch key (a Ray Data ``map`` step: hashing
    reads every byte, so it runs spread over the cluster). An unreadable file (or a photo
    unit without photos) keeps an empty hash; its decode fails and records why.
    ``beside``: the batch's config looks for a track (``PositionConfig.looks_for_track``):
    a GPX beside a video is keyed where its run reads it (a row with no track or place).
    ``time_offset``, ``start_time``: the batch gives --time-offset, --start-time;
    ``folders``: the plan's, else one per row (:func:`hash_options`, :func:`_clock_markers`)."""
    from fieldtool.camtrap.read import is_package

    plan = PlanRow(**row)
    try:
        if plan.kind == "photos" and not is_package(plan.path):  # each photo's hash kept
            photos = each_photo_sha256(plan.path)
            plan.photo_sha256 = json.dumps(photos)
            plan.content_sha256 = _unit_sha256([(Path(p), sha) for p, sha, *_ in photos])
        elif plan.kind == "photos":
            plan.content_sha256 = photos_sha256(plan.path, plan.deployment)
        else:
            plan.content_sha256 = content_sha256(plan.path)
    except (OSError, FieldtoolError):  # no photos there: the decode says so
        plan.content_sha256 = ""
    try:  # only how the batch cuts its chunks: 0 (no size) where it cannot be told
        plan.size_bytes = unit_size(plan)
    except (OSError, FieldtoolError):
        plan.size_bytes = 0
    try:  # a track that cannot be read keeps its path only: its decode fails and says why
        plan.track_sha256 = content_sha256(plan.track) if plan.track else ""
    except (OSError, FieldtoolError):
        plan.track_sha256 = ""
    plan.track_clock = _gpx_clock(plan.track) if plan.track_sha256 else ""
    plan.sidecar_sha256 = _beside(plan, "srt")
    # the camera's own SRT comes first: a GPX beside it is not read (a GoPro's GPMF is in
    # the video's bytes, told only by reading it: its GPX stays keyed); nor where the run
    # does not look (a row's track or place, ``beside`` off)
    gpx = beside and not plan.track and not plan.place and not plan.sidecar_sha256
    plan.sidecar_gpx_sha256 = _beside(plan, "gpx") if gpx else ""
    plan.mvhd_clock, plan.gps_start = _clock_markers(plan, beside and time_offset, start_time,
                                                     folders)  # fmt: skip
    plan.batch_key = row_key(plan, settings)
    return plan.as_row()


def _beside(plan: PlanRow, ext: str) -> str:
    """:func:`sidecar_sha256` of a video row's file beside it; "" for photos, a video that
    cannot be read (its decode fails), or a file beside it that cannot be (the run says
    it is not used, or why)."""
    if plan.kind != "video" or not plan.content_sha256:
        return ""
    try:
        return sidecar_sha256(plan.path, ext)
    except (OSError, FieldtoolError):  # a remote filesystem that cannot be reached
        return ""


def _clock_markers(
    plan: PlanRow, gps: bool, start_time: bool, folders: DcfFolders | None
) -> tuple[str, str]:
    """A video row's (``mvhd_clock``, ``gps_start``) (:func:`fieldtool.placement.clock_markers`):
    its ``mvhd`` is read where no start time (``start_time``: the batch's; the row's) dates
    it; a GPS-timed start is told where the batch gives an offset and the run reads the
    clip's own GPMF (``gps``: it looks for a track; the row names no track or place, and
    no SRT beside comes first)."""
    from fieldtool.placement import clock_markers

    if plan.kind != "video" or not plan.content_sha256:
        return "", ""
    mvhd = not (start_time or plan.start_time)
    gps = gps and mvhd and not (plan.track or plan.place or plan.sidecar_sha256)
    return clock_markers(plan.path, folders, mvhd=mvhd, gps=gps, remote=_filesystem)


def _gpx_clock(track: str) -> str:
    """"local" for a GPX track whose times carry no zone (a local clock, converted since
    2026-11-30; taken as UTC before, so its results differ from an earlier run's), else ""
    (other formats, a GPX in UTC, one that cannot be read: its decode says why)."""
    from fieldtool.tracks import detect_format, read_gpx_track

    try:
        if detect_format(Path(track)) != "gpx":
            return ""
        return "local" if read_gpx_track(track).clock == "local" else ""
    except (OSError, FieldtoolError):
        return ""


def row_key(plan: PlanRow, settings: str) -> str:
    """A hashed plan row's :func:`batch_key` under ``settings`` (its path where it has no
    content hash: an unreadable file)."""
    return batch_key(plan.content_sha256 or plan.path, settings, plan)
