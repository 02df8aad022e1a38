"""A photo dated by EXIF ``DateTime`` (when the file was last changed: an editor's export
sets it; used only without ``DateTimeOriginal``) stores its own time source,
``exif-datetime-offset`` / ``-zone`` / ``-local`` beside the ``DateTimeOriginal``'s
``exif-offset`` / ``-zone`` / ``-local``, so a reader of ``media.time_source`` can tell
them apart (docs/photos.md); otherwise it is dated as before."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from fieldtool.config import load_config
from fieldtool.export import export
from fieldtool.photos import PhotoSource, photo_source_from_config
from fieldtool.photos.clock import PhotoClock
from fieldtool.pipeline import run_session
from fieldtool.pipeline.inputs import _describe_photos
from fieldtool.store import SightingStore
from fieldtool.timebase import CAMERA_CLOCKS, UNKNOWN_ZONE_CLOCKS, ZoneChoice
from fieldtool.tracks.exif import PhotoExif
from tests.conftest import COLOURS, ColourClassifier
from tests.photos.conftest import make_photo

OREGON = (44.56, -123.3)
LOCAL = datetime(2022, 8, 16, 12, 27, 55)  # the clock's reading
PDT = datetime(2022, 8, 16, 19, 27, 55)  # that reading in UTC in Oregon (-07:00)


def _edited(path: Path, taken: str = "2022:08:16 12:27:55", offset: str | None = None,
            rgb: tuple[int, int, int] = (90, 120, 60)) -> Path:  # fmt: skip
    """A photo an editor exported: IFD0 DateTime (and OffsetTime) only; of one colour."""
    exif = Image.Exif()
    exif[0x0132] = taken
    if offset is not None:
        exif.get_ifd(0x8769)[0x9010] = offset
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), rgb).save(path, exif=exif)
    return path


@pytest.mark.parametrize(
    ("tz", "offset", "source", "zone", "time"),
    [(None, None, "local", None, LOCAL),
     ("America/Los_Angeles", None, "zone", "America/Los_Angeles", PDT),
     (None, "-07:00", "offset", "-07:00", PDT)],
)  # fmt: skip
def test_a_time_by_exif_datetime_has_a_source_of_its_own(tmp_path, tz, offset, source, zone,
                                                         time):  # fmt: skip
    original = make_photo(tmp_path / "original.jpg", taken=LOCAL, offset=offset)
    edited = _edited(tmp_path / "edited.jpg", offset=offset)
    by = {p.path.name: p for p in PhotoSource([original, edited], tz=tz).photos}
    assert by["original.jpg"].time_source == f"exif-{source}"
    assert by["edited.jpg"].time_source == f"exif-datetime-{source}"
    for p in by.values():  # dated alike otherwise
        assert (p.zone, p.captured_at) == (zone, time)
    assert f"exif-datetime-{source}" in CAMERA_CLOCKS  # --time-offset corrects it as before


def test_the_clock_rule_names_the_tag_that_dated_the_photo():
    clock = PhotoClock(None, None, ZoneChoice(None, ""))
    mtime = datetime(2023, 1, 1)
    assert clock.time(PhotoExif(taken=LOCAL), mtime, None, None, None).source == "exif-local"
    assert clock.time(PhotoExif(taken=LOCAL, taken_changed=True), mtime, None, None,
                      None).source == "exif-datetime-local"  # fmt: skip
    assert clock.time(PhotoExif(), mtime, None, None, None).source == "file-mtime"


def test_an_edited_photo_of_unknown_zone_is_warned_as_a_local_clock(tmp_path):
    """The run's warning on clocks of unknown zone counts photos dated by DateTime too."""
    source = PhotoSource([make_photo(tmp_path / "a.jpg", taken=LOCAL),
                          _edited(tmp_path / "b.jpg")])  # fmt: skip
    assert {p.time_source for p in source.photos} == set(UNKNOWN_ZONE_CLOCKS)
    lines: list[str] = []
    _describe_photos(source, lines.append)
    (said,) = [line for line in lines if "unknown zone" in line]
    assert said.startswith("warning: 2 photo(s)"), said


def test_an_edited_photo_at_a_repeated_local_hour_is_warned(tmp_path):
    """The daylight saving checks of a local clock converted by a zone read DateTime's too."""
    edited = _edited(tmp_path / "edited.jpg", taken="2022:11:06 01:30:00")  # PDT -> PST
    lines: list[str] = []
    PhotoSource([edited], tz="America/Los_Angeles", log=lines.append)
    assert any("occurs twice" in line and "edited.jpg" in line for line in lines), lines


def test_an_exported_photo_dated_by_datetime_of_unknown_zone_is_not_labelled_utc(tmp_path,
                                                                                    labels):  # fmt: skip
    """Exports tell a local clock of unknown zone by ``LOCAL_CLOCK_SOURCES``: the DateTime
    reading of one is such a clock as DateTimeOriginal's is (no ``Z``, zone unknown)."""

    folder = tmp_path / "photos"
    _edited(folder / "IMG_0001.JPG", rgb=COLOURS[0][::-1])  # species 0 (COLOURS is BGR)
    db = tmp_path / "p.duckdb"
    config = load_config(None, {"source.uri": str(folder / "*.JPG"), "store.db": str(db)})
    source = photo_source_from_config(config, lambda _: None)
    run_session(source, ColourClassifier(labels), SightingStore(db), config,
                time_basis=source.time_basis(), log=lambda _: None)  # fmt: skip
    export(db, "csv", tmp_path / "s.csv", log=lambda _: None)
    text = (tmp_path / "s.csv").read_text()
    assert "2022-08-16T12:27:55" in text and "2022-08-16T12:27:55Z" not in text
    assert pd.read_csv(tmp_path / "s.csv", dtype=str).time_zone_known.tolist() == ["False"]
