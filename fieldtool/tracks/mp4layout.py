"""What a video file's structure says: its tracks (:func:`mp4_tracks`: each one's handler
and first sample entry, which :mod:`fieldtool.tracks.dji` tells DJI's files by) and, when
decoding it fails, why it does not open (an MP4/MOV without its ``moov`` index, a file with
no video stream) and whether a file that ends early was cut short.

Reads the top-level ISO BMFF box headers (a few bytes each, ``mdat`` seeked over) and
``moov`` only (the box walker of :mod:`fieldtool.tracks.gpmf`); a file that is no MP4/MOV
is asked of PyAV where it is installed (the ``video`` extra), else nothing is said.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from fieldtool.tracks.gpmf import _boxes

# box types a file's first box may be: ISO BMFF (ftyp, styp) and old QuickTime files
_FIRST = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
NO_MOOV = ("no moov atom: the file was cut off before its index was written (a recording "
           "not closed properly)")  # fmt: skip
NO_VIDEO = "no video stream (audio only?)"


@dataclass(frozen=True, slots=True)
class Mp4Track:
    """One ``trak`` of a ``moov`` box: ``handler``, its media handler type (``vide``,
    ``soun``, ``meta``; ``b""`` without ``mdia/hdlr``); ``names``, the names of its
    ``hdlr`` boxes in file order (the media handler's, then QuickTime's data handler's in
    ``minf``; :func:`hdlr_name`); ``entry``, the type of its first sample entry (``avc1``,
    ``gpmd``, ``djmd``; ``b""`` without ``stsd``)."""

    handler: bytes
    names: tuple[str, ...]
    entry: bytes


def hdlr_name(payload: bytes) -> str:
    """The component name of an ``hdlr`` box (``payload``: the box after its size and
    type): version and flags, component type, subtype, 12 reserved bytes, then the name,
    a QuickTime counted string (its length byte may count NUL padding) or a C string."""
    name = payload[24:]
    if name and name[0] < 0x20:  # a length byte, not a character
        name = name[1 : 1 + name[0]]
    return name.split(b"\0", 1)[0].decode("latin-1").strip()


def mp4_tracks(moov: bytes, head: int) -> list[Mp4Track]:
    """The tracks of a ``moov`` box (``moov``: the whole box, ``head``: its header's size,
    where its children start), in file order: their ``mdia/hdlr`` and ``mdia/minf/hdlr``
    and the first entry of their ``mdia/minf/stbl/stsd``. A box whose size makes no sense
    ends its level's walk (:func:`~fieldtool.tracks.gpmf._boxes`); none where one cannot
    be read."""
    tracks = []
    try:
        for kind, s, e in _boxes(moov, head, len(moov)):
            if kind == b"trak":
                mdia = [(s2, e2) for inner, s2, e2 in _boxes(moov, s, e) if inner == b"mdia"]
                tracks.append(_track(moov, *mdia[0]) if mdia else Mp4Track(b"", (), b""))
    except (struct.error, IndexError):
        return []
    return tracks


def _track(moov: bytes, start: int, end: int) -> Mp4Track:
    """The track whose ``mdia`` box is ``moov[start:end]``."""
    handler, entry = b"", b""
    names: list[str] = []
    for kind, s, e in _boxes(moov, start, end):
        if kind == b"hdlr":  # version and flags, pre-defined, then the handler type
            handler = moov[s + 8 : s + 12]
            names.append(hdlr_name(moov[s:e]))
        elif kind == b"minf":
            for inner, s2, e2 in _boxes(moov, s, e):
                if inner == b"hdlr":  # QuickTime's data handler
                    names.append(hdlr_name(moov[s2:e2]))
                elif inner == b"stbl" and not entry:  # stsd: version, flags, count, an entry
                    entry = next((moov[s3 + 12 : s3 + 16] for leaf, s3, e3 in _boxes(moov, s2, e2)
                                  if leaf == b"stsd" and e3 - s3 >= 16), b"")  # fmt: skip
    return Mp4Track(handler, tuple(names), entry)


def top_boxes(path: str | Path) -> tuple[list[tuple[bytes, int, int]], int] | None:
    """(type, start, end) in bytes of an MP4/MOV's top-level boxes, the last one's end as
    its header states it (past the file's size when the file was cut short), and the
    file's size; None where the file does not start with an ISO BMFF box or is unreadable.
    A box header that makes no sense (a size below its header's) ends the list."""
    boxes: list[tuple[bytes, int, int]] = []
    try:
        with Path(path).open("rb") as fh:
            size = fh.seek(0, 2)
            off = 0
            while off + 8 <= size:
                fh.seek(off)
                head = fh.read(16)
                length, kind = struct.unpack_from(">I4s", head, 0)
                header = 8
                if length == 1 and len(head) == 16:
                    length, header = struct.unpack_from(">Q", head, 8)[0], 16
                elif length == 0:  # to the end of the file
                    length = size - off
                if (not boxes and kind not in _FIRST) or length < header:
                    break
                boxes.append((kind, off, off + length))
                off += length
    except (OSError, struct.error):
        return None
    return (boxes, size) if boxes else None


def cut_short(path: str | Path) -> bool | None:
    """True when an MP4/MOV's last box runs past the end of the file (the file was cut
    short: a copy stopped, a card filled); False when its boxes end where the file does
    (whole, so frames that do not decode are damage); None when the file is no MP4/MOV or
    its boxes do not say."""
    found = top_boxes(path)
    if found is None:
        return None
    boxes, size = found
    end = boxes[-1][2]
    return True if end > size else False if end == size else None


def why_unopenable(path: str | Path) -> str | None:
    """Why no decoder opens ``path``, in a few words, where its structure tells: an
    MP4/MOV without ``moov`` (:data:`NO_MOOV`), one whose tracks hold no video, or any
    file PyAV opens and finds no video stream in (:data:`NO_VIDEO`); None otherwise."""
    found = top_boxes(path)
    if found is not None:
        boxes, _ = found
        moov = next(((s, e) for kind, s, e in boxes if kind == b"moov"), None)
        kinds = {kind for kind, _, _ in boxes}
        if moov is None:  # frames but no index (fragments, moof, carry their own)
            return NO_MOOV if b"mdat" in kinds and b"moof" not in kinds else None
        handlers = _handlers(path, *moov)
        if handlers and b"vide" not in handlers:
            return NO_VIDEO
        return None
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            return NO_VIDEO if container.streams and not container.streams.video else None
    except Exception:  # noqa: BLE001  (any failure: nothing to say beyond the decoder's)
        return None


def _handlers(path: str | Path, start: int, end: int) -> list[bytes]:
    """The handler types (``vide``, ``soun``, ...) of the tracks of the ``moov`` box at
    bytes ``start`` to ``end`` of the file; empty where it cannot be read."""
    try:
        with Path(path).open("rb") as fh:
            fh.seek(start)
            moov = fh.read(end - start)
        head = 16 if struct.unpack_from(">I", moov, 0)[0] == 1 else 8
    except (OSError, struct.error):
        return []
    return [track.handler for track in mp4_tracks(moov, head)]
