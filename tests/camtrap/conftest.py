"""A sightings file with a camera-trap photo session (the 10 real Reconyx JPEGs of the
standard's example), a video walk and a session without any position; reviews (a confirm,
a relabel, a reject) in force. And the standard's folder served on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.store import SightingStore, add_review, config_json
from fieldtool.types import Position, SessionInfo, Sighting
from tests.conftest import SHARED_DATA

STANDARD = SHARED_DATA / "camtrap_dp"
EXAMPLE = STANDARD / "example"
REAL_PHOTOS = sorted((EXAMPLE / "media").glob("*.JPG"))
T0 = datetime(2021, 4, 11, 18, 43, 9)  # UTC; 20:43:09 in Brussels (CEST), the EXIF clock
TRAP = (51.0412, 4.4123)  # where the trap stood (sightings are placed there)
# Photo sequences: frame indices of each event.
EVENTS = {"ev1": range(0, 4), "ev2": range(4, 7), "ev3": range(7, 10)}


@dataclass
class Made:
    """What the fixture wrote, for the tests to compare with."""

    db: Path
    photo_session: str
    video_session: str
    unplaced_session: str
    reviewer: str


def _sighting(sid: str, session: str, species: str, first: datetime, last: datetime, *,
              event: str | None, score: float, place: tuple[float, float]) -> Sighting:  # fmt: skip
    return Sighting(
        sid, session, species, "", first, last, 0.0, (last - first).total_seconds(),
        frames=3, peak_score=min(1.0, score + 0.05), score_sum=3 * score, peak_t=0.0,
        latitude=place[0], longitude=place[1], model_id="colour-test", status="closed",
        event_id=event,
    )  # fmt: skip


@pytest.fixture
def store_file(tmp_path: Path) -> Made:
    assert len(REAL_PHOTOS) == 10, f"expected the 10 Reconyx JPEGs in {EXAMPLE / 'media'}"
    db = tmp_path / "s.duckdb"
    store = SightingStore(db)
    settings = config_json({"smoothing": {"exit": 0.3}})
    photos = SessionInfo("p" * 32, str(EXAMPLE / "media"), "colour-test", T0,
                         config_json=settings, status="finished", ended_at=T0 + timedelta(hours=1),
                         time_source="track-start", time_zone="Europe/Brussels",
                         source_name="trap-1")  # fmt: skip
    store.record_session(photos)
    store.record_species("Quercus alba", "white oak", "Quercus", "Fagaceae")
    for event, frames in EVENTS.items():
        for i in frames:
            when = T0 + timedelta(seconds=i)
            store.record_media(photos.session_id, i, str(REAL_PHOTOS[i]), when, event_id=event,
                               camera="RECONYX HF2 PRO", size=(2048, 1440),
                               time_source="exif-local")  # fmt: skip
            fused = (["Acer rubrum", "background"], [0.8, 0.1]) if event == "ev1" else (
                ["background", "Acer rubrum"], [0.9, 0.05])  # fmt: skip
            store.record_detection(photos.session_id, i, float(i), when, Position(*TRAP),
                                   fused, fused)  # fmt: skip
    first, last = T0, T0 + timedelta(seconds=3)
    store.record_sighting(_sighting("s-confirmed", photos.session_id, "Acer rubrum", first, last,
                                    event="ev1", score=0.8, place=TRAP))  # fmt: skip
    store.record_sighting(_sighting("s-machine", photos.session_id, "Quercus alba", first, last,
                                    event="ev1", score=0.6, place=TRAP))  # fmt: skip
    store.record_sighting(_sighting("s-relabelled", photos.session_id, "Acer rubrum",
                                    T0 + timedelta(seconds=4), T0 + timedelta(seconds=6),
                                    event="ev2", score=0.7, place=TRAP))  # fmt: skip
    store.record_sighting(_sighting("s-rejected", photos.session_id, "Pinus taeda",
                                    T0 + timedelta(seconds=4), T0 + timedelta(seconds=6),
                                    event="ev2", score=0.55, place=TRAP))  # fmt: skip
    # A video walk: no media rows, a GPS track about 110 m long, one sighting.
    walk_start = datetime(2026, 6, 1, 9)
    video = SessionInfo("v" * 32, "walk.mp4", "colour-test", walk_start, status="finished",
                        ended_at=walk_start + timedelta(minutes=5),
                        config_json=settings)  # fmt: skip
    store.record_session(video)
    for k in range(3):
        store.record_track(video.session_id, walk_start + timedelta(seconds=60 * k), 60.0 * k,
                           Position(44.0 + 0.0005 * k, -123.0))  # fmt: skip
    store.record_sighting(_sighting("s-video", video.session_id, "Quercus alba", walk_start,
                                    walk_start + timedelta(seconds=20), event=None, score=0.9,
                                    place=(44.0005, -123.0)))  # fmt: skip
    # Nowhere: a session without any position cannot be a deployment.
    store.record_session(SessionInfo("n" * 32, "nowhere.mp4", "colour-test", walk_start,
                                     status="finished"))  # fmt: skip
    store.close()
    reviewer = "Ana Reviewer"
    add_review(db, "s-confirmed", "confirm", reviewer=reviewer)
    add_review(db, "s-relabelled", "relabel", species="Pinus taeda", reviewer=reviewer,
               note="needles visible")  # fmt: skip
    add_review(db, "s-rejected", "reject", reviewer=reviewer)
    return Made(db, photos.session_id, video.session_id, "n" * 32, reviewer)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def standard_url() -> Iterator[str]:
    """The standard's profile and table schemas served on 127.0.0.1 (frictionless, from the
    dev extra: without it this fails, saying so)."""
    from fieldtool.camtrap import serve_standard

    with serve_standard(STANDARD) as base:
        yield base


def reconyx_package(folder: Path, *, with_files: bool = True) -> Path:
    """A Camtrap DP package of the 10 Reconyx JPEGs: one deployment with coordinates, one
    media row per photo pointing at its file in ``media/`` (times: the photos' EXIF clock,
    Brussels summer time)."""
    folder.mkdir(parents=True)
    (folder / "media").mkdir()
    start = datetime(2021, 4, 11, 20, 43, 9)
    media = []
    for i, photo in enumerate(REAL_PHOTOS):
        if with_files:
            shutil.copy(photo, folder / "media" / photo.name)
        stamp = (start + timedelta(seconds=i // 3)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
        media.append({"mediaID": f"m{i}", "deploymentID": "dep-1", "timestamp": stamp,
                      "filePath": f"media/{photo.name}", "filePublic": "false",
                      "fileName": photo.name, "fileMediatype": "image/jpeg"})  # fmt: skip
    _write(folder / "deployments.csv", [{
        "deploymentID": "dep-1", "latitude": str(TRAP[0]), "longitude": str(TRAP[1]),
        "coordinateUncertainty": "10", "deploymentStart": "2021-04-11T12:00:00+02:00",
        "deploymentEnd": "2021-04-12T12:00:00+02:00", "cameraModel": "Reconyx-HF2X"}])  # fmt: skip
    _write(folder / "media.csv", media)
    _write(folder / "observations.csv", [], ["observationID", "deploymentID", "mediaID",
           "eventID", "eventStart", "eventEnd", "observationLevel", "observationType"])  # fmt: skip
    descriptor = json.loads((EXAMPLE / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"] = descriptor["resources"][:3]
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    return folder


def _write(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    names = header or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def colour_run(monkeypatch, labels):
    """``fieldtool run`` with the colour classifier in place of a model (fast, and its
    species follow the photos' colours)."""
    from fieldtool.pipeline import inputs
    from tests.conftest import ColourClassifier

    monkeypatch.setattr(inputs, "classifier_from_config",
                        lambda config, log: ColourClassifier(labels))  # fmt: skip
