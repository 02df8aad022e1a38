"""The sequence rule: photos of one camera closer in time than a gap form one event.

Camera-trap tools (Agouti, Timelapse, the Camtrap DP example package) group a trigger's
burst and the triggers that follow within a minute into one event; ``fieldtool`` does the
same with ``photos.sequence_gap_s`` (default 60 s): sorted by time per camera, a photo
starts a new event when it is more than the gap after the previous one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from datetime import datetime


def sequence_numbers(
    cameras: Sequence[Hashable], times: Sequence[datetime], gap_s: float
) -> list[int]:
    """Event number (0, 1, ...) of each photo, given its camera key and capture time.

    Events are numbered in order of their first photo's time (then camera key, as text);
    photos of one camera whose time differs from the previous one's by at most ``gap_s``
    seconds share an event. The input order does not matter.
    """
    if len(cameras) != len(times):
        raise ValueError("one camera key per time")
    order = sorted(range(len(times)), key=lambda i: (str(cameras[i]), times[i], i))
    first: list[int] = []  # the first photo of each event, by order of discovery
    event_of = [0] * len(times)
    previous: dict[Hashable, tuple[datetime, int]] = {}
    for i in order:
        last = previous.get(cameras[i])
        if last is not None and (times[i] - last[0]).total_seconds() <= gap_s:
            event = last[1]
        else:
            event = len(first)
            first.append(i)
        event_of[i] = event
        previous[cameras[i]] = (times[i], event)
    renumber = sorted(range(len(first)), key=lambda e: (times[first[e]], str(cameras[first[e]])))
    new = {old: n for n, old in enumerate(renumber)}
    return [new[e] for e in event_of]


def event_id(camera: str, first_path: str, first_time: datetime) -> str:
    """A stable id of an event: the same photos give the same id in every run (16 hex)."""
    key = f"{camera}|{first_path}|{first_time.isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]
