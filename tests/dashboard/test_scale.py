"""The dashboard at a season's scale, in headless Chromium: a generated file of 200,000
sightings (40 sessions at 8 sites, 40 species, 432,000 track points, 10,000 reviews).

One server for the module. Checks that every count is exact (computed here from the file
itself), the site view draws points and tracks, a relabel asks before it is stored and
can be undone on a phone-sized screen, and concurrent SQL queries with a review in
between end in results or one-line messages, never a traceback. Screenshots go to
$FIELDTOOL_SCREENSHOT_DIR when set (docs/screenshots), else a temporary folder.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from fieldtool.dashboard.aggregate import load_bounds
from fieldtool.dashboard.data import SightingFilter
from fieldtool.dashboard.mapview import view_of
from fieldtool.store import query
from fieldtool.store.views import LATEST_REVIEW_SQL
from tests.dashboard.generate import Season, generate
from tests.dashboard.test_browser import (
    TIMEOUT_MS,
    _assert_local,
    _is_local,
    _map_drawn,
    _metric,
    _screenshot,
    _settle,
    browser,  # noqa: F401  (the module's Chromium, a fixture)
    run_server,
)

PHONE = {"width": 390, "height": 844}
ENABLED = (
    "k => [...document.querySelectorAll(`.st-key-${k} button`)].some(b => !b.disabled)"
    " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
)


@pytest.fixture(scope="module")
def season_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("season")
    db = generate(folder / "season.duckdb", Season())
    shots = folder / "season_snapshots"
    shots.mkdir()
    Image.new("RGB", (1280, 720), (40, 120, 60)).save(shots / "shot.jpg")
    with duckdb.connect(str(db)) as con:  # snapshots for the newest two sessions
        con.execute("UPDATE sightings SET snapshot_path = 'season_snapshots/shot.jpg' "
                    "WHERE session_id IN ('s038', 's039')")  # fmt: skip
    return db


@pytest.fixture(scope="module")
def server(season_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_server(season_db, tmp_path_factory.mktemp("log")) as base:
        yield base


def _context(browser, viewport: dict, requests: list[str]):  # noqa: F811
    context = browser.new_context(viewport=viewport)

    def route(route) -> None:
        requests.append(route.request.url)
        (route.continue_ if _is_local(route.request.url) else route.abort)()

    context.route("**/*", route)
    return context


@pytest.fixture
def tab(browser) -> Iterator[tuple[object, list[str]]]:  # noqa: F811
    requests: list[str] = []
    context = _context(browser, {"width": 1400, "height": 1000}, requests)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS * 2)
    yield page, requests
    context.close()


def _one(db: Path, sql: str) -> int:
    return int(query(db, sql).iloc[0, 0])


def test_every_count_is_exact(server: str, season_db: Path, tab, tmp_path: Path) -> None:
    page, requests = tab
    sightings = _one(season_db, "SELECT count(*) FROM sightings")
    species = _one(season_db, "SELECT count(DISTINCT species) FROM sightings")
    assert sightings == 200_000 and species == 40
    page.goto(f"{server}/")
    page.get_by_text("fieldtool sightings").first.wait_for()
    _settle(page)
    assert _metric(page, "Sightings") == f"{sightings:,}"
    assert _metric(page, "Species") == f"{species:,}"
    assert _metric(page, "Sessions") == "40"
    page.get_by_text(f"Rows 1–200 of {sightings:,}").wait_for()
    page.get_by_text("drawn for the zoom you are at").wait_for()  # says what it draws
    _map_drawn(page)
    _screenshot(page, "map_season", tmp_path)

    page.goto(f"{server}/species")
    page.get_by_text("Species accumulation").wait_for()
    _settle(page)
    in_force = _one(season_db, "SELECT count(*) FROM sightings_reviewed")
    kinds = _one(season_db, "SELECT count(DISTINCT species) FROM sightings_reviewed")
    assert _metric(page, "Sightings") == f"{in_force:,}"
    assert _metric(page, "Species") == f"{kinds:,}"
    _screenshot(page, "species_season", tmp_path)

    waiting = _one(
        season_db,
        f"SELECT count(*) FROM sightings s LEFT JOIN ({LATEST_REVIEW_SQL}) r "
        "USING (sighting_id) WHERE s.status = 'closed' AND r.decision IS NULL",
    )
    assert 180_000 < waiting < 200_000
    page.goto(f"{server}/review")
    page.get_by_text(f"{waiting:,} closed sightings without a review").wait_for()
    _assert_local(requests)


def _tile_answers(page) -> list[tuple[int, str, dict]]:  # noqa: ANN001
    """(z, kind, GeoJSON) of every map data tile the page fetches, as they arrive."""
    answers: list[tuple[int, str, dict]] = []

    def seen(response) -> None:  # noqa: ANN001
        match = re.search(r"/map/[0-9a-f]+/([st])/(\d+)/\d+/\d+\.json", response.url)
        if match and response.status == 200:
            answers.append((int(match.group(2)), match.group(1), response.json()))

    page.on("response", seen)
    return answers


def _kinds(answers: list[tuple[int, str, dict]], kind: str, z_min: int = 0) -> set[str]:
    return {f["geometry"]["type"] for z, k, body in list(answers) if k == kind and z >= z_min
            for f in body["features"]}  # fmt: skip


def _wait(page, test, what: str) -> None:  # noqa: ANN001
    """Poll ``test`` (no fixed sleeps: the browser's own pace decides) up to a generous limit."""
    for _ in range(600):
        if test():
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"not seen: {what}")


def _canvas_colours(chart) -> tuple[int, int]:  # noqa: ANN001
    """(track-coloured pixels, vivid species-coloured pixels) of the map's canvas."""
    image = Image.open(io.BytesIO(chart.locator("canvas").first.screenshot())).convert("RGB")
    pixels = list(image.get_flattened_data())
    track = sum(1 for r, g, b in pixels if abs(r - 40) < 25 and abs(g - 40) < 25
                and abs(b - 55) < 25)  # fmt: skip
    vivid = sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 120)
    return track, vivid


def test_site_zoom_draws_points_and_track(server: str, season_db: Path, browser) -> None:  # noqa: F811
    requests: list[str] = []
    context = _context(browser, PHONE, requests)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS * 2)
    answers = _tile_answers(page)
    try:
        page.goto(f"{server}/?session=s000")
        page.get_by_text("fieldtool sightings").first.wait_for()
        _settle(page)
        placed = _one(season_db, "SELECT count(*) FROM sightings WHERE session_id = 's000'")
        page.get_by_text(f"{placed:,} placed sightings, drawn for the zoom").wait_for()
        chart = page.locator("[data-testid='stDeckGlJsonChart']").first
        chart.scroll_into_view_if_needed()
        _map_drawn(page)
        _wait(page, lambda: "LineString" in _kinds(answers, "t"), "track tiles")
        _wait(page, lambda: _kinds(answers, "s") & {"Point"}, "sighting tiles with points")
        _wait(page, lambda: min(_canvas_colours(chart)) > 200, "points and track on the map")
        folder = Path(os.environ.get("FIELDTOOL_SCREENSHOT_DIR") or "/tmp")
        page.screenshot(path=str(folder / "map_phone.png"))
    finally:
        context.close()
    _assert_local(requests)


def test_map_follows_the_users_zoom(server: str, season_db: Path, browser) -> None:  # noqa: F811
    """Cells from afar; wheel-zoomed into a site, single sightings and the walk arrive as
    tiles of the deeper zoom, without a rerun of the page."""
    requests: list[str] = []
    context = _context(browser, {"width": 1400, "height": 1000}, requests)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS * 2)
    answers = _tile_answers(page)
    try:
        page.goto(f"{server}/?session=s000")
        _settle(page)
        chart = page.locator("[data-testid='stDeckGlJsonChart']").first
        chart.scroll_into_view_if_needed()
        _map_drawn(page)
        _wait(page, lambda: any(k == "s" for _, k, _b in answers), "the first tiles")
        opened = max(z for z, _, _b in answers)
        # Where the walk starts, on the screen: the view the page opens with (the same
        # function) and Web Mercator pixels (the world is 512 * 2**zoom px wide).
        view = view_of(load_bounds(season_db, SightingFilter(session_id="s000")), site=True)
        lon, lat = query(season_db, "SELECT longitude, latitude FROM track WHERE session_id "
                         "= 's000' ORDER BY time LIMIT 1").iloc[0]  # fmt: skip

        def pixel(x: float, y: float) -> tuple[float, float]:
            world = 512 * 2 ** float(view.zoom)
            merc = math.asinh(math.tan(math.radians(y)))
            return (x + 180) / 360 * world, (1 - merc / math.pi) / 2 * world

        (px, py), (cx, cy) = pixel(lon, lat), pixel(view.longitude, view.latitude)
        box = chart.locator("canvas").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2 + px - cx,
                        box["y"] + box["height"] / 2 + py - cy)  # fmt: skip
        for _ in range(12):  # zoom in where the walk starts (the cursor stays on it)
            page.mouse.wheel(0, -240)
            page.wait_for_timeout(100)
        _wait(page, lambda: max(z for z, _, _b in answers) >= opened + 2, "deeper tiles")
        deeper = max(z for z, _, _b in answers)
        assert deeper <= 20
        _wait(page, lambda: "LineString" in _kinds(answers, "t", deeper), "the walk, zoomed in")
        folder = Path(os.environ.get("FIELDTOOL_SCREENSHOT_DIR") or "/tmp")
        page.screenshot(path=str(folder / "map_site_zoom.png"))

        page.goto(f"{server}/")  # the whole season from afar: too many for points
        _settle(page)
        _wait(page, lambda: "Polygon" in _kinds(answers, "s"), "H3 cells from afar")
    finally:
        context.close()
    _assert_local(requests)


def _reviews_by(db: Path, who: str) -> list[tuple]:
    return [
        tuple(row)
        for row in query(
            db, "SELECT review_id, sighting_id, decision, species, supersedes FROM reviews "
            "WHERE reviewer = $who ORDER BY reviewed_at", {"who": who},
        ).itertuples(index=False)
    ]  # fmt: skip


def test_relabel_asks_first_and_undo_on_a_phone(
    server: str, season_db: Path, browser, tmp_path: Path  # noqa: F811
) -> None:
    requests: list[str] = []
    context = _context(browser, PHONE, requests)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS * 2)
    try:
        page.goto(f"{server}/review")
        page.get_by_text("closed sightings without a review").wait_for()
        _settle(page)
        name = page.get_by_label("Reviewer name")
        name.wait_for(state="visible")  # on the page, not in the collapsed sidebar
        assert name.bounding_box()["x"] >= 0
        confirm = page.get_by_role("button", name="Confirm")
        box = confirm.bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"], "Confirm is below the fold"
        folder = Path(os.environ.get("FIELDTOOL_SCREENSHOT_DIR") or tmp_path)
        page.screenshot(path=str(folder / "review_phone.png"))
        shot = page.locator("[data-testid='stImage'] img").first
        shot.scroll_into_view_if_needed()
        width = shot.bounding_box()["width"]
        assert width <= PHONE["width"], f"snapshot {width} px wide on a 390 px screen"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

        name.fill("zoe")
        name.press("Enter")
        page.wait_for_function(ENABLED, arg="review_confirm")  # the run that knows the name
        picker = page.locator("[data-testid='stSelectbox']", has_text="Relabel as")
        assert "(" not in picker.inner_text()  # no "common (Species)" chosen in advance
        picker.locator("input").first.click()
        page.keyboard.type("Quercus rubra")
        page.get_by_role("option", name="northern red oak (Quercus rubra)").click()
        _settle(page)
        page.get_by_role("button", name="Relabel…").click()
        page.get_by_text("Relabel this").wait_for()
        assert _reviews_by(season_db, "zoe") == []  # asked, nothing stored yet
        page.get_by_role("button", name="Yes, relabel").click()
        page.get_by_text("Relabelled the").wait_for()
        stored = _reviews_by(season_db, "zoe")
        assert len(stored) == 1 and stored[0][2:4] == ("relabel", "Quercus rubra")

        page.get_by_role("button", name="Undo last review").click()
        page.get_by_text("is back in the queue").wait_for()
        stored = _reviews_by(season_db, "zoe")
        assert len(stored) == 2  # nothing deleted
        assert stored[1][1] == stored[0][1] and stored[1][4] == stored[0][0]
        in_force = query(season_db, f"SELECT count(*) FROM ({LATEST_REVIEW_SQL}) "
                         "WHERE sighting_id = $s", {"s": stored[0][1]}).iloc[0, 0]  # fmt: skip
        assert in_force == 0
    finally:
        context.close()
    _assert_local(requests)


HEAVY = (
    "SELECT species, count(*) AS n FROM sightings a, range(400) r "
    "WHERE a.peak_score * 400 > r.range GROUP BY species ORDER BY n DESC"
)


def test_concurrent_queries_and_a_review_without_a_traceback(
    server: str, season_db: Path, browser  # noqa: F811
) -> None:
    requests: list[str] = []
    context = _context(browser, {"width": 1200, "height": 900}, requests)
    try:
        tabs = []
        for _ in range(3):
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS * 3)
            page.goto(f"{server}/sql")
            page.get_by_role("button", name="Run query").wait_for()
            _settle(page)
            page.get_by_label("Query").fill(HEAVY)
            tabs.append(page)
        reviewer = context.new_page()
        reviewer.set_default_timeout(TIMEOUT_MS * 3)
        reviewer.goto(f"{server}/review")
        reviewer.get_by_label("Reviewer name").fill("sam")
        reviewer.get_by_label("Reviewer name").press("Enter")
        reviewer.wait_for_function(ENABLED, arg="review_confirm")
        confirm = reviewer.locator(".st-key-review_confirm button").first
        for page in tabs:  # Run in all three before any ends
            page.get_by_role("button", name="Run query").click()
        confirm.click()
        said = reviewer.locator("[data-testid='stAlertContentSuccess'], "
                                "[data-testid='stAlertContentError']").first
        said.wait_for()  # the review did not hang
        assert "Confirmed the" in said.inner_text()
        assert len(_reviews_by(season_db, "sam")) == 1
        for page in tabs:
            page.wait_for_function(
                "() => document.querySelector(\"[data-testid='stDataFrame']\") || "
                "document.querySelector(\"[data-testid='stAlertContentError']\")"
            )
            _settle(page)
            text = page.inner_text("[data-testid='stMain']")
            assert page.locator("[data-testid='stException']").count() == 0
            for word in ("Traceback", "Exception", "Google", "ChatGPT"):
                assert word not in text
    finally:
        context.close()
    _assert_local(requests)
