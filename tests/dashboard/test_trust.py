"""Model versions and the precision a user trusts (fieldtool.dashboard.trust), exactly."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fieldtool.dashboard.trust import TRUST_COLUMNS, load_model_versions, load_trust
from fieldtool.store import SightingStore
from fieldtool.store.reviews import add_review, undo_review
from fieldtool.types import SessionInfo, Sighting

T0 = datetime(2024, 5, 1, 12, 0, 0)


def _sighting(sid: str, session: str, species: str, model_id: str, k: int) -> Sighting:
    first = T0 + timedelta(minutes=k)
    return Sighting(
        sighting_id=sid, session_id=session, species=species, common_name="",
        first_seen=first, last_seen=first + timedelta(seconds=10), first_t=60.0 * k,
        last_t=60.0 * k + 10, frames=5, peak_score=0.8, score_sum=3.0, model_id=model_id,
        status="closed",
    )  # fmt: skip


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """m1 (sha aaa) ran s1 and s3 (no sightings); m2 (sha bbb) ran s2.

    s1: Acer rubrum a0..a5, "Acer rubrum L." a6 (one species, two spellings), Quercus alba
    q0, q1. s2: Acer rubrum b0, b1. Reviews in force: a0 confirm; a1 reject; a2 relabel to
    Quercus alba; a3 confirmed then undone (unreviewed); a5 confirmed then rejected; a6
    confirm; q0 relabel to "Quercus alba L." (the same species: confirmed); q1 relabel to
    Cornus florida (a species no model predicted); b0 confirm; a4, b1 none.
    """
    path = tmp_path_factory.mktemp("trust") / "trust.duckdb"
    store = SightingStore(path)
    end = T0 + timedelta(hours=1)
    store.record_session(SessionInfo("s1", "walk1.mp4", "m1", T0, model_sha256="aaa",
                                     ended_at=end, status="finished"))  # fmt: skip
    store.record_session(SessionInfo("s2", "walk2.mp4", "m2", T0 + timedelta(days=1),
                                     model_sha256="bbb", ended_at=end + timedelta(days=1),
                                     status="finished"))  # fmt: skip
    store.record_session(SessionInfo("s3", "walk3.mp4", "m1", T0 + timedelta(hours=3),
                                     model_sha256="aaa", ended_at=end + timedelta(hours=3),
                                     status="finished"))  # fmt: skip
    rows = [(f"a{i}", "s1", "Acer rubrum", "m1") for i in range(6)]
    rows += [("a6", "s1", "Acer rubrum L.", "m1"), ("q0", "s1", "Quercus alba", "m1"),
             ("q1", "s1", "Quercus alba", "m1"), ("b0", "s2", "Acer rubrum", "m2"),
             ("b1", "s2", "Acer rubrum", "m2")]  # fmt: skip
    for k, (sid, session, species, model) in enumerate(rows):
        store.record_sighting(_sighting(sid, session, species, model, k))
    assert store.flush().written
    for sid, decision, species in [
        ("a0", "confirm", None), ("a1", "reject", None), ("a2", "relabel", "Quercus alba"),
        ("a3", "confirm", None), ("a5", "confirm", None), ("a5", "reject", None),
        ("a6", "confirm", None), ("q0", "relabel", "Quercus alba L."),
        ("q1", "relabel", "Cornus florida"), ("b0", "confirm", None),
    ]:  # fmt: skip
        add_review(path, sid, decision, reviewer="ana", species=species)
    assert undo_review(path, "a3", reviewer="ana")[1] == "unreviewed"
    return path


def _row(table: pd.DataFrame, species: str) -> dict:
    found = table[table["species"] == species]
    assert len(found) == 1, f"{species}: {len(found)} rows"
    return found.iloc[0].to_dict()


def _counts(row: dict) -> tuple[int, ...]:
    keys = ("sightings", "confirmed", "relabelled_away", "rejected", "unreviewed", "reviewed",
            "relabelled_to", "names")  # fmt: skip
    return tuple(int(row[k]) for k in keys)


def test_trust_per_species_over_every_model(db: Path) -> None:
    table = load_trust(db)
    assert list(table.columns) == list(TRUST_COLUMNS)
    assert list(table["species"]) == ["Acer rubrum", "Quercus alba", "Cornus florida"]
    acer = _row(table, "Acer rubrum")  # the spelling with most sightings names the row
    # 9 machine sightings: a0 a6 b0 confirmed; a2 relabelled away; a1 a5 rejected;
    # a3 (review undone), a4, b1 unreviewed.
    assert _counts(acer) == (9, 3, 1, 2, 3, 6, 0, 2)
    assert acer["precision"] == pytest.approx(3 / 6)
    quercus = _row(table, "Quercus alba")  # q0 relabelled to a synonym spelling: confirmed
    assert _counts(quercus) == (2, 1, 1, 0, 0, 2, 1, 1)
    assert quercus["precision"] == pytest.approx(1 / 2)
    cornus = _row(table, "Cornus florida")  # only found by a reviewer
    assert _counts(cornus) == (0, 0, 0, 0, 0, 0, 1, 1)
    assert math.isnan(cornus["precision"])


def test_trust_of_one_model_version(db: Path) -> None:
    m1 = load_trust(db, ("m1", "aaa"))
    assert _counts(_row(m1, "Acer rubrum")) == (7, 2, 1, 2, 2, 5, 0, 2)
    m2 = load_trust(db, ("m2", "bbb"))
    assert list(m2["species"]) == ["Acer rubrum"]
    assert _counts(_row(m2, "Acer rubrum")) == (2, 1, 0, 0, 1, 1, 0, 1)
    assert _row(m2, "Acer rubrum")["precision"] == pytest.approx(1.0)
    assert load_trust(db, ("m1", "other sha")).empty


def test_model_versions(db: Path) -> None:
    versions = load_model_versions(db)
    assert list(zip(versions["model_id"], versions["model_sha256"], strict=True)) == [
        ("m1", "aaa"), ("m2", "bbb")]  # fmt: skip
    m1, m2 = (versions.iloc[i].to_dict() for i in range(2))
    # m1: 9 sightings, 7 reviewed in force (a3's undone), 3 confirmed (a0, a6, q0).
    assert (m1["sessions"], m1["sightings"], m1["reviewed"], m1["confirmed"]) == (2, 9, 7, 3)
    assert m1["precision"] == pytest.approx(3 / 7)
    assert pd.Timestamp(m1["first_used"]) == pd.Timestamp(T0)
    assert pd.Timestamp(m1["last_used"]) == pd.Timestamp(T0 + timedelta(hours=4))
    assert (m2["sessions"], m2["sightings"], m2["reviewed"], m2["confirmed"]) == (1, 2, 1, 1)
    assert pd.Timestamp(m2["first_used"]) == pd.Timestamp(T0 + timedelta(days=1))
