"""An imported model is fed as its own preprocessing feeds it: a Hugging Face folder's
``preprocessor_config.json`` (resize, centre crop, resample, rescale, normalise) gives the
same probabilities in fieldtool as transformers' image processor + model; its background
class is marked as background. (PlantCLEF's crop is checked in ``test_importers``.)"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from fieldtool.classify import DinoClassifier, cut_tiles
from fieldtool.importers import import_hf_dinov2
from fieldtool.model import load_model_folder
from fieldtool.types import FieldtoolError

pytest.importorskip("PIL")

HF_LABELS = ["Acer rubrum", "Quercus alba", "Cornus florida", "background"]
CROP, SHORTEST = 32, 36  # as make_hf.py: shortest edge = crop * 256 / 224


def make_hf(folder, *, labels=HF_LABELS, resample=3, **processor):
    """A tiny random ``Dinov2ForImageClassification`` folder (hidden 32, 2 layers, patch 8)
    saved by transformers, with a BitImageProcessor (``processor`` overrides its fields)."""
    from transformers import BitImageProcessor, Dinov2Config, Dinov2ForImageClassification

    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        patch_size=8, image_size=CROP, id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )  # fmt: skip
    model = Dinov2ForImageClassification(config)
    with torch.no_grad():  # a head that cares about its input (the default init is ~0)
        model.classifier.weight.normal_(0, 0.5)
    model.eval().save_pretrained(folder)
    fields = dict(size={"shortest_edge": SHORTEST}, crop_size={"height": CROP, "width": CROP},
                  image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3], resample=resample)  # fmt: skip
    BitImageProcessor(**(fields | processor)).save_pretrained(folder)
    return folder


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 RGB: smooth colour blobs with grain."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (6, 9, 3)).astype(np.uint8), (width, height),
                      interpolation=cv2.INTER_CUBIC)  # fmt: skip
    return np.clip(base.astype(int) + rng.integers(-30, 30, base.shape), 0, 255).astype(np.uint8)


# fieldtool resizes with torch (antialiased, on uint8), transformers with PIL: the same
# filter, whose integer arithmetic rounds differently on some pixels (at most one 0-255
# step, two on a rare pixel). On these tiny random models, with a head drawn to be sensitive, that moves a
# probability by 2e-5 to 7e-4; a misplaced or missing crop moves it by 1e-2 to 0.5.
TOLERANCE = 1e-3


def transformers_run(folder, rgb: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    """(C,) probabilities of transformers' own image processor + model on an RGB photo,
    and the (1, 3, S, S) pixel values the processor gave the model."""
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    processor = AutoImageProcessor.from_pretrained(folder)
    model = AutoModelForImageClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        pixels = processor(images=Image.fromarray(rgb), return_tensors="pt")["pixel_values"]
        return torch.softmax(model(pixel_values=pixels).logits, -1)[0].numpy(), pixels


def transformers_probs(folder, rgb: np.ndarray) -> np.ndarray:
    return transformers_run(folder, rgb)[0]


def fieldtool_probs(model_dir, rgb: np.ndarray, tiles: int = 1, **kw):
    """fieldtool's (C,) frame and (T, C) tile probabilities on the same photo (BGR in)."""
    clf = DinoClassifier(load_model_folder(model_dir), device="cpu", precision="fp32",
                         tiles=tiles, **kw)  # fmt: skip
    probs, tile_probs = clf.predict([np.ascontiguousarray(rgb[..., ::-1])])
    return probs[0], tile_probs[0]


VARIANTS = {
    "resize_and_centre_crop": {},
    "no_centre_crop_336_like": dict(do_center_crop=False, size={"height": 48, "width": 48}),
    "no_normalize": dict(do_normalize=False),
    "bilinear": dict(resample=2),
    "rescale_factor": dict(rescale_factor=2 / 255),
    "square_resize_then_crop": dict(size={"height": 40, "width": 40}),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_imported_hf_model_gives_transformers_own_probabilities(tmp_path, variant):
    folder = make_hf(tmp_path / "hf", **VARIANTS[variant])
    out = import_hf_dinov2(folder, tmp_path / "ft", log=lambda line: None)
    model = load_model_folder(out)
    clf = DinoClassifier(model, device="cpu", precision="fp32")
    # one 0-255 step in the model's input units
    step = model.info.preprocessing.rescale_factor / np.array(model.info.std)
    # landscape and portrait photos, shrunk; and one smaller than the input (enlarged)
    for height, width in ((90, 160), (130, 70), (24, 40)):
        rgb = photo(height, width, seed=height)
        want, want_pixels = transformers_run(folder, rgb)
        got, _ = fieldtool_probs(out, rgb)
        assert np.abs(got - want).max() < TOLERANCE, (variant, height, width, got, want)
        pixels = clf.preprocess([np.ascontiguousarray(rgb[..., ::-1])])
        assert pixels.shape == want_pixels.shape
        off = (pixels - want_pixels).abs() / torch.from_numpy(step).view(1, 3, 1, 1).float()
        assert off.max() < 2.01 and (off > 0.5).float().mean() < 0.25, (variant, height, width)


def test_the_network_sees_more_than_squash_would_change(tmp_path):
    """The comparison above can fail: squashing the same photo moves the probabilities far
    more than the tolerance (so a wrong geometry is caught)."""
    folder = make_hf(tmp_path / "hf")
    out = import_hf_dinov2(folder, tmp_path / "ft", log=lambda line: None)
    info = json.loads((out / "fieldtool.json").read_text())
    del info["preprocessing"]  # what a folder without the record gets: squash
    (out / "fieldtool.json").write_text(json.dumps(info))
    rgb = photo(90, 160)
    squashed, _ = fieldtool_probs(out, rgb)
    assert np.abs(squashed - transformers_probs(folder, rgb)).max() > 5e-3


def test_each_tile_is_resized_and_cropped_as_a_photo_would_be(tmp_path):
    folder = make_hf(tmp_path / "hf")
    out = import_hf_dinov2(folder, tmp_path / "ft", log=lambda line: None)
    rgb = photo(120, 200, seed=3)
    _, tile_probs = fieldtool_probs(out, rgb, tiles=2)
    # the model's tiles: squares whose centre crops cover the photo, edge pixels repeated
    # where they reach past it (tests/test_tile_cover.py)
    record = load_model_folder(out).info.preprocessing
    for k, tile in enumerate(cut_tiles(rgb, 2, CROP, record)):
        assert tile.shape[0] == tile.shape[1] > 100, tile.shape
        want = transformers_probs(folder, np.ascontiguousarray(tile))
        assert np.abs(tile_probs[k] - want).max() < TOLERANCE, k


def test_a_session_says_once_how_much_of_each_frame_the_crop_leaves_unseen(tmp_path):
    folder = make_hf(tmp_path / "hf")
    out = import_hf_dinov2(folder, tmp_path / "ft", log=lambda line: None)
    for tiles in (1, 2):
        lines: list[str] = []
        clf = DinoClassifier(load_model_folder(out), device="cpu", tiles=tiles, log=lines.append)
        frame = photo(90, 160)
        clf.predict([frame, frame])
        clf.predict([frame])
        if tiles > 1:  # tiles whose centre crops cover the frame: nothing to say
            assert lines == [], lines
            continue
        # 160x90 -> 64x36, centre 32x32: half the width and 8/9 of the height are seen
        assert len(lines) == 1 and "56%" in lines[0] and "160x90" in lines[0], lines
        assert "tiles" not in lines[0], lines  # none to advise on with one
    lines = []  # a session: the reader prepares the full frame, then keeps a shrunk copy
    clf = DinoClassifier(load_model_folder(out), device="cpu", log=lines.append)
    prepared = clf.prepare(photo(180, 320))
    clf.predict([photo(90, 160)], [prepared])
    assert len(lines) == 1 and "320x180" in lines[0] and "56%" in lines[0], lines
    lines = []
    square = DinoClassifier(load_model_folder(out), device="cpu", log=lines.append)
    square.predict([photo(36, 36)])  # a square photo loses only a rim: said as it is
    assert len(lines) == 1 and "21%" in lines[0]


@pytest.mark.parametrize("name", ["background", "Background", "EMPTY", "blank", "None",
                                  "no_plant", "no plant"])  # fmt: skip
def test_a_background_class_of_the_hub_model_is_marked_background(tmp_path, name):
    folder = make_hf(tmp_path / "hf", labels=["Acer rubrum", name, "Quercus alba"])
    lines: list[str] = []
    labels = load_model_folder(import_hf_dinov2(folder, tmp_path / "ft", log=lines.append)).labels
    assert [label.is_background for label in labels.labels] == [False, True, False]
    assert len([line for line in lines if "background" in line and name in line]) == 1
    assert f"1,{name},,1" in (tmp_path / "ft" / "labels.csv").read_text()


def test_species_are_not_taken_for_background(tmp_path):
    folder = make_hf(tmp_path / "hf", labels=["Nonea lutea", "Blankia sp.", "Acer rubrum"])
    model = load_model_folder(import_hf_dinov2(folder, tmp_path / "ft", log=lambda s: None))
    assert not model.labels.background_mask.any()


def test_a_labels_csv_without_background_marks_gets_them_by_name(tmp_path):
    folder = make_hf(tmp_path / "hf")
    csv = tmp_path / "labels.csv"
    csv.write_text("index,species,common_name\n0,A a,\n1,B b,\n2,C c,\n3,Background,\n")
    labels = load_model_folder(import_hf_dinov2(folder, tmp_path / "ft", csv, log=print)).labels
    assert [label.is_background for label in labels.labels] == [False, False, False, True]


def test_the_record_of_each_processor_is_written(tmp_path):
    out = import_hf_dinov2(make_hf(tmp_path / "hf"), tmp_path / "ft", log=lambda line: None)
    info = json.loads((out / "fieldtool.json").read_text())
    assert info["image_size"] == CROP and info["mean"] == [0.5, 0.4, 0.3]
    assert info["preprocessing"] == {
        "fit": "crop", "resize": SHORTEST, "interpolation": "bicubic", "rescale_factor": 1 / 255
    }  # fmt: skip
    nocrop = make_hf(tmp_path / "hf2", do_center_crop=False, size={"height": 48, "width": 48},
                     do_normalize=False)  # fmt: skip
    info = json.loads((import_hf_dinov2(nocrop, tmp_path / "ft2", log=print)
                       / "fieldtool.json").read_text())  # fmt: skip
    assert info["image_size"] == 48 and info["preprocessing"]["fit"] == "squash"
    assert info["mean"] == [0.0, 0.0, 0.0] and info["std"] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("processor", "fragment"),
    [
        (dict(resample=1), "resample 1"),  # lanczos
        (dict(do_center_crop=False), "keeps each image's aspect ratio"),
        (dict(size={"height": 40, "width": 60}, do_center_crop=False), "not square"),
        (dict(crop_size={"height": 32, "width": 24}), "not square"),
        (dict(size={"shortest_edge": 28}), "larger than"),
        (dict(do_resize=False), "do_resize"),
        (dict(do_pad=True), "do_pad"),
    ],
)
def test_a_processor_fieldtool_cannot_follow_is_refused_in_one_line(tmp_path, processor,
                                                                     fragment):  # fmt: skip
    folder = make_hf(tmp_path / "hf", **processor)
    with pytest.raises(FieldtoolError) as err:
        import_hf_dinov2(folder, tmp_path / "ft", log=lambda line: None)
    message = str(err.value)
    assert "preprocessor_config.json" in message and fragment in message, message
    assert "\n" not in message and not (tmp_path / "ft").exists()


def test_a_folder_without_a_preprocessor_is_squashed_and_says_so(tmp_path):
    folder = make_hf(tmp_path / "hf")
    (folder / "preprocessor_config.json").unlink()
    lines: list[str] = []
    out = import_hf_dinov2(folder, tmp_path / "ft", log=lines.append)
    info = json.loads((out / "fieldtool.json").read_text())
    assert "preprocessing" not in info and info["image_size"] == 224
    assert any("no preprocessor_config.json" in line and "squash" in line for line in lines)


def test_a_damaged_record_is_one_line(tmp_path):
    out = import_hf_dinov2(make_hf(tmp_path / "hf"), tmp_path / "ft", log=lambda line: None)
    info = json.loads((out / "fieldtool.json").read_text())
    info["preprocessing"]["fit"] = "letterbox"
    (out / "fieldtool.json").write_text(json.dumps(info))
    with pytest.raises(FieldtoolError) as err:
        load_model_folder(out)
    assert "fieldtool.json" in str(err.value) and "fit" in str(err.value)
    assert "\n" not in str(err.value)
