"""Occurrence records (GBIF Darwin Core downloads, plain ``species,lat,lon`` tables) as a prior.

Reading: the delimiter (tab, comma, semicolon, pipe) is taken from the header line; the
text is decoded as UTF-8 (a BOM is dropped), else as Latin-1. Columns are matched by name,
ignoring case: species from ``species`` (GBIF), else ``scientificName`` and the like cut
to the binomial (:func:`fieldtool.names.binomial`: authorship and infraspecific rank
dropped), or the column ``species_field`` names (``--species-field``); position from
``decimalLatitude``/``decimalLongitude`` or ``lat``/``lon`` and the like (a decimal comma,
``46,5``, is read in a table not separated by commas: European exports). A zip is read as
GBIF sends it (:mod:`fieldtool.priors.archives`): a Darwin Core Archive by its ``meta.xml``
(the core file, its delimiter and its columns' terms), or the one table of a simple
download. Rows are skipped and counted, never fatal: lines that do not parse, no
species, bad or (0, 0) coordinates, ``occurrenceStatus`` ABSENT (or empty with an
``individualCount`` of 0, which GBIF reads as absent), GBIF geospatial issues,
fossils and living (garden, zoo) specimens; :meth:`OccurrenceTable.lines` gives a line
per file (rows read, records kept, skipped by reason) for the log. Names are one species
when :func:`fieldtool.names.canonical` says so (case, authorship, rank, synonyms), as for
labels and range maps. A record whose
``coordinateUncertaintyInMeters`` is above ``max_uncertainty_m`` gets weight
``max_uncertainty_m / uncertainty`` instead of 1.

The prior: records are counted per species on an H3 grid (``resolution`` 5: cells of
about 250 km², centres ~15 km apart). For a place, the weighted counts of the cells within
``reach × decay_km`` (an H3 ``grid_disk``) are summed with a distance decay,
``S = Σ w · exp(-d / decay_km)`` (``d``: great-circle km between cell centres), and the
prior is ``1 - exp(-S / saturation)``: about 0.86 on a lone record's cell, 0.5 at 50 km,
~0.1 at 150 km (defaults), ~1 where records are many. Species without records get 1
(unaffected). Results are cached per H3 cell, so a long track costs little.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h3
import numpy as np
import pandas as pd

from fieldtool.geo import haversine_m
from fieldtool.inputs import read_input_text
from fieldtool.names import NameRows, binomial, canonical, group_names, merge_note
from fieldtool.priors.archives import is_occurrence_zip, read_zipped_table
from fieldtool.priors.cells import distinct_cells
from fieldtool.types import FieldtoolError

DEFAULT_RESOLUTION = 5  # H3 resolution of the count grid
DEFAULT_DECAY_KM = 50.0  # km; weight falls as exp(-d / decay_km)
DEFAULT_MAX_UNCERTAINTY_M = 10_000.0  # m; larger uncertainty → weight threshold / uncertainty
DEFAULT_SATURATION = 0.5  # weighted records at which the prior reaches 1 - 1/e
DEFAULT_REACH = 5.0  # the kernel is cut at reach × decay_km (exp(-5) ≈ 0.007)
SKIP_BASIS = frozenset({"FOSSIL_SPECIMEN", "LIVING_SPECIMEN"})
GEO_ISSUES = frozenset(
    {
        "ZERO_COORDINATE",
        "COORDINATE_INVALID",
        "COORDINATE_OUT_OF_RANGE",
        "COUNTRY_COORDINATE_MISMATCH",
        "PRESUMED_SWAPPED_COORDINATE",
    }
)
_SPECIES_COLS = ("species", "scientificname", "acceptedscientificname", "verbatimscientificname",
                 "scientific_name", "taxon", "name")  # fmt: skip
# as a message names them (the look-up ignores case)
_SPECIES_NAMES = ("species", "scientificName", "acceptedScientificName",
                  "verbatimScientificName", "scientific_name", "taxon", "name")  # fmt: skip
_LAT_COLS = ("decimallatitude", "latitude", "lat", "y")
_LON_COLS = ("decimallongitude", "longitude", "lon", "lng", "long", "x")
# skip reason → (one, several), as the log lines say it
SKIP_REASONS = {
    "bad_line": ("unreadable line", "unreadable lines"),
    "no_species": ("no species", "no species"),
    "bad_coords": ("bad coordinates", "bad coordinates"),
    "absent": ("marked absent", "marked absent"),
    "zero_count": ("individualCount 0 (absent)", "individualCount 0 (absent)"),
    "basis_of_record": ("fossil/living specimen", "fossil/living specimens"),
    "geospatial_issue": ("GBIF geospatial issue", "GBIF geospatial issues"),
}


def _plural(n: int, one: str, several: str) -> str:
    return f"{n} {one if n == 1 else several}"


@dataclass(frozen=True)
class OccurrenceTable:
    """Usable records of one or more files: ``species``, ``lat``, ``lon``, ``weight`` columns."""

    records: pd.DataFrame
    rows: int  # data rows seen (including bad lines)
    skipped: dict[str, int] = field(default_factory=dict)  # reason → count
    sources: tuple[Path, ...] = ()
    files: tuple[OccurrenceTable, ...] = ()  # one table per file, when several were read

    def summary(self) -> str:
        """One line for the log: rows read, records kept, rows skipped by reason, e.g.
        ``occ.csv: 1180 records of 3 species from 1242 rows read, 62 skipped: 40 bad
        coordinates, 22 no species``."""
        names = ", ".join(str(p) for p in self.sources) or "occurrences"
        n_species = len({canonical(s) for s in self.records["species"]})
        line = (
            f"{names}: {_plural(len(self.records), 'record', 'records')} of {n_species} "
            f"species from {_plural(self.rows, 'row', 'rows')} read"
        )
        reasons = sorted(((n, why) for why, n in self.skipped.items() if n),
                         key=lambda nw: (-nw[0], nw[1]))  # fmt: skip
        if reasons:
            said = [_plural(n, *SKIP_REASONS.get(why, (why.replace("_", " "),) * 2))
                    for n, why in reasons]  # fmt: skip
            line += f", {sum(n for n, _ in reasons)} skipped: {', '.join(said)}"
        return line

    def lines(self) -> list[str]:
        """:meth:`summary` of each file read (of this table when it is one file)."""
        return [t.summary() for t in self.files] if self.files else [self.summary()]


def detect_delimiter(header: str) -> str:
    """The most frequent of tab, comma, semicolon and pipe outside quotes in a header line."""
    bare = re.sub(r'"[^"]*"', "", header)
    counts = {sep: bare.count(sep) for sep in ("\t", ",", ";", "|")}
    sep = max(counts, key=lambda s: counts[s])
    return sep if counts[sep] else ","


def _column(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    lower = {str(c).strip().casefold(): c for c in frame.columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _binomial(value: object) -> str | None:
    """ "Genus species" from a name (author, infraspecific parts dropped); others as given
    (a plain column may hold "Acer sp." or a common name, which still match themselves)."""
    if not isinstance(value, str):
        return None
    return binomial(value) or " ".join(value.split()) or None


def _strict_binomial(value: object) -> str | None:
    """ "Genus species" from a scientific name; None above species rank ("Pinus L.")."""
    return binomial(value)


def _coordinates(values: pd.Series, sep: str) -> np.ndarray:
    """Degrees of a coordinate column (NaN where no number); in a table not separated by
    commas, a decimal comma (``46,5``: European exports) is a decimal point."""
    text = values.str.strip()
    if sep != ",":
        comma = text.str.fullmatch(r"[+-]?\d+,\d+")
        text = text.where(~comma, text.str.replace(",", ".", regex=False))
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)


def read_occurrences(
    path: str | Path,
    *,
    species_field: str | None = None,
    max_uncertainty_m: float = DEFAULT_MAX_UNCERTAINTY_M,
    skip_basis: Iterable[str] = SKIP_BASIS,
) -> OccurrenceTable:
    """Usable occurrence records of one CSV/TSV file (see the module doc for the rules).

    Raises :class:`FieldtoolError` (one line naming the file) only for a missing or
    unreadable file, or one without species or coordinate columns.
    """
    path = Path(path)
    given_sep, quoted, where = None, None, str(path)
    if path.suffix.lower() == ".zip":  # a GBIF download as it comes (module doc)
        zipped = read_zipped_table(path)
        text, given_sep, quoted = zipped.text, zipped.sep, zipped.quoted
        where = f"{path}: {zipped.member}"
    else:
        text = read_input_text(path, "occurrence")
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise FieldtoolError(f"{where}: empty occurrence file (no header line)")
    sep = given_sep or detect_delimiter(header)
    if quoted is None:  # GBIF's TSV: no quoting
        quoted = not (sep == "\t" and '"' not in header)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                on_bad_lines="warn",
                quoting=0 if quoted else 3,  # csv.QUOTE_MINIMAL, QUOTE_NONE
            )
        except (pd.errors.ParserError, ValueError) as exc:
            msg = " ".join(str(exc).split())
            raise FieldtoolError(f"{where}: cannot read as CSV/TSV ({msg})") from None
    bad_lines = sum(str(w.message).count("Skipping line") for w in caught)

    sp_col = species_field if species_field in frame.columns else _column(frame, _SPECIES_COLS)
    lat_col, lon_col = _column(frame, _LAT_COLS), _column(frame, _LON_COLS)
    if sp_col is None or lat_col is None or lon_col is None:
        need = [f"{n} column (one of {', '.join(names)})"
                for n, c, names in (("species", sp_col, _SPECIES_NAMES + ("--species-field",)),
                                    ("latitude", lat_col, _LAT_COLS),
                                    ("longitude", lon_col, _LON_COLS)) if c is None]  # fmt: skip
        raise FieldtoolError(f"{where}: no {' / '.join(need)} in the header")

    n = len(frame)
    skipped: dict[str, int] = {"bad_line": bad_lines}
    keep = np.ones(n, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        new = mask & keep
        skipped[reason] = skipped.get(reason, 0) + int(new.sum())
        keep[new] = False

    plain = sp_col.casefold() in ("species", "name", "taxon") or sp_col == species_field
    names = frame[sp_col].map(_binomial if plain else _strict_binomial)
    if sp_col.casefold() == "species":  # GBIF leaves it empty above species rank
        alt = _column(frame, _SPECIES_COLS[1:])
        if alt is not None:
            names = names.where(names.notna(), frame[alt].map(_strict_binomial))
    drop(names.isna().to_numpy(), "no_species")

    status = _column(frame, ("occurrencestatus",))
    stated = np.zeros(n, dtype=bool)
    if status is not None:
        said = frame[status].str.strip().str.upper()
        drop((said == "ABSENT").to_numpy(), "absent")
        stated = (said != "").to_numpy()
    count_col = _column(frame, ("individualcount",))
    if count_col is not None:  # GBIF: a count of 0 without a status is an absence
        count = pd.to_numeric(frame[count_col].str.strip(), errors="coerce").to_numpy(np.float64)
        drop((count == 0) & ~stated, "zero_count")
    basis = _column(frame, ("basisofrecord",))
    skip_set = {b.upper() for b in skip_basis}
    if basis is not None and skip_set:
        drop(frame[basis].str.strip().str.upper().isin(skip_set).to_numpy(), "basis_of_record")
    flagged = np.zeros(n, dtype=bool)
    geo = _column(frame, ("hasgeospatialissues",))
    if geo is not None:
        flagged |= (frame[geo].str.strip().str.lower() == "true").to_numpy()
    issue = _column(frame, ("issue",))
    if issue is not None:
        flagged |= frame[issue].map(lambda v: bool(GEO_ISSUES & set(str(v).split(";")))).to_numpy()
    drop(flagged, "geospatial_issue")

    lat, lon = (_coordinates(frame[col], sep) for col in (lat_col, lon_col))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(lat) | ~np.isfinite(lon) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
        bad |= (lat == 0) & (lon == 0)
    drop(bad, "bad_coords")

    weight = np.ones(n, dtype=np.float64)
    unc_col = _column(frame, ("coordinateuncertaintyinmeters",))
    if unc_col is not None:
        unc = pd.to_numeric(frame[unc_col].str.strip(), errors="coerce").to_numpy(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            big = np.isfinite(unc) & (unc > max_uncertainty_m)
            weight = np.where(big, max_uncertainty_m / np.where(big, unc, 1.0), 1.0)
    records = pd.DataFrame(
        {
            "species": names[keep].to_numpy(dtype=object),
            "lat": lat[keep],
            "lon": lon[keep],
            "weight": weight[keep],
        }  # fmt: skip
    )
    skipped = {k: v for k, v in skipped.items() if v}
    return OccurrenceTable(records, n + bad_lines, skipped, (path,))


def read_occurrence_files(
    paths: str | Path | Iterable[str | Path],
    *,
    species_field: str | None = None,
    max_uncertainty_m: float = DEFAULT_MAX_UNCERTAINTY_M,
    skip_basis: Iterable[str] = SKIP_BASIS,
) -> OccurrenceTable:
    """:func:`read_occurrences` over several files, records and counts combined."""
    given = [paths] if isinstance(paths, (str, Path)) else list(paths)
    skip = frozenset(skip_basis)  # read once: a generator would be spent on the first file
    tables = [
        read_occurrences(
            p, species_field=species_field, max_uncertainty_m=max_uncertainty_m, skip_basis=skip
        )
        for p in given
    ]
    if not tables:
        raise FieldtoolError("occurrences: no files given")
    skipped: dict[str, int] = {}
    for t in tables:
        for k, v in t.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    records = pd.concat([t.records for t in tables], ignore_index=True)
    sources = tuple(p for t in tables for p in t.sources)
    files = tuple(f for t in tables for f in (t.files or (t,)))
    return OccurrenceTable(records, sum(t.rows for t in tables), skipped, sources, files)


class OccurrencePrior:
    """Species prior from occurrence records on an H3 grid (see the module doc).

    A :class:`fieldtool.priors.stage.SpeciesPrior` (``species``, ``has``, ``__len__``,
    ``prior``), like :class:`fieldtool.priors.polygons.RangePrior`.
    Records whose names are one species by :func:`fieldtool.names.canonical` are counted
    together, under the name :func:`fieldtool.names.group_names` picks. ``notes``: lines
    for the log (the files read, see :func:`load_occurrences`), to which a line naming the
    merged names is added.
    """

    def __init__(
        self,
        records: pd.DataFrame,
        resolution: int = DEFAULT_RESOLUTION,
        decay_km: float = DEFAULT_DECAY_KM,
        saturation: float = DEFAULT_SATURATION,
        reach: float = DEFAULT_REACH,
        cache_size: int = 4096,
        notes: Sequence[str] = (),
    ) -> None:
        if not decay_km > 0 or not saturation > 0 or not reach > 0:
            raise ValueError("decay_km, saturation and reach must be > 0")
        if not 0 <= resolution <= 15:
            raise ValueError(f"H3 resolution must be 0..15, got {resolution}")
        self.resolution = int(resolution)
        self.decay_km = float(decay_km)
        self.saturation = float(saturation)
        self.reach = float(reach)
        self._names, merged = group_names(pd.unique(records["species"]))
        self.notes: tuple[str, ...] = tuple(notes) + tuple(
            merge_note("occurrences", merged, kind="record")
        )
        self._index = NameRows(self._names)  # its keys
        # counts: one row per (cell, species) in CSR order by cell
        cells = [
            h3.latlng_to_cell(float(a), float(o), self.resolution)
            for a, o in zip(records["lat"], records["lon"], strict=True)
        ]
        # one key per distinct name, not per record: downloads run to millions of rows
        codes = {name: self._index.index[canonical(name)] for name in pd.unique(records["species"])}
        sp = records["species"].map(codes).to_numpy(dtype=np.int64)
        table = pd.DataFrame({"cell": cells, "sp": sp, "w": records["weight"].to_numpy(float)})
        grouped = table.groupby(["cell", "sp"], sort=True)["w"].sum().reset_index()
        uniq, starts = np.unique(grouped["cell"].to_numpy(), return_index=True)
        self._cell_row = {c: i for i, c in enumerate(uniq)}
        self._starts = np.append(starts, len(grouped)).astype(np.int64)
        self._sp = grouped["sp"].to_numpy(np.int64)
        self._w = grouped["w"].to_numpy(np.float64)
        centres = np.array([h3.cell_to_latlng(c) for c in uniq], dtype=np.float64).reshape(-1, 2)
        self._clat, self._clon = centres[:, 0], centres[:, 1]
        self._spacing_km = math.sqrt(3) * h3.average_hexagon_edge_length(self.resolution, "km")
        self._cache: OrderedDict[tuple[str, float], np.ndarray] = OrderedDict()
        self._cache_size = max(1, int(cache_size))

    @property
    def extent(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) lon/lat degrees of the records' cells; None without."""
        if not len(self._clat):
            return None
        return (float(self._clon.min()), float(self._clat.min()), float(self._clon.max()),
                float(self._clat.max()))  # fmt: skip

    @property
    def species(self) -> set[str]:
        """Names of the species that have records."""
        return set(self._names.values())

    def has(self, species: str) -> bool:
        return species in self._index

    def __len__(self) -> int:
        return len(self._names)

    @property
    def cells(self) -> int:
        """Grid cells holding at least one record."""
        return len(self._cell_row)

    def _density(self, cell: str, decay: float) -> np.ndarray:
        """(S,) kernel-weighted record counts of every species at a cell's centre."""
        key = (cell, decay)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        k = max(1, math.ceil(self.reach * decay / self._spacing_km))
        rows = [r for c in h3.grid_disk(cell, k) if (r := self._cell_row.get(c)) is not None]
        out = np.zeros(len(self._names), dtype=np.float64)
        if rows:
            rows_a = np.array(rows, dtype=np.int64)
            lat, lon = h3.cell_to_latlng(cell)
            kernel = np.exp(
                -haversine_m(lat, lon, self._clat[rows_a], self._clon[rows_a]) / 1000.0 / decay
            )
            lengths = self._starts[rows_a + 1] - self._starts[rows_a]
            idx = np.repeat(self._starts[rows_a] - np.cumsum(lengths) + lengths, lengths)
            idx += np.arange(lengths.sum())
            np.add.at(out, self._sp[idx], self._w[idx] * np.repeat(kernel, lengths))
        self._cache[key] = out
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def density(
        self, lat: float, lon: float, species: Sequence[str], decay_km: float | None = None
    ) -> np.ndarray:
        """(C,) kernel-weighted record counts near (lat, lon); NaN for species without records."""
        return self.densities([lat], [lon], species, decay_km)[0]

    def densities(
        self,
        lats: Sequence[float],
        lons: Sequence[float],
        species: Sequence[str],
        decay_km: float | None = None,
    ) -> np.ndarray:
        """(N, C): :meth:`density` at N places, each H3 cell among them looked up once."""
        decay = self.decay_km if decay_km is None else float(decay_km)
        cells, inverse = distinct_cells(lats, lons, self._cell)
        rows = self._index.rows(species)
        if not inverse or len(rows) == 0:
            return np.zeros((len(inverse), len(rows)), dtype=np.float64)
        dens = np.stack([self._density(cell, decay) for cell in cells])  # (cells, S)
        return np.where(rows >= 0, dens[:, np.maximum(rows, 0)], np.nan)[inverse]

    def _cell(self, lat: float, lon: float) -> str:
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ValueError(f"not a position: {lat}, {lon}")
        return str(h3.latlng_to_cell(float(lat), float(lon), self.resolution))

    def prior(
        self, lat: float, lon: float, species: Sequence[str], decay_km: float | None = None
    ) -> np.ndarray:
        """(C,) float64 in [0, 1]: ``1 - exp(-S / saturation)``, 1 for species without records."""
        return self.priors([lat], [lon], species, decay_km)[0]

    def priors(
        self,
        lats: Sequence[float],
        lons: Sequence[float],
        species: Sequence[str],
        decay_km: float | None = None,
    ) -> np.ndarray:
        """(N, C): :meth:`prior` at N places (:meth:`densities`)."""
        d = self.densities(lats, lons, species, decay_km)
        return np.where(np.isnan(d), 1.0, 1.0 - np.exp(-np.nan_to_num(d) / self.saturation))


def load_occurrences(
    paths: str | Path | Iterable[str | Path],
    *,
    resolution: int = DEFAULT_RESOLUTION,
    decay_km: float = DEFAULT_DECAY_KM,
    max_uncertainty_m: float = DEFAULT_MAX_UNCERTAINTY_M,
    species_field: str | None = None,
) -> OccurrencePrior:
    """Read occurrence files and build their prior; raises when no record is usable."""
    table = read_occurrence_files(
        paths, species_field=species_field, max_uncertainty_m=max_uncertainty_m
    )
    if table.records.empty:
        raise FieldtoolError(f"{table.summary()}: no usable occurrence records")
    return OccurrencePrior(
        table.records, resolution=resolution, decay_km=decay_km, notes=table.lines()
    )


OCCURRENCE_SUFFIXES = (".csv", ".tsv", ".txt")


def is_occurrence_file(path: str | Path) -> bool:
    """True for tables of records (by extension; a zip by what it holds:
    :func:`fieldtool.priors.archives.is_occurrence_zip`), False for polygon files."""
    suffix = Path(path).suffix.lower()
    return suffix in OCCURRENCE_SUFFIXES or (suffix == ".zip" and is_occurrence_zip(path))


def describe(prior: OccurrencePrior, lat: float, lon: float) -> Mapping[str, float]:
    """Prior of every species with records at a place, highest first (for printing)."""
    names = sorted(prior.species)
    values = prior.prior(lat, lon, names)
    order = sorted(range(len(names)), key=lambda i: (-values[i], names[i]))
    return {names[i]: float(values[i]) for i in order}
