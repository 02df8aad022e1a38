"""``fieldtool <command> --help``: each option with a default says it; none says "None"."""

from __future__ import annotations

import argparse

import pytest

from fieldtool.cli import build_parser, main
from fieldtool.config import Config


def _commands(parser: argparse.ArgumentParser | None = None) -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by name, sub-commands too (``learn export``)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found[name if parser is None else f"{parser.prog} {name}"] = child
                found.update(_commands(child))
    return found


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help lines of one option, whitespace joined."""
    formatter = parser._get_formatter()
    formatter.add_argument(action)
    return " ".join(formatter.format_help().split())


def _shown_default(action: argparse.Action) -> bool:
    return bool(action.option_strings) and action.default not in (None, False, [],
                                                                   argparse.SUPPRESS)  # fmt: skip


def test_every_option_with_a_default_shows_it_and_none_shows_none():
    shown = 0
    for name, parser in _commands().items():
        assert "(default: None)" not in " ".join(parser.format_help().split()), name
        for action in parser._actions:
            if not _shown_default(action) or action.help is argparse.SUPPRESS:
                continue
            said = "default" in (action.help or "").lower()  # in its own words: not twice
            text = _help_of(parser, action)
            assert said or f"(default: {action.default})" in text, (name, action.option_strings)
            assert text.count("default") == 1, (name, action.option_strings)
            shown += not said
    assert shown >= 20  # --db, --max-rows, --time-limit, --decode-cpus ... of many commands


@pytest.mark.parametrize("command", ["run", "batch", "demo"])
def test_config_flags_show_the_config_default(command):
    parser = _commands()[command]
    helps = {opt: _help_of(parser, a) for a in parser._actions for opt in a.option_strings}
    defaults = Config()
    assert f"(default: {defaults.source.sample_fps})" in helps["--sample-fps"]
    assert f"(default: {defaults.source.decoder})" in helps["--decoder"]
    assert f"(default: {defaults.store.db})" in helps["--db"]
    for no_default in ("--start-time", "--tz", "--lat", "--track", "--gallery"):
        assert "(default:" not in helps[no_default].replace("default: see", "")  # none: not said
    assert "(default: false)" not in helps["--compile"]  # a switch is off unless given


def test_sql_help_shows_its_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["sql", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: sightings.duckdb)" in text
    assert "(default: 200)" in text and "(default: 300.0)" in text


def test_a_shortened_flag_is_no_other_flag():
    """argparse takes a prefix of a flag as the flag: ``--gps FILE`` (for ``--gpx``) was
    ``--gpsd FILE``, a live gpsd at a GPX file's name. Every flag is spelt out."""
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["run", "clip.mp4", "--gps", "walk.gpx"])
    assert raised.value.code == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["review", "list", "--unrev"])
