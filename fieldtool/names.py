"""One species-name key for labels, range maps and occurrence records, and a synonym table.

:func:`species_key` turns any spelling of a scientific name into a case-insensitive
``"genus epithet"`` key, so that names which differ only in the ways data sources differ
match one another:

- case and whitespace: ``QUERCUS  ALBA``, ``quercus alba`` → ``quercus alba``;
- authorship and years: ``Quercus alba L.``, ``Lithocarpus densiflorus (Hook. & Arn.)
  Rehder``, ``Sorbus aucuparia, Müller 1790`` → the binomial;
- infraspecific ranks: ``var.``, ``subsp.``, ``ssp.``, ``f.``, ``forma`` and a bare
  trinomial (``quercus alba alba``) → the species, because range maps, occurrence
  downloads and classifier labels rarely agree on the rank below species;
- the hybrid marker: ``Quercus x bebbiana``, ``Quercus ×bebbiana``, ``Quercus × bebbiana``
  → ``quercus × bebbiana`` (so a nothospecies never matches a parent species);
- names without an epithet (``Acer sp.``, ``Acer spp.``, ``Pinus L.``, ``Acer``) → the
  genus-level key ``acer``, which never collides with a species key;
- ``cf.`` (compare with) is dropped, ``aff.`` (related to, but not) keeps the genus only.

:class:`Synonyms` maps synonyms to accepted names (``data/taxonomy/synonyms.csv``, GBIF
backbone pairs for the bundled labels and Little's atlas), and :meth:`Synonyms.canonical`
gives the accepted name's key for any spelling of either, e.g.
``Lithocarpus densiflorus`` and ``Notholithocarpus densiflorus Manos`` → both
``notholithocarpus densiflorus``. :func:`canonical` does that with the bundled table; it
is the one key ranges, atlas and occurrences match names by.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from fieldtool.resources import shipped
from fieldtool.types import FieldtoolError

log = logging.getLogger(__name__)

SYNONYMS_CSV = shipped("data", "taxonomy", "synonyms.csv")

HYBRID = "×"  # the multiplication sign, as the botanical code writes the hybrid marker
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")  # letters with inner hyphens ("unguis-cati")
_NO_EPITHET = frozenset({"sp", "spp", "ssp", "subsp", "var", "indet", "sect", "ser", "gen"})
_HYBRID_TOKENS = frozenset({HYBRID, "x"})
_COMPARE = frozenset({"cf", "cf.", "cfr.", "?"})  # uncertain identification: keep the name
_AFFINE = frozenset({"aff", "aff."})  # "related to, but not": only the genus is known
_NOT_NAMES = frozenset({"incertae sedis"})  # GBIF's placeholder for an unplaced taxon
_QUOTES = "\"'`“”‘’"


def _tokens(name: object) -> list[str]:
    """Whitespace tokens of a name cut at its first comma/semicolon (authorship, years
    follow), the hybrid marker split off as its own token, quotes stripped."""
    text = unicodedata.normalize("NFKC", str(name)).replace("_", " ")
    text = re.split(r"[,;]", text, maxsplit=1)[0]
    text = text.replace(HYBRID, f" {HYBRID} ")
    return [t for t in (t.strip(_QUOTES) for t in text.split()) if t]


def _is_hybrid(token: str) -> bool:
    return token.casefold() in _HYBRID_TOKENS


def _is_epithet(token: str) -> bool:
    """Letters (and inner hyphens) only, two or more, not a rank or "sp": an author
    abbreviation ("L.", "Sarg.") ends in a dot and so never passes."""
    return (
        _WORD.fullmatch(token) is not None
        and len(token) >= 2
        and token.casefold() not in _NO_EPITHET
    )


def _parse(tokens: list[str]) -> tuple[tuple[str, ...], int] | None:
    """((``×``?, genus, ``×``?, epithet?), tokens used) of a name, casefolded; None when
    the first word is not a genus (then the caller falls back to the plain text)."""
    i = 0
    out: list[str] = []
    if len(tokens) > 1 and _is_hybrid(tokens[0]):  # "× Chitalpa tashkentensis"
        out.append(HYBRID)
        i = 1
    if i >= len(tokens) or _WORD.fullmatch(tokens[i]) is None:
        return None
    out.append(tokens[i].casefold())
    i += 1
    if i < len(tokens) and re.fullmatch(r"\([^\W\d_]+\)", tokens[i]):  # subgenus "(Lobatae)"
        i += 1
    while i < len(tokens) and tokens[i].casefold() in _COMPARE:
        i += 1
    if i < len(tokens) and tokens[i].casefold() in _AFFINE:
        return tuple(out), len(tokens)
    hybrid = i < len(tokens) and _is_hybrid(tokens[i])
    if i + hybrid < len(tokens) and _is_epithet(tokens[i + hybrid].rstrip("?")):
        if hybrid:
            out.append(HYBRID)
        out.append(tokens[i + hybrid].rstrip("?").casefold())
        return tuple(out), i + hybrid + 1
    return tuple(out), len(tokens)  # genus only: what follows is authorship or a rank


@functools.lru_cache(maxsize=65536)  # asked per label per frame by the priors
def species_key(name: str) -> str:
    """Case-insensitive ``"genus epithet"`` key of a scientific name (see the module doc).

    Authorship, years and infraspecific ranks are dropped; the hybrid marker becomes a
    separate ``×``; names without an epithet give the genus alone. Text that does not
    start with a genus (digits, punctuation) is returned with case and whitespace
    normalised only, so it still matches itself.
    """
    tokens = _tokens(name)
    if not tokens:
        return ""
    parsed = _parse(tokens)
    if parsed is None:
        return " ".join(tokens).casefold()
    parts, used = parsed
    key = " ".join(parts)
    rest = tokens[used:]
    if len(rest) > 1 and _is_hybrid(rest[0]):
        # A hybrid formula, "Quercus alba × Q. macrocarpa": a key of its own, not a parent's.
        genus = parts[1] if parts[0] == HYBRID else parts[0]
        right = rest[1:]
        if re.fullmatch(r"[^\W\d_]{1,3}\.", right[0]) and genus.startswith(
            right[0][:-1].casefold()
        ):
            right = [genus, *right[1:]]  # "Q." repeats the first genus
        key = f"{key} {HYBRID} {species_key(' '.join(right))}"
    return key


def is_species_key(key: str) -> bool:
    """True for a key with an epithet (``"acer rubrum"``), False for a genus (``"acer"``)."""
    return len([p for p in key.split() if p != HYBRID]) >= 2 and key not in _NOT_NAMES


def binomial(name: object) -> str | None:
    """``"Genus epithet"`` (genera capitalised) of a scientific name, for display; None
    when the name has no epithet (``"Pinus L."``, ``"Acer sp."``) or is not a name."""
    if not isinstance(name, str) or _parse(_tokens(name)) is None:
        return None
    key = species_key(name)
    if not is_species_key(key):
        return None
    parts = key.split()
    for i, part in enumerate(parts):
        first = i == (1 if parts[0] == HYBRID else 0)
        formula = i > 2 and parts[i - 1] == HYBRID and i + 1 < len(parts)  # "× Quercus rubra"
        if first or formula:
            parts[i] = part[:1].upper() + part[1:]
    return " ".join(parts)


def group_names(
    names: Iterable[str], synonyms: Synonyms | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Names grouped into species by :func:`canonical`: ``(key → the name the species
    goes by, other name → that name)``. A species goes by the first of its names that
    is not a listed synonym (else the first), so a table that mentions a synonym before
    the accepted name still lists the accepted one."""
    syn = synonyms if synonyms is not None else _bundled()
    seen: dict[str, list[str]] = {}
    for name in names:
        group = seen.setdefault(syn.canonical(name), [])
        if name not in group:
            group.append(name)
    chosen: dict[str, str] = {}
    merged: dict[str, str] = {}
    for key, group in seen.items():
        accepted = [n for n in group if not syn.is_synonym(n)]
        chosen[key] = (accepted or group)[0]
        merged.update((n, chosen[key]) for n in group if n != chosen[key])
    return chosen, merged


def merge_note(
    where: str, merged: Mapping[str, str], kind: str = "range", limit: int = 8
) -> list[str]:
    """A log line for names read as the species of another name (``name → kept name``),
    so that a user sees which spellings were counted as one species; [] when none."""
    if not merged:
        return []
    pairs = [f"{name} → {kept}" for name, kept in merged.items()]
    n = len(pairs)
    return [
        f"{where}: {n} {kind} {'name' if n == 1 else 'names'} read as the species of "
        f"another (case, authorship, rank or synonym): {first_few(pairs, limit)}"
    ]


def first_few(items: Sequence[str], limit: int) -> str:
    """The first ``limit`` items, and how many more: "a, b and 3 more" (for one-line
    messages that name what they count)."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def plain_key(name: object) -> str:
    """Case and whitespace only: the old matching, to tell a normalised match from a plain one."""
    return " ".join(str(name).split()).casefold()


# ------------------------------------------------------------------------ synonyms


@dataclass(frozen=True)
class Synonyms:
    """Synonym → accepted name pairs, matched by :func:`species_key`.

    ``rows``: ``(synonym, accepted, source)`` as read. Chains (a synonym whose accepted
    name is itself listed as a synonym) are followed to the end.
    """

    rows: tuple[tuple[str, str, str], ...] = ()
    path: Path | None = None
    _accepted: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        direct: dict[str, str] = {}
        for synonym, accepted, _ in self.rows:
            s, a = species_key(synonym), species_key(accepted)
            if s == a:
                continue
            if direct.get(s, a) != a:
                where = self.path or "synonyms"
                raise FieldtoolError(
                    f"{where}: {synonym!r} is listed as a synonym of both {direct[s]!r} and {a!r}"
                )
            direct[s] = a
        resolved: dict[str, str] = {}
        for s in direct:
            seen = {s}
            a = direct[s]
            while a in direct:  # follow a chain to the accepted name
                if a in seen:
                    raise FieldtoolError(f"{self.path or 'synonyms'}: synonym cycle at {a!r}")
                seen.add(a)
                a = direct[a]
            resolved[s] = a
        object.__setattr__(self, "_accepted", MappingProxyType(resolved))

    @classmethod
    def from_csv(cls, path: str | Path) -> Synonyms:
        """Read a ``synonym,accepted,source`` CSV (UTF-8; ``#`` lines are comments)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise FieldtoolError(f"{path}: synonym table not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise FieldtoolError(f"{path}: cannot read the synonym table ({exc})") from None
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        reader = csv.DictReader(lines)
        need = {"synonym", "accepted"}
        if not need <= set(reader.fieldnames or ()):
            raise FieldtoolError(f"{path}: a synonym table needs columns synonym,accepted,source")
        rows = []
        for n, row in enumerate(reader, 2):
            synonym, accepted = (
                (row.get("synonym") or "").strip(),
                (row.get("accepted") or "").strip(),
            )
            if not synonym or not accepted:
                raise FieldtoolError(f"{path}: row {n} needs a synonym and an accepted name")
            rows.append((synonym, accepted, (row.get("source") or "").strip()))
        return cls(tuple(rows), path)

    @classmethod
    def bundled(cls) -> Synonyms:
        """The table shipped in ``data/taxonomy/synonyms.csv`` (read once)."""
        return _bundled()

    def __len__(self) -> int:
        return len(self._accepted)

    def canonical(self, name: str) -> str:
        """The accepted name's :func:`species_key` for a name or any of its synonyms."""
        key = species_key(name)
        return self._accepted.get(key, key)

    def is_synonym(self, name: str) -> bool:
        """True when the name is listed as a synonym (its key differs from the accepted)."""
        return species_key(name) in self._accepted

    def accepted_name(self, name: str) -> str | None:
        """The accepted name as the table spells it, or None for a name not listed."""
        key = self.canonical(name)
        for _, accepted, _ in self.rows:
            if species_key(accepted) == key:
                return accepted
        return None


@functools.lru_cache(maxsize=1)
def _bundled() -> Synonyms:
    if not SYNONYMS_CSV.exists():  # an install without data/: names still match by key
        log.warning("%s not found; species names match without synonyms", SYNONYMS_CSV)
        return Synonyms()
    return Synonyms.from_csv(SYNONYMS_CSV)


def canonical(name: str, synonyms: Synonyms | None = None) -> str:
    """:meth:`Synonyms.canonical` with ``synonyms``, by default the bundled table."""
    return (synonyms if synonyms is not None else _bundled()).canonical(name)


def label_key(name: str) -> str:
    """The key species are merged and matched by: :func:`canonical` of the scientific name,
    which is the text in brackets for a "common name (Scientific name)" label."""
    text = name.strip()
    if text.endswith(")") and "(" in text:
        text = text[text.rindex("(") + 1 : -1]
    return canonical(text)


class NameRows:
    """Rows of species by their key (:func:`canonical`): ``rows(labels)`` gives a model's
    label list as (C,) row numbers, -1 for names without a row. A session asks with the
    same label list every frame, so the answer for the last few lists is remembered."""

    def __init__(self, keys: Iterable[str], remember: int = 8) -> None:
        self.index: dict[str, int] = {key: i for i, key in enumerate(keys)}
        self._remember = max(1, int(remember))
        self._rows: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()

    def __contains__(self, name: str) -> bool:
        return canonical(name) in self.index

    def get(self, name: str) -> int | None:
        """Row of one name, None without one."""
        return self.index.get(canonical(name))

    def rows(self, names: Sequence[str]) -> np.ndarray:
        """(C,) int64 row of each name, -1 where there is none."""
        key = tuple(names)
        found = self._rows.get(key)
        if found is None:
            found = np.array([self.index.get(canonical(n), -1) for n in key], dtype=np.int64)
            self._rows[key] = found
            if len(self._rows) > self._remember:
                self._rows.popitem(last=False)
        return found


def looks_scientific(name: str) -> bool:
    """True when ``name`` is spelt as a scientific name is: a capitalised genus
    (``Cornus``), then, if any, a lowercase epithet (``kousa``); a hybrid marker may stand
    before either. ``red maple``, ``Cornus KOUSA`` and ``CORNUS`` are not; what follows
    the epithet (authorship, rank) is not looked at."""
    words = [t for t in _tokens(name) if not _is_hybrid(t)]
    if not words or _WORD.fullmatch(words[0]) is None:
        return False
    genus = words[0]
    if not (genus[:1].isupper() and (len(genus) == 1 or genus[1:].islower())):
        return False
    return len(words) < 2 or not _is_epithet(words[1]) or words[1].islower()
