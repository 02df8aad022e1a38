"""A Camtrap DP package's observations by people as reviews of the sightings of a run.

An annotated package (``observations.csv`` rows with ``classificationMethod`` human) says
what people saw in each event or photo. ``fieldtool run PACKAGE`` keeps that work: after a
deployment's session, each of its sightings that such observations overlap (the same
deployment, the event's or photo's times meeting the sighting's first..last seen) gets a
review, so the review in force, the export and ``fieldtool learn`` carry the people's word:

- the sighting's species among the people's species (:func:`fieldtool.names.label_key`):
  **confirm**;
- else exactly one species of theirs: **relabel** to it;
- else, no species of theirs but a ``blank``, ``human`` or ``vehicle``: **reject** (the
  species is not there);
- several other species, or only ``unknown``/``unclassified``: no review (counted as
  ambiguous; a person decides);
- but a person's ``unknown`` observation tagged ``rejected:<species>`` (how fieldtool
  exports a rejected sighting: ``docs/camtrap.md``) over a sighting of that species:
  **reject**, unless an observation naming the species is newer.

Machine observations (another tool's classifier) are not reviews. The reviewer is the
observation's ``classifiedBy`` (else "Camtrap DP package"), the time its
``classificationTimestamp`` (else now), the note names the package and observation ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fieldtool.camtrap.read import Observation, read_package
from fieldtool.names import label_key
from fieldtool.store import ReviewRow, add_reviews, query
from fieldtool.timebase import utc_now
from fieldtool.types import FieldtoolError, ReviewDecision

NOT_THERE = frozenset({"blank", "human", "vehicle"})  # observation types: no animal species
UNNAMED = "Camtrap DP package"  # the reviewer where classifiedBy is empty
# observationTags of a person's ``unknown`` row that rejects a machine's species
REJECTED_TAG = "rejected:"
# A review's note when a package's observations decided it (:func:`package_note`).
_NOTE = re.compile(r"^from .*: observation\(s\) (?P<ids>.+)$")


def package_note(source: str, ids: Sequence[str]) -> str:
    """The note of a review the package ``source``'s observations ``ids`` decided."""
    return f"from {source or 'a Camtrap DP package'}: observation(s) {', '.join(sorted(ids))}"


def noted_observations(note: object) -> frozenset[str]:
    """The observation ids a review's note names when a package's observations decided
    it (:func:`package_note`); empty for any other note (None, NaN: none)."""
    found = _NOTE.match(note) if isinstance(note, str) else None
    return frozenset(found["ids"].split(", ")) if found else frozenset()


@dataclass(frozen=True, slots=True)
class Span:
    """A sighting as the match needs it: its deployment and UTC first..last seen."""

    sighting_id: str
    deployment_id: str
    species: str
    first_seen: datetime  # UTC, naive
    last_seen: datetime


@dataclass
class ImportedReviews:
    """What the people's observations decide: ``reviews`` to store; ``ambiguous``: ids of
    sightings they overlap without a decision; ``unmatched``: their observations that meet
    no sighting (something people saw that the run did not)."""

    reviews: list[ReviewRow] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    unmatched: int = 0
    observations: int = 0  # by people, of those given

    def line(self, name: str) -> str:
        """``dep-north: 3 of the package's observations by people: 1 confirmed, ...``"""
        counts = {d: sum(r.decision == d for r in self.reviews) for d in ReviewDecision}
        said = [f"{counts[ReviewDecision.CONFIRM]} confirmed",
                f"{counts[ReviewDecision.RELABEL]} relabelled",
                f"{counts[ReviewDecision.REJECT]} rejected"]  # fmt: skip
        parts = [p for p in said if not p.startswith("0 ")] or ["no sighting reviewed"]
        if self.ambiguous:
            parts.append(f"{len(self.ambiguous)} left unreviewed (several other species or "
                         "only unknown ones)")  # fmt: skip
        if self.unmatched:
            parts.append(f"{self.unmatched} meet no sighting of this run")
        return (f"{name}: {self.observations} of the package's observations by people: "
                f"{', '.join(parts)}")  # fmt: skip


def _by_people(observation: Observation) -> bool:
    return (observation.classification_method or "").strip().lower() == "human"


def _rejects(observation: Observation, species: str) -> bool:
    """Whether ``observation`` is a person's rejection of ``species`` (:data:`REJECTED_TAG`)."""
    if observation.type != "unknown" or not observation.tags:
        return False
    named = [t.strip()[len(REJECTED_TAG):] for t in observation.tags.split("|")
             if t.strip().startswith(REJECTED_TAG)]  # fmt: skip
    return any(label_key(n) == label_key(species) for n in named)


def _stamp(observation: Observation) -> datetime:
    return observation.classification_timestamp or datetime.min


def reviews_from_observations(
    observations: Sequence[Observation], sightings: Sequence[Span], source: str = ""
) -> ImportedReviews:
    """The decisions of the module doc over ``observations`` (those by people count; the
    caller picks the ones of the photos its sightings are of); ``source`` names the
    package in each note."""
    people = [o for o in observations if _by_people(o)]
    out = ImportedReviews(observations=len(people))
    met: set[str] = set()
    for s in sightings:
        over = [o for o in people if o.deployment_id == s.deployment_id
                and o.event_start <= s.last_seen and o.event_end >= s.first_seen]  # fmt: skip
        if not over:
            continue
        met.update(o.observation_id for o in over)
        named = [o for o in over if o.type == "animal" and o.scientific_name]
        same = [o for o in named if label_key(o.scientific_name or "") == label_key(s.species)]
        others = {label_key(o.scientific_name or ""): o for o in named}
        rejecting = [o for o in over if _rejects(o, s.species)]
        if rejecting and not any(_stamp(o) > max(map(_stamp, rejecting)) for o in same):
            decision, species, basis = ReviewDecision.REJECT, s.species, rejecting
        elif same:
            decision, species, basis = ReviewDecision.CONFIRM, s.species, same
        elif len(others) == 1:
            (only,) = others.values()
            decision, species, basis = ReviewDecision.RELABEL, only.scientific_name or "", named
        elif not named and (gone := [o for o in over if o.type in NOT_THERE]):
            decision, species, basis = ReviewDecision.REJECT, s.species, gone
        else:
            out.ambiguous.append(s.sighting_id)
            continue
        newest = max(basis, key=_stamp)
        out.reviews.append(ReviewRow(
            s.sighting_id, str(decision), species,
            (newest.classified_by or "").strip() or UNNAMED,
            newest.classification_timestamp or utc_now(),
            package_note(source, list({o.observation_id for o in basis})),
        ))  # fmt: skip
    out.unmatched = sum(o.observation_id not in met for o in people)
    return out


def review_session(
    db: Path | str, session_id: str, package: Path | str, deployment_id: str | None,
    log: Callable[[str], None], *, timeout_s: float = 10.0,
    read: dict[str, tuple[Observation, ...]] | None = None,
) -> ImportedReviews | None:  # fmt: skip
    """Store the reviews the package's observations by people decide for one session's
    sightings (``deployment_id``'s; None: the session's ``source_name``): its observations
    within the span of the photos the session read; its line goes to ``log`` where there
    are any by people. A file that cannot take them is said, not raised (None): the
    sightings stay, unreviewed. ``read``: packages' observations read already, by path
    (a caller reviewing each deployment of a package reads its tables once)."""
    try:
        if read is None:
            read = {}
        if str(package) not in read:
            read[str(package)] = read_package(package).observations
        observations = read[str(package)]
        return _review_session(db, session_id, observations, str(package), deployment_id,
                               log, timeout_s)  # fmt: skip
    except FieldtoolError as exc:
        log(f"warning: {package}: the package's observations by people were not stored as "
            f"reviews ({exc}); the sightings are stored unreviewed")  # fmt: skip
        return None


def _review_session(
    db: Path | str, session_id: str, observations: Sequence[Observation], package: str,
    deployment_id: str | None, log: Callable[[str], None], timeout_s: float,
) -> ImportedReviews:  # fmt: skip
    if deployment_id is None:
        named = query(db, "SELECT source_name FROM sessions WHERE session_id = ?",
                      [session_id], timeout_s=timeout_s)  # fmt: skip
        deployment_id = None if named.empty else named["source_name"].iloc[0]
        if not isinstance(deployment_id, str) or not deployment_id:
            return ImportedReviews()  # photos of several deployments in one session
    rows = query(db, "SELECT sighting_id, species, first_seen, last_seen FROM sightings "
                     "WHERE session_id = ?", [session_id], timeout_s=timeout_s)  # fmt: skip
    spans = [Span(str(r.sighting_id), deployment_id, str(r.species),
                  r.first_seen.to_pydatetime(), r.last_seen.to_pydatetime())
             for r in rows.itertuples()]  # fmt: skip
    ran = query(db, "SELECT min(captured_at) AS first, max(captured_at) AS last FROM media "
                    "WHERE session_id = ?", [session_id], timeout_s=timeout_s)  # fmt: skip
    if ran.empty or ran["first"].isna().iloc[0]:
        return ImportedReviews()
    first, last = (ran[c].iloc[0].to_pydatetime() for c in ("first", "last"))
    # the observations of the photos this run read (not of the package's remote ones)
    mine = [o for o in observations if o.deployment_id == deployment_id
            and o.event_start <= last and o.event_end >= first]  # fmt: skip
    found = reviews_from_observations(mine, spans, package)
    if found.observations:
        add_reviews(db, found.reviews, timeout_s=timeout_s)
        log(found.line(deployment_id))
    return found
