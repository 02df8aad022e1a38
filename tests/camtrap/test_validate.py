"""An export validates with frictionless against the standard's own profile and table
schemas (served on 127.0.0.1, as the standard's test suite does); a broken one does not."""

from __future__ import annotations

import csv
import json
import urllib.request

import pytest

from fieldtool.camtrap import validate_package, write_package
from fieldtool.export import ExportFilter
from tests.camtrap.conftest import EXAMPLE, STANDARD, Made, read_csv


def test_the_standard_is_served_locally(standard_url: str):
    assert standard_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{standard_url}/1.0.2/media-table-schema.json") as reply:
        served = json.load(reply)
    assert served == json.loads((STANDARD / "media-table-schema.json").read_text("utf-8"))


def test_the_standards_example_validates(standard_url: str):
    """The check itself is sound: the standard's own example passes it."""
    assert validate_package(EXAMPLE, standard_url) == []


def test_an_export_of_a_photo_session_validates(store_file: Made, tmp_path, standard_url):
    out = tmp_path / "pkg"
    write_package(store_file.db, out, ExportFilter(session_id=store_file.photo_session))
    assert validate_package(out, standard_url) == []


def test_an_export_of_every_session_validates(store_file: Made, tmp_path, standard_url):
    out = tmp_path / "pkg"
    write_package(store_file.db, out)
    assert validate_package(out / "datapackage.json", standard_url) == []


def _rewrite(path, column: str, value: str) -> None:
    rows = read_csv(path)
    rows[0][column] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize(
    ("table", "column", "value", "expect"),
    [
        ("deployments", "latitude", "200", "latitude"),
        ("media", "timestamp", "2021-04-11T20:43:09", "timestamp"),  # no zone designator
        ("observations", "observationType", "plant", "observationType"),
        ("media", "deploymentID", "nowhere", "foreign"),  # not a deployment
    ],
)  # fmt: skip
def test_a_broken_row_fails(store_file: Made, tmp_path, standard_url, table, column, value,
                            expect):  # fmt: skip
    out = tmp_path / "pkg"
    write_package(store_file.db, out, ExportFilter(session_id=store_file.photo_session))
    _rewrite(out / f"{table}.csv", column, value)
    errors = validate_package(out, standard_url)
    assert errors and any(f"{table}.csv" in e for e in errors), errors
    assert any(expect in e.lower() or expect in e for e in errors), errors


def test_a_descriptor_against_the_profile_fails(store_file: Made, tmp_path, standard_url):
    out = tmp_path / "pkg"
    write_package(store_file.db, out, ExportFilter(session_id=store_file.photo_session))
    descriptor = json.loads((out / "datapackage.json").read_text("utf-8"))
    del descriptor["project"]  # required by the Camtrap DP profile, not by Data Package
    (out / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    errors = validate_package(out, standard_url)
    assert any("project" in e for e in errors), errors
