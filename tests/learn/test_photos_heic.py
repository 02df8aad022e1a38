"""Phone photos are HEIC: ``learn --photos`` and ``gallery add``/``enroll`` take them as
``fieldtool run`` does (the ``heic`` extra), upright by their EXIF orientation."""

from __future__ import annotations

import numpy as np
import pytest

from fieldtool.gallery import expand_photos, read_image, species_folders
from fieldtool.learn.photos import read_photos
from tests.photos.conftest import make_photo

pillow_heif = pytest.importorskip("pillow_heif")


def test_heic_photos_in_species_folders_are_learnt_and_enrolled(tmp_path) -> None:
    """Defect: a species folder of iPhone photos was "no species sub-folders with photos"."""
    pillow_heif.register_heif_opener()  # make_photo saves by suffix through Pillow
    sub = tmp_path / "Acer_rubrum"
    sub.mkdir()
    heic = [make_photo(sub / f"IMG_{i}.HEIC", colour=(30, 30 + 20 * i, 200), size=(64, 48))
            for i in range(3)]  # fmt: skip
    assert species_folders([tmp_path]) == {"Acer rubrum": heic}
    assert expand_photos([sub]) == heic
    assert len(read_photos(None, [tmp_path]).frames) == 3
    pixels = read_image(heic[0])
    assert pixels.shape == (48, 64, 3) and pixels.dtype == np.uint8
    assert abs(int(pixels[..., 2].mean()) - 200) < 20  # BGR: red last


def test_read_image_turns_a_photo_upright(tmp_path) -> None:
    """A phone's portrait photo is stored landscape with an orientation tag: enrolled as
    the eye sees it, as a session reads it."""
    photo = make_photo(tmp_path / "portrait.jpg", size=(64, 48), orientation=6)
    assert read_image(photo).shape[:2] == (64, 48)
