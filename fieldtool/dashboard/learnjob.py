"""The review page's "Learn a new model": ``fieldtool learn`` run in the background.

The page starts the same command a person would type (``python -m fieldtool.cli learn --db
DB --model M -o OUT``) as a child process, so the page never waits on training; its output
(progress lines, then the result or the refusal) goes to ``OUT.log`` beside the new folder,
which the page shows on every rerun. The model and output folders are the server's
settings (``dashboard.learn_model``, ``dashboard.learn_output``), never the browser's.
One run at a time per output folder (:class:`LearnRunner`).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fieldtool.types import FieldtoolError

LOG_SUFFIX = ".log"


@dataclass(frozen=True)
class LearnJob:
    """One run: the new model folder ``out`` (written only when the model is better than its parent),
    its ``log`` (stdout and stderr of the command) and the ``command``."""

    out: Path
    log: Path
    command: tuple[str, ...]

    @classmethod
    def from_settings(
        cls, db: Path, model: Path, folder: Path, now: datetime, number: int = 1
    ) -> LearnJob:
        """The run of ``now`` (UTC): a new folder ``<model name>-learn-<time>`` in
        ``folder`` (``-<number>`` after the time for a second run in the same second)."""
        name = f"{model.name}-learn-{now:%Y%m%d-%H%M%S}" + (f"-{number}" if number > 1 else "")
        out = folder / name
        command = (sys.executable, "-m", "fieldtool.cli", "learn", "--db", str(db),
                   "--model", str(model), "-o", str(out))  # fmt: skip
        return cls(out, folder / f"{name}{LOG_SUFFIX}", command)

    @classmethod
    def from_log(cls, log: Path) -> LearnJob:
        """The run that wrote ``log`` (its command unknown)."""
        return cls(log.with_name(log.name[: -len(LOG_SUFFIX)]), log, ())


def _started(log: Path) -> tuple[int, ...]:
    """(date, time, number) of a log's name ``<model>-learn-<date>-<time>[-<number>].log``."""
    stamp = log.name[: -len(LOG_SUFFIX)].rsplit("-learn-", 1)[-1]
    parts = [int(p) if p.isdigit() else -1 for p in stamp.split("-")]
    return tuple(parts + [1] * (3 - len(parts)))


def latest_log(folder: Path) -> Path | None:
    """The newest learn log in ``folder`` (by the start time in its name), or None."""
    if not folder.is_dir():
        return None
    logs = sorted(folder.glob(f"*-learn-*{LOG_SUFFIX}"), key=_started)
    return logs[-1] if logs else None


def tail(path: Path, lines: int = 12, max_bytes: int = 64_000) -> list[str]:
    """The last ``lines`` lines of a log (reads at most its last ``max_bytes``)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


class LearnRunner:
    """The learn runs of one output folder in this server process: at most one at a time.

    ``start`` returns at once; ``state`` says "running", "written" (the new folder exists),
    "not written" (refused or failed: the log's last line says why) or "none"."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._job: LearnJob | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def running(self) -> bool:
        with self._lock:
            return self._process is not None and self._process.poll() is None

    def start(self, db: Path, model: Path, now: datetime) -> LearnJob:
        """Start ``fieldtool learn`` from ``model`` over ``db`` in the background."""
        if not model.is_dir():
            raise FieldtoolError(f"dashboard.learn_model {model}: not a model folder")
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                raise FieldtoolError("a new model is being learned already; wait for it")
            number = 1
            job = LearnJob.from_settings(db, model, self.folder, now)
            while job.out.exists() or job.log.exists():  # another run in the same second
                number += 1
                job = LearnJob.from_settings(db, model, self.folder, now, number)
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                with job.log.open("wb") as log:  # the child keeps its own copy of the handle
                    self._process = subprocess.Popen(
                        list(job.command), stdin=subprocess.DEVNULL, stdout=log,
                        stderr=subprocess.STDOUT, start_new_session=True,
                    )  # fmt: skip
            except OSError as exc:
                raise FieldtoolError(f"dashboard.learn_output {self.folder}: {exc}") from None
            self._job = job
            return job

    def last(self) -> LearnJob | None:
        """This process's newest run, else the newest one whose log is in the folder."""
        with self._lock:
            if self._job is not None:
                return self._job
        log = latest_log(self.folder)
        return LearnJob.from_log(log) if log is not None else None

    def state(self, job: LearnJob) -> str:
        with self._lock:
            mine = self._job == job and self._process is not None
            if mine and self._process is not None and self._process.poll() is None:
                return "running"
        return "written" if job.out.is_dir() else "not written"
