"""The dashboard over a season's file: first paint and refresh of the map, species and review
pages, and the size of the map's deck.

Generates a file of ``--sightings`` sightings (default 1,000,000: 40 sessions at 8 sites,
40 species, 2.16 track points per sighting, 5 % reviewed) with :mod:`tests.dashboard.generate`,
then measures:

- server time (Streamlit's AppTest runs the page script in this process, no browser):
  the first run of each page, a refresh of the map with nothing changed, and a refresh
  after a review was stored (everything read again);
- the deck the map sends (bytes of its JSON, as Streamlit puts it in the message);
- in headless Chromium (Playwright, Debian's ``/usr/bin/chromium``; never downloads a
  browser): first paint of each page in a fresh browser session (from ``goto`` until the
  page's figures and map or chart are drawn; for the map, until its first sightings and
  track tiles have arrived) against a running ``streamlit run``.

Targets (issue 19): map first paint ≤ 5 s, refresh ≤ 1 s server time, deck ≤ 2 MB.
Prints the CPU it ran on. No asserts.

    python benchmarks/dashboard.py                    # 1,000,000 sightings
    python benchmarks/dashboard.py --sightings 200000 --no-browser
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)

from tests.dashboard.generate import Season, generate  # noqa: E402

APP = REPO / "fieldtool" / "dashboard" / "fieldtool_app.py"  # as fieldtool dashboard runs it
CHROMIUM = os.environ.get("FIELDTOOL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PAGES = ("map", "review", "species")




def _timed(action) -> tuple[float, object]:
    began = time.perf_counter()
    value = action()
    return time.perf_counter() - began, value


def server_times(db: Path) -> dict[str, float]:
    """AppTest runs: first run of each page, map refresh unchanged and after a review."""
    from streamlit.testing.v1 import AppTest

    from fieldtool.store import add_review, query

    os.environ["FIELDTOOL_DB"] = str(db)
    out: dict[str, float] = {}
    at = AppTest.from_file(str(APP), default_timeout=300)
    out["map first run (s)"], _ = _timed(at.run)
    deck = at.get("deck_gl_json_chart")
    out["map deck (MB)"] = len(deck[0].proto.json.encode()) / 1e6 if deck else float("nan")
    out["map refresh, nothing changed (s)"], _ = _timed(at.run)
    newest = query(db, "SELECT sighting_id FROM sightings WHERE status = 'closed' "
                   "ORDER BY first_seen DESC LIMIT 1").iloc[0, 0]  # fmt: skip
    add_review(db, str(newest), "confirm", reviewer="bench")
    out["map refresh after a review (s)"], _ = _timed(at.run)
    for page in ("review", "species"):
        fresh = AppTest.from_file(str(APP), default_timeout=300)
        fresh.run()
        fresh.switch_page(f"fieldtool/dashboard/screens/{page}.py")
        out[f"{page} first run (s)"], _ = _timed(fresh.run)
        out[f"{page} refresh (s)"], _ = _timed(fresh.run)
    site = AppTest.from_file(str(APP), default_timeout=300)
    site.query_params["session"] = "s000"
    out["map of one site, first run (s)"], _ = _timed(site.run)
    deck = site.get("deck_gl_json_chart")
    out["map deck of one site (MB)"] = len(deck[0].proto.json.encode()) / 1e6 if deck else 0.0
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def browser_times(db: Path, folder: Path) -> dict[str, float]:
    """First paint of each page in Chromium, each in a fresh browser session."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    log = open(folder / "streamlit.log", "w")  # noqa: SIM115  (open for the server's life)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
         "--", "--db", str(db)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    out: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.2)
        ready = {
            "map": "[data-testid='stDeckGlJsonChart'] canvas",
            "review": "text=closed sightings without a review",
            "species": "[data-testid='stVegaLiteChart'] >> nth=2",
        }
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM,
                                          args=["--headless=new", "--no-sandbox"])  # fmt: skip
            for round_ in ("first paint", "again"):
                for page in PAGES:
                    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
                    tab = context.new_page()
                    tab.set_default_timeout(120_000)
                    tiles: list[str] = []  # the map's data tiles that arrived
                    tab.on("response", lambda r, seen=tiles: seen.append(r.url)
                           if "/map/" in r.url and r.status == 200 else None)  # fmt: skip
                    path = "" if page == "map" else page
                    began = time.perf_counter()
                    tab.goto(f"{base}/{path}")
                    tab.wait_for_selector(ready[page])
                    while page == "map" and not (any("/s/" in u for u in tiles)
                                                 and any("/t/" in u for u in tiles)):
                        tab.wait_for_timeout(20)  # drawn = canvas and first data tiles in
                    painted = time.perf_counter() - began
                    tab.wait_for_function(
                        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
                    out[f"{page} {round_}: drawn in Chromium (s)"] = painted
                    out[f"{page} {round_}: page complete (s)"] = time.perf_counter() - began
                    context.close()
            chromium.close()
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sightings", type=int, default=1_000_000)
    parser.add_argument("--no-browser", action="store_true", help="server times only")
    parser.add_argument("--keep", type=Path, help="write the file here and keep it")
    parser.add_argument("--db", type=Path, help="use this generated file (a review is added)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fieldtool-dash-"))
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores)")
    if args.db is not None:
        db = args.db
        print(f"{db}: {db.stat().st_size / 1e6:.0f} MB")
    else:
        db = args.keep or folder / "season.duckdb"
        season = Season(sightings=args.sightings, track_points=args.sightings * 216 // 100,
                        reviews=args.sightings // 20)  # fmt: skip
        took, _ = _timed(lambda: generate(db, season))
        print(f"generated {args.sightings:,} sightings, {season.track_points:,} track points, "
              f"{season.reviews:,} reviews in {took:.1f} s ({db.stat().st_size / 1e6:.0f} MB)")
    figures = server_times(db)
    if not args.no_browser and Path(CHROMIUM).is_file():
        figures.update(browser_times(db, folder))
    for name, value in figures.items():
        print(f"{name:45s} {value:8.2f}")
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
