"""``learn``'s verdict measures what the new head keeps of the parent's classes, not only
the held-out examples (which may all be of new species, on which the parent scores 0 by
construction): on the parent's prototypes (stored examples of each class), the new head
must give each old class what the parent gave it; a parent without prototypes cannot be
judged so, and is refused unless forced."""

from __future__ import annotations

import json
import shutil

from fieldtool.cli import main
from fieldtool.learn.head import PROTOTYPES_FILE, HeadSettings
from fieldtool.learn.update import learn
from tests.learn.conftest import MISSING, write_species_photos

LOST = "Acer rubrum"  # whose renders a careless photo folder files as another known species
AS = "Quercus alba"


def test_a_parent_without_prototypes_is_refused_unless_forced(old_model, tmp_path, capsys):
    """Photos of a new species only: held-out accuracy goes 0 -> 1 by construction, and
    nothing of the old classes can be measured: not written, said, unless forced."""
    parent = tmp_path / "bare"
    shutil.copytree(old_model, parent)
    (parent / PROTOTYPES_FILE).unlink()
    folder = write_species_photos(tmp_path / "photos", {MISSING: 20})  # 5 held out
    out = tmp_path / "new"
    args = ["learn", "--model", str(parent), "-o", str(out), "--photos", str(folder), "--quiet"]
    assert main(args) == 1 and not out.exists()
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and printed.startswith("not written: ")
    assert "cannot measure what it keeps of the parent's 12 classes" in printed
    assert f"{parent / PROTOTYPES_FILE} (stored examples of each class) is missing" in printed
    assert printed.rstrip().endswith("(--force writes it anyway)")
    assert main([*args, "--force"]) == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["forced"] is True and card["accepted"] is False
    assert card["retention"] == {}


def test_a_head_that_loses_an_old_species_is_refused(old_model, tmp_path):
    """Renders of a known species filed under another known species' folder, beside a new
    species: the held-out photos (as careless as the rest) improve, but a learner that
    follows them closely (no rehearsal, low anchor) gives the first species' own
    prototypes to the second: refused, naming the species it would lose."""
    folder = write_species_photos(tmp_path / "photos", {MISSING: 12, LOST: 40})
    (folder / LOST.replace(" ", "_")).rename(folder / AS.replace(" ", "_"))
    eager = HeadSettings(anchor=0.01, rehearsal_weight=0.0)
    lines: list[str] = []
    result = learn(None, old_model, tmp_path / "new", photos=[folder], settings=eager,
                   log=lines.append)  # fmt: skip
    card = result.card
    assert card.after.accuracy > card.before.accuracy  # what the verdict saw before
    assert not result.written and not (tmp_path / "new").exists()
    assert result.message.startswith("not written: it would lose ")
    assert LOST in result.message and "prototypes" in result.message
    parent_kept, kept = card.retention[LOST]
    assert parent_kept > 0 and kept < 0.9
    assert any(line.startswith("old classes kept on the parent's prototypes:") for line in lines)


def test_the_careful_photos_keep_every_old_class(old_model, tmp_path):
    """Photos of the new species with the default settings: every old class keeps its
    prototypes (the card records each), written."""
    folder = write_species_photos(tmp_path / "photos", {MISSING: 20})  # 5 held out
    result = learn(None, old_model, tmp_path / "new", photos=[folder])
    assert result.written, result.message
    retention = result.card.retention
    assert len(retention) == 12 and all(kept >= 0.9 for _, kept in retention.values())
    assert "old classes kept" in result.message
