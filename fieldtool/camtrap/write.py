"""``fieldtool export --format camtrap-dp -o FOLDER``: a Camtrap DP 1.0.2 package.

The folder gets ``datapackage.json``, ``deployments.csv``, ``media.csv``,
``observations.csv`` and ``media/`` (the photos, copied, never hard-linked: the package is
edited in place, e.g. to blur people, which must not change the camera's originals; a
reflink where the file system offers one), so ``media.filePath`` is a relative path inside
the package as the standard asks: ``media/<deployment>/`` and the photo's path below the
folder its session ran (a card's ``cardA/DCIM/100RECNX/IMG_0001.JPG``), ``fileName`` its
own name (:func:`~fieldtool.camtrap.files.package_path`). What goes where is in
``docs/camtrap.md``; in short:

- one deployment per session with a position (``deploymentID``: the session's
  ``source_name``, else its id), placed where its photos were placed (all of them:
  :mod:`fieldtool.camtrap.rows`); positions spread wider than
  :data:`~fieldtool.camtrap.rows.WIDE_SPREAD_M` are said in a warning and in
  ``deploymentComments``; sessions without any position are left out (the standard
  requires a place) and said so in one log line;
- one media row per photo (``media`` table); video sessions have none: their media file
  is the video, which fieldtool does not copy, and the stills it keeps are a sample the
  classifier chose, not what the camera recorded;
- event-level observations: one per sighting in force; a sighting whose review in force
  is a reject is its reviewer's ``unknown`` row, tagged ``rejected:<species>`` (read back
  as a reject: :mod:`fieldtool.camtrap.reviews`); plus one ``blank`` per photo sequence
  without any sighting; media-level observations: one per photo with a detection, its top
  fused species when that reaches the session's ``smoothing.exit``, else ``blank``;
- a deployment's ``cameraModel`` (``Make-Model``) and ``cameraID`` (serial number) are
  one photo's EXIF where its file is at hand, else ``cameraID`` is ``media.camera`` (make,
  model and serial joined) and ``cameraModel`` empty;
- a session that ran a Camtrap DP package's deployment gets back what the package said
  (:mod:`fieldtool.camtrap.origin`): its deployment's columns, its media ids and paths,
  the media fieldtool did not classify (videos, URLs, a photo that did not decode:
  :mod:`fieldtool.camtrap.carry`; a deployment no session ran: whole), its observations
  of the media exported; no row of fieldtool's for a sighting they decided (a confirm, a
  relabel, a reject: theirs says it), no ``blank`` over them; its times in its offsets.

Times are written in the session's zone with its offset, in whole seconds: a photo's to the
nearest, an interval (an event's, a deployment's) from its start rounded down to its end
rounded up, so it holds what it spans.
A photo whose zone is unknown (``media.time_source`` ``exif-local``: a camera's local
clock) is written as read, with ``Z`` (the standard requires a zone), and flagged where it
is: its media row's ``mediaComments``, and each observation of it (``observationTags``
``timestampIssues:unknownTimezone`` and ``observationComments``); the other photos of its
session stay UTC, unflagged. The deployment's ``timestampIssues`` (the standard's flag for
"unknown timezone", one per deployment) is true when any of its exported photos (a video
session: the session) has an unknown zone, and ``deploymentComments`` says how many. It
is also true when the times are not when the media was recorded: the session's or a
photo's time source in :data:`~fieldtool.export_rows.GUESSED_TIME_SOURCES` (processing
time, a file's modification time), those photos' ``mediaComments`` saying so.
"""

from __future__ import annotations

import csv
import io
import json
import math
import mimetypes
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldtool.camtrap import carry
from fieldtool.camtrap import origin as package
from fieldtool.camtrap.descriptor import DEFAULT_LICENSE, check_license, identity
from fieldtool.camtrap.descriptor import descriptor as package_descriptor
from fieldtool.camtrap.events import EventIds, event_ids
from fieldtool.camtrap.files import (
    Layout,
    check_out,
    package_path,
    refuse_inside,
    refuse_replaced,
    session_root,
    source_file,
    write_folder,
)
from fieldtool.camtrap.rows import (
    WIDE_SPREAD_M,
    Photo,
    SessionRows,
    as_float,
    exif_camera,
    load_sessions,
    main_camera,
    own_media_id,
)
from fieldtool.camtrap.standard import (
    COLUMNS,
    format_time,
)
from fieldtool.export_rows import (
    GUESSED_TIME_SOURCES,
    ExportFilter,
    Rounding,
    zone_known,
)
from fieldtool.types import FieldtoolError

if TYPE_CHECKING:
    import pandas as pd

HUMAN_DECISIONS = ("confirm", "relabel")
# A session's media rows: frame_index -> (mediaID, row).
MediaRows = dict[int, tuple[str, dict[str, str]]]
# How a time of unknown zone is flagged (observationTags is "key:value|key:value").
LOCAL_CLOCK = "the camera's local clock (time zone unknown), written as read with Z"
LOCAL_CLOCK_TAG = "timestampIssues:unknownTimezone"


def _zone(s: SessionRows, when: datetime) -> str | None:
    """The zone the time ``when`` (UTC naive) is written in: None (``Z``) when unknown or
    UTC; a package's deployment: the offset the package wrote its nearest time in
    (:func:`~fieldtool.camtrap.origin.offset_at`: -05:00 stays, not the run's UTC)."""
    if not s.time_zone_known:
        return None
    return package.offset_at(s.zones, when) or s.time_zone or None


def _time(when: Any, s: SessionRows, rounding: Rounding = "nearest") -> str:
    """``when`` in the session's zone; ``rounding``: an interval's start "down", end "up"."""
    import pandas as pd

    if when is None or pd.isna(when):
        return ""
    utc = pd.Timestamp(when).to_pydatetime()
    return format_time(utc, _zone(s, utc), rounding)


def _utc(when: Any) -> str:
    """A machine-clock time (review, classification): always UTC."""
    import pandas as pd

    if when is None or pd.isna(when):
        return ""
    return format_time(pd.Timestamp(when).to_pydatetime())


def _num(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return re.sub(r"[\r\n]+", " ", str(value)).strip()


def _deployment_ids(sessions: list[SessionRows]) -> dict[str, str]:
    """session id -> deploymentID: the source name, else the session id; a name two
    sessions share gets the later session's id appended (deploymentID is a primary key)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for s in sessions:
        name = (s.source_name or "").strip() or s.session_id
        if name in taken:
            name = f"{name}-{s.session_id[:8]}"
        taken.add(name)
        ids[s.session_id] = name
    return ids


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _spread_note(s: SessionRows) -> str:
    """Said of a deployment whose positions lie wider apart than a camera trap's place."""
    if s.spread_m <= WIDE_SPREAD_M:
        return ""
    return (f"its positions ({s.place_from}) spread up to {s.spread_m / 1000:.1f} km from "
            f"their centroid, more than a camera trap's {WIDE_SPREAD_M / 1000:g} km: not one "
            "camera's place; coordinateUncertainty covers them all")  # fmt: skip


def _clock_note(s: SessionRows, dated: list[Photo]) -> tuple[bool, str]:
    """(timestampIssues, what deploymentComments says of it): a local clock of unknown zone
    (any photo; a session without photos: the session), or times that are not when the
    media was recorded (:data:`GUESSED_TIME_SOURCES`: the session's, or a photo's)."""
    notes = []
    if s.time_source in GUESSED_TIME_SOURCES:
        notes.append(f"timestamps are {GUESSED_TIME_SOURCES[s.time_source]} "
                     f"(time source {s.time_source}), not when the media was recorded")  # fmt: skip
    guessed = Counter(p.time_source for p in dated if p.time_source in GUESSED_TIME_SOURCES)
    for source, n in sorted(guessed.items()):
        notes.append(f"{n} of {len(dated)} photos' timestamps are {GUESSED_TIME_SOURCES[source]} "
                     f"(time source {source}; their mediaComments say so)")  # fmt: skip
    local = sum(p.local_clock for p in dated)
    if local and local < len(dated):
        notes.append(f"{local} of {len(dated)} photos' timestamps are {LOCAL_CLOCK} "
                     "(their mediaComments say so); the others are UTC")  # fmt: skip
    elif local or (not dated and not s.time_zone_known):
        notes.append(f"timestamps are {LOCAL_CLOCK}")
    return bool(notes), _joined(*notes)


def _deployment_row(s: SessionRows, dep: str, db: Path, period: str = "") -> dict[str, str]:
    """The deployment of a session; ``timestampIssues`` by :func:`_clock_note`;
    ``period``: what the comments say of its start and end; cameraID/cameraModel from one
    photo's EXIF where its file is at hand (:func:`exif_camera`), else ``media.camera``
    as cameraID."""
    dated = [p for p in s.photos if p.captured_at is not None]  # the media rows written
    issues, clock = _clock_note(s, dated)
    camera_id, model = exif_camera(s.photos, db) or (_text(main_camera(s.photos)), "")
    uncertainty = s.uncertainty_m
    return {
        "deploymentID": dep,
        "latitude": _num(s.lat, 7),
        "longitude": _num(s.lon, 7),
        "coordinateUncertainty": str(max(1, math.ceil(uncertainty))) if uncertainty else "",
        "deploymentStart": _time(s.start, s, "down"),
        "deploymentEnd": _time(s.end, s, "up"),
        "cameraID": camera_id,
        "cameraModel": model,
        "timestampIssues": "true" if issues else "false",
        "deploymentComments": _joined(f"{package.SESSION_NOTE}{s.session_id}, source {s.source}",
                                      period, clock, _spread_note(s)),  # fmt: skip
    }


def _media_type(path: str) -> str:
    kind = mimetypes.guess_type(path)[0]
    if kind and kind.split("/")[0] in ("image", "video", "audio"):
        return kind
    return f"image/{Path(path).suffix.lstrip('.').lower() or 'unknown'}"


def _media_rows(
    s: SessionRows, dep: str, db: Path, used: Layout, origin: package.Origin | str | None = None
) -> MediaRows:  # fmt: skip
    """Media rows of a session's photos (files to copy to ``filePath``: ``media/<deployment>/``
    and their path below the folder the session ran, a package's photo where its package
    put it, :func:`~fieldtool.camtrap.files.package_path`; ``used``: the paths taken, the
    copies planned, gets theirs); returns frame_index -> (mediaID, row)."""
    own = isinstance(origin, package.Origin)
    root = origin.package if isinstance(origin, package.Origin) else session_root(s.source)
    rows: MediaRows = {}
    for p in s.photos:
        if p.captured_at is None:
            continue  # the standard requires a timestamp
        name = Path(p.path).name
        rel = package_path(p.path, root, used.folder(dep), str(p.frame_index), used,
                           own_layout=own)  # fmt: skip
        src = source_file(p.path, db)
        comment = ""
        if src is None:
            used.missing.append(p.path)
            comment = f"file not found at export: {p.path}"
        else:
            used.copies.append((src, rel, f"session {s.session_id}"))
        if p.time_source in GUESSED_TIME_SOURCES:
            comment = _joined(f"timestamp is {GUESSED_TIME_SOURCES[p.time_source]}", comment)
        if p.local_clock:
            comment = _joined(f"timestamp is {LOCAL_CLOCK}", comment)
        media_id = own_media_id(dep, p.frame_index)
        rows[p.frame_index] = (media_id, {
            "mediaID": media_id, "deploymentID": dep, "timestamp": _time(p.captured_at, s),
            "filePath": rel, "filePublic": "false", "fileName": name,
            "fileMediatype": _media_type(name), "mediaComments": comment,
        })  # fmt: skip
    return rows


def _clock_flags(local: bool, tags: list[str], comments: str = "") -> tuple[str, str]:
    """(observationTags, observationComments) of an observation, flagged when its times are
    a local clock of unknown zone."""
    if not local:
        return "|".join(tags), comments
    return "|".join([*tags, LOCAL_CLOCK_TAG]), _joined(f"eventStart/eventEnd are {LOCAL_CLOCK}",
                                                       comments)  # fmt: skip


def _observation_type(species: str) -> str:
    from fieldtool.names import species_key

    return "human" if species_key(species) == "homo sapiens" else "animal"


def _scientific(species: str) -> str:
    """A genus-level sighting ("Acer sp.") is the genus."""
    return species[:-4] if species.endswith(" sp.") else species


def _event_rows(
    frame: pd.DataFrame, deps: dict[str, str], sessions: dict[str, SessionRows],
    extra: dict[str, tuple[str | None, datetime | None]], written: set[str],
    events: dict[str, EventIds],
) -> tuple[list[dict[str, str]], int]:  # fmt: skip
    """One event-level observation per sighting in force, flagged when its times are a
    local clock (the sighting's own label: its photos' clocks, :func:`zone_known`). A
    sighting whose review in force the package's observations ``written`` back decided
    is theirs: not written twice (``docs/camtrap.md``); returns the rows and how many
    sightings are so carried by the package's rows."""
    from fieldtool.camtrap.reviews import noted_observations

    rows, carried = [], 0
    for r, known in zip(frame.itertuples(index=False), zone_known(frame), strict=True):
        s = sessions.get(r.session_id)
        if s is None or r.session_id not in deps:
            continue
        if (decided := noted_observations(r.review_note)) and decided <= written:
            carried += 1
            continue
        event_id, updated_at = extra.get(r.sighting_id, (None, None))
        sequences = events[r.session_id].sequence if r.session_id in events else {}
        event_id = sequences.get(_text(event_id)) or event_id
        human = r.review in HUMAN_DECISIONS
        tags = [f"peakScore:{r.peak_score:.4f}", f"meanScore:{r.mean_score:.4f}",
                f"frames:{r.frames}"]  # fmt: skip
        if r.review == "relabel":
            tags.append(f"predicted:{r.predicted_species}")
        tag_text, comments = _clock_flags(not bool(known), tags, _text(r.review_note))
        rows.append({
            "observationID": str(r.sighting_id), "deploymentID": deps[r.session_id],
            "eventID": _text(event_id) or str(r.sighting_id),
            "eventStart": _time(r.first_seen, s, "down"), "eventEnd": _time(r.last_seen, s, "up"),
            "observationLevel": "event", "observationType": _observation_type(str(r.species)),
            "scientificName": _scientific(str(r.species)),
            "classificationMethod": "human" if human else "machine",
            "classifiedBy": _text(r.reviewer) if human else _text(r.model_id),
            "classificationTimestamp": _utc(r.reviewed_at) if human else _utc(updated_at),
            "classificationProbability": "" if human else _num(as_float(r.mean_score), 4),
            "observationTags": tag_text, "observationComments": comments,
        })  # fmt: skip
    return rows, carried


def _rejections(
    s: SessionRows, dep: str, ids: EventIds, written: set[str]
) -> list[dict[str, str]]:
    """A rejected sighting as the reviewer's classification of its event: ``unknown`` (the
    reviewer said what it is not, not what was recorded), ``classificationMethod`` human,
    the rejected species in ``observationTags`` (``rejected:<species>``) and
    ``observationComments``; its observationID the sighting's, as when the machine's row
    was written (the standard's classification fields are the most recent one's). A
    rejection the package's observations ``written`` back decided is theirs."""
    from fieldtool.camtrap.reviews import REJECTED_TAG, noted_observations

    rows = []
    for r in s.rejected:
        if (decided := noted_observations(r.note)) and decided <= written:
            continue
        local = any(p.local_clock for p in s.photos if r.event_id and p.event_id == r.event_id)
        said = f"a reviewer rejected the model's {r.species} (what was recorded is not said)"
        tags, comments = _clock_flags(local, [f"{REJECTED_TAG}{r.species}"],
                                      _joined(said, _text(r.note)))  # fmt: skip
        rows.append({
            "observationID": r.sighting_id, "deploymentID": dep,
            "eventID": ids.sequence.get(_text(r.event_id)) or _text(r.event_id)
            or r.sighting_id, "eventStart": _time(r.first_seen, s, "down"),
            "eventEnd": _time(r.last_seen, s, "up"), "observationLevel": "event",
            "observationType": "unknown", "classificationMethod": "human",
            "classifiedBy": _text(r.reviewer), "classificationTimestamp": _utc(r.reviewed_at),
            "observationTags": tags, "observationComments": comments,
        })  # fmt: skip
    return rows


def _blank_events(
    s: SessionRows, dep: str, media: MediaRows, theirs: set[int], ids: EventIds
) -> list[dict[str, str]]:
    """A ``blank`` event-level observation per photo sequence without any sighting (none
    where a package's observation classifies a photo of it: frame indices ``theirs``)."""
    events: dict[str, list[Photo]] = {}
    for p in s.photos:
        if p.event_id and p.event_id not in s.sighted_events and p.frame_index in media:
            events.setdefault(p.event_id, []).append(p)
    rows = []
    for event_id, photos in events.items():
        if any(p.frame_index in theirs for p in photos):
            continue
        times = [p.captured_at for p in photos if p.captured_at is not None]
        tags, comments = _clock_flags(any(p.local_clock for p in photos), [])
        event = ids.sequence.get(event_id, event_id)
        rows.append({
            "observationID": f"{dep}_{event}_blank", "deploymentID": dep,
            "eventID": event, "eventStart": _time(min(times), s, "down"),
            "eventEnd": _time(max(times), s, "up"), "observationLevel": "event",
            "observationType": "blank", "classificationMethod": "machine",
            "classifiedBy": s.model_id, "classificationTimestamp": _utc(s.classified_at),
            "observationTags": tags, "observationComments": comments,
        })  # fmt: skip
    return rows


def _media_observations(
    s: SessionRows, dep: str, media: MediaRows, theirs: set[int], ids: EventIds
) -> list[dict[str, str]]:
    """One media-level observation per photo with a detection (no ``blank`` over a
    package's observation of it: frame indices ``theirs``)."""
    rows = []
    for p in s.photos:
        if not p.detected or p.frame_index not in media:
            continue
        media_id = media[p.frame_index][0]
        species = p.top_species if (p.top_score or 0.0) >= s.exit_threshold else None
        if species is None and p.frame_index in theirs:
            continue
        tags, comments = _clock_flags(p.local_clock, [])
        rows.append({
            "observationID": f"{media_id}_1", "deploymentID": dep, "mediaID": media_id,
            "eventID": ids.photo.get(p.frame_index, ""), "eventStart": _time(p.captured_at, s),
            "eventEnd": _time(p.captured_at, s), "observationLevel": "media",
            "observationType": _observation_type(species) if species else "blank",
            "scientificName": _scientific(species) if species else "",
            "classificationMethod": "machine", "classifiedBy": s.model_id,
            "classificationTimestamp": _utc(s.classified_at),
            "classificationProbability": _num(p.top_score, 4) if species else "",
            "observationTags": tags, "observationComments": comments,
        })  # fmt: skip
    return rows


def _csv(rows: list[dict[str, str]], resource: str) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS[resource], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in COLUMNS[resource]})
    return text.getvalue().encode("utf-8")


def write_package(
    db: Path | str,
    out: Path | str,
    filters: ExportFilter | None = None,
    *,
    title: str | None = None,
    creator: str = "fieldtool user",
    license: str = DEFAULT_LICENSE,
    package_id: str | None = None,
    timeout_s: float = 10.0,
    log: Callable[[str], None] | None = None,
) -> int:
    """Write ``db``'s sessions as a Camtrap DP package in the folder ``out`` (created;
    an earlier export there is replaced). Returns the number of sightings exported: their
    event-level observations, and those a package's observations written back carry.
    ``package_id``: the ``id`` (``--dataset-id``); None: the dataset's, as Darwin Core's
    packageId (a file that is one package run keeps its id: :func:`~.descriptor.identity`).
    An export never replaces a folder holding what it reads (the package its sessions ran:
    :func:`~fieldtool.camtrap.files.refuse_inside`), and writes in ``out`` first, replacing
    only what an export writes there: a refusal or failure leaves an earlier export whole. Filters:
    session to every table, since/until to photos and sightings, species and reviewed-only
    to the sightings (no ``blank`` events then). ``log`` gets a line per thing left out."""
    from fieldtool.export_dwc import check_dataset_id
    from fieldtool.store.maintenance import snapshot_folder

    db, out = Path(db), Path(out)
    filters = filters or ExportFilter()
    say = log or (lambda _line: None)
    if package_id is not None:
        package_id = check_dataset_id(package_id)  # one word, else refused
    check_license(license)  # refused before anything is read or written
    check_out(out)
    refuse_replaced(out, ((db, "the sightings database"),
                          (snapshot_folder(db), "the sightings database's snapshots")))  # fmt: skip
    sessions, frame, extra, species = load_sessions(db, filters, timeout_s=timeout_s, log=log)
    placed = [s for s in sessions if s.lat is not None and s.start is not None]
    refuse_inside(out, ((session_root(s.source), f"session {s.session_id}") for s in placed))
    if len(placed) < len(sessions):
        unplaced = [s.session_id for s in sessions if s not in placed]
        say(f"{db}: {len(unplaced)} session(s) without a position left out of the Camtrap "
            f"DP export (a deployment needs one): {', '.join(unplaced[:3])}"
            f"{' ...' if len(unplaced) > 3 else ''}")  # fmt: skip
    if not placed:
        raise FieldtoolError(f"{db}: nothing to export as Camtrap DP: no session with a "
                             "position (a deployment needs latitude and longitude)")  # fmt: skip
    said: list[str] = []  # said once the package is written: a refusal claims none of it
    try:
        count = _write(db, out, filters, placed, frame, extra, species, title=title,
                       creator=creator, license=license, package_id=package_id,
                       say=said.append, every=sessions, timeout_s=timeout_s)  # fmt: skip
    except OSError as exc:
        raise FieldtoolError(f"{out}: cannot write ({exc.strerror or exc})") from None
    for line in said:
        say(line)
    return count


def _write(
    db: Path, out: Path, filters: ExportFilter, placed: list[SessionRows], frame: pd.DataFrame,
    extra: dict[str, tuple[str | None, datetime | None]],
    species: dict[str, tuple[str, str | None, str | None]], *, title: str | None,
    creator: str, license: str, package_id: str | None, say: Callable[[str], None],
    every: list[SessionRows], timeout_s: float = 10.0,
) -> int:  # fmt: skip
    """The files of :func:`write_package`, every row decided (and anything refused) before
    a file is written (:func:`~fieldtool.camtrap.files.write_folder`); ``every``: the
    file's sessions, placed or not (a package's deployment no session ran is said)."""
    deps = _deployment_ids(placed)
    by_id = {s.session_id: s for s in placed}
    deployments: list[dict[str, str]] = []
    media: list[dict[str, str]] = []
    media_obs: list[dict[str, str]] = []
    blanks: list[dict[str, str]] = []
    back: list[dict[str, str]] = []  # the packages' own observations, written back
    all_sightings = not filters.species and not filters.reviewed_only
    packages: dict[str, Any] = {}  # each package read once
    taken: set[str] = set()  # mediaIDs written
    reserved: set[str] = set()  # the packages' observationIDs not written: never reused
    events: dict[str, EventIds] = {}
    rejections: list[dict[str, str]] = []
    windowed = filters.since is not None or filters.until is not None
    sighted = set(frame["session_id"])
    used = Layout()  # the package's file paths, the files to copy
    unclassified = Counter[str]()  # the packages' media carried through, by kind
    for s in placed:
        dep = deps[s.session_id]
        origin = package.session_origin(s, packages)
        if isinstance(origin, package.Origin):
            s.zones = origin.zones  # its times in the package's offsets
        rows = _media_rows(s, dep, db, used, origin)
        more = carry.Carried()
        if isinstance(origin, package.Origin):
            rows, ids = package.media_rows(rows, s, origin, taken)
            more = carry.carried(origin, s, dep, filters, used=used, taken=taken)
        if windowed and not rows and not more.rows and s.session_id not in sighted \
                and not s.rejected:
            del deps[s.session_id]  # nothing of it in the window: no deployment
            continue
        row = _deployment_row(s, dep, db, package.period_note(s, origin))
        if (note := _spread_note(s)):
            say(f"{db}: warning: deployment {dep}: {note}")
        theirs: set[int] = set()
        if isinstance(origin, package.Origin):
            row = package.deployment_row(row, origin, s)
            ids.update(more.ids)
            unclassified.update(more.kinds)
            back.extend(kept := package.written_back(origin, s, dep, rows, ids, filters,
                                                     more.times))  # fmt: skip
            # all the package says of its media, whatever the filters show of it
            said = package.written_back(origin, s, dep, rows, ids, ExportFilter(), more.times)
            theirs = package.covered(said, s, rows)
            reserved |= {r["observationID"] for r in said} - {r["observationID"] for r in kept}
            events[s.session_id] = event_ids(s, dep, rows, origin, ids)
        else:
            taken.update(media_id for media_id, _ in rows.values())
            events[s.session_id] = event_ids(s, dep, rows)
            if isinstance(origin, str):
                say(f"{db}: deployment {dep}: {origin}")
        deployments.append(row)
        media.extend([*(row for _, row in rows.values()), *more.rows])
        media_obs.extend(_media_observations(s, dep, rows, theirs, events[s.session_id]))
        if all_sightings:
            blanks.extend(_blank_events(s, dep, rows, theirs, events[s.session_id]))
        rejections.extend(_rejections(s, dep, events[s.session_id],
                                      {r["observationID"] for r in back}))  # fmt: skip
    if not deployments:
        raise FieldtoolError(f"{db}: nothing to export as Camtrap DP between --since and "
                             "--until: no photo or sighting of a placed session")  # fmt: skip
    unrun = carry.unrun([p for p in packages.values() if not isinstance(p, str)], every,
                        filters, say, deployments=set(deps.values()), used=used,
                        taken=taken)  # fmt: skip
    deployments, media = deployments + unrun.deployments, media + unrun.media
    unclassified.update(unrun.kinds)
    events_, carried = _event_rows(frame, deps, by_id, extra,
                                   {r["observationID"] for r in back}, events)  # fmt: skip
    observations = package.unique_ids(back + unrun.observations + events_ + rejections
                                      + blanks + media_obs, reserved)  # fmt: skip
    refuse_inside(out, ((src, whose) for src, _, whose in used.copies))
    for lost, why in ((used.missing, "not found"), (used.outside, "outside their package "
                      "not copied (a package's filePath must lie inside it)")):  # fmt: skip
        if lost:
            say(f"{db}: {len(lost)} media file(s) {why}, media rows written without their "
                f"file: {', '.join(lost[:3])}{' ...' if len(lost) > 3 else ''}")  # fmt: skip
    package_id, pkg_name = identity(db, package_id, filters, timeout_s=timeout_s)
    descriptor = package_descriptor(db, title or f"fieldtool sightings from {db.name}",
                                    creator, license, deployments, observations,
                                    species, package_id=package_id, name=pkg_name)  # fmt: skip
    tables = {f"{name}.csv": _csv(rows_, name) for name, rows_ in (
        ("deployments", deployments), ("media", media), ("observations", observations))}
    tables["datapackage.json"] = (json.dumps(descriptor, indent=2, ensure_ascii=False)
                                  + "\n").encode("utf-8")  # fmt: skip
    copied = write_folder(out, tables, used, say)
    say(f"{out}: {len(deployments)} deployments, {len(media)} media ({len(copied)} files, "
        f"{sum(copied):,} bytes copied), {len(events_)} event observations from sightings, "
        + (f"{len(rejections)} rejected by reviewers, " if rejections else "")
        + f"{len(blanks)} blank events, {len(media_obs)} media observations"
        + (f", {len(back) + len(unrun.observations)} of the packages' own observations"
           if back or unrun.observations else "")
        + (f", {sum(unclassified.values())} of the packages' media carried through "
           f"unclassified ({carry.counted(unclassified)})" if unclassified else ""))  # fmt: skip
    return len(events_) + carried
