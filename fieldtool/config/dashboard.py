"""The ``dashboard`` section: what ``fieldtool dashboard`` serves, to whom, and its limits."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from fieldtool.config.base import Section as _Section
from fieldtool.types import FieldtoolError

Role = Literal["reviewer", "viewer"]


class DashboardConfig(_Section):
    """The dashboard server: its database, who may use it, the map and the SQL page.

    Served on 127.0.0.1 unless `address` says otherwise; any other address needs the
    shared secret in the environment variable `token_env` (a reviewer's) and may have a
    second one in `viewer_token_env` (a viewer, who cannot review).
    """

    db: Path = Field(
        Path("sightings.duckdb"), description="the sightings database the dashboard shows; "
        "the browser cannot open another file (see `folder`); `fieldtool dashboard --db`",
    )  # fmt: skip
    folder: Path | None = Field(
        None, description="a folder whose .duckdb files the browser may switch between; "
        "default: none, only `db`",
    )  # fmt: skip
    address: str = Field(
        "127.0.0.1", min_length=1, description="address to serve on; anything but "
        "127.0.0.1/localhost/::1 needs the token in `token_env`; `--address`",
    )  # fmt: skip
    port: int = Field(8501, ge=1, le=65535, description="TCP port; `--port`")
    token_env: str = Field(
        "FIELDTOOL_DASHBOARD_TOKEN", min_length=1, description="environment variable "
        "holding the reviewers' shared secret (asked for in the browser when set)",
    )  # fmt: skip
    viewer_token_env: str = Field(
        "FIELDTOOL_DASHBOARD_VIEWER_TOKEN", min_length=1, description="environment "
        "variable holding the viewers' shared secret: they see every page but cannot review",
    )  # fmt: skip
    refresh_s: float = Field(
        5.0, ge=1, le=3600, description="seconds between refreshes of the map and live "
        "pages while a session is running (paused otherwise)",
    )  # fmt: skip
    map_points: int = Field(
        5000, ge=0, le=100_000, description="when at most this many sightings match, the map "
        "opens zoomed in to them (a site); with `map_tiles` false also the most it draws one "
        "by one, more are H3 cells with counts (with tiles, `map_tile_points` decides per tile)",
    )  # fmt: skip
    map_tiles: bool = Field(
        True, description="draw the map's sightings and tracks (not the basemap: see `tiles`) "
        "as tiles the browser fetches at the zoom it is at, from the dashboard itself on its "
        "own port (`fieldtool dashboard`; run by `streamlit run` on another script, from a "
        "tile server on a second port of the same address, said in the log and under the "
        "map); false: drawn with the page, once for the opening view",
    )  # fmt: skip
    map_tile_points: int = Field(
        1500, ge=0, le=20_000, description="a map tile (512 px) draws single sightings when at "
        "most this many fall in it; more are drawn as H3 cells with counts, or at site zoom "
        "as dots of 8-px squares with counts",
    )  # fmt: skip
    sql_memory_limit: str = Field(
        "1GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$",
        description="DuckDB memory limit of each SQL page query",
    )  # fmt: skip
    sql_threads: int = Field(2, ge=1, le=64, description="DuckDB threads of each SQL query")
    sql_slots: int = Field(
        2, ge=1, le=16, description="SQL page queries run at once; more wait their turn"
    )
    sql_time_limit_s: float = Field(20.0, gt=0, le=3600, description="SQL query time limit")
    sql_max_rows: int = Field(10_000, ge=1, le=1_000_000, description="rows an SQL result keeps")
    tiles: Path | None = Field(
        None, description="local basemap tiles the dashboard serves itself, drawn over the "
        "bundled Natural Earth: an XYZ folder ({z}/{x}/{y}.png|jpg|webp) or an .mbtiles "
        "file (PMTiles are not read: convert them with `pmtiles convert`); default: none",
    )  # fmt: skip
    online_basemap: str | None = Field(
        None, pattern=r"^https?://\S*\{z\}\S*\{x\}\S*\{y\}\S*$",
        description="XYZ tile URL template of an online basemap, e.g. "
        "`https://tile.openstreetmap.org/{z}/{x}/{y}.png`; the browser fetches from it only "
        "when set (default: none, nothing online)",
    )  # fmt: skip
    tiles_attribution: str | None = Field(
        None, max_length=300, description="credit line shown under the map for `tiles` or "
        "`online_basemap` (default: an MBTiles file's own attribution, else none)",
    )  # fmt: skip
    learn_model: Path | None = Field(
        None, description="model folder the review page's \"Learn a new model\" starts from "
        "(`fieldtool learn --model`); default: none, no such control",
    )  # fmt: skip
    learn_output: Path | None = Field(
        None, description="folder the review page writes each learned model into, as a new "
        "sub-folder named by time beside its log; needs `learn_model`",
    )  # fmt: skip


def is_loopback(address: str) -> bool:
    """Whether ``address`` only accepts connections from this machine."""
    text = address.strip().strip("[]")
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def tokens(settings: DashboardConfig, environ: Mapping[str, str]) -> dict[Role, str]:
    """The shared secrets set in the environment, by role (empty ones ignored)."""
    found: dict[Role, str] = {}
    for role, name in (("reviewer", settings.token_env), ("viewer", settings.viewer_token_env)):
        value = environ.get(name, "").strip()
        if value:
            found[role] = value  # type: ignore[index]  # role is one of Role's literals
    return found


def check_exposure(settings: DashboardConfig, environ: Mapping[str, str]) -> None:
    """Refuse to serve beyond this machine without a reviewers' secret."""
    if not is_loopback(settings.address) and "reviewer" not in tokens(settings, environ):
        raise FieldtoolError(
            f"dashboard.address {settings.address}: serving beyond this machine needs a shared "
            f"secret in ${settings.token_env} (and optionally ${settings.viewer_token_env} for "
            "viewers who cannot review)"
        )
