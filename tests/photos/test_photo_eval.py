"""``fieldtool eval`` of a photo session replays what the run did: each photo's scores on
their own (no moving average over photos, whatever ``smoothing.tau_s`` says)."""

from __future__ import annotations

from datetime import timedelta

from fieldtool.cli import main
from fieldtool.config import load_config
from fieldtool.evaluate import evaluate_session, read_truth
from fieldtool.store import query
from tests.photos.conftest import make_photo
from tests.photos.test_session import T0, _run_photos

# Eight photos of one event, a second apart, the two species by turns: a moving average
# over photos (tau_s 5 s) keeps the first species on top throughout.
TRUTH = "species,start_s,end_s\nAcer rubrum,0,7\nQuercus alba,0,7\n"


def test_eval_of_a_photo_session_replays_each_photo_on_its_own(tmp_path, labels, capsys):
    """Defect: eval replayed a photo session through the config's smoothing (tau_s 5 s),
    which the run never applied: its 'smoothed' rows described other sightings than the
    session's own."""
    folder = tmp_path / "trap"
    for n in range(8):
        make_photo(folder / f"P{n}.jpg", colour=n % 2, taken=T0 + timedelta(seconds=n),
                   offset="+00:00")  # fmt: skip
    result, db, _ = _run_photos(tmp_path, folder, labels, **{"smoothing.tau_s": 5.0})
    ran = sorted(s.species for s in result.sightings)
    assert ran == ["Acer rubrum", "Quercus alba"]  # each photo counted on its own
    truth_csv = tmp_path / "truth.csv"
    truth_csv.write_text(TRUTH)
    truth = read_truth(truth_csv)
    session_id = query(db, "SELECT session_id FROM sessions").iloc[0, 0]
    config = load_config(None, {"source.uri": str(folder), "smoothing.tau_s": 5.0})  # the run's
    rows = {r.name: r for r in evaluate_session(db, session_id, truth, config.smoothing)}
    assert rows["smoothed"].predicted == len(ran) and rows["smoothed"].recall == 1.0
    assert rows["smoothed+prior"].predicted == len(ran)
    per_photo = config.smoothing.model_copy(update={"tau_s": 0.0})
    assert evaluate_session(db, session_id, truth, per_photo) == list(rows.values())
    # the command (the session's stored settings) says the same
    assert main(["eval", "--db", str(db), "--session", session_id,
                 "--truth", str(truth_csv)]) == 0  # fmt: skip
    smoothed = next(line.split() for line in capsys.readouterr().out.splitlines()
                    if line.startswith("smoothed "))  # fmt: skip
    assert int(smoothed[1]) == len(ran)
