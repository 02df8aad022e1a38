"""What a target is told: one :class:`Notice` per sighting event (start, end, review).

Its JSON body (:meth:`Notice.body`) is the same for MQTT and webhooks; ``docs/station.md``
shows one. Times are ISO 8601 UTC with a ``Z``; scores are 0-1.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fieldtool.notify.config import EventKind
from fieldtool.types import Sighting


def iso_utc(when: datetime | None) -> str | None:
    """A naive UTC time (the store's convention) as ISO 8601 with ``Z``."""
    return None if when is None else when.replace(tzinfo=None).isoformat() + "Z"


@dataclass(frozen=True)
class Scores:
    """Scores (0-1) of a sighting's species: ``raw`` from the classifier and ``fused``
    after the range prior, both at the peak frame (None when not known, e.g. a genus);
    ``peak`` and ``mean``: the smoothed score's maximum and mean over the sighting."""

    raw: float | None
    fused: float | None
    peak: float
    mean: float


@dataclass(frozen=True)
class Notice:
    """One sighting event for the targets."""

    event: EventKind
    station: str
    source: str  # the station's name of the camera
    sighting_id: str
    session_id: str
    species: str
    common_name: str
    scores: Scores
    first_seen: str | None  # ISO UTC
    last_seen: str | None
    status: str  # "open" or "closed"
    lat: float | None = None  # degrees WGS84, at the peak
    lon: float | None = None
    snapshot_path: str | None = None  # relative to the database's folder
    dashboard_url: str | None = None  # the sighting on the dashboard
    review: dict[str, Any] | None = None  # review events: decision, species, reviewer, note
    notice_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # dedup on the far side
    sent_at: str | None = None  # ISO UTC, set when built

    def body(self) -> dict[str, Any]:
        """The JSON body of the event (MQTT payload and webhook POST)."""
        data = asdict(self)
        data["place"] = {"lat": data.pop("lat"), "lon": data.pop("lon")}
        return data

    @classmethod
    def from_body(cls, data: dict[str, Any]) -> Notice:
        """The notice a :meth:`body` was made of (dead-letter replay)."""
        data = dict(data)
        place = data.pop("place", None) or {}
        scores = Scores(**data.pop("scores"))
        return cls(**data, scores=scores, lat=place.get("lat"), lon=place.get("lon"))


def dashboard_link(base: str, sighting_id: str) -> str | None:
    """The sighting's address on the dashboard (``?sighting=<id>``), None without a base."""
    if not base:
        return None
    return f"{base.rstrip('/')}/?sighting={quote(sighting_id)}"


def notice_of(
    event: EventKind,
    sighting: Sighting,
    *,
    station: str,
    source: str,
    raw: float | None,
    fused: float | None,
    dashboard_url: str = "",
    sent_at: datetime | None = None,
    review: dict[str, Any] | None = None,
) -> Notice:
    """The notice of one event of ``sighting``."""
    return Notice(
        event=event, station=station, source=source, sighting_id=sighting.sighting_id,
        session_id=sighting.session_id, species=sighting.species,
        common_name=sighting.common_name,
        scores=Scores(raw, fused, float(sighting.peak_score), float(sighting.mean_score)),
        first_seen=iso_utc(sighting.first_seen), last_seen=iso_utc(sighting.last_seen),
        status=sighting.status, lat=sighting.latitude, lon=sighting.longitude,
        snapshot_path=sighting.snapshot_path,
        dashboard_url=dashboard_link(dashboard_url, sighting.sighting_id), review=review,
        sent_at=iso_utc(sent_at),
    )  # fmt: skip


def review_notice(
    db: Path | str, review_id: str, *, station: str, dashboard_url: str = ""
) -> Notice:
    """The notice of a stored review (``reviews`` row ``review_id``) of a sighting."""
    from fieldtool.store import query
    from fieldtool.timebase import utc_now
    from fieldtool.types import FieldtoolError

    rows = query(
        db,
        "SELECT r.decision, r.species AS new_species, r.reviewer, r.note, r.reviewed_at, "
        "s.*, coalesce(ss.source_name, ss.source) AS source_name "
        "FROM reviews r JOIN sightings s USING (sighting_id) "
        "LEFT JOIN sessions ss USING (session_id) WHERE r.review_id = ?",
        [review_id],
    )
    if rows.empty:
        raise FieldtoolError(f"{db}: no review {review_id!r}")
    r = rows.iloc[0]
    sighting = Sighting(
        sighting_id=str(r["sighting_id"]), session_id=str(r["session_id"]),
        species=str(r["species"]), common_name=str(r["common_name"] or ""),
        first_seen=r["first_seen"].to_pydatetime(), last_seen=r["last_seen"].to_pydatetime(),
        first_t=float(r["first_t"]), last_t=float(r["last_t"]), frames=int(r["frames"]),
        peak_score=float(r["peak_score"]), score_sum=float(r["mean_score"]) * int(r["frames"]),
        latitude=_number(r["latitude"]), longitude=_number(r["longitude"]),
        snapshot_path=r["snapshot_path"] if isinstance(r["snapshot_path"], str) else None,
        status="closed" if r["status"] == "closed" else "open",
    )  # fmt: skip
    review = {
        "review_id": review_id, "decision": str(r["decision"]),
        "species": str(r["new_species"]), "reviewer": str(r["reviewer"]),
        "note": str(r["note"] or ""), "reviewed_at": iso_utc(r["reviewed_at"].to_pydatetime()),
    }  # fmt: skip
    return notice_of(
        "review", sighting, station=station, source=str(r["source_name"]), raw=None,
        fused=None, dashboard_url=dashboard_url, sent_at=utc_now(), review=review,
    )  # fmt: skip


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN: none
