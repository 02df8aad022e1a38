"""``fieldtool batch`` keeps Ray's INFO lines off the terminal, and its progress bars off
all but a terminal, unless ``--verbose``; fieldtool's own progress lines and summary stay."""

from __future__ import annotations

import logging
import re

from fieldtool.cli import main
from fieldtool.scale.runner import BatchOptions, ray_init_kwargs, ray_quiet
from tests.scale.conftest import demo_config

RAY_INFO = re.compile(r"\bINFO\b|Running Dataset|Execution plan|Starting execution")


def _batch(ray, walks, db, *extra: str) -> tuple[int, bool]:
    """``fieldtool batch`` on the first 30 frames of one demo walk, with Ray Data's progress
    bars on as a fresh process has them (the session's fixture turns them off): its exit
    status, and whether the bars are on again after it. Ray Data's console handler is put
    back first, as a process that imports Ray Data has it (tests before may have left the
    logger without it: its lines would then not reach stderr, quiet or not)."""
    from ray.data._internal.logging import configure_logging

    configure_logging()
    config = demo_config(db)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = True
    try:
        code = main(["batch", str(walks / "walk_west.mp4"), "--db", str(db),
                     "--model", str(config.model.path), "--ranges", str(config.prior.ranges[0]),
                     "--set", "source.max_frames=30", *extra])  # fmt: skip
        return code, ctx.enable_progress_bars
    finally:
        ctx.enable_progress_bars = False


def test_batch_prints_its_own_lines_not_rays(ray_local, walks, tmp_path, capfd):
    code, bars_after = _batch(ray_local, walks, tmp_path / "quiet.duckdb")
    out, err = capfd.readouterr()
    assert code == 0, err
    assert bars_after  # set back after
    assert "batch: 1 done, 0 skipped (done before), 0 failed" in out
    assert "fieldtool: batch: 1 of 1 file(s) done" in err  # its own progress
    assert not RAY_INFO.search(out + err), out + err


def test_a_local_cluster_starts_quiet_unless_verbose():
    quiet = ray_init_kwargs(BatchOptions(object_store_mb=100))
    assert quiet["log_to_driver"] is False and quiet["logging_level"] == logging.WARNING
    assert quiet["object_store_memory"] == 100 * 2**20 and quiet["include_dashboard"] is False
    loud = ray_init_kwargs(BatchOptions(address="auto", verbose=True))
    assert loud["address"] == "auto" and loud["log_to_driver"] is True
    assert loud["logging_level"] == logging.INFO


def test_ray_warnings_and_errors_still_print(capfd):
    """Quiet drops Ray's INFO lines only, for its length."""
    from ray.data._internal.logging import configure_logging

    configure_logging()
    logger = logging.getLogger("ray.data.fieldtool_test")  # ray.data's console handler
    with ray_quiet(verbose=False):
        logger.info("an info line")
        logger.error("an error line")
        logging.getLogger("ray.data._internal.progress").warning("Progress bars disabled.")
    logger.info("an info line after")
    err = capfd.readouterr().err
    assert "an error line" in err and "an info line after" in err
    assert "an info line\n" not in err and "Progress bars" not in err
    with ray_quiet(verbose=True):  # --verbose: Ray's lines as Ray prints them
        logger.info("a verbose info line")
    assert "a verbose info line" in capfd.readouterr().err


def test_progress_bars_stay_on_a_terminal_only(monkeypatch):
    """Bars are the progress a terminal sees while frames are classified; in a log file
    or a pipe they are hundreds of lines."""
    import sys

    import ray.data

    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars
    ctx.enable_progress_bars = True
    try:
        for terminal in (True, False):
            monkeypatch.setattr(sys.stderr, "isatty", lambda terminal=terminal: terminal)
            with ray_quiet(verbose=False):
                assert ctx.enable_progress_bars is terminal
            assert ctx.enable_progress_bars is True  # set back
    finally:
        ctx.enable_progress_bars = saved
