"""A review at genus level ("Acer sp.": a maple, species unknown) cannot teach a species
head: ``learn`` leaves its frames out and says how many in one line, and ``learn export``
does the same (no ``Acer_sp.`` class folder), rather than making "Acer sp." a class."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.cli import main
from fieldtool.learn.collect import LabelledFrame
from fieldtool.learn.export import export_confirmed
from fieldtool.learn.update import learn
from fieldtool.store import SightingStore, add_review
from fieldtool.types import FieldtoolError, SessionInfo, Sighting
from tests.learn.conftest import write_species_photos

T0 = datetime(2026, 6, 1, 9)
KNOWN = "Acer rubrum"  # a class of the old model
OTHER = "Quercus alba"


def frame(label: str, sighting: str = "s1", decision: str = "relabel") -> LabelledFrame:
    return LabelledFrame(sighting, "sess", label, "Acer rubrum", decision, Path("x.jpg"), "ab")


def test_species_level_leaves_out_genus_labels_unless_the_model_has_the_class():
    from fieldtool.learn.collect import species_level

    frames = [frame("Acer rubrum", decision="confirm"), frame("Acer sp.", "s2"),
              frame("Acer sp.", "s3", "confirm"), frame("Cornus", "s4"), frame("", "s5", "reject"),
              frame("Quercus × bebbiana", "s6"), frame("Salix sp.", "s7")]  # fmt: skip
    kept, out = species_level(frames, classes=["Acer rubrum", "Salix"])
    assert [f.sighting_id for f in kept] == ["s1", "s5", "s6", "s7"]  # Salix is a class
    assert [f.sighting_id for f in out] == ["s2", "s3", "s4"]
    kept, out = species_level(frames)  # no model (learn export): every genus left out
    assert [f.sighting_id for f in out] == ["s2", "s3", "s4", "s7"]


def _sighting(sid: str, session: str, species: str, start_s: float) -> Sighting:
    start = T0 + timedelta(seconds=start_s)
    return Sighting(sid, session, species, "", start, start + timedelta(seconds=5), start_s,
                    start_s + 5.0, frames=3, peak_score=0.9, score_sum=2.4, status="closed",
                    snapshot_path=f"snaps/{sid}.jpg")  # fmt: skip


# per session: (sighting, predicted, decision, relabelled to, the species its snapshot shows)
PLAN = (("0", KNOWN, "confirm", None, KNOWN), ("1", OTHER, "confirm", None, OTHER),
        ("2", KNOWN, "relabel", "Acer sp.", KNOWN), ("3", OTHER, "relabel", "Acer sp.", KNOWN),
        ("4", "Acer sp.", "confirm", None, KNOWN))  # fmt: skip


def reviewed_db(root: Path) -> Path:
    """Two sessions (snapshots: demo renders), each with a confirmed Acer rubrum and Quercus
    alba sighting, two sightings relabelled to the genus "Acer sp.", and a genus-level
    sighting ("Acer sp.", as smoothing writes it) confirmed: 6 reviews at genus level."""
    photos = write_species_photos(root / "renders", {KNOWN: 8, OTHER: 2})
    renders = {sp: sorted((photos / sp.replace(" ", "_")).iterdir()) for sp in (KNOWN, OTHER)}
    db = root / "db" / "s.duckdb"
    (db.parent / "snaps").mkdir(parents=True)
    store = SightingStore(db)
    for session in ("a", "b"):
        store.record_session(SessionInfo(session, f"{session}.mp4", "m", T0, status="finished"))
        for n, predicted, _, _, shows in PLAN:
            sid = session + n
            store.record_sighting(_sighting(sid, session, predicted, 10.0 * int(n)))
            shutil.copyfile(renders[shows].pop(), db.parent / "snaps" / f"{sid}.jpg")
    store.close()
    for session in ("a", "b"):
        for n, _, decision, species, _ in PLAN:
            add_review(db, session + n, decision, reviewer="t", species=species)
    return db


def test_learn_leaves_genus_reviews_out_and_says_how_many(old_model, tmp_path):
    db = reviewed_db(tmp_path)
    lines: list[str] = []
    result = learn(db, old_model, tmp_path / "new", log=lines.append)
    card = result.card
    assert "Acer sp." not in card.classes and card.new_classes == []
    assert "Acer sp." not in card.counts
    said = [line for line in lines if "genus" in line]
    assert len(said) == 1, lines
    assert said[0].startswith("left out: 6 frames of 6 sightings reviewed as a genus only")
    assert "Acer sp." in said[0]
    trained = sum(c["train_sightings"] + c["heldout_sightings"] for c in card.counts.values())
    assert trained == 4  # the confirms of species; 6 genus-level reviews left out


def test_learn_with_only_genus_reviews_says_so(old_model, tmp_path):
    db = reviewed_db(tmp_path)
    from fieldtool.store import connect

    with connect(db, read_only=False) as con:
        con.execute("DELETE FROM reviews WHERE sighting_id NOT IN "
                    "(SELECT sighting_id FROM reviews WHERE species = 'Acer sp.')")  # fmt: skip
    with pytest.raises(FieldtoolError, match=r"no reviewed sightings with frames to learn "
                                             r"from .*6 sightings reviewed as a genus only"):  # fmt: skip
        learn(db, old_model, tmp_path / "new")


def test_export_leaves_genus_reviews_out_and_says_so(tmp_path, capsys):
    db = reviewed_db(tmp_path)
    out = tmp_path / "export"
    lines: list[str] = []
    written = export_confirmed(db, out, log=lines.append)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["Acer_rubrum", "Quercus_alba"]
    with (out / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert written == len(rows) == 4 and {r["species"] for r in rows} == {KNOWN, OTHER}
    assert len(lines) == 1 and lines[0].startswith("left out: 6 frames of 6 sightings")
    # the command line: the count on stdout, the line on stderr
    again = tmp_path / "export2"
    assert main(["learn", "export", "--db", str(db), "-o", str(again)]) == 0
    said = capsys.readouterr()
    assert said.out.startswith("wrote 4 frames to ")
    assert said.err.count("\n") == 1 and "reviewed as a genus only" in said.err
