"""Photo folders in ``fieldtool batch``: each one session, as ``fieldtool run FOLDER`` makes
it, with the same sightings, media rows and detections."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import pytest

from fieldtool.cli import DEMO_DATA, main
from fieldtool.pipeline import run_from_config
from fieldtool.scale import run_batch
from fieldtool.scale.plan import PlanRow, batch_key, find_inputs, photos_sha256, with_hash
from fieldtool.store import query
from tests.camtrap.test_import_deployments import NORTH, SOUTH, two_deployment_package
from tests.camtrap.test_import_reviews import add_observations, observed_event
from tests.photos.conftest import RECONYX, make_photo
from tests.scale.conftest import demo_config

# Where the Reconyx photos have no GPS; batches of 4 photos: a batch of the 3 MP Reconyx
# frames (8.8 MB each, raw) fits the decode's share of the tests' small object store.
PLACE = {"position.lat": 51.18, "position.lon": 5.65, "model.batch_size": 4}
SIGHTINGS = (
    "SELECT species, first_t, last_t, frames, event_id, first_seen, last_seen, latitude, "
    "longitude, peak_score, mean_score FROM sightings JOIN sessions USING (session_id) "
    "WHERE source = ? ORDER BY first_t, species"
)
MEDIA = (
    "SELECT frame_index, path, event_id, captured_at, m.time_source, camera, m.latitude "
    "FROM media m "
    "JOIN sessions USING (session_id) WHERE source = ? ORDER BY frame_index"
)
SESSION = (
    "SELECT frames_read, frames_analysed, frames_positioned, time_source, time_zone, status, "
    "source_name, (SELECT count(*) FROM detections d WHERE d.session_id = s.session_id) AS det, "
    "(SELECT count(*) FROM track k WHERE k.session_id = s.session_id) AS track "
    "FROM sessions s WHERE source = ?"
)


def demo_photos(folder: Path, count: int = 24, second_event_from: int = 14) -> Path:
    """``count`` frames of the west demo walk as JPEGs with EXIF time (UTC+2) and GPS:
    5 s apart, a second event ten minutes after the first's last photo."""
    video = cv2.VideoCapture(str(DEMO_DATA / "walk_west.mp4"))
    frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    start = datetime(2026, 6, 1, 9, 0, 0)
    for k in range(count):
        video.set(cv2.CAP_PROP_POS_FRAMES, k * frames // count)
        ok, image = video.read()
        assert ok
        taken = start + timedelta(seconds=5 * k + (600 if k >= second_event_from else 0))
        make_photo(folder / f"plant_{k:02d}.jpg", image=image, taken=taken, offset="+02:00",
                   gps=(47.37 + k * 1e-4, 8.54))  # fmt: skip
    video.release()
    return folder


@pytest.fixture
def photo_root(tmp_path) -> Path:
    """``photos/traps`` (the ten Reconyx photos: one burst, no GPS) and ``photos/plants``
    (demo frames with GPS, two events)."""
    root = tmp_path / "photos"
    shutil.copytree(RECONYX, root / "traps")
    demo_photos(root / "plants")
    return root


def test_photo_folders_give_the_sightings_media_and_detections_run_gives(
    ray_local, photo_root, tmp_path, capsys
):
    run_db, batch_db = tmp_path / "run.duckdb", tmp_path / "batch.duckdb"
    folders = [str(photo_root / "plants"), str(photo_root / "traps")]
    for folder in folders:
        run_from_config(demo_config(run_db, **{"source.uri": folder, **PLACE}),
                        log=lambda message: None)  # fmt: skip
    capsys.readouterr()
    config = demo_config(batch_db)
    code = main(["batch", str(photo_root), "--db", str(batch_db), "--model",
                 str(config.model.path), "--ranges", str(config.prior.ranges[0]),
                 "--lat", "51.18", "--lon", "5.65", "--set", "model.batch_size=4"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 done, 0 skipped (done before), 0 failed" in out
    assert "0.000 h of video, 34 frames" in out  # photos are frames, not hours of video
    for folder in folders:
        ran, batched = query(run_db, SIGHTINGS, [folder]), query(batch_db, SIGHTINGS, [folder])
        exact = [c for c in ran.columns if not c.endswith("_score")]
        assert batched[exact].equals(ran[exact])
        for score in ("peak_score", "mean_score"):
            assert (batched[score] - ran[score]).abs().max() <= 1e-5 or ran.empty
        assert query(batch_db, MEDIA, [folder]).equals(query(run_db, MEDIA, [folder]))
        assert query(batch_db, SESSION, [folder]).equals(query(run_db, SESSION, [folder]))
    plants = query(batch_db, SIGHTINGS, [folders[0]])
    assert len(plants) >= 3 and plants.event_id.nunique() == 2  # sightings in both events
    assert plants.latitude.min() > 47  # placed by the photos' own GPS, not --lat
    media = query(batch_db, MEDIA, [folders[1]])
    assert len(media) == 10 and media.event_id.nunique() == 1 and media.latitude.isna().all()
    traps = query(batch_db, SESSION, [folders[1]])
    assert traps.det[0] == 10 and traps.frames_positioned[0] == 10  # by --lat/--lon

    # A manifest naming the same folders: done already (same photos, same settings).
    (photo_root / "manifest.csv").write_text("path\nplants\ntraps\n")
    again = run_batch(str(photo_root / "manifest.csv"), batch_db,
                      demo_config(batch_db, **PLACE), log=lambda message: None)  # fmt: skip
    assert again.skipped == folders and not again.files


def test_a_folder_plans_each_topmost_photo_folder_as_one_unit(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"video")
    for name in ("cam1/100RECNX/1.JPG", "cam1/100RECNX/2.JPG", "cam1/3.jpg", "cam2/x/4.png",
                 "cam2/x/._4.png", "notes/readme.txt"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(name.encode())
    rows = find_inputs(str(tmp_path))
    assert [(r.path, r.kind) for r in rows] == [
        (str(tmp_path / "cam1"), "photos"),  # with its 100RECNX folder, as `run cam1`
        (str(tmp_path / "cam2" / "x"), "photos"),
        (str(tmp_path / "clips" / "a.mp4"), "video"),
    ]
    (glob_row,) = find_inputs(str(tmp_path / "cam1" / "**" / "*.JPG"))
    assert glob_row == PlanRow(str(tmp_path / "cam1" / "**" / "*.JPG"), kind="photos")
    (one,) = find_inputs(str(tmp_path / "cam1" / "3.jpg"))
    assert one.kind == "photos"
    (tmp_path / "m.csv").write_text("path\ncam1\nclips/a.mp4\ncam2/x/*.png\n")
    assert [r.kind for r in find_inputs(str(tmp_path / "m.csv"))] == ["photos", "video", "photos"]


def test_a_photo_units_key_follows_its_photos(tmp_path):
    for name in ("a.jpg", "deep/b.jpg"):
        (tmp_path / "f" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "f" / name).write_bytes(name.encode())
    row = PlanRow(str(tmp_path / "f"), kind="photos").as_row()
    before = with_hash(row, "settings")
    assert before["content_sha256"] == photos_sha256(str(tmp_path / "f")) != ""
    assert with_hash(row, "settings") == before  # the same photos: the same key
    (tmp_path / "f" / "deep" / "b.jpg").write_bytes(b"retouched")
    retouched = with_hash(row, "settings")
    assert retouched["batch_key"] != before["batch_key"]
    (tmp_path / "f" / "c.jpg").write_bytes(b"one more")
    assert with_hash(row, "settings")["batch_key"] != retouched["batch_key"]
    assert with_hash(row, "other settings")["batch_key"] != with_hash(row, "settings")["batch_key"]


def test_a_package_of_several_deployments_plans_one_unit_each(tmp_path):
    """As ``fieldtool run`` makes one session per deployment: the input, and a manifest
    row naming it, plan a unit per deployment with local photos; a manifest's
    ``deployment`` column names one."""
    package = two_deployment_package(tmp_path / "pkg")
    rows = find_inputs(str(package))
    assert [(r.path, r.kind, r.deployment) for r in rows] == [
        (str(package), "photos", "dep-north"), (str(package), "photos", "dep-south")]  # fmt: skip
    keys = {with_hash(r.as_row(), "settings")["batch_key"] for r in rows}
    assert len(keys) == 2
    (tmp_path / "m.csv").write_text("path\npkg\n")
    assert [r.deployment for r in find_inputs(str(tmp_path / "m.csv"))] == [
        "dep-north", "dep-south"]  # fmt: skip
    (tmp_path / "one.csv").write_text("path,deployment\npkg,dep-south\n")
    assert [r.deployment for r in find_inputs(str(tmp_path / "one.csv"))] == ["dep-south"]
    # a package of one deployment: one unit, keyed as before (no deployment named)
    for photo in (package / "images" / "dep-south").iterdir():
        photo.unlink()
    (single,) = find_inputs(str(package))
    assert single.deployment == ""
    assert with_hash(single.as_row(), "s")["batch_key"] == batch_key(
        photos_sha256(str(package)), "s", PlanRow(str(package), kind="photos"))


def test_a_package_deployments_key_follows_what_its_run_reads(tmp_path):
    """Defect: each deployment's key hashed the whole package, so a photo retouched in one
    camera's folder ran every camera again. A deployment's key follows its own photos and
    rows (deployment, media, observations); the other deployments keep theirs."""
    package = two_deployment_package(tmp_path / "pkg")

    def keys() -> dict[str, str]:
        return {r.deployment: with_hash(r.as_row(), "settings")["batch_key"]
                for r in find_inputs(str(package))}  # fmt: skip

    before = keys()
    (package / "images" / "dep-north" / "IMG_0000.JPG").write_bytes(b"retouched")
    north = keys()
    assert north["dep-north"] != before["dep-north"]
    assert north["dep-south"] == before["dep-south"]
    with (package / "observations.csv").open("a", encoding="utf-8") as table:
        table.write("obs-1,dep-south,,,2026-06-01T09:00:00Z,2026-06-01T09:00:05Z,event,blank\n")
    south = keys()
    assert south["dep-south"] != north["dep-south"]  # the people's observations: reviews
    assert south["dep-north"] == north["dep-north"]
    # a deployment the package lacks: no hash (its decode says what is wrong), no crash
    row = PlanRow(str(package), kind="photos", deployment="dep-west").as_row()
    assert with_hash(row, "settings")["content_sha256"] == ""


def test_a_package_batch_gives_a_session_per_deployment(ray_local, tmp_path, capsys):
    """Each deployment its own session, and the people's observations (here: a blank over
    the south camera's photos) reviews of its sightings, as ``fieldtool run`` makes them."""
    package = two_deployment_package(tmp_path / "pkg")
    add_observations(package, [observed_event(1, SOUTH[0], "blank", "", SOUTH[-1])])
    db = tmp_path / "batch.duckdb"
    config = demo_config(db)
    code = main(["batch", str(package), "--db", str(db), "--model", str(config.model.path),
                 "--set", "model.batch_size=4"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured
    assert "2 done, 0 skipped (done before), 0 failed" in captured.out
    assert "in one session" not in captured.out + captured.err
    media = query(db, "SELECT source_name, count(*) AS n, (SELECT max(d.latitude) FROM "
                      "detections d WHERE d.session_id = s.session_id) AS lat FROM media m "
                      "JOIN sessions s USING (session_id) GROUP BY ALL ORDER BY ALL")  # fmt: skip
    assert media.values.tolist() == [["dep-north", NORTH[-1], NORTH[2]],
                                     ["dep-south", SOUTH[-1], SOUTH[2]]]  # fmt: skip
    reviews = query(db, "SELECT DISTINCT s.source_name, r.decision, r.reviewer FROM reviews r "
                        "JOIN sightings USING (sighting_id) JOIN sessions s USING (session_id)")
    assert reviews.values.tolist() == [["dep-south", "reject", "Ana Ruiz"]]
    assert "dep-south: 1 of the package's observations by people: 1 rejected" in captured.err
    settings = {"model.batch_size": 4, "prior.ranges": []}  # as the command line gave them
    again = run_batch(str(package), db, demo_config(db, **settings), log=lambda message: None)
    assert again.skipped == [f"{package} [deployment dep-north]",
                             f"{package} [deployment dep-south]"]  # fmt: skip
