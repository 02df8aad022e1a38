"""Camtrap DP intervals hold what they span: a sighting's (or a photo sequence's) eventStart
rounded down and eventEnd up to the second, the deployment's start down and end up; a
photo's own timestamp (a single time) to the nearest second."""

from __future__ import annotations

from fieldtool.camtrap import validate_package
from fieldtool.export import export
from tests.camtrap.conftest import read_csv
from tests.export_photos import mixed_zone_photos


def test_event_and_deployment_intervals_contain_their_photos(tmp_path, labels, standard_url):
    mixed = mixed_zone_photos(tmp_path, labels)  # photos at :34.6, :02.8 and :02.8
    out = tmp_path / "pkg"
    export(mixed.db, "camtrap-dp", out, log=lambda _: None)
    media = {m["fileName"]: m["timestamp"] for m in read_csv(out / "media.csv")}
    assert media["IMG_0001.JPG"] == "2024-06-01T15:00:35Z"  # a single time: nearest
    events = {(o["eventStart"], o["eventEnd"]) for o in read_csv(out / "observations.csv")
              if o["observationLevel"] == "event"}  # fmt: skip
    assert events == {("2024-06-01T15:00:34Z", "2024-06-01T15:00:35Z"),
                      ("2024-06-02T11:01:02Z", "2024-06-02T11:01:03Z"),
                      ("2024-06-03T16:01:02Z", "2024-06-03T16:01:03Z")}  # fmt: skip
    [deployment] = read_csv(out / "deployments.csv")
    assert deployment["deploymentStart"] == "2024-06-01T15:00:34Z"
    assert deployment["deploymentEnd"] == "2024-06-03T16:01:03Z"
    assert validate_package(out, standard_url) == []
