"""The review queue: unreviewed sightings and what the classifier and the range prior said.

The review in force is not decided here: :func:`fieldtool.dashboard.data.load_sightings`
reads it from :mod:`fieldtool.store.views` (the newest review of each sighting).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fieldtool.dashboard.data import SightingFilter, load_sightings
from fieldtool.store import query
from fieldtool.store.reviews import relabel_species
from fieldtool.types import FieldtoolError


def resolve_relabel(
    text: str, known: Mapping[str, str], *, allow_new: bool = False
) -> tuple[str, bool]:
    """The species a relabel stores for what a reviewer chose or typed: (name, is new).

    ``known``: the file's species names mapped to their labels, "common name (Species)"
    where the file has a common name (as the review page shows them). Read as
    ``fieldtool review relabel`` reads ``--species``, by the same function
    (:func:`fieldtool.store.reviews.relabel_species`): another spelling, a synonym, a label
    or a common name (the file's, or the bundled atlas's) of a known species is that
    species; a genus ("Acer", "Acer sp.") of the file's species is "Acer sp.". Anything
    else is refused unless ``allow_new`` (the reviewer ticked "New species"), and then
    only a scientific name (``Genus epithet``, or ``Genus sp.``).
    """
    from fieldtool.atlas import atlas_common_names

    if not text.strip():
        raise FieldtoolError("Choose the species to relabel it as.")
    found = relabel_species(text.strip(), known, label_commons(known),
                            atlas=atlas_common_names(), new=allow_new,
                            new_hint="tick 'New species'")  # fmt: skip
    return found.species, found.new


def label_commons(known: Mapping[str, str]) -> dict[str, str]:
    """Species -> common name, from labels "common name (Species)" (a label that is the
    species alone has none)."""
    out: dict[str, str] = {}
    for species, label in known.items():
        tail = f" ({species})"
        if label.endswith(tail) and label[: -len(tail)].strip():
            out[species] = label[: -len(tail)].strip()
    return out


def load_review_queue(
    db_path: Path | str, filters: SightingFilter | None = None, *, timeout_s: float = 10.0
) -> pd.DataFrame:
    """Closed sightings without a review that match ``filters`` (review state aside), newest first."""
    filters = filters or SightingFilter()
    unreviewed = dataclasses.replace(filters, review="unreviewed")
    sightings = load_sightings(db_path, unreviewed, timeout_s=timeout_s)
    return sightings[sightings["status"] == "closed"].reset_index(drop=True)


def load_alternatives(
    db_path: Path | str,
    session_id: str,
    first_t: float,
    last_t: float,
    *,
    timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Raw (classifier) versus fused (after the range prior) scores over a sighting's frames.

    One row per species that was in a frame's stored top-k, raw or fused, in the media-time
    span [first_t, last_t] of ``session_id``: ``raw_mean``/``fused_mean`` (mean over the
    span's frames, a frame without the species counts as 0), ``raw_max``/``fused_max``,
    ``raw_rank``/``fused_rank`` (1 = best mean) and ``frames`` (frames in the span).
    Best fused first; empty when the session stored no detections.
    """
    sql = """
        WITH span AS (
            SELECT raw_species, raw_scores, fused_species, fused_scores FROM detections
            WHERE session_id = $session_id AND t BETWEEN $first_t AND $last_t),
        n AS (SELECT count(*) AS frames FROM span),
        raw AS (SELECT unnest(raw_species) AS species, unnest(raw_scores) AS score FROM span),
        fused AS (SELECT unnest(fused_species) AS species, unnest(fused_scores) AS score FROM span),
        r AS (SELECT species, sum(score) AS total, max(score) AS best FROM raw GROUP BY species),
        f AS (SELECT species, sum(score) AS total, max(score) AS best FROM fused GROUP BY species)
        SELECT species,
               coalesce(r.total, 0) / n.frames AS raw_mean, coalesce(r.best, 0) AS raw_max,
               coalesce(f.total, 0) / n.frames AS fused_mean, coalesce(f.best, 0) AS fused_max,
               n.frames AS frames
        FROM r FULL OUTER JOIN f USING (species) CROSS JOIN n
        WHERE n.frames > 0
    """
    params = {"session_id": session_id, "first_t": float(first_t), "last_t": float(last_t)}
    frame = query(db_path, sql, params, timeout_s=timeout_s)
    if frame.empty:
        return frame
    frame["raw_rank"] = frame["raw_mean"].rank(ascending=False, method="min").astype(int)
    frame["fused_rank"] = frame["fused_mean"].rank(ascending=False, method="min").astype(int)
    return frame.sort_values(["fused_mean", "species"], ascending=[False, True]).reset_index(
        drop=True
    )


def prior_changes(alternatives: pd.DataFrame, predicted: str, top: int = 3) -> list[str]:
    """Sentences on what the range prior changed: species it demoted from the raw top ``top``.

    A species the classifier ranked above the prediction (or in its top ``top``) that lost
    rank after the range prior is a candidate rarity the prior may have wrongly demoted.
    """
    if alternatives.empty:
        return []
    lines = []
    for row in alternatives.sort_values("raw_rank").itertuples(index=False):
        if row.species == predicted or row.raw_rank > top or row.fused_rank <= row.raw_rank:
            continue
        lines.append(
            f"{row.species}: classifier {row.raw_mean:.2f} (#{row.raw_rank}) → after the range "
            f"prior {row.fused_mean:.2f} (#{row.fused_rank}); the prior demoted it."
        )
    return lines


def apply_reviews(sightings: pd.DataFrame) -> pd.DataFrame:
    """A frame of :func:`load_sightings` rows as reviewed: rejected ones dropped,
    relabelled ones under the reviewer's species.

    For callers that already hold such a frame. The dashboard itself reads reviewed rows
    from the ``sightings_reviewed`` view (``load_sightings(..., reviewed=True)``); the
    review in force (``review``, ``review_species``) comes from :mod:`fieldtool.store.views`
    either way, and a test keeps the two in agreement.
    """
    if "review" not in sightings:
        return sightings
    kept = sightings[sightings["review"].fillna("") != "reject"].copy()
    relabel = kept["review"].fillna("") == "relabel"
    changed = relabel & (kept["review_species"].fillna(kept["species"]) != kept["species"])
    kept.loc[relabel, "species"] = kept.loc[relabel, "review_species"]
    kept.loc[changed, "common_name"] = None  # the predicted species' name no longer applies
    return kept.reset_index(drop=True)

@dataclasses.dataclass(frozen=True)
class Strip:
    """What a sighting shows as a strip: its kept frames (JPEGs relative to the database's
    folder, in media-time order) and, for photos, how many photos its sequence has."""

    frames: tuple[str, ...]
    event_photos: int  # photos of the sighting's sequence (0: not photos)


def load_strip(db_path: Path | str, sighting_id: str, *, timeout_s: float = 10.0) -> Strip:
    """The frames kept for a sighting (``sighting_frames``; a file older than schema 7 has
    none) and the photo count of its sequence (``media`` rows of its ``event_id``)."""
    tables = set(query(db_path, "SELECT table_name FROM duckdb_tables()",
                       timeout_s=timeout_s)["table_name"])  # fmt: skip
    if not {"sighting_frames", "media"} <= tables:
        return Strip((), 0)
    frames = query(db_path, "SELECT path FROM sighting_frames WHERE sighting_id = ? "
                   "ORDER BY t, frame_index", [sighting_id], timeout_s=timeout_s)  # fmt: skip
    photos = query(
        db_path,
        "SELECT count(*) AS n FROM media m JOIN sightings s USING (session_id) "
        "WHERE s.sighting_id = ? AND m.event_id = s.event_id",
        [sighting_id], timeout_s=timeout_s,
    )  # fmt: skip
    return Strip(tuple(str(p) for p in frames["path"]), int(photos["n"].iloc[0]))
