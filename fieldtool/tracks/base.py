"""What every track format shares: :class:`TrackRead` and the one plausibility rule.

Each reader (:mod:`~fieldtool.tracks.gpx`, :mod:`~fieldtool.tracks.nmea`, ...) turns a
file into raw fixes and hands them to :func:`finish_track`, which drops implausible ones
by :func:`plausible_mask` and counts why. The live gpsd reader applies the same per-fix
rules (:func:`fix_problem`, :func:`consistent`) to each fix as it arrives.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from fieldtool.geo import haversine_m
from fieldtool.timebase import (
    offset_name,
    parse_zone,
    repeated_offsets,
    shift_fixes,
    skipped_local_time,
    to_utc,
)
from fieldtool.types import FieldtoolError, Fix

UERE_M = 5.0  # m; typical user-equivalent range error: accuracy ≈ DOP × UERE_M
DEFAULT_MAX_SPEED_MPS = 100.0  # m/s; a faster step between fixes is a jump
DEFAULT_SLACK_M = 20.0  # m; position noise allowed on top of max_speed × dt
GPS_EPOCH = datetime(1980, 1, 6)  # start of GPS time: no fix is older


@dataclass(frozen=True, slots=True)
class TrackRead:
    """What :func:`fieldtool.tracks.read_track` found in one file."""

    path: Path
    format: str  # one of FORMATS
    fixes: tuple[Fix, ...]  # plausible fixes, sorted by time
    clock: str = "utc"  # "utc", "local" or "file-mtime" (see :mod:`fieldtool.tracks`)
    media_start: datetime | None = None  # time of media t=0 (video-embedded tracks)
    skipped: Mapping[str, int] = field(default_factory=dict)  # reason → count
    notes: tuple[str, ...] = ()

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def in_utc(self, zone: str | None) -> TrackRead:
        """A local-clock track moved to UTC with ``zone``; unchanged where its clock is not
        local or ``zone`` None. A video's own track (``media_start`` set: its fixes are
        media t=0 + media time, one clock reading) keeps one offset, the one at media t=0.
        Any other (a GPX of local times) converts each fix with its own offset, as the
        device wrote each in the zone's time then (sorted again: a fix in the hour skipped
        in spring can land before the next); its notes say where that offset changes within
        it (:func:`zone_change_notes`)."""
        if self.clock != "local" or zone is None or not self.fixes:
            return self
        if self.media_start is not None:
            delta = to_utc(self.media_start, zone) - self.media_start
            return TrackRead(self.path, self.format, shift_fixes(self.fixes, delta), "utc",
                             self.media_start + delta, self.skipped, self.notes)  # fmt: skip
        tz = parse_zone(zone)  # each fix less its offset then, as to_utc takes it
        moved = sorted((replace(f, time=f.time - (tz.utcoffset(f.time) or timedelta(0)))
                        for f in self.fixes), key=lambda f: f.time)  # fmt: skip
        notes = zone_change_notes(self.path.name, [f.time for f in self.fixes], zone)
        return TrackRead(self.path, self.format, tuple(moved), "utc", None, self.skipped,
                         (*self.notes, *notes))  # fmt: skip

    def media_time(self, fix: Fix) -> float | None:
        """Seconds from media t=0 to a fix (video-embedded tracks), else None."""
        if self.media_start is None:
            return None
        return (fix.time - self.media_start).total_seconds()

    def summary(self) -> str:
        """One line for the log."""
        line = f"{self.path}: {len(self.fixes)} {self.format} fixes"
        if self.fixes:
            line += f", {self.fixes[0].time.isoformat()} .. {self.fixes[-1].time.isoformat()}"
            line += f" ({self.clock})"
        if self.media_start is not None:
            line += f", media t=0 at {self.media_start.isoformat()}"
        skips = [f"{n} {why}" for why, n in sorted(self.skipped.items()) if n]
        if skips:
            line += f"; skipped: {', '.join(skips)}"
        return line


def zone_change_notes(name: str, local: Sequence[datetime], zone: str) -> list[str]:
    """Lines for a local-clock track ``name`` whose fix times ``local`` (naive, sorted)
    were converted fix by fix in ``zone``: one where the zone's UTC offset changes within
    them (daylight saving time began or ended: each fix took its own); a warning counting
    the fixes at a time that occurs twice there (the hour repeated when it ends: taken as
    the first, :func:`~fieldtool.timebase.to_utc`), and one counting those at a time it
    skips (when it begins: the offset before). Empty for a fixed offset."""
    tz = parse_zone(zone)
    # the two readings of a wall time differ only in the repeated or the skipped hour
    unclear = [t for t in local if tz.utcoffset(t) != tz.utcoffset(t.replace(fold=1))]
    skipped = [t for t in unclear if skipped_local_time(t, zone)]
    twice = [t for t in unclear if not skipped_local_time(t, zone)]
    offsets: list[timedelta] = []  # in the order the fixes took them
    for t in local:
        offset = tz.utcoffset(t) or timedelta(0)
        if not offsets or offsets[-1] != offset:
            offsets.append(offset)
    lines = []
    if len(offsets) > 1:
        named = " then ".join(map(offset_name, offsets))
        lines.append(f"time: {name} spans a daylight saving change in {zone}: each fix "
                     f"converted with its own offset ({named})")  # fmt: skip
    if twice:
        first, second = repeated_offsets(twice[0], zone)
        lines.append(f"warning: time: {name}: {len(twice)} fix(es) at a local time that occurs "
                     f"twice in {zone} (the hour repeated when daylight saving time ends, from "
                     f"{twice[0]:%Y-%m-%d %H:%M:%S}): taken as the first ({first}); fixes the "
                     f"clock wrote in the second ({second}) are then an hour early, among the "
                     "first's: a GPX with times in UTC (Z) has no such hour")  # fmt: skip
    if skipped:
        before, after = repeated_offsets(skipped[0], zone)
        lines.append(f"warning: time: {name}: {len(skipped)} fix(es) at a local time that does "
                     f"not occur in {zone} (the hour skipped when daylight saving time begins, "
                     f"from {skipped[0]:%Y-%m-%d %H:%M:%S}): taken as {before}, a clock not yet "
                     f"changed; if it had changed ({after}), they are an hour earlier")  # fmt: skip
    return lines


# ------------------------------------------------------------------ plausibility


def valid_fix(fix: Fix) -> bool:
    """Finite, in range and not exactly (0, 0)."""
    lat, lon = fix.lat, fix.lon
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if abs(lat) > 90 or abs(lon) > 180:
        return False
    return not (lat == 0 and lon == 0)  # "null island": an unset receiver, not a place


def fix_problem(fix: Fix) -> str | None:
    """Why one fix is implausible on its own (``"invalid"``, ``"before_1980"``), else None.

    ``invalid``: NaN, latitude/longitude out of range, or exactly (0, 0). ``before_1980``:
    GPS time began on 1980-01-06, so an earlier stamp is a logger without a clock (e.g.
    1901-12-13T20:45:52, the 32-bit Unix time minimum), never a real fix time.
    """
    if not valid_fix(fix):
        return "invalid"
    if fix.time < GPS_EPOCH:
        return "before_1980"
    return None


def consistent(
    a: Fix,
    b: Fix,
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    slack_m: float = DEFAULT_SLACK_M,
) -> bool:
    """Whether ``b`` is reachable from ``a``: great-circle distance at most
    ``max_speed_mps × |dt| + slack_m`` (the step rule between fixes)."""
    dt = abs((b.time - a.time).total_seconds())
    return float(haversine_m(a.lat, a.lon, b.lat, b.lon)) <= max_speed_mps * dt + slack_m


def plausible_mask(
    fixes: Sequence[Fix],
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    slack_m: float = DEFAULT_SLACK_M,
    lookahead: int = 20,
    min_segment: int = 3,
) -> tuple[np.ndarray, dict[str, int]]:
    """Which fixes are plausible: ``(mask (N,) bool in the given order, counts)``.

    ``invalid`` and ``before_1980``: see :func:`fix_problem`. ``jump``: a step from the
    last kept fix (in time order) that is not :func:`consistent` with it:

    * a spike — a later fix among the next ``lookahead`` is consistent with the last
      kept one again — is dropped;
    * a lasting jump starts a new segment. When some segment has ``min_segment`` fixes or
      more, segments shorter than that are dropped too (a wrong first fix, a short burst).
      With only short segments there is no majority, and nothing more is dropped.
    """
    n = len(fixes)
    mask = np.zeros(n, dtype=bool)
    counts = {"invalid": 0, "before_1980": 0, "jump": 0}
    good: list[int] = []
    for i in sorted(range(n), key=lambda i: fixes[i].time):
        problem = fix_problem(fixes[i])
        if problem is None:
            good.append(i)
        else:
            counts[problem] += 1

    def step_ok(a: Fix, b: Fix) -> bool:
        return consistent(a, b, max_speed_mps, slack_m)

    segments: list[list[int]] = []
    for k, i in enumerate(good):
        if not segments:
            segments.append([i])
            continue
        last = fixes[segments[-1][-1]]
        if step_ok(last, fixes[i]):
            segments[-1].append(i)
            continue
        ahead = good[k + 1 : k + 1 + lookahead]
        if any(step_ok(last, fixes[j]) for j in ahead):
            counts["jump"] += 1  # a spike: the track comes back
            continue
        segments.append([i])
    if segments and max(len(s) for s in segments) >= min_segment:
        for seg in segments:
            if len(seg) < min_segment:
                counts["jump"] += len(seg)
                seg.clear()
    for seg in segments:
        mask[seg] = True
    return mask, counts


def clean_fixes(
    fixes: Iterable[Fix],
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    slack_m: float = DEFAULT_SLACK_M,
) -> tuple[list[Fix], dict[str, int]]:
    """Plausible fixes sorted by time, and counts of dropped ones (see :func:`plausible_mask`)."""
    items = list(fixes)
    mask, counts = plausible_mask(items, max_speed_mps, slack_m)
    kept = sorted((f for f, ok in zip(items, mask, strict=True) if ok), key=lambda f: f.time)
    return kept, counts


def merge_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    """Counts summed by key, zeros left out."""
    total: Counter[str] = Counter()
    for c in counts:
        total.update({k: v for k, v in c.items() if v})
    return dict(total)


def count_text(counts: Mapping[str, int], order: Sequence[str]) -> str:
    """``"3 lines, 2 garbage"``: the keys in ``order`` first, then the rest sorted."""
    keys = list(order) + sorted(k for k in counts if k not in order)
    return ", ".join(f"{counts[k]} {k}" for k in keys if counts.get(k))


def finish_track(
    path: Path,
    fmt: str,
    raw: Sequence[Fix],
    skipped: Mapping[str, int],
    *,
    clock: str = "utc",
    media_start: datetime | None = None,
    notes: tuple[str, ...] = (),
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
) -> TrackRead:
    """A reader's raw fixes → :class:`TrackRead` of the plausible ones (every format ends
    here). Raises :class:`FieldtoolError` when none is plausible."""
    kept, dropped = clean_fixes(raw, max_speed_mps)
    if not kept:
        raise FieldtoolError(
            f"{path}: no plausible fixes ({len(raw)} read, {count_text(dropped, ())} dropped)"
        )
    return TrackRead(
        path, fmt, tuple(kept), clock, media_start, merge_counts(skipped, dropped), notes
    )
