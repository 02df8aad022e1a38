"""Real Ray in local mode for the batch tests: one small cluster for the whole session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fieldtool.cli import DEMO_DATA, DEMO_RANGES, DEMO_REGIONS
from fieldtool.config import DEMO_MODEL, Config, load_config

ray = pytest.importorskip("ray", reason="fieldtool[scale] not installed")


@pytest.fixture(scope="session")
def ray_local():
    """Two CPUs and a small object store: other tests run beside these."""
    ray.init(num_cpus=2, object_store_memory=300 * 2**20, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def demo_config(db: Path, **values: object) -> Config:
    """The demo's settings (as ``fieldtool demo`` sets them), no file named yet."""
    overrides: dict[str, object] = {
        "store.db": str(db), "model.path": str(DEMO_MODEL), "prior.ranges": [str(DEMO_RANGES)],
    }  # fmt: skip
    overrides.update(values)
    return load_config(None, overrides)


@pytest.fixture
def walks(tmp_path) -> Path:
    """The two demo walks and their tracks in a folder of their own, with a manifest
    naming each walk's track (relative paths)."""
    folder = tmp_path / "walks"
    folder.mkdir()
    for region in DEMO_REGIONS:
        for ext in ("mp4", "gpx"):
            shutil.copy(DEMO_DATA / f"walk_{region}.{ext}", folder)
    lines = ["path,track"] + [f"walk_{r}.mp4,walk_{r}.gpx" for r in DEMO_REGIONS]
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder
