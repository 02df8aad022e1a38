"""Command line: ``fieldtool run | demo | eval | sql | export | dashboard | ...``.

One module per group of commands; each has ``register(sub)`` that adds its sub-commands.
A new group adds its module to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from fieldtool.cli import batch, learn, models, place, review, session, station, store
from fieldtool.cli.common import DEMO_DATA, DEMO_RANGES, DEMO_REGIONS, HelpParser, overrides
from fieldtool.types import FieldtoolError

__all__ = [
    "COMMANDS",
    "DEMO_DATA",
    "DEMO_RANGES",
    "DEMO_REGIONS",
    "build_parser",
    "main",
    "overrides",
]

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
# The command groups, in the order ``fieldtool --help`` lists them.
COMMANDS: tuple[Register, ...] = (
    session.register,
    store.register,
    models.register,
    place.register,
    batch.register,
    station.register,
    learn.register,
    review.register,
)


def build_parser() -> argparse.ArgumentParser:
    # Its sub-commands' parsers are HelpParsers too (argparse makes them of its class).
    parser: argparse.ArgumentParser = HelpParser(
        prog="fieldtool",
        description="Species sightings from video, cameras and photos: classify, smooth, place, "
        "store in DuckDB, map and review.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def _one_line(exc: BaseException, first_only: bool = False) -> str:
    """An error as one line: its lines joined, or (DuckDB's, which run on with hints and
    links) its first line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] if first_only else " ".join(lines)


def _terminate(signum, frame) -> None:  # noqa: ARG001
    raise KeyboardInterrupt("SIGTERM")  # ends the session like Ctrl-C, said as SIGTERM


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    # the library's logging warnings (fieldtool.priors, fieldtool.names) as every other
    # warning reads, for this command only
    said = logging.StreamHandler(sys.stderr)
    said.setLevel(logging.WARNING)
    said.setFormatter(logging.Formatter("fieldtool: warning: %(message)s"))
    library = logging.getLogger("fieldtool")
    library.addHandler(said)
    try:
        return _run(args)
    finally:
        library.removeHandler(said)


def _run(args: argparse.Namespace) -> int:
    try:
        code = args.func(args)
        # Now rather than at interpreter exit, where a reader gone (| head) would only be
        # reported as "Exception ignored ... BrokenPipeError" past this handler.
        sys.stdout.flush()
        return code
    except FieldtoolError as exc:
        print(f"fieldtool: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fieldtool: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout's reader stopped reading (| head): it has all it wanted, so no traceback.
        # Python ignores SIGPIPE and raises this instead; point stdout at devnull so the
        # flush at exit does not raise it again (docs.python.org/3/library/signal.html,
        # "Note on SIGPIPE"). run and demo print a session only once it is in the store.
        import contextlib
        import os

        with contextlib.suppress(OSError, ValueError):  # stdout replaced, e.g. in tests
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left
    except Exception as exc:
        if not type(exc).__module__.startswith(("duckdb", "_duckdb")):
            raise
        # A database error no fieldtool check turned into a FieldtoolError: one line too.
        db = getattr(args, "db", None)
        where = f"{db}: " if db else ""
        print(f"fieldtool: error: {where}{_one_line(exc, first_only=True)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
