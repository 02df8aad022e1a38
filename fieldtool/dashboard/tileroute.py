"""The map's tiles on Streamlit's own port: one address for the whole dashboard.

``fieldtool dashboard`` starts the dashboard as an ``st.App``
(:mod:`fieldtool.dashboard.fieldtool_app`) with one more route, :data:`ROUTE`
``/{service}/...``, that answers the map's data tiles, the basemap's files and local
basemap tiles from the page's own :class:`~fieldtool.dashboard.tiles.TileService`. So a
browser that reaches the dashboard reaches its tiles: through an SSH tunnel or a reverse
proxy that forwards the one port, and over HTTPS (a second plain-HTTP port would be
refused as mixed content). Where Streamlit runs the app without the route (``streamlit
run fieldtool/dashboard/app.py``), the map page starts a tile server of its own on a
second port (:class:`~fieldtool.dashboard.tiles.TileServer`), as before.

The route and the page find the same services through :func:`tile_services`, one
Streamlit resource per process (the page runs as a script, the route in Streamlit's
server threads). A page registers its service under an id; URLs carry the id, so the
route serves exactly what a page made.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from http import HTTPStatus

import streamlit as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fieldtool.dashboard.tiles import TileEndpoint, TileService, tile_headers

ROUTE = "/fieldtool/tiles"  # outside Streamlit's reserved /_stcore/, /media/, /component/
# (under ``server.baseUrlPath`` when one is set: :func:`route_path`)


class TileServices:
    """The tile services of this process's pages by id, and whether :func:`tile_routes`
    put the route in this process's server (else the page serves its tiles itself)."""

    def __init__(self) -> None:
        self.mounted = False
        self._services: dict[str, TileService] = {}  # by id, the URL's
        self._ids: dict[str, str] = {}  # id by the settings a page made it for
        self._lock = threading.Lock()

    def endpoint(self, settings: str, make: Callable[[], TileService]) -> TileEndpoint:
        """The endpoint of the service made for ``settings`` (by ``make``, the first time);
        its URLs are paths on the page's own server."""
        with self._lock:
            sid = self._ids.get(settings)
            if sid is None:
                # an id no one guesses: a service with a key stays behind it too
                sid = secrets.token_hex(8)
                self._services[sid] = make()
                self._ids[settings] = sid
            return TileEndpoint(self._services[sid], f"{route_path()}/{sid}")

    def get(self, sid: str) -> TileService | None:
        with self._lock:
            return self._services.get(sid)


def route_path() -> str:
    """:data:`ROUTE` under Streamlit's ``server.baseUrlPath`` (a proxy that forwards the
    dashboard's path forwards its tiles too); the same when the route is made and when a
    page writes its URLs (Streamlit has read its config before either)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{ROUTE}" if base else ROUTE


@st.cache_resource(show_spinner=False)
def tile_services() -> TileServices:
    """This process's :class:`TileServices` (the same object for pages and route)."""
    return TileServices()


def _answer(request: Request) -> Response:
    """A tile request ``{ROUTE}/{service}/{path}``: the service's answer, 404 for a
    service this process has not made. A plain function: Starlette runs it in a worker
    thread, so a data tile's DuckDB query does not hold up the server's event loop."""
    service = tile_services().get(request.path_params["service"])
    if service is None:
        status, body, mime = HTTPStatus.NOT_FOUND, b"404 Not Found\n", "text/plain"
    else:
        path = "/" + request.path_params["path"]
        status, body, mime = service.answer(path, request.url.query)
    # HEAD: Starlette answers it with GET's route and the server drops the body
    return Response(body, status_code=int(status), media_type=mime, headers=tile_headers(status))


def tile_routes() -> list[Route]:
    """The route to give ``st.App``; marks this process's pages to use it."""
    tile_services().mounted = True
    return [Route(route_path() + "/{service}/{path:path}", _answer, methods=["GET"])]
