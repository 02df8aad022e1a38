"""A photo session whose photos' clocks differ, run through the pipeline (colour classifier):
the export tests of time labels share it (tests/test_export_times.py,
tests/camtrap/test_write_times.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fieldtool.config import load_config
from fieldtool.photos import photo_source_from_config
from fieldtool.pipeline import run_session
from fieldtool.store import SightingStore
from fieldtool.types import LabelSet
from tests.conftest import ColourClassifier
from tests.photos.conftest import make_photo

DENVER = (39.7392, -104.9903)  # America/Denver: MDT (-06:00) in June


@dataclass
class MixedPhotos:
    """The file and what each photo's sighting time is (naive: UTC, or the local clock)."""

    db: Path
    session_id: str
    gps_utc: datetime  # IMG_0001: EXIF GPS + local DateTimeOriginal, converted from Denver
    offset_utc: datetime  # IMG_0003: OffsetTimeOriginal -07:00
    local: datetime  # IMG_0002: neither: the camera's clock, zone unknown


def mixed_zone_photos(tmp_path: Path, labels: LabelSet) -> MixedPhotos:
    """Three photos a day apart (three events, one sighting each, species 0, 1, 2), with
    sub-second EXIF times: IMG_0001 at 09:00:34.6 Denver local (15:00:34.6 UTC), IMG_0002 at
    11:01:02.8 on the camera's clock of unknown zone, IMG_0003 at 09:01:02.8-07:00 (16:01:02.8
    UTC)."""
    folder = tmp_path / "photos"
    make_photo(folder / "IMG_0001.JPG", colour=0, gps=DENVER, taken=datetime(2024, 6, 1, 9, 0, 34),
               subsec="6")  # fmt: skip
    make_photo(folder / "IMG_0002.JPG", colour=1, taken=datetime(2024, 6, 2, 11, 1, 2),
               subsec="8")  # fmt: skip
    make_photo(folder / "IMG_0003.JPG", colour=2, taken=datetime(2024, 6, 3, 9, 1, 2),
               subsec="8", offset="-07:00")  # fmt: skip
    db = tmp_path / "p2.duckdb"
    config = load_config(None, {"source.uri": str(folder / "*.JPG"), "store.db": str(db)})
    source = photo_source_from_config(config, lambda _: None)
    result = run_session(source, ColourClassifier(labels), SightingStore(db), config,
                         time_basis=source.time_basis(), log=lambda _: None)  # fmt: skip
    assert result.session.status == "finished"
    return MixedPhotos(
        db, result.session.session_id,
        gps_utc=datetime(2024, 6, 1, 15, 0, 34, 600000),
        offset_utc=datetime(2024, 6, 3, 16, 1, 2, 800000),
        local=datetime(2024, 6, 2, 11, 1, 2, 800000),
    )  # fmt: skip
