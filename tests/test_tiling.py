"""Tiling finds several species in one view (the demo model on rendered plants)."""

from __future__ import annotations

import numpy as np
import pytest

from fieldtool.classify import DinoClassifier
from fieldtool.config import DEMO_MODEL
from fieldtool.demo.render import render_sample
from fieldtool.model import load_model_folder

PAIR = ("Liriodendron tulipifera", "Pinus taeda")


@pytest.fixture(scope="module")
def mosaic() -> np.ndarray:
    """A 640 x 480 view: two plants of each species, one per quadrant."""
    rng = np.random.default_rng(7)
    a1, b1, b2, a2 = (render_sample(name, rng) for name in (PAIR[0], PAIR[1], PAIR[1], PAIR[0]))
    return np.vstack([np.hstack([a1, b1]), np.hstack([b2, a2])])


@pytest.mark.skipif(not (DEMO_MODEL / "model.safetensors").is_file(), reason="demo model not built")
def test_tiles_yield_both_species_where_the_whole_frame_yields_one(mosaic):
    model = load_model_folder(DEMO_MODEL)
    names = model.labels.species
    whole, _ = DinoClassifier(model, device="cpu", tiles=1).predict([mosaic])
    tiled, tiles = DinoClassifier(model, device="cpu", tiles=2).predict([mosaic])
    per_tile = [names[i] for i in tiles[0].argmax(axis=1)]
    assert per_tile == [PAIR[0], PAIR[1], PAIR[1], PAIR[0]]
    top_two = {names[i] for i in np.argsort(-tiled[0])[:2]}
    assert top_two == set(PAIR)
    assert min(tiled[0][names.index(s)] for s in PAIR) > 0.3
    assert sorted(whole[0])[-2] < min(tiled[0][names.index(s)] for s in PAIR)
