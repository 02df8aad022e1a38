"""The camera's elevation in the exports: over a sighting's frames, from its track, only as
a Darwin Core elevation where the track's numbers are above sea level.

The real GPX track (a hike in Slovenia, gpxpy's test file) carries ``<ele>`` but no times:
the test gives its points times 2 s apart, places a video's frames on it and computes what
each sighting's frames' elevations were from the GPX file itself (ElementTree and
``numpy.interp``), not from fieldtool's reader.
"""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fieldtool.config import Config, SmoothingConfig, load_config
from fieldtool.export import COLUMNS, DWC_TERMS, export, load_occurrences
from fieldtool.store import SightingStore, query
from fieldtool.types import Position, SessionInfo, Sighting
from tests.conftest import SHARED_DATA, write_video

T0 = datetime(2026, 6, 1, 9)
GPX_DIR = SHARED_DATA / "telemetry" / "gpx"
KORITA = GPX_DIR / "korita-zbevnica.gpx"
SRT_DIR = SHARED_DATA / "telemetry" / "dji_srt"
GOPRO = SHARED_DATA / "telemetry" / "gopro" / "max-heromode.mp4"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data folder absent")
FIX_STEP_S = 2.0  # s between the GPX points as the test times them
# What the exports had before elevation came: their order stays, new columns come after.
OLD_COLUMNS = [
    "sighting_id", "session_id", "species", "common_name", "predicted_species", "genus",
    "family", "first_seen", "last_seen", "time_zone_known", "time_source", "time_zone",
    "first_t", "last_t", "frames", "peak_score", "mean_score", "latitude", "longitude",
    "coordinate_uncertainty_m", "h3_cell", "model_id", "model_sha256", "source",
    "snapshot_path", "review", "reviewer", "reviewed_at", "review_note",
]  # fmt: skip
OLD_DWC_TERMS = [
    "occurrenceID", "basisOfRecord", "occurrenceStatus", "scientificName", "vernacularName",
    "kingdom", "family", "genus", "taxonRank", "eventID", "eventDate", "eventRemarks",
    "decimalLatitude", "decimalLongitude", "geodeticDatum", "coordinateUncertaintyInMeters",
    "identifiedBy", "dateIdentified", "identificationVerificationStatus",
    "identificationRemarks", "samplingProtocol", "occurrenceRemarks",
]  # fmt: skip
ELEVATION_COLUMNS = ["elevation_m", "elevation_min_m", "elevation_max_m", "elevation_reference"]
ELEVATION_TERMS = ["minimumElevationInMeters", "maximumElevationInMeters", "verbatimElevation"]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _real_points(n: int) -> list[tuple[float, float, float]]:
    """The first ``n`` track points of the real GPX file that have an elevation:
    (lat, lon, ele)."""
    points = []
    for elem in ET.parse(KORITA).getroot().iter():
        if _local(elem.tag) != "trkpt":
            continue
        ele = next((c.text for c in elem if _local(c.tag) == "ele"), None)
        if ele:
            points.append((float(elem.get("lat")), float(elem.get("lon")), float(ele)))
        if len(points) == n:
            break
    assert len(points) == n
    return points


def _timed_gpx(path: Path, points: list[tuple[float, float, float]], *, ele: bool = True) -> Path:
    """A GPX 1.1 file of ``points``, FIX_STEP_S apart from T0 (UTC); without ``<ele>``
    when ``ele`` is false."""
    body = "".join(
        f'<trkpt lat="{lat}" lon="{lon}">' + (f"<ele>{e}</ele>" if ele else "")
        + f"<time>{(T0 + timedelta(seconds=i * FIX_STEP_S)).isoformat()}Z</time></trkpt>"
        for i, (lat, lon, e) in enumerate(points)
    )  # fmt: skip
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="test" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{body}</trkseg></trk></gpx>',
        encoding="utf-8",
    )
    return path


def _run(tmp_path: Path, gpx: Path, classifier) -> Path:
    """A 16 s video (two species, grey between) placed by ``gpx`` through the config's
    position provider, analysed once a second: every analysed frame keeps a track row."""
    from fieldtool.pipeline import run_session
    from fieldtool.sources import VideoSource
    from fieldtool.tracks import positions_from_config

    video = write_video(tmp_path / "walk.avi", [(3, 2.0), (0, 6.0), (3, 2.0), (1, 5.0), (3, 1.0)])
    db = tmp_path / "s.duckdb"
    cfg = Config()
    cfg.smoothing = SmoothingConfig(tau_s=0.3, enter=0.5, exit=0.3, min_duration_s=0.5,
                                    max_gap_s=0.5)  # fmt: skip
    cfg.store.db = db
    cfg.store.snapshots = False
    cfg.source.sample_fps = 1.0
    positions = positions_from_config(load_config(None, {"position.track": str(gpx)}).position)
    run_session(VideoSource(str(video), sample_fps=1.0, start_time=T0), classifier,
                SightingStore(db), cfg, positions=positions)  # fmt: skip
    return db


def _csv_rows(db: Path, tmp_path: Path) -> dict[str, dict[str, str]]:
    out = tmp_path / "occ.csv"
    export(db, "csv", out, log=lambda _: None)
    with out.open(encoding="utf-8", newline="") as handle:
        return {row["sighting_id"]: row for row in csv.DictReader(handle)}


def _dwc_rows(db: Path, tmp_path: Path) -> dict[str, dict[str, str]]:
    out = tmp_path / "occ.zip"
    export(db, "dwca", out, log=lambda _: None)
    with zipfile.ZipFile(out) as archive:
        text = archive.read("occurrence.txt").decode("utf-8")
        meta = archive.read("meta.xml").decode("utf-8")
    for term in ELEVATION_TERMS:
        assert f'term="http://rs.tdwg.org/dwc/terms/{term}"' in meta
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    return {row["occurrenceID"][-36:].replace("-", ""): row for row in rows}


def _geojson_properties(db: Path, tmp_path: Path) -> dict[str, dict]:
    out = tmp_path / "occ.geojson"
    export(db, "geojson", out, log=lambda _: None)
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    return {f["id"]: f["properties"] for f in features}


@needs_shared
def test_a_gpx_placed_session_exports_the_elevation_range_of_each_sightings_frames(
    tmp_path, colour_classifier
):
    points = _real_points(12)
    gpx = _timed_gpx(tmp_path / "korita-timed.gpx", points)
    db = _run(tmp_path, gpx, colour_classifier)

    # The expectation, from the GPX file alone: each analysed frame's elevation is the
    # track's, linear in time between the two points around it.
    fix_t = np.arange(len(points)) * FIX_STEP_S
    fix_ele = np.array([p[2] for p in points])
    sightings = query(db, "SELECT sighting_id, session_id, first_t, last_t, peak_t "
                          "FROM sightings WHERE status = 'closed' ORDER BY first_t")  # fmt: skip
    assert len(sightings) == 2
    csv_rows = _csv_rows(db, tmp_path)
    dwc = _dwc_rows(db, tmp_path)
    geo = _geojson_properties(db, tmp_path)
    spread = []
    for s in sightings.itertuples():
        frames = query(db, "SELECT t FROM detections WHERE session_id = $s AND t BETWEEN $a AND $b",
                       {"s": s.session_id, "a": s.first_t, "b": s.last_t})["t"].to_numpy()  # fmt: skip
        kept = query(db, "SELECT count(*) AS n FROM track WHERE session_id = $s AND t BETWEEN "
                         "$a AND $b", {"s": s.session_id, "a": s.first_t, "b": s.last_t})  # fmt: skip
        assert len(frames) >= 3 and int(kept.n[0]) == len(frames)  # one track row per frame
        expected = np.interp(frames, fix_t, fix_ele)
        low, high = float(expected.min()), float(expected.max())
        at_peak = float(np.interp(s.peak_t, fix_t, fix_ele))
        spread.append(high - low)

        row = csv_rows[s.sighting_id]
        assert float(row["elevation_min_m"]) == pytest.approx(low, abs=1e-6)
        assert float(row["elevation_max_m"]) == pytest.approx(high, abs=1e-6)
        assert float(row["elevation_m"]) == pytest.approx(at_peak, abs=1e-6)
        assert row["elevation_reference"] == "above sea level (gpx)"
        props = geo[s.sighting_id]
        assert props["elevation_min_m"] == pytest.approx(low, abs=1e-6)
        assert props["elevation_max_m"] == pytest.approx(high, abs=1e-6)
        assert props["elevation_m"] == pytest.approx(at_peak, abs=1e-6)
        record = dwc[s.sighting_id]
        assert float(record["minimumElevationInMeters"]) == pytest.approx(low, abs=0.051)
        assert float(record["maximumElevationInMeters"]) == pytest.approx(high, abs=0.051)
        assert record["verbatimElevation"] == (
            f"camera at {record['minimumElevationInMeters']} to {record['maximumElevationInMeters']}"
            " m above sea level (gpx)"
        )
    assert max(spread) > 1.0  # the frames' elevations differ: a range, not one value


@needs_shared
def test_a_session_without_elevation_leaves_it_empty_not_zero(tmp_path, colour_classifier):
    gpx = _timed_gpx(tmp_path / "korita-flat.gpx", _real_points(12), ele=False)
    db = _run(tmp_path, gpx, colour_classifier)
    assert len(query(db, "SELECT * FROM sightings WHERE latitude IS NOT NULL")) == 2  # placed

    for row in _csv_rows(db, tmp_path).values():
        assert [row[c] for c in ELEVATION_COLUMNS] == ["", "", "", ""]
    for props in _geojson_properties(db, tmp_path).values():
        assert [props[c] for c in ELEVATION_COLUMNS] == [None, None, None, None]
    for record in _dwc_rows(db, tmp_path).values():
        assert record["decimalLatitude"]  # placed, but no elevation
        assert [record[t] for t in ELEVATION_TERMS] == ["", "", ""]
    out = tmp_path / "occ.parquet"
    export(db, "parquet", out, log=lambda _: None)
    frame = pd.read_parquet(out)
    assert frame[ELEVATION_COLUMNS].isna().all().all()


def test_existing_columns_keep_their_order_and_elevation_comes_after():
    assert COLUMNS[: len(OLD_COLUMNS)] == OLD_COLUMNS
    assert COLUMNS[len(OLD_COLUMNS) :] == ELEVATION_COLUMNS
    assert DWC_TERMS[: len(OLD_DWC_TERMS)] == OLD_DWC_TERMS
    after = DWC_TERMS[len(OLD_DWC_TERMS) :]
    assert after[: len(ELEVATION_TERMS)] == ELEVATION_TERMS


def _hexid(i: int) -> str:
    return f"{i:032x}"


def _stored(tmp_path: Path, source: str, elevations: list[float | None]) -> Path:
    """One session whose track has a row a second (t = 0, 1, ...) with ``elevations``, and
    sightings 1 (t 2.5-5.2, peak 4.5), 2 (t 7.2-7.6, between two rows) and 3 (t 20-25,
    after the track)."""
    db = tmp_path / f"{source}.duckdb"
    store = SightingStore(db)
    store.record_session(SessionInfo("a", "walk.mp4", "tiny", T0))
    for k, ele in enumerate(elevations):
        store.record_track("a", T0 + timedelta(seconds=k), float(k),
                           Position(44.0, -123.0 + 1e-4 * k, 5.0, source, ele))  # fmt: skip
    for i, (first, last, peak) in enumerate(((2.5, 5.2, 4.5), (7.2, 7.6, 7.4), (20.0, 25.0, 21.0)),
                                            start=1):  # fmt: skip
        start = T0 + timedelta(seconds=first)
        store.record_sighting(Sighting(
            _hexid(i), "a", "Acer rubrum", "red maple", start,
            start + timedelta(seconds=last - first), first, last, frames=5, peak_score=0.9,
            score_sum=4.0, peak_t=peak, latitude=44.0, longitude=-123.0, model_id="tiny",
            status="closed",
        ))  # fmt: skip
    store.close()
    return db


def test_a_sightings_frames_are_the_track_rows_kept_for_them(tmp_path):
    """The pipeline keeps a track row at most once a second: the frames from 2.5 s to
    5.2 s are stood for by the rows at 2 (for 2.5-2.9), 3, 4 and 5; not 1 nor 6. A row
    without an elevation does not count; a sighting between two rows has the one before."""
    elevations: list[float | None] = [100.0, 90.0, 120.0, None, 130.0, 125.0, 80.0, 111.0,
                                      140.0, 140.0]  # fmt: skip
    frame = load_occurrences(_stored(tmp_path, "gpx", elevations)).set_index("sighting_id")
    one, two, three = frame.loc[_hexid(1)], frame.loc[_hexid(2)], frame.loc[_hexid(3)]
    assert (one.elevation_min_m, one.elevation_max_m, one.elevation_m) == (120.0, 130.0, 130.0)
    assert (two.elevation_min_m, two.elevation_max_m, two.elevation_m) == (111.0, 111.0, 111.0)
    assert one.elevation_reference == two.elevation_reference == "above sea level (gpx)"
    assert math.isnan(three.elevation_min_m) and math.isnan(three.elevation_m)
    assert pd.isna(three.elevation_reference)  # no elevation: no reference either


@pytest.mark.parametrize(("source", "reference"), [
    ("gpmf", "above the WGS84 ellipsoid (gpmf)"),
    ("srt", "drone altitude, datum not stated by DJI (srt)"),
])  # fmt: skip
def test_an_altitude_not_above_sea_level_is_said_and_not_a_darwin_core_elevation(
    tmp_path, source, reference
):
    db = _stored(tmp_path, source, [100.0, 90.0, 120.0, 125.0, 130.0, 125.0, 80.0, 111.0])
    rows = _csv_rows(db, tmp_path)
    row = rows[_hexid(1)]
    assert (row["elevation_min_m"], row["elevation_max_m"]) == ("120.0", "130.0")
    assert row["elevation_reference"] == reference
    record = _dwc_rows(db, tmp_path)[_hexid(1)]
    assert record["minimumElevationInMeters"] == record["maximumElevationInMeters"] == ""
    assert record["verbatimElevation"] == f"camera at 120 to 130 m {reference}"


@needs_shared
def test_what_each_real_track_gives_as_its_elevation():
    """GPX <ele> and GoPro GPS altitude are read; of the DJI SRTs only an absolute altitude
    ([altitude: ..]), never a height over take-off (H, BAROMETER, Hb/Hs) or HOME's."""
    from fieldtool.tracks import read_track

    gopro = read_track(GOPRO)
    assert gopro.format == "gpmf" and all(f.elevation_m is not None for f in gopro.fixes)
    air = read_track(SRT_DIR / "air2s.srt")
    assert {f.elevation_m for f in air.fixes} == {117.0, 117.1}  # its [altitude: ..] fields
    for name in ("mavic_mini.SRT", "mavic_pro.SRT", "old_format.SRT", "p4_rtk.SRT"):
        fixes = read_track(SRT_DIR / name).fixes
        assert fixes and all(f.elevation_m is None for f in fixes), name
