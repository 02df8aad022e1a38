"""Scoring stored sessions: the labels come from the session, not from a model folder."""

from __future__ import annotations

import cv2
import pytest

from fieldtool.cli import main
from fieldtool.evaluate import evaluate_session, load_detections, read_truth
from fieldtool.gallery import UNKNOWN, Gallery
from fieldtool.model import load_model_folder, read_labels
from fieldtool.store import query

from .test_gallery import DRAW, SIZE, _model, augment, blobs, checker, unrelated

# Frames at 10 fps: 1 s of nothing enrolled, 1.5 s of each of two gallery species.
FPS = 10
SCHEDULE = (("unrelated", 1.0), ("Acer saccharum", 1.5), ("Acer rubrum", 1.5))
TRUTH = "species,start_s,end_s\nAcer saccharum,1.0,2.5\nAcer rubrum,2.5,4.0\n"
SMOOTHING = ("tau_s=0.2", "enter=0.5", "exit=0.3", "min_duration_s=0.3", "max_gap_s=0.5")


@pytest.fixture(scope="module")
def gallery_session(tmp_path_factory):
    """A session run with ``--gallery`` over a backbone whose labels.csv names only
    background: (db, session id, truth CSV, backbone folder, gallery)."""
    tmp = tmp_path_factory.mktemp("gallery-eval")
    backbone = _model(tmp / "tiny-dino", seed=0)
    gallery = Gallery(tmp / "site-gallery", create=True)
    model = load_model_folder(backbone)
    for species, draw in DRAW.items():
        gallery.enroll(backbone, species, [draw(0), draw(1)], embedding="cls+mean",
                       device="cpu", model=model)  # fmt: skip
    gallery.settings.threshold = 0.8
    gallery.save()
    draw = {"unrelated": lambda: unrelated()[0], "Acer saccharum": lambda: augment(blobs(2)),
            "Acer rubrum": lambda: augment(checker(2))}  # fmt: skip
    video = tmp / "walk.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIZE, SIZE))
    for name, seconds in SCHEDULE:
        frame = cv2.resize(draw[name](), (SIZE, SIZE))
        for _ in range(round(seconds * FPS)):
            writer.write(frame)
    writer.release()
    truth = tmp / "truth.csv"
    truth.write_text(TRUTH)
    db = tmp / "s.duckdb"
    settings = [arg for s in SMOOTHING for arg in ("--set", f"smoothing.{s}")]
    assert main(["run", str(video), "--gallery", str(gallery.path), "--model", str(backbone),
                 "--device", "cpu", "--sample-fps", str(FPS), "--db", str(db),
                 "--no-snapshots", "--quiet", *settings]) == 0  # fmt: skip
    session_id = query(db, "SELECT session_id FROM sessions").iloc[0, 0]
    return db, session_id, truth, backbone, gallery


def test_gallery_session_is_scored_over_its_own_species(gallery_session):
    from fieldtool.config import Config

    db, session_id, truth, backbone, gallery = gallery_session
    # The model folder the session names knows none of the gallery's species.
    assert read_labels(backbone / "labels.csv").species == ["background"]
    stored = query(db, "SELECT species FROM sightings ORDER BY first_seen").species.tolist()
    assert stored == ["Acer saccharum", "Acer rubrum"]
    labels = load_detections(db, session_id).labels
    assert sorted(labels.species) == sorted([*gallery.species, UNKNOWN])
    assert [label.species for label in labels.labels if label.is_background] == [UNKNOWN]
    row = query(db, "SELECT config_json FROM sessions WHERE session_id = ?", [session_id])
    config = Config.model_validate_json(row.config_json[0])
    scores = {s.name: s for s in evaluate_session(db, session_id, read_truth(truth),
                                                  config.smoothing)}  # fmt: skip
    assert scores["smoothed"].predicted == 2 and scores["smoothed"].f1 == pytest.approx(1.0)
    assert scores["smoothed+prior"].f1 == pytest.approx(1.0)
    assert scores["smoothed"].frame_top1 > 0.8  # "unknown" counts as background


def test_eval_command_on_a_gallery_session(gallery_session, capsys, tmp_path):
    db, session_id, truth, _, gallery = gallery_session
    assert main(["eval", "--db", str(db), "--session", session_id, "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    assert f"(gallery {gallery.path})" in out.splitlines()[0]
    smoothed = next(line.split() for line in out.splitlines() if line.startswith("smoothed "))
    assert float(smoothed[5]) == pytest.approx(1.0)  # F1
    # Scored from the store alone: the gallery folder may be gone.
    moved = tmp_path / "moved-gallery"
    gallery.path.rename(moved)
    try:
        assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    finally:
        moved.rename(gallery.path)
    assert capsys.readouterr().out.splitlines()[1:] == out.splitlines()[1:]


def test_truth_outside_the_sessions_frames_is_said(gallery_session, capsys, tmp_path):
    """A new-user trial found: truth for another span of the clip (a cut clip scored
    against the whole walk's truth) scored zeros without a word."""
    db, session_id, _, _, _ = gallery_session
    other = tmp_path / "other.csv"
    other.write_text("species,start_s,end_s\nAcer saccharum,1.0,2.5\nAcer rubrum,30.0,40.0\n"
                     "Acer rubrum,50.0,60.0\n")  # fmt: skip
    assert main(["eval", "--db", str(db), "--session", session_id, "--truth", str(other)]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "outside" in line]
    assert len(said) == 1 and said[0].startswith("fieldtool: warning: 2 of 3 truth"), err
    assert "other.csv" in said[0]
