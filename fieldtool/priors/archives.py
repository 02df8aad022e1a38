"""Occurrence tables inside a zip, for :func:`fieldtool.priors.occurrences.read_occurrences`.

Two kinds of zip are GBIF downloads: a Darwin Core Archive (``meta.xml`` names the core
file, its delimiter, quote, encoding, header lines and each column's Darwin Core term;
GBIF's is ``occurrence.txt``, tab-separated with a header) and the "simple" download (one
tab-separated ``<key>.csv``, no ``meta.xml``). An archive whose core is not occurrences
(an Event core) is read from its occurrence extension. A zip holding a shapefile or other
vector file is a range file, not a table (:func:`is_occurrence_zip`).

The table is read whole into memory, as a plain ``.csv`` is; the columns of a Darwin Core
Archive are named by the local part of their terms (``decimalLatitude``), whatever its
header line says.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fieldtool.inputs import decode_text
from fieldtool.types import FieldtoolError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
# members that make a zip a range file (GDAL reads a zipped shapefile or GeoPackage)
VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".gml", ".fgb")
_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\"}


@dataclass(frozen=True)
class ZippedTable:
    """A table read from a zip: ``text`` (a header line naming the columns first), its
    delimiter ``sep`` (None: to be detected from the header), whether fields may be in
    double quotes (``quoted``; None: as for a plain file) and the ``member`` read."""

    text: str
    sep: str | None
    quoted: bool | None
    member: str


def _members(archive: zipfile.ZipFile) -> list[str]:
    """Files in a zip, without folders and macOS resource forks (``__MACOSX/``)."""
    return [n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def is_occurrence_zip(path: str | Path) -> bool:
    """A zip of occurrences: a Darwin Core Archive (``meta.xml`` at its top), or tables
    (.csv/.tsv/.txt) and no vector file. False for anything else, a missing or broken zip
    included (read as a range file, which says what is wrong)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = _members(archive)
    except (OSError, zipfile.BadZipFile):
        return False
    if any(n.casefold() == "meta.xml" for n in names):
        return True
    return any(_suffix(n) in TABLE_SUFFIXES for n in names) and not any(
        _suffix(n) in VECTOR_SUFFIXES for n in names
    )


def _local(tag: str) -> str:
    """An XML tag or a term without its namespace: ``decimalLatitude``."""
    return tag.rsplit("}", 1)[-1].rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _unescape(value: str) -> str:
    for code, char in _ESCAPES.items():
        value = value.replace(code, char)
    return value


def _occurrence_table(path: Path, meta: bytes) -> ET.Element:
    """The ``core`` (else ``extension``) element of ``meta.xml`` whose rowType is
    Occurrence."""
    try:
        root = ET.fromstring(meta)
    except ET.ParseError as exc:
        raise FieldtoolError(f"{path}: meta.xml is not readable XML ({exc})") from None
    tables = [e for e in root if _local(e.tag) in ("core", "extension")]
    for element in tables:
        if _local(element.get("rowType", "")) == "Occurrence":
            return element
    kinds = ", ".join(f"{_local(e.tag)} {_local(e.get('rowType', '')) or '?'}" for e in tables)
    raise FieldtoolError(
        f"{path}: a Darwin Core Archive without an occurrence table (meta.xml: "
        f"{kinds or 'no core'})"
    )


def _columns(table: ET.Element, width: int) -> list[str]:
    """Column names by index: each field's term (local part), ``id`` for the id column,
    ``column<i>`` for columns meta.xml does not name."""
    names: dict[int, str] = {}
    for element in table:
        kind, index = _local(element.tag), element.get("index")
        if index is None or not index.strip().isdigit():
            continue  # a field with a default value only: not a column of the file
        if kind == "field" and element.get("term"):
            names[int(index)] = _local(element.get("term", ""))
        elif kind in ("id", "coreid"):
            names.setdefault(int(index), "id")
    width = max([width, *(i + 1 for i in names)])
    out: list[str] = []
    for i in range(width):
        name = names.get(i, f"column{i}")
        out.append(name if name not in out else f"{name}_{i}")
    return out


def _darwin_core(path: Path, archive: zipfile.ZipFile, names: list[str]) -> ZippedTable:
    """The occurrence table of a Darwin Core Archive, by its ``meta.xml``."""
    meta_name = next(n for n in names if n.casefold() == "meta.xml")
    table = _occurrence_table(path, archive.read(meta_name))
    location = next((e.text or "" for e in table.iter() if _local(e.tag) == "location"), "")
    member = location.strip()
    if not member:
        raise FieldtoolError(f"{path}: meta.xml names no file for its occurrence table")
    if member not in names:
        raise FieldtoolError(f"{path}: meta.xml names {member} as the occurrence table, "
                             f"which the zip lacks (it holds {', '.join(names)})")  # fmt: skip
    sep = _unescape(table.get("fieldsTerminatedBy", ","))
    quote = _unescape(table.get("fieldsEnclosedBy", '"'))
    encoding = table.get("encoding", "UTF-8")
    try:
        skip = int(table.get("ignoreHeaderLines", "0") or 0)
    except ValueError:
        skip = 0
    data = archive.read(member)
    if encoding.replace("-", "").upper() == "UTF8":
        text = decode_text(data)
    else:
        try:
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise FieldtoolError(f"{path}: {member} is not {encoding} ({exc})") from None
    lines = text.split("\n", skip)
    body = lines[skip] if len(lines) > skip else ""
    first = body.split("\n", 1)[0].rstrip("\r")
    columns = _columns(table, first.count(sep) + 1 if first else 0)
    header = sep.join(columns)
    return ZippedTable(header + "\n" + body, sep, bool(quote), member)


def read_zipped_table(path: str | Path) -> ZippedTable:
    """The occurrence table of a zip (module doc); raises :class:`FieldtoolError` (one
    line naming the zip) for a missing or broken zip, an archive without an occurrence
    table, or a zip of several tables and no ``meta.xml``."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = _members(archive)
            if any(n.casefold() == "meta.xml" for n in names):
                return _darwin_core(path, archive, names)
            tables = [n for n in names if _suffix(n) in TABLE_SUFFIXES]
            if len(tables) != 1:
                held = f"{len(tables)} tables ({', '.join(tables)})" if tables else "no table"
                raise FieldtoolError(
                    f"{path}: a zip of {held} and no meta.xml; unzip it and give the "
                    "occurrence table (occurrence.txt in a GBIF download)"
                )
            return ZippedTable(decode_text(archive.read(tables[0])), None, None, tables[0])
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: occurrence file not found") from None
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:  # RuntimeError: encrypted
        raise FieldtoolError(f"{path}: cannot read the zip ({exc})") from None
