"""PhotoSource: which photos, their time, place, orientation and events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from fieldtool.photos import PhotoItem, PhotoSource, expand_photos, is_photo_input
from fieldtool.types import Deployment, FieldtoolError
from tests.photos.conftest import RECONYX, make_photo

T0 = datetime(2024, 6, 1, 10, 0, 0)


def test_folder_glob_and_single_photo_are_photo_inputs(tmp_path) -> None:
    a = make_photo(tmp_path / "cam" / "a.jpg")
    b = make_photo(tmp_path / "cam" / "deeper" / "b.PNG")
    (tmp_path / "cam" / "notes.txt").write_text("x")
    assert is_photo_input(str(tmp_path / "cam"))
    assert is_photo_input(str(a)) and is_photo_input(str(tmp_path / "cam" / "*.jpg"))
    assert not is_photo_input("0") and not is_photo_input(str(tmp_path / "walk.mp4"))
    assert expand_photos(str(tmp_path / "cam")) == [a, b]  # recursive
    assert expand_photos(str(tmp_path / "cam" / "**" / "*.PNG")) == [b]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FieldtoolError, match="folder without photos"):
        expand_photos(str(tmp_path / "empty"))


def test_a_folders_files_that_are_not_photos_are_said_not_dropped_silently(tmp_path):
    # a camera's card: raw photos and videos beside the JPEGs (HEIC: tests/photos/test_heic.py)
    card = tmp_path / "DCIM"
    (card / "100MEDIA").mkdir(parents=True)
    jpeg = make_photo(card / "100MEDIA" / "IMG_0001.JPG")
    for name in ("IMG_0002.DNG", "IMG_0003.dng", "CLIP_0004.MP4", "notes"):
        (card / "100MEDIA" / name).write_bytes(b"x")
    (card / ".DS_Store").write_bytes(b"x")  # hidden: not counted
    logs: list[str] = []
    assert expand_photos(str(card), logs.append) == [jpeg]
    assert len(logs) == 1 and logs[0].startswith(f"{card}: 4 files left out"), logs
    assert "2 .dng (raw: export JPEG)" in logs[0] and "1 .mp4 (a video" in logs[0]
    assert "1 (no suffix)" in logs[0]
    only_raw = tmp_path / "raw"
    only_raw.mkdir()
    (only_raw / "IMG_1.dng").write_bytes(b"x")
    with pytest.raises(FieldtoolError, match=r"folder without photos.*1 \.dng \(raw"):
        expand_photos(str(only_raw))


def test_the_reconyx_burst_is_one_event_in_capture_order() -> None:
    photos = sorted(RECONYX.glob("*.JPG"))
    assert len(photos) == 10
    source = PhotoSource(photos[::-1], tz="Europe/Brussels")  # order given does not matter
    assert len({p.event_id for p in source.photos}) == 1
    assert [p.path for p in source.photos] == photos
    first = source.photos[0]
    assert first.camera == "RECONYX HYPERFIRE 2 COVERT"
    assert first.time_source == "exif-zone" and first.zone == "Europe/Brussels"
    assert first.captured_at == datetime(2021, 4, 11, 18, 43, 9)  # 20:43:09 CEST
    assert source.photos[-1].t == 6.0
    frames = list(source.frames())
    assert [f.segment for f in frames] == [first.event_id] * 10
    assert frames[0].image.shape == (1440, 2048, 3) and frames[0].path == str(photos[0])


def test_time_from_offset_and_subseconds(tmp_path) -> None:
    path = make_photo(tmp_path / "p.jpg", taken=T0, offset="+02:00", subsec="25")
    photo = PhotoSource([path], tz="Asia/Tokyo").photos[0]  # --tz does not beat an offset
    assert photo.captured_at == T0 - timedelta(hours=2) + timedelta(milliseconds=250)
    assert photo.time_source == "exif-offset" and photo.zone == "+02:00"  # converted from


def test_local_clock_zone_from_place_else_unknown(tmp_path) -> None:
    gps = make_photo(tmp_path / "gps.jpg", taken=T0, gps=(40.4168, -3.7038))  # Madrid
    plain = make_photo(tmp_path / "plain.jpg", taken=T0)
    by_gps = PhotoSource([gps]).photos[0]
    assert by_gps.zone == "Europe/Madrid" and by_gps.captured_at == T0 - timedelta(hours=2)
    by_place = PhotoSource([plain], place=(35.68, 139.69)).photos[0]  # --lat/--lon: Tokyo
    assert by_place.zone == "Asia/Tokyo" and by_place.captured_at == T0 - timedelta(hours=9)
    unknown = PhotoSource([plain])
    assert unknown.photos[0].time_source == "exif-local" and unknown.photos[0].zone is None
    assert unknown.photos[0].captured_at == T0  # the camera's clock, not called UTC
    assert not unknown.time_basis().zone_known


def test_no_exif_time_is_the_files_time_and_a_given_timestamp_wins(tmp_path) -> None:
    path = make_photo(tmp_path / "p.jpg", taken=T0)
    bare = make_photo(tmp_path / "bare.png")
    photo = PhotoSource([bare]).photos[0]
    assert photo.time_source == "file-mtime"
    assert abs(photo.captured_at - datetime.now(timezone.utc).replace(tzinfo=None)) < timedelta(
        days=1
    )
    given = datetime(2020, 5, 30, 4, 57, 37, tzinfo=timezone(timedelta(hours=2)))
    photo = PhotoSource([PhotoItem(path, timestamp=given)]).photos[0]
    assert photo.captured_at == datetime(2020, 5, 30, 2, 57, 37) and photo.time_source == "given"


def test_photos_of_a_deployment_are_placed_at_its_coordinates(tmp_path) -> None:
    a = make_photo(tmp_path / "a.jpg", taken=T0)
    b = make_photo(tmp_path / "b.jpg", taken=T0 + timedelta(days=40))
    named = make_photo(tmp_path / "c.jpg", taken=T0 + timedelta(days=40, seconds=5))
    spring = Deployment("spring", 51.496, 4.774, T0 - timedelta(days=1), T0 + timedelta(days=1),
                        uncertainty_m=187, time_zone="Europe/Brussels")  # fmt: skip
    summer = Deployment("summer", 51.181, 5.655, T0 + timedelta(days=30), T0 + timedelta(days=50))
    source = PhotoSource([a, b, PhotoItem(named, deployment_id="spring")],
                         deployments=[spring, summer])  # fmt: skip
    by_name = {p.path.name: p for p in source.photos}
    assert by_name["a.jpg"].deployment_id == "spring"
    assert (by_name["a.jpg"].position.lat, by_name["a.jpg"].position.lon) == (51.496, 4.774)
    assert by_name["a.jpg"].position.accuracy_m == 187
    assert (
        by_name["a.jpg"].position.source == "deployment" and by_name["a.jpg"].own_position is None
    )
    assert by_name["a.jpg"].captured_at == T0 - timedelta(hours=2)  # the deployment's zone
    assert by_name["b.jpg"].deployment_id == "summer"
    assert (by_name["b.jpg"].position.lat, by_name["b.jpg"].position.lon) == (51.181, 5.655)
    assert by_name["c.jpg"].deployment_id == "spring"  # named, though its time is summer's
    # b and c: 5 s apart but different deployments (cameras): two events
    assert by_name["b.jpg"].event_id != by_name["c.jpg"].event_id
    with pytest.raises(FieldtoolError, match="'autumn' is not one of the deployments"):
        PhotoSource([PhotoItem(a, deployment_id="autumn")], deployments=[spring])


def test_exif_orientation_is_applied(tmp_path) -> None:
    image = np.zeros((20, 40, 3), np.uint8)  # stored landscape, red on its left half
    image[:, :20] = (0, 0, 255)
    path = make_photo(tmp_path / "rot.jpg", image=image, orientation=6)  # shown turned 90° cw
    source = PhotoSource([path])
    assert source.photos[0].size == (20, 40)
    frame = next(iter(source.frames()))
    assert frame.image.shape == (40, 20, 3)
    # turned clockwise: the stored left half is now the top half
    assert frame.image[:18, :, 2].mean() > 200 and frame.image[22:, :, 2].mean() < 50


def test_a_bad_photo_is_a_warning_and_is_skipped(tmp_path) -> None:
    good = make_photo(tmp_path / "good.jpg", taken=T0)
    whole = make_photo(tmp_path / "whole.jpg", taken=T0, size=(640, 480),
                       image=np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8))  # fmt: skip
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    text = tmp_path / "text.jpg"
    text.write_text("not a photo")
    lines: list[str] = []
    source = PhotoSource([good, truncated, text], log=lines.append)
    frames = list(source.frames())
    assert [f.path for f in frames] == [str(good)]
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    # both found when the set is read (the JPEG lacks its end: cut short), in path order
    assert "truncated.jpg" in lines[0] and "text.jpg" in lines[1]
    summary = source.skipped_summary()
    assert summary is not None and summary.startswith("2 photo(s) skipped")
    assert "text.jpg" in summary and "truncated.jpg" in summary
    with pytest.raises(FieldtoolError, match="none of the 1 photos"):
        PhotoSource([text])


def test_photos_dated_by_their_file_or_a_local_clock_are_warned_about(tmp_path):
    """A file's modification time is often the copy's, and a clock of unknown zone is not
    UTC: the session says how many photos have such times, in one line each."""
    from fieldtool.config import load_config
    from fieldtool.pipeline import photo_placement

    make_photo(tmp_path / "a.jpg", taken=None)
    make_photo(tmp_path / "b.jpg", taken=datetime(2026, 5, 1, 6, 0, 0))  # no offset, no place
    make_photo(tmp_path / "c.jpg", taken=datetime(2026, 5, 1, 6, 0, 5), offset="+02:00")
    lines: list[str] = []
    photo_placement(load_config(None, {"source.uri": str(tmp_path)}), lines.append)
    warned = [line for line in lines if line.startswith("warning:")]
    assert any("1 photo(s) carry no EXIF time" in line for line in warned), lines
    assert any("1 photo(s) carry a local clock time of unknown zone" in line for line in warned)


def test_one_file_left_out_reads_in_the_singular(tmp_path):
    card = tmp_path / "card"
    card.mkdir()
    jpeg = make_photo(card / "IMG_0001.JPG")
    (card / "IMG_0002.DNG").write_bytes(b"x")
    logs: list[str] = []
    assert expand_photos(str(card), logs.append) == [jpeg]
    assert len(logs) == 1 and logs[0].startswith(f"{card}: 1 file left out, "), logs
