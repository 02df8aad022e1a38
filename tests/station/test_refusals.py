"""A station refused at start-up writes nothing (not even an empty database file), and a
bad station file is one line naming the file, the key (a source by its name) and, for a
key in the wrong table, where it belongs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.station import load_station_config
from fieldtool.types import FieldtoolError

from ..conftest import write_video
from .test_restart import colour_model  # noqa: F401  (a fixture)


def _station(tmp_path: Path, sources: str, extra: str = "") -> tuple[Path, Path]:
    db = tmp_path / "s.duckdb"
    path = tmp_path / "st.toml"
    path.write_text(f'[store]\ndb = "{db.as_posix()}"\n{extra}\n{sources}', encoding="utf-8")
    return path, db


def _refused(path: Path, capsys) -> str:
    assert main(["station", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if "error" in line] == err[-1:], err  # one line, the last
    return err[-1]


@pytest.mark.usefixtures("colour_model")
def test_a_missing_file_source_creates_no_database(tmp_path, capsys):
    video = write_video(tmp_path / "a.avi", [(0, 1.0)])
    path, db = _station(tmp_path, f'[[sources]]\nname = "a"\nuri = "{video.as_posix()}"\n'
                        f'[[sources]]\nname = "b"\nuri = "{tmp_path / "nope.mp4"}"\n')  # fmt: skip
    line = _refused(path, capsys)
    assert line.startswith(f"fieldtool: error: {path}: source b: ") and "nope.mp4" in line
    assert not db.exists()
    assert not list(tmp_path.glob("s_*"))  # no status file, no snapshot folder either


@pytest.mark.usefixtures("colour_model")
def test_an_unset_token_variable_is_the_files_error_and_creates_no_database(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("FIELDTOOL_TEST_UNSET_TOKEN", raising=False)
    video = write_video(tmp_path / "a.avi", [(0, 1.0)])
    hook = ('[[notify.webhooks]]\nurl = "http://127.0.0.1:9/h"\n'
            'token_env = "FIELDTOOL_TEST_UNSET_TOKEN"\n')  # fmt: skip
    path, db = _station(tmp_path, f'[[sources]]\nname = "a"\nuri = "{video.as_posix()}"\n', hook)
    line = _refused(path, capsys)
    assert line == (f"fieldtool: error: {path}: notify.webhooks.0.token_env: environment "
                    "variable 'FIELDTOOL_TEST_UNSET_TOKEN' is not set")  # fmt: skip
    assert not db.exists()
    mqtt = '[notify.mqtt]\nport = 9\npassword_env = "FIELDTOOL_TEST_UNSET_TOKEN"\n'
    path, db = _station(tmp_path, f'[[sources]]\nname = "a"\nuri = "{video.as_posix()}"\n', mqtt)
    assert _refused(path, capsys) == (
        f"fieldtool: error: {path}: notify.mqtt.password_env: environment variable "
        "'FIELDTOOL_TEST_UNSET_TOKEN' is not set")  # fmt: skip
    assert not db.exists()


@pytest.mark.usefixtures("colour_model")
def test_a_bad_webhook_url_is_the_files_error_and_creates_no_database(tmp_path, capsys):
    video = write_video(tmp_path / "a.avi", [(0, 1.0)])
    path, db = _station(tmp_path, f'[[sources]]\nname = "a"\nuri = "{video.as_posix()}"\n',
                        '[[notify.webhooks]]\nurl = "ftp://x/y"\n')  # fmt: skip
    assert _refused(path, capsys) == (f"fieldtool: error: {path}: notify.webhooks.0.url: "
                                      "'ftp://x/y' is not an http(s) URL")  # fmt: skip
    assert not db.exists()


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "st.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FieldtoolError) as caught:
        load_station_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_a_key_in_the_wrong_table_says_where_it_belongs(tmp_path):
    entry = '[[sources]]\nname = "a"\nuri = "a.mp4"\n'
    assert _error(tmp_path, entry + 'tz = "Europe/Madrid"\n') == (
        "sources.a.tz: unknown key (it belongs under [sources.source])"
    )
    assert _error(tmp_path, entry + "[sources.position]\nlat = 1\nlon = 2\nretry = 3\n") == (
        "sources.a.position.retry: unknown key (it belongs under [sources.source])"
    )
    assert _error(tmp_path, entry + "max_batch = 3\n") == (
        "sources.a.max_batch: unknown key (it belongs under [worker])"
    )
    assert _error(tmp_path, "[worker]\nsample_fps = 3\n" + entry) == (
        "worker.sample_fps: unknown key (it belongs under [source])"
    )
    assert _error(tmp_path, entry + "[sources.smoothing]\nenterr = 0.7\n") == (
        "sources.a.smoothing.enterr: unknown key (did you mean 'enter'?)"
    )  # a typo: as before


def test_errors_carry_no_pydantic_prefix_and_name_sources_by_name(tmp_path):
    two = '[[sources]]\nname = "a"\nuri = "a.mp4"\n[[sources]]\nname = "a"\nuri = "b.mp4"\n'
    assert _error(tmp_path, two) == "source names must differ: a more than once"
    lat = '[[sources]]\nname = "a"\nuri = "a.mp4"\n[sources.position]\nlat = 1\n'
    assert _error(tmp_path, lat) == "sources.a.position: give both lat and lon, or neither"
    slash = '[[sources]]\nname = "a/b"\nuri = "a.mp4"\n'
    assert _error(tmp_path, slash) == (
        "sources.a/b.name: use letters, digits, '.', '_' or '-' only"
    )
    bad = '[[sources]]\nname = "cam"\nuri = "a.mp4"\nsource = {sample_fps = -1}\n'
    assert _error(tmp_path, bad) == (
        "sources.cam.source.sample_fps: Input should be greater than 0"
    )


@pytest.mark.usefixtures("colour_model")
def test_a_refused_station_says_only_the_refusal(tmp_path, capsys):
    """Defect: a station refused because its third source failed to open printed the lines
    of the two sources it had opened first (their time notes and warnings), as if they had
    started. Only the refusal is said, and nothing is written: no database, no status file,
    no registry entry."""
    videos = [write_video(tmp_path / f"{n}.avi", [(0, 1.0)]) for n in ("a", "b")]
    sources = "".join(f'[[sources]]\nname = "{v.stem}"\nuri = "{v.as_posix()}"\n' for v in videos)
    sources += f'[[sources]]\nname = "c"\nuri = "{(tmp_path / "nope.mp4").as_posix()}"\n'
    path, db = _station(tmp_path, sources)
    assert main(["station", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"fieldtool: error: {path}: source c: {(tmp_path / 'nope.mp4').as_posix()}: video file "
        "not found"
    ]
    assert not db.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.avi", "b.avi", "st.toml"]
