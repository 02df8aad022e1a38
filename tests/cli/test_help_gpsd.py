"""``--gpsd``'s optional value is shown as the README and docs write it: ``HOST[:PORT]``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_help_defaults import _commands, _help_of

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("command", ["run", "batch", "demo"])
def test_gpsd_help_names_host_and_port_as_the_readme_does(command):
    parser = _commands()[command]
    (action,) = [a for a in parser._actions if "--gpsd" in a.option_strings]
    assert _help_of(parser, action).startswith("--gpsd [HOST[:PORT]] ")
    usage = " ".join(parser.format_usage().split())  # argparse wraps a long usage: it must hold
    assert "[--gpsd [HOST[:PORT]]]" in usage
    assert "`--gpsd [HOST[:PORT]]`" in README.read_text(encoding="utf-8")


def test_gpsd_alone_still_means_the_local_daemon():
    from fieldtool.cli import build_parser
    from fieldtool.cli.common import overrides

    args = build_parser().parse_args(["run", "clip.mp4", "--gpsd"])
    assert overrides(args)["position.gpsd"] == "localhost:2947"
    args = build_parser().parse_args(["run", "clip.mp4", "--gpsd", "pi.local:2948"])
    assert overrides(args)["position.gpsd"] == "pi.local:2948"
