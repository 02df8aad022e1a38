"""Camtrap DP (TDWG's Camera Trap Data Package, the standard GBIF recommends for camera-trap
data), out and in. See ``docs/camtrap.md``. By concept:

- :mod:`~fieldtool.camtrap.standard`: the version, URLs, columns and time format;
- :mod:`~fieldtool.camtrap.rows`: what a sightings file holds, read for an export;
- :mod:`~fieldtool.camtrap.write`: :func:`write_package` (``fieldtool export --format
  camtrap-dp``); :mod:`~fieldtool.camtrap.files` its file layout and copies;
  :mod:`~fieldtool.camtrap.origin` what a package run by fieldtool said, written back,
  :mod:`~fieldtool.camtrap.carry` its media fieldtool did not classify;
- :mod:`~fieldtool.camtrap.read`: :func:`read_package`, :func:`package_photos` (a
  package as ``fieldtool run`` input: one session per deployment, :func:`by_deployment`);
- :mod:`~fieldtool.camtrap.reviews`: a package's observations by people as reviews of a
  run's sightings;
- :mod:`~fieldtool.camtrap.validate`: :func:`serve_standard`, :func:`validate_package`
  (frictionless, offline).

The names below load their module on first use (PEP 562): the CLI stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldtool.lazy import lazy_exports

if TYPE_CHECKING:
    from fieldtool.camtrap.read import (
        CamtrapPackage,
        Media,
        Observation,
        PackagePhoto,
        by_deployment,
        is_package,
        package_photos,
        read_package,
        skipped_line,
        skipped_media,
    )
    from fieldtool.camtrap.validate import serve_standard, validate_package
    from fieldtool.camtrap.write import write_package

_EXPORTS: dict[str, tuple[str, ...]] = {
    "read": ("CamtrapPackage", "Media", "Observation", "PackagePhoto", "by_deployment",
             "is_package", "package_photos", "read_package", "skipped_line", "skipped_media"),
    "validate": ("serve_standard", "validate_package"),
    "write": ("write_package",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "CamtrapPackage",
    "Media",
    "Observation",
    "PackagePhoto",
    "by_deployment",
    "is_package",
    "package_photos",
    "read_package",
    "serve_standard",
    "skipped_line",
    "skipped_media",
    "validate_package",
    "write_package",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)
