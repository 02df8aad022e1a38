"""The sequence rule against the Camtrap DP example package's own events."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from fieldtool.photos import sequence_numbers
from fieldtool.timebase import utc_naive
from tests.photos.conftest import CAMTRAP_EXAMPLE


def test_photos_closer_than_the_gap_share_an_event_per_camera() -> None:
    t0 = datetime(2024, 1, 1, 12)
    times = [t0, t0 + timedelta(seconds=60), t0 + timedelta(seconds=121), t0 + timedelta(seconds=5)]
    cameras = ["a", "a", "a", "b"]
    numbers = sequence_numbers(cameras, times, 60.0)
    # a: 0 s and 60 s together (exactly the gap), 121 s alone; b: its own event
    assert numbers[0] == numbers[1]
    assert len({numbers[0], numbers[2], numbers[3]}) == 3
    assert numbers == [0, 0, 2, 1]  # numbered by first photo's time
    # input order does not matter
    assert sequence_numbers(cameras[::-1], times[::-1], 60.0) == numbers[::-1]


def _read(name: str) -> list[dict[str, str]]:
    with (CAMTRAP_EXAMPLE / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _partition(keys: list[object]) -> set[frozenset[int]]:
    groups: dict[object, set[int]] = defaultdict(set)
    for i, key in enumerate(keys):
        groups[key].add(i)
    return {frozenset(g) for g in groups.values()}


@pytest.fixture(scope="module")
def example() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    if not (CAMTRAP_EXAMPLE / "media.csv").is_file():
        pytest.fail(f"{CAMTRAP_EXAMPLE}: the Camtrap DP example package is missing")
    return _read("media.csv"), _read("observations.csv")


def test_the_rule_reproduces_the_example_packages_event_ids(example) -> None:
    media, observations = example
    times = [utc_naive(datetime.fromisoformat(m["timestamp"])) for m in media]
    cameras = [m["deploymentID"] for m in media]
    ours = sequence_numbers(cameras, times, 60.0)
    # the package's events: the eventID of each media's media-level observations
    truth = {o["mediaID"]: o["eventID"] for o in observations if o["observationLevel"] == "media"}
    assert len(truth) == len(media)  # every photo has one
    theirs = [truth[m["mediaID"]] for m in media]
    assert _partition(ours) == _partition(theirs)
    assert len(set(ours)) == len(set(theirs)) == 34
    # The margin: the longest step inside one of their events and the shortest between two
    # (per deployment) bracket 60 s; a 30 s gap splits an event of theirs.
    inside, between = _steps(cameras, times, theirs)
    print(f"\nexample package: steps inside events <= {max(inside):.0f} s, between events "
          f">= {min(between):.0f} s; gap 60 s gives {len(set(ours))} events, theirs "
          f"{len(set(theirs))}")  # fmt: skip
    assert max(inside) <= 60 < min(between)
    assert _partition(sequence_numbers(cameras, times, 30.0)) != _partition(theirs)


def test_event_level_intervals_cover_the_photos_of_their_event(example) -> None:
    """Event-level observations give eventStart/eventEnd; the photos they cover are the
    media of the same event, except events without an event-level row (blanks)."""
    media, observations = example
    spans = {
        o["eventID"]: (o["deploymentID"], utc_naive(datetime.fromisoformat(o["eventStart"])),
                       utc_naive(datetime.fromisoformat(o["eventEnd"])))
        for o in observations if o["observationLevel"] == "event"
    }  # fmt: skip
    times = [utc_naive(datetime.fromisoformat(m["timestamp"])) for m in media]
    ours = sequence_numbers([m["deploymentID"] for m in media], times, 60.0)
    covered: dict[str, set[int]] = defaultdict(set)
    uncovered = []
    for m, when, number in zip(media, times, ours, strict=True):
        hits = [
            e for e, (dep, a, b) in spans.items() if dep == m["deploymentID"] and a <= when <= b
        ]
        if hits:
            covered[hits[0]].add(number)
        else:
            uncovered.append(m["mediaID"])
    assert all(len(numbers) == 1 for numbers in covered.values())  # one of our events each
    print(
        f"\n{len(spans)} event-level events; {len(uncovered)} photos outside every "
        f"eventStart..eventEnd (events without an event-level observation): {uncovered}"
    )
    assert len(spans) == 31 and len(uncovered) == 3
    truth = {o["mediaID"]: o["eventID"] for o in observations if o["observationLevel"] == "media"}
    assert not {truth[m] for m in uncovered} & set(spans)  # their events have no interval


def _steps(cameras, times, events):
    inside, between = [], []
    order = sorted(range(len(times)), key=lambda i: (cameras[i], times[i]))
    for a, b in zip(order, order[1:], strict=False):
        if cameras[a] != cameras[b]:
            continue
        step = (times[b] - times[a]).total_seconds()
        (inside if events[a] == events[b] else between).append(step)
    return inside, between
