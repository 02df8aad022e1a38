"""What an MP4 says of the device that wrote it, and whose clock its mvhd is
(:mod:`fieldtool.tracks.camclock`); the placement cases are in tests/test_placement_camclock.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fieldtool.tracks.camclock import (
    Mp4Maker,
    is_phone_maker,
    maker_clock,
    mp4_maker,
    photos_beside,
    photos_clock,
)
from tests.test_placement_camclock import _clip, _photo

pytest.importorskip("av")
WHEN = datetime(2026, 6, 1, 10, 0, 0)


def test_the_maker_is_read_from_udta_strings_meta_keys_and_ilst_items(tmp_path: Path) -> None:
    udta = _clip(tmp_path / "a.MOV", WHEN, {"make": "Browning", "model": "BTC-8E"})
    assert mp4_maker(udta) == Mp4Maker("Browning", "BTC-8E")
    keys = _clip(tmp_path / "b.MP4", WHEN, {"make": "Bushnell", "model": "Bushnell CORE"},
                 keys=True)  # fmt: skip
    assert mp4_maker(keys).name == "Bushnell CORE"  # the make once
    android = mp4_maker(_clip(tmp_path / "c.MP4", WHEN, {"com.android.version": "14"},
                              keys=True))  # fmt: skip
    assert android.phone_key == "com.android.version" and not android.make
    # an iTunes-style ilst item (FFmpeg's MP4 writes its encoder as ©too: renamed ©mak)
    import av
    import numpy as np

    ilst = tmp_path / "d.mp4"
    with av.open(str(ilst), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        image = np.zeros((48, 64, 3), np.uint8)
        out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    data = ilst.read_bytes()
    assert b"\xa9too" in data
    ilst.write_bytes(data.replace(b"\xa9too", b"\xa9mak"))
    assert mp4_maker(ilst).make.startswith("Lavf")
    cut = tmp_path / "e.MOV"
    cut.write_bytes(udta.read_bytes()[:300])  # no whole moov: nothing, no exception
    assert mp4_maker(cut) == Mp4Maker()


@pytest.mark.parametrize(("make", "phone"), [
    ("Apple", True), ("samsung", True), ("LG Electronics", True), ("Google", True),
    ("HMD Global", True), ("Sony", False), ("RECONYX", False), ("Browning", False),
    ("GoPro", False), ("", False),
])  # fmt: skip
def test_phone_makers(make: str, phone: bool) -> None:
    assert is_phone_maker(make) is phone
    clock = maker_clock(Mp4Maker(make))
    assert (clock is None) if not make else (clock is not None and clock.camera is not phone)


def test_an_unreadable_photo_beside_is_left_out(tmp_path: Path) -> None:
    clip = tmp_path / "IMAG0003.MP4"
    broken = tmp_path / "IMAG0001.JPG"
    broken.write_bytes(b"not a jpeg")
    good = _photo(tmp_path / "IMAG0002.JPG", WHEN, "Browning", "BTC-8E")
    after = _photo(tmp_path / "IMAG0004.JPG", WHEN)  # no Make: names no camera
    beside = photos_beside([after, broken, good], clip)
    assert [(b.path.name, b.before) for b in beside] == [
        ("IMAG0002.JPG", True), ("IMAG0004.JPG", False)]  # fmt: skip
    clock = photos_clock(beside, "DCIM/100MEDIA")
    assert clock is not None and clock.camera and "1 photo(s) of Browning BTC-8E" in clock.how
    two = photos_beside([good, _photo(tmp_path / "IMAG0005.JPG", WHEN, "Bushnell")], clip)
    assert photos_clock(two, "DCIM/100MEDIA") is None  # two cameras: nothing tells
