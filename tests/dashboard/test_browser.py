"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``) via Playwright.

Starts the dashboard as ``fieldtool dashboard`` does (``streamlit run
fieldtool/dashboard/fieldtool_app.py``, the map's tiles on the same port) on a free port over the test database of
``test_dashboard``, opens every page, checks that the map canvas and the tables render
with the expected row counts, and records every request the pages make: none may leave
localhost. Skips only when Chromium or Playwright is missing. Screenshots go to
$FIELDTOOL_SCREENSHOT_DIR when set (CI: docs/screenshots), else to a temporary folder.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fieldtool.dashboard.tileroute import ROUTE
from tests.conftest import REPO_ROOT
from tests.dashboard.test_pages import build_db

REPO = REPO_ROOT
CHROMIUM = os.environ.get("FIELDTOOL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
TIMEOUT_MS = 30_000

if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def run_server(db: Path, folder: Path, *extra: str) -> Iterator[str]:
    """``streamlit run fieldtool/dashboard/fieldtool_app.py`` over ``db`` on a free port;
    yields its base URL.
    ``extra``: more app arguments (after ``--db``)."""
    port = _free_port()
    log = folder / "streamlit.log"
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "fieldtool/dashboard/fieldtool_app.py",
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--", "--db", str(db), *extra],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard over a fresh copy of the test database; yields its base URL."""
    db = build_db(tmp_path_factory.mktemp("browser"))
    with run_server(db, tmp_path_factory.mktemp("log")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, tmp_path: Path) -> Iterator[tuple[object, list[str]]]:
    """A fresh page and the list of every URL it requests (outside ones are also blocked)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []

    def route(route) -> None:
        url = route.request.url
        requests.append(url)
        if _is_local(url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("request", lambda request: requests.append(request.url))
    tab.on("websocket", lambda ws: requests.append(ws.url))
    tab.set_default_timeout(TIMEOUT_MS)
    yield tab, requests
    context.close()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob"):
        return parts.scheme == "data" or _is_local(url[len("blob:") :])
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


def _assert_local(requests: list[str]) -> None:
    assert requests, "no requests recorded"
    outside = sorted({url for url in requests if not _is_local(url)})
    assert not outside, f"requests left localhost: {outside}"


def _screenshot(tab, name: str, tmp_path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main area, so grow the viewport first."""
    folder = Path(os.environ.get("FIELDTOOL_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    size = tab.viewport_size
    height = tab.evaluate(
        "() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight"
    )
    tab.set_viewport_size(
        {"width": size["width"], "height": min(max(height, size["height"]), 4000)}
    )
    tab.wait_for_timeout(300)
    tab.screenshot(path=str(folder / f"{name}.png"))
    tab.set_viewport_size(size)


def _settle(tab) -> None:
    """Wait until the app has finished its run (the status widget is gone)."""
    tab.wait_for_selector("[data-testid='stApp']")
    tab.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS
    )


def _grid_rows(tab, index: int = 0, expected: int | None = None) -> int:
    """Data rows of the ``index``-th st.dataframe (its accessible grid counts the header)."""
    grids = tab.locator("[data-testid='stDataFrame'] table[role='grid']")
    if expected is not None:
        tab.wait_for_function(
            "([i, n]) => { const g = document.querySelectorAll("
            "\"[data-testid='stDataFrame'] table[role='grid']\")[i];"
            " return g && Number(g.getAttribute('aria-rowcount')) === n + 1; }",
            arg=[index, expected],
        )
    return int(grids.nth(index).get_attribute("aria-rowcount")) - 1


def _map_drawn(tab, index: int = 0) -> None:
    """The deck.gl canvas is there, has a size and shows more than a flat colour."""
    from PIL import Image

    chart = tab.locator("[data-testid='stDeckGlJsonChart']").nth(index)
    canvas = chart.locator("canvas").first
    canvas.wait_for(state="visible")
    canvas.evaluate(  # sized to the chart (it starts at the default 300 x 150)
        "c => new Promise(done => { const t = () => c.clientWidth > 300 ? done() :"
        " requestAnimationFrame(t); t(); })"
    )
    box = canvas.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    tab.wait_for_timeout(500)  # first frame
    image = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 5, "map canvas is blank"


def _metric(tab, label: str) -> str:
    metric = tab.locator("[data-testid='stMetric']", has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_map_page(server: str, page, tmp_path: Path) -> None:
    tab, requests = page
    tiles: list[tuple[str, int]] = []  # (URL, status) of the map's tiles and files

    def is_tile(response) -> bool:  # noqa: ANN001
        return re.search(r"/(map|files)/", urlsplit(response.url).path) is not None

    tab.on("response", lambda r: tiles.append((r.url, r.status)) if is_tile(r) else None)
    with tab.expect_response(is_tile):  # the basemap's file at least
        tab.goto(f"{server}/")
    tab.get_by_text("fieldtool sightings").first.wait_for()
    _settle(tab)
    assert _metric(tab, "Sightings") == "10"
    _map_drawn(tab)
    # the tiles come from the dashboard's own port (one port to forward, same origin)
    assert tiles, "the map fetched no tiles"
    assert all(url.startswith(f"{server}{ROUTE}/") and status == 200 for url, status in tiles), (
        tiles
    )
    assert _grid_rows(tab, expected=10) == 10
    assert tab.get_by_text("Download GeoJSON").count() == 1
    _screenshot(tab, "map", tmp_path)

    tab.goto(f"{server}/?species=Cornus+florida")  # a shared, filtered view
    _settle(tab)
    assert _grid_rows(tab, expected=2) == 2
    assert _metric(tab, "Sightings") == "2"
    _assert_local(requests)


def test_review_and_species_pages(server: str, page, tmp_path: Path) -> None:
    tab, requests = page
    tab.goto(f"{server}/review?session=s1")
    tab.get_by_text("Review queue").first.wait_for()
    _settle(tab)
    tab.get_by_text("5 closed sightings without a review").wait_for()
    assert _grid_rows(tab, expected=3) == 3  # s1-5: the alternatives
    _map_drawn(tab)
    _screenshot(tab, "review", tmp_path)

    tab.goto(f"{server}/species")
    tab.get_by_text("Species accumulation").wait_for()
    _settle(tab)
    assert _grid_rows(tab, expected=4) == 4
    charts = tab.locator("[data-testid='stVegaLiteChart']")
    charts.first.wait_for()
    assert charts.count() == 3
    _screenshot(tab, "species", tmp_path)
    _assert_local(requests)


def test_live_and_sql_pages(server: str, page, tmp_path: Path) -> None:
    tab, requests = page
    tab.goto(f"{server}/live")
    tab.get_by_text("Frames analysed").first.wait_for()
    _settle(tab)
    assert _metric(tab, "Frames analysed") == "5"
    _screenshot(tab, "live", tmp_path)

    tab.goto(f"{server}/sql")
    tab.get_by_role("button", name="Run query").wait_for()
    _settle(tab)
    tab.get_by_role("button", name="Run query").click()
    assert _grid_rows(tab, expected=4) == 4
    _screenshot(tab, "sql", tmp_path)

    editor = tab.get_by_label("Query")
    editor.fill("DELETE FROM sightings")
    editor.press("Control+Enter")
    tab.get_by_role("button", name="Run query").click()
    tab.get_by_text("DELETE statements are not allowed").wait_for()
    _assert_local(requests)
