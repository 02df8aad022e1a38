"""Camtrap DP time labels per photo and per observation (a photo session whose photos'
clocks differ: tests/export_photos.py), and whole seconds rounded, not cut."""

from __future__ import annotations

from datetime import datetime

import pytest

from fieldtool.camtrap import validate_package
from fieldtool.camtrap.standard import format_time
from fieldtool.export import export
from fieldtool.export_rows import ExportFilter
from tests.camtrap.conftest import read_csv
from tests.export_photos import mixed_zone_photos


def test_only_the_unknown_zone_photo_is_flagged(tmp_path, labels, standard_url):
    mixed = mixed_zone_photos(tmp_path, labels)
    out = tmp_path / "pkg"
    export(mixed.db, "camtrap-dp", out, log=lambda _: None)
    media = {m["fileName"]: m for m in read_csv(out / "media.csv")}
    # UTC photos as UTC, the local clock as read; all with Z (the standard requires a zone)
    assert media["IMG_0001.JPG"]["timestamp"] == "2024-06-01T15:00:35Z"
    assert media["IMG_0003.JPG"]["timestamp"] == "2024-06-03T16:01:03Z"
    assert media["IMG_0002.JPG"]["timestamp"] == "2024-06-02T11:01:03Z"
    assert "local clock" in media["IMG_0002.JPG"]["mediaComments"]
    for name in ("IMG_0001.JPG", "IMG_0003.JPG"):
        assert "local clock" not in media[name]["mediaComments"]

    observations = read_csv(out / "observations.csv")
    by_media = {o["mediaID"]: o for o in observations if o["observationLevel"] == "media"}
    events = {o["eventStart"]: o for o in observations if o["observationLevel"] == "event"}
    local_media = media["IMG_0002.JPG"]["mediaID"]
    for media_id, o in by_media.items():
        flagged = "timestampIssues" in o["observationTags"]
        assert flagged == (media_id == local_media), o
        assert ("local clock" in o["observationComments"]) == (media_id == local_media)
    # an event's start rounded down (its interval holds the photo: tests/camtrap/
    # test_write_intervals.py), the media timestamps above to the nearest second
    assert set(events) == {"2024-06-01T15:00:34Z", "2024-06-02T11:01:02Z",
                           "2024-06-03T16:01:02Z"}  # fmt: skip
    for start, o in events.items():
        local = start == "2024-06-02T11:01:02Z"
        assert ("timestampIssues" in o["observationTags"]) == local, o
        assert ("local clock" in o["observationComments"]) == local, o

    [deployment] = read_csv(out / "deployments.csv")
    comments = deployment["deploymentComments"]
    # Not "the timestamps are the camera's local clock": one photo of three is.
    assert "1 of 3 photos" in comments and "mediaComments" in comments
    # The standard's flag is per deployment: its media timestamps have a known issue.
    assert deployment["timestampIssues"] == "true"
    assert deployment["deploymentStart"] == "2024-06-01T15:00:34Z"  # down: holds 15:00:34.6
    assert deployment["deploymentEnd"] == "2024-06-03T16:01:03Z"
    assert validate_package(out, standard_url) == []  # the flags keep the package valid


def test_a_deployment_of_utc_photos_has_no_timestamp_issues(tmp_path, labels):
    mixed = mixed_zone_photos(tmp_path, labels)
    out = tmp_path / "pkg"
    # only the UTC photos' time span (the local photo's clock reads 6/2 11:01)
    export(mixed.db, "camtrap-dp", out,
           ExportFilter(since=datetime(2024, 6, 3)), log=lambda _: None)  # fmt: skip
    [deployment] = read_csv(out / "deployments.csv")
    assert deployment["timestampIssues"] == "false"
    assert "local clock" not in deployment["deploymentComments"]
    assert [m["fileName"] for m in read_csv(out / "media.csv")] == ["IMG_0003.JPG"]


@pytest.mark.parametrize(
    ("utc", "zone", "text"),
    [
        (datetime(2021, 4, 11, 18, 43, 9, 600000), None, "2021-04-11T18:43:10Z"),
        (datetime(2021, 4, 11, 18, 43, 9, 400000), None, "2021-04-11T18:43:09Z"),
        (datetime(2021, 4, 11, 18, 43, 9, 600000), "Europe/Brussels",
         "2021-04-11T20:43:10+02:00"),
        (datetime(2021, 4, 11, 23, 59, 59, 500000), "+00:00", "2021-04-12T00:00:00Z"),
    ],
)
def test_format_time_rounds_to_the_nearest_second(utc, zone, text):
    assert format_time(utc, zone) == text
