"""``fieldtool learn export``: confirmed frames as an ImageFolder with labels.csv."""

from __future__ import annotations

import csv
import hashlib

import pytest

from fieldtool.cli import main
from fieldtool.learn.export import export_confirmed
from fieldtool.store import query
from fieldtool.types import FieldtoolError
from tests.learn.conftest import LearnWorld


def test_export_writes_species_folders_and_labels(learn_world: LearnWorld, tmp_path):
    out = tmp_path / "export"
    assert main(["learn", "export", "--db", str(learn_world.db), "-o", str(out)]) == 0
    with (out / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    reviewed = query(learn_world.db, """
        SELECT f.sha256, r.decision, coalesce(r.species, s.species) AS species
        FROM sighting_frames f JOIN sightings s USING (sighting_id)
        JOIN (SELECT sighting_id, arg_max(decision, reviewed_at) AS decision,
                     arg_max(species, reviewed_at) AS species FROM reviews GROUP BY 1) r
        USING (sighting_id)""")  # fmt: skip
    wanted = reviewed[reviewed.decision != "reject"]
    assert len(rows) == wanted.sha256.nunique() > 0
    for row in rows:
        folder, name = row["path"].split("/")
        assert folder == row["species"].replace(" ", "_") and name.endswith(".jpg")
        data = (out / row["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert row["decision"] in ("confirm", "relabel")
    assert {r["species"] for r in rows} == set(wanted.species)
    assert not (out / "background").exists()
    with pytest.raises(FieldtoolError, match="not empty"):
        export_confirmed(learn_world.db, out)
