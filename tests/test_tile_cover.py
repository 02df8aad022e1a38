"""Tiles cover the frame as the model sees it: where a model's own preprocessing crops
(a shorter-side resize and centre crop, or a squash with a rim cut), the tiles are placed
so that the parts of them the model keeps cover every pixel of the frame; the host
(OpenCV/torch on uint8) and device (torch on float) paths cut the same tiles; squash
models without a record keep the plain grid exactly."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import fieldtool.preprocessing as preprocessing
from fieldtool.classify import DinoClassifier, cut_tiles
from fieldtool.model import IMAGENET_STD, load_model_folder
from fieldtool.preprocessing import Preprocessing, geometry

RECORDS = {  # fieldtool.json "preprocessing" records that leave part of a 16:9 tile unseen
    "crop 36 -> 32": {"fit": "crop", "resize": 36, "interpolation": "bicubic",
                      "rescale_factor": 1 / 255},
    "crop 32 (timm, crop_pct 1)": {"fit": "crop", "resize": 32, "interpolation": "bicubic",
                                   "rescale_factor": 1 / 255},
    "squash 40, crop 32": {"fit": "squash", "resize": 40, "interpolation": "bilinear",
                           "rescale_factor": 1 / 255},
}  # fmt: skip


def classifier(folder, record: dict | None, tiles: int, **kw) -> DinoClassifier:
    """The tiny model (input 32 px) with ``record`` as its preprocessing."""
    if record is not None:
        info = json.loads((folder / "fieldtool.json").read_text())
        (folder / "fieldtool.json").write_text(json.dumps(info | {"preprocessing": record}))
    return DinoClassifier(load_model_folder(folder), device="cpu", tiles=tiles, **kw)


def seen_mask(bounds, height: int, width: int, size: int, pre) -> np.ndarray:
    """(H, W) bool: pixels whose centre lies in the part of some tile that the model's
    input shows (each tile's geometry: resized to g.height x g.width, crop at top/left)."""
    ys, xs = np.arange(height) + 0.5, np.arange(width) + 0.5
    seen = np.zeros((height, width), bool)
    for y0, y1, x0, x1 in bounds:
        g = geometry(y1 - y0, x1 - x0, size, pre)
        sy = y0 + np.array([g.top, g.top + g.size]) * (y1 - y0) / g.height
        sx = x0 + np.array([g.left, g.left + g.size]) * (x1 - x0) / g.width
        rows = (ys >= sy[0]) & (ys <= sy[1])
        cols = (xs >= sx[0]) & (xs <= sx[1])
        seen |= rows[:, None] & cols[None, :]
    return seen


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("tiles", [2, 3])
def test_the_seen_parts_of_a_cropping_models_tiles_cover_the_frame(tiny_model_dir, record,
                                                                    tiles):  # fmt: skip
    clf = classifier(tiny_model_dir, RECORDS[record], tiles)
    for height, width in ((90, 160), (160, 90), (120, 120)):
        bounds = clf.tile_bounds(height, width)
        assert len(bounds) == tiles**2
        seen = seen_mask(bounds, height, width, 32, clf.fit)
        assert seen.all(), (record, height, width, (~seen).mean())
        if clf.fit is not None and clf.fit.fit == "crop":  # square: the crop keeps its centre
            sides = {(y1 - y0, x1 - x0) for y0, y1, x0, x1 in bounds}
            assert len(sides) == 1 and len(set(*sides)) == 1, sides


@pytest.mark.parametrize("record", RECORDS)
def test_every_part_of_the_frame_reaches_the_model(tiny_model_dir, record):
    """A bright 10 x 10 px patch anywhere on a dark 160 x 90 frame shows in some crop that
    goes to the network (today's grid tiles of a cropping model lost each tile's sides)."""
    clf = classifier(tiny_model_dir, RECORDS[record], 2)
    frames = []
    for y in range(0, 90, 10):
        for x in range(0, 160, 10):
            frame = np.zeros((90, 160, 3), np.uint8)
            frame[y : y + 10, x : x + 10] = 255
            frames.append(frame)
    dark = (0 - clf._mean) / clf._std  # a black pixel in the model's input units
    for pixels in (clf.preprocess(frames), clf._preprocess_on_device(frames)):
        per_frame = (pixels - dark).amax(dim=(1, 2, 3)).view(len(frames), -1).amax(dim=1)
        assert (per_frame > 1.0).all(), (record, int((per_frame <= 1.0).sum()))


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("size", [(90, 160), (120, 160), (160, 90)])
def test_host_and_device_paths_cut_the_same_covering_tiles(tiny_model_dir, record, size):
    clf = classifier(tiny_model_dir, RECORDS[record], 2)
    rng = np.random.default_rng(5)
    base = rng.integers(0, 255, (9, 16, 3)).astype(np.uint8)
    images = [cv2.resize(base, size[::-1], interpolation=cv2.INTER_LINEAR) for _ in range(2)]
    images[1][: size[0] // 2, : size[1] // 3] = 255  # an edge the tiles reach past
    on_device = clf._preprocess_on_device(images)
    on_host = clf.preprocess(images)
    assert on_device.shape == on_host.shape == (2 * 4, 3, 32, 32)
    step = 1 / (255 * min(IMAGENET_STD))  # one 0-255 step in the model's input units
    assert (on_device - on_host).abs().max() < 4 * step
    assert (on_device - on_host).abs().mean() < 0.25 * step
    # and each crop is the tile that tile_bounds names, cut by cut_tiles, as the host resizes it
    tiles = cut_tiles(images[1], 2, 32, clf.fit)
    assert [t.shape[:2] for t in tiles] == [(y1 - y0, x1 - x0)
                                            for y0, y1, x0, x1 in clf.tile_bounds(*size)]  # fmt: skip


def test_a_squash_models_tiles_are_the_grid_as_before(tiny_model_dir):
    """No record (the demo model, older folders) and a squash that keeps the whole tile:
    the tiles x tiles grid of the frame's shape, without overlap, as always."""
    tile_bounds = preprocessing.tile_bounds
    grid = [(0, 45, 0, 80), (0, 45, 80, 160), (45, 90, 0, 80), (45, 90, 80, 160)]
    assert tile_bounds(90, 160, 2) == grid
    assert tile_bounds(90, 160, 2, 32, None) == grid
    whole = Preprocessing(fit="squash", resize=32, interpolation="bilinear")
    assert tile_bounds(90, 160, 2, 32, whole) == grid
    assert tile_bounds(7, 10, 3) == [(0, 2, 0, 3), (0, 2, 3, 6), (0, 2, 6, 10),
                                     (2, 4, 0, 3), (2, 4, 3, 6), (2, 4, 6, 10),
                                     (4, 7, 0, 3), (4, 7, 3, 6), (4, 7, 6, 10)]  # fmt: skip
    clf = classifier(tiny_model_dir, None, 2)
    assert clf.tile_bounds(90, 160) == grid
    image = np.random.default_rng(0).integers(0, 255, (90, 160, 3)).astype(np.uint8)
    crops = clf.prepare(image)
    want = [cv2.cvtColor(cv2.resize(image[y0:y1, x0:x1], (32, 32), interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2RGB) for y0, y1, x0, x1 in grid]  # fmt: skip
    assert np.array_equal(crops, np.stack(want))
    assert clf.view_note(90, 160) is None


def test_the_view_note_says_what_is_not_seen(tiny_model_dir):
    lines: list[str] = []
    crop = classifier(tiny_model_dir, RECORDS["crop 36 -> 32"], 2, log=lines.append)
    assert crop.view_note(90, 160) is None  # the tiles cover the frame
    assert crop.view_note(1080, 1920) is None
    crop.predict([np.zeros((90, 160, 3), np.uint8)])
    assert lines == []
    # a frame over twice as wide as high: two squares cannot span it; the grid it gets
    # loses each tile's sides, and the note says so and why
    note = crop.view_note(90, 400)
    assert note is not None and "400x90" in note and "do not cover it" in note
    assert "more than 2 times its shorter" in note, note
    assert [(y1 - y0, x1 - x0) for y0, y1, x0, x1 in crop.tile_bounds(90, 400)] == [(45, 200)] * 4
    # one tile: the frame itself, cropped as the model does (the record stays in the folder)
    note = DinoClassifier(load_model_folder(tiny_model_dir), device="cpu").view_note(90, 160)
    assert note is not None and "tiles" not in note and "of each frame" in note, note
