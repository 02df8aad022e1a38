"""``fieldtool review list | confirm | reject | relabel | undo``: review sightings from a
shell (a headless station over SSH, a script), without the dashboard.

Reviews are written by :func:`fieldtool.store.add_review` and
:func:`fieldtool.store.reviews.undo_review`, as the dashboard writes them: each is a new
row, nothing is deleted, and the newest is the review in force
(:data:`fieldtool.store.views.LATEST_REVIEW_SQL`). Every input is checked before the first
write (sighting ids, the species of a relabel, the reviewer's name), so bad input stores
nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fieldtool.cli.common import log
from fieldtool.types import FieldtoolError

REVIEWER_ENV = "FIELDTOOL_REVIEWER"
_BY_HELP = (
    f"the reviewer's name, stored with each review (default: ${REVIEWER_ENV}, else the "
    "login name of the user running the command)"
)
_WAIT_S = 10.0


def cmd_list(a: argparse.Namespace) -> int:
    """One tab-separated line per sighting, by first seen."""
    from fieldtool.store import connect
    from fieldtool.store.reviews import common_names, species_names, unknown_decisions

    if a.limit is not None and a.limit < 1:
        raise FieldtoolError(f"--limit {a.limit}: expected 1 or more sightings")
    with _held_says_so(a.db, "nothing was read"):
        names = None
        if a.species is not None:  # the file's names of that species
            names = species_filter(a.db, a.species, species_names(a.db, timeout_s=a.wait),
                                   common_names(a.db, timeout_s=a.wait))  # fmt: skip
        with connect(a.db, read_only=True, timeout_s=a.wait) as con:
            if a.session is not None and not _has_session(con, a.session):
                raise FieldtoolError(f"--session {a.session!r}: no such session in {a.db}")
            sql, params = _list_sql(con, a.session, names, a.unreviewed, a.limit)
            rows = con.execute(sql, params).fetchall()
            unknown = unknown_decisions(con)
    if unknown:
        print(f"fieldtool: warning: {_unknown_note(unknown)}", file=sys.stderr)
    for row in rows:
        print(_line(row))
    return 0


def cmd_review(a: argparse.Namespace) -> int:
    """Confirm, reject or relabel: every id checked, then one review each."""
    from fieldtool.names import canonical
    from fieldtool.store import add_review
    from fieldtool.store.reviews import common_names, sighting_species, species_names

    reviewer = _reviewer(a.by)
    ids = list(dict.fromkeys(a.ids))
    species: str | None = None
    with _held_says_so(a.db, "nothing was stored"):
        predicted = _known_ids(a.db, ids, sighting_species(a.db, ids, timeout_s=a.wait))
        if a.decision == "relabel":
            known = species_names(a.db, timeout_s=a.wait)
            commons = common_names(a.db, timeout_s=a.wait)
            species = _relabel_species(a.species, known, a.new_species, commons)
            same = [sid for sid in ids if canonical(predicted[sid]) == canonical(species)]
            if same:
                raise FieldtoolError(
                    f"sighting {same[0]!r} is predicted as {predicted[same[0]]} already: "
                    "use `fieldtool review confirm`"
                )
    stored: list[str] = []
    with _held_says_so(a.db, "", stored, len(ids)):
        for sid in ids:
            add_review(a.db, sid, a.decision, reviewer=reviewer, species=species,
                       note=a.note, timeout_s=a.wait, log=log)  # fmt: skip
            stored.append(sid)
            what = f"relabel to {species}" if species else a.decision
            print(f"{sid}\t{what}\tby {reviewer}", flush=True)
    return 0


def cmd_undo(a: argparse.Namespace) -> int:
    """Take back the newest standing review of each sighting (a newer row; nothing deleted)."""
    from fieldtool.store.reviews import sighting_species, undo_review
    from fieldtool.store.views import NO_DECISION

    reviewer = _reviewer(a.by)
    ids = list(dict.fromkeys(a.ids))
    with _held_says_so(a.db, "nothing was stored"):
        _known_ids(a.db, ids, sighting_species(a.db, ids, timeout_s=a.wait))
    stored: list[str] = []
    with _held_says_so(a.db, "", stored, len(ids)):
        for sid in ids:
            _, now = undo_review(a.db, sid, reviewer=reviewer, timeout_s=a.wait, log=log)
            stored.append(sid)
            state = "unreviewed" if now == NO_DECISION else f"{now} in force"
            print(f"{sid}\tundone, now {state}\tby {reviewer}", flush=True)
    return 0


def _reviewer(given: str | None) -> str:
    """``--by``, else ``$FIELDTOOL_REVIEWER``, else the login name."""
    if given is not None:
        if not given.strip():
            raise FieldtoolError(f"--by {given!r}: the reviewer's name is empty")
        return given.strip()
    name = os.environ.get(REVIEWER_ENV, "").strip()
    if name:
        return name
    import getpass

    try:
        name = getpass.getuser().strip()
    except (KeyError, OSError):  # no login name (a container's user id without a name)
        name = ""
    if not name:
        raise FieldtoolError(f"no reviewer name: give --by NAME or set ${REVIEWER_ENV}")
    return name


def _known_ids(db: Path, ids: Sequence[str], found: dict[str, str]) -> dict[str, str]:
    missing = [sid for sid in ids if sid not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FieldtoolError(f"{db}: no sighting {missing[0]!r}{more}; nothing was stored")
    return found


def _relabel_species(
    text: str, known: list[str], new: bool, commons: Mapping[str, str] | None = None
) -> str:
    """The name a relabel stores (:func:`fieldtool.store.reviews.relabel_species`, as the
    dashboard reads it); how a common name was read is said on stderr."""
    from fieldtool.atlas import atlas_common_names
    from fieldtool.store.reviews import relabel_species

    found = relabel_species(text, known, commons or {}, atlas=atlas_common_names(), new=new,
                            given=f"--species {text!r}")  # fmt: skip
    if found.said:
        print(f"fieldtool: {found.said}", file=sys.stderr)
    return found.species


def species_filter(
    db: Path, text: str, known: list[str], commons: Mapping[str, str] | None = None
) -> list[str]:
    """The file's names of ``--species``: any spelling of a name of ``known``, else the
    species whose common name it is (``commons``: species -> common name)."""
    from fieldtool.store.reviews import by_common_name, close_hint, same_species

    names = same_species(text, known) or by_common_name(text, commons or {})
    if not names:
        raise FieldtoolError(
            f"--species {text!r}: no such species in {db}{close_hint(text, known, commons)}"
        )
    return names


def _unknown_note(unknown: Sequence[tuple[str, str]]) -> str:
    """One line on reviews whose decision fieldtool does not know (none of them in force)."""
    from fieldtool.store.reviews import REVIEW_DECISIONS

    shown = ", ".join(f"{decision!r} of {sid}" for sid, decision in unknown[:3])
    more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
    return (
        f"{len(unknown)} review(s) with a decision fieldtool does not know, not in force: "
        f"{shown}{more} (decisions are {', '.join(REVIEW_DECISIONS)}, in any case)"
    )


def _has_session(con: Any, session_id: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM (SELECT session_id FROM sightings UNION ALL "
        "SELECT session_id FROM sessions) WHERE session_id = ?",
        [session_id],
    ).fetchone()
    return bool(row and row[0])


def _columns(con: Any, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
    ).fetchall()
    return {str(r[0]) for r in rows}


def _list_sql(
    con: Any,
    session_id: str | None,
    species: list[str] | None,
    unreviewed: bool,
    limit: int | None,
) -> tuple[str, dict[str, Any]]:
    """The list query: the chosen sightings with the review in force and whether their
    times are UTC (as ``fieldtool export`` decides it: the session's clock, except that a
    sighting whose own photos all have a known zone is UTC; files older than schema 5
    claimed UTC)."""
    from fieldtool.export_rows import sighting_clocks_sql
    from fieldtool.store.views import LATEST_REVIEW_SQL, sighting_filter_sql

    clauses, params = sighting_filter_sql(session_id=session_id, table="s")
    if species is not None:
        in_force = "CASE WHEN r.decision = 'relabel' THEN r.species ELSE s.species END"
        clauses.append(f"list_contains(CAST($species AS VARCHAR[]), {in_force})")
        params["species"] = species
    if unreviewed:
        clauses.append("r.decision IS NULL")
    where = " AND ".join(clauses) or "TRUE"
    zone = "se.time_zone_known" if "time_zone_known" in _columns(con, "sessions") else "NULL"
    photos = {"media", "detections"} <= {
        str(r[0]) for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
    clocks = f", clocks AS ({sighting_clocks_sql('chosen')})" if photos else ""
    own = "coalesce(k.photos > 0 AND k.local = 0, FALSE)" if photos else "FALSE"
    sql = f"""
        WITH r AS ({LATEST_REVIEW_SQL}),
        chosen AS (
            SELECT s.sighting_id, s.session_id, s.species, s.first_seen, s.last_seen,
                   s.peak_score, s.latitude, s.longitude, s.status, r.decision,
                   r.species AS review_species, r.reviewer, r.reviewed_at, r.note
            FROM sightings s LEFT JOIN r USING (sighting_id)
            WHERE {where}
            ORDER BY s.first_seen, s.sighting_id
            {f"LIMIT {int(limit)}" if limit else ""}
        ){clocks}
        SELECT c.*, coalesce({zone}, TRUE) OR {own} AS utc
        FROM chosen c LEFT JOIN sessions se USING (session_id)
        {"LEFT JOIN clocks k USING (sighting_id)" if photos else ""}
        ORDER BY c.first_seen, c.sighting_id
    """
    return sql, params


def _when(value: datetime | None, utc: bool = True) -> str:
    if value is None:
        return "?"
    return value.isoformat(timespec="seconds") + ("Z" if utc else "")


def _line(row: Sequence[Any]) -> str:
    """id, session, species, first/last seen, peak score, place, review in force."""
    (sid, session, species, first, last, peak, lat, lon, status, decision, review_species,
     reviewer, reviewed_at, note, utc) = row  # fmt: skip
    span = f"{_when(first, utc)}/{_when(last, utc)}"
    if not utc:
        span += " (local clock, zone unknown)"
    if status == "open":
        span += " (open)"
    place = f"{lat:.5f},{lon:.5f}" if lat is not None and lon is not None else "-"
    review = "-"
    if decision is not None:
        what = f"relabel to {review_species}" if decision == "relabel" else str(decision)
        review = f"{what} by {reviewer} at {_when(reviewed_at)}"
        if note and note.strip():
            review += f": {' '.join(str(note).split())}"
    peak_text = f"{peak:.2f}" if peak is not None else "-"
    return "\t".join([str(sid), str(session), str(species), span, peak_text, place, review])


@contextmanager
def _held_says_so(
    db: Path, outcome: str, stored: list[str] | None = None, total: int = 0
) -> Iterator[None]:
    """A file another process holds read-write past ``--wait``: one line that says so.
    Writing (``stored``: the ids written so far, of ``total``), an error says what was
    stored before it, so a rerun can leave those out."""
    from fieldtool.store import StoreLocked

    try:
        yield
    except StoreLocked as exc:
        by = f" ({exc.holder})" if exc.holder else ""
        if stored is not None:
            done = f"{len(stored)} of {total} stored ({', '.join(stored) or 'none'})"
            outcome = f"{done}, the rest not"
        raise FieldtoolError(
            f"{db}: held read-write by another process{by}, and DuckDB allows one writer at "
            f"a time: {outcome}; try again once it lets go, or wait longer with --wait"
        ) from None
    except FieldtoolError as exc:
        if not stored:
            raise
        done = f"{len(stored)} of {total} stored before it ({', '.join(stored)})"
        raise FieldtoolError(f"{exc}; {done}") from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "review",
        help="list sightings and confirm, reject, relabel or undo them (no dashboard needed)",
        description="Review sightings from a shell. Each review is a new row beside the "
        "sighting (nothing is changed or deleted); the newest one of a sighting is in force, "
        "and `fieldtool learn`, the views and exports read it. Every id and name is checked "
        "before anything is written.",
    )
    actions = p.add_subparsers(dest="review_action", required=True, metavar="ACTION")

    lst = actions.add_parser(
        "list",
        help="one line per sighting, by first seen",
        description="One tab-separated line per sighting, by first seen: id, session, "
        "predicted species, first/last seen (ISO 8601, UTC with Z; a camera's local clock "
        "of unknown zone is marked so), peak score, latitude,longitude (- for none), and the "
        "review in force (- for none).",
    )
    _db(lst)
    lst.add_argument("--session", metavar="ID", help="only this session")
    lst.add_argument("--species", metavar="NAME", help="only sightings that count as this species now (the "
                     "relabel's species where one is in force; any spelling of the name)")  # fmt: skip
    lst.add_argument("--unreviewed", action="store_true", help="only sightings without a "
                     "review in force")  # fmt: skip
    lst.add_argument("--limit", type=int, metavar="N", help="at most N sightings")
    _wait(lst)
    lst.set_defaults(func=cmd_list)

    for decision, what in (
        ("confirm", "the predicted species is right"),
        ("reject", "a false detection, no such plant in view"),
    ):
        c = actions.add_parser(decision, help=f"{decision} sightings: {what}",
                               description=f"{decision.capitalize()} sightings: {what}.")  # fmt: skip
        _ids(c)
        c.set_defaults(func=cmd_review, decision=decision, species=None, new_species=False)

    r = actions.add_parser(
        "relabel",
        help="relabel sightings as another species",
        description="Relabel sightings as another species. The name may be spelt any way "
        "(case, spacing, authorship, a synonym) or be a common name of the file's species "
        "table: a species of the file is stored as the file spells it. A genus (Acer, "
        "Acer sp., Acer spp.) is stored as 'Acer sp.', as the pipeline writes genus-level "
        "sightings. A species or genus new to the file needs --new-species and a scientific "
        "name spelt as one (Cornus kousa).",
    )
    _ids(r)
    r.add_argument("--species", required=True, metavar="'GENUS EPITHET'",
                   help="the species the sightings are (or its common name, or a genus)")  # fmt: skip
    r.add_argument("--new-species", action="store_true",
                   help="the species is not in this file yet (not among the model's species "
                   "nor any sighting's): store it as a new species")  # fmt: skip
    r.set_defaults(func=cmd_review, decision="relabel")

    u = actions.add_parser(
        "undo",
        help="take back the newest review of sightings (a newer row; nothing deleted)",
        description="Take back the newest standing review of each sighting: the review "
        "before it is in force again (or none). Again takes back the one before that.",
    )
    _db(u)
    u.add_argument("ids", nargs="+", metavar="ID", help="sighting ids")
    u.add_argument("--by", metavar="NAME", help=_BY_HELP)
    _wait(u)
    u.set_defaults(func=cmd_undo)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=Path("sightings.duckdb"),
                   help="the sightings database")  # fmt: skip


def _ids(p: argparse.ArgumentParser) -> None:
    _db(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="sighting ids (fieldtool review list)")
    p.add_argument("--by", metavar="NAME", help=_BY_HELP)
    p.add_argument("--note", metavar="TEXT", help="a note stored with each review")
    _wait(p)


def _wait(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", type=float, default=_WAIT_S, metavar="SECONDS",
                   help="how long to wait while another process holds the file "
                   f"(default {_WAIT_S:g}; 0: try once)")  # fmt: skip
