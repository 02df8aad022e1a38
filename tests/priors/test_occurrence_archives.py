"""Occurrence records in a zip: a Darwin Core Archive (GBIF's standard download: meta.xml
names the core file, its delimiter and its columns' terms) or GBIF's simple download (one
tab-separated table in a zip), given to --ranges like a .csv; a zipped shapefile is still
a polygon file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from fieldtool.config import PriorConfig
from fieldtool.priors import (
    OccurrencePrior,
    is_occurrence_file,
    prior_from_files,
    read_occurrences,
)
from fieldtool.types import FieldtoolError

TERMS = "http://rs.tdwg.org/dwc/terms/"
ROWS = [  # gbifID, occurrenceStatus, species, scientificName, lat, lon
    ["1", "PRESENT", "Thuja plicata", "Thuja plicata Donn ex D.Don", "52.09", "5.12"],
    ["2", "ABSENT", "Quercus alba", "Quercus alba L.", "52.09", "5.12"],
    ["3", "PRESENT", "Pinus taeda", "Pinus taeda L.", "", ""],
]


def _meta(core: str, sep: str, header_lines: int, *, fields: str | None = None) -> str:
    names = ["occurrenceStatus", "species", "scientificName", "decimalLatitude",
             "decimalLongitude"]  # fmt: skip
    fields = fields or "".join(
        f'<field index="{i + 1}" term="{TERMS}{n}"/>' for i, n in enumerate(names)
    )
    return (f'<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">'
            f'<core encoding="UTF-8" fieldsTerminatedBy="{sep}" linesTerminatedBy="\\n" '
            f'fieldsEnclosedBy="" ignoreHeaderLines="{header_lines}" '
            f'rowType="{TERMS}Occurrence"><files><location>{core}</location></files>'
            f'<id index="0"/>{fields}</core></archive>')  # fmt: skip


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_a_darwin_core_archive_is_read_by_its_meta_xml(tmp_path: Path) -> None:
    """The trial's o2_dwca.zip: occurrence.txt, tab-separated with a header; its rows are
    read with the .csv rules (ABSENT and no coordinates skipped) and the log line names
    the zip."""
    header = "gbifID\toccurrenceStatus\tspecies\tscientificName\tdecimalLatitude\tdecimalLongitude"
    text = header + "\n" + "".join("\t".join(r) + "\n" for r in ROWS)
    path = _zip(tmp_path / "0012345-dwca.zip",
                {"occurrence.txt": text, "meta.xml": _meta("occurrence.txt", "\\t", 1),
                 "eml.xml": "<eml/>"})  # fmt: skip
    assert is_occurrence_file(path)
    table = read_occurrences(path)
    assert table.records["species"].tolist() == ["Thuja plicata"]
    assert table.rows == 3 and table.skipped == {"absent": 1, "bad_coords": 1}
    assert table.summary().startswith(f"{path}: 1 record of 1 species from 3 rows read")
    prior = prior_from_files([path], PriorConfig())
    assert isinstance(prior, OccurrencePrior) and prior.species == {"Thuja plicata"}


def test_the_columns_are_named_by_meta_xml_not_the_header(tmp_path: Path) -> None:
    """A core file without a header line (ignoreHeaderLines 0), comma-separated, under
    another name: meta.xml's terms name its columns."""
    text = "".join(",".join(r) + "\n" for r in ROWS)
    path = _zip(tmp_path / "export.zip",
                {"data/occ.csv": text, "meta.xml": _meta("data/occ.csv", ",", 0)})  # fmt: skip
    table = read_occurrences(path)
    assert table.records["species"].tolist() == ["Thuja plicata"]
    assert table.records[["lat", "lon"]].values.tolist() == [[52.09, 5.12]]


def test_gbifs_simple_download_zip_is_its_one_table(tmp_path: Path) -> None:
    header = "gbifID\toccurrenceStatus\tspecies\tscientificName\tdecimalLatitude\tdecimalLongitude"
    text = header + "\n" + "".join("\t".join(r) + "\n" for r in ROWS)
    path = _zip(tmp_path / "0012345-simple.zip", {"0012345.csv": text})
    assert is_occurrence_file(path)
    assert read_occurrences(path).records["species"].tolist() == ["Thuja plicata"]


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ({"meta.xml": "<archive><core"}, "meta.xml"),
        ({"meta.xml": _meta("occurrence.txt", "\\t", 1)}, "occurrence.txt"),
        ({"meta.xml": _meta("occurrence.txt", "\\t", 1, fields="<field index='1'/>")},
         "no species"),
        ({"a.csv": "species,lat,lon\n", "b.csv": "species,lat,lon\n"}, "2 tables"),
    ],
)  # fmt: skip
def test_an_unusable_archive_is_one_line_naming_it(
    tmp_path: Path, members: dict[str, str], fragment: str
) -> None:
    path = tmp_path / "occ.zip"
    if fragment == "no species":  # the core file exists, its columns unnamed
        members = {**members, "occurrence.txt": "h\n1\tx\n"}
    _zip(path, members)
    with pytest.raises(FieldtoolError) as info:
        read_occurrences(path)
    message = str(info.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message


def test_a_zipped_shapefile_is_still_a_range_file(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    frame = gpd.GeoDataFrame([{"species": "Abies alba", "geometry": box(10, 50, 11, 51)}],
                             geometry="geometry", crs="EPSG:4326")  # fmt: skip
    frame.to_file(folder / "r.shp", engine="pyogrio")
    path = tmp_path / "r.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for part in folder.iterdir():
            archive.write(part, part.name)
    assert not is_occurrence_file(path)
    prior = prior_from_files([path], PriorConfig(presence_field=None))
    assert prior is not None and prior.species == {"Abies alba"}
