"""A head that learnt nothing ("held-out accuracy 0.000 -> 0.000") is not written: the one
verdict of ``learn`` (:func:`fieldtool.learn.update.verdict`) refuses a head that is no
better than its parent on what is held out, says so in one line, and ``--force`` writes it
anyway."""

from __future__ import annotations

import json

import numpy as np

from fieldtool.cli import main
from fieldtool.learn.card import Scores
from tests.learn.conftest import write_species_photos


def scores(accuracy: float, f1: float, n: int = 6) -> Scores:
    return Scores(n, accuracy, f1)


def test_a_head_no_better_than_its_parent_is_refused():
    from fieldtool.learn.update import verdict

    accepted, why = verdict(scores(0.0, 0.0), scores(0.0, 0.0), "sightings", kept="kept")
    assert not accepted
    assert why == ("held-out accuracy 0.000 -> 0.000, macro F1 0.000 -> 0.000 on 6 sightings: "
                   "no better than the parent")  # fmt: skip
    assert not verdict(scores(0.5, 0.4), scores(0.5, 0.4), "photos")[0]
    assert not verdict(scores(0.5, 0.4), scores(0.5, 0.3), "photos")[0]  # same accuracy, worse F1
    accepted, why = verdict(scores(0.5, 0.4), scores(0.4, 0.5), "sightings")
    assert not accepted and why.startswith("held-out accuracy 0.400 < parent's 0.500")


def test_a_better_head_is_accepted_unless_it_loses_a_class_or_cannot_be_judged():
    from fieldtool.learn.update import verdict

    accepted, why = verdict(scores(0.5, 0.4), scores(0.5, 0.45), "sightings", kept="kept 12")
    assert accepted and why.endswith("on 6 sightings; kept 12")  # same accuracy, better F1
    assert verdict(scores(0.5, 0.4), scores(0.6, 0.3), "sightings")[0]
    assert verdict(scores(0.5, 0.4), scores(0.6, 0.5), "x", lost="it would lose 1") == (
        False, "it would lose 1")  # fmt: skip
    assert verdict(scores(0.5, 0.4), scores(0.6, 0.5), "x", unjudged="too little") == (
        False, "too little")  # fmt: skip


def test_learn_writes_no_head_that_learnt_nothing_unless_forced(old_model, tmp_path, capsys,
                                                                 monkeypatch):  # fmt: skip
    """Photos of two species the parent knows, and a fit that returns the parent's head (a
    learner that learnt nothing): the same held-out scores, so nothing is written."""
    import fieldtool.learn.update as update

    def learnt_nothing(feats, targets, classes, *, init, **kw):
        weight, bias = init
        assert classes == len(weight)  # no new species
        return np.array(weight), np.array(bias)

    monkeypatch.setattr(update, "fit_head", learnt_nothing)
    folder = write_species_photos(tmp_path / "photos", {"Acer rubrum": 12, "Quercus alba": 12})
    out = tmp_path / "new"
    args = ["learn", "--model", str(old_model), "-o", str(out), "--photos", str(folder),
            "--quiet"]  # fmt: skip
    assert main(args) == 1 and not out.exists()
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and printed.startswith("not written: held-out accuracy ")
    assert ": no better than the parent (--force writes it anyway)" in printed
    assert "on 6 photos" in printed
    assert main([*args, "--force"]) == 0 and out.is_dir()
    card = json.loads((out / "model_card.json").read_text())
    assert card["forced"] is True and card["accepted"] is False
    assert card["before"]["accuracy"] == card["after"]["accuracy"]
    assert card["reason"].endswith("no better than the parent")
