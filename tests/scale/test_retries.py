"""A Ray worker killed mid-run: Ray restarts it and runs its work again; the results are
complete and the same as an undisturbed run's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ray.cloudpickle

from fieldtool.cli import DEMO_REGIONS
from fieldtool.config import Config
from fieldtool.pipeline import classifier_from_config, run_from_config
from fieldtool.scale import BatchOptions, run_batch
from fieldtool.store import query
from fieldtool.types import Classifier
from tests.scale.conftest import demo_config

# The factory below travels to the actors by value (the workers cannot import tests/).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


class DiesOnce:
    """Classifier factory whose classifier kills its own worker process at its first
    batch, once per marker file (a restarted actor finds the marker and lives)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __call__(self, config: Config) -> Classifier:
        classifier = classifier_from_config(config, lambda message: None)
        marker = self.marker
        predict = classifier.predict

        def dying_predict(images, prepared=None):  # type: ignore[no-untyped-def]
            try:  # only actors predict: the driver loads the model for its name only
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return predict(images, prepared)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os._exit(1)  # the worker process dies mid-task, as a killed one would

        classifier.predict = dying_predict  # type: ignore[method-assign]
        return classifier


SIGHTINGS = "SELECT species, first_t, last_t, frames, peak_score FROM sightings ORDER BY ALL"


def test_a_worker_killed_mid_run_still_gives_complete_results(ray_local, walks, tmp_path):
    config = demo_config(tmp_path / "run.duckdb", **{"source.max_frames": 150})
    for region in DEMO_REGIONS:  # what an undisturbed run gives
        run_from_config(config.model_copy(update={"source": config.source.model_copy(
            update={"uri": str(walks / f"walk_{region}.mp4")})}), log=lambda m: None)  # fmt: skip
    marker = tmp_path / "killed.pid"
    db = tmp_path / "killed.duckdb"
    killed = run_batch(str(walks), db, config, BatchOptions(factory=DiesOnce(marker)),
                       log=lambda m: None)  # fmt: skip
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker did die
    assert len(killed.done) == 2 and not killed.failed
    assert [f.frames for f in killed.done] == [50, 50]
    assert query(db, SIGHTINGS).equals(query(tmp_path / "run.duckdb", SIGHTINGS))
    frames = query(db, "SELECT session_id, count(*) AS n, count(DISTINCT frame_index) AS d "
                   "FROM detections GROUP BY ALL")  # fmt: skip
    assert list(frames.n) == [50, 50] and (frames.n == frames.d).all()  # none lost, none twice
