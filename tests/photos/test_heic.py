"""iPhones' photos are HEIC: read with the ``heic`` extra (pillow-heif), with their EXIF
time, offset, GPS place and orientation, as JPEGs are; without it, one line says what to do."""

from __future__ import annotations

import builtins
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from fieldtool.photos import PhotoSource, expand_photos, read_upright
from fieldtool.photos.files import left_out
from tests.photos.conftest import make_photo

pillow_heif = pytest.importorskip("pillow_heif")


def _heic(path: Path, **exif: object) -> Path:
    pillow_heif.register_heif_opener()  # make_photo saves by suffix through Pillow
    return make_photo(path, **exif)  # type: ignore[arg-type]


def _without_pillow_heif(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where the heic extra is not installed: importing pillow_heif fails."""
    real_import = builtins.__import__

    def no_heif(name: str, *args: object, **kwargs: object):
        if name.startswith("pillow_heif"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pillow_heif", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_heif)


def test_an_iphone_heic_photo_is_read_with_its_time_place_and_pixels(tmp_path) -> None:
    """Defect: a phone's folder of HEIC photos was "left out, not photos fieldtool reads"."""
    photo = _heic(tmp_path / "IMG_0001.HEIC", colour=(30, 30, 200), size=(64, 48),
                  taken=datetime(2026, 6, 14, 9, 12, 33), offset="+02:00",
                  gps=(44.5646, -123.262))  # fmt: skip
    jpeg = make_photo(tmp_path / "IMG_0002.JPG", taken=datetime(2026, 6, 14, 9, 13, 0),
                      offset="+02:00")  # fmt: skip
    assert expand_photos(str(tmp_path)) == [photo, jpeg]
    assert left_out([photo, jpeg]) is None
    read = PhotoSource([photo]).photos[0]
    assert read.captured_at == datetime(2026, 6, 14, 7, 12, 33)
    assert read.time_source == "exif-offset"
    assert read.position is not None
    assert (read.position.lat, read.position.lon) == pytest.approx((44.5646, -123.262), abs=1e-4)
    pixels = read_upright(photo)
    assert pixels.shape == (48, 64, 3)
    assert np.abs(pixels.astype(int) - (30, 30, 200)).max() < 20  # BGR, within coding loss


def test_a_heics_exif_orientation_is_not_applied_again(tmp_path) -> None:
    """HEIF turns a picture by its own transform (``irot``), which the decoder applies; an
    EXIF orientation in it is not to be applied on top (pillow-heif reads it as 1): the
    photo's pixels and size are the decoder's, not turned a second time."""
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :32] = (0, 0, 255)  # left half red
    photo = _heic(tmp_path / "IMG_0003.HEIC", image=image, orientation=6)
    up = read_upright(photo)
    assert up.shape == (48, 64, 3)
    assert np.abs(up.astype(int) - image.astype(int)).mean() < 10
    assert PhotoSource([photo]).photos[0].size == (64, 48)  # (width, height) as decoded


def test_without_the_heic_extra_a_heic_folder_says_what_to_do(tmp_path, monkeypatch) -> None:
    photo = _heic(tmp_path / "IMG_0004.HEIC")
    make_photo(tmp_path / "IMG_0005.JPG")
    _without_pillow_heif(monkeypatch)
    lines: list[str] = []
    assert photo not in expand_photos(str(tmp_path), log=lines.append)
    assert len(lines) == 1 and "1 .heic" in lines[0] and "fieldtool[heic]" in lines[0], lines


def test_without_the_heic_extra_one_heic_is_said_and_the_others_run(tmp_path, monkeypatch):
    """A review found: without pillow-heif, a .HEIC given by itself ran as a video (dated
    at processing time), and a HEIC among JPEGs (a package's media) stopped the run."""
    from fieldtool.photos import is_photo_input
    from fieldtool.types import FieldtoolError

    photo = _heic(tmp_path / "IMG_0006.HEIC")
    jpeg = make_photo(tmp_path / "IMG_0007.JPG")
    _without_pillow_heif(monkeypatch)
    assert is_photo_input(str(photo))  # a photo, not a video
    with pytest.raises(FieldtoolError, match=r"IMG_0006.HEIC.*fieldtool\[heic\]"):
        expand_photos(str(photo))
    lines: list[str] = []
    source = PhotoSource([photo, jpeg], log=lines.append)
    assert [p.path for p in source.photos] == [jpeg]
    assert any("IMG_0006.HEIC" in line and "fieldtool[heic]" in line for line in lines), lines
