"""Local basemap tiles served by the dashboard itself: an XYZ folder or an MBTiles file.

``dashboard.tiles`` names the source; the dashboard process starts one
:class:`TileServer` (a thread, on the address Streamlit serves on, a port the OS picks)
that answers ``GET /{z}/{x}/{y}`` with the tile's bytes and its Content-Type, 404 for a
tile the source lacks or a path that is not three integers (no file names reach the
disk, so no path traversal and no listings). When the dashboard asks for a token, the
tile server asks for its own random key in ``?key=``: the page sends it to signed-in
browsers inside the tile URL, and it opens nothing but tiles (the sign-in secrets are
never put in a URL, so a viewer cannot learn the reviewers' one).

The same server answers the map's own data tiles, ``GET /map/{view}/{kind}/{z}/{x}/{y}.json``
(:mod:`fieldtool.dashboard.maptiles`), so the map's cells, points and tracks follow the
zoom the user picks; one server per dashboard process serves both.

PMTiles files are not read: convert one with ``pmtiles convert in.pmtiles out.mbtiles``.
Pure Python (no Streamlit), so the server is tested on its own.
"""

from __future__ import annotations

import hmac
import re
import socket
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from fieldtool.types import FieldtoolError

MAX_Z = 24  # deepest zoom level a request may name
# /{z}/{x}/{y} with an optional image extension; integers only.
_TILE_PATH = re.compile(r"^/(\d{1,2})/(\d{1,8})/(\d{1,8})(?:\.(?:png|jpe?g|webp))?$")
# /map/{view}/{kind}/{z}/{x}/{y}.json: a view id (hex), a kind letter, integers.
_DATA_PATH = re.compile(r"^/map/([0-9a-f]{8,64})/([a-z])/(\d{1,2})/(\d{1,8})/(\d{1,8})\.json$")
_EXTENSIONS = (("png", "image/png"), ("jpg", "image/jpeg"), ("jpeg", "image/jpeg"),
               ("webp", "image/webp"))  # fmt: skip


def image_type(data: bytes) -> str:
    """The Content-Type of tile bytes, by their magic number (PNG, JPEG, WebP)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


class TileSource(Protocol):
    """Where tiles come from: bytes and Content-Type of tile ``(z, x, y)`` (XYZ/Google
    numbering, y from the north), or None when there is none."""

    @property
    def name(self) -> str: ...  # shown in the map's caption

    @property
    def attribution(self) -> str | None: ...  # the source's own credit line

    @property
    def min_zoom(self) -> int: ...

    @property
    def max_zoom(self) -> int: ...

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, str] | None: ...


class DataTiles(Protocol):
    """The map's data tiles (:class:`fieldtool.dashboard.maptiles.MapTiles`): GeoJSON bytes
    of tile ``(z, x, y)`` of ``kind`` of a registered ``view``, or None."""

    def tile(self, view: str, kind: str, z: int, x: int, y: int) -> bytes | None: ...


@dataclass(frozen=True)
class XyzFolder:
    """Tiles as files ``root/{z}/{x}/{y}.png`` (or .jpg, .jpeg, .webp)."""

    root: Path
    name: str
    attribution: str | None
    min_zoom: int
    max_zoom: int

    @classmethod
    def from_path(cls, root: Path) -> XyzFolder:
        levels = [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
        if not levels:
            raise FieldtoolError(f"dashboard.tiles {root}: no {{z}} folders of XYZ tiles")
        return cls(root, root.name, None, min(levels), max(levels))

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, str] | None:
        # z, x, y are ints, so the path stays inside root.
        for ext, mime in _EXTENSIONS:
            path = self.root / str(z) / str(x) / f"{y}.{ext}"
            if path.is_file():
                return path.read_bytes(), mime
        return None


@dataclass(frozen=True)
class MbtilesFile:
    """An MBTiles SQLite file: table ``tiles`` (zoom_level, tile_column, tile_row in TMS
    numbering, y from the south, tile_data), table ``metadata`` (name, value)."""

    path: Path
    name: str
    attribution: str | None
    min_zoom: int
    max_zoom: int

    @classmethod
    def from_path(cls, path: Path) -> MbtilesFile:
        try:
            with _connect(path) as db:
                meta = dict(db.execute("SELECT name, value FROM metadata").fetchall())
                lo, hi = db.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        except sqlite3.Error as exc:
            raise FieldtoolError(f"dashboard.tiles {path}: not an MBTiles file ({exc})") from None
        if hi is None:
            raise FieldtoolError(f"dashboard.tiles {path}: the MBTiles file holds no tiles")
        attribution = meta.get("attribution")
        return cls(path, str(meta.get("name") or path.stem),
                   str(attribution) if attribution else None, int(lo), int(hi))  # fmt: skip

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, str] | None:
        row = (1 << z) - 1 - y  # MBTiles rows count from the south (TMS)
        with _connect(self.path) as db:  # one connection per request: threads don't share
            found = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
                "AND tile_row = ?",
                (z, x, row),
            ).fetchone()
        if found is None or found[0] is None:
            return None
        data = bytes(found[0])
        return data, image_type(data)


class _Closing(sqlite3.Connection):
    """A connection closed at the end of a ``with`` block (sqlite3's only commits)."""

    def __exit__(self, *exc: object) -> None:  # type: ignore[override]
        self.close()


def _connect(path: Path) -> _Closing:
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, factory=_Closing, check_same_thread=False)


def open_source(path: Path) -> TileSource:
    """The tile source at ``path``: an XYZ folder or an ``.mbtiles`` file."""
    path = Path(path).expanduser()
    if path.is_dir():
        return XyzFolder.from_path(path)
    if not path.is_file():
        raise FieldtoolError(f"dashboard.tiles {path}: no such file or folder")
    if path.suffix.lower() == ".pmtiles":
        raise FieldtoolError(
            f"dashboard.tiles {path}: PMTiles are not read; convert with "
            "`pmtiles convert FILE.pmtiles FILE.mbtiles`"
        )
    if path.suffix.lower() != ".mbtiles":
        raise FieldtoolError(f"dashboard.tiles {path}: expected an XYZ folder or .mbtiles file")
    return MbtilesFile.from_path(path)


def parse_tile_path(path: str) -> tuple[int, int, int] | None:
    """``(z, x, y)`` of a request path ``/{z}/{x}/{y}[.ext]`` inside the tile grid, else None."""
    match = _TILE_PATH.match(path)
    if match is None:
        return None
    return _in_grid(*(int(g) for g in match.groups()))


def parse_data_path(path: str) -> tuple[str, str, int, int, int] | None:
    """``(view, kind, z, x, y)`` of a request path ``/map/{view}/{kind}/{z}/{x}/{y}.json``
    inside the tile grid, else None."""
    match = _DATA_PATH.match(path)
    if match is None:
        return None
    view, kind = match.group(1), match.group(2)
    zxy = _in_grid(*(int(g) for g in match.groups()[2:]))
    return None if zxy is None else (view, kind, *zxy)


def _in_grid(z: int, x: int, y: int) -> tuple[int, int, int] | None:
    if z > MAX_Z or x >= 1 << z or y >= 1 << z:
        return None
    return z, x, y


class _ServerV6(ThreadingHTTPServer):
    address_family = socket.AF_INET6  # the dashboard serves on an IPv6 address (::1, ::)


class TileService:
    """What the dashboard's tiles answer, wherever they are served (Streamlit's own port,
    :mod:`fieldtool.dashboard.tileroute`, or a :class:`TileServer` of their own).

    ``source``: basemap tiles (``/{z}/{x}/{y}``), or None; ``data``: the map's data tiles
    (``/map/...``), or None; ``files``: named files (``/files/{name}``, by name only: no
    path reaches the disk); ``key``: when set, every request needs ``?key=<key>``.
    """

    def __init__(
        self,
        source: TileSource | None,
        *,
        data: DataTiles | None = None,
        key: str | None = None,
        files: Mapping[str, Callable[[], bytes]] | None = None,
    ) -> None:
        self.source = source
        self.data = data
        self.key = key
        self.files = dict(files or {})

    def answer(self, path: str, query: str = "") -> tuple[HTTPStatus, bytes, str]:
        """(status, body, Content-Type) for request ``path`` with ``query`` (``key=...``):
        200 and the tile, 403 without the key, 404 for what is not there, 503 when the
        database is busy or gone (the browser asks again)."""
        if self.key is not None:
            given = parse_qs(query).get("key", [""])[0]
            if not hmac.compare_digest(given.encode(), self.key.encode()):
                return _status(HTTPStatus.FORBIDDEN)
        try:
            found = _found(self.source, self.data, self.files, path)
        except FieldtoolError:
            return _status(HTTPStatus.SERVICE_UNAVAILABLE)
        if found is None:
            return _status(HTTPStatus.NOT_FOUND)
        return HTTPStatus.OK, *found

    def url(self, base: str, prefix: str = "", suffix: str = "") -> str:
        """The XYZ URL template at ``base`` (``http://host:port``, or a path on the page's
        own server): ``{base}/{prefix}{z}/{x}/{y}{suffix}`` (a prefix ends in ``/``)."""
        query = f"?key={quote(self.key)}" if self.key else ""
        return f"{base}/{prefix}{{z}}/{{x}}/{{y}}{suffix}{query}"

    def file_url(self, base: str, name: str) -> str:
        """The URL of file ``name`` (``files``) at ``base``."""
        return self.url(base, "files/", "").replace("{z}/{x}/{y}", quote(name))

    def data_url(self, base: str, view: str, kind: str) -> str:
        """The URL template of the data tiles of ``kind`` of registered ``view`` at ``base``."""
        return self.url(base, f"map/{view}/{kind}/", ".json")


def _status(status: HTTPStatus) -> tuple[HTTPStatus, bytes, str]:
    return status, f"{status.value} {status.phrase}\n".encode(), "text/plain; charset=utf-8"


@dataclass(frozen=True)
class TileEndpoint:
    """A :class:`TileService` and the base URL a browser fetches it at: the URLs the page
    puts in its deck. ``port``: the tile server's own port, or None on the page's."""

    service: TileService
    base: str
    port: int | None = None

    def url(self, prefix: str = "", suffix: str = "") -> str:
        return self.service.url(self.base, prefix, suffix)

    def file_url(self, name: str) -> str:
        return self.service.file_url(self.base, name)

    def data_url(self, view: str, kind: str) -> str:
        return self.service.data_url(self.base, view, kind)


class TileServer:
    """A :class:`TileService` on an HTTP server of its own, in a daemon thread: for a
    dashboard Streamlit runs without fieldtool's routes (``streamlit run app.py``), so the
    browser must reach a second port.

    ``host``: the address to bind (the dashboard's); ``port``: 0 lets the OS choose; the
    rest is :class:`TileService`'s.
    """

    def __init__(
        self,
        source: TileSource | None,
        host: str = "127.0.0.1",
        port: int = 0,
        key: str | None = None,
        *,
        data: DataTiles | None = None,
        files: Mapping[str, Callable[[], bytes]] | None = None,
        service: TileService | None = None,
    ) -> None:
        # ``service``: one made already (the page's), served as it is; else made of the rest
        self.service = service or TileService(source, data=data, key=key, files=files)
        bind = host.strip("[]")
        server_class = _ServerV6 if ":" in bind else ThreadingHTTPServer
        try:
            self._httpd = server_class((bind, port), _handler(self.service))
        except OSError as exc:
            raise FieldtoolError(f"dashboard.tiles: cannot serve tiles on {host} ({exc})") from None
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def source(self) -> TileSource | None:
        return self.service.source

    @property
    def data(self) -> DataTiles | None:
        return self.service.data

    @property
    def key(self) -> str | None:
        return self.service.key

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> TileServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="fieldtool-tiles", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> TileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoint(self, host: str) -> TileEndpoint:
        """Where a browser reaching this machine as ``host`` fetches the tiles."""
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 address
        return TileEndpoint(self.service, f"http://{host}:{self.port}", self.port)

    def url(self, host: str, prefix: str = "", suffix: str = "") -> str:
        """The XYZ URL template a browser reaching this machine as ``host`` fetches."""
        return self.endpoint(host).url(prefix, suffix)

    def file_url(self, host: str, name: str) -> str:
        """The URL of file ``name`` the server was given (``files``)."""
        return self.endpoint(host).file_url(name)

    def data_url(self, host: str, view: str, kind: str) -> str:
        """The URL template of the data tiles of ``kind`` of registered ``view``."""
        return self.endpoint(host).data_url(view, kind)


def browser_host(host_header: str | None, fallback: str) -> str:
    """The host name in a request's ``Host`` header (port dropped), or ``fallback``.

    The tiles are fetched by the browser, so they are addressed as it reaches the
    dashboard; a bind-all address (0.0.0.0, ::) is no place to fetch from.
    """
    host = (host_header or "").strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if not host or not re.fullmatch(r"[A-Za-z0-9.\-:]+", host):
        host = fallback
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return host


def _found(
    source: TileSource | None,
    data: DataTiles | None,
    files: dict[str, Callable[[], bytes]],
    path: str,
) -> tuple[bytes, str] | None:
    """What the server answers for request ``path``: a basemap tile, a data tile, or one
    of its ``files`` (by name only: no path reaches the disk)."""
    if path.startswith("/files/"):
        make = files.get(unquote(path[len("/files/") :]))
        return None if make is None else (make(), "application/json")
    zxy = parse_tile_path(path)
    if zxy is not None:
        return source.tile(*zxy) if source is not None else None
    request = parse_data_path(path)
    if request is None or data is None:
        return None
    body = data.tile(*request)
    return None if body is None else (body, "application/json")


def _handler(service: TileService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fieldtool-tiles"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            self._answer(body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(body=False)

        def _answer(self, *, body: bool) -> None:
            parts = urlsplit(self.path)
            status, payload, mime = service.answer(parts.path, parts.query)
            self.send_response(status)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in tile_headers(status).items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # a request per tile would flood the dashboard's log

    return Handler


def tile_headers(status: HTTPStatus) -> dict[str, str]:
    """Headers of a tile answer besides its type and length, on either server."""
    headers = {"Access-Control-Allow-Origin": "*"}  # the tile server's is another origin
    if status == HTTPStatus.OK:
        # Data tiles change with the data, but then their URL changes (the view id).
        headers["Cache-Control"] = "max-age=3600"
    return headers
