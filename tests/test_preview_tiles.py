"""The tiled preview draws each tile's label and box where that tile lies in the frame as
the model saw it: a cropping model's tiles are squares whose kept parts cover the frame
(:func:`fieldtool.preprocessing.tile_bounds`), not the cells of a grid; each box is its
tile's kept part (:meth:`fieldtool.classify.DinoClassifier.seen_tiles`)."""

from __future__ import annotations

import json

import cv2
import numpy as np

from fieldtool.classify import DinoClassifier
from fieldtool.config import Config
from fieldtool.model import load_model_folder
from fieldtool.pipeline import run_session
from fieldtool.preprocessing import geometry, tile_bounds
from fieldtool.preview import annotate
from fieldtool.sources import VideoSource
from fieldtool.store import SightingStore, query
from fieldtool.store.maintenance import snapshot_folder
from tests.conftest import ColourClassifier, write_video

CROP = {"fit": "crop", "resize": 36, "interpolation": "bicubic", "rescale_factor": 1 / 255}
HEIGHT, WIDTH = 90, 160  # a 16:9 frame: a crop model's 2 x 2 tiles are squares across it
SPECIES, BACKGROUND = 0, 3  # indices of the ``labels`` fixture


def crop_classifier(folder) -> DinoClassifier:
    """The tiny model (input 32 px) with a shorter-side-36-px, centre-32-px crop, 2 x 2."""
    info = json.loads((folder / "fieldtool.json").read_text())
    (folder / "fieldtool.json").write_text(json.dumps(info | {"preprocessing": CROP}))
    return DinoClassifier(load_model_folder(folder), device="cpu", tiles=2)


def kept(bounds, height: int, width: int, size: int, pre) -> list[tuple[float, ...]]:
    """Each tile's part that the model's input shows, clipped to the frame (worked out
    here from the tile's resize and crop, as tests/test_tile_cover.py's seen_mask does)."""
    out = []
    for y0, y1, x0, x1 in bounds:
        g = geometry(y1 - y0, x1 - x0, size, pre)
        ky = [y0 + v * (y1 - y0) / g.height for v in (g.top, g.top + g.size)]
        kx = [x0 + v * (x1 - x0) / g.width for v in (g.left, g.left + g.size)]
        out.append((max(ky[0], 0), min(ky[1], height), max(kx[0], 0), min(kx[1], width)))
    return out


def white_box(image: np.ndarray, level: int = 255) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) px spanned by the pixels at least ``level`` in every channel."""
    ys, xs = np.nonzero((image >= level).all(axis=2))
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def one_tile(k: int, tiles: int, classes: int) -> np.ndarray:
    """(T, C) tile probabilities: tile ``k`` a species, the others background."""
    probs = np.full((tiles, classes), 0.01, np.float32)
    probs[:, BACKGROUND] = 0.97
    probs[k] = 0.01
    probs[k, SPECIES] = 0.97
    return probs


def test_the_seen_tiles_are_each_tiles_kept_part(tiny_model_dir):
    clf = crop_classifier(tiny_model_dir)
    seen = clf.seen_tiles(HEIGHT, WIDTH)
    want = kept(tile_bounds(HEIGHT, WIDTH, 2, 32, clf.fit), HEIGHT, WIDTH, 32, clf.fit)
    assert len(seen) == 4
    for got, part in zip(seen, want, strict=True):
        assert all(abs(a - b) <= 1 for a, b in zip(got, part, strict=True)), (got, part)
    grid = [(0, 45, 0, 80), (0, 45, 80, 160), (45, 90, 0, 80), (45, 90, 80, 160)]
    assert seen != grid  # the model's tiles are not the grid's cells: this test can fail
    assert seen[2][0] < 30  # the lower row's squares reach well above the frame's middle


def test_each_tiles_label_is_drawn_at_its_kept_part(tiny_model_dir, labels):
    clf = crop_classifier(tiny_model_dir)
    seen = clf.seen_tiles(HEIGHT, WIDTH)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    probs = np.full(len(labels.labels), 0.25, np.float32)
    for k, (y0, y1, x0, x1) in enumerate(seen):
        drawn = annotate(frame, labels, probs, one_tile(k, 4, len(labels.labels)), top=0,
                         tile_boxes=seen)  # fmt: skip
        assert white_box(drawn) == (y0, y1, x0, x1), k  # its box: the kept part's edges


def test_without_the_models_tiles_the_preview_draws_the_grid(labels):
    """A classifier that says nothing of its tiles (a squash model's are the grid)."""
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    probs = np.full(len(labels.labels), 0.25, np.float32)
    drawn = annotate(frame, labels, probs, one_tile(3, 4, len(labels.labels)), top=0)
    assert white_box(drawn) == (45, 90, 80, 160)


class TiledColours(ColourClassifier):
    """The colour classifier with 2 x 2 tiles of which the second (upper right) sees a
    species in the part :data:`PART` of the frame, the others background."""

    PART = (20, 110, 180, 290)  # (y0, y1, x0, x1) px of a 320 x 180 frame; not a grid cell

    def predict(self, images, prepared=None):
        probs, _ = super().predict(images)
        tiles = np.stack([one_tile(1, 4, probs.shape[1])] * len(images))
        return probs, tiles

    def seen_tiles(self, height, width):
        assert (height, width) == (180, 320)
        return [(0, 90, 0, 160), self.PART, (90, 180, 0, 160), (90, 180, 160, 320)]


def test_a_run_draws_the_classifiers_tiles_in_its_live_view(tmp_path, labels):
    video = write_video(tmp_path / "walk.avi", [(0, 0.5)], size=(320, 180))
    db = tmp_path / "s.duckdb"
    cfg = Config()
    cfg.store.db = db
    cfg.store.live_frame_interval_s = 0.001
    cfg.source.sample_fps = 10.0
    run_session(VideoSource(str(video), sample_fps=10), TiledColours(labels),
                SightingStore(db), cfg)  # fmt: skip
    session = query(db, "SELECT session_id FROM sessions").iloc[0, 0]
    latest = cv2.imread(str(snapshot_folder(db) / session / "latest.jpg"))
    assert latest is not None and latest.shape[:2] == (180, 320)
    upper_right = np.zeros_like(latest)  # away from the caption, lower left
    upper_right[:130, 165:] = latest[:130, 165:]
    y0, y1, x0, x1 = white_box(upper_right, level=150)  # a JPEG: edges a pixel or so soft
    want = TiledColours.PART
    assert all(abs(a - b) <= 2 for a, b in zip((y0, y1, x0, x1), want, strict=True)), (
        (y0, y1, x0, x1), want)  # fmt: skip


def test_a_gallerys_tiles_are_its_backbones(tiny_model_dir, tmp_path):
    from fieldtool.gallery import Gallery, GalleryClassifier

    clf = crop_classifier(tiny_model_dir)
    model = load_model_folder(tiny_model_dir)
    gallery = Gallery(tmp_path / "site", create=True)
    gallery.enroll(tiny_model_dir, "Acer rubrum", [np.full((40, 40, 3), 90, np.uint8)],
                   device="cpu", model=model)  # fmt: skip
    by_gallery = GalleryClassifier(gallery, model, device="cpu", tiles=2)
    assert by_gallery.seen_tiles(HEIGHT, WIDTH) == clf.seen_tiles(HEIGHT, WIDTH)
