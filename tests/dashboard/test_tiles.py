"""Dashboard basemaps: the tile server (XYZ folder, MBTiles), and the deck's tile layers."""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from fieldtool.config.dashboard import DashboardConfig
from fieldtool.dashboard.deck import tile_bounds
from fieldtool.dashboard.mapview import basemap_tiles, map_deck, view_of
from fieldtool.dashboard.tiles import (
    MbtilesFile,
    TileServer,
    XyzFolder,
    browser_host,
    open_source,
    parse_tile_path,
)
from fieldtool.types import FieldtoolError

OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def _image(fmt: str, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def xyz(tmp_path: Path) -> Path:
    root = tmp_path / "xyz"
    (root / "3" / "2").mkdir(parents=True)
    (root / "3" / "2" / "5.png").write_bytes(_image("PNG", (10, 120, 30)))
    (root / "5" / "9").mkdir(parents=True)
    (root / "5" / "9" / "7.webp").write_bytes(_image("WEBP", (200, 10, 10)))
    (tmp_path / "secret.png").write_bytes(b"not for the browser")
    return root


@pytest.fixture
def mbtiles(tmp_path: Path) -> Path:
    path = tmp_path / "site.mbtiles"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
            "tile_data BLOB)"
        )
        db.executemany(
            "INSERT INTO metadata VALUES (?, ?)",
            [("name", "Site map"), ("format", "jpg"), ("attribution", "© Survey team")],
        )
        # XYZ tile 4/3/5 is TMS row 2**4 - 1 - 5 = 10.
        db.execute("INSERT INTO tiles VALUES (4, 3, 10, ?)", (_image("JPEG", (90, 90, 200)),))
        db.execute("INSERT INTO tiles VALUES (6, 0, 0, ?)", (_image("PNG", (0, 0, 0)),))
    db.close()
    return path


def _get(server: TileServer, path: str) -> tuple[int, str, bytes]:
    """Status, Content-Type and body of a raw request path (no client-side normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def test_serves_xyz_folder(xyz: Path) -> None:
    source = open_source(xyz)
    assert isinstance(source, XyzFolder) and (source.min_zoom, source.max_zoom) == (3, 5)
    with TileServer(source) as server:
        assert _get(server, "/3/2/5") == (200, "image/png", (xyz / "3/2/5.png").read_bytes())
        assert _get(server, "/3/2/5.png")[0] == 200
        status, mime, body = _get(server, "/5/9/7")
        assert (status, mime) == (200, "image/webp")
        assert body == (xyz / "5/9/7.webp").read_bytes()
        assert _get(server, "/3/2/6")[0] == 404  # no such tile
        assert _get(server, "/4/2/5")[0] == 404


def test_serves_mbtiles_with_tms_rows_flipped(mbtiles: Path) -> None:
    source = open_source(mbtiles)
    assert isinstance(source, MbtilesFile)
    assert (source.name, source.attribution, source.min_zoom, source.max_zoom) == (
        "Site map", "© Survey team", 4, 6,
    )  # fmt: skip
    with TileServer(source) as server:
        status, mime, body = _get(server, "/4/3/5")
        assert (status, mime) == (200, "image/jpeg")
        assert Image.open(io.BytesIO(body)).getpixel((5, 5))[2] > 150  # the blue tile
        assert _get(server, "/4/3/10")[0] == 404  # the unflipped row holds nothing
        assert _get(server, "/6/0/63")[1] == "image/png"  # TMS row 0 is XYZ row 63
        assert _get(server, "/6/0/0")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.png", "/3/../../secret.png", "/3/2/../2/5", "/3/2/5/../5", "/3/2/x",
        "/3/2/5.txt", "/3/2/-5", "/3/2/", "/3/", "/", "/3/2/5.0", "/3/8/0", "/3/0/8",
        "/99/0/0", "/%2e%2e/secret.png", "/3/2/5%00.png",
    ],
)  # fmt: skip
def test_refuses_paths_that_are_not_tiles(xyz: Path, path: str) -> None:
    assert parse_tile_path(path) is None
    with TileServer(open_source(xyz)) as server:
        status, mime, body = _get(server, path)
        assert status == 404 and mime.startswith("text/plain")
        assert b"not for the browser" not in body and b"<a href" not in body


def test_key_required_when_set(xyz: Path) -> None:
    with TileServer(open_source(xyz), key="k3y/+") as server:
        url = server.url("127.0.0.1")
        assert url == f"http://127.0.0.1:{server.port}/{{z}}/{{x}}/{{y}}?key=k3y/%2B"
        assert _get(server, "/3/2/5")[0] == 403
        assert _get(server, "/3/2/5?key=wrong")[0] == 403
        assert _get(server, "/3/2/5?key=k3y")[0] == 403
        assert _get(server, "/3/2/5?key=k3y/%2B")[0] == 200
        assert _get(server, "/3/2/6?key=k3y/%2B")[0] == 404
    with TileServer(open_source(xyz)) as server:
        assert "key=" not in server.url("127.0.0.1")
        assert _get(server, "/3/2/5")[0] == 200


def test_serves_on_ipv6_loopback(xyz: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = TileServer(open_source(xyz), "::1")
    except FieldtoolError as exc:  # IPv6 compiled in but switched off
        pytest.skip(str(exc))
    with server:
        assert server.url("::1").startswith(f"http://[::1]:{server.port}/")
        conn = http.client.HTTPConnection("::1", server.port, timeout=30)
        conn.request("GET", "/3/2/5")
        assert conn.getresponse().status == 200
        conn.close()


def test_open_source_refuses_other_inputs(tmp_path: Path) -> None:
    (tmp_path / "map.pmtiles").write_bytes(b"PMTiles\x03")
    with pytest.raises(FieldtoolError, match="pmtiles convert"):
        open_source(tmp_path / "map.pmtiles")
    with pytest.raises(FieldtoolError, match="no such file"):
        open_source(tmp_path / "missing.mbtiles")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FieldtoolError, match="no \\{z\\} folders"):
        open_source(tmp_path / "empty")
    (tmp_path / "bad.mbtiles").write_bytes(b"not sqlite at all, just text" * 10)
    with pytest.raises(FieldtoolError, match="not an MBTiles file"):
        open_source(tmp_path / "bad.mbtiles")


def test_browser_host() -> None:
    assert browser_host("fieldpc.local:8501", "0.0.0.0") == "fieldpc.local"
    assert browser_host("[::1]:8501", "127.0.0.1") == "::1"
    assert browser_host("192.168.1.5", "0.0.0.0") == "192.168.1.5"
    assert browser_host(None, "127.0.0.1") == "127.0.0.1"
    assert browser_host(None, "0.0.0.0") == "127.0.0.1"
    assert browser_host('evil"><script>:80', "127.0.0.1") == "127.0.0.1"


# The deck -------------------------------------------------------------------------------
VIEW_BOUNDS = (-83.40, 33.95, -83.39, 33.96)  # a site about 1 km across


def _deck_json(settings: DashboardConfig, local_url: str | None = None, source=None) -> str:
    view = view_of(VIEW_BOUNDS, site=True)
    tiles, credit = basemap_tiles(settings, view, local_url, source)
    empty = pd.DataFrame(columns=["hex", "sightings", "species", "top"])
    deck = map_deck(empty, None, None, view, colour=lambda s: (1, 2, 3), label=str, tiles=tiles)
    return deck.to_json() + "\n" + credit


def _tile_layers(spec: str) -> list[dict]:
    deck = json.loads(spec.split("\n")[0])
    return [layer for layer in deck["layers"] if layer["@@type"] == "BitmapLayer"]


def test_tile_bounds() -> None:
    west, south, east, north = tile_bounds(0, 0, 0)
    assert (west, east) == (-180.0, 180.0) and north == pytest.approx(85.0511, abs=1e-4)
    assert south == pytest.approx(-north)
    assert tile_bounds(1, 1, 0)[:2] == (0.0, 0.0)  # north-east quarter


def test_deck_default_has_no_tiles_and_no_url() -> None:
    spec = _deck_json(DashboardConfig())
    assert _tile_layers(spec) == []
    assert "http" not in spec and "//" not in spec
    assert spec.endswith("Basemap: Natural Earth.")


def test_deck_local_tiles(xyz: Path, mbtiles: Path) -> None:
    url = "http://127.0.0.1:40111/{z}/{x}/{y}?key=abc"
    spec = _deck_json(DashboardConfig(tiles=xyz), url, open_source(xyz))
    layers = _tile_layers(spec)
    images = [layer["image"] for layer in layers]
    assert all(re.fullmatch(r"http://127\.0\.0\.1:40111/\d+/\d+/\d+\?key=abc", i) for i in images)
    levels = {int(i.split("/")[3]) for i in images}
    assert levels <= {3, 4, 5} and 5 in levels  # the folder's zooms 3-5, overzoomed at 5
    assert len(layers) < 100
    # The finest level covers the site.
    (x0, y0, x1, y1) = VIEW_BOUNDS
    finest = [layer["bounds"] for layer in layers if layer["image"].split("/")[3] == "5"]
    assert any(w <= x0 and x1 <= e and s <= y0 and y1 <= n for w, s, e, n in finest)
    ids = [item["id"] for item in json.loads(spec.split("\n")[0])["layers"]]
    assert ids.index("countries") < min(ids.index(layer["id"]) for layer in layers)
    assert "openstreetmap" not in spec and "https" not in spec
    spec = _deck_json(DashboardConfig(tiles=mbtiles), url, open_source(mbtiles))
    assert {int(layer["image"].split("/")[3]) for layer in _tile_layers(spec)} <= {4, 5, 6}
    assert "© Survey team" in spec.split("\n")[1]


def test_deck_online_basemap_only_when_set(xyz: Path) -> None:
    local = _deck_json(DashboardConfig(tiles=xyz), "http://h:1/{z}/{x}/{y}", open_source(xyz))
    assert "openstreetmap" not in local
    settings = DashboardConfig(online_basemap=OSM, tiles_attribution="© OpenStreetMap")
    spec = _deck_json(settings)
    layers = _tile_layers(spec)
    assert layers and all(
        re.fullmatch(r"https://tile\.openstreetmap\.org/\d+/\d+/\d+\.png", layer["image"])
        for layer in layers
    )
    assert all(layer["id"].startswith("online-tiles-") for layer in layers)
    assert "tile.openstreetmap.org (© OpenStreetMap)" in spec.split("\n")[1]
    with pytest.raises(ValueError):
        DashboardConfig(online_basemap="file:///etc/{z}/{x}/{y}")


def test_app_serves_configured_tiles(
    tmp_path: Path, mbtiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The map page starts the tile server and puts its URL in the deck it sends."""
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.test_pages import APP, build_db

    (tmp_path / "data").mkdir()
    db = build_db(tmp_path / "data")
    config = tmp_path / "fieldtool.toml"
    config.write_text(f'[dashboard]\ndb = "{db}"\ntiles = "{mbtiles}"\n', encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py", "--config", str(config)])
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception and not at.error
    spec = at.get("deck_gl_json_chart")[0].proto.json
    images = [layer["image"] for layer in _tile_layers(spec)]
    assert images
    host, port_text = images[0].removeprefix("http://").split("/")[0].split(":")
    assert host in ("127.0.0.1", "localhost")
    conn = http.client.HTTPConnection("127.0.0.1", int(port_text), timeout=30)
    conn.request("GET", "/4/3/5")  # the server the deck names serves the file's tile
    assert conn.getresponse().status == 200
    conn.close()
    assert any("Site map" in c.value for c in at.caption)
