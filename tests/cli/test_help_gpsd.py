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


@pytest.mark.parametrize("command", ["run", "batch", "demo"])
def test_gpsd_help_says_alone_reconnects_and_gps_time(command):
    parser = _commands()[command]
    (action,) = [a for a in parser._actions if "--gpsd" in a.option_strings]
    text = _help_of(parser, action)
    assert "--gpsd alone: localhost:2947" in text
    assert "reopened if it drops" in text
    assert "not known to be synchronised" in text and "GPS time" in text and "docs/time.md" in text


def _parse_error(capsys, argv: list[str]) -> str:
    """The error line argparse ends with (after the usage), exit status 2."""
    from fieldtool.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("data/demo/walk_west.mp4", "a video file"),
        ("walk_west.MOV", "a video file"),
        ("RCNX0031.JPG", "a photo"),
        ("rtsp://cam.local/stream", "a stream URL"),
        ("card07/DCIM", "a path"),
        ("0", "a camera index"),
    ],
)
def test_a_source_after_gpsd_is_not_taken_for_its_host(capsys, value, what):
    line = _parse_error(capsys, ["run", "--gpsd", value])
    assert line == (f"fieldtool run: error: argument --gpsd: {value} looks like {what}, not a "
                    "HOST[:PORT]: put --gpsd after the source, or give --gpsd=HOST[:PORT]")  # fmt: skip


def test_an_existing_file_after_gpsd_is_not_taken_for_its_host(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "walk").write_bytes(b"")
    line = _parse_error(capsys, ["batch", "--gpsd", "walk"])
    assert "argument --gpsd: walk looks like a file, not a HOST[:PORT]" in line


def test_gpsd_before_the_source_with_equals_and_hosts_of_every_form_are_taken():
    from fieldtool.cli import build_parser
    from fieldtool.cli.common import overrides

    for host in ("localhost", "pi.local:2948", "192.168.1.20", "[::1]:2947", "gps-box"):
        args = build_parser().parse_args(["run", f"--gpsd={host}", "clip.mp4"])
        assert (args.source, overrides(args)["position.gpsd"]) == ("clip.mp4", host)


def test_a_missing_source_is_named_once(capsys):
    line = _parse_error(capsys, ["run", "--gpsd"])
    assert line == "fieldtool run: error: the following arguments are required: source"
