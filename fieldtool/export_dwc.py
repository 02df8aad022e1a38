"""The Darwin Core Archive of ``fieldtool export --format dwca`` (and the dashboard's download).

A zip of ``occurrence.txt`` (tab-separated, UTF-8, the occurrence core; terms
:data:`DWC_TERMS`), ``meta.xml`` and ``eml.xml`` (GBIF's EML profile), written from the rows
of :func:`fieldtool.export_rows.load_occurrences`. Every record is a ``MachineObservation``:
a camera recorded it, whatever identified it; a reviewer's confirmation or relabelling is in
``identifiedBy``/``identificationVerificationStatus``. Photo records say photos, video
records video, naming the file or folder, never a local path. ``kingdom`` is ``Plantae``
only for a species known to be a plant (a model's label, or the bundled atlas of US trees):
a species a reviewer added (a heron) has none. ``eventDate`` is empty where no recording
time dated the record (:func:`undated`: a file processed without one, a photo or a DJI
SRT dated by its file's modification time): ``eventRemarks`` says why.

The licence is one GBIF registers (:data:`GBIF_LICENSES`): EML ``intellectualRights`` in
GBIF's wording and the record-level ``license`` (its URL), ``rightsHolder`` and
``datasetName`` (the title). Two exports of the same rows are byte-identical except EML
``pubDate`` (the day of export): members are written sorted with a fixed date, and
``packageId`` is the dataset's id (:func:`dataset_id`: the one rule Camtrap DP's ``id``
follows too, so a file that is one package run is that package's id in both).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from fieldtool.export_rows import (
    ExportFilter,
    guessed_sources,
    iso_time,
    zone_known,
)
from fieldtool.store.track import above_sea_level
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pandas as pd

DWC = "http://rs.tdwg.org/dwc/terms/"
HUMAN_DECISIONS = ("confirm", "relabel")
_DONE = {"confirm": "confirmed", "relabel": "relabelled"}
DWC_TERMS = [
    "occurrenceID", "basisOfRecord", "occurrenceStatus", "scientificName", "vernacularName",
    "kingdom", "family", "genus", "taxonRank", "eventID", "eventDate", "eventRemarks",
    "decimalLatitude", "decimalLongitude", "geodeticDatum", "coordinateUncertaintyInMeters",
    "identifiedBy", "dateIdentified", "identificationVerificationStatus",
    "identificationRemarks", "samplingProtocol", "occurrenceRemarks",
    # appended: the older terms keep their index in meta.xml
    "minimumElevationInMeters", "maximumElevationInMeters", "verbatimElevation",
    "license", "rightsHolder", "datasetName",
]  # fmt: skip
# The licences GBIF registers: id -> (legal code URL, GBIF's title of it).
GBIF_LICENSES = {
    "CC0-1.0": ("http://creativecommons.org/publicdomain/zero/1.0/legalcode",
                "Public Domain (CC0 1.0)"),
    "CC-BY-4.0": ("http://creativecommons.org/licenses/by/4.0/legalcode",
                  "Creative Commons Attribution (CC-BY) 4.0"),
    "CC-BY-NC-4.0": ("http://creativecommons.org/licenses/by-nc/4.0/legalcode",
                     "Creative Commons Attribution Non Commercial (CC-BY-NC) 4.0"),
}  # fmt: skip
NO_LICENSE = ("GBIF registers only data under a licence: pass --license CC0-1.0, CC-BY-4.0 "
              "or CC-BY-NC-4.0 (this archive names none)")  # fmt: skip
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every member's date: two exports of one dataset are equal
DATASET_NS = uuid.UUID("5b0c3f1e-8a3d-5c39-9a53-6f69656c6474")  # fieldtool's dataset ids
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
_BINOMIAL = re.compile(r"^[A-Z][a-z-]+ (?:x |× )?[a-z][a-z-]+$")


@dataclass
class Publication:
    """What the publisher says of the dataset: ``license`` a :data:`GBIF_LICENSES` id (None:
    none named), ``rights_holder`` (''), ``dataset_id`` (None: :func:`dataset_id`);
    ``subset``: the filters its sightings were chosen by (None: the whole file)."""

    title: str
    creator: str
    license: str | None = None
    rights_holder: str = ""
    dataset_id: str | None = None
    subset: ExportFilter | None = None


def gbif_license(given: str | None) -> str | None:
    """``given`` as its :data:`GBIF_LICENSES` id (any case, spaces or underscores for the
    hyphens); None for None; a one-line error for a licence GBIF does not register."""
    if given is None:
        return None
    key = re.sub(r"[\s_]+", "-", given.strip()).upper()
    for name in GBIF_LICENSES:
        if key == name.upper():
            return name
    raise FieldtoolError(f"--license {given!r}: GBIF registers only {', '.join(GBIF_LICENSES)} "
                         "for a Darwin Core Archive")  # fmt: skip


@dataclass(frozen=True)
class DatasetOrigin:
    """What a sightings file's dataset is (:func:`dataset_origin`)."""

    earliest: str | None  # its earliest session's id (by start, then id); None: no session
    package: dict[str, Any] | None  # the datapackage.json of the one package it all is


def dataset_origin(db: Path, *, timeout_s: float = 10.0) -> DatasetOrigin:
    """The file's earliest session, and the Camtrap DP package every session of the file
    ran (``fieldtool run PACKAGE``: each session's source that package's folder, its
    ``source_name`` a deploymentID), its ``datapackage.json`` as read now; ``package`` None
    where the file holds any other session (a folder of photos, a video, another package),
    none, or the package cannot be read now. Nothing is written to the file."""
    from fieldtool.camtrap.read import package_descriptor
    from fieldtool.store import connect

    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        first = con.execute("SELECT session_id FROM sessions ORDER BY started_at NULLS LAST, "
                            "session_id LIMIT 1").fetchone()  # fmt: skip
        sources = con.execute("SELECT DISTINCT source, coalesce(trim(source_name), '') = '' "
                              "FROM sessions LIMIT 2").fetchall()  # fmt: skip
    package = None
    if len(sources) == 1 and not sources[0][1] and sources[0][0]:
        with contextlib.suppress(FieldtoolError):
            package = package_descriptor(str(sources[0][0]))
    return DatasetOrigin(str(first[0]) if first else None, package)


def check_dataset_id(given: str) -> str:
    """``--dataset-id``, stripped: one word (a UUID, a DOI, a URN), else refused in one line
    (before anything is read or written)."""
    if not given.strip() or re.search(r"\s", given.strip()):
        raise FieldtoolError(f"--dataset-id {given!r}: expected one word, e.g. a UUID")
    return given.strip()


def dataset_id(
    db: Path, given: str | None = None, filters: ExportFilter | None = None, *,
    timeout_s: float = 10.0, origin: DatasetOrigin | None = None,
) -> str:  # fmt: skip
    """The dataset's id, the one rule of every export (Darwin Core's EML ``packageId``,
    Camtrap DP's ``id``): ``given`` (``--dataset-id``, :func:`check_dataset_id`); else, a
    file all of whose sessions ran one Camtrap DP package (:func:`dataset_origin`), that
    package's ``id``, so a package run and exported again is the same dataset in any file;
    else a UUID derived from the file's earliest session (by start, then id), which later
    sessions leave alone (removing or replacing that session changes it: pin it with
    ``--dataset-id``); a file without sessions: from its name. ``filters``
    (:func:`subset`): a ``--since``/``--until``, ``--reviewed-only``, species, session or
    chosen sightings' export is another dataset than the whole file's, a UUID derived
    from that id and the filters. ``origin``: :func:`dataset_origin` of ``db`` where read
    already. Nothing is written to the file."""
    if given is not None:
        return check_dataset_id(given)
    origin = origin or dataset_origin(db, timeout_s=timeout_s)
    chosen = subset(filters)
    own = (origin.package or {}).get("id")
    if isinstance(own, str) and own.strip():
        return str(uuid.uuid5(DATASET_NS, f"package:{own.strip()}|{chosen}")) if chosen \
            else own.strip()
    seed = f"session:{origin.earliest}" if origin.earliest else f"file:{db.name}"
    return str(uuid.uuid5(DATASET_NS, f"{seed}|{chosen}" if chosen else seed))


def subset(filters: ExportFilter | None) -> str:
    """Which sightings of the file ``filters`` keep, as text for the dataset's id (JSON of
    the filters set, times as UTC ISO 8601, lists sorted); "" for none (the whole file)."""
    if filters is None:
        return ""

    def utc(when: datetime | None) -> str | None:
        if when is None:
            return None
        return (when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else
                when).isoformat()  # fmt: skip

    chosen = {
        "session_id": filters.session_id,
        "species": sorted(filters.species) if filters.species is not None else None,
        "since": utc(filters.since),
        "until": utc(filters.until),
        "reviewed_only": filters.reviewed_only or None,
        "sighting_ids": sorted(filters.sighting_ids) if filters.sighting_ids is not None
        else None,
    }  # fmt: skip
    kept = {k: v for k, v in chosen.items() if v is not None}
    return json.dumps(kept, sort_keys=True, separators=(",", ":")) if kept else ""


def known_plants(db: Path, *, timeout_s: float = 10.0) -> frozenset[str]:
    """Names known to be plants: every species a model predicted in ``db`` (the sightings
    of sessions run without a gallery), every species with a family (from a model's
    labels.csv), and the bundled atlas's trees. A species only a reviewer named (a relabel
    to a bird) or only a gallery predicted (it predicts the names its photos were enrolled
    under: a camera-trap user's fox) is not among them."""
    from fieldtool.atlas import atlas_common_names
    from fieldtool.store import connect

    with connect(db, read_only=True, timeout_s=timeout_s) as con:
        rows = con.execute(
            "SELECT s.species FROM sightings s JOIN sessions USING (session_id) "
            "WHERE json_extract(coalesce(config_json, '{}'), '$.model.gallery') IS NULL "
            "   OR json_extract(coalesce(config_json, '{}'), '$.model.gallery') = 'null' "
            "UNION SELECT species FROM species WHERE family IS NOT NULL AND family <> ''"
        ).fetchall()
    return frozenset({str(r[0]) for r in rows if r[0]} | set(atlas_common_names()))


def _is_plant(species: str, plants: Collection[str]) -> bool:
    """Whether a species (or a genus-level ``Acer sp.``: a genus of a known plant) is one."""
    if species in plants:
        return True
    genus = species[:-4] if species.endswith(" sp.") else None
    return bool(genus) and any(p.split(" ", 1)[0] == genus for p in plants)


def _occurrence_id(sighting_id: str) -> str:
    """A UUID URN for fieldtool's uuid4 hex ids, else the id itself."""
    if _HEX_ID.match(sighting_id):
        h = sighting_id
        return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return sighting_id


def _num(value: Any, digits: int) -> str:
    import pandas as pd

    if value is None or pd.isna(value):
        return ""
    return f"{float(value):.{digits}f}".rstrip("0").rstrip(".")


def _text(value: Any) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return re.sub(r"[\t\r\n]+", " ", str(value)).strip()


def is_photo(time_source: Any) -> bool:
    """Whether a row is of a photo session (its ``time_source``: ``photos`` or
    ``photos: exif-zone, ...``, :mod:`fieldtool.export_rows`)."""
    return _text(time_source).startswith("photos")


def source_name(source: Any) -> str:
    """The file or folder name of a session's source, never its local path (a glob's
    folder; a URL's last part)."""
    text = _text(source).rstrip("/\\")
    parts = [p for p in re.split(r"[/\\]", text) if p]
    while len(parts) > 1 and re.search(r"[*?\[]", parts[-1]):
        parts.pop()
    return parts[-1] if parts else ""


def undated(time_source: Any) -> bool:
    """Whether a row has no event time: its session's or any of its photos' time source is
    one of :data:`~fieldtool.export_rows.GUESSED_TIME_SOURCES` (fieldtool's processing
    time, an SRT's or a photo's file modification time, ``docs/time.md``), the rule
    Camtrap DP's timestampIssues follows too."""
    return bool(guessed_sources(time_source))


# What the warning of each guessed time source says of its records (after "N record(s)
# of M session(s) ...").
_UNDATED_WARNINGS = {
    "file-mtime": "have photos without an EXIF time, dated by their files' modification time "
                  "(a copy resets it): eventDate left empty, eventRemarks says so",
    "srt-file-mtime": "are videos whose DJI SRT has no date, dated by the SRT file's "
                      "modification time (a copy resets it): eventDate left empty, "
                      "eventRemarks says so; run them again with --start-time (and --replace) "
                      "to date them",
    "processing-time": "have no event time (their files carried no recording time; fieldtool "
                       "dated them when it processed them): eventDate left empty, eventRemarks "
                       "says so; run them again with --start-time (and --replace) to date them",
}  # fmt: skip


def undated_warnings(frame: pd.DataFrame) -> list[str]:
    """One line per guessed time source of the records without an eventDate
    (:func:`undated`; a record by the first its ``time_source`` names), how many of how
    many sessions."""
    first = [next(iter(guessed_sources(t)), None) for t in frame["time_source"]]
    lines = []
    for source, said in _UNDATED_WARNINGS.items():
        chosen = [f == source for f in first]
        if n := sum(chosen):
            sessions = frame.loc[chosen, "session_id"].nunique()
            lines.append(f"{n} record(s) of {sessions} session(s) {said}")
    return lines


def _time_remarks(known: bool, source: Any, zone: Any) -> str:
    """``eventRemarks``: where the session's times came from and whether they are UTC."""
    source = _text(source) or "unrecorded"
    if not known:
        return f"times are the camera's local clock ({source}), time zone unknown; not UTC"
    how = "time source not recorded" if source == "unrecorded" else source
    zone = _text(zone)
    if zone and zone != "UTC":
        how += f", converted from {zone}"
    return f"times UTC ({how})"


# Why a row of each guessed time source has no eventDate ({when}: the time it was given).
_UNDATED_REMARKS = {
    "file-mtime": "a photo had no EXIF time: it was dated by its file's modification time "
                  "({when}), which copying the file resets, so it is not the event's time",
    "srt-file-mtime": "the video's DJI SRT file has no date: it was dated by the SRT file's "
                      "modification time ({when}), which copying the file resets, so it is "
                      "not the event's time",
    "processing-time": "no recording time in the file: fieldtool processed it at {when}, "
                       "which is not the event's time",
}  # fmt: skip


def _undated_remark(row: Any) -> str:
    """Why a row has no ``eventDate`` ('' when it has one)."""
    found = guessed_sources(row.time_source)
    if not found:
        return ""
    return "; " + _UNDATED_REMARKS[found[0]].format(when=iso_time(row.first_seen))


def _elevations(row: Any) -> dict[str, str]:
    """The Darwin Core elevation terms of a row: minimum/maximum over the sighting's frames
    only where the track's numbers are above sea level (Darwin Core's elevation); the
    verbatim text says what any of them is measured from ("camera at 728.3 to 735.5 m above
    sea level (gpx)", "... above the WGS84 ellipsoid (gpmf)"). Empty without one."""
    low, high = getattr(row, "elevation_min_m", None), getattr(row, "elevation_max_m", None)
    reference = _text(getattr(row, "elevation_reference", None))
    lo, hi = _num(low, 1), _num(high, 1)
    if not (lo and hi and reference):
        return dict.fromkeys(("minimumElevationInMeters", "maximumElevationInMeters",
                              "verbatimElevation"), "")  # fmt: skip
    sea = above_sea_level(reference)
    span = lo if lo == hi else f"{lo} to {hi}"  # "to": an elevation may be negative
    return {
        "minimumElevationInMeters": lo if sea else "",
        "maximumElevationInMeters": hi if sea else "",
        "verbatimElevation": f"camera at {span} m {reference}",
    }


def _seen(row: Any) -> str:
    """``occurrenceRemarks``: how long and in what it was seen, by the file or folder name."""
    span = f"{row.last_t - row.first_t:.1f} s"
    if is_photo(row.time_source):
        return (
            f"seen in {row.frames} photo(s) over {span} of photo folder {source_name(row.source)}"
        )
    return f"seen {span} of video {source_name(row.source)}"


def dwc_rows(
    frame: pd.DataFrame,
    publication: Publication | None = None,
    plants: Collection[str] = frozenset(),
) -> list[dict[str, str]]:
    """Darwin Core occurrence records (term -> text) of :func:`load_occurrences` rows.

    ``eventDate`` has no zone where the session's zone is unknown (see the module doc);
    ``eventRemarks`` says so. ``plants``: names known to be plants (:func:`known_plants`),
    the only ones given ``kingdom`` Plantae. ``dataGeneralizations`` is not used: it is for
    data made less specific on purpose, while a zoneless time is all the camera recorded.
    """
    import pandas as pd

    licence = gbif_license(publication.license) if publication else None
    records = []
    for row, known in zip(frame.itertuples(index=False), zone_known(frame), strict=True):
        known = bool(known)
        human = row.review in HUMAN_DECISIONS
        placed = not (pd.isna(row.latitude) or pd.isna(row.longitude))
        model = f"fieldtool model {row.model_id}"
        remarks = f"{model}"
        if _text(row.model_sha256):
            remarks += f" (weights sha256 {row.model_sha256[:16]})"
        remarks += (
            f" predicted {row.predicted_species}, peak score {row.peak_score:.3f}, mean score "
            f"{row.mean_score:.3f} over {row.frames} frames"
        )
        if human:
            remarks += f"; {_DONE[row.review]} by {row.reviewer}"
            if _text(row.review_note):
                remarks += f": {_text(row.review_note)}"
        no_time = undated(row.time_source)  # no recording time: no event time to publish
        # A genus-level sighting ("Acer sp."): congeners shared the score.
        genus_only = str(row.species)[:-4] if str(row.species).endswith(" sp.") else None
        records.append(
            {
                "occurrenceID": _occurrence_id(str(row.sighting_id)),
                # a camera recorded it, whoever identified it (the review: identifiedBy)
                "basisOfRecord": "MachineObservation",
                "occurrenceStatus": "present",
                "scientificName": _text(str(row.species).removesuffix(" sp.")),
                "vernacularName": _text(row.common_name),
                "kingdom": "Plantae" if _is_plant(str(row.species), plants) else "",
                "family": _text(row.family),
                "genus": _text(row.genus) or (genus_only or ""),
                "taxonRank": "species"
                if _BINOMIAL.match(str(row.species))
                else "genus"
                if genus_only
                else "",
                "eventID": _text(row.session_id),
                "eventDate": ""
                if no_time
                else f"{iso_time(row.first_seen, known, 'down')}/"
                f"{iso_time(row.last_seen, known, 'up')}",
                "eventRemarks": _time_remarks(known, row.time_source, row.time_zone)
                + _undated_remark(row),
                "decimalLatitude": _num(row.latitude, 7) if placed else "",
                "decimalLongitude": _num(row.longitude, 7) if placed else "",
                "geodeticDatum": "WGS84" if placed else "",
                "coordinateUncertaintyInMeters": _num(row.coordinate_uncertainty_m, 1)
                if placed
                else "",
                "identifiedBy": _text(row.reviewer) if human else model,
                "dateIdentified": iso_time(row.reviewed_at) if human else "",
                "identificationVerificationStatus": "verified by reviewer"
                if human
                else "unverified (automated identification)",
                "identificationRemarks": _text(remarks),
                "samplingProtocol": ("camera photos" if is_photo(row.time_source) else "video")
                + ", automated image classification (fieldtool)",
                "occurrenceRemarks": _text(_seen(row)),
                **_elevations(row),
                "license": GBIF_LICENSES[licence][0] if licence else "",
                "rightsHolder": _text(publication.rights_holder) if publication else "",
                "datasetName": _text(publication.title) if publication else "",
            }
        )
    return records


def _meta_xml() -> str:
    fields = "\n".join(
        f'    <field index="{i}" term="{DWC}{term}"/>' for i, term in enumerate(DWC_TERMS)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy=""
        ignoreHeaderLines="1" rowType="{DWC}Occurrence">
    <files>
      <location>occurrence.txt</location>
    </files>
    <id index="0"/>
{fields}
  </core>
</archive>
"""


def _rights(licence: str | None) -> str:
    """EML ``intellectualRights`` in GBIF's (the IPT's) wording; '' without a licence."""
    if licence is None:
        return ""
    url, name = GBIF_LICENSES[licence]
    link = f'<ulink url="{url}"><citetitle>{escape(name)}</citetitle></ulink>'
    if licence == "CC0-1.0":
        text = (
            "To the extent possible under law, the publisher has waived all rights to these "
            f"data and has dedicated them to the {link}. Users may copy, modify, distribute "
            "and use the work, including for commercial purposes, without restriction."
        )
    else:
        text = f"This work is licensed under a {link} License."
    return f"<intellectualRights><para>{text}</para></intellectualRights>"


def _coverage(frame: pd.DataFrame) -> tuple[str, str]:
    """EML ``coverage`` (positions; the days of the records timed in UTC) and a sentence for
    the abstract on the records left out of the temporal coverage ('' when none)."""
    coverage, note = "", ""
    placed = frame.dropna(subset=["latitude", "longitude"])
    if len(placed):
        coverage += (
            "<geographicCoverage><geographicDescription>Sighting positions</geographicDescription>"
            "<boundingCoordinates>"
            f"<westBoundingCoordinate>{placed.longitude.min():.6f}</westBoundingCoordinate>"
            f"<eastBoundingCoordinate>{placed.longitude.max():.6f}</eastBoundingCoordinate>"
            f"<northBoundingCoordinate>{placed.latitude.max():.6f}</northBoundingCoordinate>"
            f"<southBoundingCoordinate>{placed.latitude.min():.6f}</southBoundingCoordinate>"
            "</boundingCoordinates></geographicCoverage>"
        )
    local = ~zone_known(frame).astype(bool)
    no_time = frame["time_source"].map(undated).astype(bool)
    timed = frame[~local & ~no_time]
    if len(timed):
        coverage += (
            "<temporalCoverage><rangeOfDates>"
            f"<beginDate><calendarDate>{iso_time(timed.first_seen.min(), rounding='down')[:10]}"
            "</calendarDate></beginDate>"
            f"<endDate><calendarDate>{iso_time(timed.last_seen.max(), rounding='down')[:10]}"
            "</calendarDate></endDate></rangeOfDates></temporalCoverage>"
        )
    undated_utc = int((no_time & ~local).sum())
    left = [f"{int(local.sum())} record(s) timed by a camera's local clock of unknown zone"] * bool(
        local.sum()
    ) + [f"{undated_utc} record(s) without an event time"] * bool(undated_utc)
    if left:
        note = f" The temporal coverage (UTC days) leaves out {' and '.join(left)}."
    return (f"<coverage>{coverage}</coverage>" if coverage else ""), note


def _eml_xml(frame: pd.DataFrame, publication: Publication, package_id: str, db: Path) -> str:
    now = datetime.now(timezone.utc)
    models = ", ".join(sorted({str(m) for m in frame["model_id"].dropna()})) or "none"
    photos = frame["time_source"].map(is_photo).astype(bool)
    media = [what for what, n in (("field video", int((~photos).sum())),
                                  ("camera photos", int(photos.sum()))) if n]  # fmt: skip
    coverage, note = _coverage(frame)
    creator = escape(publication.creator)
    abstract = (
        f"{len(frame)} sightings recorded from {' and '.join(media) or 'field recordings'} by "
        f"fieldtool (models: {models}), exported from {db.name}. Each record is a species "
        "seen continuously over a time span, identified by an image model; a reviewer's "
        "confirmation or relabelling is in identifiedBy and identificationVerificationStatus."
        + note
    )
    sampled = " and ".join(["frames sampled from video"] * bool((~photos).sum())
                           + ["camera photos"] * bool(photos.sum())) or "frames"  # fmt: skip
    method = (f"{sampled[0].upper()}{sampled[1:]} were classified by a DINOv2 image model "
              f"({models}); per-frame scores were smoothed over time and a sighting opened "
              "and closed with hysteresis thresholds (fieldtool).")  # fmt: skip
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="eml://ecoinformatics.org/eml-2.1.1 http://rs.gbif.org/schema/eml-gbif-profile/1.1/eml.xsd"
         packageId={quoteattr(package_id)} system="fieldtool"
         scope="system" xml:lang="en">
  <dataset>
    <title xml:lang="en">{escape(publication.title)}</title>
    <creator><organizationName>{creator}</organizationName></creator>
    <metadataProvider><organizationName>{creator}</organizationName></metadataProvider>
    <pubDate>{now:%Y-%m-%d}</pubDate>
    <language>en</language>
    <abstract><para>{escape(abstract)}</para></abstract>
    {_rights(gbif_license(publication.license))}
    {coverage}
    <contact><organizationName>{creator}</organizationName></contact>
    <methods><methodStep><description><para>{escape(method)}</para></description></methodStep></methods>
  </dataset>
</eml:eml>
"""


def write_dwca(
    frame: pd.DataFrame,
    out: Path | IO[bytes],
    publication: Publication,
    db: Path,
    *,
    atomic: Callable[[Path], AbstractContextManager[Path]] | None = None,
    timeout_s: float = 10.0,
) -> None:
    """A Darwin Core Archive zip (eml.xml, meta.xml, occurrence.txt, in that order, each
    dated :data:`ZIP_DATE`) to a file path (written through ``atomic``, a temporary file
    moved into place) or to an open binary file."""
    package_id = dataset_id(db, publication.dataset_id, publication.subset,
                            timeout_s=timeout_s)  # fmt: skip
    text = io.StringIO()
    text.write("\t".join(DWC_TERMS) + "\n")
    for record in dwc_rows(frame, publication, known_plants(db, timeout_s=timeout_s)):
        text.write("\t".join(record[t] for t in DWC_TERMS) + "\n")
    members = {
        "eml.xml": _eml_xml(frame, publication, package_id, db),
        "meta.xml": _meta_xml(),
        "occurrence.txt": text.getvalue(),
    }
    with contextlib.ExitStack() as stack:
        target: Path | IO[bytes] = out
        if isinstance(out, Path):
            target = stack.enter_context(atomic(out)) if atomic else out
        archive = stack.enter_context(zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED))
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # rw-r--r--, not the writer's umask
            archive.writestr(info, members[name].encode("utf-8"))
