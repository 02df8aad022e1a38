"""The progress line reads as a person counts time: photos of a camera trap spanning years
were "85900611.0 s / 85900700.0 s"; an hour or more reads as days, hours, minutes."""

from __future__ import annotations

import io
from types import SimpleNamespace

from fieldtool.cli.common import ProgressPrinter


def _line(t: float, duration: float | None) -> str:
    out = io.StringIO()
    ProgressPrinter("traps", out)(SimpleNamespace(
        t=t, duration_s=duration, frames_analysed=5, analysis_fps=2.0, closed_sightings=1,
        open_sightings=0))  # fmt: skip
    return out.getvalue()


def test_long_spans_read_as_days_hours_minutes():
    line = _line(85_900_611.0, 85_900_700.0)
    assert "994 d 05:16:51 / 994 d 05:18:20 (100%)" in line and "85900611" not in line
    assert "1:02:03 / 2:00:00 ( 52%)" in _line(3723.0, 7200.0)


def test_short_spans_keep_seconds():
    assert "  12.5 s / 75.0 s ( 17%)" in _line(12.5, 75.0)
    assert "  12.5 s  analysed" in _line(12.5, None)
