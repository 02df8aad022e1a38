"""The package as a whole: layout rules, public API, generated docs, and a real wheel."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fieldtool
from fieldtool.config import Config, config_fields, reference_markdown

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "fieldtool"
MAX_LINES = 600
LONGER_ALLOWED = {"fieldtool/demo/render.py"}  # the demo world's renderer: one drawing
# Layers, lowest first: a module imports only from its own layer or lower ones, so the
# folder listing reads as the pipeline and nothing reaches back up. Longest prefix wins.
LAYERS = {
    "fieldtool.types": 0, "fieldtool.lazy": 0, "fieldtool.geo": 0, "fieldtool.resources": 0, "fieldtool.colour": 0,
    "fieldtool.store.process": 0,
    "fieldtool.inputs": 1, "fieldtool.timebase": 1, "fieldtool.names": 1, "fieldtool.ranks": 1,
    "fieldtool.import_hints": 1,
    "fieldtool.config": 2,
    "fieldtool.tracks": 3, "fieldtool.priors": 3, "fieldtool.store": 3, "fieldtool.sources": 3,
    "fieldtool.mediaclock": 2, "fieldtool.wallclock": 2, "fieldtool.keyframes": 2,
    "fieldtool.smoothing": 3, "fieldtool.model": 3, "fieldtool.batches": 3,
    "fieldtool.preprocessing": 3,
    "fieldtool.preview": 3,
    "fieldtool.classify": 4, "fieldtool.gallery": 4, "fieldtool.importers": 4,
    "fieldtool.import_card": 4,
    "fieldtool.placement": 4, "fieldtool.export_rows": 4, "fieldtool.export": 4, "fieldtool.export_dwc": 4,
    "fieldtool.sqlbox": 4, "fieldtool.atlas": 4, "fieldtool.evaluate": 4,
    "fieldtool.learn": 4,
    "fieldtool.photos": 4, "fieldtool.snapshots": 4,
    "fieldtool.camtrap": 4,
    "fieldtool.notify": 4,
    "fieldtool.decode": 4,
    "fieldtool.pipeline": 5, "fieldtool.demo": 5,
    "fieldtool.station": 6,
    "fieldtool.dashboard": 6, "fieldtool.scale": 6,
    "fieldtool.cli": 7, "fieldtool.__main__": 7, "fieldtool": 8,
    "fieldtool.config.__main__": 7,  # the old docs/config.md command: the station's reference
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> fieldtool modules it imports at module level or in functions (not under
    TYPE_CHECKING)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []  # imports only for type checkers do not run
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles() -> None:
    graph = _import_graph()
    assert _cycles(graph) == []
    # A package's own __init__ is the only way in from outside; nothing imports the
    # package root back (it only lists the public API, lazily).
    assert not [m for m, deps in graph.items() if "fieldtool" in deps and m != "fieldtool"]


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def test_no_import_runs_back_up() -> None:
    graph = _import_graph()
    upward = [
        (m, d) for m, deps in graph.items() for d in deps
        if _layer(d) > _layer(m) and m != "fieldtool"  # the package root lists the API
    ]  # fmt: skip
    assert upward == []


def test_nothing_below_the_dashboard_imports_it() -> None:
    graph = _import_graph()
    users = {
        m for m, deps in graph.items()
        if any(d == "fieldtool.dashboard" or d.startswith("fieldtool.dashboard.") for d in deps)
    }  # fmt: skip
    assert {u for u in users if not u.startswith("fieldtool.dashboard")} <= {"fieldtool.cli"}


def test_modules_stay_small() -> None:
    long = {
        p.relative_to(REPO).as_posix(): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert set(long) <= LONGER_ALLOWED, long


def test_public_api_is_listed_and_lazy() -> None:
    assert sorted(fieldtool._PUBLIC) == sorted(n for n in fieldtool.__all__ if n != "__version__")
    for name in fieldtool._PUBLIC:
        assert getattr(fieldtool, name) is not None
    code = (
        "import sys, fieldtool, fieldtool.sqlbox;"
        "heavy = {'torch', 'streamlit', 'pydeck', 'transformers'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_every_setting_is_described_and_the_reference_is_current() -> None:
    keys = [k for k, _ in config_fields()]
    assert len(keys) == sum(len(type(s).model_fields) for s in Config().__dict__.values())
    assert all(info.description for _, info in config_fields())
    assert reference_markdown() in (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    from fieldtool.station.config import reference_markdown as with_station  # the whole file

    assert (REPO / "docs" / "config.md").read_text(encoding="utf-8") == with_station()


def test_flags_come_from_the_config_fields() -> None:
    from fieldtool.cli import build_parser
    from fieldtool.cli import overrides as _overrides

    args = build_parser().parse_args(
        ["run", "v.mp4", "--sample-fps", "2", "--gpx", "w.gpx", "--ignore-location",
         "--no-snapshots", "--gpsd", "--tz", "Europe/Madrid", "--set", "model.tiles=3"]
    )  # fmt: skip
    assert _overrides(args) == {
        "source.sample_fps": 2.0, "position.track": "w.gpx", "prior.weight": 0.0,
        "store.snapshots": False, "position.gpsd": "localhost:2947",
        "source.tz": "Europe/Madrid", "model.tiles": 3,
    }  # fmt: skip


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built as a wheel and installed (no dependencies) into a folder outside
    the repository, as ``pip install .`` would lay it out."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.duckdb*", "__pycache__", "build", "*.egg-info", "snapshots"))  # fmt: skip
    dist, target = tmp / "dist", tmp / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(src)], check=True, cwd=tmp)  # fmt: skip
    wheel = next(dist.glob("fieldtool-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, cwd=tmp)  # fmt: skip
    return target


@pytest.mark.slow
def test_a_wheel_installed_outside_the_repo_runs_the_demo(
    installed_wheel: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed_wheel)}
    where = subprocess.run(
        [sys.executable, "-c", "import fieldtool; print(fieldtool.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(installed_wheel))  # not the checkout
    run = subprocess.run(
        [sys.executable, "-m", "fieldtool", "demo", "--db", "demo.duckdb"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "smoothed+prior" in run.stdout and (tmp_path / "demo.duckdb").is_file()
    said = run.stdout + run.stderr  # nothing was read from the checkout's data or models
    assert str(REPO / "data") not in said and str(REPO / "models") not in said
    assert f"{installed_wheel}/fieldtool/data/demo/walk_west.gpx" in said
