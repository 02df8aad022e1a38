"""Each photo's pixels are decoded once: the check that a set has a photo that decodes
(before its session starts) keeps that photo's pixels for its frame. A set of which no
photo decodes says each photo's fault once: in the error, not in a warning before it too."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fieldtool.photos import PhotoSource, expand_photos, source
from fieldtool.types import FieldtoolError
from tests.photos.conftest import make_photo

T0 = datetime(2024, 6, 1, 10, 0, 0)


@pytest.fixture
def decodes(monkeypatch) -> Counter[str]:
    """Calls of the photo decoder, by file path."""
    calls: Counter[str] = Counter()
    real = source.read_upright

    def counted(path: Path) -> np.ndarray:
        calls[str(path)] += 1
        return real(path)

    monkeypatch.setattr(source, "read_upright", counted)
    return calls


def _truncated(path: Path, seed: int) -> Path:
    whole = make_photo(path, taken=T0, size=(640, 480),
                       image=np.random.default_rng(seed).integers(0, 255, (480, 640, 3), np.uint8))  # fmt: skip
    path.write_bytes(whole.read_bytes()[:3000])  # its header reads, its pixels do not
    return path


def test_every_photo_is_decoded_once(tmp_path, decodes) -> None:
    photos = [make_photo(tmp_path / f"IMG_{n}.JPG", colour=n % 3,
                         taken=T0 + timedelta(seconds=n)) for n in range(3)]  # fmt: skip
    frames = list(PhotoSource(photos).frames())
    assert [f.path for f in frames] == [str(p) for p in photos]
    assert decodes == {str(p): 1 for p in photos}, decodes
    first = frames[0].image
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8


def test_a_photo_that_does_not_decode_before_the_first_that_does_is_tried_once(
    tmp_path, decodes
) -> None:
    bad = _truncated(tmp_path / "a_bad.jpg", 0)  # first in time: tried first
    good = make_photo(tmp_path / "b_good.jpg", taken=T0 + timedelta(seconds=1))
    lines: list[str] = []
    frames = list(PhotoSource([bad, good], log=lines.append).frames())
    assert [f.path for f in frames] == [str(good)]
    # cut short: found when the set is read (its end marker missing, tried at 1/8 scale),
    # not decoded again
    assert decodes == {str(good): 1}, decodes
    assert sum(bad.name in line for line in lines) == 1, lines  # its warning, once


def test_a_set_of_which_no_photo_decodes_says_each_fault_once(tmp_path) -> None:
    folder = tmp_path / "only_bad"
    for n in range(7):
        _truncated(folder / f"IMG_{n}.JPG", n)
    (folder / "empty.jpg").write_bytes(b"")  # not even its header reads
    lines: list[str] = []
    with pytest.raises(FieldtoolError) as raised:
        PhotoSource(expand_photos(str(folder)), uri=str(folder), log=lines.append)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{folder}: none of the 8 photos")
    assert "and 3 more" in message, message  # the count and the first few
    said = [line for line in lines if "IMG_" in line or "empty.jpg" in line]
    assert said == [], said  # not a warning per photo before the error
    for name in ["empty.jpg", *(f"IMG_{n}.JPG" for n in range(7))]:
        assert message.count(name) <= 1, (name, message)


def test_a_set_of_which_no_photo_reads_names_the_faults_in_its_error(tmp_path) -> None:
    (tmp_path / "a.jpg").write_text("not a photo")
    (tmp_path / "b.jpg").write_bytes(b"")
    lines: list[str] = []
    with pytest.raises(FieldtoolError) as raised:
        PhotoSource([tmp_path / "a.jpg", tmp_path / "b.jpg"], uri="two", log=lines.append)
    message = str(raised.value)
    assert message.startswith("two: none of the 2 photos") and "a.jpg" in message, message
    assert "b.jpg" in message and lines == [], lines


def test_a_packages_later_deployments_hold_no_pixels_until_they_run(tmp_path, decodes) -> None:
    """A package's sources are all built before the first runs: the first keeps its photo's
    pixels (decoded once); the later ones let theirs go (one photo held, not one per
    deployment) and decode it again when they run."""
    from fieldtool.config import load_config
    from fieldtool.photos import photo_sources_from_config
    from tests.camtrap.test_import_deployments import two_deployment_package

    package = two_deployment_package(tmp_path / "pkg")
    config = load_config(None, {"source.uri": str(package)})
    north, south = photo_sources_from_config(config, lambda line: None)
    for made in (north, south):
        assert len(list(made.frames())) == len(made.photos)
    expected = {str(p.path): 1 for made in (north, south) for p in made.photos}
    expected[str(south.photos[0].path)] = 2  # built, let go, decoded again when it ran
    assert decodes == expected, decodes
