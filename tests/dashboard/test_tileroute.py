"""The map's tiles on Streamlit's own port: the route answers what the page's service
answers, by the id the page's URLs carry, and nothing else (the browser test drives it in
a real server: ``test_browser.test_map_page``)."""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.routing import Match

from fieldtool.dashboard import tileroute
from fieldtool.dashboard.tileroute import ROUTE, tile_routes, tile_services
from fieldtool.dashboard.tiles import TileService, open_source

from .test_tiles import xyz  # noqa: F401  (fixture)


@pytest.fixture
def services() -> Iterator[tileroute.TileServices]:
    """This process's services, fresh, and cleared after (pages in other tests serve
    their tiles themselves)."""
    tile_services.clear()
    yield tile_services()
    tile_services.clear()


def _get(url: str) -> tuple[int, str, bytes, dict[str, str]]:
    """Status, type, body and headers of the route's answer to ``url`` (a path and query)."""
    route = tile_routes()[0]
    path, _, query = url.partition("?")
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
             "headers": []}  # fmt: skip
    match, child = route.matches(scope)
    assert match == Match.FULL, url
    response = tileroute._answer(Request({**scope, **child}))
    headers = dict(response.headers)
    return response.status_code, headers["content-type"], bytes(response.body), headers


def test_the_route_serves_the_pages_service_by_its_id(services, xyz: Path) -> None:  # noqa: F811
    endpoint = services.endpoint("tiles|False", lambda: TileService(open_source(xyz)))
    url = endpoint.url(suffix=".png").replace("{z}/{x}/{y}", "3/2/5")
    assert url.startswith(f"{ROUTE}/")  # a path on the page's own server
    status, mime, body, headers = _get(url)
    assert (status, mime) == (200, "image/png")
    assert body == (xyz / "3" / "2" / "5.png").read_bytes()
    assert headers["cache-control"] == "max-age=3600"
    assert _get(url.replace("3/2/5", "3/2/6"))[0] == 404  # a tile the source lacks
    assert _get(url.replace(endpoint.base, f"{ROUTE}/0123456789abcdef"))[0] == 404  # no page's


def test_a_protected_service_asks_for_its_key(services, xyz: Path) -> None:  # noqa: F811
    endpoint = services.endpoint("tiles|True", lambda: TileService(open_source(xyz), key="k3y"))
    url = endpoint.url(suffix=".png").replace("{z}/{x}/{y}", "3/2/5")
    assert url.endswith("?key=k3y")
    assert _get(url)[0] == 200
    assert _get(url.split("?")[0])[0] == HTTPStatus.FORBIDDEN
    assert _get(url.replace("k3y", "guess"))[0] == HTTPStatus.FORBIDDEN


def test_one_service_per_setting(services, xyz: Path) -> None:  # noqa: F811
    made: list[str] = []

    def make(name: str) -> TileService:
        made.append(name)
        return TileService(None)

    first = services.endpoint("a", lambda: make("a"))
    assert services.endpoint("a", lambda: make("again")).base == first.base
    other = services.endpoint("b", lambda: make("b"))
    assert other.base != first.base and made == ["a", "b"]
    assert services.get(first.base.rsplit("/", 1)[1]) is first.service


def test_routes_mark_the_process_to_use_them(services) -> None:
    assert not services.mounted  # pages start a tile server of their own then
    tile_routes()
    assert tile_services().mounted


def test_under_a_base_path_the_route_and_the_urls_move_alike(services, xyz: Path) -> None:  # noqa: F811
    # a proxy that forwards the dashboard's path (server.baseUrlPath) forwards its tiles too
    from streamlit import config

    before = config.get_option("server.baseUrlPath")
    config.set_option("server.baseUrlPath", "/field/dash/")
    try:
        endpoint = services.endpoint("tiles", lambda: TileService(open_source(xyz)))
        url = endpoint.url(suffix=".png").replace("{z}/{x}/{y}", "3/2/5")
        assert url.startswith(f"/field/dash{ROUTE}/")
        assert _get(url)[0] == 200
    finally:
        config.set_option("server.baseUrlPath", before)
