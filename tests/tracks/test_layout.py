"""fieldtool.tracks stays a leaf package: no import circles, no hidden imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fieldtool.tracks

PACKAGE = Path(fieldtool.tracks.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
FORBIDDEN = ("fieldtool.pipeline", "fieldtool.store", "fieldtool.priors", "fieldtool.dashboard")
OPTIONAL_HEAVY = ("PIL", "pillow_heif", "av")  # may be imported inside a function (optional)


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, str]]:
    out: list[tuple[ast.stmt, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append((node, node.module or ""))
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set()  # module level, also under a top-level ``if TYPE_CHECKING:``
    for stmt in tree.body:
        top.add(id(stmt))
        if isinstance(stmt, ast.If):
            top.update(id(s) for s in stmt.body)
    for node, name in _imports(tree):
        assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
        if path.name != "__init__.py":
            # submodules import each other, never the package or the dispatch module
            assert name != "fieldtool.tracks", f"{path.name} imports the package"
            if path.name != "read.py":
                assert name != "fieldtool.tracks.read", f"{path.name} imports read"
        if id(node) not in top:
            assert name.split(".")[0] in OPTIONAL_HEAVY, f"{path.name}: import {name} in a function"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_size(path: Path):
    assert len(path.read_text(encoding="utf-8").splitlines()) < 600
