"""Reading a Camtrap DP package: :func:`read_package` -> :class:`CamtrapPackage`, and
:func:`package_photos`, a package's local photos as input for ``fieldtool run``
(:func:`by_deployment`: one session per deployment; :func:`skipped_media`: the media rows
that are not run, and why; :func:`untaken_line`: the observations no session takes).

Deployments become :class:`fieldtool.types.Deployment` (times naive UTC; ``time_zone``
the offset the package wrote ``deploymentStart`` in, which camera-trap platforms write as
the camera's local offset, ``UTC`` for ``Z``). Media and observation times are naive UTC
with the zone they were written in beside them. A media ``filePath`` that is not a URL is
resolved against the package's folder. The CSVs are read with the standard library (no
pandas): the tables are small and the reader runs before any model loads.

Bad input is one line naming the file and what is wrong: a ``datapackage.json`` that is
not JSON, lacks one of the three resources, or names a CSV that is not there; a CSV
without a required column or with a value that is not what its column holds.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlparse

from fieldtool.camtrap.standard import MISSING, REQUIRED, RESOURCES, parse_time
from fieldtool.types import Deployment, FieldtoolError

DESCRIPTOR = "datapackage.json"


@dataclass(frozen=True, slots=True)
class Media:
    """One row of ``media.csv``."""

    media_id: str
    deployment_id: str
    timestamp: datetime  # UTC, naive
    zone: str  # the zone the timestamp was written in: "UTC" or "±hh:mm"
    file_path: Path | str  # a local Path (resolved against the package), or a URL
    file_mediatype: str
    file_name: str | None = None

    @property
    def local(self) -> bool:
        """Whether the file is on this machine."""
        return isinstance(self.file_path, Path) and self.file_path.is_file()


@dataclass(frozen=True, slots=True)
class Observation:
    """One row of ``observations.csv`` (the columns fieldtool uses)."""

    observation_id: str
    deployment_id: str
    media_id: str | None
    event_id: str | None
    event_start: datetime  # UTC, naive
    event_end: datetime  # UTC, naive
    level: str  # "event" or "media"
    type: str  # animal, human, vehicle, blank, unknown, unclassified
    scientific_name: str | None = None
    count: int | None = None
    classification_method: str | None = None  # human / machine
    classified_by: str | None = None
    classification_timestamp: datetime | None = None  # UTC, naive
    classification_probability: float | None = None
    tags: str | None = None  # observationTags: "key:value|..." as written


class PackagePhoto(NamedTuple):
    """A package's photo on this machine: the fields of ``fieldtool.photos.PhotoItem``."""

    path: Path
    deployment_id: str
    timestamp: datetime  # UTC, naive: the package's time for it (replaces the EXIF clock)


@dataclass(frozen=True)
class CamtrapPackage:
    """A Camtrap DP package read into memory."""

    path: Path  # the package's folder
    descriptor: dict[str, Any]  # datapackage.json
    deployments: tuple[Deployment, ...]
    media: tuple[Media, ...]
    observations: tuple[Observation, ...]
    # Each table's rows as written (every column, a missing value ""), in the order of
    # ``deployments``, ``media``, ``observations``: what an export writes back unchanged.
    tables: dict[str, tuple[dict[str, str], ...]] = field(default_factory=dict)

    def deployment(self, deployment_id: str) -> Deployment:
        for d in self.deployments:
            if d.deployment_id == deployment_id:
                return d
        raise KeyError(deployment_id)


def is_package(uri: str) -> bool:
    """Whether ``uri`` names a data package: a ``datapackage.json``, or a folder with one."""
    path = Path(uri)
    return path.name == DESCRIPTOR and path.is_file() or (path / DESCRIPTOR).is_file()


def _descriptor_path(path: Path) -> Path:
    if path.is_dir():
        path = path / DESCRIPTOR
    if not path.is_file():
        raise FieldtoolError(f"{path}: not found (a Camtrap DP package is a folder with "
                             f"{DESCRIPTOR})")  # fmt: skip
    return path


def _load_descriptor(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FieldtoolError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise FieldtoolError(f"{path}: not JSON (not UTF-8 text)") from None
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise FieldtoolError(f"{path}: not a data package (no \"resources\" list)")
    return data


def package_descriptor(path: Path | str) -> dict[str, Any]:
    """The ``datapackage.json`` of the package at ``path`` (its folder or the file), its
    tables unread; a FieldtoolError naming it where there is none or it is not one."""
    return _load_descriptor(_descriptor_path(Path(path)))


def _resource_files(descriptor: dict[str, Any], path: Path, name: str) -> list[Path]:
    """The local CSV file(s) of resource ``name``."""
    found = [r for r in descriptor["resources"] if isinstance(r, dict) and r.get("name") == name]
    if not found:
        raise FieldtoolError(f"{path}: no {name!r} resource (a Camtrap DP package has "
                             f"{', '.join(RESOURCES)})")  # fmt: skip
    parts = found[0].get("path")
    parts = [parts] if isinstance(parts, str) else parts
    if not parts or not all(isinstance(p, str) for p in parts):
        raise FieldtoolError(f"{path}: resource {name!r} has no \"path\" to a CSV file")
    files = []
    for part in parts:
        if urlparse(part).scheme in ("http", "https", "ftp"):
            raise FieldtoolError(f"{path}: resource {name!r} is at {part}, a URL; download the "
                                 "package and read it from its folder")  # fmt: skip
        file = path.parent / part
        if not file.is_file():
            raise FieldtoolError(f"{path}: resource {name!r} names {part}, which is not there "
                                 f"({file})")  # fmt: skip
        files.append(file)
    return files


def _rows(files: list[Path], name: str) -> Iterator[tuple[str, dict[str, str | None]]]:
    """(where, row) of a resource's CSV files; missing values (the schemas' missingValues)
    as None. Raises when a required column is absent."""
    for file in files:
        try:
            with file.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                absent = [c for c in REQUIRED[name] if c not in (reader.fieldnames or [])]
                if absent:
                    raise FieldtoolError(f"{file}: no {', '.join(absent)} column ({name} "
                                         "table)")  # fmt: skip
                for line, row in enumerate(reader, start=2):
                    yield f"{file} line {line}", {
                        k: (None if v is None or v.strip() in MISSING else v.strip())
                        for k, v in row.items() if k is not None
                    }  # fmt: skip
        except UnicodeDecodeError:
            raise FieldtoolError(f"{file}: not UTF-8 text") from None
        except csv.Error as exc:
            raise FieldtoolError(f"{file}: not CSV ({exc})") from None


def _need(row: dict[str, str | None], column: str, where: str) -> str:
    value = row.get(column)
    if value is None:
        raise FieldtoolError(f"{where}: {column} is empty (required)")
    return value


def _number(row: dict[str, str | None], column: str, where: str) -> float | None:
    value = row.get(column)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise FieldtoolError(f"{where}: {column} {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise FieldtoolError(f"{where}: {column} {value!r} is not a finite number")
    return number


def _deployments(files: list[Path]) -> tuple[Deployment, ...]:
    out = []
    for where, row in _rows(files, "deployments"):
        lat = _number(row, "latitude", where)
        lon = _number(row, "longitude", where)
        if lat is None or lon is None:
            raise FieldtoolError(f"{where}: latitude and longitude are required")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise FieldtoolError(f"{where}: latitude {lat:g}, longitude {lon:g} are not a "
                                 "place (latitude -90..90, longitude -180..180)")  # fmt: skip
        start, zone = parse_time(_need(row, "deploymentStart", where), where)
        end, _ = parse_time(_need(row, "deploymentEnd", where), where)
        out.append(Deployment(
            deployment_id=_need(row, "deploymentID", where), lat=lat, lon=lon, start=start,
            end=end, camera_id=row.get("cameraID"), camera_model=row.get("cameraModel"),
            location_name=row.get("locationName"), time_zone=zone,
            uncertainty_m=_number(row, "coordinateUncertainty", where),
        ))  # fmt: skip
    return tuple(out)


def _file(value: str, folder: Path) -> Path | str:
    """A media filePath: a URL stays text; a ``file:`` URL or a relative path is a local
    Path (relative ones against the package's folder)."""
    url = urlparse(value)
    if url.scheme == "file":
        return Path(unquote(url.path))
    if url.scheme and len(url.scheme) > 1:  # "C:" is a drive, not a scheme
        return value
    return folder / value


def _media(files: list[Path], folder: Path) -> tuple[Media, ...]:
    out = []
    for where, row in _rows(files, "media"):
        when, zone = parse_time(_need(row, "timestamp", where), where)
        out.append(Media(
            media_id=_need(row, "mediaID", where), deployment_id=_need(row, "deploymentID", where),
            timestamp=when, zone=zone, file_path=_file(_need(row, "filePath", where), folder),
            file_mediatype=_need(row, "fileMediatype", where), file_name=row.get("fileName"),
        ))  # fmt: skip
    return tuple(out)


def _observations(files: list[Path]) -> tuple[Observation, ...]:
    out = []
    for where, row in _rows(files, "observations"):
        start, _ = parse_time(_need(row, "eventStart", where), where)
        end, _ = parse_time(_need(row, "eventEnd", where), where)
        stamp = row.get("classificationTimestamp")
        count = _number(row, "count", where)
        out.append(Observation(
            observation_id=_need(row, "observationID", where),
            deployment_id=_need(row, "deploymentID", where), media_id=row.get("mediaID"),
            event_id=row.get("eventID"), event_start=start, event_end=end,
            level=_need(row, "observationLevel", where),
            type=_need(row, "observationType", where),
            scientific_name=row.get("scientificName"),
            count=int(count) if count is not None else None,
            classification_method=row.get("classificationMethod"),
            classified_by=row.get("classifiedBy"),
            classification_timestamp=parse_time(stamp, where)[0] if stamp else None,
            classification_probability=_number(row, "classificationProbability", where),
            tags=row.get("observationTags"),
        ))  # fmt: skip
    return tuple(out)


def read_package(path: Path | str) -> CamtrapPackage:
    """A Camtrap DP package from its folder or its ``datapackage.json``."""
    descriptor_path = _descriptor_path(Path(path))
    descriptor = _load_descriptor(descriptor_path)
    files = {name: _resource_files(descriptor, descriptor_path, name) for name in RESOURCES}
    folder = descriptor_path.parent
    tables = {name: tuple({k: v or "" for k, v in row.items()} for _, row in _rows(found, name))
              for name, found in files.items()}  # fmt: skip
    return CamtrapPackage(
        path=folder, descriptor=descriptor, deployments=_deployments(files["deployments"]),
        media=_media(files["media"], folder), observations=_observations(files["observations"]),
        tables=tables,
    )  # fmt: skip


def package_photos(pkg: CamtrapPackage) -> tuple[list[PackagePhoto], list[Deployment]]:
    """The package's photos that are on this machine, as (file, deploymentID, timestamp),
    in time order, and its deployments: the input of ``fieldtool run PACKAGE``
    (deployments place photos without their own GPS; the package's timestamps time them).
    Media rows that are URLs, videos or missing files are skipped; a FieldtoolError when
    none is left."""
    photos = [
        m for m in sorted(pkg.media, key=lambda m: (m.timestamp, m.media_id))
        if m.file_mediatype.startswith("image/") and m.local
    ]  # fmt: skip
    if not photos:
        urls = sum(1 for m in pkg.media if not isinstance(m.file_path, Path))
        raise FieldtoolError(
            f"{pkg.path / DESCRIPTOR}: none of its {len(pkg.media)} media files is a photo on "
            f"this machine ({urls} are URLs); download the media beside the package first"
        )
    known = {d.deployment_id for d in pkg.deployments}
    stray = sorted({m.deployment_id for m in photos} - known)
    if stray:
        raise FieldtoolError(f"{pkg.path / DESCRIPTOR}: media name deployment(s) "
                             f"{', '.join(stray[:3])} that deployments.csv lacks")  # fmt: skip
    found = [PackagePhoto(Path(m.file_path), m.deployment_id, m.timestamp) for m in photos]
    return found, list(pkg.deployments)


def by_deployment(
    pkg: CamtrapPackage, photos: list[PackagePhoto]
) -> list[tuple[Deployment, list[PackagePhoto]]]:
    """``photos`` (:func:`package_photos`) grouped by deployment, each group in time order:
    the deployments that have any, in the order of ``deployments.csv``. Each is one session
    of ``fieldtool run PACKAGE`` (a camera at one place: its sightings never mix with
    another camera's)."""
    groups: dict[str, list[PackagePhoto]] = {}
    for photo in photos:
        groups.setdefault(photo.deployment_id, []).append(photo)
    return [(d, groups[d.deployment_id]) for d in pkg.deployments if d.deployment_id in groups]


def skipped_media(pkg: CamtrapPackage) -> dict[str, int]:
    """Why media rows are not run, and how many each: ``remote`` (filePath a URL),
    ``not photos`` (another fileMediatype: videos), ``missing`` (a local filePath with no
    file there); empty when every row is a local photo."""
    why: dict[str, int] = {}
    for m in pkg.media:
        if not isinstance(m.file_path, Path):
            reason = "remote"
        elif not m.file_mediatype.startswith("image/"):
            reason = "not photos"
        elif not m.file_path.is_file():
            reason = "missing"
        else:
            continue
        why[reason] = why.get(reason, 0) + 1
    return why


_SKIP_WHY = {
    "remote": "filePath a URL; download the files beside the package to run them",
    "not photos": "fileMediatype not image/*: run videos as files",
    "missing": "no file at their filePath",
}


def skipped_line(skipped: dict[str, int]) -> str | None:
    """``skipped`` (:func:`skipped_media`) as one clause, or None when nothing is skipped:
    ``413 media rows skipped: 413 remote (filePath a URL; ...)``."""
    total = sum(skipped.values())
    if not total:
        return None
    parts = ", ".join(f"{n} {reason} ({_SKIP_WHY[reason]})" for reason, n in skipped.items())
    return f"{total} media row{'s' if total != 1 else ''} skipped: {parts}"


def untaken_line(pkg: CamtrapPackage, ran: Collection[str], most: int = 5) -> str | None:
    """One clause on the package's observations of deployments not in ``ran`` (the
    deploymentIDs with local photos, :func:`by_deployment`), or None when there are none:
    no session runs those deployments (videos, remote or missing files), so their
    observations become no reviews (an export writes them back as they were, with their
    deployment: :func:`fieldtool.camtrap.carry.unrun`). Names the first
    ``most`` such deployments with their counts:
    ``2 of the package's observations not taken (walk-1: 2): ...``."""
    counts: dict[str, int] = {}
    for o in pkg.observations:
        if o.deployment_id not in ran:
            counts[o.deployment_id] = counts.get(o.deployment_id, 0) + 1
    if not counts:
        return None
    named = ", ".join(f"{dep}: {n}" for dep, n in list(counts.items())[:most])
    more = f", and {len(counts) - most} more deployments" if len(counts) > most else ""
    return (f"{sum(counts.values())} of the package's observations not taken ({named}{more}): "
            "no session runs their deployments, which have no local photos (videos, remote "
            "or missing files, or no media), so they become no reviews; an export writes "
            "them back as they were, with their deployments")  # fmt: skip
