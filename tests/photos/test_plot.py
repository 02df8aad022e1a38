"""Plot mode: species sets per photo from tiles, and their multi-label scores."""

from __future__ import annotations

import argparse
import csv
from datetime import datetime, timedelta

import numpy as np
import pytest

from fieldtool.cli.common import DEMO_RANGES
from fieldtool.cli.session import cmd_eval
from fieldtool.config import DEMO_MODEL, load_config
from fieldtool.demo.species import REGION_ORIGINS, region_species
from fieldtool.evaluate import photo_sets, read_photo_truth, score_sets
from fieldtool.photos import plot_scores, species_set
from fieldtool.pipeline import inputs_from_config, run_session
from fieldtool.store import SightingStore
from fieldtool.types import Label, LabelSet
from tests.photos.conftest import make_photo
from tests.photos.plots import BACKGROUND, plot_view

LABELS = LabelSet((Label(0, "A a"), Label(1, "B b"), Label(2, "C c"),
                   Label(3, "background", is_background=True)))  # fmt: skip


def test_species_set_is_any_tile_above_threshold_at_most_top_n() -> None:
    tiles = np.array([[0.7, 0.1, 0.1, 0.1],  # A in one tile
                      [0.1, 0.55, 0.05, 0.3],  # B in another
                      [0.0, 0.0, 0.4, 0.6],  # C below the threshold
                      [0.0, 0.0, 0.0, 1.0]], np.float32)  # fmt: skip
    scores = plot_scores(tiles, LABELS.background_mask)
    assert scores[3] == pytest.approx(0.1)  # background: its minimum over tiles
    assert species_set(scores, LABELS, 0.5, 10) == [("A a", pytest.approx(0.7)),
                                                   ("B b", pytest.approx(0.55))]  # fmt: skip
    assert [n for n, _ in species_set(scores, LABELS, 0.5, 1)] == ["A a"]
    assert [n for n, _ in species_set(scores, LABELS, 0.3, 10)] == ["A a", "B b", "C c"]


def test_sample_averaged_and_macro_f1_as_plantclef() -> None:
    truth = {"a.jpg": {"X", "Y"}, "b.jpg": {"Z"}, "c.jpg": set(), "gone.jpg": {"X"}}
    predicted = {"/d/plots/a.jpg": {"X"}, "/d/plots/b.jpg": {"Z", "W"}, "/d/plots/c.jpg": set()}
    s = score_sets(truth, predicted)
    # per photo: a 2/3, b 2/3, c 1 (nothing there, nothing said), gone 0 (not in the session)
    assert s.sample_f1 == pytest.approx((2 / 3 + 2 / 3 + 1 + 0) / 4)
    # per species: X 2*1/(1+2), Y 0, Z 1, W 0
    assert s.macro_f1 == pytest.approx((2 / 3 + 0 + 1 + 0) / 4)
    assert (s.photos, s.missing) == (3, 1)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 4)


@pytest.fixture(scope="module")
def plots(tmp_path_factory):
    """Ten 2 x 2 plot photos of the west region's species (1-4 plants each, the other
    cells bare ground), a day apart, and their truth file."""
    folder = tmp_path_factory.mktemp("plots")
    rng = np.random.default_rng(11)
    names = [s.species for s in region_species("west")]
    truth = {}
    for k in range(10):
        n = int(rng.integers(1, 5))
        cells = [str(c) for c in rng.choice(names, n, replace=False)] + [BACKGROUND] * (4 - n)
        rng.shuffle(cells)
        name = f"plot_{k:02d}.jpg"
        make_photo(folder / "photos" / name, image=plot_view(cells, 2, seed=100 + k),
                   taken=datetime(2024, 5, 1, 12) + timedelta(days=k), offset="-07:00")  # fmt: skip
        truth[name] = set(cells) - {BACKGROUND}
    with (folder / "truth.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["photo", "species"])
        for name, species in truth.items():
            writer.writerow([name, ";".join(sorted(species))])
    return folder


def _run_plot(folder, db, **settings):
    if not (DEMO_MODEL / "model.safetensors").is_file():
        pytest.fail("the demo model is not built (python -m fieldtool.demo.train)")
    lat, lon = REGION_ORIGINS["west"]
    config = load_config(None, {
        "source.uri": str(folder / "photos"), "store.db": str(db), "model.path": str(DEMO_MODEL),
        "model.device": "cpu", "photos.plot": True, "position.lat": lat, "position.lon": lon,
        **settings,
    })  # fmt: skip
    inputs = inputs_from_config(config, lambda line: None)
    result = run_session(inputs.source, inputs.classifier, SightingStore(db), config,
                         positions=inputs.positions, prior=inputs.prior, time_basis=inputs.time)  # fmt: skip
    return result


def test_plot_mode_finds_the_species_sets_of_demo_plot_photos(plots, tmp_path, capsys) -> None:
    truth = read_photo_truth(plots / "truth.csv")
    db = tmp_path / "plots.duckdb"
    result = _run_plot(plots, db, **{"model.tiles": 2, "prior.ranges": [str(DEMO_RANGES)]})
    assert len(result.photo_species) == 10
    stored = photo_sets(db, result.session.session_id)
    # what the run printed is what the file keeps
    assert {p: {n for n, _ in s} for p, s in result.photo_species} == stored
    scores = score_sets(truth, stored)
    print(
        f"\nplot mode, 2 x 2 tiles, demo range prior: sample-averaged F1 "
        f"{scores.sample_f1:.3f}, macro F1 {scores.macro_f1:.3f} over {scores.photos} photos"
    )
    assert scores.missing == 0
    assert scores.sample_f1 >= 0.85
    # `fieldtool eval` with a photo,species truth prints the same scores
    ns = argparse.Namespace(db=db, session=None, truth=plots / "truth.csv")
    assert cmd_eval(ns) == 0
    out = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(out) if line.split()[:2] == ["photos", "missing"])
    assert [float(v) for v in out[head + 1].split()[2:4]] == [
        pytest.approx(scores.sample_f1, abs=1e-3),
        pytest.approx(scores.macro_f1, abs=1e-3),
    ]
    # the same photos classified whole (one tile): a photo of several plants is not one
    whole = _run_plot(
        plots, tmp_path / "whole.duckdb", **{"model.tiles": 1, "prior.ranges": [str(DEMO_RANGES)]}
    )
    baseline = score_sets(truth, photo_sets(tmp_path / "whole.duckdb", whole.session.session_id))
    print(f"whole photo (1 tile): sample-averaged F1 {baseline.sample_f1:.3f}")
    assert scores.sample_f1 > baseline.sample_f1 + 0.2
