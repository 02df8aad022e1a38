"""When two photo files are one photo: the rule that counts each photo once.

Byte-identical files are one photo (:meth:`fieldtool.photos.PhotoSource` hashes them;
``fieldtool batch`` keys units by them). A copy whose bytes differ (a card re-tagged: a
tagging tool wrote its keywords into the same photos) is told by :func:`photo_key`: the same
file name and capture time to the second (a tagging tool keeps both; its sub-seconds may go)
and, where known, the same camera. ``fieldtool run`` warns of a set whose photos a database
holds from another path by it (:mod:`fieldtool.photos.held`), and a set leaves out such a
copy of another of its photos (:class:`fieldtool.photos.PhotoSource`).
"""

from __future__ import annotations

from datetime import datetime

PhotoKey = tuple[str, datetime, str]


def photo_key(name: str, taken: datetime | None, camera: str = "") -> PhotoKey | None:
    """(file name, capture time to the second, camera) of a photo; None without a time
    (a photo dated by its file's time: copying sets that anew). ``camera``: its EXIF
    make/model/serial or the card it is on (a set's photos); "" where the stored camera of
    a copy at another path may differ (across runs: a camera without EXIF make is named by
    its folder)."""
    if taken is None:
        return None
    return name, taken.replace(microsecond=0), camera
