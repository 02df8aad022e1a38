"""Signals, one rule: a station, or a run of several sources, stopped by SIGTERM or Ctrl-C
has stopped as asked (exit 0, sessions ``interrupted``, end reason ``station stopped
(SIGTERM)``); one source's run interrupted is unfinished (exit 130, end reason
``stopped by SIGTERM``). A SIGHUP or SIGTERM during start-up never kills a station
silently. The signals come from the model (the classifier sends them at a set frame), so
no test waits on a clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fieldtool.cli import main
from fieldtool.store import query

from ..conftest import REPO_ROOT, ColourClassifier, write_video
from .test_reload import toml


class Signalling(ColourClassifier):
    """Sends this process ``signum`` once, at its ``at``-th batch."""

    def __init__(self, labels, signum: int = signal.SIGTERM, at: int = 5) -> None:
        super().__init__(labels)
        self.signum, self.at, self.calls = signum, at, 0

    def predict(self, images, prepared=None):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), self.signum)
        return super().predict(images, prepared)


def _sessions(db: Path) -> list[tuple[str, str]]:
    rows = query(db, "SELECT status, end_reason FROM sessions ORDER BY source_name")
    return [(r.status, r.end_reason) for r in rows.itertuples()]


def test_a_station_stopped_by_sigterm_exits_0_and_says_why(tmp_path, labels, cameras,
                                                           monkeypatch, capsys):  # fmt: skip
    monkeypatch.setattr("fieldtool.station.runner.classifier_from_config",
                        lambda config, log: Signalling(labels))  # fmt: skip
    db = tmp_path / "s.duckdb"
    path = tmp_path / "st.toml"
    path.write_text(toml(db, {"cam": cameras(0).url}))
    assert main(["station", str(path)]) == 0
    assert _sessions(db) == [("interrupted", "station stopped (SIGTERM)")]


def test_several_sources_stopped_by_sigterm_exit_0_as_a_station(tmp_path, labels, cameras,
                                                                monkeypatch, capsys):  # fmt: skip
    monkeypatch.setattr("fieldtool.station.runner.classifier_from_config",
                        lambda config, log: Signalling(labels))  # fmt: skip
    db = tmp_path / "s.duckdb"
    code = main(["run", cameras(0).url, cameras(1).url, "--db", str(db), "--quiet",
                 "--set", "source.read_timeout_s=2"])  # fmt: skip
    assert code == 0
    assert _sessions(db) == [("interrupted", "station stopped (SIGTERM)")] * 2


def test_one_source_interrupted_by_sigterm_exits_130_and_says_why(tmp_path, labels, cameras,
                                                                  monkeypatch, capsys):  # fmt: skip
    monkeypatch.setattr("fieldtool.pipeline.inputs.classifier_from_config",
                        lambda config, log: Signalling(labels))  # fmt: skip
    db = tmp_path / "s.duckdb"
    code = main(["run", cameras(0).url, "--db", str(db), "--quiet", "--lat", "1", "--lon", "2",
                 "--set", "source.read_timeout_s=2"])  # fmt: skip
    assert code == 130
    assert ": interrupted (stopped by SIGTERM);" in capsys.readouterr().err
    assert _sessions(db) == [("interrupted", "stopped by SIGTERM")]


START_UP = """
import signal, sys
import fieldtool.station.runner as runner
from fieldtool.types import Label, LabelSet
from tests.conftest import ColourClassifier

def load(config, log):  # the model loading: a signal arrives meanwhile
    signal.raise_signal(signal.{signal})
    return ColourClassifier(LabelSet((
        Label(0, "Acer rubrum", "red maple"), Label(1, "Quercus alba", "white oak"),
        Label(2, "Pinus taeda", "loblolly pine"), Label(3, "background", "", is_background=True))))

runner.classifier_from_config = load
from fieldtool.cli import main
sys.exit(main(["station", sys.argv[1]]))
"""


def _start_up(tmp_path: Path, signum: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    video = write_video(tmp_path / "walk.avi", [(0, 1.0)])
    db = tmp_path / "s.duckdb"
    path = tmp_path / "st.toml"
    path.write_text(toml(db, {"walk": str(video)}))
    done = subprocess.run([sys.executable, "-c", START_UP.replace("{signal}", signum),
                           str(path)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    return done, db


def test_a_sighup_during_start_up_is_a_reload_once_started(tmp_path):
    done, db = _start_up(tmp_path, "SIGHUP")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    said = [i for i, line in enumerate(lines) if "SIGHUP during start-up" in line]
    reloaded = [i for i, line in enumerate(lines) if "reloaded: 0 added" in line]
    assert len(said) == 1 and len(reloaded) == 1 and said[0] < reloaded[0], lines
    assert _sessions(db) == [("finished", None)]


def test_a_sigterm_during_start_up_stops_it_before_anything_is_written(tmp_path):
    done, db = _start_up(tmp_path, "SIGTERM")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stopped during start-up (SIGTERM); nothing was written to the database" in done.stderr
    assert not db.exists()


def test_both_docs_state_the_one_rule():
    """docs/station.md and docs/reliability.md say what the tests above hold."""
    station = (REPO_ROOT / "docs" / "station.md").read_text(encoding="utf-8")
    reliability = (REPO_ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    for text in (station, reliability):
        flat = " ".join(text.split())
        assert "station stopped (SIGTERM)" in flat and "exit 130" in flat
    assert "exit status is **0**" in station
    assert "exit 0, `end_reason` `station stopped (SIGTERM)`" in " ".join(reliability.split())
    assert "`stopped by SIGTERM`" in reliability
