"""The old command for docs/config.md, ``python -m fieldtool.config``, writes the file the
new one (``python -m fieldtool.station.config``) does: a shell empties the file it is
redirected to before the command runs, so refusing would leave it empty."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_old_config_command_prints_the_whole_reference() -> None:
    done = subprocess.run([sys.executable, "-m", "fieldtool.config"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == (REPO / "docs" / "config.md").read_text(encoding="utf-8")
