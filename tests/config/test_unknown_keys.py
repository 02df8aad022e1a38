"""A typo in a config file: one line naming the file, the key and the setting it resembles."""

from __future__ import annotations

import pytest

from fieldtool.cli import main
from fieldtool.config import load_config
from fieldtool.types import FieldtoolError


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[source]\ndecodr = "pyav"\n', "source.decodr: unknown key (did you mean 'decoder'?)"),
        ('[sourc]\nsample_fps = 2\n', "sourc: unknown section (did you mean 'source'?)"),
        ("[smoothing]\nentr = 0.6\n", "smoothing.entr: unknown key (did you mean 'enter'?)"),
        ('[dashboard]\nprot = 8502\n', "dashboard.prot: unknown key (did you mean 'port'?)"),
    ],
    ids=["key", "section", "another-section", "dashboard"],
)  # fmt: skip
def test_a_typo_names_the_file_the_key_and_the_close_setting(tmp_path, toml, expected):
    path = tmp_path / "field.toml"
    path.write_text(toml)
    with pytest.raises(FieldtoolError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message == f"{path}: {expected}"
    assert "\n" not in message and "Extra inputs" not in message


def test_a_key_like_no_setting_says_where_the_settings_are(tmp_path):
    path = tmp_path / "field.toml"
    path.write_text("[model]\nzzzz = 1\n")
    with pytest.raises(FieldtoolError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: model.zzzz: unknown key (")
    assert "did you mean" not in message and "docs/config.md" in message


def test_other_errors_beside_a_typo_still_read_as_before(tmp_path):
    path = tmp_path / "field.toml"
    path.write_text('[source]\nsample_fps = -1\ndecodr = "pyav"\n')
    with pytest.raises(FieldtoolError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "source.sample_fps: Input should be greater than 0" in message
    assert "source.decodr: unknown key (did you mean 'decoder'?)" in message


def test_the_cli_prints_the_hint_on_one_line(tmp_path, capsys):
    path = tmp_path / "field.toml"
    path.write_text('[source]\ndecodr = "pyav"\n')
    code = main(["run", "clip.mp4", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    hint = "source.decodr: unknown key (did you mean 'decoder'?)"
    assert err == f"fieldtool: error: {path}: {hint}\n"


@pytest.mark.parametrize(("overrides", "key"), [
    ({"source.sample_fps": float("nan")}, "source.sample_fps"),
    ({"smoothing.entr": 0.5}, "smoothing.entr"),
    ({"position.lat": 91.0, "position.lon": 0.0}, "position.lat"),
])  # fmt: skip
def test_a_bad_value_from_the_command_line_is_not_blamed_on_the_file(tmp_path, overrides, key):
    """The file says sample_fps 2.0; the flag said nan: the line names the command line."""
    path = tmp_path / "o.toml"
    path.write_text("[source]\nsample_fps = 2.0\n[smoothing]\nenter = 0.6\n")
    with pytest.raises(FieldtoolError) as caught:
        load_config(path, overrides)
    message = str(caught.value)
    assert message.startswith(f"command line: {key}"), message
    assert str(path) not in message
    # and the file's own mistake still names the file, beside a good flag
    path.write_text("[source]\nsample_fps = -1.0\n")
    with pytest.raises(FieldtoolError) as caught:
        load_config(path, {"smoothing.enter": 0.6})
    assert str(caught.value).startswith(f"{path}: source.sample_fps")
