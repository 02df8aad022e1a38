"""What the Camtrap DP standard fixes: its version and URLs, the three tables' columns, and
how it writes a time.

fieldtool writes and reads Camtrap DP 1.0.2 (the profile and table schemas of
tdwg/camtrap-dp). The profile's ``$defs.version`` pattern (``1\\.0\\.2``) is checked
against each resource's ``schema`` URL, so the URLs name the patch version: a package
whose schema URLs say ``1.0`` does not validate against this profile.

Times: the table schemas' format ``%Y-%m-%dT%H:%M:%S%z``: whole seconds with a zone
designator, ``Z`` or ``±hh:mm``; a single time rounded to the nearest second, an interval's
start down and its end up (it holds what it spans).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fieldtool.export_rows import Rounding, whole_second
from fieldtool.timebase import parse_zone
from fieldtool.types import FieldtoolError

VERSION = "1.0.2"
# Where the standard publishes its files; a validator may serve a copy elsewhere.
BASE_URL = "https://raw.githubusercontent.com/tdwg/camtrap-dp"
PROFILE_URL = f"{BASE_URL}/{VERSION}/camtrap-dp-profile.json"
RESOURCES = ("deployments", "media", "observations")


def schema_url(resource: str) -> str:
    """The official table schema URL of ``resource`` (deployments, media, observations)."""
    return f"{BASE_URL}/{VERSION}/{resource}-table-schema.json"


# Columns of each table, in the table schema's order (a CSV has all of them).
COLUMNS: dict[str, tuple[str, ...]] = {
    "deployments": (
        "deploymentID", "locationID", "locationName", "latitude", "longitude",
        "coordinateUncertainty", "deploymentStart", "deploymentEnd", "setupBy", "cameraID",
        "cameraModel", "cameraDelay", "cameraHeight", "cameraDepth", "cameraTilt",
        "cameraHeading", "detectionDistance", "timestampIssues", "baitUse", "featureType",
        "habitat", "deploymentGroups", "deploymentTags", "deploymentComments",
    ),
    "media": (
        "mediaID", "deploymentID", "captureMethod", "timestamp", "filePath", "filePublic",
        "fileName", "fileMediatype", "exifData", "favorite", "mediaComments",
    ),
    "observations": (
        "observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd",
        "observationLevel", "observationType", "cameraSetupType", "scientificName", "count",
        "lifeStage", "sex", "behavior", "individualID", "individualPositionRadius",
        "individualPositionAngle", "individualSpeed", "bboxX", "bboxY", "bboxWidth",
        "bboxHeight", "classificationMethod", "classifiedBy", "classificationTimestamp",
        "classificationProbability", "observationTags", "observationComments",
    ),
}  # fmt: skip
# Columns a reader needs (the table schemas' required ones that fieldtool uses).
REQUIRED: dict[str, tuple[str, ...]] = {
    "deployments": ("deploymentID", "latitude", "longitude", "deploymentStart", "deploymentEnd"),
    "media": ("mediaID", "deploymentID", "timestamp", "filePath", "fileMediatype"),
    "observations": ("observationID", "deploymentID", "eventStart", "eventEnd",
                     "observationLevel", "observationType"),
}  # fmt: skip
MISSING = ("", "NA", "NaN", "nan")  # the table schemas' missingValues


def format_time(utc: datetime, zone: str | None = None, rounding: Rounding = "nearest") -> str:
    """A naive UTC time as the standard writes it: in ``zone`` (IANA name or offset) with
    its offset (``2021-04-05T21:08:33+02:00``), or with ``Z`` when ``zone`` is None or
    UTC. Whole seconds (the format has no fraction), as the other exports write them
    (:func:`fieldtool.export_rows.whole_second`): to the nearest, or an interval's start
    ``down`` and end ``up``."""
    aware = whole_second(utc, rounding).replace(tzinfo=timezone.utc)
    if zone and zone.strip().upper() not in ("UTC", "Z", "GMT", "ETC/UTC"):
        aware = aware.astimezone(parse_zone(zone))
    offset = aware.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return aware.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = aware.strftime("%Y-%m-%dT%H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def parse_time(text: str, where: str) -> tuple[datetime, str]:
    """A Camtrap DP time as (naive UTC, the zone it was written in: ``UTC`` or ``±hh:mm``).

    A time without a zone designator breaks the standard; it is refused with a
    FieldtoolError naming ``where`` (the file and row)."""
    value = text.strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FieldtoolError(f"{where}: {text!r} is not an ISO 8601 time") from None
    offset = when.utcoffset()
    if offset is None:
        raise FieldtoolError(
            f"{where}: {text!r} has no time zone designator (Camtrap DP times end in Z or "
            "±hh:mm)"
        )
    utc = when.astimezone(timezone.utc).replace(tzinfo=None)
    if offset == timedelta(0):
        return utc, "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return utc, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
