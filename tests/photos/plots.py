"""Plot (quadrat) photos of the demo world: several plants in one view."""

from __future__ import annotations

import numpy as np

from fieldtool.demo.render import (
    FRAME_SIZE,
    PlantSpec,
    apply_effects,
    draw_foreground,
    draw_plant,
    plant_radius,
    random_effects,
    render_ground,
)

BACKGROUND = "background"


def plot_view(cells: list[str], grid: int, seed: int) -> np.ndarray:
    """One photo of ``grid`` x ``grid`` cells of the demo's frame size (320 x 240 px), each
    holding one plant of ``cells[i]`` (row by row) or none (``background``), drawn by the
    demo renderer into one scene of ground and clutter; (H, W, 3) uint8 BGR."""
    rng = np.random.default_rng(seed)
    width, height = FRAME_SIZE
    scene = render_ground(rng, width * grid, height * grid, 1.0)
    for i, name in enumerate(cells):
        if name == BACKGROUND:
            continue
        row, col = divmod(i, grid)
        radius = min(plant_radius(rng, height), 0.45 * height)
        x = (col + 0.5) * width + rng.normal(0, 0.04 * width)
        y = (row + 0.5) * height + rng.normal(0, 0.04 * height)
        draw_plant(scene, PlantSpec(name, x, y, radius, int(rng.integers(0, 2**31))), 1.0)
    draw_foreground(scene, rng, 1.0, 0, width * grid)
    return apply_effects(scene, random_effects(rng), rng)
