"""The ``datapackage.json`` of a Camtrap DP export (:func:`descriptor`), and the licence
names it takes (:func:`check_license`: an Open Definition licence id, as the Data Package
standard asks of a licence's ``name``; another licence needs its ``path``, a URL).

Data Package: a licence's ``name`` "MUST be an Open Definition license ID"
(https://opendefinition.org/licenses/api/); a licence without such an id is given by its
``path`` (a URL) and ``title``. fieldtool takes the common ids of open data and media
licences (:data:`OPEN_LICENSES`) by name, any other only with a URL.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fieldtool.camtrap.standard import PROFILE_URL, RESOURCES, format_time, parse_time, schema_url
from fieldtool.export_rows import ExportFilter
from fieldtool.types import FieldtoolError

DEFAULT_LICENSE = "CC-BY-4.0"
# Open Definition licence ids (opendefinition.org/licenses) data and photos are published
# under; ``name`` takes these, spelled so.
OPEN_LICENSES = (
    "CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0",
    "CC-BY-NC-ND-4.0", "CC-BY-3.0", "CC-BY-SA-3.0", "ODbL-1.0", "ODC-BY-1.0", "PDDL-1.0",
    "other-pd", "other-at", "other-open",
)  # fmt: skip


def check_license(text: str) -> dict[str, str]:
    """A licence as the descriptor's ``licenses`` entry: an id of :data:`OPEN_LICENSES`
    (any case; written as listed) -> ``{"name": id}``; a URL -> ``{"path": url}``. Anything
    else raises one line naming it (a FieldtoolError)."""
    value = text.strip()
    known = {name.lower(): name for name in OPEN_LICENSES}
    if value.lower() in known:
        return {"name": known[value.lower()]}
    if re.match(r"^https?://\S+$", value):
        return {"path": value}
    raise FieldtoolError(
        f"--license {text!r}: not an Open Definition licence id (one of "
        f"{', '.join(OPEN_LICENSES[:6])}, ...) nor a licence's URL"
    )


def _taxonomic(
    observations: list[dict[str, str]], species: dict[str, tuple[str, str | None, str | None]]
) -> list[dict[str, Any]]:
    from fieldtool.names import binomial

    taxa = []
    for name in sorted({o["scientificName"] for o in observations if o.get("scientificName")}):
        common, genus, family = species.get(name) or species.get(f"{name} sp.") or ("", None, None)
        taxon: dict[str, Any] = {"scientificName": name,
                                 "taxonRank": "species" if binomial(name) else "genus"}  # fmt: skip
        if family:
            taxon["family"] = family
        if genus or binomial(name):
            taxon["genus"] = genus or name.split(" ")[0]
        if common:
            taxon["vernacularNames"] = {"eng": common}
        taxa.append(taxon)
    return taxa


def _spatial(deployments: list[dict[str, str]]) -> dict[str, Any]:
    """GeoJSON: the deployments' point, or the bounding box around them."""
    lats = [float(d["latitude"]) for d in deployments]
    lons = [float(d["longitude"]) for d in deployments]
    if min(lats) == max(lats) and min(lons) == max(lons):
        return {"type": "Point", "coordinates": [lons[0], lats[0]]}
    w, e, s, n = min(lons), max(lons), min(lats), max(lats)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _utc_of(text: str) -> datetime:
    return parse_time(text, "deployments.csv")[0]


def _version() -> str:
    """fieldtool's version, as installed (the package root is not imported from below)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fieldtool")
    except PackageNotFoundError:
        return "unknown"


def _slug(text: str) -> str:
    """A Data Package ``name``: lower case, alphanumerics, ``.``, ``_`` and ``-``."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")


def identity(
    db: Path, given: str | None, filters: ExportFilter, *, timeout_s: float = 10.0
) -> tuple[str, str]:  # fmt: skip
    """The export's ``(id, name)``. The ``id`` is the dataset's, as Darwin Core's
    ``packageId`` (:func:`fieldtool.export_dwc.dataset_id`: ``given``, ``--dataset-id``;
    a file all of whose sessions ran one package, that package's ``id``, so a package read
    back keeps it; else derived from the file's earliest session; filtered: derived from
    that and the filters). The ``name``: that package's, else ``fieldtool-<file name>``."""
    from fieldtool.export_dwc import dataset_id, dataset_origin

    origin = dataset_origin(db, timeout_s=timeout_s)
    named = (origin.package or {}).get("name")
    name = _slug(named) if isinstance(named, str) and _slug(named) else _slug(
        f"fieldtool-{db.stem}")  # fmt: skip
    return dataset_id(db, given, filters, timeout_s=timeout_s, origin=origin), name


def descriptor(
    db: Path, title: str, creator: str, license: str, deployments: list[dict[str, str]],
    observations: list[dict[str, str]], species: dict[str, tuple[str, str | None, str | None]],
    *, package_id: str | None = None, name: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The package's ``datapackage.json``. ``package_id``: its ``id``, the same in every
    export of one dataset (None: a new UUID); ``name`` (None: ``fieldtool-<file name>``;
    both: :func:`identity`); ``created`` is when this one was written."""
    levels = sorted({o["observationLevel"] for o in observations}) or ["event"]
    name = name or _slug(f"fieldtool-{db.stem}")
    return {
        "resources": [
            {"name": r, "path": f"{r}.csv", "profile": "tabular-data-resource", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8", "schema": schema_url(r)}
            for r in RESOURCES
        ],
        "profile": PROFILE_URL,
        "name": name,
        "id": package_id or str(uuid.uuid4()),
        "created": format_time(datetime.now(timezone.utc).replace(tzinfo=None)),
        "title": title,
        "contributors": [{"title": creator, "role": "contact"}],
        "description": f"Sightings recorded by fieldtool from photos and video, exported "
        f"from {db.name}. Event-level observations are sightings (machine, or human where a "
        "reviewer confirmed or relabelled them); media-level observations are the model's "
        "top species per photo.",
        "version": "1.0",
        "sources": [{"title": "fieldtool", "version": _version()}],
        "licenses": [{**check_license(license), "scope": scope} for scope in ("data", "media")],
        "project": {
            "title": title, "samplingDesign": "opportunistic",
            "captureMethod": ["activityDetection"], "individualAnimals": False,
            "observationLevel": levels,
        },  # fmt: skip
        "spatial": _spatial(deployments),
        "temporal": {  # dates as written (the deployment's zone), earliest and latest in UTC
            "start": min((d["deploymentStart"] for d in deployments), key=_utc_of)[:10],
            "end": max((d["deploymentEnd"] for d in deployments), key=_utc_of)[:10],
        },
        "taxonomic": _taxonomic(observations, species),
    }
