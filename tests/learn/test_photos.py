"""``learn --photos``: folders of species sub-folders, split by photo, alone or beside
reviews; a bad folder, or a sub-folder that is no species, is a one-line error; variety
folders are their species, said; too little held out is refused unless forced."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fieldtool.cli import main
from fieldtool.gallery import Entry, Gallery
from fieldtool.learn.collect import BACKGROUND_LABEL
from fieldtool.learn.photos import read_photos
from fieldtool.learn.update import learn
from tests.learn.conftest import HELDOUT_REVIEW_SEED, MISSING, LearnWorld, write_species_photos

KNOWN = "Acer rubrum"  # a species the old model has


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


def _old_labels(model) -> list[str]:
    from fieldtool.model import read_labels

    return list(read_labels(model / "labels.csv").species)


@pytest.mark.parametrize("name", ["images", "Acer sp.", "photos 2", "Red_maple", "Sugar maple",
                                  "Red_Maple"])
def test_a_sub_folder_that_is_no_species_is_a_one_line_error(old_model, tmp_path, capsys,
                                                              name):  # fmt: skip
    """A folder beside its labels.csv (``images/``) would become a class "images"; so would a
    common name spelt as a binomial ("Red_maple", a common name of the bundled atlas)."""
    folder = _files(tmp_path / "in", {name: 3, "Acer_rubrum": 2, "Pinus_contorta_var._murrayana": 1,
                                      "background": 1})  # fmt: skip
    out = tmp_path / "new"
    args = ["learn", "--model", str(old_model), "-o", str(out), "--photos", str(folder),
            "--quiet"]  # fmt: skip
    assert main(args) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(folder / name) in err
    assert "not a species the model knows nor a scientific name" in err and "rename" in err
    for fine in ("Acer_rubrum", "Pinus_contorta", "background"):
        assert str(folder / fine) not in err


def test_a_gallery_species_that_is_no_species_is_a_one_line_error(old_model, tmp_path, capsys):
    """`gallery add` names species by folder too, so a gallery can hold "images"."""
    gallery = Gallery(tmp_path / "g", create=True)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    gallery.entries = [Entry("images", "a.jpg", path=str(photo))]
    gallery.embeddings = np.ones((1, 8), np.float32) / np.sqrt(8)
    gallery.save()
    args = ["learn", "--model", str(old_model), "-o", str(tmp_path / "new"), "--gallery",
            str(gallery.path), "--quiet"]  # fmt: skip
    assert main(args) == 2 and not (tmp_path / "new").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'images' of gallery" in err and "gallery remove" in err


def test_variety_folders_are_one_species_named_by_it_and_said(old_model, tmp_path):
    """The species key merges ranks below species: both variety folders are the species,
    the class is named by it (not by the first folder), and a log line says so."""
    folder = write_species_photos(tmp_path / "photos", {MISSING: 20})
    var = folder / MISSING.replace(" ", "_")
    a, b = folder / f"{var.name}_var._alpha", folder / f"{var.name}_var._beta"
    a.mkdir(), b.mkdir()
    for i, photo in enumerate(sorted(var.iterdir())):
        photo.rename((a if i % 2 else b) / photo.name)
    var.rmdir()
    shots = read_photos(None, [folder])
    assert {f.label for f in shots.frames} == {MISSING}
    assert shots.read_as == {f"{MISSING} var. alpha": MISSING, f"{MISSING} var. beta": MISSING}
    lines: list[str] = []
    out = tmp_path / "new"
    result = learn(None, old_model, out, photos=[folder], log=lines.append)
    assert result.written, result.message
    assert result.card.new_classes == [MISSING] and set(result.card.counts) == {MISSING}
    assert _old_labels(out) == [*_old_labels(old_model), MISSING]
    said = [line for line in lines if "merges ranks below species" in line]
    assert said == [f"photos learnt as their species (the species key merges ranks below "
                    f"species): {MISSING} var. alpha + {MISSING} var. beta -> {MISSING}"]
    assert any("20 photos of 1 species" in line for line in lines)


@pytest.mark.parametrize("counts, says", [
    ({MISSING: 1, KNOWN: 8}, ["2 held-out examples (needs 5)",
                              "1 of 1 new species without a held-out example"]),
    ({MISSING: 1, KNOWN: 40}, ["1 of 1 new species without a held-out example"]),
    ({MISSING: 12}, ["3 held-out examples (needs 5)"]),
])  # fmt: skip
def test_too_little_held_out_is_refused_unless_forced(old_model, tmp_path, capsys, counts,
                                                      says):  # fmt: skip
    folder = write_species_photos(tmp_path / "photos", counts)
    out = tmp_path / "new"
    args = ["learn", "--model", str(old_model), "-o", str(out), "--photos", str(folder),
            "--quiet"]  # fmt: skip
    assert main(args) == 1 and not out.exists()
    printed = capsys.readouterr().out
    assert printed.startswith("not written: too little held out to judge it: ")
    assert printed.count("\n") == 1 and all(s in printed for s in says), printed
    assert printed.rstrip().endswith("(--force writes it anyway)")
    assert main([*args, "--force"]) == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["forced"] is True and card["accepted"] is False
    assert card["reason"].startswith("too little held out") and all(s in card["reason"] for s in says)
    assert "refused (written with --force): too little held out" in (out / "MODEL_CARD.md").read_text()


def test_a_photo_under_two_labels_is_left_out_of_both_and_said(tmp_path):
    a = _files(tmp_path / "a", {"Acer_rubrum": 3, "Quercus_alba": 2, "background": 2})
    shutil.copyfile(a / "Acer_rubrum" / "p00.jpg", a / "background" / "also.jpg")
    shutil.copyfile(a / "Quercus_alba" / "p01.jpg", a / "Acer_rubrum" / "p99.jpg")
    shots = read_photos(None, [a])
    left = {f.path.name for f in shots.frames}
    assert len(shots.frames) == 3 + 2 + 2 + 2 - 2 * 2  # 2 copies given, 2 photos under 2 labels
    assert not {"also.jpg", "p99.jpg"} & left
    assert [f.path for f in shots.frames if f.label == "Acer rubrum"] == [
        (a / "Acer_rubrum" / "p01.jpg").resolve(), (a / "Acer_rubrum" / "p02.jpg").resolve()]
    assert len(shots.conflicts) == 2
    line = next(c for c in shots.conflicts if "also.jpg" in c)
    assert "Acer rubrum (" in line and "background (" in line
    assert str((a / "Acer_rubrum" / "p00.jpg").resolve()) in line and "neither" in line


def test_a_truncated_photo_is_left_out_and_background_is_no_species(old_model, tmp_path):
    """A JPEG cut short decodes partly (OpenCV gave its top and grey below, learnt from):
    left out, named. Background photos are counted as such, not as a species."""
    import cv2

    folder = write_species_photos(tmp_path / "photos", {MISSING: 12})
    sub = folder / MISSING.replace(" ", "_")
    whole = sorted(sub.iterdir())[0].read_bytes()
    cut = sub / "zz_cut.jpg"
    cut.write_bytes(whole[: len(whole) // 2])
    (folder / "background").mkdir()
    for i in range(2):
        grey = np.full((120, 160, 3), 60 + 40 * i, np.uint8)
        cv2.imwrite(str(folder / "background" / f"ground_{i}.jpg"), grey)
    lines: list[str] = []
    result = learn(None, old_model, tmp_path / "new", photos=[folder], log=lines.append,
                   force=True)  # fmt: skip
    assert [s for s in result.skipped if str(cut) in s and "truncated" in s]
    counts = result.card.counts
    assert counts[MISSING]["train_photos"] + counts[MISSING]["heldout_photos"] == 12
    assert counts["background"]["train_photos"] + counts["background"]["heldout_photos"] == 2
    assert any(line.startswith("14 photos of 1 species and 2 background from") for line in lines)
