"""How a model's label set and a prior's species match up, as lines for the run log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fieldtool.names import canonical, first_few, plain_key, species_key
from fieldtool.priors.stage import SpeciesPrior, notes_of
from fieldtool.types import LabelSet


@dataclass(frozen=True, slots=True)
class RangeCoverage:
    """How a label set and a set of ranges match up."""

    missing: tuple[str, ...]  # label species (not background) without range data
    unmatched: tuple[str, ...]  # range species that match no label
    # (label, range name) pairs that matched only through the synonym table ...
    synonyms: tuple[tuple[str, str], ...] = ()
    # ... or only once case, authorship and infraspecific rank were dropped
    normalised: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()  # the prior's own lines: files read, rows skipped

    def lines(self) -> list[str]:
        """Lines to log: the prior's notes, then warnings (empty when all match plainly)."""
        out = list(self.notes)
        if self.missing:
            out.append(
                f"range prior: no range data for {len(self.missing)} species "
                f"(prior 1, unaffected): {_some(self.missing)}"
            )
        if self.unmatched:
            out.append(
                f"range prior: {len(self.unmatched)} range species match no model label: "
                f"{_some(self.unmatched)}"
            )
        normalised = "after normalising case, authorship or rank"
        for pairs, how in ((self.synonyms, "through synonyms"), (self.normalised, normalised)):
            if pairs:
                n = len(pairs)
                shown = _some([f"{label} = {name}" for label, name in pairs])
                noun = "label name" if n == 1 else "label names"
                out.append(f"range prior: {n} {noun} matched {how}: {shown}")
        return out


def _some(names: Sequence[str], limit: int = 8) -> str:
    """The first ``limit`` names, and how many more."""
    return first_few(names, limit)


def range_coverage(prior: SpeciesPrior, labels: LabelSet) -> RangeCoverage:
    """Which label species have no range, which ranges name no label, and which labels
    matched a range only through a synonym or by normalising the name."""
    by_key: dict[str, list[str]] = {}
    for name in sorted(prior.species):
        by_key.setdefault(canonical(name), []).append(name)
    label_keys = set()
    missing: list[str] = []
    synonyms: list[tuple[str, str]] = []
    normalised: list[tuple[str, str]] = []
    for label in labels.labels:
        if label.is_background:
            continue
        key = canonical(label.species)
        label_keys.add(key)
        if not prior.has(label.species):
            missing.append(label.species)
            continue
        names = by_key.get(key, [])
        if not names or any(plain_key(n) == plain_key(label.species) for n in names):
            continue  # a plain match (or a prior that names its species otherwise)
        same = [n for n in names if species_key(n) == species_key(label.species)]
        if same:
            normalised.append((label.species, same[0]))
        else:
            synonyms.append((label.species, names[0]))
    unmatched = sorted(s for s in prior.species if canonical(s) not in label_keys)
    return RangeCoverage(
        tuple(missing), tuple(unmatched), tuple(synonyms), tuple(normalised), notes_of(prior)
    )
