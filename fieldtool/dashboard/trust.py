"""Model versions and the precision a user trusts: what reviewers said of each model's sightings.

Every count is SQL over all the sightings of the file (no sidebar filter), with the review in
force from :data:`fieldtool.store.views.LATEST_REVIEW_SQL` (an undone review counts as none).
A sighting's outcome:

- ``confirmed``: the review in force confirms it, or relabels it to a name of the same
  species (:func:`~fieldtool.dashboard.aggregate.species_group_key`);
- ``relabelled``: relabelled to another species (it counts as "relabelled away" for the
  predicted species and "relabelled to" for the new one);
- ``rejected``: no plant of the species in view;
- ``unreviewed``: no review in force (open sightings included).

Precision a user trusts = confirmed / (confirmed + relabelled away + rejected): the share of
the reviewed machine sightings of a species that the reviewers kept as that species.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fieldtool.dashboard.aggregate import species_group_key
from fieldtool.dashboard.data import relation_columns
from fieldtool.store import query
from fieldtool.store.views import LATEST_REVIEW_SQL

OUTCOMES = ("confirmed", "relabelled", "rejected", "unreviewed")
TRUST_COLUMNS = (
    "species", "sightings", "confirmed", "relabelled_away", "rejected", "unreviewed",
    "reviewed", "precision", "relabelled_to", "names",
)  # fmt: skip
VERSION_COLUMNS = (
    "model_id", "model_sha256", "sessions", "sightings", "reviewed", "confirmed", "precision",
    "first_used", "last_used",
)  # fmt: skip
# A file no writer has migrated may lack ``reviews``: then no sighting has a review.
_NO_REVIEWS = "(SELECT NULL::VARCHAR AS sighting_id, NULL::VARCHAR AS decision, " \
    "NULL::VARCHAR AS species WHERE false)"  # fmt: skip


def _reviews_sql(db_path: Path | str, timeout_s: float) -> str:
    if "reviews" not in relation_columns(db_path, timeout_s):
        return _NO_REVIEWS
    return f"({LATEST_REVIEW_SQL})"


def load_outcomes(db_path: Path | str, *, timeout_s: float = 10.0) -> pd.DataFrame:
    """Sightings counted per model version, predicted species and review in force, over every
    row: model_id, model_sha256 ('' when unknown), predicted, decision (None: unreviewed),
    review_species, n (sightings)."""
    return query(
        db_path,
        f"""SELECT coalesce(se.model_id, s.model_id) AS model_id,
                   coalesce(se.model_sha256, '') AS model_sha256, s.species AS predicted,
                   r.decision, r.species AS review_species, count(*) AS n
            FROM sightings s
            LEFT JOIN {_reviews_sql(db_path, timeout_s)} r USING (sighting_id)
            LEFT JOIN sessions se USING (session_id)
            WHERE s.species IS NOT NULL
            GROUP BY ALL""",
        timeout_s=timeout_s,
    )


def _classified(outcomes: pd.DataFrame) -> pd.DataFrame:
    """``outcomes`` with key (of the predicted name), new_key (of a relabel's name) and
    outcome (one of :data:`OUTCOMES`)."""
    frame = outcomes.copy()
    frame["key"] = [species_group_key(str(s)) for s in frame["predicted"]]
    frame["new_key"] = [
        species_group_key(str(s)) if d == "relabel" and isinstance(s, str) else None
        for d, s in zip(frame["decision"], frame["review_species"], strict=True)
    ]
    outcome = []
    for decision, key, new_key in zip(frame["decision"], frame["key"], frame["new_key"],
                                      strict=True):  # fmt: skip
        if decision == "confirm" or (decision == "relabel" and new_key == key):
            outcome.append("confirmed")
        elif decision == "relabel":
            outcome.append("relabelled")
        elif decision == "reject":
            outcome.append("rejected")
        else:
            outcome.append("unreviewed")
    frame["outcome"] = outcome
    return frame


def _precision(confirmed: pd.Series, reviewed: pd.Series) -> pd.Series:
    return (confirmed / reviewed.where(reviewed > 0)).astype("float64")


def load_trust(
    db_path: Path | str,
    model: tuple[str, str] | None = None,
    *,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Per species (most machine sightings first), of every model or of one
    ``(model_id, model_sha256)``: sightings (the model's), confirmed, relabelled_away,
    rejected, unreviewed, reviewed (the three decisions), precision (confirmed / reviewed;
    NaN when none is reviewed), relabelled_to (other species' sightings relabelled to this
    one), names (spellings merged into the row). Columns: :data:`TRUST_COLUMNS`."""
    frame = _classified(load_outcomes(db_path, timeout_s=timeout_s))
    if model is not None:
        frame = frame[(frame["model_id"] == model[0]) & (frame["model_sha256"] == model[1])]
    if frame.empty:
        return pd.DataFrame({c: [] for c in TRUST_COLUMNS})
    counts = frame.pivot_table(index="key", columns="outcome", values="n", aggfunc="sum",
                               fill_value=0).reindex(columns=list(OUTCOMES), fill_value=0)  # fmt: skip
    gained = frame[frame["outcome"] == "relabelled"].groupby("new_key")["n"].sum()
    # The row's name: the spelling with the most machine sightings (a relabel-only species:
    # the reviewers' most used spelling).
    names = (
        frame.groupby(["key", "predicted"])["n"].sum().reset_index()
        .sort_values(["n", "predicted"], ascending=[False, True])
        .groupby("key").agg(species=("predicted", "first"), names=("predicted", "size"))
    )  # fmt: skip
    moved = frame[frame["outcome"] == "relabelled"]
    new_names = (
        moved.groupby(["new_key", "review_species"])["n"].sum().reset_index()
        .sort_values(["n", "review_species"], ascending=[False, True])
        .groupby("new_key").agg(species=("review_species", "first"))
    )  # fmt: skip
    keys = list(dict.fromkeys([*counts.index, *gained.index]))
    table = pd.DataFrame(index=pd.Index(keys, name="key"))
    table["species"] = names["species"].reindex(keys).fillna(new_names["species"].reindex(keys))
    table["names"] = names["names"].reindex(keys).fillna(1).astype("int64")
    for column, outcome in (("confirmed", "confirmed"), ("relabelled_away", "relabelled"),
                            ("rejected", "rejected"), ("unreviewed", "unreviewed")):  # fmt: skip
        table[column] = counts[outcome].reindex(keys).fillna(0).astype("int64")
    table["sightings"] = table[["confirmed", "relabelled_away", "rejected", "unreviewed"]].sum(
        axis=1
    )
    table["reviewed"] = table["confirmed"] + table["relabelled_away"] + table["rejected"]
    table["precision"] = _precision(table["confirmed"], table["reviewed"])
    table["relabelled_to"] = gained.reindex(keys).fillna(0).astype("int64")
    return (
        table.reset_index(drop=True)
        .sort_values(["sightings", "species"], ascending=[False, True])
        .reset_index(drop=True)[list(TRUST_COLUMNS)]
    )


def load_model_versions(db_path: Path | str, *, timeout_s: float = 10.0) -> pd.DataFrame:
    """Per model version (model_id, model_sha256; '' when unknown), first used first:
    sessions, sightings, reviewed, confirmed, precision (as :func:`load_trust`'s, over all
    the version's species), first_used (earliest session start, UTC), last_used (latest
    session end, or its last update while running). Columns: :data:`VERSION_COLUMNS`."""
    used = query(
        db_path,
        """SELECT model_id, coalesce(model_sha256, '') AS model_sha256,
                  count(*) AS sessions, min(started_at) AS first_used,
                  max(coalesce(ended_at, updated_at, started_at)) AS last_used
           FROM sessions GROUP BY ALL""",
        timeout_s=timeout_s,
    )
    frame = _classified(load_outcomes(db_path, timeout_s=timeout_s))
    frame["reviewed"] = frame["n"].where(frame["outcome"] != "unreviewed", 0)
    frame["confirmed"] = frame["n"].where(frame["outcome"] == "confirmed", 0)
    by = ["model_id", "model_sha256"]
    seen = frame.groupby(by, dropna=False)[["n", "reviewed", "confirmed"]].sum().reset_index()
    table = used.merge(seen.rename(columns={"n": "sightings"}), on=by, how="outer")
    for column in ("sessions", "sightings", "reviewed", "confirmed"):
        table[column] = table[column].fillna(0).astype("int64")
    table["precision"] = _precision(table["confirmed"], table["reviewed"])
    return table.sort_values(["first_used", "model_id"], na_position="last").reset_index(drop=True)[
        list(VERSION_COLUMNS)
    ]
