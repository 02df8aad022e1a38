"""A package fieldtool exported, run and exported again (and again): ``deploymentComments``
keeps the package's own comment once and fieldtool's note once, of the latest session,
however many round trips; before, each round trip appended another note."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from fieldtool.cli import main
from tests.camtrap.conftest import read_csv
from tests.camtrap.test_round_trip import DEPLOYMENT, annotated_package


def _round_trip(tmp_path: Path, package: Path, name: str) -> tuple[str, str]:
    """``package`` run into ``<name>.duckdb`` and exported to ``<name>/``: the deployment's
    comments and the session id."""
    db = tmp_path / f"{name}.duckdb"
    assert main(["run", str(package), "--db", str(db), "--quiet"]) == 0
    out = tmp_path / name
    assert main(["export", "--db", str(db), "--format", "camtrap-dp", "--out", str(out)]) == 0
    (dep,) = read_csv(out / "deployments.csv")
    with duckdb.connect(str(db), read_only=True) as con:
        (session,) = con.execute("SELECT session_id FROM sessions").fetchone() or ("",)
    return dep["deploymentComments"], str(session)


def test_deployment_comments_do_not_grow_over_two_round_trips(tmp_path, colour_run):
    first, _ = _round_trip(tmp_path, annotated_package(tmp_path / "pkg"), "out1")
    second, s2 = _round_trip(tmp_path, tmp_path / "out1", "out2")
    third, s3 = _round_trip(tmp_path, tmp_path / "out2", "out3")
    for comments in (first, second, third):
        assert comments.count(DEPLOYMENT["deploymentComments"]) == 1, comments
        assert comments.count("fieldtool session") == 1, comments
        assert comments.startswith(DEPLOYMENT["deploymentComments"] + "; "), comments
    # the note is this export's: its session and the package it ran
    assert f"fieldtool session {s2}, source {tmp_path / 'out1'}" in second, second
    assert f"fieldtool session {s3}, source {tmp_path / 'out2'}" in third, third
    # what else the note says is said once too, the same each time
    assert len(third) == len(second) + len(str(tmp_path / "out2")) - len(
        str(tmp_path / "out1")) + len(s3) - len(s2), (second, third)  # fmt: skip


def test_fieldtools_later_notes_are_said_once_too(tmp_path, colour_run):
    """A package whose period ends before its photos: fieldtool's "photos fall outside"
    note follows its session note; round trips say it once as well."""
    package = annotated_package(tmp_path / "pkg")
    rows = read_csv(package / "deployments.csv")
    rows[0]["deploymentEnd"] = "2026-06-01T11:00:00+02:00"  # before the first photo
    rows[0]["deploymentComments"] = "strapped to an oak; battery new"  # "; " inside theirs
    with (package / "deployments.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    said = [_round_trip(tmp_path, source, name)[0] for source, name in
            ((package, "out1"), (tmp_path / "out1", "out2"), (tmp_path / "out2", "out3"))]  # fmt: skip
    for comments in said:
        assert comments.startswith("strapped to an oak; battery new; fieldtool session "), said
        assert comments.count("fall outside the package's") == 1, comments
        assert comments.count("fieldtool session") == 1, comments
