"""``learn --gallery``: the photos a gallery was enrolled from teach a head, on the demo world:
a gallery of the species the model never saw (and of one it knows) -> a model that finds
it on fresh renders, the untouched species within a point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fieldtool.cli import main
from fieldtool.gallery import Entry, Gallery
from fieldtool.learn.update import learn
from fieldtool.model import load_model_folder
from tests.learn.conftest import MISSING, render_accuracy, write_species_photos

KNOWN = "Acer rubrum"  # a species the old model has: the gallery adds positives
PHOTOS = {MISSING: 40, KNOWN: 12}


@pytest.fixture(scope="module")
def gallery_learnt(old_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery_learn")
    folder = write_species_photos(root / "photos", PHOTOS)
    gallery = Gallery(root / "gallery", create=True)
    gallery.enroll_folders(old_model, [folder], device="cpu")
    out = root / "models" / "from-gallery"
    lines: list[str] = []
    result = learn(None, old_model, out, gallery=gallery.path, model_id="demo-12-gallery",
                   log=lines.append)  # fmt: skip
    return result, out, lines, gallery, folder


def test_enrollment_keeps_each_photo_path(gallery_learnt):
    *_, gallery, folder = gallery_learnt
    again = Gallery(gallery.path)
    assert len(again.entries) == sum(PHOTOS.values())
    for entry in again.entries:
        assert entry.path == str((folder / entry.species.replace(" ", "_") / entry.source)
                                 .resolve())  # fmt: skip


def test_learning_over_a_gallery_finds_the_missing_species(gallery_learnt, old_model):
    result, out, lines, gallery, _ = gallery_learnt
    assert result.written, result.message
    card = result.card
    assert card.new_classes == [MISSING] and card.database == ""
    assert card.sources == [f"gallery:{gallery.path.resolve()}"]
    # every 4th photo of each species (by file name) held out, one example each
    assert card.counts[MISSING]["train_photos"] == 30 and card.counts[MISSING]["heldout_photos"] == 10
    assert card.counts[KNOWN]["train_photos"] == 9 and card.counts[KNOWN]["heldout_photos"] == 3
    assert set(card.counts) == {MISSING, KNOWN}
    assert card.after.sightings == 13 and card.after.accuracy > card.before.accuracy
    assert card.after.per_class[MISSING]["f1"] > 0.5
    written = json.loads((out / "model_card.json").read_text())
    assert written["sources"] == card.sources and written["counts"][MISSING]["train_photos"] == 30
    md = (out / "MODEL_CARD.md").read_text()
    assert f"gallery {gallery.path.resolve()}" in md and "every 4th photo" in md
    assert load_model_folder(out).labels.species[-1] == MISSING
    # progress of the long part, the embedding
    assert f"embedded {sum(PHOTOS.values())}/{sum(PHOTOS.values())} photos" in lines

    # fresh renders (another seed, never enrolled), head alone
    old_acc, new_acc = render_accuracy([old_model, out])
    untouched = [n for n in old_acc if n not in (MISSING, KNOWN)]
    old_u = np.mean([old_acc[n] for n in untouched])
    new_u = np.mean([new_acc[n] for n in untouched])
    print(f"\ngallery: {MISSING} {old_acc[MISSING]:.2f} -> {new_acc[MISSING]:.2f}, {KNOWN} "
          f"{old_acc[KNOWN]:.2f} -> {new_acc[KNOWN]:.2f}, untouched ({len(untouched)} classes) "
          f"{old_u:.4f} -> {new_u:.4f}")  # fmt: skip
    assert old_acc[MISSING] == 0.0 and new_acc[MISSING] > 0.5  # chance is 1/13
    assert new_u >= old_u - 0.01


def test_a_gallery_with_photos_gone_is_a_one_line_error(tmp_path, capsys):
    gallery = Gallery(tmp_path / "g", create=True)
    kept = tmp_path / "kept.jpg"
    kept.write_bytes(b"not read: only its presence is checked before the model loads")
    gallery.entries = [Entry(MISSING, "kept.jpg", path=str(kept)),
                       Entry(MISSING, "gone_1.jpg", path=str(tmp_path / "gone_1.jpg")),
                       Entry(KNOWN, "gone_2.jpg", path=str(tmp_path / "gone_2.jpg")),
                       Entry(KNOWN, "old_row.jpg")]  # fmt: skip  # a row from before paths
    rows = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    gallery.embeddings = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    gallery.save()
    out = tmp_path / "new"
    args = ["learn", "--model", str(tmp_path / "m"), "-o", str(out), "--gallery",
            str(gallery.path)]  # fmt: skip
    assert main(args) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(gallery.path) in err
    assert "3 of 4 enrolled photos are gone" in err and str(tmp_path / "gone_1.jpg") in err
    # a row without a path is looked for in the gallery folder, by its file name
    (tmp_path / "gone_1.jpg").write_bytes(b"x")
    (tmp_path / "gone_2.jpg").write_bytes(b"x")
    (gallery.path / "old_row.jpg").write_bytes(b"x")
    from fieldtool.learn.photos import gallery_photos

    assert gallery_photos(gallery.path)[KNOWN][-1] == gallery.path / "old_row.jpg"


def test_learn_over_a_folder_that_is_no_gallery_says_so(tmp_path, capsys):
    args = ["learn", "--model", str(tmp_path / "m"), "-o", str(tmp_path / "new"),
            "--gallery", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no gallery here" in err
