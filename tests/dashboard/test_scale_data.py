"""Exact figures, map cells, palette, undo, SQL engine and access rules, without a browser.

Uses a generated file (:mod:`tests.dashboard.generate`) of 20,000 sightings: big enough to
pass the old 20,000-row cap with the reviews' and filters' effects, small enough to build
in a second. Expected figures come from the file itself (plain SQL or h3-py), never from
constants.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import h3
import pytest

from fieldtool.config import load_config
from fieldtool.config.dashboard import DashboardConfig
from fieldtool.dashboard import access, aggregate, mapview
from fieldtool.dashboard.data import SightingFilter, load_sightings
from fieldtool.dashboard.palette import PALETTE, SpeciesColours, colour_at, rgb
from fieldtool.sqlbox import SqlGate, run_readonly_sql
from fieldtool.store import add_review, query
from fieldtool.store.reviews import undo_review
from fieldtool.store.views import LATEST_REVIEW_SQL, NO_DECISION
from fieldtool.types import FieldtoolError
from tests.dashboard.generate import Season, generate

SMALL = Season(sightings=30_000, track_points=40_000, reviews=1_500)


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("season") / "season.duckdb", SMALL)


@pytest.fixture
def writable(season: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(season.read_bytes())
    return copy


def _one(db: Path, sql: str, params: dict | None = None) -> int:
    return int(query(db, sql, params).iloc[0, 0])


def test_totals_count_every_row(season: Path) -> None:
    totals = aggregate.load_totals(season)
    assert totals["sightings"] == _one(season, "SELECT count(*) FROM sightings") == 30_000
    assert totals["species"] == _one(season, "SELECT count(DISTINCT species) FROM sightings")
    assert totals["open"] == _one(season, "SELECT count(*) FROM sightings WHERE status='open'")
    one = SightingFilter(species=("Acer rubrum",), session_id="s003")
    assert aggregate.load_totals(season, one)["sightings"] == _one(
        season, "SELECT count(*) FROM sightings WHERE species = 'Acer rubrum' "
        "AND session_id = 's003'")  # fmt: skip
    reviewed = aggregate.load_totals(season, reviewed=True)
    assert reviewed["sightings"] == _one(season, "SELECT count(*) FROM sightings_reviewed")
    assert reviewed["sightings"] < totals["sightings"]  # rejected ones left out


def test_pages_of_a_table_cover_the_rows_once(season: Path) -> None:
    one = SightingFilter(session_id="s001")
    total = aggregate.load_totals(season, one)["sightings"]
    seen = [
        load_sightings(season, one, limit=300, offset=offset)["sighting_id"]
        for offset in range(0, total, 300)
    ]
    ids = list(itertools.chain.from_iterable(seen))
    assert len(ids) == len(set(ids)) == total


def test_species_summary_merges_one_species_and_counts_all(writable: Path) -> None:
    with duckdb.connect(str(writable)) as con:  # another spelling of a species, in a label
        con.execute("UPDATE sightings SET species = 'red maple (Acer rubrum)' "
                    "WHERE sighting_id IN ('g40', 'g80', 'g120')")  # fmt: skip
    summary = aggregate.load_species_summary(writable, reviewed=False)
    assert len(summary) == _one(writable, "SELECT count(DISTINCT species) FROM sightings") - 1
    maple = summary.set_index("species").loc["Acer rubrum"]
    assert maple["sightings"] == _one(
        writable, "SELECT count(*) FROM sightings WHERE species LIKE '%Acer rubrum%'")
    assert maple["names"] == 2
    assert summary["sightings"].sum() == 30_000


def test_cells_are_h3_parents_with_exact_counts(season: Path) -> None:
    rows = query(season, "SELECT h3_cell, count(*) AS n FROM sightings GROUP BY h3_cell")
    for resolution in (3, 5, 8):
        expected: Counter[str] = Counter()
        for cell, n in zip(rows["h3_cell"], rows["n"], strict=True):
            expected[h3.cell_to_parent(cell, resolution)] += int(n)
        cells = aggregate.load_cells(season, None, resolution)
        assert dict(zip(cells["hex"], cells["sightings"], strict=True)) == dict(expected)


def test_accumulation_runs_over_media_time_and_distance(season: Path) -> None:
    curve = aggregate.load_accumulation(season)
    kinds = _one(season, "SELECT count(DISTINCT species) FROM sightings_reviewed")
    assert curve["species"].iloc[-1] == kinds
    surveyed = float(query(season, "SELECT sum(surveyed_s) FROM effort").iloc[0, 0])
    walked = float(query(season, "SELECT sum(distance_m) FROM effort").iloc[0, 0])
    assert curve["hours"].iloc[-1] == pytest.approx(surveyed / 3600)
    assert curve["km"].iloc[-1] == pytest.approx(walked / 1000)
    assert curve["hours"].is_monotonic_increasing and curve["km"].is_monotonic_increasing
    # Media time, not processing time: no more hours than the sessions' media spans.
    media = float(query(season, "SELECT sum(m) FROM (SELECT max(t) - min(t) AS m FROM track "
                                "GROUP BY session_id)").iloc[0, 0])  # fmt: skip
    assert curve["hours"].iloc[-1] <= media / 3600 + 1e-6


def test_review_queue_counts_and_pages_all(season: Path) -> None:
    waiting = _one(
        season, f"SELECT count(*) FROM sightings s LEFT JOIN ({LATEST_REVIEW_SQL}) r "
        "USING (sighting_id) WHERE s.status = 'closed' AND r.decision IS NULL")  # fmt: skip
    page, total = aggregate.load_review_page(season, None, offset=50, limit=50)
    assert total == waiting and len(page) == 50
    assert page["first_seen"].is_monotonic_decreasing
    ranked = page.iloc[::-1][["sighting_id"]].assign(score=1.0, reasons="r")
    again, _ = aggregate.load_review_page(season, None, limit=10, ranked=ranked)
    assert list(again["sighting_id"]) == list(ranked["sighting_id"][:10])


def test_undo_adds_a_row_that_restores_the_previous_review(writable: Path) -> None:
    sid = "g7"
    add_review(writable, sid, "confirm", reviewer="ana")
    add_review(writable, sid, "relabel", reviewer="ben", species="Quercus alba")

    def in_force() -> str | None:
        rows = query(writable, f"SELECT decision FROM ({LATEST_REVIEW_SQL}) "
                     "WHERE sighting_id = $s", {"s": sid})  # fmt: skip
        return None if rows.empty else str(rows.iloc[0, 0])

    assert in_force() == "relabel"
    _, now = undo_review(writable, sid, reviewer="ben")
    assert now == "confirm" == in_force()
    _, now = undo_review(writable, sid, reviewer="ben")
    assert now == NO_DECISION and in_force() is None
    assert sid in set(aggregate.load_review_page(writable, SightingFilter(
        session_id="s007"), limit=10_000)[0]["sighting_id"])  # fmt: skip
    rows = query(writable, "SELECT decision, supersedes FROM reviews WHERE sighting_id = $s "
                 "ORDER BY reviewed_at", {"s": sid})  # fmt: skip
    assert len(rows) == 4 and rows["supersedes"].notna().sum() == 2  # nothing deleted
    with pytest.raises(FieldtoolError, match="no review to undo"):
        undo_review(writable, sid, reviewer="ben")


def test_palette_keeps_thirty_species_apart() -> None:
    colours = [rgb(c) for c in PALETTE]
    assert len(set(colours)) == len(colours) >= 30
    closest = min(
        sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
        for a, b in itertools.combinations(colours, 2)
    )
    assert closest > 40  # RGB distance: no two near-identical purples
    names = [f"Genus{i} species" for i in range(40)]
    palette = SpeciesColours(names, str.casefold)
    assert palette("genus3 SPECIES") == palette("Genus3 species")  # one key, one colour
    assert len({palette(n) for n in names}) == 40
    assert colour_at(len(PALETTE)) != colour_at(0)


def test_deck_payload_is_compact_at_any_scale(season: Path) -> None:
    totals = aggregate.load_totals(season)
    view = mapview.view_of(aggregate.load_bounds(season, None), site=False)
    cells = aggregate.load_cells(season, None, mapview.cell_resolution(view.zoom))
    deck = mapview.map_deck(cells, None, None, view, colour=lambda s: (1, 2, 3), label=str)
    assert cells["sightings"].sum() == totals["placed"]
    assert mapview.deck_size(deck) < 2_000_000
    points = aggregate.load_points(season, SightingFilter(session_id="s000"), 5000)
    site = mapview.view_of(aggregate.load_bounds(season, SightingFilter(session_id="s000")),
                           site=True)  # fmt: skip
    assert site.zoom >= mapview.SITE_ZOOM
    deck = mapview.map_deck(cells, points, None, site, colour=lambda s: (1, 2, 3), label=str)
    assert mapview.deck_size(deck) < 2_000_000


def test_cell_resolution_follows_zoom() -> None:
    resolutions = [mapview.cell_resolution(z) for z in (2, 4, 6, 8, 10, 12, 16)]
    assert resolutions == sorted(resolutions) and resolutions[0] < resolutions[-1] == 8


def test_sql_engine_has_its_own_limits_and_queues(season: Path) -> None:
    frame, _ = run_readonly_sql(
        season, "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t",
        memory_limit="300MB", threads=1,
    )  # fmt: skip
    assert frame.iloc[0]["t"] == 1 and "MiB" in str(frame.iloc[0]["m"])
    with pytest.raises(FieldtoolError, match="memory"):
        run_readonly_sql(season, "SELECT list(range) FROM range(80000000)",
                         memory_limit="50MB", threads=1)  # fmt: skip
    gate = SqlGate(slots=1, queue_s=60)
    results: list[object] = []

    def run() -> None:
        try:
            results.append(run_readonly_sql(season, "SELECT count(*) FROM sightings",
                                            gate=gate)[0].iloc[0, 0])  # fmt: skip
        except FieldtoolError as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == [30_000] * 4  # queued one at a time, none failed


def test_a_review_interrupts_a_running_query_instead_of_waiting(writable: Path) -> None:
    gate = SqlGate(slots=2)
    outcome: list[object] = []
    heavy = "SELECT sum(a.range * b.range) FROM range(200000000) a, range(100) b"

    def run() -> None:
        try:
            outcome.append(run_readonly_sql(writable, heavy, gate=gate, time_limit_s=600))
        except FieldtoolError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while not gate.engines() and time.monotonic() < deadline:  # until the query runs
        time.sleep(0.01)
    assert gate.engines() == 1
    with gate.writing(wait_s=60):
        add_review(writable, "g5", "confirm", reviewer="ana", timeout_s=5)
    worker.join(60)
    assert isinstance(outcome[0], FieldtoolError) and "review" in str(outcome[0])
    assert _one(writable, "SELECT count(*) FROM reviews WHERE reviewer = 'ana'") == 1


def test_access_rules(tmp_path: Path) -> None:
    assert access.is_loopback("127.0.0.1") and access.is_loopback("localhost")
    assert access.is_loopback("::1") and not access.is_loopback("0.0.0.0")
    public = DashboardConfig(address="0.0.0.0")
    with pytest.raises(FieldtoolError, match="FIELDTOOL_DASHBOARD_TOKEN"):
        access.check_exposure(public, {})
    env = {"FIELDTOOL_DASHBOARD_TOKEN": "s3cret", "FIELDTOOL_DASHBOARD_VIEWER_TOKEN": "look"}
    access.check_exposure(public, env)
    secrets = access.tokens(public, env)
    assert access.role_for("s3cret", secrets) == "reviewer"
    assert access.role_for("look", secrets) == "viewer"
    assert access.role_for("guess", secrets) is None
    # The browser may only pick among the server's files.
    (tmp_path / "a.duckdb").write_bytes(b"")
    (tmp_path / "b.duckdb").write_bytes(b"")
    fixed = DashboardConfig(db=tmp_path / "a.duckdb")
    assert access.databases(fixed) == [tmp_path / "a.duckdb"]
    assert access.pick_database(fixed, "/etc/passwd") == tmp_path / "a.duckdb"
    assert access.pick_database(fixed, str(tmp_path / "b.duckdb")) == tmp_path / "a.duckdb"
    folder = DashboardConfig(db=tmp_path / "a.duckdb", folder=tmp_path)
    assert access.pick_database(folder, str(tmp_path / "b.duckdb")) == tmp_path / "b.duckdb"
    assert access.pick_database(folder, "/etc/passwd") == tmp_path / "a.duckdb"


def test_settings_from_the_command_line_and_config(tmp_path: Path) -> None:
    toml = tmp_path / "f.toml"
    toml.write_text('[dashboard]\ndb = "/data/season.duckdb"\nmap_points = 100\n')
    settings = access.settings_from_args(["--config", str(toml)], {"FIELDTOOL_DB": "/x.duckdb"})
    assert settings.db == Path("/data/season.duckdb") and settings.map_points == 100
    settings = access.settings_from_args(["--config", str(toml), "--db", "o.duckdb"], {})
    assert settings.db == Path("o.duckdb")
    assert access.settings_from_args([], {"FIELDTOOL_DB": "/x.duckdb"}).db == Path("/x.duckdb")
    assert load_config(None).dashboard.address == "127.0.0.1"
    with pytest.raises(FieldtoolError, match="dashboard"):
        load_config(None, {"dashboard.sql_threads": 0})


def test_dashboard_command_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    import argparse

    from fieldtool.cli.store import dashboard_command

    db = tmp_path / "f.duckdb"
    db.write_bytes(b"")
    args = argparse.Namespace(config=None, db=db, port=None, address="0.0.0.0")
    with pytest.raises(FieldtoolError, match="shared secret"):
        dashboard_command(args, {})
    command = dashboard_command(args, {"FIELDTOOL_DASHBOARD_TOKEN": "t"})
    assert command[command.index("--client.showErrorDetails") + 1] == "none"
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    local = dashboard_command(argparse.Namespace(config=None, db=db, port=None, address=None),
                              {})  # fmt: skip
    assert local[local.index("--server.address") + 1] == "127.0.0.1"


def test_dashboard_command_waits_for_a_database_not_yet_written(tmp_path: Path, capsys) -> None:
    """Started before the first session (to watch it live): served, and said once; a folder
    that does not exist, or a folder given as the file, is still a one-line error."""
    import argparse

    from fieldtool.cli.store import dashboard_command

    later = tmp_path / "later.duckdb"
    command = dashboard_command(argparse.Namespace(config=None, db=later, port=None,
                                                   address=None), {})  # fmt: skip
    assert command[command.index("--db") + 1] == str(later.resolve())
    assert f"{later}: no sightings database yet" in capsys.readouterr().err
    for bad, message in [(tmp_path / "nope" / "f.duckdb", "folder .*nope.* not found"),
                         (tmp_path, "is a folder")]:  # fmt: skip
        with pytest.raises(FieldtoolError, match=message):
            dashboard_command(argparse.Namespace(config=None, db=bad, port=None, address=None),
                              {})  # fmt: skip
