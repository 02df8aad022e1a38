"""``learn --photos``: folders of species sub-folders, split by photo, alone or beside
reviews; a bad folder is a one-line error."""

from __future__ import annotations

import json
import shutil

import pytest

from fieldtool.cli import main
from fieldtool.learn.collect import BACKGROUND_LABEL
from fieldtool.learn.photos import read_photos
from tests.learn.conftest import HELDOUT_REVIEW_SEED, MISSING, LearnWorld, write_species_photos


def _files(folder, counts):
    """Tiny distinct files (read_photos hashes them, it does not decode them)."""
    for species, n in counts.items():
        sub = folder / species
        sub.mkdir(parents=True)
        for i in range(n):
            (sub / f"p{i:02d}.jpg").write_bytes(f"{species} {i}".encode())
    return folder


def test_photos_are_held_out_every_kth_of_each_species_by_file_name(tmp_path):
    a = _files(tmp_path / "a", {"Acer_rubrum": 8, "Quercus alba": 3, "Pinus_taeda": 1,
                                "background": 2})  # fmt: skip
    b = tmp_path / "b" / "ACER RUBRUM"  # the same species, spelt otherwise; one photo again
    b.mkdir(parents=True)
    shutil.copyfile(a / "Acer_rubrum" / "p00.jpg", b / "copy.jpg")
    shutil.copyfile(a / "Acer_rubrum" / "p01.jpg", b / "p01_new.jpg")
    shots = read_photos(None, [a, tmp_path / "b"])
    assert shots.sources == [f"photos:{a.resolve()}", f"photos:{(tmp_path / 'b').resolve()}"]
    assert shots.duplicates == 2 and len(shots.frames) == 8 + 3 + 1 + 2
    held = {(f.label, f.path.name) for f in shots.frames if f.sighting_id in shots.heldout}
    assert held == {("Acer rubrum", "p03.jpg"), ("Acer rubrum", "p07.jpg"),
                    ("Quercus alba", "p02.jpg"),  # fewer than 4: its last one
                    (BACKGROUND_LABEL, "p01.jpg")}  # fmt: skip  # Pinus taeda: 1 photo, kept
    assert shots.species == ["Acer rubrum", "Pinus taeda", "Quercus alba"]
    # the same split whatever the order the folders come in
    again = read_photos(None, [tmp_path / "b", a])
    assert {(f.label, f.path.name) for f in again.frames if f.sighting_id in again.heldout} == held
    halves = read_photos(None, [a], holdout=0.5)
    assert sum(f.label == "Acer rubrum" for f in halves.frames
               if f.sighting_id in halves.heldout) == 4  # fmt: skip


@pytest.mark.parametrize("make, says", [
    (lambda p: p / "nowhere", "not a folder of species sub-folders"),
    (lambda p: p / "empty", "no species sub-folders with photos"),
    (lambda p: (p / "flat.jpg").write_bytes(b"x") and p / "flat.jpg",
     "not a folder of species sub-folders"),
])  # fmt: skip
def test_a_bad_photos_folder_is_a_one_line_error(tmp_path, capsys, make, says):
    (tmp_path / "empty" / "Acer_rubrum").mkdir(parents=True)  # a species folder, no photos
    folder = make(tmp_path)
    out = tmp_path / "new"
    args = ["learn", "--model", str(tmp_path / "m"), "-o", str(out), "--photos", str(folder)]
    assert main(args) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(folder) in err and says in err


def test_photos_beside_reviews(learn_world: LearnWorld, tmp_path, capsys):
    """--db and --photos together: reviews held out by session, photos by photo, both
    measured; the card names both."""
    folder = write_species_photos(tmp_path / "photos", {MISSING: 12})
    held = learn_world.sessions[HELDOUT_REVIEW_SEED]
    out = tmp_path / "both"
    args = ["learn", "--db", str(learn_world.db), "--model", str(learn_world.old_model),
            "-o", str(out), "--photos", str(folder), "--heldout-session", held]  # fmt: skip
    assert main(args) == 0, capsys.readouterr()
    captured = capsys.readouterr()
    assert "12 photos of 1 species" in captured.err and "embedded" in captured.err
    assert captured.out.startswith(f"wrote {out}: held-out accuracy")
    card = json.loads((out / "model_card.json").read_text())
    assert card["heldout_sessions"] == [held] and card["train_sessions"]
    assert card["database"] == str(learn_world.db.resolve())
    assert card["sources"] == [f"photos:{folder.resolve()}"]
    missing = card["counts"][MISSING]
    assert missing["train_photos"] == 9 and missing["heldout_photos"] == 3
    assert missing["train_sightings"] >= 1  # relabels of it in the reviewed walks
    examples = sum(c["heldout_sightings"] + c["heldout_photos"] for c in card["counts"].values())
    assert card["after"]["sightings"] == examples > 3
    assert card["new_classes"] == [MISSING] and card["accepted"]
