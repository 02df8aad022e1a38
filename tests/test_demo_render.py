from __future__ import annotations

import numpy as np
import pytest

from fieldtool.demo.render import (
    PlantSpec,
    camera_view,
    class_names,
    draw_plant,
    render_ground,
    render_sample,
)
from fieldtool.demo.species import BACKGROUND, DEMO_SPECIES

SMALL = (160, 120)  # (width, height) px


def test_class_names_are_species_then_background():
    names = class_names()
    assert names[:-1] == [s.species for s in DEMO_SPECIES]
    assert names[-1] == BACKGROUND


def test_sample_is_deterministic_for_a_seed_and_differs_between_seeds():
    a = render_sample("Acer rubrum", np.random.default_rng(5), SMALL)
    b = render_sample("Acer rubrum", np.random.default_rng(5), SMALL)
    c = render_sample("Acer rubrum", np.random.default_rng(6), SMALL)
    assert a.shape == (120, 160, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 5


def test_square_size_and_unknown_species():
    assert render_sample(BACKGROUND, np.random.default_rng(0), 64).shape == (64, 64, 3)
    with pytest.raises(KeyError):
        render_sample("Quercus imaginaria", np.random.default_rng(0), SMALL)


def test_every_class_renders_differently_from_the_same_seed():
    images = [
        render_sample(name, np.random.default_rng(11), SMALL, visible=1.0, compress=False)
        for name in class_names()
    ]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            diff = np.abs(images[i].astype(int) - images[j].astype(int)).mean()
            assert diff > 1.0, (class_names()[i], class_names()[j])


def _plant_colour(species: str, n: int = 6) -> np.ndarray:
    """Mean and std of BGR over the drawn pixels of ``n`` plants on a grey canvas, (6,)."""
    feats = []
    for seed in range(n):
        canvas = np.full((120, 160, 3), 128, np.uint8)
        draw_plant(canvas, PlantSpec(species, 80, 60, 50, seed), 0.5)
        drawn = np.abs(canvas.astype(int) - 128).sum(axis=2) > 30
        assert drawn.mean() > 0.1, species
        pixels = canvas[drawn].astype(float)
        feats.append(np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)]))
    return np.mean(feats, axis=0)


def test_lookalike_pairs_are_closer_to_each_other_than_to_other_species():
    feats = {s.species: _plant_colour(s.species) for s in DEMO_SPECIES}
    for s in DEMO_SPECIES:
        if s.lookalike_of is None:
            continue
        d_pair = np.linalg.norm(feats[s.species] - feats[s.lookalike_of])
        d_others = [
            np.linalg.norm(feats[s.species] - feats[o])
            for o in feats
            if o not in (s.species, s.lookalike_of)
        ]
        assert d_pair < min(d_others), (s.species, d_pair, min(d_others))
    # and distinct species do not have a near twin
    for s in DEMO_SPECIES:
        if s.lookalike_of is None:
            others = [np.linalg.norm(feats[s.species] - feats[o]) for o in feats if o != s.species]
            assert min(others) > 8, s.species


def test_plant_stays_within_its_extent():
    scene = np.full((240, 400, 3), 128, np.uint8)
    plant = PlantSpec("Pinus taeda", 200, 120, 90, 3)
    draw_plant(scene, plant, 1.0)
    cols = np.flatnonzero((np.abs(scene.astype(int) - 128).sum(axis=2) > 30).any(axis=0))
    assert cols.size > 0
    assert cols.min() >= plant.x0 - 0.12 * plant.radius
    assert cols.max() <= plant.x1 + 0.12 * plant.radius + 15  # the shadow falls right


def test_camera_view_without_zoom_or_roll_is_a_crop():
    scene = render_ground(np.random.default_rng(2), 300, 200, 0.5)
    view = camera_view(scene, 150.0, 100.0, 1.0, 0.0, (80, 60))
    assert np.array_equal(view, scene[70:130, 110:190])
    zoomed = camera_view(scene, 150.0, 100.0, 2.0, 0.0, (80, 60))
    assert not np.array_equal(zoomed, view)
