"""A prior weight of 0 (--prior-weight 0, --ignore-location) with range files given: the
run says the prior is off and the files were not read, not that no range maps were given."""

from __future__ import annotations

from pathlib import Path

from fieldtool.config import PriorConfig, load_config
from fieldtool.priors import range_prior_from_config


def test_weight_0_with_ranges_is_said_as_off_and_the_files_are_not_read(tmp_path: Path) -> None:
    from fieldtool.priors.files import prior_off_note

    missing = tmp_path / "not_here.geojson"  # not read, so not found is not an error
    cfg = PriorConfig(ranges=[str(missing)], weight=0.0)
    assert range_prior_from_config(cfg) is None
    note = prior_off_note(cfg)
    assert note is not None and "\n" not in note
    assert note.startswith("range prior off (prior weight 0") and "--prior-weight 0" in note
    assert "not read" in note and "not_here.geojson" in note
    assert prior_off_note(PriorConfig(ranges=[], weight=0.0)) is None  # nothing was given
    assert prior_off_note(PriorConfig(ranges=[str(missing)], weight=1.0)) is None


def test_a_run_with_prior_weight_0_and_ranges_logs_the_prior_off(tmp_path: Path) -> None:
    """The trial's `fieldtool run clip20.mp4 --lat --lon --ranges r.geojson --prior-weight
    0`: one line saying the prior is off, none saying no range maps were given."""
    from fieldtool.cli import DEMO_DATA, DEMO_RANGES
    from fieldtool.config import DEMO_MODEL
    from fieldtool.pipeline import inputs_from_config

    settings = {"source.uri": str(DEMO_DATA / "walk_west.mp4"), "model.path": str(DEMO_MODEL),
                "store.db": str(tmp_path / "s.duckdb"), "position.lat": 44.5,
                "position.lon": -123.3, "prior.ranges": [str(DEMO_RANGES)],
                "prior.weight": 0.0}  # fmt: skip
    logs: list[str] = []
    inputs = inputs_from_config(load_config(None, settings), logs.append)
    assert inputs.prior is None
    assert not any("no range prior" in line for line in logs), logs
    off = [line for line in logs if line.startswith("range prior off")]
    assert len(off) == 1 and DEMO_RANGES.name in off[0], logs
