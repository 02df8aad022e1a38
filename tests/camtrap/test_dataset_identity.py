"""One dataset, one id, whatever the format: Darwin Core's ``packageId`` and the Camtrap DP
package's ``id`` come from one rule (:func:`fieldtool.export_dwc.dataset_id`). A file whose
sessions all ran one package's deployments is that package (its ``id``; a filtered export
a UUID derived from it); any other file is the dataset of its earliest session."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from fieldtool.cli import main
from tests.camtrap.test_round_trip import annotated_package


def _ids(db: Path, out: Path, *more: str) -> tuple[str, str]:
    """(Darwin Core packageId, Camtrap DP id) of ``db`` exported with ``more``."""
    zipped, folder = out / "s.zip", out / "pkg"
    assert main(["export", "--db", str(db), "--format", "dwca", "-o", str(zipped),
                 "--license", "CC0-1.0", *more]) == 0  # fmt: skip
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "-o", str(folder),
                 *more]) == 0  # fmt: skip
    with zipfile.ZipFile(zipped) as archive:
        eml = archive.read("eml.xml").decode("utf-8")
    found = re.search(r'packageId="([^"]+)"', eml)
    assert found, eml[:400]
    return found[1], json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))["id"]


def test_a_package_run_has_its_packages_id_in_darwin_core_too(tmp_path, colour_run):
    """Darwin Core's packageId was the file's earliest session's UUID while the Camtrap
    DP export of the same file kept the package's id."""
    package = annotated_package(tmp_path / "pkg")
    own = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))["id"]
    db = tmp_path / "a.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    assert _ids(db, tmp_path / "whole") == (own, own)
    dwca, camtrap = _ids(db, tmp_path / "some", "--species", "Acer rubrum")
    assert dwca == camtrap != own  # another dataset, derived from the package's id
    assert _ids(db, tmp_path / "pinned", "--dataset-id", "urn:x:1") == ("urn:x:1", "urn:x:1")


def test_a_file_with_more_than_the_package_is_its_own_dataset(tmp_path, colour_run):
    """A folder of photos run into the file beside the package: the file is no longer
    the package, in either format."""
    from fieldtool.export_dwc import dataset_id

    package = annotated_package(tmp_path / "pkg")
    own = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))["id"]
    db = tmp_path / "a.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    folder = tmp_path / "photos"
    folder.mkdir()
    for k in range(2):  # pictures of their own (a copy of the package's is not run again)
        Image.fromarray(np.full((48, 64, 3), 40 + 90 * k, np.uint8)).save(folder / f"P{k}.JPG")
    assert main(["run", str(folder), "--db", str(db), "--lat", "44.5", "--lon", "-123.2",
                 "--quiet"]) == 0  # fmt: skip
    from fieldtool.store import query

    assert len(query(db, "SELECT * FROM sessions")) == 2
    dwca, camtrap = _ids(db, tmp_path / "whole")
    assert dwca == camtrap == dataset_id(db) != own
