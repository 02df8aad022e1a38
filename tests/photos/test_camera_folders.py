"""A camera's photos as one camera: DCF folders of one card, the camera's counter order
(a clock reset), and photos without an EXIF time named (trial 11i)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from fieldtool.photos import PhotoSource
from fieldtool.pipeline.inputs import _describe_photos
from tests.photos.conftest import make_photo

T0 = datetime(2021, 5, 31, 9, 0, 0)


def reconyx(path: Path, taken: datetime) -> Path:
    """A photo with the make and model a Reconyx trap writes."""
    return make_photo(path, taken=taken, make="RECONYX", model="HYPERFIRE 2 COVERT")


def test_a_burst_across_the_dcim_folder_rollover_is_one_event(tmp_path) -> None:
    card = tmp_path / "trapA_card1" / "DCIM"
    last = reconyx(card / "100RECNX" / "IMG_9999.JPG", T0)
    rest = [
        reconyx(card / "101RECNX" / f"IMG_000{n}.JPG", T0 + timedelta(seconds=n)) for n in (1, 2)
    ]
    source = PhotoSource([last, *rest], tz="Europe/Brussels")
    assert len({p.event_id for p in source.photos}) == 1
    assert [p.path for p in source.photos] == [last, *rest]
    # without EXIF make/model too: the camera is the card, not the DCF folder
    bare = tmp_path / "bare" / "DCIM"
    paths = [
        make_photo(bare / "100MEDIA" / "IMG_9999.JPG", taken=T0),
        make_photo(bare / "101MEDIA" / "IMG_0001.JPG", taken=T0 + timedelta(seconds=1)),
    ]
    source = PhotoSource(paths, tz="Europe/Brussels")
    assert len({p.event_id for p in source.photos}) == 1
    assert {p.camera for p in source.photos} == {"bare"}


def test_folders_that_are_not_dcf_stay_cameras_of_their_own(tmp_path) -> None:
    # two traps' folders side by side (not DCF names): two cameras, two events
    paths = [
        make_photo(tmp_path / "trapA" / "IMG_0001.JPG", taken=T0),
        make_photo(tmp_path / "trapB" / "IMG_0001.JPG", taken=T0 + timedelta(seconds=1)),
    ]
    assert len({p.event_id for p in PhotoSource(paths, tz="UTC").photos}) == 2
    # DCF-like names outside a DCIM folder, and a DCIM folder's non-DCF folders: as they are
    # (other colours: byte-identical copies would count once)
    paths = [make_photo(tmp_path / "x" / "100RECNX" / "a.JPG", taken=T0, colour=1),
             make_photo(tmp_path / "x" / "101RECNX" / "b.JPG", taken=T0 + timedelta(seconds=1)),
             make_photo(tmp_path / "y" / "DCIM" / "Camera" / "c.JPG", taken=T0, colour=2),
             make_photo(tmp_path / "y" / "DCIM" / "099ABCDE" / "d.JPG", colour=3,
                        taken=T0 + timedelta(seconds=1))]  # fmt: skip
    assert len({p.event_id for p in PhotoSource(paths, tz="UTC").photos}) == 4


def test_a_camera_clock_reset_is_warned_naming_the_photos(tmp_path) -> None:
    folder = tmp_path / "trapA_card2" / "DCIM" / "100RECNX"
    june = datetime(2021, 6, 10, 10, 0, 0)
    reset = datetime(2000, 1, 1, 0, 0, 10)
    paths = [make_photo(folder / f"IMG_000{n}.JPG", taken=june + timedelta(seconds=n))
             for n in range(1, 4)]  # fmt: skip
    paths += [make_photo(folder / f"IMG_000{n}.JPG", taken=reset + timedelta(seconds=n))
              for n in range(4, 10)]  # fmt: skip
    logs: list[str] = []
    source = PhotoSource(paths[::-1], tz="Europe/Brussels", log=logs.append)
    resets = [line for line in logs if "clock reset" in line]
    assert len(resets) == 1, logs
    line = resets[0]
    assert line.startswith("warning: time: 6 photo(s) of ") and "trapA_card2" in line
    assert "go back 7,831 days" in line
    assert "IMG_0004.JPG, IMG_0005.JPG" in line and "IMG_0003.JPG" not in line
    assert "their times are kept as read" in line
    assert min(p.captured_at for p in source.photos).year == 1999  # kept as read


def test_a_camera_that_runs_forward_or_steps_back_less_than_a_day_is_not_warned(tmp_path):
    folder = tmp_path / "cam" / "DCIM" / "100MEDIA"
    times = [T0, T0 + timedelta(hours=5), T0 - timedelta(hours=1), T0 + timedelta(days=3)]
    paths = [make_photo(folder / f"IMG_000{n}.JPG", taken=t) for n, t in enumerate(times)]
    # another camera's photos earlier in time: another counter, no reset
    paths.append(make_photo(tmp_path / "other" / "IMG_0009.JPG", taken=T0 - timedelta(days=9)))
    logs: list[str] = []
    PhotoSource(paths, tz="UTC", log=logs.append)
    assert not [line for line in logs if "clock reset" in line], logs


def test_the_no_exif_time_warning_names_the_photos(tmp_path) -> None:
    dated = make_photo(tmp_path / "cam" / "IMG_0001.JPG", taken=T0)
    bare = make_photo(tmp_path / "cam" / "IMG_0002.JPG")
    stamp = datetime(2021, 6, 1, 12, 10).timestamp()
    os.utime(bare, (stamp, stamp))
    logs: list[str] = []
    _describe_photos(PhotoSource([dated, bare], tz="UTC"), logs.append)
    line = next(line for line in logs if "carry no EXIF time" in line)
    assert line.startswith("warning: 1 photo(s) carry no EXIF time") and "IMG_0002.JPG" in line
    assert "IMG_0001.JPG" not in line
