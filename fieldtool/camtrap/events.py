"""The eventIDs of a Camtrap DP export: the same photos get the same eventID in every export
and round trip, and a photo of a package's event keeps that event's id.

A session's photos are grouped in sequences when it runs (``media.event_id``); that id
hashes the photo's path and camera, which a round trip changes (the package's copy is
another path). So the export names each sequence from what a round trip keeps, the
deployment and the mediaID of the sequence's first photo in the session, written or not
(an export whose ``--since``/``--until`` cuts into the sequence names it as a full export
does; :func:`derived_id`), unless the package the
session ran (:mod:`fieldtool.camtrap.origin`) already puts its photos in an event: its
media-level observations' ``eventID`` for that photo, else an event-level observation of
the deployment whose ``eventStart``..``eventEnd`` holds its timestamp. A sequence whose
photos lie in a package's event takes the event of its first such photo (its
event-level observations then name it); each photo's own observations name its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from fieldtool.camtrap.origin import MediaRows, Origin
from fieldtool.camtrap.rows import SessionRows, own_media_id
from fieldtool.sources import source_key


@dataclass
class EventIds:
    """A session's exported eventIDs: by photo (frame index) and by its run's sequence
    (``media.event_id``)."""

    photo: dict[int, str] = field(default_factory=dict)
    sequence: dict[str, str] = field(default_factory=dict)


def derived_id(deployment_id: str, first_media_id: str) -> str:
    """A sequence's eventID from its deployment and the mediaID of its first photo in the
    session (16 hex): the same in every export and round trip of those photos."""
    key = f"{deployment_id}|{first_media_id}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _package_events(origin: Origin | None, ids: dict[str, str]) -> tuple[
        dict[str, str], list[tuple[datetime, datetime, str]]]:  # fmt: skip
    """(exported mediaID -> package eventID, [(start, end, eventID)] of event-level ones)."""
    if origin is None:
        return {}, []
    by_media = {ids[o.media_id]: o.event_id for o, _ in origin.observations
                if o.media_id is not None and o.media_id in ids and o.event_id}  # fmt: skip
    spans = [(o.event_start, o.event_end, o.event_id) for o, _ in origin.observations
             if o.media_id is None and o.event_id]  # fmt: skip
    return by_media, spans


def _first_media_id(
    s: SessionRows, dep: str, sequence: str, frames: list[int], media: MediaRows,
    origin: Origin | None,
) -> str:  # fmt: skip
    """The mediaID of the sequence's first photo in the session (:attr:`SessionRows.firsts`):
    as written where it is; one the window left out: its package's mediaID, else fieldtool's
    (:func:`fieldtool.camtrap.rows.own_media_id`), as a full export writes it."""
    frame, path = s.firsts.get(sequence, (frames[0], ""))
    if frame in media:
        return media[frame][0]
    given = origin.media.get(source_key(path)) if origin is not None and path else None
    return (given or {}).get("mediaID") or own_media_id(dep, frame)


def event_ids(
    s: SessionRows, dep: str, media: MediaRows, origin: Origin | None = None,
    ids: dict[str, str] | None = None,
) -> EventIds:  # fmt: skip
    """The eventIDs of the exported photos of ``s`` (``media``: frame index -> (mediaID,
    row)); ``origin``/``ids``: the package the session ran and its mediaID -> the exported
    one (:func:`fieldtool.camtrap.origin.media_rows`)."""
    by_media, spans = _package_events(origin, ids or {})
    out = EventIds()
    own: dict[int, str] = {}
    groups: dict[str, list[int]] = {}
    for p in sorted(s.photos, key=lambda p: (p.captured_at is None, p.captured_at, p.frame_index)):
        if p.frame_index not in media:
            continue
        media_id = media[p.frame_index][0]
        found = by_media.get(media_id)
        if found is None and p.captured_at is not None and not p.local_clock:
            when = p.captured_at
            found = next((e for a, b, e in spans if a <= when <= b), None)
        if found:
            own[p.frame_index] = found
        groups.setdefault(p.event_id or f"\0{p.frame_index}", []).append(p.frame_index)
    for sequence, frames in groups.items():
        theirs = next((own[f] for f in frames if f in own), None)
        event = theirs or derived_id(dep, _first_media_id(s, dep, sequence, frames, media,
                                                          origin))  # fmt: skip
        if not sequence.startswith("\0"):
            out.sequence[sequence] = event
        for f in frames:
            out.photo[f] = own.get(f, event)
    return out
