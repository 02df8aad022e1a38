"""A person's decision on a sighting: confirm, reject, or relabel to another species.

A review is one short write of its own (the dashboard's, or a SQL user's); it never
changes the sighting row. The newest review of a sighting is the one in force:
:data:`fieldtool.store.views.LATEST_REVIEW_SQL`; of two at one time, the later-written
(fieldtool moves it 1 µs on). An undo deletes nothing: it is a newer row
whose ``supersedes`` names the review taken back and whose decision is the one that was in
force before it (:data:`~fieldtool.store.views.NO_DECISION` when there was none).

What a reviewer's input is checked against before a write (``fieldtool review``): the
sightings of the ids given (:func:`sighting_species`) and the file's species names
(:func:`species_names`, matched by :func:`same_species`).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fieldtool.names import label_key, plain_key
from fieldtool.store.locking import connect
from fieldtool.store.maintenance import commit
from fieldtool.store.schema import (
    SCHEMA_VERSION,
    SPECIES_FROM,
    ensure_schema,
    has_table,
    schema_version,
    upgrade_notice,
)
from fieldtool.store.views import (
    KNOWN_DECISIONS,
    NO_DECISION,
    UNKNOWN_DECISIONS_SQL,
    decision_sql,
    normal_decision,
    normal_note,
)
from fieldtool.timebase import utc_naive, utc_now
from fieldtool.types import FieldtoolError, ReviewDecision

log = logging.getLogger(__name__)

REVIEW_DECISIONS: tuple[str, ...] = tuple(decision.value for decision in ReviewDecision)


def add_review(
    path: Path | str,
    sighting_id: str,
    decision: str,
    *,
    reviewer: str,
    species: str | None = None,
    note: str | None = None,
    timeout_s: float = 10.0,
    log: Callable[[str], None] | None = None,
) -> str:
    """Store a person's decision on a sighting (one short write); returns the review id.
    ``note``: None, empty or only white space is no note (stored NULL).

    The review is the newest of its sighting, so it is the one in force: stamped now, or
    1 µs after the sighting's newest review where that one is stamped later (a package's
    timestamps in the future, this clock behind), which a warning then says. An older
    file is upgraded first; ``log`` hears that it was.
    """
    decision = normal_decision(decision)
    if decision not in REVIEW_DECISIONS:
        raise FieldtoolError(f"review decision {decision!r}: expected one of {REVIEW_DECISIONS}")
    relabel = decision == ReviewDecision.RELABEL
    if relabel and not species:
        raise FieldtoolError("review decision 'relabel' needs the new species")
    if not reviewer.strip():
        raise FieldtoolError("review needs a reviewer name")
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        _up_to_date(con, path, log)
        row = con.execute(
            "SELECT species FROM sightings WHERE sighting_id = ?", [sighting_id]
        ).fetchone()
        if row is None:
            raise FieldtoolError(f"{path}: no sighting {sighting_id!r}")
        when = _newest_time(con, sighting_id, say=True)
        review = ReviewRow(sighting_id, decision, species or row[0], reviewer.strip(), when,
                           note)  # fmt: skip
        return _insert(con, [review])[0]


def _newest_time(con: duckdb.DuckDBPyConnection, sighting_id: str, *, say: bool = False
                 ) -> datetime:  # fmt: skip
    """When a new review of ``sighting_id`` is stamped (UTC, naive): now, or 1 µs after the
    sighting's newest review if that one is later (then ``say`` logs a warning)."""
    now = utc_now()
    last = con.execute(
        "SELECT reviewed_at, reviewer FROM reviews WHERE sighting_id = ? "
        "ORDER BY reviewed_at DESC, review_id DESC LIMIT 1",
        [sighting_id],
    ).fetchone()
    if last is None or last[0] is None or utc_naive(last[0]) < now:
        return now
    when = utc_naive(last[0]) + timedelta(microseconds=1)
    if say:
        log.warning(
            "review of %s stamped %sZ, past this clock (%sZ), to be the newest of the "
            "sighting: %s's review of it is stamped %sZ",
            sighting_id, when.isoformat(), now.isoformat(timespec="seconds"), last[1],
            utc_naive(last[0]).isoformat(),
        )  # fmt: skip
    return when


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A decision to store: ``species`` the reviewer's (the predicted one when confirming);
    ``reviewed_at`` UTC, naive (the newest review of a sighting is the one in force);
    ``note`` None, empty or only white space: no note (stored NULL)."""

    sighting_id: str
    decision: str
    species: str
    reviewer: str
    reviewed_at: datetime
    note: str | None = None


def add_reviews(path: Path | str, reviews: Sequence[ReviewRow], *, timeout_s: float = 10.0,
                log: Callable[[str], None] | None = None) -> list[str]:  # fmt: skip
    """Store many decisions in one transaction (an imported package's observations by
    people: :mod:`fieldtool.camtrap.reviews`); returns their review ids. Each names a
    sighting of the file, a decision and a reviewer, checked before anything is written.
    Each keeps its time, but one at the time of another review of its sighting is stamped
    1 µs after it: the later-written of the two is in force."""
    for review in reviews:
        if normal_decision(review.decision) not in REVIEW_DECISIONS or not review.reviewer.strip():
            raise FieldtoolError(f"review of {review.sighting_id}: decision "
                                 f"{review.decision!r} by {review.reviewer!r} is not one to store")  # fmt: skip
    if not reviews:
        return []
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        _up_to_date(con, path, log)
        known = {r[0] for r in con.execute(
            "SELECT sighting_id FROM sightings WHERE list_contains(CAST(? AS VARCHAR[]), "
            "sighting_id)", [[r.sighting_id for r in reviews]]).fetchall()}  # fmt: skip
        if missing := [r.sighting_id for r in reviews if r.sighting_id not in known]:
            raise FieldtoolError(f"{path}: no sighting {missing[0]!r}")
        con.execute("BEGIN")
        ids = _insert(con, _apart(con, reviews))
        commit(con)
    return ids


def _apart(con: duckdb.DuckDBPyConnection, reviews: Sequence[ReviewRow]) -> list[ReviewRow]:
    """``reviews`` with each one stamped at the time of another review of its sighting
    (stored, or earlier in ``reviews``) moved 1 µs past it: of reviews at one time, the
    later-written is the newer, so in force (review ids order only a SQL user's ties).
    Further only past reviews of ``reviews`` moved so: a stored review stamped later is in
    force over both, and a review moved past it would take its place (an undo overridden
    by an older review), so there the tie is left to the review ids."""
    stored = set(con.execute(
        "SELECT sighting_id, reviewed_at FROM reviews WHERE reviewed_at IS NOT NULL AND "
        "list_contains(CAST(? AS VARCHAR[]), sighting_id)",
        [sorted({r.sighting_id for r in reviews})]).fetchall())  # fmt: skip
    moved: set[tuple[str, datetime]] = set()  # slots this call gave
    out: list[ReviewRow] = []
    for review in reviews:
        stamped = when = utc_naive(review.reviewed_at)
        while (review.sighting_id, when) in stored or (review.sighting_id, when) in moved:
            when += timedelta(microseconds=1)
            if (review.sighting_id, when) in stored:  # a later stored review: not past it
                when = stamped
                break
        moved.add((review.sighting_id, when))
        out.append(replace(review, reviewed_at=when))
    return out


def _insert(con: duckdb.DuckDBPyConnection, reviews: Sequence[ReviewRow]) -> list[str]:
    """Insert ``reviews`` (and the species rows a relabel names); their review ids."""
    ids = [uuid.uuid4().hex for _ in reviews]
    con.executemany(
        "INSERT INTO reviews (review_id, sighting_id, decision, species, reviewer, "
        "reviewed_at, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [[i, r.sighting_id, normal_decision(r.decision), r.species, r.reviewer.strip(),
          r.reviewed_at, normal_note(r.note)] for i, r in zip(ids, reviews, strict=True)],
    )  # fmt: skip
    relabelled = sorted({r.species for r in reviews
                         if normal_decision(r.decision) == ReviewDecision.RELABEL})  # fmt: skip
    if relabelled and has_table(con, "species"):
        new = SPECIES_FROM.format(src="(SELECT unnest(?) AS species, '' AS common_name)")
        con.execute(f"INSERT INTO species {new}", [relabelled])
    return ids


def undo_review(
    path: Path | str,
    sighting_id: str,
    *,
    reviewer: str,
    timeout_s: float = 10.0,
    log: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """Take back the newest review of a sighting that is still standing; returns (the new
    row's review id, the decision now in force, :data:`NO_DECISION` for none).

    Nothing is deleted: the new row supersedes the review taken back and restores the one
    before it. Undoing again takes back the review before that, and so on.
    """
    if not reviewer.strip():
        raise FieldtoolError("undo needs a reviewer name")
    with connect(path, read_only=False, timeout_s=timeout_s) as con:
        _up_to_date(con, path, log)
        rows = con.execute(
            f"SELECT review_id, {decision_sql()}, species, supersedes, reviewed_at FROM reviews "
            "WHERE sighting_id = ? ORDER BY reviewed_at, review_id",
            [sighting_id],
        ).fetchall()
        taken_back = {row[3] for row in rows if row[3]}
        # a decision fieldtool does not know was never in force: nothing to take back
        standing = [row for row in rows if not row[3] and row[0] not in taken_back
                    and row[1] in KNOWN_DECISIONS and row[1] != NO_DECISION]  # fmt: skip
        if not standing:
            raise FieldtoolError(f"sighting {sighting_id!r} has no review to undo")
        target = standing[-1]
        before = standing[-2] if len(standing) > 1 else None
        decision = before[1] if before else NO_DECISION
        species = before[2] if before else None
        when = _newest_time(con, sighting_id)  # newer than every row of the sighting
        review_id = uuid.uuid4().hex
        con.execute(
            "INSERT INTO reviews (review_id, sighting_id, decision, species, reviewer, "
            "reviewed_at, note, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [review_id, sighting_id, decision, species, reviewer.strip(), when,
             f"undo of {target[1]}", target[0]],
        )  # fmt: skip
    return review_id, decision


def sighting_species(
    path: Path | str, sighting_ids: Sequence[str], *, timeout_s: float = 10.0
) -> dict[str, str]:
    """The predicted species of each of ``sighting_ids`` the file holds (one read-only
    query); an id the file lacks is left out. What a review checks before it writes."""
    with connect(path, read_only=True, timeout_s=timeout_s) as con:
        _has_sightings(con, path)
        rows = con.execute(
            "SELECT sighting_id, species FROM sightings "
            "WHERE list_contains(CAST(? AS VARCHAR[]), sighting_id)",
            [[str(s) for s in sighting_ids]],
        ).fetchall()
    return {str(sighting_id): str(species) for sighting_id, species in rows}


def species_names(path: Path | str, *, timeout_s: float = 10.0) -> list[str]:
    """Every species name of the file, sorted: the ``species`` table (the model's labels
    and every species written), the sightings' and the relabels' species. A relabel to one
    of these (by :func:`same_species`) is to a species the file knows."""
    with connect(path, read_only=True, timeout_s=timeout_s) as con:
        _has_sightings(con, path)
        parts = ["SELECT species FROM sightings"]
        if has_table(con, "species"):
            parts.append("SELECT species FROM species")
        if has_table(con, "reviews"):
            parts.append(f"SELECT species FROM reviews WHERE {decision_sql()} = 'relabel'")
        rows = con.execute(
            f"SELECT DISTINCT species FROM ({' UNION ALL '.join(parts)}) "
            "WHERE species IS NOT NULL ORDER BY species"
        ).fetchall()
    return [str(row[0]) for row in rows]


def common_names(path: Path | str, *, timeout_s: float = 10.0) -> dict[str, str]:
    """Each species of the file's ``species`` table that has a common name -> that name
    (what :func:`by_common_name` matches a reviewer's text against)."""
    with connect(path, read_only=True, timeout_s=timeout_s) as con:
        _has_sightings(con, path)
        if not has_table(con, "species"):
            return {}
        rows = con.execute(
            "SELECT species, common_name FROM species WHERE species IS NOT NULL "
            "AND trim(coalesce(common_name, '')) <> '' ORDER BY species"
        ).fetchall()
    return {str(species): str(common) for species, common in rows}


def by_common_name(text: str, commons: Mapping[str, str]) -> list[str]:
    """The species of ``commons`` (species -> common name) whose common name is ``text``,
    in any case and spacing ("Red  Maple" is "red maple"), in ``commons``' order."""
    key = plain_key(text)
    return [species for species, common in commons.items() if key and plain_key(common) == key]


def unknown_decisions(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(sighting id, decision as stored) of each review whose decision fieldtool does not
    know, oldest first: none of them is in force (:data:`~fieldtool.store.views.
    LATEST_REVIEW_SQL`); a reader says so."""
    if not has_table(con, "reviews"):
        return []
    rows = con.execute(UNKNOWN_DECISIONS_SQL).fetchall()
    return [(str(sighting_id), str(decision)) for sighting_id, decision in rows]


def same_species(text: str, known: Mapping[str, str] | Iterable[str]) -> list[str]:
    """The names of ``known`` that are ``text``'s species by :func:`fieldtool.names.label_key`
    (another case, spacing, authorship, rank or a synonym, or a "common name (Species)"
    label), in ``known``'s order. ``known``: names, or names mapped to their labels (a
    name whose label matches counts too). What a relabel stores, dashboard and CLI alike,
    is the first of them."""
    key = label_key(text)
    if not key:
        return []
    labels = known if isinstance(known, Mapping) else {name: name for name in known}
    return [name for name, label in labels.items() if key in (label_key(name), label_key(label))]


def closest_species(text: str, known: Iterable[str]) -> str | None:
    """The name of ``known`` nearest ``text``'s key (a typo's "did you mean"), or None."""
    import difflib

    keys = {label_key(name): name for name in reversed(list(known))}
    near = difflib.get_close_matches(label_key(text), list(keys), n=1, cutoff=0.8)
    return keys[near[0]] if near else None


@dataclass(frozen=True, slots=True)
class Relabel:
    """What a relabel stores for a reviewer's text (:func:`relabel_species`)."""

    species: str  # the name stored: the file's spelling, "Genus sp.", or a new binomial
    new: bool  # a species or genus new to the file (stored only when the reviewer said so)
    said: str = ""  # how the text was read, for the reviewer ("" when as typed)


def relabel_species(
    text: str,
    known: Mapping[str, str] | Iterable[str],
    commons: Mapping[str, str],
    *,
    atlas: Mapping[str, str],
    new: bool = False,
    given: str | None = None,
    new_hint: str = "add --new-species",
) -> Relabel:
    """The species a relabel stores for ``text``, dashboard and CLI alike:

    - the file's spelling of a species it knows (``known``: names, or names mapped to their
      labels; by :func:`same_species`), or of the species whose common name ``text`` is
      (``commons``: species -> common name, the file's);
    - a genus (``Acer``, ``Acer sp.``, ``Acer spp.``) as the pipeline writes genus-level
      sightings, ``Acer sp.``: of a genus of the file's species, or with ``new``;
    - a common name of ``atlas`` (species -> common name: the bundled atlas of US trees),
      in any case: its species where the file knows it, else refused naming the scientific
      name to pass ("Red maple" is shaped like a binomial, but is no new species);
    - with ``new`` (or when the file knows no species), the scientific binomial of
      ``text``, which must be spelt as one (:func:`fieldtool.names.looks_scientific`:
      "Red Maple", "cornus kousa" are not).

    Anything else is a one-line :class:`FieldtoolError` naming ``given`` (how the caller
    names the input, default ``text`` quoted); ``new_hint`` says how to mark a name new.
    """
    from fieldtool.names import binomial, looks_scientific

    given = given if given is not None else repr(text)
    labels = known if isinstance(known, Mapping) else {name: name for name in known}
    if not text.strip():
        raise FieldtoolError(f"{given}: give the species to relabel as")
    matches = same_species(text, labels)
    if matches:
        return Relabel(matches[0], False)
    named = by_common_name(text, commons)
    if len(named) > 1:
        raise FieldtoolError(f"{given} is the common name of {len(named)} species of this "
                             f"file ({', '.join(named)}): give the scientific name")  # fmt: skip
    if named:
        return Relabel(named[0], False, f"{text}: {named[0]} (its common name in this file)")
    genus = genus_level(text)
    if genus is not None:
        ours = {g.casefold(): g for g in genera(labels)}
        if genus.casefold() in ours:
            return Relabel(f"{ours[genus.casefold()]} sp.", False)
    found = _atlas_species(text, labels, atlas, given, new, new_hint)
    if found is not None:
        return found
    if labels and not new:
        kind = f"a genus of this file's {len(labels)} species" if genus else (
            f"a species of this file (it has {len(labels)})")  # fmt: skip
        what = "genus" if genus else "species"
        raise FieldtoolError(f"{given} is not {kind}{close_hint(text, labels, commons)}: "
                             f"{new_hint} to store it as a new {what}")  # fmt: skip
    # a genus new to the file only as "Genus sp.": a bare capitalised word may be a
    # common name ("Badger")
    explicit = re.search(r"\s+spp?\.?\s*$", text, flags=re.IGNORECASE) is not None
    if genus is not None and explicit and looks_scientific(genus):
        return Relabel(f"{genus} sp.", True)
    binom = binomial(text)
    if binom is None or not looks_scientific(text):
        raise FieldtoolError(
            f"{given} is not a scientific name: give the species' scientific name, a "
            "capitalised genus and a lowercase epithet (e.g. Cornus kousa), or a genus "
            "(e.g. Cornus sp.)"
        )
    return Relabel(binom, True)


def _atlas_species(text: str, labels: Mapping[str, str], atlas: Mapping[str, str],
                   given: str, new: bool, new_hint: str) -> Relabel | None:  # fmt: skip
    """The file's species whose ``atlas`` common name ``text`` is; None when it is no
    common name there; an error naming the species when the file has none of them."""
    named = by_common_name(text, atlas)
    if not named:
        return None
    ours = list(dict.fromkeys(n for sp in named for n in same_species(sp, labels)))
    if len(ours) == 1:
        said = f"{text}: {ours[0]} (its common name in the bundled atlas of US trees)"
        return Relabel(ours[0], False, said)
    which = " and ".join(ours or named)
    how = "" if new or ours else f", and {new_hint} to store it as a new species"
    raise FieldtoolError(f"{given} is the common name of {which} (pass the scientific "
                         f"name{how})")  # fmt: skip


def genus_level(text: str) -> str | None:
    """The genus of a genus-level name, ``Acer``, ``Acer sp.`` or ``Acer spp.``, else None."""
    found = re.fullmatch(r"\s*([^\W\d_]+(?:-[^\W\d_]+)*)(?:\s+spp?\.?)?\s*", text,
                         flags=re.IGNORECASE)  # fmt: skip
    return found.group(1) if found else None


def genera(known: Iterable[str]) -> list[str]:
    """The genera of ``known``, as the file spells them (a species' first word, or a
    genus-level name's genus)."""
    from fieldtool.names import is_species_key, looks_scientific, species_key

    out: list[str] = []
    for name in known:
        words = name.split()
        key = species_key(name)
        named = words and looks_scientific(name) and key.split()[0] == words[0].casefold()
        if named and (is_species_key(key) or genus_level(name) is not None):
            out.append(words[0])
    return list(dict.fromkeys(out))


def close_hint(text: str, known: Iterable[str], commons: Mapping[str, str] | None = None) -> str:
    """' (did you mean 'X'?)' for a near spelling of a known name or common name, else ''."""
    import difflib

    near = closest_species(text, known)
    if near:
        return f" (did you mean {near!r}?)"
    keys = {plain_key(common): species for species, common in (commons or {}).items()}
    found = difflib.get_close_matches(plain_key(text), list(keys), n=1, cutoff=0.8)
    return f" (did you mean {found[0]!r}, {keys[found[0]]}?)" if found else ""


def _has_sightings(con: duckdb.DuckDBPyConnection, path: Path | str) -> None:
    if not has_table(con, "sightings"):
        raise FieldtoolError(f"{path}: no sightings table: not a fieldtool sightings database")


def _up_to_date(
    con: duckdb.DuckDBPyConnection, path: Path | str, log: Callable[[str], None] | None
) -> None:
    """Migrate an older file first: a review may be the first write of a new fieldtool
    into it (the dashboard's), and undo needs ``reviews.supersedes``. ``log`` hears the
    upgrade line every migrating command says."""
    if schema_version(con, path) != SCHEMA_VERSION:
        con.execute("BEGIN")
        old, new = ensure_schema(con, path)
        commit(con)  # a checkpoint failing after it: migrated all the same
        if log is not None and (notice := upgrade_notice(path, old, new)):
            log(notice)
