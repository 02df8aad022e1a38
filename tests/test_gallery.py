"""Few-shot gallery on a tiny random-weight Dinov2WithRegisters backbone, synthetic photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fieldtool.gallery import (
    UNKNOWN,
    Gallery,
    GalleryClassifier,
    classifier_from_gallery,
    probs_from_similarities,
)
from fieldtool.model import load_model_folder
from fieldtool.ranks import genus_scores, report_rank
from fieldtool.types import FieldtoolError, Label, LabelSet

SIZE = 160  # px, synthetic photos


def _noisy(image: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 8, image.shape)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def stripes(seed: int) -> np.ndarray:
    """'Species A': green diagonal stripes on dark green."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    on = (np.sin(2 * np.pi * (0.87 * xx + 0.5 * yy) / 16) > 0)[..., None]
    return _noisy(np.where(on, (40, 200, 60), (13, 66, 20)), seed)


def checker(seed: int) -> np.ndarray:
    """'Species B': red and pale pink checkerboard (BGR)."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    on = (((yy // 20) + (xx // 20)) % 2 == 0)[..., None]
    return _noisy(np.where(on, (30, 30, 200), (200, 200, 240)), seed)


def blobs(seed: int) -> np.ndarray:
    """'Species C': red discs on dark brown, placed at random."""
    rng = np.random.default_rng(seed)
    image = np.full((SIZE, SIZE, 3), (20, 30, 70), np.uint8)
    for _ in range(25):
        centre = (int(rng.integers(0, SIZE)), int(rng.integers(0, SIZE)))
        cv2.circle(image, centre, int(rng.integers(5, 15)), (30, 60, 230), -1)
    return image


def augment(image: np.ndarray) -> np.ndarray:
    """Held-out view: mirrored, cropped off-centre, 15 % brighter."""
    h, w = image.shape[:2]
    view = image[:, ::-1][10 : h - 5, 8 : w - 12].astype(np.float32) * 1.15 + 10
    return np.clip(view, 0, 255).astype(np.uint8)


def unrelated() -> list[np.ndarray]:
    noise = np.random.default_rng(9).integers(0, 255, (SIZE, SIZE, 3)).astype(np.uint8)
    return [cv2.GaussianBlur(noise, (9, 9), 0), np.full((SIZE, SIZE, 3), (200, 80, 160), np.uint8)]


DRAW = {"Festuca ovina": stripes, "Acer rubrum": checker, "Acer saccharum": blobs}


def _model(folder, seed: int):
    import torch
    from transformers import Dinov2WithRegistersConfig

    from fieldtool.model import ModelInfo, SpeciesClassifier, save_model_folder

    torch.manual_seed(seed)
    config = Dinov2WithRegistersConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2,
        patch_size=8, image_size=64, num_register_tokens=2,
    )  # fmt: skip
    labels = LabelSet((Label(0, "background", "", is_background=True),))
    save_model_folder(folder, SpeciesClassifier(config, 1), labels, ModelInfo("tiny-dino", 64))
    return folder


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return _model(tmp_path_factory.mktemp("backbone") / "tiny-dino", seed=0)


@pytest.fixture
def gallery(tmp_path, backbone):
    """Two photos per species enrolled (the third of each is held out); threshold 0.8."""
    g = Gallery(tmp_path / "site-gallery", create=True)
    model = load_model_folder(backbone)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (species, draw) in enumerate(DRAW.items()):
        if i == 0:  # one species from files on disk, the others as arrays
            paths = [photos / f"festuca_{s}.jpg" for s in (0, 1)]
            for s, p in enumerate(paths):
                cv2.imwrite(str(p), draw(s), [cv2.IMWRITE_JPEG_QUALITY, 95])
            g.enroll(backbone, species, paths, embedding="cls+mean", device="cpu", model=model)
        else:
            g.enroll(backbone, species, [draw(0), draw(1)], device="cpu", model=model)
    g.settings.threshold = 0.8
    g.save()
    return g


def test_enrolled_held_out_and_unrelated_images(gallery):
    clf = classifier_from_gallery(gallery.path, "cpu", 4)
    assert clf.labels.species == [*DRAW, UNKNOWN] and clf.labels.background_mask.tolist() == [
        False, False, False, True
    ]  # fmt: skip
    assert clf.model_id == "gallery:site-gallery/tiny-dino"
    enrolled = [draw(0) for draw in DRAW.values()]
    held_out = [augment(draw(2)) for draw in DRAW.values()]
    probs, tile_probs = clf.predict(enrolled + held_out + unrelated())
    sims = gallery.similarities(clf.embed(enrolled + held_out + unrelated()))
    print("\ncosine similarity to each species (rows: 3 enrolled, 3 held out, 2 unrelated)")
    print(np.array2string(sims, precision=3, suppress_small=True))
    assert probs.shape == (8, 4) and tile_probs.shape == (8, 1, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    names = [clf.labels.species[i] for i in probs.argmax(axis=1)]
    assert names == [*DRAW, *DRAW, UNKNOWN, UNKNOWN]
    assert (probs[:6].max(axis=1) > 0.9).all() and (probs[6:, 3] > 0.9).all()


def test_nearest_mode_tiles_and_plain_cls(tmp_path, backbone, gallery):
    gallery.settings.mode = "nearest"
    gallery.save()
    clf = classifier_from_gallery(gallery.path, "cpu", 4, tiles=2)
    frame = np.concatenate([augment(stripes(2)), augment(checker(2))], axis=1)  # two species
    probs, tile_probs = clf.predict([frame])
    assert tile_probs.shape == (1, 4, 4) and probs.shape == (1, 4)
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
    assert sorted(np.argsort(probs[0])[-2:]) == [0, 1]  # both species, from different tiles
    plain = Gallery(tmp_path / "cls-only", create=True)
    plain.enroll(backbone, "Festuca ovina", [stripes(0)], device="cpu")
    plain.enroll(backbone, "Acer rubrum", [checker(0)], device="cpu")
    assert plain.settings.embedding == "cls" and plain.embeddings.shape == (2, 64)
    probs, _ = classifier_from_gallery(plain.path, "cpu").predict([stripes(0), checker(0)])
    assert probs.argmax(axis=1).tolist() == [0, 1]


def test_gallery_files_list_remove_and_errors(tmp_path, backbone, gallery):
    again = Gallery(gallery.path)
    assert again.list() == [(s, 2) for s in DRAW]
    assert again.model.model_id == "tiny-dino" and len(again.model.sha256) == 64
    assert again.entries[0].source == "festuca_0.jpg"
    assert np.allclose(np.linalg.norm(again.embeddings, axis=1), 1.0, atol=1e-5)
    assert again.remove("Acer rubrum") == 2
    assert Gallery(gallery.path).list() == [("Festuca ovina", 2), ("Acer saccharum", 2)]
    with pytest.raises(FieldtoolError, match="no species 'Acer rubrum'"):
        again.remove("Acer rubrum")
    other = _model(tmp_path / "other-model", seed=1)
    with pytest.raises(FieldtoolError, match="use a new gallery for another model"):
        again.enroll(other, "Acer rubrum", [checker(0)], device="cpu")
    with pytest.raises(FieldtoolError, match="not 'cls'"):
        again.enroll(backbone, "Acer rubrum", [checker(0)], embedding="cls", device="cpu")
    with pytest.raises(FieldtoolError, match="no gallery here"):
        Gallery(tmp_path / "nothing")
    with pytest.raises(FieldtoolError, match="gallery is empty"):
        GalleryClassifier(Gallery(tmp_path / "empty", create=True), load_model_folder(backbone))
    with pytest.raises(FieldtoolError, match="not a readable image"):
        again.enroll(backbone, "Acer rubrum", [tmp_path / "other-model" / "labels.csv"])
    moved = tmp_path / "moved"
    backbone.rename(moved)
    try:
        with pytest.raises(FieldtoolError, match="is gone; give the folder with --model"):
            classifier_from_gallery(gallery.path, "cpu")
        assert (
            classifier_from_gallery(gallery.path, "cpu", model=moved).labels.species[-1] == UNKNOWN
        )
    finally:
        moved.rename(backbone)


def test_gallery_commands(tmp_path, backbone, capsys):
    photos = tmp_path / "festuca"
    photos.mkdir()
    for s in range(2):
        cv2.imwrite(str(photos / f"{s}.png"), stripes(s))
    from fieldtool.cli import build_parser

    parser = build_parser()
    g = str(tmp_path / "g")

    def run(*argv: str) -> str:
        args = parser.parse_args(list(argv))
        assert args.func(args) == 0
        return capsys.readouterr().out

    assert "enrolled 2 photos of Festuca ovina" in run(
        "gallery", "add", "--gallery", g, "--model", str(backbone), "--species", "Festuca ovina",
        "--embedding", "cls+mean", "--device", "cpu", str(photos),
    )  # fmt: skip
    cv2.imwrite(str(tmp_path / "acer.png"), checker(0))  # a photo is one species' only
    run("gallery", "add", "--gallery", g, "--model", str(backbone), "--species", "Acer rubrum",
        "--common-name", "red maple", "--device", "cpu", str(tmp_path / "acer.png"))  # fmt: skip
    listing = run("gallery", "list", "--gallery", g)
    assert "Festuca ovina" in listing and "Acer rubrum" in listing and "cls+mean" in listing
    assert "threshold 0.7" in run("gallery", "set", "--gallery", g, "--threshold", "0.7").replace(
        "'threshold': 0.7", "threshold 0.7"
    )
    assert "removed 1 photos" in run(
        "gallery", "remove", "--gallery", g, "--species", "Acer rubrum"
    )
    clf = classifier_from_gallery(g, "cpu")
    assert clf.threshold == 0.7 and clf.labels.species == ["Festuca ovina", UNKNOWN]


def test_gallery_classifier_drives_a_session(tmp_path, gallery):
    """The pipeline needs only labels, model_id and predict: a sighting of the enrolled species."""
    from fieldtool.config import Config, SmoothingConfig
    from fieldtool.pipeline import run_session
    from fieldtool.sources import VideoSource
    from fieldtool.store import SightingStore

    video = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (SIZE, SIZE))
    for i in range(30):
        writer.write(unrelated()[0] if i < 10 else cv2.resize(augment(blobs(2)), (SIZE, SIZE)))
    writer.release()
    config = Config()
    config.smoothing = SmoothingConfig(
        tau_s=0.2, enter=0.5, exit=0.3, min_duration_s=0.3, max_gap_s=0.5
    )
    config.store.db = tmp_path / "s.duckdb"
    config.store.snapshots = False
    clf = classifier_from_gallery(gallery.path, "cpu", 8)
    result = run_session(
        VideoSource(str(video), sample_fps=10), clf, SightingStore(config.store.db), config
    )
    assert [s.species for s in result.sightings] == ["Acer saccharum"]
    assert result.sightings[0].first_t >= 0.9


def test_unknown_wins_below_threshold():
    sims = np.array([[0.9, 0.2], [0.5, 0.6], [0.79, 0.1]], np.float32)
    probs = probs_from_similarities(sims, threshold=0.8, temperature=0.05)
    assert probs.argmax(axis=1).tolist() == [0, 2, 2]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_genus_level_report_when_congeners_split_the_score():
    labels = LabelSet((Label(0, "Quercus alba"), Label(1, "Quercus rubra"), Label(2, "Acer rubrum"),
                       Label(3, "background", is_background=True)))  # fmt: skip
    names, scores = genus_scores(np.array([[0.35, 0.35, 0.2, 0.1]]), labels)
    assert names == ["Quercus", "Acer"] and np.allclose(scores, [[0.7, 0.2]])
    split = report_rank(np.array([0.35, 0.35, 0.2, 0.1]), labels, threshold=0.5)
    assert (split.name, split.rank, split.species) == (
        "Quercus",
        "genus",
        ("Quercus alba", "Quercus rubra"),
    )
    assert split.score == pytest.approx(0.7)
    sure = report_rank(np.array([0.6, 0.1, 0.2, 0.1]), labels, threshold=0.5)
    assert (sure.name, sure.rank) == ("Quercus alba", "species")
    assert report_rank(np.array([0.2, 0.1, 0.3, 0.4]), labels, threshold=0.5) is None
    assert (
        report_rank(np.array([0.2, 0.1, 0.3, 0.4]), labels, 0.5, {"Acer rubrum": "Quercus"}).name
        == "Quercus"
    )


def test_gallery_add_takes_species_subfolders_and_loads_the_model_once(
    tmp_path, backbone, capsys, monkeypatch
):
    import fieldtool.model
    from fieldtool.cli import build_parser

    root = tmp_path / "photos"
    for species, draw in (("Festuca_ovina", stripes), ("Acer_rubrum", checker)):
        (root / species).mkdir(parents=True)
        for s in range(3):
            cv2.imwrite(str(root / species / f"{s}.png"), draw(s))
    (root / "empty").mkdir()  # a sub-folder without photos is no species
    loads = []
    real = fieldtool.model.load_model_folder
    monkeypatch.setattr(fieldtool.model, "load_model_folder",
                        lambda path: loads.append(path) or real(path))  # fmt: skip
    g = tmp_path / "g"
    args = build_parser().parse_args(
        ["gallery", "add", "--gallery", str(g), "--model", str(backbone), "--device", "cpu",
         str(root)]
    )  # fmt: skip
    assert args.func(args) == 0
    assert len(loads) == 1
    assert sorted(Gallery(g).list()) == [("Acer rubrum", 3), ("Festuca ovina", 3)]
    out = capsys.readouterr().out
    assert "6 photos of 2 species" in out and "warning" not in out
    with pytest.raises(FieldtoolError, match="no species sub-folders"):
        Gallery(g).enroll_folders(backbone, [root / "empty"], device="cpu")


def test_gallery_list_warns_when_a_species_is_not_separable(tmp_path, backbone, gallery):
    from fieldtool.cli.models import describe, separability, warnings

    assert warnings(gallery) == () and "warning" not in describe(gallery)
    mixed = Gallery(tmp_path / "mixed", create=True)
    model = load_model_folder(backbone)
    # "Festuca ovina" photos that are half checkerboards: less alike than to the stripes
    mixed.enroll(backbone, "Festuca ovina", [stripes(0), checker(0)], device="cpu", model=model)
    mixed.enroll(backbone, "Poa annua", [stripes(1), stripes(2)], device="cpu", model=model)
    same, other, to_other = separability(mixed)["Festuca ovina"]
    assert other == "Poa annua" and same < to_other
    said = warnings(mixed)
    assert len(said) == 1 and said[0].startswith("warning: Festuca ovina:")
    assert said[0] in describe(mixed)


def test_gallery_add_skips_photos_already_enrolled_and_leaves_out_contradictions(
    tmp_path, backbone, capsys
):
    """The same photo (SHA-256) again for its species is not enrolled again, said with a
    count; for another species it is left out, said with both species."""
    from fieldtool.cli import build_parser

    photos = tmp_path / "festuca"
    photos.mkdir()
    for s in range(3):
        cv2.imwrite(str(photos / f"{s}.png"), stripes(s))
    cv2.imwrite(str(tmp_path / "checker.png"), checker(0))
    parser = build_parser()
    g = str(tmp_path / "g")

    def run(*argv: str) -> str:
        args = parser.parse_args(["gallery", "add", "--gallery", g, "--model", str(backbone),
                                  "--device", "cpu", *argv])  # fmt: skip
        assert args.func(args) == 0
        return capsys.readouterr().out

    assert "enrolled 3 photos of Festuca ovina (3 in all)" in run("--species", "Festuca ovina",
                                                                  str(photos))  # fmt: skip
    again = run("--species", "Festuca ovina", str(photos))
    assert "enrolled 0 photos of Festuca ovina (3 in all)" in again
    assert "3 photos already enrolled as Festuca ovina, not enrolled again" in again
    other = run("--species", "Poa annua", str(photos / "0.png"), str(tmp_path / "checker.png"))
    assert "enrolled 1 photos of Poa annua (1 in all)" in other
    said = [line for line in other.splitlines() if "left out" in line]
    assert len(said) == 1 and "Festuca ovina" in said[0] and "Poa annua" in said[0]
    assert "0.png" in said[0]
    assert Gallery(g).list() == [("Festuca ovina", 3), ("Poa annua", 1)]
    assert all(len(e.sha256) == 64 for e in Gallery(g).entries)


def test_gallery_list_says_what_each_figure_measures(tmp_path, backbone):
    """The table's figures (each photo's nearest other photo) and the warning's (means over
    all photos) are different measures: worded apart, so 1.000 beside 0.878 is no riddle."""
    from fieldtool.cli.models import describe, warnings

    mixed = Gallery(tmp_path / "mixed", create=True)
    model = load_model_folder(backbone)
    mixed.enroll(backbone, "Festuca ovina", [stripes(0), checker(0)], device="cpu", model=model)
    mixed.enroll(backbone, "Poa annua", [stripes(1), stripes(2)], device="cpu", model=model)
    text = describe(mixed)
    header = next(line for line in text.splitlines() if line.startswith("species"))
    assert "nearest same-species" in header and "nearest other-species" in header
    assert "each photo's most similar other photo" in text
    warning = warnings(mixed)[0]
    assert "mean similarity among its photos" in warning and "nearest" not in warning


def _session_config(gallery, model):
    """A session's settings with ``gallery`` and ``--model model``, on the CPU."""
    from fieldtool.config import Config

    config = Config()
    config.model.gallery = gallery.path
    config.model.path = model
    config.model.device = "cpu"
    return config


def test_a_session_with_a_gallery_says_its_model_is_not_the_one_given(tmp_path, backbone,
                                                                      gallery):  # fmt: skip
    from fieldtool.pipeline.inputs import classifier_from_config

    other = _model(tmp_path / "other-model", seed=1)
    config = _session_config(gallery, other)
    lines: list[str] = []
    clf = classifier_from_config(config, lines.append)
    assert clf.model_path == backbone.resolve() or clf.model_path == backbone
    said = [line for line in lines if str(other) in line]
    assert len(said) == 1 and "is not used" in said[0] and str(backbone) in said[0]
    config.model.path = backbone  # the gallery's own model: nothing to say
    lines.clear()
    classifier_from_config(config, lines.append)
    assert lines == []


def test_a_model_reimported_to_see_frames_otherwise_is_no_longer_the_gallerys(tmp_path, gallery):
    """Same weights, other preprocessing (a re-import that centre-crops where the first
    squashed): its embeddings of the same photo differ, so mixing them is refused."""
    import json
    import shutil

    copy = tmp_path / "reimported"
    shutil.copytree(gallery.model.path, copy)
    info = json.loads((copy / "fieldtool.json").read_text())
    info["preprocessing"] = {"fit": "crop", "resize": 73, "interpolation": "bicubic",
                             "rescale_factor": 1 / 255}  # fmt: skip
    (copy / "fieldtool.json").write_text(json.dumps(info))
    again = Gallery(gallery.path)
    again.check_model(gallery.model.path)  # the same folder as enrolled: fine
    with pytest.raises(FieldtoolError, match="sees frames otherwise"):
        again.check_model(copy)


def test_a_session_takes_the_model_given_where_the_gallerys_own_folder_moved(tmp_path, backbone,
                                                                             gallery):  # fmt: skip
    """The gone-folder error says "give the folder with --model": a session does take it
    then (the weights are checked), and does not call it unused."""
    from fieldtool.config import Config
    from fieldtool.pipeline.inputs import classifier_from_config

    moved = tmp_path / "moved-model"
    backbone.rename(moved)
    try:
        config = _session_config(gallery, moved)
        lines: list[str] = []
        clf = classifier_from_config(config, lines.append)
        assert clf.model_path in (moved, moved.resolve()) and lines == []
        config.model.path = Config().model.path  # no --model: the error asks for one
        with pytest.raises(FieldtoolError, match="is gone; give the folder with --model"):
            classifier_from_config(config, lines.append)
    finally:
        moved.rename(backbone)
