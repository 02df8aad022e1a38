"""Reading the user's input files (tracks, occurrence tables) with one-line errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fieldtool.types import FieldtoolError


def read_input_bytes(path: Path, what: str) -> bytes:
    """The bytes of ``path``; a missing or unreadable file is a one-line error naming it
    (``what``: the kind of file, e.g. "GPX")."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise FieldtoolError(f"{path}: cannot read ({exc.strerror or exc})") from None


def decode_text(data: bytes) -> str:
    """UTF-8 (a byte-order mark dropped), else Latin-1, which decodes any bytes."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_input_text(path: Path, what: str) -> str:
    """:func:`read_input_bytes`, decoded by :func:`decode_text`."""
    return decode_text(read_input_bytes(path, what))


def read_csv_rows(path: Path, what: str) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line, as dicts (see :func:`read_input_text`)."""
    return list(csv.DictReader(io.StringIO(read_input_text(path, what), newline="")))
