"""Dashboard: loaders and filters, the offline map, snapshot paths, and the Streamlit app."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from fieldtool import dashboard as dash
from fieldtool import sqlbox
from fieldtool.store import SightingStore, add_review
from fieldtool.types import FieldtoolError, Position, SessionInfo, Sighting
from tests.conftest import REPO_ROOT

APP = REPO_ROOT / "streamlit_app.py"
T0 = datetime(2024, 5, 1, 12, 0, 0)
SPECIES = {
    "Acer rubrum": "red maple",
    "Quercus alba": "white oak",
    "Pinus taeda": "loblolly pine",
    "Cornus florida": "flowering dogwood",
}
LAYER_IDS = ["ocean", "land", "lakes", "rivers", "states", "countries", "tracks", "sightings"]


def _sighting(session: str, i: int, species: str, first: datetime, peak: float, **kw) -> Sighting:
    return Sighting(
        sighting_id=f"{session}-{i}",
        session_id=session,
        species=species,
        common_name=SPECIES[species],
        first_seen=first,
        last_seen=first + timedelta(seconds=20),
        first_t=(first - T0).total_seconds(),
        last_t=(first - T0).total_seconds() + 20,
        frames=10 + i,
        peak_score=peak,
        score_sum=(10 + i) * peak * 0.8,
        latitude=kw.pop("lat", 33.95 + 0.001 * i),
        longitude=kw.pop("lon", -83.38 + 0.001 * i),
        model_id="demo",
        status=kw.pop("status", "closed"),
        **kw,
    )


def build_db(folder: Path) -> Path:
    """The test database in ``folder`` (see :func:`db`); returns its path."""
    path = folder / "field.duckdb"
    snaps = folder / "field_snapshots" / "s1"
    snaps.mkdir(parents=True)
    Image.new("RGB", (32, 24), (30, 140, 60)).save(snaps / "s1-5.png")
    Image.new("RGB", (8, 8), (200, 0, 0)).save(folder.parent / "outside.png")

    store = SightingStore(path)
    s2_start = T0 + timedelta(hours=2)
    store.record_session(
        SessionInfo("s1", "/videos/walk.mp4", "demo", T0, ended_at=T0 + timedelta(minutes=30),
                    status="finished")
    )  # fmt: skip
    store.record_session(SessionInfo("s2", "rtsp://camera/stream", "demo", s2_start))
    # s1: minutes 0..5, peaks 0.50..0.90; s2: minutes 120..123, peaks 0.60..0.95.
    s1 = [
        "Acer rubrum",
        "Quercus alba",
        "Pinus taeda",
        "Acer rubrum",
        "Quercus alba",
        "Pinus taeda",
    ]
    for i, species in enumerate(s1):
        extra: dict = {}
        if i == 5:
            extra["snapshot_path"] = "field_snapshots/s1/s1-5.png"
        if i == 0:
            extra["snapshot_path"] = "../outside.png"
        store.record_sighting(
            _sighting("s1", i, species, T0 + timedelta(minutes=i), 0.5 + 0.08 * i, **extra)
        )
    s2 = ["Cornus florida", "Acer rubrum", "Cornus florida", "Quercus alba"]
    peaks = [0.6, 0.7, 0.95, 0.8]
    for i, species in enumerate(s2):
        extra = {"status": "open"} if i == 3 else {}
        if i == 2:  # no GPS fix: listed, not drawn
            extra.update(lat=None, lon=None)
        first = s2_start + timedelta(minutes=i)
        store.record_sighting(_sighting("s2", i, species, first, peaks[i], **extra))
    for k in range(30):
        store.record_track("s1", T0 + timedelta(seconds=20 * k), 20.0 * k,
                           Position(33.95 + 0.0003 * k, -83.38 + 0.0003 * k, source="gpx"))  # fmt: skip
    for k in range(10):  # a fixed position logged every frame: one point
        store.record_track("s2", s2_start + timedelta(seconds=k), float(k),
                           Position(34.0, -83.3, source="fixed"))  # fmt: skip
    here = Position(33.95, -83.38)
    # s1-2 (Pinus taeda, t 120..140): the classifier's best was Cornus florida, which the
    # range prior demoted. s1-5 (t 300..320): the prior agreed.
    for k in range(11):
        t = 120.0 + 2 * k
        store.record_detection(
            "s1", int(t * 10), t, T0 + timedelta(seconds=t), here,
            (["Cornus florida", "Pinus taeda", "Acer rubrum"], [0.55, 0.30, 0.10]),
            (["Pinus taeda", "Acer rubrum", "Cornus florida"], [0.62, 0.20, 0.08]),
        )  # fmt: skip
        t = 300.0 + 2 * k
        store.record_detection(
            "s1", int(t * 10), t, T0 + timedelta(seconds=t), here,
            (["Pinus taeda", "Acer rubrum", "Quercus alba"], [0.80, 0.10, 0.05]),
            (["Pinus taeda", "Acer rubrum", "Quercus alba"], [0.85, 0.08, 0.04]),
        )  # fmt: skip
    for k in range(5):  # s2 is running: its newest frames
        store.record_detection(
            "s2", k, float(k), s2_start + timedelta(seconds=k), Position(34.0, -83.3),
            (["Quercus alba", "Acer rubrum"], [0.7, 0.2]),
            (["Quercus alba", "Acer rubrum"], [0.75, 0.15]),
        )  # fmt: skip
    assert store.flush().written
    add_review(path, "s1-1", "confirm", reviewer="ana")
    add_review(path, "s2-1", "reject", reviewer="ben", note="bare ground")
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """s1: finished, 6 sightings (s1-5 has a snapshot, s1-0 one outside the folder); s2: running, 4.

    Reviews: s1-1 confirmed, s2-1 rejected. Detections: s1-2's frames (a species the range
    prior demoted), s1-5's, and s2's newest five.
    """
    return build_db(tmp_path_factory.mktemp("dash"))


# Loaders -----------------------------------------------------------------------------
def test_sessions_and_species(db: Path) -> None:
    sessions = dash.load_sessions(db)
    assert list(sessions["session_id"]) == ["s2", "s1"]
    assert list(sessions["status"]) == ["running", "finished"]
    species = dash.load_species(db)
    assert dict(zip(species["species"], species["sightings"], strict=True)) == {
        "Acer rubrum": 3, "Cornus florida": 2, "Pinus taeda": 2, "Quercus alba": 3,
    }  # fmt: skip
    assert set(dash.load_species(db, "s2")["species"]) == {"Cornus florida", "Acer rubrum",
                                                           "Quercus alba"}  # fmt: skip
    assert dash.load_time_bounds(db) == (T0, T0 + timedelta(hours=2, minutes=3, seconds=20))
    assert dash.load_time_bounds(db, "nope") is None


def test_sightings_filters_change_rows(db: Path) -> None:
    def ids(**kw) -> list[str]:
        frame = dash.load_sightings(db, dash.SightingFilter(**kw))
        return sorted(frame["sighting_id"])

    assert len(ids()) == 10
    assert ids(species=("Acer rubrum",)) == ["s1-0", "s1-3", "s2-1"]
    assert ids(species=("Acer rubrum", "Cornus florida")) == [
        "s1-0",
        "s1-3",
        "s2-0",
        "s2-1",
        "s2-2",
    ]
    assert ids(species=()) == []
    assert ids(min_score=0.8) == ["s1-4", "s1-5", "s2-2", "s2-3"]
    assert ids(session_id="s2") == ["s2-0", "s2-1", "s2-2", "s2-3"]
    # Overlap with [start, end]: s1-2 spans 12:02:00-12:02:20.
    assert ids(start=T0 + timedelta(minutes=2, seconds=10), end=T0 + timedelta(minutes=3)) == [
        "s1-2", "s1-3",
    ]  # fmt: skip
    assert ids(start=T0 + timedelta(hours=1)) == ["s2-0", "s2-1", "s2-2", "s2-3"]
    assert ids(end=T0 + timedelta(seconds=30)) == ["s1-0"]
    assert ids(session_id="s1", species=("Quercus alba",), min_score=0.6) == ["s1-4"]


def test_sightings_columns(db: Path) -> None:
    frame = dash.load_sightings(db, dash.SightingFilter(session_id="s1"))
    assert list(frame["first_seen"]) == sorted(frame["first_seen"], reverse=True)  # newest first
    assert (frame["duration_s"] == 20.0).all()
    table = dash.sightings_table(frame)
    assert list(table.columns) == [
        "Species", "Common name", "First seen (UTC)", "Last seen (UTC)", "Duration (s)",
        "Frames", "Peak score", "Mean score", "Latitude", "Longitude", "Status", "Review",
    ]  # fmt: skip
    assert dash.summarize(frame, dash.load_sessions(db)) == {
        "sightings": 6, "species": 3, "sessions": 2, "running": 1, "open": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ["x' OR '1'='1", "Acer rubrum' OR 1=1 --", "'); DROP TABLE sightings; --", "%", "*"],
)
def test_sql_injection_in_filters_matches_nothing(db: Path, text: str) -> None:
    assert dash.load_sightings(db, dash.SightingFilter(species=(text,))).empty
    assert dash.load_sightings(db, dash.SightingFilter(session_id=text)).empty
    assert dash.load_species(db, text).empty
    assert len(dash.load_sightings(db)) == 10  # table still there, unchanged


def test_tracks_as_paths(db: Path) -> None:
    tracks = dash.load_tracks(db)
    assert list(tracks["session_id"]) == ["s1", "s2"]
    s1, s2 = tracks["path"]
    assert len(s1) == 30 and s1[0] == [-83.38, 33.95]
    assert s1 == sorted(s1)  # time order: both coordinates increase
    assert s2 == [[-83.3, 34.0]]  # repeats of a fixed position collapse
    assert list(tracks["points"]) == [30, 1]
    thin = dash.load_tracks(db, "s1", max_points=7)
    assert len(thin) == 1 and len(thin["path"][0]) == 7
    assert thin["path"][0][0] == s1[0] and thin["path"][0][-1] == s1[-1]


def _copy(db: Path, folder: Path) -> Path:
    """A private copy of the shared database, for tests that write to it."""
    return Path(shutil.copy(db, folder / db.name))


def test_loaders_do_not_hold_the_file(db: Path, tmp_path: Path) -> None:
    db = _copy(db, tmp_path)
    dash.load_sightings(db)
    dash.load_tracks(db)
    store = SightingStore(db, lock_timeout_s=1.0)
    store.record_track("s2", T0 + timedelta(hours=3), 999.0, Position(34.0, -83.3))
    assert store.flush(timeout_s=1.0).written


def test_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    message = dash.database_problem(missing)
    assert message and "No sightings database" in message and str(missing) in message
    assert "is a folder" in (dash.database_problem(tmp_path) or "")
    with pytest.raises(FieldtoolError, match="not found"):
        dash.load_sightings(missing)


def test_db_path_from_args() -> None:
    env = {"FIELDTOOL_DB": "/data/env.duckdb"}
    assert dash.db_path_from_args(["--db", "a.duckdb"], env) == Path("a.duckdb")
    assert dash.db_path_from_args(["--db=b.duckdb"], env) == Path("b.duckdb")
    assert dash.db_path_from_args(["-x", "tests"], env) == Path("/data/env.duckdb")
    assert dash.db_path_from_args(["--db"], {}) == Path("sightings.duckdb")


def test_snapshot_paths(db: Path, tmp_path: Path) -> None:
    inside = dash.resolve_snapshot(db, "field_snapshots/s1/s1-5.png")
    assert inside.is_file() and inside.parent.parent.parent == db.resolve().parent
    for bad in ["../outside.png", "/etc/passwd", "field_snapshots/../../outside.png", ""]:
        with pytest.raises(FieldtoolError):
            dash.resolve_snapshot(db, bad)
    link = tmp_path / "link.png"
    link.symlink_to(db.parent.parent / "outside.png")
    with pytest.raises(FieldtoolError, match="outside"):
        dash.resolve_snapshot(tmp_path / "x.duckdb", "link.png")


# Map ---------------------------------------------------------------------------------
def test_deck_layers_and_points(db: Path) -> None:
    sightings = dash.load_sightings(db)
    deck = dash.build_deck(sightings, dash.load_tracks(db))
    assert [layer.id for layer in deck.layers] == LAYER_IDS
    scatter = deck.layers[-1]
    assert scatter.type == "ScatterplotLayer" and scatter.pickable
    assert len(scatter.data) == 9  # 10 sightings, one without a position
    assert deck.layers[-2].type == "PathLayer" and len(deck.layers[-2].data) == 2
    colors = {row["species"]: tuple(row["color"]) for row in scatter.data}
    assert len(set(colors.values())) == 4
    assert all(tuple(dash.species_color(s)) == c for s, c in colors.items())
    tooltip = deck._tooltip["text"]
    for field in ("species", "common_name", "first_seen", "last_seen", "peak", "frames"):
        assert "{" + field + "}" in tooltip
    filtered = dash.load_sightings(db, dash.SightingFilter(species=("Pinus taeda",)))
    assert len(dash.build_deck(filtered).layers[-1].data) == 2


def test_deck_json_is_offline(db: Path) -> None:
    spec = dash.build_deck(dash.load_sightings(db), dash.load_tracks(db)).to_json()
    assert not re.search(r"https?://", spec)
    data = json.loads(spec)
    assert data.get("mapProvider") is None
    # Streamlit's marker for "no basemap"; a missing style makes it fetch Carto's.
    assert data["mapStyle"] == "__MAP_STYLE__"
    layers = {layer["id"]: layer for layer in data["layers"]}
    assert layers["land"]["data"]["features"]  # basemap shipped inline, not fetched
    assert layers["sightings"]["radiusUnits"] == "pixels"


def test_initial_view() -> None:
    columns = ["sighting_id", "species", "common_name", "first_seen", "last_seen",
               "peak_score", "frames", "status", "latitude", "longitude"]  # fmt: skip
    view = dash.build_deck(pd.DataFrame(columns=columns)).initial_view_state
    assert (view.latitude, view.longitude, view.zoom) == dash.US_VIEW
    fit = dash.fit_view([(-83.4, 33.9), (-83.3, 34.0)])
    assert 33.9 < fit.latitude < 34.0 and -83.4 < fit.longitude < -83.3
    assert 9 <= fit.zoom <= 13
    wide = dash.fit_view([(-123.0, 44.9), (-83.4, 33.9)])  # Oregon to Georgia
    assert 2 <= wide.zoom <= 5


# Reviews, species, exports, live, SQL ----------------------------------------------------
def test_review_state_filter(db: Path) -> None:
    def ids(review: str | None) -> list[str]:
        frame = dash.load_sightings(db, dash.SightingFilter(review=review))
        return sorted(frame["sighting_id"])

    assert ids("confirm") == ["s1-1"]
    assert ids("reject") == ["s2-1"]
    assert ids("relabel") == []
    assert ids("reviewed") == ["s1-1", "s2-1"]
    assert len(ids("unreviewed")) == 8 and len(ids(None)) == 10
    frame = dash.load_sightings(db).set_index("sighting_id")
    assert frame.loc["s2-1", "reviewer"] == "ben" and frame.loc["s2-1", "review_species"] == (
        "Acer rubrum"
    )  # rejecting keeps the predicted species beside the decision
    with pytest.raises(FieldtoolError, match="review filter"):
        dash.load_sightings(db, dash.SightingFilter(review="maybe"))


def test_database_without_reviews_table(db: Path, tmp_path: Path) -> None:
    import duckdb

    old = _copy(db, tmp_path)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP TABLE reviews")
    frame = dash.load_sightings(old)
    assert len(frame) == 10 and frame["review"].isna().all()
    assert len(dash.load_review_queue(old)) == 9  # every closed sighting


def test_review_queue_and_prior_changes(db: Path) -> None:
    queue = dash.load_review_queue(db)
    # Closed, unreviewed, newest first: s2-3 is open, s1-1 and s2-1 are reviewed.
    assert list(queue["sighting_id"]) == ["s2-2", "s2-0", "s1-5", "s1-4", "s1-3", "s1-2", "s1-0"]
    only_s1 = dash.load_review_queue(db, dash.SightingFilter(session_id="s1", review="reject"))
    assert list(only_s1["sighting_id"]) == ["s1-5", "s1-4", "s1-3", "s1-2", "s1-0"]

    s12 = queue.set_index("sighting_id").loc["s1-2"]
    alts = dash.load_alternatives(db, "s1", s12["first_t"], s12["last_t"])
    assert list(alts["species"]) == ["Pinus taeda", "Acer rubrum", "Cornus florida"]
    dogwood = alts.set_index("species").loc["Cornus florida"]
    assert (dogwood["raw_rank"], dogwood["fused_rank"]) == (1, 3)
    assert dogwood["raw_mean"] == pytest.approx(0.55) and dogwood["fused_mean"] == pytest.approx(
        0.08
    )
    assert int(alts["frames"].iloc[0]) == 11
    changes = dash.prior_changes(alts, "Pinus taeda")
    assert (
        len(changes) == 1 and changes[0].startswith("Cornus florida:") and "demoted" in changes[0]
    )

    s15 = queue.set_index("sighting_id").loc["s1-5"]
    agreed = dash.load_alternatives(db, "s1", s15["first_t"], s15["last_t"])
    assert dash.prior_changes(agreed, "Pinus taeda") == []
    assert dash.load_alternatives(db, "s1", 1000.0, 1100.0).empty  # no frames stored there


def test_save_review_never_changes_the_sighting(db: Path, tmp_path: Path) -> None:
    db = _copy(db, tmp_path)
    before = dash.load_sightings(db).set_index("sighting_id").loc["s1-2"]
    add_review(db, "s1-2", "relabel", reviewer="zoe", species="Cornus florida")
    after = dash.load_sightings(db).set_index("sighting_id").loc["s1-2"]
    assert after["species"] == before["species"] == "Pinus taeda"
    assert (after["review"], after["review_species"], after["reviewer"]) == (
        "relabel", "Cornus florida", "zoe",
    )  # fmt: skip
    assert "s1-2" not in set(dash.load_review_queue(db)["sighting_id"])
    with pytest.raises(FieldtoolError, match="reviewer"):
        add_review(db, "s1-3", "confirm", reviewer=" ")

    # A reader in this process (another tab refreshing) blocks the write for a moment only.
    import threading

    import duckdb

    reader = duckdb.connect(str(db), read_only=True)
    threading.Timer(0.3, reader.close).start()
    add_review(db, "s1-3", "confirm", reviewer="zoe", timeout_s=5.0)
    assert dash.load_sightings(db).set_index("sighting_id").loc["s1-3", "review"] == "confirm"


def test_species_summary_and_accumulation(db: Path) -> None:
    sightings = dash.load_sightings(db)
    reviewed = dash.apply_reviews(sightings)
    assert "s2-1" not in set(reviewed["sighting_id"]) and len(reviewed) == 9
    summary = dash.species_summary(reviewed).set_index("species")
    assert summary["sightings"].to_dict() == {
        "Quercus alba": 3, "Acer rubrum": 2, "Cornus florida": 2, "Pinus taeda": 2,
    }  # fmt: skip
    assert summary.loc["Cornus florida", "first_seen"] == T0 + timedelta(hours=2)
    assert summary.loc["Acer rubrum", "last_seen"] == T0 + timedelta(minutes=3, seconds=20)

    curve = dash.accumulation_curve(sightings, dash.load_sessions(db))
    assert curve.iloc[0].tolist() == [0.0, 0]
    assert curve["species"].is_monotonic_increasing and curve["survey_min"].is_monotonic_increasing
    assert curve["species"].iloc[-1] == 4
    # s1 runs 30 min; s2 (running) from its start to its last sighting, 3 min 20 s.
    assert curve["survey_min"].iloc[-1] == pytest.approx(30 + 200 / 60)
    first_dogwood = curve[curve["species"] == 4]["survey_min"].min()
    assert first_dogwood == pytest.approx(30.0)  # s2's first minute, right after s1's 30
    assert dash.accumulation_curve(sightings.iloc[0:0], dash.load_sessions(db)).shape == (1, 2)


def test_exports_have_the_filtered_rows(db: Path) -> None:
    import io

    filters = dash.SightingFilter(species=("Cornus florida", "Quercus alba"))
    sightings = dash.load_sightings(db, filters)
    csv = pd.read_csv(io.BytesIO(dash.export_csv(sightings)))
    assert sorted(csv["sighting_id"]) == ["s1-1", "s1-4", "s2-0", "s2-2", "s2-3"]
    assert csv.loc[csv["sighting_id"] == "s1-1", "review"].item() == "confirm"
    assert csv["first_seen"].str.endswith("Z").all()
    geo = dash.export_geojson(sightings)
    json.dumps(geo, allow_nan=False)  # plain JSON
    features = {f["properties"]["sighting_id"]: f for f in geo["features"]}
    assert sorted(features) == sorted(csv["sighting_id"])
    assert features["s2-2"]["geometry"] is None  # no GPS fix
    lon, lat = features["s1-4"]["geometry"]["coordinates"]
    assert (lat, lon) == pytest.approx((33.954, -83.376))
    assert features["s1-4"]["properties"]["first_seen"] == "2024-05-01T12:04:00Z"


def test_live_loader(db: Path) -> None:
    sessions, newest, recent = dash.load_live(db, since=T0 + timedelta(hours=2, minutes=2))
    assert list(sessions["session_id"]) == ["s2"]  # only running sessions
    row = next(sessions.itertuples(index=False))
    assert row.frames_logged == 5 and dash.analysis_rate(row) == pytest.approx(5 / 4)
    assert list(newest["frame_index"]) == [4] and list(newest["raw_species"].iloc[0]) == [
        "Quercus alba", "Acer rubrum",
    ]  # fmt: skip
    assert sorted(recent["sighting_id"]) == ["s2-2", "s2-3"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM sightings; DELETE FROM sightings",
        "DELETE FROM sightings",
        "DROP TABLE sightings",
        "UPDATE sightings SET species = 'x'",
        "INSERT INTO reviews SELECT * FROM reviews",
        "CREATE TABLE x AS SELECT 1",
        "ATTACH '/tmp/other.duckdb' AS other",
        "COPY sightings TO '/tmp/out.csv'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA database_list",
        "SET enable_external_access = true",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('data.csv')",
        "SELECT * FROM read_parquet('s3://bucket/x.parquet')",
        "select * from READ_TEXT('/etc/hostname')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'sightings.csv'",
        "SELECT * FROM glob('*')",
        "SELECT * FROM sightings WHERE snapshot_path = 'https://example.org/x.jpg'",
        "SELECT $$/etc/passwd$$",
        "WITH x AS (SELECT 1) DELETE FROM sightings",
        "SELECT 1 /* unterminated",
        "",
    ],
)
def test_sql_refused(db: Path, sql: str) -> None:
    with pytest.raises(FieldtoolError, match="Refused|SQL error|Enter a query"):
        dash.run_readonly_sql(db, sql)
    assert len(dash.load_sightings(db)) == 10


@pytest.mark.parametrize(
    "sql, rows",
    [
        ("SELECT species, count(*) AS n FROM sightings GROUP BY species", 4),
        ("WITH c AS (SELECT * FROM sightings WHERE status = 'closed') SELECT * FROM c", 9),
        ("DESCRIBE sightings", "columns of sightings"),
        ("SHOW TABLES", "tables and views"),
        ("SUMMARIZE reviews", "columns of reviews"),
        ("select * from sightings where species = 'Acer rubrum' -- read_csv('/x')\n", 3),
        ('SELECT 1 AS "copy";', 1),
        # a lone separator is no path: the last part of a snapshot path
        ("SELECT split_part(snapshot_path, '/', -1) FROM sightings", 10),
    ],
)
def test_sql_allowed(db: Path, sql: str, rows: int | str) -> None:
    frame, truncated = dash.run_readonly_sql(db, sql)
    schema = dash.load_schema(db)
    if isinstance(rows, str) and rows.startswith("columns of "):
        rows = int((schema["table_name"] == rows.removeprefix("columns of ")).sum())
    elif rows == "tables and views":
        rows = schema["table_name"].nunique()
    assert len(frame) == rows and not truncated


def test_sql_engine_refuses_files_even_past_the_check(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlbox, "check_readonly_sql", lambda sql: sql)
    for sql in ["SELECT * FROM read_csv('/etc/hostname')", "DELETE FROM sightings",
                "ATTACH ':memory:' AS m2; SELECT 1"]:  # fmt: skip
        with pytest.raises(FieldtoolError):
            dash.run_readonly_sql(db, sql)
    assert len(dash.load_sightings(db)) == 10


def test_sql_row_and_time_limits(db: Path) -> None:
    frame, truncated = dash.run_readonly_sql(db, "SELECT * FROM range(5000)", max_rows=100)
    assert len(frame) == 100 and truncated
    with pytest.raises(FieldtoolError, match="stopped after"):
        dash.run_readonly_sql(
            db,
            "SELECT sum(a.range * b.range) FROM range(200000) a, range(200000) b",
            time_limit_s=0.3,
        )


# App ---------------------------------------------------------------------------------
@pytest.fixture
def app(db: Path, monkeypatch: pytest.MonkeyPatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FIELDTOOL_DB", str(db))
    return AppTest.from_file(str(APP), default_timeout=30)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_app_runs_and_filters(app) -> None:
    at = app.run()
    assert not at.exception
    assert not at.error
    assert _metrics(at) == {
        "Sightings": "10", "Species": "4", "Sessions": "2", "Running sessions": "1",
    }  # fmt: skip
    assert len(at.dataframe[0].value) == 10
    assert len(at.get("deck_gl_json_chart")) == 1
    assert at.image  # newest sighting with a snapshot, inside the folder (s1-5)

    at.sidebar.multiselect[0].select("Cornus florida").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 2
    assert _metrics(at)["Species"] == "1"

    at.sidebar.selectbox[0].select("s1").run()
    assert not at.exception
    # No dogwood in s1: the species list has no such option, so the filter is cleared.
    assert at.sidebar.multiselect[0].value == []
    assert len(at.dataframe[0].value) == 6
    assert _metrics(at)["Sessions"] == "1" and _metrics(at)["Running sessions"] == "0"
    at.sidebar.multiselect[0].select("Acer rubrum").run()
    assert len(at.dataframe[0].value) == 2

    at.sidebar.multiselect[0].set_value([]).run()
    score = next(s for s in at.sidebar.slider if s.label == "Minimum peak score")
    score.set_value(0.8).run()
    assert len(at.dataframe[0].value) == 2  # s1-4, s1-5


def test_app_refuses_snapshot_outside_folder(app) -> None:
    at = app.run()
    at.selectbox(key="snapshot_sighting").select("s1-0").run()
    assert not at.exception
    assert not at.image
    assert any("outside" in e.value for e in at.error)


def test_app_shows_new_sightings_on_rerun(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    db = _copy(db, tmp_path)
    monkeypatch.setenv("FIELDTOOL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    before = int(_metrics(at)["Sightings"])
    store = SightingStore(db, lock_timeout_s=2.0)
    store.record_sighting(
        _sighting("s2", 9, "Pinus taeda", T0 + timedelta(hours=2, minutes=5), 0.9, status="open")
    )
    assert store.flush().written
    at.run()
    assert int(_metrics(at)["Sightings"]) == before + 1
    assert "open" in list(at.dataframe[0].value["Status"])


def test_app_missing_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FIELDTOOL_DB", str(tmp_path / "missing.duckdb"))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert len(at.error) == 1 and "No sightings database" in at.error[0].value
    assert not at.metric and not at.dataframe


def test_app_shows_a_database_written_after_it_started(tmp_path: Path, monkeypatch) -> None:
    """Started before the session that writes the file (live use): the page says it waits,
    then shows the file once it is there, without a restart."""
    from streamlit.testing.v1 import AppTest

    folder = tmp_path / "later"
    folder.mkdir()
    monkeypatch.setenv("FIELDTOOL_DB", str(folder / "field.duckdb"))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert "once a session writes it" in at.error[0].value
    assert not at.metric
    build_db(folder)
    at.run()
    assert not at.exception and not at.error
    assert int(_metrics(at)["Sightings"]) > 0


def _page(at, name: str):
    return at.switch_page(f"fieldtool/dashboard/screens/{name}.py").run()


def test_app_every_page_renders(app) -> None:
    at = app.run()
    for name, title in [("review", "Review queue"), ("species", "Species"),
                        ("live", "Live session"), ("sql", "SQL"), ("models", "Models"), ("map", "fieldtool sightings")]:  # fmt: skip
        _page(at, name)
        assert not at.exception, name
        assert not at.error, name
        assert [t.value for t in at.title] == [title]


def test_app_filters_from_and_to_url(app) -> None:
    app.query_params.update(
        {"session": "s1", "species": ["Acer rubrum", "Pinus taeda"], "min_score": "0.6",
         "start": "2024-05-01T12:01:00"}
    )  # fmt: skip
    at = app.run()
    assert not at.exception
    assert sorted(at.dataframe[0].value["Species"]) == ["Acer rubrum", "Pinus taeda", "Pinus taeda"]
    assert at.sidebar.selectbox[0].value == "s1"
    at.sidebar.selectbox(key="f_review").select("unreviewed").run()
    assert at.query_params["review"] == "unreviewed"
    assert at.query_params["species"] == ["Acer rubrum", "Pinus taeda"]
    _page(at, "sql")
    _page(at, "map")  # filters survive a page switch
    assert len(at.dataframe[0].value) == 3 and at.query_params["session"] == "s1"
    at.sidebar.multiselect[0].set_value([]).run()
    assert "species" not in at.query_params


def test_app_review_is_stored_and_leaves_the_queue(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    db = _copy(db, tmp_path)
    monkeypatch.setenv("FIELDTOOL_DB", str(db))
    at = _page(AppTest.from_file(str(APP), default_timeout=30).run(), "review")
    queue = at.selectbox(key="review_pick")
    assert len(queue.options) == 7 and queue.value == "s2-2"  # newest first
    assert at.button(key="review_confirm").disabled  # no reviewer name yet
    queue.select("s1-2").run()
    assert any("Cornus florida" in w.value and "demoted" in w.value for w in at.warning)
    assert at.selectbox(key="relabel_s1-2").value is None  # no species chosen in advance
    at.text_input(key="reviewer").input("zoe").run()
    at.button(key="review_relabel").click().run()
    assert "Choose the species" in at.error[0].value
    at.selectbox(key="relabel_s1-2").select("Cornus florida").run()
    at.text_input(key="note_s1-2").input("flowers visible")
    at.button(key="review_relabel").click().run()  # the L key: asks, stores nothing
    assert not at.exception
    assert any("Relabel this Pinus taeda sighting" in w.value for w in at.warning)
    assert "s1-2" in set(dash.load_review_queue(db)["sighting_id"])
    at.button(key="review_relabel_yes").click().run()
    assert not at.exception and not at.error
    assert "Relabelled" in at.success[0].value
    assert "s1-2" not in set(dash.load_review_queue(db)["sighting_id"])
    assert len(at.selectbox(key="review_pick").options) == 6
    review = dash.load_sightings(db).set_index("sighting_id").loc["s1-2"]
    assert (review["species"], review["review"], review["review_species"], review["reviewer"]) == (
        "Pinus taeda", "relabel", "Cornus florida", "zoe",
    )  # fmt: skip
    at.button(key="review_reject").click().run()  # the newest (s2-2)
    assert dash.load_sightings(db).set_index("sighting_id").loc["s2-2", "review"] == "reject"
    assert len(at.selectbox(key="review_pick").options) == 5
    assert at.selectbox(key="review_pick").value == "s2-0"
    at.button(key="review_skip").click().run()
    assert at.selectbox(key="review_pick").value == "s1-5"

    rows_before = dash.run_readonly_sql(db, "SELECT * FROM reviews")[0]
    at.button(key="review_undo").click().run()  # takes back the reject of s2-2
    assert not at.exception and "Undone" in at.success[0].value
    assert "s2-2" in set(dash.load_review_queue(db)["sighting_id"])
    at.button(key="review_undo").click().run()  # then the relabel of s1-2
    assert "s1-2" in set(dash.load_review_queue(db)["sighting_id"])
    rows_after = dash.run_readonly_sql(db, "SELECT * FROM reviews")[0]
    assert set(rows_before["review_id"]) < set(rows_after["review_id"])  # nothing deleted
    assert len(rows_after) == len(rows_before) + 2
    assert set(rows_after["supersedes"].dropna()) == set(
        rows_before.loc[rows_before["reviewer"] == "zoe", "review_id"]
    )


def test_relabel_accepts_known_names_or_an_explicit_new_species() -> None:
    from fieldtool.dashboard.reviews import resolve_relabel

    known = {"Acer rubrum": "red maple (Acer rubrum)", "Cornus florida": "Cornus florida"}
    assert resolve_relabel("Acer rubrum", known) == ("Acer rubrum", False)
    assert resolve_relabel("ACER  rubrum L.", known) == ("Acer rubrum", False)
    assert resolve_relabel("red maple (Acer rubrum)", known) == ("Acer rubrum", False)
    with pytest.raises(FieldtoolError, match="not a species of this file"):
        resolve_relabel("Cornus kousa", known)
    with pytest.raises(FieldtoolError, match="Choose the species"):
        resolve_relabel("  ", known)
    assert resolve_relabel("Cornus  kousa Buerger", known, allow_new=True) == (
        "Cornus kousa", True)  # fmt: skip
    # a genus of the file's species is "Genus sp." (more: tests/dashboard/test_relabel_names.py)
    assert resolve_relabel("Cornus sp.", known, allow_new=True) == ("Cornus sp.", False)
    for text in ("dogwood", "cornus  KOUSA Buerger", "12 stems"):
        with pytest.raises(FieldtoolError, match="not a scientific name"):
            resolve_relabel(text, known, allow_new=True)


def test_app_species_page_follows_filters(app) -> None:
    at = _page(app.run(), "species")
    assert _metrics(at) == {"Species": "4", "Sightings": "9", "Sessions": "2"}  # s2-1 rejected
    summary = at.dataframe[0].value
    assert summary.set_index("Species")["Sightings"].to_dict()["Quercus alba"] == 3
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) >= 3
    at.toggle(key="species_use_reviews").set_value(False).run()
    assert _metrics(at)["Sightings"] == "10"
    at.sidebar.selectbox[0].select("s1").run()
    assert _metrics(at) == {"Species": "3", "Sightings": "6", "Sessions": "1"}
    at.selectbox(key="gallery_species").select("Pinus taeda").run()
    assert len(at.image) == 1  # s1-5's snapshot


def test_app_sql_page_refuses_writes_and_files(app) -> None:
    at = _page(app.run(), "sql")
    at.button(key="sql_run").click().run()
    assert not at.error and len(at.dataframe[0].value) == 4
    for sql, message in [
        ("DELETE FROM sightings", "DELETE statements are not allowed"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM '/etc/passwd'", "file or URL"),
    ]:
        at.text_area(key="sql_text").input(sql).run()
        at.button(key="sql_run").click().run()
        assert len(at.error) == 1 and message in at.error[0].value
        assert not at.dataframe
    at.text_area(key="sql_text").input("SELECT count(*) AS n FROM sightings").run()
    at.button(key="sql_run").click().run()
    assert at.dataframe[0].value["n"].tolist() == [10]
    assert at.get("download_button")


def test_app_export_downloads_the_filtered_rows(
    app, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import zipfile

    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    from fieldtool.store import query

    stores: list[MemoryMediaFileStorage] = []
    managers: list[MediaFileManager] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, endpoint: str) -> None:
            super().__init__(endpoint)
            stores.append(self)

    class RecordingManager(MediaFileManager):
        def __init__(self, storage: MemoryMediaFileStorage) -> None:
            super().__init__(storage)
            managers.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    monkeypatch.setattr(app_test, "MediaFileManager", RecordingManager)
    at = app.run()
    at.sidebar.multiselect[0].select("Cornus florida").run()

    def download(key: str) -> bytes:  # built when clicked: run the click's deferred callable
        button = next(b for b in at.get("download_button") if b.proto.id.endswith(key))
        assert button.proto.deferred_file_id and not button.proto.url
        url = managers[-1].execute_deferred(button.proto.deferred_file_id)
        return stores[-1].get_file(url.rsplit("/", 1)[-1]).content

    csv = pd.read_csv(io.BytesIO(download("export_csv")))
    assert sorted(csv["sighting_id"]) == ["s2-0", "s2-2"]
    geo = json.loads(download("export_geojson"))
    assert sorted(f["properties"]["sighting_id"] for f in geo["features"]) == ["s2-0", "s2-2"]
    archive = zipfile.ZipFile(io.BytesIO(download("export_dwca")))
    occurrences = archive.read("occurrence.txt").decode().splitlines()
    closed = query(db, "SELECT count(*) FROM sightings WHERE sighting_id IN ('s2-0', 's2-2') "
                       "AND status = 'closed'").iloc[0, 0]  # fmt: skip
    assert closed >= 1 and len(occurrences) == 1 + closed
    assert all("Cornus florida" in row for row in occurrences[1:])
    # the archive names no licence: the page says so, and what makes a GBIF-ready one
    assert "intellectualRights" not in archive.read("eml.xml").decode()
    (note,) = [c.value for c in at.caption if "licence" in c.value]
    assert "names no licence" in note and "fieldtool export --format dwca --license" in note


def test_app_live_page_shows_new_sightings(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    db = _copy(db, tmp_path)
    monkeypatch.setenv("FIELDTOOL_DB", str(db))
    at = _page(AppTest.from_file(str(APP), default_timeout=30).run(), "live")
    assert _metrics(at)["Frames analysed"] == "5"
    assert not at.dataframe  # nothing opened in the last 10 minutes
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    store = SightingStore(db, lock_timeout_s=2.0)
    fresh = _sighting("s2", 8, "Pinus taeda", now - timedelta(minutes=1), 0.9, status="open")
    fresh.first_t = fresh.last_t = 0.0
    store.record_sighting(fresh)
    assert store.flush().written
    at.run()
    assert not at.exception
    assert at.dataframe[0].value["Species"].tolist() == ["Pinus taeda"]


def test_species_range_is_drawn_under_its_sightings(tmp_path: Path) -> None:
    import shapely.geometry

    from fieldtool.cli import DEMO_RANGES

    settings = {
        "ranges": [str(DEMO_RANGES)],
        "species_field": "species",
        "presence_field": "presence",
    }
    shape = dash.range_geojson(settings, "Acer rubrum")
    assert shape is not None
    geometry = shapely.geometry.shape(shape["features"][0]["geometry"])
    assert geometry.contains(shapely.geometry.Point(-83.38, 33.95))  # Athens, Georgia
    assert not geometry.contains(shapely.geometry.Point(-123.30, 44.56))  # Corvallis, Oregon
    assert dash.range_geojson(settings, "Nothing here") is None
    assert dash.range_geojson({"ranges": [str(tmp_path / "gone.geojson")]}, "Acer rubrum") is None
    deck = dash.build_deck(pd.DataFrame(), species_range=("Acer rubrum", shape))
    assert "species-range" in [layer.id for layer in deck.layers]
    assert "http" not in deck.to_json()


def test_density_layer_only_when_the_view_spans_a_region() -> None:
    far = pd.DataFrame(
        [{"sighting_id": str(i), "species": "Acer rubrum", "common_name": "", "first_seen": None,
          "last_seen": None, "peak_score": 0.9, "frames": 3, "status": "closed",
          "latitude": lat, "longitude": lon} for i, (lat, lon) in enumerate([(44.5, -123.3)] * 3 + [(33.9, -83.4)] * 2)]
    )  # fmt: skip
    deck = dash.build_deck(far)
    density = [layer for layer in deck.layers if layer.id == "density"]
    assert len(density) == 1 and sorted(r["count"] for r in density[0].data) == [2, 3]
    near = far.assign(latitude=44.5, longitude=-123.3)
    assert "density" not in [layer.id for layer in dash.build_deck(near).layers]
    assert dash.density_resolution(3.0) == 3 and dash.density_resolution(12.0) is None


# Sessions whose sightings have no position, or whose times are a local clock ---------------
def build_unplaced_db(folder: Path) -> Path:
    """One finished session on a camera's local clock of unknown zone whose video and GPS
    track did not overlap: 375 frames analysed, none positioned, two sightings, no position."""
    path = folder / "unplaced.duckdb"
    store = SightingStore(path)
    store.record_session(
        SessionInfo("dji", "/videos/DJI_0001.MP4", "demo", T0, status="finished",
                    frames_analysed=375, frames_positioned=0, time_source="srt-clock",
                    time_zone=None, time_zone_known=False)
    )  # fmt: skip
    for i, species in enumerate(["Acer rubrum", "Quercus alba"]):
        store.record_sighting(
            _sighting("dji", i, species, T0 + timedelta(minutes=i), 0.8, lat=None, lon=None)
        )
    for k in range(5):  # the track is a day later than the video's clock says
        store.record_track("dji", T0 + timedelta(days=1, seconds=k), float(k),
                           Position(33.95, -83.38, source="gpx"))  # fmt: skip
    store.close()
    return path


@pytest.fixture
def unplaced_db(tmp_path: Path) -> Path:
    return build_unplaced_db(tmp_path)


def test_sessions_carry_their_time_source(db: Path, unplaced_db: Path) -> None:
    sessions = dash.load_sessions(db).set_index("session_id")
    assert sessions.loc["s1", "time_source"] == "wall-clock"
    assert bool(sessions.loc["s1", "time_zone_known"]) is True
    local = dash.load_sessions(unplaced_db).iloc[0]
    assert (local["time_source"], bool(local["time_zone_known"])) == ("srt-clock", False)
    assert (local["frames_analysed"], local["frames_positioned"]) == (375, 0)
    table = dash.sessions_table(dash.load_sessions(unplaced_db))
    assert {"Time source", "Time zone known", "Frames positioned"} <= set(table.columns)
    assert table["Time zone known"].tolist() == [False]
    sightings = dash.load_sightings(unplaced_db)
    assert not sightings["time_zone_known"].any()
    assert set(dash.load_sightings(db)["time_zone_known"]) == {True}


def test_a_file_without_the_session_time_columns_reads_as_utc(db: Path, tmp_path: Path) -> None:
    """A file of schema 4 that no writer has opened since: its sessions claimed UTC."""
    import duckdb

    old = _copy(db, tmp_path)
    with duckdb.connect(str(old)) as con:
        for column in ("time_source", "time_zone", "time_zone_known", "frames_positioned"):
            con.execute(f"ALTER TABLE sessions DROP COLUMN {column}")
    sessions = dash.load_sessions(old)
    assert set(sessions["time_source"]) == {"unrecorded"} and sessions["time_zone_known"].all()
    sightings = dash.load_sightings(old)
    assert len(sightings) == 10 and sightings["time_zone_known"].all()
    assert dash.export_frame(sightings)["first_seen"].str.endswith("Z").all()


def test_position_warnings(db: Path, unplaced_db: Path) -> None:
    sightings, sessions = dash.load_sightings(db), dash.load_sessions(db)
    assert dash.position_warnings(sightings, sessions, dash.load_tracks(db)) == []
    (message,) = dash.position_warnings(
        dash.load_sightings(unplaced_db),
        dash.load_sessions(unplaced_db),
        dash.load_tracks(unplaced_db),
    )
    assert message.startswith("No sighting of session dji (DJI_0001.MP4) has a position")
    assert "0 of 375 frames positioned" in message and "--time-offset" in message
    no_track = dash.position_warnings(
        dash.load_sightings(unplaced_db), dash.load_sessions(unplaced_db), None
    )
    assert "no GPS track" in no_track[0]


def test_exports_of_a_local_clock_do_not_claim_utc(unplaced_db: Path) -> None:
    import io

    sightings = dash.load_sightings(unplaced_db)
    csv = pd.read_csv(io.BytesIO(dash.export_csv(sightings)))
    assert sorted(csv["first_seen"]) == ["2024-05-01T12:00:00", "2024-05-01T12:01:00"]
    assert not csv["time_zone_known"].any() and set(csv["time_source"]) == {"srt-clock"}
    geo = dash.export_geojson(sightings)
    properties = geo["features"][0]["properties"]
    assert not properties["first_seen"].endswith("Z") and properties["time_zone_known"] is False


def test_app_warns_when_no_sighting_has_a_position(
    unplaced_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FIELDTOOL_DB", str(unplaced_db))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception and not at.error
    warnings = [w.value for w in at.warning]
    assert any("No sighting of session dji" in w and "0 of 375 frames positioned" in w
               for w in warnings)  # fmt: skip
    assert any("local clock" in i.value and "srt-clock" in i.value for i in at.info)
    assert len(at.dataframe[0].value) == 2  # the sightings are still listed
    sessions = next(d.value for d in at.dataframe if "Time source" in d.value.columns)
    assert sessions["Time source"].tolist() == ["srt-clock"]
    assert sessions["Time zone known"].tolist() == [False]


def test_app_without_position_problems_does_not_warn(app) -> None:
    at = app.run()
    assert not any("has a position" in w.value for w in at.warning)
    assert not any("local clock" in i.value for i in at.info)
    sessions = next(d.value for d in at.dataframe if "Time source" in d.value.columns)
    assert set(sessions["Time zone known"]) == {True}


# One read model, one set of writers ------------------------------------------------------
def _map_downloads(at, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The CSV and GeoJSON the map page offers, as a browser would download them (each
    built when clicked: the click's deferred callable is run)."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    stores: list[MemoryMediaFileStorage] = []
    managers: list[MediaFileManager] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, endpoint: str) -> None:
            super().__init__(endpoint)
            stores.append(self)

    class RecordingManager(MediaFileManager):
        def __init__(self, storage: MemoryMediaFileStorage) -> None:
            super().__init__(storage)
            managers.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    monkeypatch.setattr(app_test, "MediaFileManager", RecordingManager)
    at.run()
    assert not at.exception
    files = {}
    for key in ("export_csv", "export_geojson"):
        button = next(b for b in at.get("download_button") if b.proto.id.endswith(key))
        url = managers[-1].execute_deferred(button.proto.deferred_file_id)
        files[key] = stores[-1].get_file(url.rsplit("/", 1)[-1]).content
    return files


def test_map_of_an_older_file_offers_no_downloads_and_says_why(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page only reads: a file without the reviewed view (an older fieldtool's) gets no
    download buttons whose click would fail, and a one-line reason."""
    import duckdb
    from streamlit.testing.v1 import AppTest

    old = _copy(db, tmp_path)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP VIEW sightings_reviewed")
    monkeypatch.setenv("FIELDTOOL_DB", str(old))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception and not at.get("download_button")
    said = [c.value for c in at.caption if "Downloads unavailable" in c.value]
    assert len(said) == 1 and "`fieldtool export` upgrades it once" in said[0]


def test_map_download_and_fieldtool_export_write_the_same_columns(
    app, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import io

    from fieldtool.cli import main

    files = _map_downloads(app, monkeypatch)  # every sighting shown, no filter
    out = tmp_path / "export.csv"
    assert main(["export", "--db", str(db), "--format", "csv", "-o", str(out)]) == 0
    capsys.readouterr()
    page = pd.read_csv(io.BytesIO(files["export_csv"]), dtype={"sighting_id": str})
    cli = pd.read_csv(out, dtype={"sighting_id": str})
    assert list(page.columns) == list(cli.columns)
    assert {"predicted_species", "genus", "review_note", "coordinate_uncertainty_m"} <= set(
        page.columns
    )
    # The same sightings (closed, newest review applied, s2-1 rejected): the same file.
    assert sorted(page["sighting_id"]) == sorted(cli["sighting_id"]) and len(page) == 8
    assert files["export_csv"] == out.read_bytes()
    geo_out = tmp_path / "export.geojson"
    assert main(["export", "--db", str(db), "--format", "geojson", "-o", str(geo_out)]) == 0
    assert files["export_geojson"] == geo_out.read_bytes()


def test_reviewed_rows_come_from_the_view(db: Path, tmp_path: Path) -> None:
    db = _copy(db, tmp_path)
    add_review(db, "s1-2", "relabel", reviewer="zoe", species="Cornus florida")
    reviewed = dash.load_sightings(db, reviewed=True).set_index("sighting_id")
    assert "s2-1" not in reviewed.index and len(reviewed) == 9  # rejected: left out
    assert reviewed.loc["s1-2", ["species", "predicted_species", "review"]].tolist() == [
        "Cornus florida", "Pinus taeda", "relabel",
    ]  # fmt: skip
    # The pandas helper kept for frames in hand agrees with the view.
    applied = dash.apply_reviews(dash.load_sightings(db)).set_index("sighting_id")
    assert applied["species"].sort_index().equals(reviewed["species"].sort_index())
    # With reviews applied the species filter matches the species in force.
    dogwood = dash.load_sightings(db, dash.SightingFilter(species=("Cornus florida",)),
                                  reviewed=True)  # fmt: skip
    assert "s1-2" in set(dogwood["sighting_id"])


def test_sql_runs_without_streamlit_or_pydeck(db: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, fieldtool.sqlbox;"
        "assert 'streamlit' not in sys.modules and 'pydeck' not in sys.modules;"
        "from fieldtool.cli import main;"
        f"assert main(['sql', '--db', {str(db)!r}, 'SELECT count(*) AS n FROM sightings']) == 0;"
        "heavy = {'streamlit', 'pydeck'} & set(sys.modules); assert not heavy, heavy"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "10" in run.stdout


def test_map_table_caption_is_one_read_while_a_session_writes(db, tmp_path, monkeypatch) -> None:
    """A sighting written between the page's figures and its table (a live session flushes
    at any moment): the table's "Rows a–b of N" counts the rows it shows, never "1–23 of 22"."""
    import functools

    from streamlit.testing.v1 import AppTest

    from fieldtool.dashboard import aggregate

    db = _copy(db, tmp_path)
    monkeypatch.setenv("FIELDTOOL_DB", str(db))

    original = aggregate.load_totals

    @functools.wraps(original)
    def totals_then_a_write(*args, **kwargs):
        found = original(*args, **kwargs)
        store = SightingStore(db, lock_timeout_s=2.0)
        store.record_sighting(_sighting("s2", 42, "Pinus taeda", T0 + timedelta(hours=3), 0.9))
        assert store.flush().written
        return found

    monkeypatch.setattr(aggregate, "load_totals", totals_then_a_write)
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    shown = len(at.dataframe[0].value)
    [caption] = [c.value for c in at.caption if c.value.startswith("Rows ")]
    assert re.match(rf"Rows 1–{shown} of {shown},", caption), caption
