"""Who may use the dashboard, and which database files the browser may open.

The database is the server's choice (``--db`` or the ``dashboard`` config section): the
browser cannot name a path. With ``dashboard.folder`` set, it may switch between the
``.duckdb`` files directly in that folder, picked from a list.

On 127.0.0.1 the person at the machine is trusted. On any other address the server needs
a shared secret from the environment (``dashboard.token_env``, the reviewers'), and may
have a second one for viewers (``dashboard.viewer_token_env``), who see every page but
cannot review. Secrets are compared in constant time and never shown.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from pathlib import Path

from fieldtool.config.dashboard import (
    DashboardConfig,
    Role,
    check_exposure,
    is_loopback,
    tokens,
)

__all__ = [
    "DB_ENV_VAR", "Role", "check_exposure", "databases", "is_loopback", "pick_database",
    "role_for", "settings_from_args", "tokens",
]  # fmt: skip
DB_ENV_VAR = "FIELDTOOL_DB"


def role_for(given: str, secrets: Mapping[Role, str]) -> Role | None:
    """The role whose secret ``given`` is, or None (every secret compared, constant time)."""
    match: Role | None = None
    for role in ("reviewer", "viewer"):
        secret = secrets.get(role)
        if secret is not None and hmac.compare_digest(given.encode(), secret.encode()):
            match = match or role
    return match


def settings_from_args(argv: Sequence[str], environ: Mapping[str, str]) -> DashboardConfig:
    """The dashboard settings of the server's command line: ``--config FILE`` (its
    ``dashboard`` section), then ``--db PATH``; without ``--db`` in either, $FIELDTOOL_DB."""
    from fieldtool.config import load_config

    config_path: Path | None = None
    db: str | None = None
    for i, arg in enumerate(argv):
        for name in ("--config", "--db"):
            value = None
            if arg == name and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(f"{name}="):
                value = arg[len(name) + 1 :]
            if value:
                if name == "--config":
                    config_path = Path(value).expanduser()
                else:
                    db = value
    settings = load_config(config_path).dashboard
    if db is None and "db" not in settings.model_fields_set and environ.get(DB_ENV_VAR, ""):
        db = environ[DB_ENV_VAR].strip()
    if db:
        settings = settings.model_copy(update={"db": Path(db).expanduser()})
    return settings


def databases(settings: DashboardConfig) -> list[Path]:
    """The files the browser may open: ``db`` first, then the folder's ``.duckdb`` files."""
    found = [settings.db]
    if settings.folder is not None and settings.folder.is_dir():
        found += sorted(p for p in settings.folder.glob("*.duckdb") if p.is_file())
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(str(path.resolve()), path)
    return list(unique.values())


def pick_database(settings: DashboardConfig, choice: str | None) -> Path:
    """The file named ``choice`` if the settings allow it, else the server's ``db``."""
    if choice:
        for path in databases(settings):
            if str(path) == choice:
                return path
    return settings.db
