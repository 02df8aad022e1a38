"""The driver's side of ``fieldtool batch`` without running Ray's pipeline: which plan rows
run, which are done before or identical to another; what the summary says; SIGTERM; a
database held by a reader."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from fieldtool.scale.merge import FileOutcome, prepare_db
from fieldtool.scale.plan import PlanRow
from fieldtool.scale.runner import BatchOptions, BatchSummary, sort_plan


def _row(path: str, key: str) -> dict[str, object]:
    return {**PlanRow(path).as_row(), "batch_key": key, "content_sha256": "c-" + key}


def test_identical_files_are_named_not_counted_as_done_before(tmp_path):
    """A byte copy at another path (same track and settings: the same key) in a new
    database is identical to the first, not "done before"; only keys the database holds are."""
    hashed = [_row("a.mp4", "k1"), _row("copy_of_a.mp4", "k1"), _row("c.mp4", "k2"),
              _row("d.mp4", "k3")]  # fmt: skip
    plan = sort_plan(hashed, done_before={"k2"}, parts=tmp_path / "parts", settings="s")
    assert [r["path"] for r in plan.todo] == ["a.mp4", "d.mp4"]
    assert plan.done_before == ["c.mp4"]
    assert plan.identical == [("copy_of_a.mp4", "a.mp4")]
    assert plan.finished == []
    new_db = sort_plan(hashed, done_before=set(), parts=tmp_path / "parts", settings="s")
    assert new_db.done_before == [] and len(new_db.todo) == 3
    assert "copy_of_a.mp4: identical to a.mp4 (same bytes, track and settings): not run twice" in (
        new_db.lines()
    )


def _done(path: str, frames: int, **values: object) -> FileOutcome:
    return FileOutcome("k-" + path, path, "c", "s", "done", frames=frames, duration_s=10.0,
                       **values)  # type: ignore[arg-type]  # fmt: skip


def test_the_summary_names_skipped_files_and_counts_what_only_this_run_did():
    summary = BatchSummary(
        files=[_done("new.mp4", 100, positioned=100, time_source="start-time"),
               _done("resumed.mp4", 300, resumed=True, positioned=0,
                     time_source="processing-time")],
        skipped=[f"old_{k:02d}.mp4" for k in range(12)],
        identical=[("copy.mp4", "new.mp4")],
        wall_s=10.0,
    )  # fmt: skip
    lines = summary.lines()
    head = lines[0]
    assert head.startswith("batch: 2 done, 12 skipped (done before), 1 identical to another, "
                           "0 failed")  # fmt: skip
    assert "400 frames" in head and "(10.0 frames/s" in head  # 100 this run in 10 s
    assert "300 merged from a killed run's finished parts" in head
    (skipped,) = [line for line in lines if line.startswith("skipped (done before):")]
    assert "old_00.mp4" in skipped and "old_09.mp4" in skipped and "old_10.mp4" not in skipped
    assert skipped.endswith("and 2 more")
    assert "identical: copy.mp4: identical to new.mp4" in "\n".join(lines)
    assert any(line.startswith("warning: 1 session(s) dated at the processing time")
               and "resumed.mp4" in line for line in lines)  # fmt: skip
    assert any(line.startswith("warning: 1 session(s) with no frame positioned")
               and "resumed.mp4" in line for line in lines)  # fmt: skip
    quiet = BatchSummary(files=[_done("new.mp4", 100, positioned=5, time_source="start-time")],
                         wall_s=10.0).lines()  # fmt: skip
    assert quiet[0] == ("batch: 1 done, 0 skipped (done before), 0 failed; 0.003 h of video, "
                        "100 frames, 0 sightings; 10.0 s (10.0 frames/s)")  # fmt: skip
    assert not [line for line in quiet[1:] if "warning" in line or "skipped" in line]
    old_part = BatchSummary(files=[_done("old.mp4", 50, resumed=True)], wall_s=1.0).lines()
    assert not [line for line in old_part if "warning" in line]  # a part that says nothing


def test_sigterm_interrupts_the_batch_as_ctrl_c_does_after_ray_installs_its_handler(
    monkeypatch,
):
    """``ray.init`` sets a SIGTERM handler of its own (``sys.exit``, and a C++ crash dump in
    the driver's core worker); the batch puts its own back after it, so SIGTERM is an
    interrupt (``fieldtool: interrupted``, finished parts kept), and the one before the
    batch is set back at its end."""
    import ray

    from fieldtool.scale import runner

    assert threading.current_thread() is threading.main_thread()

    def rays_init(**kwargs: object) -> None:  # what ray.init does to SIGTERM
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", rays_init)
    before = signal.getsignal(signal.SIGTERM)
    try:
        with runner.sigterm_interrupts():
            runner._ray_init(BatchOptions())
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) == before
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_database_held_by_a_reader_is_said_in_full_lines(tmp_path):
    """Held by a reader past the lock timeout: the batch says so and goes on (the merge
    waits again); no line is empty after the file's name."""
    db = tmp_path / "held.duckdb"
    prepare_db(db, lambda message: None)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys\n"
         f"con = duckdb.connect({str(db)!r}, read_only=True)\n"
         "print('holding', flush=True)\nsys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        said: list[str] = []
        prepare_db(db, said.append, lock_timeout_s=0.5)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    assert said, "a held database is said"
    for line in said:
        assert line.strip() and line.split(f"{db}:", 1)[-1].strip(), said
    assert any("held" in line and "merge" in line for line in said), said
