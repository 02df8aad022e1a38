from __future__ import annotations

from pathlib import Path

import pytest

from fieldtool.config import Config, load_config, parse_override
from fieldtool.types import FieldtoolError


def test_defaults_are_valid():
    cfg = load_config()
    assert isinstance(cfg, Config) and cfg.smoothing.exit <= cfg.smoothing.enter


def test_toml_is_read_and_overrides_win(tmp_path):
    path = tmp_path / "session.toml"
    path.write_text(
        '[model]\ntiles = 2\n[smoothing]\nenter = 0.7\n[prior]\nranges = ["a.geojson"]\n'
    )
    cfg = load_config(path, {"model.tiles": 3, "store.db": "x.duckdb"})
    assert cfg.model.tiles == 3 and cfg.smoothing.enter == 0.7
    # the file's relative paths are its folder's; a flag's stays as typed
    assert cfg.prior.ranges == [tmp_path / "a.geojson"] and str(cfg.store.db) == "x.duckdb"


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[model]\ntilez = 2\n", "model.tilez"),
        ("[smoothing]\nenter = 0.2\nexit = 0.5\n", "exit"),
        ("[position]\nlat = 44.0\n", "both lat and lon"),
        ("[position]\nlat = 95.0\nlon = 0.0\n", "position.lat"),
        ("[nonsense]\na = 1\n", "nonsense"),
        ("[model\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_error_naming_file_and_key(tmp_path, toml, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(FieldtoolError) as err:
        load_config(path)
    assert str(path) in str(err.value) and fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(FieldtoolError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("smoothing.enter=0.6", ("smoothing.enter", 0.6)), ("model.device=cpu", ("model.device", "cpu")),
     ("store.snapshots=false", ("store.snapshots", False))],
)  # fmt: skip
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    "flag, value",
    [("--sample-fps", "inf"), ("--time-offset", "nan"), ("--prior-weight", "inf"),
     ("--set", "store.flush_interval_s=inf"), ("--set", "smoothing.tau_s=nan")],
)  # fmt: skip
def test_non_finite_numbers_are_one_line_errors(tmp_path, capsys, flag, value):
    """inf and NaN used to pass the config: a ZeroDivisionError, 0 positions, NaN scores."""
    from fieldtool.cli import main

    code = main(["run", str(tmp_path / "missing.mp4"), flag, value, "--db",
                 str(tmp_path / "s.duckdb")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("fieldtool: error: command line: ") and "finite" in err[0]


def test_a_compile_mode_without_compile_is_refused():
    from fieldtool.config import load_config
    from fieldtool.types import FieldtoolError

    with pytest.raises((FieldtoolError, ValueError), match="compile_mode max-autotune needs compile"):
        load_config(None, {"model.compile_mode": "max-autotune"})
    assert load_config(None, {"model.compile_mode": "max-autotune", "model.compile": True})


def test_relative_paths_in_a_config_file_are_the_files_folders(tmp_path, monkeypatch):
    # a field.toml beside its GPX and ranges works from any working folder; flags given
    # on the command line stay relative to where they are typed
    folder = tmp_path / "survey"
    folder.mkdir()
    (folder / "field.toml").write_text(
        '[position]\ntrack = "walk.gpx"\n[prior]\nranges = ["ranges/trees.gpkg", "/abs/r.gpkg"]\n'
        '[store]\ndb = "out/s.duckdb"\n[dashboard]\ntiles = "~/tiles"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_config(folder / "field.toml", {"model.path": "models/mine"})
    assert config.position.track == folder / "walk.gpx"
    assert config.prior.ranges == [folder / "ranges" / "trees.gpkg", Path("/abs/r.gpkg")]
    assert config.store.db == folder / "out" / "s.duckdb"
    assert config.dashboard.tiles == Path("~/tiles").expanduser()
    assert config.model.path == Path("models/mine")  # a flag: as typed
    again = load_config(Path("survey/field.toml"))  # a relative config path too
    assert again.position.track == (folder / "walk.gpx")
    assert load_config(None, {"position.track": "walk.gpx"}).position.track == Path("walk.gpx")


def test_one_range_file_as_a_string_is_a_list_of_one(tmp_path):
    path = tmp_path / "field.toml"
    path.write_text('[prior]\nranges = "trees.gpkg"\n', encoding="utf-8")
    assert load_config(path).prior.ranges == [tmp_path / "trees.gpkg"]
    assert load_config(None, {"prior.ranges": "a.gpkg"}).prior.ranges == [Path("a.gpkg")]
