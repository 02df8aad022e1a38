"""What a session's model adds to the ``species`` table: every species of its labels.

The table holds each species the file knows, sighted or not: every label of each model a
session ran (its background class aside), every species a sighting or a relabel names. A
species is sighted where a sighting (or a relabel in force) names it; the table does not say
so. A relabel to any species of the table is to a species the file knows
(:func:`fieldtool.store.reviews.species_names`: no ``--new-species``), and its common name,
genus and family are the table's (the views' ``common_name``, Darwin Core's
vernacularName and family).

A label's value replaces the file's; a value the label does not give (an empty common
name, no genus or family) keeps the file's: another model's family, or a common name an
earlier model gave, stays.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from fieldtool.store.locking import connect
from fieldtool.store.schema import has_table
from fieldtool.types import FieldtoolError, LabelSet

# (species, common_name, genus, family): SightingStore.record_species's arguments
SpeciesRow = tuple[str, str, str | None, str | None]


def model_species(
    path: Path | str, labels: LabelSet, *, timeout_s: float = 2.0
) -> list[SpeciesRow]:
    """The ``species`` rows a session of a model with ``labels`` records in the file at
    ``path`` (for :meth:`fieldtool.store.SightingStore.record_species`): one per label but
    the background, with the label's common name, genus and family, each the file's where
    the label gives none; none for a label that adds nothing the file has. Where the file
    cannot be read (held past ``timeout_s`` seconds, damaged): the labels that give a genus
    or family, as given (the rest wait for the next session), so nothing is replaced
    unseen."""
    have = _species_table(path, timeout_s)
    rows: list[SpeciesRow] = []
    for label in labels.labels:
        species = label.species.strip()
        if label.is_background or not species:
            continue
        common, genus, family = label.common_name.strip(), label.genus.strip(), label.family.strip()
        if have is None:
            if genus or family:
                rows.append((species, common, genus or None, family or None))
            continue
        old = have.get(species)
        if old is not None and all(
            value in ("", kept) for value, kept in zip((common, genus, family), old, strict=True)
        ):
            continue  # nothing the file does not have
        # a value left empty keeps the file's: the species upsert does that (insert_rows);
        # but a genus left empty would be taken from the name (record_species)
        rows.append((species, common, genus or (old[1] if old else "") or None, family or None))
    return rows


def _species_table(path: Path | str, timeout_s: float) -> dict[str, tuple[str, str, str]] | None:
    """species -> (common name, genus, family; '' for none) of the file's ``species``
    table; empty for a new file; None where it cannot be read."""
    if not Path(path).is_file():
        return {}
    try:
        with connect(path, read_only=True, timeout_s=timeout_s) as con:
            if not has_table(con, "species"):
                return {}
            found = con.execute(
                "SELECT species, coalesce(common_name, ''), coalesce(genus, ''), "
                "coalesce(family, '') FROM species WHERE species IS NOT NULL"
            ).fetchall()
    except (FieldtoolError, duckdb.Error):  # held (StoreLocked), damaged: say nothing new
        return None
    return {str(s): (str(c), str(g), str(f)) for s, c, g, f in found}
