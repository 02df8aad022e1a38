"""When two photo files are one photo: the rule that counts each photo once.

A photo is its picture, not its file: :func:`photo_hashes` reads a file once and gives the
sha256 of its bytes (what ``fieldtool batch`` keys a unit by) and of its picture
(``media.picture_sha256``): for a JPEG, the compressed image data from its first SOS marker
to its EOI (:func:`picture_span`), which tagging tools (keywords, ratings, a species written
into the EXIF or XMP) never rewrite, as they rewrite the APPn and COM segments before it;
for any other format, or a JPEG whose segments do not parse, the whole file. So a card
copied twice, or copied and re-tagged, is the same photos (one photo: the same picture under
the same file name, case aside, or the same bytes under any: :func:`picture_key`), while two
shots with the same pixels (black frames) under two names, or two cameras of one model
that wrote the same file name in the same second (paired traps at a station; two phones of
a model in a bioblitz) took two photos. A set leaves out a copy of another of its photos
(:class:`fieldtool.photos.PhotoSource`), a database knows a photo it holds wherever it now
lives (:mod:`fieldtool.photos.held`) and a batch runs each once
(:mod:`fieldtool.scale.copies`).

Rows stored before ``media.picture_sha256`` (schema 10) whose file is gone are told by
:func:`photo_key`: the same file name and capture time to the second (a tagging tool keeps
both) and, where both name one by EXIF, the same camera.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path, PurePath

PhotoKey = tuple[str, datetime, str]
CHUNK = 2**20  # bytes read at a time while hashing a file that is not a JPEG
_SOI, _SOS, _EOI = 0xD8, 0xDA, 0xD9
# Markers without a length: TEM and RST0-7 (SOI, EOI are told apart where they are met)
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# In entropy-coded data a marker is 0xFF then a byte that is none of 0x00 (a stuffed 0xFF),
# RST0-7 (restart markers, part of the scan) or 0xFF (fill)
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def photo_hashes(path: str | Path) -> tuple[str, str]:
    """(sha256 of the file's bytes, sha256 of its picture) (hex), the file read once (a
    JPEG whole, for its segments; any other file in 1 MiB chunks). OSError where it cannot
    be read."""
    with open(path, "rb") as handle:
        head = handle.read(2)
        if head == bytes((0xFF, _SOI)):
            data = head + handle.read()
            span = picture_span(data)
            whole = hashlib.sha256(data).hexdigest()
            if span is None:
                return whole, whole
            return whole, hashlib.sha256(memoryview(data)[span[0] : span[1]]).hexdigest()
        digest = hashlib.sha256(head)
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), digest.hexdigest()


def picture_sha256(path: str | Path) -> str:
    """sha256 (hex) of a photo's picture (:func:`photo_hashes`); OSError where it cannot be read."""
    return photo_hashes(path)[1]


def picture_span(data: bytes) -> tuple[int, int] | None:
    """(start, end) byte offsets of a JPEG's compressed picture: from its first SOS marker
    to the end of the EOI that closes its last scan; None where ``data`` is no JPEG, its
    segments do not parse (a marker missing where one must be, a length past the end, EOI
    before any scan) or it is cut short (no EOI: its picture is the whole file). The segments before it
    (APPn: EXIF with its thumbnail, XMP, ICC; COM; DQT, SOF, DHT) are stepped over by their
    lengths, never searched; data after the EOI (a phone's trailer) is not the picture."""
    if data[:2] != bytes((0xFF, _SOI)):
        return None
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill before a marker
            pos += 1
        elif marker == _SOS:
            end = _scans_end(data, pos)
            return None if end is None else (pos, end)
        elif marker in (_EOI, _SOI):
            return None
        elif marker in _STANDALONE:
            pos += 2
        else:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if length < 2:
                return None
            pos += 2 + length
    return None


def _scans_end(data: bytes, sos: int) -> int | None:
    """The end (exclusive) of the EOI after the scan at ``sos``: each scan's header stepped
    over by its length, its entropy-coded data searched for the next marker (a progressive
    JPEG's DHT and next SOS between scans are segments of their own); None where no EOI
    comes (a file cut short: what is left of its picture may be a few bytes any other cut
    there shares)."""
    pos = sos
    while True:
        marker = data[pos + 1]
        if marker == _EOI:
            return pos + 2
        length = 0 if marker in _STANDALONE else int.from_bytes(data[pos + 2 : pos + 4], "big")
        found = _MARKER.search(data, pos + 2 + length)
        if found is None:
            return None
        pos = found.start()


def photo_name(path: str | PurePath) -> str:
    """A photo's file name as photos are told apart (:func:`picture_key`): case aside (a
    card's IMG_0001.JPG copied by a tool that writes img_0001.jpg)."""
    return PurePath(path).name.casefold()


def picture_key(picture: str, path: str | PurePath) -> str:
    """What one photo is wherever it lives, copied, re-tagged or in a renamed folder: its
    picture hash (:func:`photo_hashes`) and file name (:func:`photo_name`). Two shots with
    the same pixels (black frames: a covered lens, a night without a data strip) are two
    photos under their two names; the bytes of a file tell a copy renamed."""
    return f"{picture}/{photo_name(path)}"


def photo_key(name: str, taken: datetime | None, camera: str = "") -> PhotoKey | None:
    """(file name, capture time to the second, camera) of a photo stored without a picture
    hash; None without a time (a photo dated by its file's time: copying sets that anew).
    ``camera``: as :func:`told_camera` gives it ("" where unknown)."""
    if taken is None:
        return None
    return name, taken.replace(microsecond=0), camera


def told_camera(path: str, camera: str | None) -> str:
    """``camera`` (``media.camera``) as photos are told apart across runs: "" where it is
    the name of a folder of ``path`` (a camera without EXIF make is named by its folder,
    which a rename renames), else as stored."""
    if not camera or camera in PurePath(path).parts[:-1]:
        return ""
    return camera
