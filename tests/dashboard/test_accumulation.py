"""The species accumulation curve follows the filters and the order of the surveys.

A generated season of 6 sessions, one a day, processed in the reverse order (the newest
survey was processed first: ``started_at`` runs backwards). The curve's effort axis must
hold only the sessions the filters select (one session; the sessions a time window
overlaps; every session for a species filter), laid end to end in survey order (the first
frame or fix), and each species must stand where its first sighting lies on that axis.
Expected figures are computed here from the file's rows, never from constants.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from fieldtool.dashboard.aggregate import load_accumulation
from fieldtool.dashboard.data import SightingFilter
from fieldtool.store import query
from tests.dashboard.generate import START, Season, generate

SMALL = Season(sightings=900, sessions=6, sites=2, species=14, track_points=1800,
               reviews=40, running=0)  # fmt: skip


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = generate(tmp_path_factory.mktemp("accumulation") / "season.duckdb", SMALL)
    with duckdb.connect(str(path)) as con:  # processed newest survey first
        con.execute("UPDATE sessions SET started_at = TIMESTAMP '2026-11-01' - "
                    "INTERVAL 1 MINUTE * CAST(substr(session_id, 2) AS INTEGER)")  # fmt: skip
    return path


def _expected(db: Path, sessions: list[str], where: str, params: dict) -> pd.DataFrame:
    """(species, hours) of each species' first sighting, over ``sessions`` laid end to end
    by their first fix, counting the reviewed sightings meeting ``where``."""
    effort = query(
        db,
        "SELECT e.session_id, e.surveyed_s, min(t.time) AS began FROM effort e "
        "JOIN track t USING (session_id) GROUP BY ALL",
    ).set_index("session_id")
    effort = effort.loc[sessions].sort_values("began")
    offset = effort["surveyed_s"].cumsum() - effort["surveyed_s"]
    rows = query(db, f"SELECT session_id, species, first_t FROM sightings_reviewed WHERE {where}",
                 params)  # fmt: skip
    rows = rows[rows["session_id"].isin(sessions)]
    span = rows["session_id"].map(effort["surveyed_s"])
    at = rows["session_id"].map(offset) + rows["first_t"].clip(lower=0).clip(upper=span)
    first = rows.assign(hours=at / 3600).groupby("species")["hours"].min()
    return first.sort_values().reset_index()


def _check(curve: pd.DataFrame, expected: pd.DataFrame, total_s: float, total_m: float) -> None:
    found = curve.iloc[1:-1]
    assert list(found["species"]) == list(range(1, len(expected) + 1))
    assert sorted(zip(found["name"], found["hours"].round(9), strict=True)) == sorted(
        zip(expected["species"], expected["hours"].round(9), strict=True))  # fmt: skip
    assert curve["hours"].iloc[-1] == pytest.approx(total_s / 3600)
    assert curve["km"].iloc[-1] == pytest.approx(total_m / 1000)
    assert curve["species"].iloc[-1] == len(expected)
    assert curve["hours"].is_monotonic_increasing and curve["km"].is_monotonic_increasing


def _effort(db: Path, sessions: list[str]) -> tuple[float, float]:
    row = query(db, "SELECT sum(surveyed_s), sum(distance_m) FROM effort "
                    "WHERE list_contains($ids, session_id)", {"ids": sessions}).iloc[0]  # fmt: skip
    return float(row.iloc[0]), float(row.iloc[1])


def _sessions(db: Path) -> list[str]:
    return [str(s) for s in query(db, "SELECT session_id FROM sessions")["session_id"]]


def test_all_sessions_are_laid_end_to_end_in_survey_order(season: Path) -> None:
    everyone = _sessions(season)
    curve = load_accumulation(season)
    _check(curve, _expected(season, everyone, "TRUE", {}), *_effort(season, everyone))
    # The first species is found in the first survey (s000), not the first processed (s005).
    first = query(season, "SELECT min(first_t) FROM sightings_reviewed "
                          "WHERE session_id = 's000'").iloc[0, 0]  # fmt: skip
    assert curve["hours"].iloc[1] == pytest.approx(max(float(first), 0) / 3600)


def test_one_session_is_its_own_effort(season: Path) -> None:
    one = "s003"
    curve = load_accumulation(season, SightingFilter(session_id=one))
    expected = _expected(season, [one], "session_id = $s", {"s": one})
    _check(curve, expected, *_effort(season, [one]))
    assert curve["hours"].iloc[-1] < load_accumulation(season)["hours"].iloc[-1]


def test_a_time_window_keeps_the_sessions_it_overlaps(season: Path) -> None:
    start, end = START + timedelta(days=2, hours=-1), START + timedelta(days=3, hours=1)
    curve = load_accumulation(season, SightingFilter(start=start, end=end))
    inside = ["s002", "s003"]  # one survey a day from START; each lasts minutes
    expected = _expected(season, inside, "last_seen >= $a AND first_seen <= $b",
                         {"a": start, "b": end})  # fmt: skip
    _check(curve, expected, *_effort(season, inside))
    nothing = load_accumulation(season, SightingFilter(start=datetime(2030, 1, 1)))
    assert nothing["species"].iloc[-1] == 0 and nothing["hours"].iloc[-1] == 0


def test_a_species_filter_counts_its_species_over_all_the_effort(season: Path) -> None:
    chosen = ("Quercus alba", "Pinus taeda")
    curve = load_accumulation(season, SightingFilter(species=chosen))
    everyone = _sessions(season)
    expected = _expected(season, everyone, "list_contains($sp, species)", {"sp": list(chosen)})
    assert set(expected["species"]) == set(chosen)
    _check(curve, expected, *_effort(season, everyone))
    # A species never seen: none found over the whole effort, not over none.
    unseen = load_accumulation(season, SightingFilter(species=("Nomen nudum",)))
    assert unseen["species"].iloc[-1] == 0
    assert unseen["hours"].iloc[-1] == pytest.approx(_effort(season, everyone)[0] / 3600)
