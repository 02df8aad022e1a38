"""Done-when of learning from reviews, on the demo world: a model never taught one species
plus reviews of demo walks -> a better model, measured on a walk nobody reviewed; and a
worse one refused."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from fieldtool.cli import main
from fieldtool.config import Config
from fieldtool.evaluate import evaluate_session, load_detections, read_truth
from fieldtool.learn.head import HeadSettings
from fieldtool.learn.update import learn
from fieldtool.model import load_model_folder
from fieldtool.store import query
from fieldtool.types import FieldtoolError
from tests.learn.conftest import (
    EVAL_SEEDS,
    HELDOUT_REVIEW_SEED,
    MISSING,
    LearnWorld,
    copy_db,
    render_accuracy,
    review_from_truth,
    run_walk,
    truth_rows,
)


@pytest.fixture(scope="module")
def learnt(learn_world: LearnWorld, tmp_path_factory):
    out = tmp_path_factory.mktemp("learnt") / "new-model"
    lines: list[str] = []
    result = learn(learn_world.db, learn_world.old_model, out, model_id="demo-12-learnt",
                   heldout_sessions=[learn_world.sessions[HELDOUT_REVIEW_SEED]],
                   log=lines.append)  # fmt: skip
    return result, out, lines


def _scores(db, session_id, walk):
    row = query(db, "SELECT config_json FROM sessions WHERE session_id = ?", [session_id])
    config = Config.model_validate_json(row.config_json[0])
    rows = evaluate_session(db, session_id, read_truth(f"{walk}_truth.csv"), config.smoothing)
    return {s.name: s for s in rows}["smoothed+prior"]


def _in_view_hits(db, session_id, truth) -> tuple[int, int]:
    """(frames whose top-1 after the prior is the species in view, frames with one in view)."""
    det = load_detections(db, session_id)
    names = det.labels.species
    hits = total = 0
    for t, probs in zip(det.t, det.fused, strict=True):
        seen = {iv.species for iv in truth if iv.start_s <= t <= iv.end_s}
        if seen:
            total += 1
            hits += names[int(np.argmax(probs))] in seen
    return hits, total


def test_frames_are_kept_for_each_closed_sighting(learn_world: LearnWorld):
    rows = query(learn_world.db, """
        SELECT f.*, s.first_t, s.last_t, s.snapshot_path FROM sighting_frames f
        JOIN sightings s USING (sighting_id)""")  # fmt: skip
    sightings = query(learn_world.db, "SELECT sighting_id FROM sightings")
    assert set(rows.sighting_id) == set(sightings.sighting_id)
    per = rows.groupby("sighting_id").size()
    assert per.max() <= 1 + Config().store.learn_frames and per.min() >= 2
    assert (rows.path == rows.snapshot_path).groupby(rows.sighting_id).sum().eq(1).all()
    assert ((rows.t >= rows.first_t - 1e-6) & (rows.t <= rows.last_t + 1e-6)).all()
    for r in rows.itertuples():
        data = (learn_world.db.parent / r.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r.sha256


def test_learning_from_reviews_finds_the_missing_species(learn_world: LearnWorld, learnt):
    result, out, _ = learnt
    assert result.written, result.message
    card = result.card
    assert card.new_classes == [MISSING]
    assert card.parent_model_id == "demo-11" and len(card.parent_sha256) == 64
    assert card.counts[MISSING]["train_sightings"] >= 2
    assert card.after.accuracy > card.before.accuracy
    written = json.loads((out / "model_card.json").read_text())
    assert written["heldout_sessions"] == [learn_world.sessions[HELDOUT_REVIEW_SEED]]
    assert (out / "MODEL_CARD.md").read_text().count(MISSING) >= 1

    # walks nobody reviewed, through the whole pipeline (smoothing, range prior), each model
    db = learn_world.root / "eval" / "eval.duckdb"
    db.parent.mkdir(exist_ok=True)
    for seed, walk in zip(EVAL_SEEDS, learn_world.eval_walks, strict=True):
        before = _scores(db, run_walk(db, walk, learn_world.old_model), walk)
        new_session = run_walk(db, walk, out)
        after = _scores(db, new_session, walk)
        found = query(db, "SELECT first_t, last_t FROM sightings WHERE session_id = ? "
                      "AND species = ?", [new_session, MISSING])  # fmt: skip
        (start, end), = [(a, b) for s, a, b in truth_rows(walk) if s == MISSING]
        print(f"\nheld-out walk (seed {seed}): F1 {before.f1:.3f} -> {after.f1:.3f}, "
              f"frame top-1 {before.frame_top1:.3f} -> {after.frame_top1:.3f}")
        assert after.f1 > before.f1
        assert ((found.first_t < end) & (found.last_t > start)).any(), found
    print(f"learn's held-out session: accuracy {card.before.accuracy:.3f} -> "
          f"{card.after.accuracy:.3f}, macro F1 {card.before.macro_f1:.3f} -> "
          f"{card.after.macro_f1:.3f}")

    # species no review touched (the west walk's: none was reviewed), through the pipeline:
    # frame top-1 after the prior, pooled over their frames, no worse by more than a point
    west = learn_world.west_walk
    truth = read_truth(f"{west}_truth.csv")
    assert not {iv.species for iv in truth} & set(card.counts)
    (old_hits, old_n), (new_hits, new_n) = (
        _in_view_hits(db, run_walk(db, west, model), truth)
        for model in (learn_world.old_model, out)
    )
    print(f"untouched species, west walk frames in view: top-1 {old_hits / old_n:.4f} -> "
          f"{new_hits / new_n:.4f} ({old_n} frames)")
    assert new_hits / new_n >= old_hits / old_n - 0.01

    # every class but the missing one, head alone (fresh renders, no prior, no smoothing)
    old_acc, new_acc = render_accuracy([learn_world.old_model, out])
    untouched = [n for n in old_acc if n not in card.counts and n != MISSING]
    others = [n for n in old_acc if n != MISSING]
    print("render top-1 per class, old -> new: " + ", ".join(
        f"{n}: {old_acc[n]:.2f}->{new_acc[n]:.2f}" for n in old_acc))  # fmt: skip
    for label, group in (("untouched", untouched), ("all but the missing one", others)):
        print(f"renders, {label} ({len(group)} classes), mean: "
              f"{np.mean([old_acc[n] for n in group]):.4f} -> "
              f"{np.mean([new_acc[n] for n in group]):.4f}")
    assert np.mean([new_acc[n] for n in others]) >= np.mean([old_acc[n] for n in others]) - 0.01
    # untouched classes' regions are kept: their look-alikes' rows may not take them over
    assert np.mean([new_acc[n] for n in untouched]) >= np.mean([old_acc[n] for n in untouched]) - 0.01
    assert new_acc[MISSING] > 0.3  # from 0 (never taught); chance is 1/13


def test_features_are_cached_by_frame_hash(learn_world: LearnWorld, learnt, tmp_path):
    _, _, first = learnt
    lines: list[str] = []
    learn(learn_world.db, learn_world.old_model, tmp_path / "again", log=lines.append,
          heldout_sessions=[learn_world.sessions[HELDOUT_REVIEW_SEED]])  # fmt: skip
    computed = [line for line in first if line.startswith("features:")]
    assert computed and " 0 cached" in computed[0]
    assert [line for line in lines if line.startswith("features:")][0].endswith(" 0 computed")


def test_a_worse_model_is_refused_unless_forced(learn_world: LearnWorld, tmp_path, capsys):
    """A careless reviewer relabels every sighting of the sessions learnt from as one
    species; a learner that follows reviews closely (low anchor) gets worse on the held-out
    session, which was reviewed with care: refused, unless forced."""
    db = copy_db(learn_world.db, tmp_path / "careless")
    for seed, session_id in learn_world.sessions.items():
        if seed != HELDOUT_REVIEW_SEED:
            truth = truth_rows(learn_world.walks[seed])
            review_from_truth(db, session_id, truth, {s: "Pinus taeda" for s, _, _ in truth})
    held = learn_world.sessions[HELDOUT_REVIEW_SEED]
    out = tmp_path / "worse"
    eager = HeadSettings(anchor=0.01)
    result = learn(db, learn_world.old_model, out, heldout_sessions=[held], settings=eager)
    print(f"\ncareless reviews: {result.message}")
    assert not result.written and not out.exists()
    assert result.message.startswith("not written: held-out accuracy")
    assert result.card.after.accuracy < result.card.before.accuracy
    forced = learn(db, learn_world.old_model, out, heldout_sessions=[held], force=True,
                   settings=eager)  # fmt: skip
    assert forced.written and load_model_folder(out).labels.species == forced.card.classes
    card = json.loads((out / "model_card.json").read_text())
    assert card["forced"] is True and card["accepted"] is False
    # the command line: exit status 1 and the one-line reason, nothing written; --force
    cli_out = tmp_path / "cli-worse"
    args = ["learn", "--db", str(db), "--model", str(learn_world.old_model), "-o", str(cli_out),
            "--heldout-session", held, "--anchor", "0.01", "--quiet"]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 1 and not cli_out.exists()
    printed = capsys.readouterr().out
    assert printed.startswith("not written: held-out accuracy") and printed.count("\n") == 1
    assert main([*args, "--force"]) == 0 and load_model_folder(cli_out).labels is not None


def test_a_database_moved_without_its_snapshots_says_where_the_frames_were(
    learn_world: LearnWorld, tmp_path
):
    # the reviews are there, the frames not beside the copy: say so, not "no reviews"
    moved = tmp_path / "moved" / learn_world.db.name
    moved.parent.mkdir()
    shutil.copyfile(learn_world.db, moved)
    with pytest.raises(FieldtoolError, match=r"are not where the database says .*move its "
                                             r"snapshot folders with it"):  # fmt: skip
        learn(moved, learn_world.old_model, tmp_path / "out")
