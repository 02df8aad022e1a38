"""What the commands share: log lines, progress, the session flags from the config, one session run."""

from __future__ import annotations

import argparse
import copy
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from fieldtool.config import (
    Config,
    Flags,
    config_fields,
    default_text,
    parse_override,
)
from fieldtool.resources import shipped
from fieldtool.types import SessionStatus

DEMO_DATA = shipped("data", "demo")
DEMO_RANGES = shipped("data", "ranges", "demo_ranges.geojson")
DEMO_REGIONS = ("west", "east")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that ends each option's text with its default, ``(default: 200)``, where it has
    one: not for None (no default), a switch's False or an empty list, nor where the text
    names its default already. An option without help text gets the default alone."""

    def _format_action(self, action: argparse.Action) -> str:
        if not action.help and _default_shown(action):
            action = copy.copy(action)  # the parser's own action keeps its (empty) help
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if _default_shown(action) and "default" not in text.lower():
            text += " (default: %(default)s)"
        return text


def _default_shown(action: argparse.Action) -> bool:
    default = action.default
    if default is None or default is argparse.SUPPRESS or action.help is argparse.SUPPRESS:
        return False
    if isinstance(default, bool | list) and not default:  # a switch off, --set none
        return False
    optional = action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)  # a positional's
    return bool(action.option_strings) or optional


class HelpParser(argparse.ArgumentParser):
    """An argument parser whose help shows defaults (:class:`DefaultsHelpFormatter`) and
    that takes no prefix of a flag for the flag (argparse's ``allow_abbrev``: ``--gps``,
    a typo of ``--gpx``, was ``--gpsd``); the parsers of its sub-commands are of its class
    too (argparse's ``add_subparsers``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def log(message: str) -> None:
    print(f"fieldtool: {message}", file=sys.stderr, flush=True)


class ProgressPrinter:
    """One status line per report; rewritten in place on a terminal."""

    def __init__(self, label: str, stream: typing.TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr  # the one in force now, not the one at import
        self.tty = self.stream.isatty()

    def __call__(self, p) -> None:
        done = _span(p.t).rjust(9)
        photos = getattr(p, "frames_total", None)  # photos: each its own time, no media span
        if photos:
            done = f"photo {p.frames_read} of {photos}"
        elif p.duration_s:
            done += f" / {_span(p.duration_s)} ({100 * min(p.t / p.duration_s, 1):3.0f}%)"
        line = (
            f"{self.label}: {done}  analysed {p.frames_analysed} frames "
            f"({p.analysis_fps:.1f}/s)  sightings {p.closed_sightings} closed, {p.open_sightings} open"
        )
        end = "\r" if self.tty else "\n"
        print(line.ljust(100) if self.tty else line, end=end, file=self.stream, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=self.stream)


def _span(seconds: float) -> str:
    """Media seconds as a person reads them: ``12.5 s`` under an hour, ``1:02:03`` under a
    day, ``994 d 05:16:51`` beyond (a camera trap's photos span months)."""
    if seconds < 3600:
        return f"{seconds:.1f} s"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{days} d {hours:02d}:{minutes}" if days else f"{hours}:{minutes}"


def session_flags(parser: argparse.ArgumentParser) -> None:
    """The session's config flags, generated from the config's fields (their ``flags``
    metadata and descriptions: :func:`fieldtool.config.config_fields`)."""
    g = parser.add_argument_group("session settings (override the config file)")
    g.add_argument("--config", type=Path, help="TOML config file")
    for dotted, info in config_fields():
        flags = Flags.of(info)
        dest = f"{_CFG}{dotted}"
        if flags.names:
            kind = _argparse_kind(info, flags)
            if flags.metavar is not None:
                kind["metavar"] = flags.metavar
            if "choices" not in kind and kind.get("action") != "store_true":
                kind.setdefault("metavar", dotted.partition(".")[2].upper())
            text = f"{info.description} [{dotted}]{_config_default(info)}"
            g.add_argument(*flags.names, dest=dest, help=text, **kind)
        for option, (value, help_text) in flags.switch.items():
            g.add_argument(option, dest=dest, action="store_const", const=value, help=help_text)
    g.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="any config value, e.g. --set smoothing.enter=0.6")  # fmt: skip


_CFG = "config:"  # argparse dest prefix of flags that set a config field


def _config_default(info: FieldInfo) -> str:
    """`` (default: 5.0)`` for a config field's help: its default in the config, which the
    flag overrides (the flag's own argparse default is None: not given). Nothing for a
    field without one, an empty list or a switch's false."""
    text = default_text(info)
    if text in ("(none)", "[]", "false") or "default" in (info.description or "").lower():
        return ""  # none, or the description says it in words
    return f" (default: {text.strip(chr(34))})".replace("%", "%%")  # argparse expands %


def _argparse_kind(info: FieldInfo, flags: Flags) -> dict[str, Any]:
    """argparse keywords for a config field: choices, nargs, a numeric type, or a switch."""
    annotation = info.annotation
    args = typing.get_args(annotation)
    if annotation is bool:
        return {"action": "store_true", "default": None}
    if flags.has_const:
        return {"nargs": "?", "const": flags.const, "metavar": "VALUE",
                "type": _not_a_source(flags.names[0], flags.metavar or "VALUE")}  # fmt: skip
    if typing.get_origin(annotation) is typing.Literal:
        return {"choices": list(args)}
    if typing.get_origin(annotation) is list:
        return {"nargs": "+", "metavar": "FILE"}
    inner = [a for a in args if a is not type(None)] or [annotation]
    if inner[0] in (int, float):
        return {"type": inner[0]}
    return {}


def _not_a_source(option: str, metavar: str) -> typing.Callable[[str], str]:
    """argparse type of a flag whose value may be left out (``--gpsd`` alone: its const).
    argparse gives such a flag the next word, so a source written after it (``run --gpsd
    walk.mp4``) would be taken for its value, and the source then found missing: a word
    that cannot be the value, by :func:`source_like`, is refused, saying how to write it."""

    def value(text: str) -> str:
        if what := source_like(text):
            raise argparse.ArgumentTypeError(
                f"{text} looks like {what}, not a {metavar}: put {option} after the source, "
                f"or give {option}={metavar}"
            )
        return text

    return value


def source_like(text: str) -> str:
    """What ``text`` looks like when it names a source (a URL, a path, a video or photo file,
    an existing file, a camera index), which no HOST[:PORT] is; else ""."""
    import os

    from fieldtool.photos.files import PHOTO_SUFFIXES
    from fieldtool.scale.plan import VIDEO_SUFFIXES
    from fieldtool.tracks.exif import HEIF_SUFFIXES

    suffix = os.path.splitext(text)[1].lower()
    if "://" in text:
        return "a stream URL"
    if suffix in VIDEO_SUFFIXES:
        return "a video file"
    if suffix in PHOTO_SUFFIXES + HEIF_SUFFIXES:
        return "a photo"
    if "/" in text or os.sep in text:
        return "a path"
    if text.isdigit():
        return "a camera index"
    return "a file" if os.path.isfile(text) else ""


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted config overrides from the flags given (``--set`` last, so it wins)."""
    pairs: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if dest.startswith(_CFG) and value is not None:
            if isinstance(value, list):
                value = [str(v) for v in value]
            pairs[dest.removeprefix(_CFG)] = str(value) if isinstance(value, Path) else value
    for text in args.set:
        key, value = parse_override(text)
        pairs[key] = value
    return pairs


def run_one(config: Config, label: str, quiet: bool, replace_earlier: bool = False,
            run_held: bool = False):  # fmt: skip
    from fieldtool.pipeline import run_from_config

    printer = None if quiet else ProgressPrinter(label)
    try:
        result = run_from_config(config, log=log, progress=printer, replace_earlier=replace_earlier,
                                 run_held=run_held)  # fmt: skip
    finally:
        if printer:
            printer.done()
    s = result.session
    placed = (
        f"{s.frames_positioned} of {s.frames_analysed} positioned "
        f"({100 * s.frames_positioned / s.frames_analysed:.0f}%)"
        if s.frames_analysed
        else "none positioned"
    )
    why = f" ({s.end_reason})" if s.end_reason else ""
    log(
        f"{label}: {s.status}{why}; {s.frames_analysed} frames analysed of {s.frames_read} "
        f"read, {placed}; {len(result.sightings)} sightings (session {s.session_id})"
    )
    if result.unwritten_rows:  # never claim the file has what it has not, nor recover
        log(result.unwritten_note or f"{result.unwritten_rows} rows are not in "
            f"{config.store.db}: {result.unwritten_where}")  # fmt: skip
    else:
        log(f"all rows written to {config.store.db}")
    return result


def exit_code(status: str, unwritten_rows: int) -> int:
    """0 for a clean end with everything written; 130 interrupted; 1 otherwise (failed,
    stream lost, rows not in the file), so unattended scripts notice."""
    if status == SessionStatus.INTERRUPTED:
        return 130
    return 0 if status == SessionStatus.FINISHED and not unwritten_rows else 1
