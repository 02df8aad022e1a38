"""A photo counts once in a set: a copy whose bytes differ (a card re-tagged: the same photos
with metadata a tagging tool added) is told by its camera, file name and EXIF capture time,
the rule that tells such copies across runs (:func:`fieldtool.photos.same.photo_key`)."""

from __future__ import annotations

import shutil
import struct
from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.photos import PhotoSource, expand_photos
from tests.photos.conftest import RECONYX, make_photo

T0 = datetime(2021, 5, 31, 9, 0, 0)


def retagged(photo: Path, target: Path, tag: str = "deer") -> Path:
    """``photo`` as a tagging tool writes it back: an XMP block added after the JPEG's start
    (its EXIF, pixels and name as they were; its bytes other)."""
    data = photo.read_bytes()
    xmp = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
           + f"<dc:subject>{tag}</dc:subject></x:xmpmeta>".encode())  # fmt: skip
    segment = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data[:2] + segment + data[2:])
    return target


def test_a_retagged_copy_in_the_set_counts_once(tmp_path) -> None:
    """Defect: the same photos twice in one set, once as they came off the card and once
    re-tagged (other bytes), each counted twice: only byte-identical copies were told."""
    card = tmp_path / "season" / "card07" / "DCIM" / "100RECNX"
    shutil.copytree(RECONYX, card)
    tagged = tmp_path / "season" / "card07_tagged" / "DCIM" / "100RECNX"
    for photo in sorted(card.iterdir())[:4]:
        retagged(photo, tagged / photo.name)
    lines: list[str] = []
    source = PhotoSource(expand_photos(str(tmp_path / "season")), tz="Europe/Brussels",
                         log=lines.append)  # fmt: skip
    assert len(source.photos) == 10  # each photo once: the first by path, off the card
    assert {p.path.parent for p in source.photos} == {card}
    (line,) = [x for x in lines if "copies of another in this set" in x]
    assert line.startswith("warning: 4 photo(s) are copies of another in this set (same "
                           "camera, file name and EXIF capture time; other bytes)"), line
    assert "card07_tagged" in line and "left out" in line
    assert sum("copy of" in why for _, why in source.skipped) == 4
    assert source.frame_count == 10  # the copies are not photos tried


def test_other_cameras_or_times_under_one_name_are_other_photos(tmp_path) -> None:
    # two traps whose counters both wrote IMG_0001.JPG in the same second: two photos
    a = make_photo(tmp_path / "trapA" / "IMG_0001.JPG", taken=T0, make="RECONYX",
                   model="HYPERFIRE 2")  # fmt: skip
    b = make_photo(tmp_path / "trapB" / "IMG_0001.JPG", taken=T0, make="Browning",
                   model="BTC-8E", colour=1)  # fmt: skip
    # the same camera and name a second later (a card reused after formatting): another
    c = make_photo(tmp_path / "trapC" / "IMG_0001.JPG", taken=T0 + timedelta(seconds=1),
                   make="RECONYX", model="HYPERFIRE 2", colour=2)  # fmt: skip
    # no EXIF time (dated by the file): never taken as a copy by its name
    d = make_photo(tmp_path / "x" / "IMG_0002.JPG", colour=1)
    e = make_photo(tmp_path / "y" / "IMG_0002.JPG", colour=2)
    source = PhotoSource([a, b, c, d, e], tz="UTC")
    assert len(source.photos) == 5 and not source.skipped
