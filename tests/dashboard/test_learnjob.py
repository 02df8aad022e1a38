"""The review page's "Learn a new model" control and the Models page, driven with AppTest.

The control starts ``fieldtool learn`` as a background process; here subprocess.Popen is
replaced by a recorder (no model is trained), which writes what the command would print.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fieldtool.dashboard.learnjob import LearnJob, LearnRunner, latest_log, tail
from tests.conftest import REPO_ROOT
from tests.dashboard.test_pages import build_db

APP = REPO_ROOT / "streamlit_app.py"


class FakePopen:
    """Records each command (``calls``, the processes in ``started``); a "process" runs
    until the test sets its ``returncode``."""

    calls: list[tuple[list[str], dict]] = []
    started: list[FakePopen] = []

    def __init__(self, args: list[str], **kwargs: object) -> None:
        type(self).calls.append((list(args), kwargs))
        type(self).started.append(self)
        self.returncode: int | None = None
        out = kwargs["stdout"]
        out.write(b"fieldtool: 7 reviewed sightings in 2 sessions (1 held out)\n")  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]

    def poll(self) -> int | None:
        return self.returncode


@pytest.fixture
def fake_popen(monkeypatch: pytest.MonkeyPatch) -> type[FakePopen]:
    recorder = type("Recorder", (FakePopen,), {"calls": [], "started": []})
    monkeypatch.setattr(subprocess, "Popen", recorder)
    return recorder


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(db, model folder, output folder, function starting the app with a config of its
    own; ``learn=False`` leaves the learn settings out)."""
    from streamlit.testing.v1 import AppTest

    data = tmp_path / "data"
    data.mkdir()
    db = build_db(data)
    model = tmp_path / "demo-model"
    model.mkdir()
    output = tmp_path / "learned"

    def start(learn: bool = True, environ: dict[str, str] | None = None):
        config = tmp_path / "dash.toml"
        lines = ["[dashboard]"]
        if learn:
            lines += [f"learn_model = '{model}'", f"learn_output = '{output}'"]
        config.write_text("\n".join(lines) + "\n")
        monkeypatch.setattr(sys, "argv", ["streamlit_app.py", "--db", str(db),
                                          "--config", str(config)])  # fmt: skip
        for name, value in (environ or {}).items():
            monkeypatch.setenv(name, value)
        return AppTest.from_file(str(APP), default_timeout=30)

    return db, model, output, start


def _review_page(at):
    return at.switch_page("fieldtool/dashboard/screens/review.py").run()


def test_learn_control_absent_without_the_config(served, fake_popen) -> None:
    _, _, _, start = served
    at = _review_page(start(learn=False).run())
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Review queue"]
    assert not [b for b in at.button if b.key == "learn_start"]
    assert fake_popen.calls == []


def test_learn_control_absent_for_a_viewer(served, fake_popen) -> None:
    _, _, _, start = served
    at = start(environ={"FIELDTOOL_DASHBOARD_TOKEN": "rev-secret",
                        "FIELDTOOL_DASHBOARD_VIEWER_TOKEN": "view-secret"}).run()  # fmt: skip
    at.text_input(key="_token_given").input("view-secret")
    at.button[0].click().run()
    at = _review_page(at)
    assert not at.exception
    assert any("viewer" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "learn_start"]
    assert fake_popen.calls == []


def test_learn_control_starts_the_learn_command(served, fake_popen) -> None:
    db, model, output, start = served
    at = _review_page(start().run())
    assert not at.exception and not at.error
    assert at.button(key="learn_start").disabled is False
    at.button(key="learn_start").click().run()
    assert not at.exception and not at.error
    assert len(fake_popen.calls) == 1
    command, kwargs = fake_popen.calls[0]
    out = Path(command[-1])
    assert command == [sys.executable, "-m", "fieldtool.cli", "learn", "--db", str(db),
                       "--model", str(model), "-o", str(out)]  # fmt: skip
    assert out.parent == output and out.name.startswith("demo-model-learn-")
    assert not out.exists()  # written by the command, not the page
    assert kwargs["stderr"] == subprocess.STDOUT and kwargs["stdin"] == subprocess.DEVNULL
    assert any(f"Learning {out.name}" in m.value for m in at.success)
    # Running: the button is off, the log's lines are on the page.
    assert at.button(key="learn_start").disabled is True
    assert any(f"Learning {out.name}" in i.value for i in at.info)
    assert "7 reviewed sightings" in at.code[0].value

    log = out.with_name(out.name + ".log")
    with log.open("a") as f:  # what the command prints when it refuses the new model
        f.write("fieldtool: held-out accuracy 0.700 < parent's 0.800\n"
                "not written: held-out accuracy 0.700 < parent's 0.800 (use --force)\n")  # fmt: skip
    fake_popen.started[0].returncode = 1
    at.button(key="learn_refresh").click().run()
    assert not at.exception
    assert at.button(key="learn_start").disabled is False
    assert any("not written" in w.value and "0.700" in w.value for w in at.warning)

    at.button(key="learn_start").click().run()  # a second run: a new folder
    assert not at.error, [e.value for e in at.error]
    assert len(fake_popen.calls) == 2
    second = Path(fake_popen.calls[1][0][-1])
    assert second != out and second.parent == output
    second.mkdir()  # the command wrote the new model
    with second.with_name(second.name + ".log").open("a") as f:
        f.write(f"wrote {second}: held-out accuracy 0.800 -> 0.900\n")
    fake_popen.started[1].returncode = 0
    at.button(key="learn_refresh").click().run()
    assert any("0.800 -> 0.900" in s.value for s in at.success)


def test_runner_refuses_a_second_run_and_reads_old_logs(tmp_path: Path, fake_popen) -> None:
    from datetime import datetime

    from fieldtool.types import FieldtoolError

    model = tmp_path / "m"
    model.mkdir()
    runner = LearnRunner(tmp_path / "out")
    assert runner.last() is None
    job = runner.start(tmp_path / "x.duckdb", model, datetime(2026, 1, 2, 3, 4, 5))
    assert job.out == tmp_path / "out" / "m-learn-20260102-030405"
    assert runner.running() and runner.state(job) == "running"
    with pytest.raises(FieldtoolError, match="being learned already"):
        runner.start(tmp_path / "x.duckdb", model, datetime(2026, 1, 2, 3, 9, 0))
    with pytest.raises(FieldtoolError, match="not a model folder"):
        LearnRunner(tmp_path / "o2").start(tmp_path / "x.duckdb", tmp_path / "none",
                                           datetime(2026, 1, 2))  # fmt: skip
    fake_popen.started[0].returncode = 2
    assert runner.state(job) == "not written"
    # Another server process sees the newest log in the folder.
    (tmp_path / "out" / "m-learn-20251231-235959.log").write_text("older\n")
    assert latest_log(tmp_path / "out") == job.log
    other = LearnRunner(tmp_path / "out").last()
    assert other == LearnJob.from_log(job.log) and other is not None and other.out == job.out
    assert tail(job.log) == ["fieldtool: 7 reviewed sightings in 2 sessions (1 held out)"]


def test_models_page_renders(served) -> None:
    _, _, _, start = served
    at = start(learn=False).run().switch_page("fieldtool/dashboard/screens/models.py").run()
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Models"]
    versions = at.dataframe[0].value
    assert list(versions["Model"]) == ["demo"] and int(versions["Sightings"].iloc[0]) == 10
    trust = at.dataframe[1].value.set_index("Species")
    # build_db: s1-1 (Quercus alba) confirmed, s2-1 (Acer rubrum) rejected.
    quercus = next(k for k in trust.index if "Quercus alba" in k)
    acer = next(k for k in trust.index if "Acer rubrum" in k)
    assert (
        trust.loc[quercus, "Confirmed"] == 1 and trust.loc[quercus, "Precision a user trusts"] == 1
    )
    assert trust.loc[acer, "Rejected"] == 1 and trust.loc[acer, "Precision a user trusts"] == 0
