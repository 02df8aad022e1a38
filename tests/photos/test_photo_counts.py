"""``fieldtool run`` on photos says how many photos in how many events: the photos that are
classified, not one that cannot be decoded (a truncated JPEG: a card pulled while writing)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from fieldtool.photos import PhotoSource
from fieldtool.pipeline.inputs import _describe_photos
from tests.photos.conftest import make_photo

T0 = datetime(2021, 5, 31, 9, 0, 0)


def _cut(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _noise(path: Path, taken: datetime) -> Path:
    pixels = np.random.default_rng(0).integers(0, 255, (192, 256, 3), np.uint8)
    return make_photo(path, image=pixels, taken=taken)


def test_an_undecodable_photo_is_no_event_of_the_photos_line(tmp_path) -> None:
    """Defect: ``photos: 4 in 2 event(s)`` for a burst of three and a truncated JPEG two
    hours later, its event one with nothing classified."""
    card = tmp_path / "card" / "DCIM" / "100RECNX"
    burst = [make_photo(card / f"IMG_000{n}.JPG", taken=T0 + timedelta(seconds=n), colour=n)
             for n in range(3)]  # fmt: skip
    cut = _cut(_noise(card / "IMG_0009.JPG", T0 + timedelta(hours=2)))
    lines: list[str] = []
    source = PhotoSource([*burst, cut], tz="UTC", log=lines.append)
    _describe_photos(source, lines.append)
    (line,) = [x for x in lines if x.startswith("photos:")]
    assert line.startswith("photos: 3 in 1 event(s) (gap 60 s)"), line
    assert "1 more cannot be decoded (skipped)" in line, line
    assert any("IMG_0009.JPG" in x and "cannot be decoded" in x for x in lines), lines
    frames = list(source.frames())
    assert [f.path for f in frames] == [str(p) for p in burst]
    assert source.stats.frames_read == 4  # every photo tried, as before


def test_a_photo_found_undecodable_while_running_is_said_with_the_count_classified(
    tmp_path,
) -> None:
    # a photo that decodes when the set is read and not when it runs (its file cut in the
    # meantime: a card read while a copy to it still went on): the end says what ran
    folder = tmp_path / "plot"
    good = [make_photo(folder / f"p{n}.jpg", taken=T0 + timedelta(seconds=n), colour=n)
            for n in range(2)]  # fmt: skip
    late = _noise(folder / "p9.jpg", T0 + timedelta(hours=1))
    source = PhotoSource([*good, late], tz="UTC")
    _cut(late)
    assert len(list(source.frames())) == 2
    summary = source.skipped_summary()
    assert summary is not None and summary.startswith("1 photo(s) skipped: p9.jpg"), summary
    assert summary.endswith("; 2 photo(s) classified in 1 event(s)"), summary
