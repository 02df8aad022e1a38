"""Validating a Camtrap DP package offline with ``frictionless`` (the ``dev`` extra),
against the standard's own profile and table schemas, as the standard's test suite does:
a copy of the standard's folder (``camtrap-dp-profile.json`` and the three
``*-table-schema.json``) is served over HTTP on 127.0.0.1, and the package's profile and
schema URLs are pointed there.

The profile refers to two schemas outside the standard: the generic Data Package schema
(specs.frictionlessdata.io) and GeoJSON (json.schemastore.org). Offline they are served
beside it: the Data Package part as frictionless's own Data Package profile (which
frictionless applies to every package anyway) and GeoJSON as the schema frictionless
ships. Everything Camtrap DP adds is checked by the standard's unchanged files.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fieldtool.camtrap.read import DESCRIPTOR
from fieldtool.camtrap.standard import BASE_URL, RESOURCES, VERSION
from fieldtool.types import FieldtoolError

DATA_PACKAGE_REF = "https://specs.frictionlessdata.io/schemas/data-package.json"
GEOJSON_REF = "http://json.schemastore.org/geojson.json"
_PROFILE = "camtrap-dp-profile.json"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # no request lines on stderr
        pass


def _frictionless() -> Any:
    try:
        import frictionless
    except ImportError:
        raise FieldtoolError(
            "validating Camtrap DP needs frictionless (pip install 'fieldtool[dev]')"
        ) from None
    return frictionless


@contextlib.contextmanager
def serve_standard(standard: Path | str) -> Iterator[str]:
    """Serve a copy of the standard's folder on 127.0.0.1 (a thread, stopped on exit);
    yields the base URL that stands for ``https://raw.githubusercontent.com/tdwg/camtrap-dp``
    (files under ``<base>/<VERSION>/``)."""
    frictionless = _frictionless()
    standard = Path(standard)
    missing = [f for f in [_PROFILE, *(f"{r}-table-schema.json" for r in RESOURCES)]
               if not (standard / f).is_file()]  # fmt: skip
    if missing:
        raise FieldtoolError(f"{standard}: not the Camtrap DP standard's folder (lacks "
                             f"{', '.join(missing)})")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="camtrap-dp-") as tmp:
        root = Path(tmp)
        handler = functools.partial(_Quiet, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        (root / VERSION).mkdir()
        (root / "ext").mkdir()
        for name in RESOURCES:
            shutil.copy(standard / f"{name}-table-schema.json", root / VERSION)
        profile = (standard / _PROFILE).read_text(encoding="utf-8")
        profile = profile.replace(DATA_PACKAGE_REF, f"{base}/ext/data-package.json")
        profile = profile.replace(GEOJSON_REF, f"{base}/ext/geojson.json")
        (root / VERSION / _PROFILE).write_text(profile, encoding="utf-8")
        (root / "ext" / "data-package.json").write_text(
            json.dumps(frictionless.Package.metadata_profile), encoding="utf-8"
        )
        assets = Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json"
        shutil.copy(assets, root / "ext" / "geojson.json")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield base
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def validate_package(package: Path | str, base_url: str) -> list[str]:
    """Errors of the package (its folder or ``datapackage.json``) validated with
    frictionless, its standard URLs pointed at ``base_url`` (see :func:`serve_standard`);
    an empty list when it is valid. One line per error: where, and what is wrong."""
    frictionless = _frictionless()
    path = Path(package)
    path = path / DESCRIPTOR if path.is_dir() else path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None
    descriptor = json.loads(text.replace(BASE_URL, base_url.rstrip("/")))
    try:
        pkg = frictionless.Package(descriptor, basepath=str(path.parent))
        report = pkg.validate()
    except frictionless.FrictionlessException as exc:
        return [f"{path}: {error.message}" for error in (exc.reasons or [exc.error])]
    lines = [f"{path}: {error.message}" for error in report.errors]
    for task in report.tasks:
        for error in task.errors:
            lines.append(f"{path.parent / task.place}: {error.message}")
    return lines
