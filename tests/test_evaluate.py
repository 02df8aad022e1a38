"""Scoring stored sessions: the labels come from the session, not from a model folder."""

from __future__ import annotations

from pathlib import Path

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


# Stored sessions written directly (no model run): a model folder whose labels.csv spells
# species with their authors, as a PlantCLEF import does (trial 10d).
AUTHORED = ("Thuja plicata Donn ex D.Don", "Pinus taeda L.")


def _labels_folder(tmp_path):
    folder = tmp_path / "plantclef-model"
    folder.mkdir(exist_ok=True)
    rows = [f"{i},{name},,0" for i, name in enumerate(AUTHORED)]
    (folder / "labels.csv").write_text("index,species,common_name,is_background\n"
                                       + "\n".join([*rows, "2,background,,1"]) + "\n")  # fmt: skip
    return folder


def _store(db, model, sessions):
    """Write ``sessions`` into a fresh store: each (id, source, top species per frame:
    [(t, name)], photos: stored paths or None), started a minute apart in that order."""
    from datetime import datetime, timedelta

    import duckdb

    from fieldtool.config import Config
    from fieldtool.store import SightingStore

    SightingStore(db).close()
    con = duckdb.connect(str(db))
    t0 = datetime(2026, 6, 1, 9)
    for n, (sid, source, frames, photos) in enumerate(sessions):
        config = Config.model_validate({"source": {"uri": source}, "model": {"path": str(model)}})
        con.execute("INSERT INTO sessions (session_id, source, model_id, config_json, started_at, "
                    "status, time_source) VALUES (?, ?, 'm', ?, ?, 'finished', ?)",
                    [sid, source, config.model_dump_json(), t0 + timedelta(minutes=n),
                     "photos" if photos else "start-time"])  # fmt: skip
        for i, (t, top) in enumerate(frames):
            others = [name for name in (*AUTHORED, "background") if name != top]
            species, scores = [top, *others], [0.9, 0.06, 0.04]
            con.execute("INSERT INTO detections (session_id, frame_index, t, time, raw_species, "
                        "raw_scores, fused_species, fused_scores) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [sid, i, t, t0 + timedelta(seconds=t), species, scores, species, scores])  # fmt: skip
            if photos:
                con.execute("INSERT INTO media (session_id, frame_index, path) VALUES (?, ?, ?)",
                            [sid, i, photos[i]])  # fmt: skip
    con.close()


def _frames(top, seconds=4.0, fps=10, then="background", rest=4.0):
    """(t, top species) at ``fps``: ``top`` for ``seconds``, then ``then`` for ``rest``."""
    count = round((seconds + rest) * fps)
    return [(i / fps, top if i / fps < seconds else then) for i in range(count)]


def _row(out, name):
    return next(line.split() for line in out.splitlines() if line.startswith(f"{name} "))


def test_eval_matches_authored_labels_and_names_truth_species_the_model_lacks(tmp_path, capsys):
    """Trial 10d: labels "Thuja plicata Donn ex D.Don" against truth "Thuja plicata" scored
    0.000 everywhere, and a truth species the model cannot name was not said."""
    model = _labels_folder(tmp_path)
    db = tmp_path / "pc.duckdb"
    _store(db, model, [("s1", "/v/walk.mp4", _frames(AUTHORED[0]), None)])
    truth = tmp_path / "truth.csv"
    truth.write_text("species,start_s,end_s\nThuja plicata,0,3.95\n")
    assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    captured = capsys.readouterr()
    for name in ("raw", "smoothed", "smoothed+prior"):
        assert float(_row(captured.out, name)[5]) == pytest.approx(1.0), captured.out
    assert float(_row(captured.out, "raw")[6]) == pytest.approx(1.0)  # frame top-1
    assert "warning" not in captured.err, captured.err
    truth.write_text("species,start_s,end_s\nTHUJA PLICATA,0,4\nNotaspecies foo,4,8\n")
    assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    captured = capsys.readouterr()
    assert float(_row(captured.out, "smoothed")[4]) == pytest.approx(0.5)  # recall: 1 of 2
    said = [line for line in captured.err.splitlines() if "Notaspecies foo" in line]
    assert len(said) == 1 and "never be predicted" in said[0], captured.err
    assert "THUJA" not in said[0] and str(model / "labels.csv") in said[0]


def test_eval_of_photo_sets_matches_authored_labels(tmp_path, capsys):
    model = _labels_folder(tmp_path)
    db = tmp_path / "plots.duckdb"
    photos = ["/plots/a.jpg", "/plots/b.jpg"]
    _store(db, model, [("p1", "/plots", [(0.0, AUTHORED[0]), (1.0, AUTHORED[1])], photos)])
    truth = tmp_path / "plots_truth.csv"
    truth.write_text("photo,species\na.jpg,Thuja plicata\nb.jpg,Pinus taeda\n")
    assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    captured = capsys.readouterr()
    numbers = captured.out.splitlines()[-1].split()
    assert [float(x) for x in numbers[2:]] == pytest.approx([1.0] * 4), captured.out
    truth.write_text("photo,species\na.jpg,Thuja plicata;Abies grandis\nb.jpg,Pinus taeda\n")
    assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "Abies grandis" in line]
    assert len(said) == 1 and "never be predicted" in said[0], said


def _two_walks(tmp_path):
    model = _labels_folder(tmp_path)
    db = tmp_path / "demo.duckdb"
    _store(db, model, [("west1", "/data/walk_west.mp4", _frames(AUTHORED[0]), None),
                       ("east1", "/data/walk_east.mp4", _frames(AUTHORED[1]), None)])  # fmt: skip
    truth = tmp_path / "walk_west_truth.csv"
    truth.write_text("species,start_s,end_s\nThuja plicata,0,4\n")
    return db, truth


def test_eval_without_session_takes_the_walk_the_truth_file_is_named_for(tmp_path, capsys):
    """Trial 10d: the README's command (no --session) scored the latest session, walk_east,
    against walk_west's truth: F1 0.000 without a word."""
    db, truth = _two_walks(tmp_path)
    assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("session west1: /data/walk_west.mp4"), out
    assert float(_row(out, "smoothed")[5]) == pytest.approx(1.0)
    other = tmp_path / "truth.csv"  # names no session's source: which one is not guessed
    other.write_text(truth.read_text())
    assert main(["eval", "--db", str(db), "--truth", str(other)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, captured
    for text in ("west1", "/data/walk_west.mp4", "east1", "/data/walk_east.mp4", "--session"):
        assert text in lines[0], lines


def test_eval_without_session_prefers_the_longest_source_name(tmp_path, capsys):
    """Defect: walk.mp4 and walk_west.mp4 both prefix walk_west_truth.csv: refused, where
    the longer name is the walk meant."""
    model = _labels_folder(tmp_path)
    db = tmp_path / "demo.duckdb"
    _store(db, model, [("west1", "/data/walk_west.mp4", _frames(AUTHORED[0]), None),
                       ("walk1", "/data/walk.mp4", _frames(AUTHORED[1]), None)])  # fmt: skip
    truth = tmp_path / "walk_west_truth.csv"
    truth.write_text("species,start_s,end_s\nThuja plicata,0,4\n")
    assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "session west1: /data/walk_west.mp4", out
    walk = tmp_path / "walk_truth.csv"  # names walk.mp4 alone
    walk.write_text(truth.read_text())
    assert main(["eval", "--db", str(db), "--truth", str(walk)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "session walk1: /data/walk.mp4"


def test_eval_without_session_takes_the_latest_run_of_the_file_and_says_so(tmp_path, capsys):
    """Defect: one file run twice (two sessions of one source) was refused, where its
    latest session is meant; two files of one name in two folders still are."""
    model = _labels_folder(tmp_path)
    db = tmp_path / "demo.duckdb"
    _store(db, model, [("west1", "/data/walk_west.mp4", _frames(AUTHORED[1]), None),
                       ("east1", "/data/walk_east.mp4", _frames(AUTHORED[1]), None),
                       ("west2", "/data/walk_west.mp4", _frames(AUTHORED[0]), None)])  # fmt: skip
    truth = tmp_path / "walk_west_truth.csv"
    truth.write_text("species,start_s,end_s\nThuja plicata,0,4\n")
    assert main(["eval", "--db", str(db), "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("session west2: /data/walk_west.mp4"), out
    assert "latest of 2 sessions" in first and "west1" in first, first
    assert float(_row(out, "smoothed")[5]) == pytest.approx(1.0)
    other = tmp_path / "other.duckdb"
    _store(other, model, [("a1", "/a/walk_west.mp4", _frames(AUTHORED[0]), None),
                          ("b1", "/b/walk_west.mp4", _frames(AUTHORED[0]), None)])  # fmt: skip
    assert main(["eval", "--db", str(other), "--truth", str(truth)]) == 2
    err = capsys.readouterr().err
    assert "a1 (/a/walk_west.mp4)" in err and "b1 (/b/walk_west.mp4)" in err, err


def test_eval_says_when_no_truth_species_was_predicted(tmp_path, capsys):
    db, truth = _two_walks(tmp_path)
    assert main(["eval", "--db", str(db), "--session", "east1", "--truth", str(truth)]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "predicted" in line]
    assert len(said) == 1 and "Thuja plicata" in said[0] and "east1" in said[0], err
    assert main(["eval", "--db", str(db), "--session", "west1", "--truth", str(truth)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_run_with_a_gallery_stores_the_model_that_ran(gallery_session, tmp_path, capfd):
    """Trial 10d: ``run --gallery G --model M`` classified with G's own model but stored
    ``model.path = M``: the session's settings named a model that never ran."""
    from fieldtool.config import Config

    from .test_gallery import _model

    db, _, _, backbone, gallery = gallery_session
    other = _model(tmp_path / "other-model", seed=1)
    out_db = tmp_path / "other.duckdb"
    assert main(["run", str(db.parent / "walk.avi"), "--gallery", str(gallery.path),
                 "--model", str(other), "--device", "cpu", "--sample-fps", "2",
                 "--db", str(out_db), "--no-snapshots", "--quiet"]) == 0  # fmt: skip
    err = capfd.readouterr().err
    said = [line for line in err.splitlines() if str(other) in line]
    assert len(said) == 1 and "not used" in said[0], err
    stored = query(out_db, "SELECT config_json FROM sessions").config_json[0]
    assert Path(Config.model_validate_json(stored).model.path) == backbone.resolve()


def test_frame_top1_of_a_model_without_a_background_class_counts_frames_with_a_species():
    """Frames with no species in view expect "background": a model without that class
    can never be right there, so its frame top-1 is scored over the frames that show a
    species (and says how many), not capped below 1 by frames it could not get."""
    import numpy as np

    from fieldtool.evaluate import TruthInterval, score
    from fieldtool.types import Label, LabelSet

    t = np.arange(10, dtype=float)  # s; Acer in view 0-4 s, nothing after
    truth = [TruthInterval("Acer rubrum", 0.0, 4.0)]
    probs = np.zeros((10, 2))
    probs[:, 0] = 1.0  # always Acer: right on every frame that shows it
    plain = LabelSet((Label(0, "Acer rubrum L."), Label(1, "Thuja plicata")))
    scored = score("raw", [], t, probs, plain, truth)
    assert (scored.frame_top1, scored.frames) == (1.0, 5)
    with_background = LabelSet(plain.labels + (Label(2, "background", is_background=True),))
    probs3 = np.concatenate([probs, np.zeros((10, 1))], axis=1)
    scored = score("raw", [], t, probs3, with_background, truth)
    assert (scored.frame_top1, scored.frames) == (0.5, 10)  # the 5 empty frames: wrong
