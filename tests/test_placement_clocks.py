"""Clocks a new-user trial found mishandled: a GPX of zone-less (local) times, a
``--time-offset`` that moved only the lookup, a local time in the hour skipped when summer
time begins, the track-end warning's numbers, and a ``--tz`` that nothing used."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.pipeline import inputs_from_config, run_from_config
from fieldtool.placement import held_warning, place_session
from fieldtool.store import query
from fieldtool.tracks import TrackPositions, read_track
from fieldtool.types import Fix
from tests.test_placement import DEMO, _config, _logs, _mp4

WAGENINGEN = (51.97, 5.67)  # Europe/Amsterdam


def _gpx(path: Path, start: datetime, seconds: int, zone: str = "Z", step: int = 2) -> Path:
    """A GPX walking north-east from Wageningen, a fix every ``step`` s; ``zone`` is what
    each time is written with (``Z``, ``+02:00``, ``""``: none)."""
    points = "".join(
        f'<trkpt lat="{WAGENINGEN[0] + s * 1e-5:.6f}" lon="{WAGENINGEN[1] + s * 1e-5:.6f}">'
        f"<time>{start + timedelta(seconds=s):%Y-%m-%dT%H:%M:%S}{zone}</time></trkpt>"
        for s in range(0, seconds + 1, step)
    )
    path.write_text('<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
                    f"<trk><trkseg>{points}</trkseg></trk></gpx>", encoding="utf-8")  # fmt: skip
    return path


# ------------------------------------------------------------ 1: zone-less GPX times


def test_a_gpx_of_zoneless_times_is_a_local_clock(tmp_path: Path) -> None:
    """Defect: GPX times without Z or an offset were taken as UTC and --tz ignored for
    them: a Garmin export of local times (10:00 in Amsterdam = 08:00Z) put every frame two
    hours late. They are a local clock, zoned by --tz, else by the track's place."""
    local = _gpx(tmp_path / "local.gpx", datetime(2026, 6, 10, 10), 30, zone="")
    track = read_track(local)
    assert track.clock == "local"
    assert any("without a zone" in note and "local clock" in note for note in track.notes)
    assert read_track(_gpx(tmp_path / "z.gpx", datetime(2026, 6, 10, 8), 30)).clock == "utc"
    offset = read_track(_gpx(tmp_path / "o.gpx", datetime(2026, 6, 10, 10), 30, "+02:00"))
    assert offset.clock == "utc" and offset.fixes[0].time == datetime(2026, 6, 10, 8)
    video = _mp4(tmp_path / "v.mp4")  # no time of its own: dated by the track's first fix
    for tz, how in (("Europe/Amsterdam", "--tz"), (None, "track's position")):
        values = {"position.track": str(local)} | ({"source.tz": tz} if tz else {})
        place = place_session(_config(tmp_path, video, **values), live=False, fps=10.0)
        basis = place.time
        assert (basis.start, basis.source) == (datetime(2026, 6, 10, 8), "track-start")
        assert basis.zone == "Europe/Amsterdam" and basis.zone_known
        assert any("local.gpx has a local clock" in n and how in n for n in place.notes)
        assert isinstance(place.positions, TrackPositions)
        assert place.positions.position_at(datetime(2026, 6, 10, 8, 0, 10)) is not None


def test_a_gpx_mixing_zoned_and_zoneless_times_takes_them_as_utc_and_says_so(tmp_path) -> None:
    zoned = _gpx(tmp_path / "z.gpx", datetime(2026, 6, 10, 8), 10)
    text = zoned.read_text(encoding="utf-8").replace("08:00:10Z<", "08:00:10<")
    mixed = tmp_path / "mixed.gpx"
    mixed.write_text(text, encoding="utf-8")
    track = read_track(mixed)
    assert track.clock == "utc" and track.fixes[-1].time == datetime(2026, 6, 10, 8, 0, 10)
    said = [note for note in track.notes if note.startswith("warning")]
    assert len(said) == 1 and "1 of 6 times" in said[0] and "taken as UTC" in said[0]


def test_a_zoneless_gpx_whose_zone_cannot_be_known_says_what_it_assumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --tz and no time zone map: the times stay the clock's, marked zone unknown (never
    labelled UTC), and one line says so."""
    monkeypatch.setattr("fieldtool.timebase.zone_at", lambda lat, lon: None)
    local = _gpx(tmp_path / "local.gpx", datetime(2026, 6, 10, 10), 30, zone="")
    video = _mp4(tmp_path / "v.mp4")
    place = place_session(_config(tmp_path, video, **{"position.track": str(local)}),
                          live=False, fps=10.0)  # fmt: skip
    assert place.time.start == datetime(2026, 6, 10, 10) and not place.time.zone_known
    said = [n for n in place.notes if "local.gpx has a local clock" in n]
    assert len(said) == 1 and "zone unknown" in said[0] and "not UTC" in said[0]
    assert "--tz" in said[0]


# ------------------------------------------------------------ 2: --time-offset


def test_time_offset_corrects_the_stored_times_not_only_the_lookup(tmp_path: Path) -> None:
    """Defect: --time-offset -300 placed the frames at the track's 00:25 but stored them at
    the camera's 00:30: the docs say it corrects a camera clock that is off, as
    --start-time does. The corrected clock is the stored one, and the session's config
    keeps the offset."""
    video = _mp4(tmp_path / "v.mp4", seconds=4.0, created=datetime(2026, 3, 29, 0, 30))
    gpx = _gpx(tmp_path / "walk.gpx", datetime(2026, 3, 29, 0, 20), 15 * 60)
    config = _config(tmp_path, video, **{"position.track": str(gpx),
                                         "position.time_offset_s": -300.0})  # fmt: skip
    place = place_session(config, live=False, fps=10.0)
    assert place.time.start == datetime(2026, 3, 29, 0, 25)
    assert "--time-offset -300 s" in place.time.describe()
    lines, log = _logs()
    walk = _config(tmp_path, DEMO / "walk_west.mp4", **{  # a clip with sightings in 10 s
        "position.track": str(gpx), "source.start_time": "2026-03-29T00:30:00Z",
        "position.time_offset_s": -300.0, "source.max_frames": 150})  # fmt: skip
    run_from_config(walk, log=log)
    db = tmp_path / "s.duckdb"
    rows = query(db, "SELECT time, latitude FROM detections ORDER BY t")
    first = rows.iloc[0]
    assert first["time"].to_pydatetime() == datetime(2026, 3, 29, 0, 25)
    assert first["latitude"] == pytest.approx(WAGENINGEN[0] + 300 * 1e-5)  # the fix at 00:25
    seen = query(db, "SELECT min(first_seen) AS t FROM sightings").iloc[0, 0]
    assert seen.to_pydatetime() < datetime(2026, 3, 29, 0, 26)
    track = query(db, "SELECT min(time) AS t FROM track").iloc[0, 0]
    assert track.to_pydatetime() < datetime(2026, 3, 29, 0, 26)
    settings = json.loads(query(db, "SELECT config_json FROM sessions").iloc[0, 0])
    assert settings["position"]["time_offset_s"] == -300.0


def test_time_offset_with_the_videos_start_time_adds_to_it(tmp_path: Path) -> None:
    """--start-time and --time-offset together: the offset corrects the given clock too."""
    gpx = _gpx(tmp_path / "walk.gpx", datetime(2026, 3, 29, 0, 20), 15 * 60)
    video = _mp4(tmp_path / "v.mp4")
    config = _config(tmp_path, video, **{"position.track": str(gpx),
                                         "source.start_time": "2026-03-29T00:30:00Z",
                                         "position.time_offset_s": 60.0})  # fmt: skip
    place = place_session(config, live=False, fps=10.0)
    assert place.time.start == datetime(2026, 3, 29, 0, 31)
    assert isinstance(place.positions, TrackPositions)
    assert place.positions.time_offset_s == 0.0  # the clock moved: not the lookup again


# --------------------------------------------- 3: the hour skipped when summer time begins


def test_a_local_start_in_the_hour_skipped_when_summer_time_begins_is_said(tmp_path) -> None:
    """Defect: 02:30 on 2026-03-29 does not occur in Amsterdam (clocks go 02:00 -> 03:00);
    it was converted without a word, while the repeated autumn hour is warned."""
    from fieldtool.timebase import skipped_local_time

    video = _mp4(tmp_path / "v.mp4")
    config = _config(tmp_path, video, **{"source.start_time": "2026-03-29T02:30:00",
                                         "source.tz": "Europe/Amsterdam"})  # fmt: skip
    basis = place_session(config, live=False, fps=10.0).time
    assert basis.start == datetime(2026, 3, 29, 1, 30)  # +01:00: the clock not yet changed
    line = basis.describe()
    assert "2026-03-29 02:30:00 does not occur in Europe/Amsterdam" in line, line
    assert "+01:00" in line and "+02:00" in line and "warning" in line
    assert skipped_local_time(datetime(2026, 3, 29, 2, 30), "Europe/Amsterdam")
    for local, zone in [(datetime(2026, 3, 29, 3, 30), "Europe/Amsterdam"),
                        (datetime(2026, 10, 25, 2, 30), "Europe/Amsterdam"),  # repeated
                        (datetime(2026, 3, 29, 2, 30), "+01:00"),
                        (datetime(2026, 3, 29, 2, 30), "UTC")]:  # fmt: skip
        assert not skipped_local_time(local, zone)
    plain = _config(tmp_path, video, **{"source.start_time": "2026-03-29T03:30:00",
                                        "source.tz": "Europe/Amsterdam"})  # fmt: skip
    assert "does not occur" not in place_session(plain, live=False, fps=10.0).time.describe()


def test_a_zoneless_gpx_starting_in_the_skipped_hour_is_said(tmp_path: Path) -> None:
    local = _gpx(tmp_path / "local.gpx", datetime(2026, 3, 29, 2, 30), 20, zone="")
    video = _mp4(tmp_path / "v.mp4")
    config = _config(tmp_path, video, **{"position.track": str(local),
                                         "source.tz": "Europe/Amsterdam"})  # fmt: skip
    basis = place_session(config, live=False, fps=10.0).time
    assert basis.start == datetime(2026, 3, 29, 1, 30)
    assert "02:30:00 does not occur in Europe/Amsterdam" in basis.describe()


def test_photos_in_the_hour_skipped_when_summer_time_begins_are_said(tmp_path) -> None:
    from fieldtool.photos import PhotoSource
    from tests.photos.conftest import make_photo

    gap = make_photo(tmp_path / "trap" / "IMG_1.JPG", taken=datetime(2026, 3, 29, 2, 30),
                     gps=WAGENINGEN)  # fmt: skip
    clear = make_photo(tmp_path / "trap" / "IMG_2.JPG", colour=1, gps=WAGENINGEN,
                       taken=datetime(2026, 3, 29, 3, 30))  # fmt: skip
    lines: list[str] = []
    source = PhotoSource([gap, clear], log=lines.append)
    by = {p.path.name: p for p in source.photos}
    assert by["IMG_1.JPG"].captured_at == datetime(2026, 3, 29, 1, 30)
    said = [line for line in lines if "does not occur" in line]
    assert len(said) == 1, lines
    assert "IMG_1.JPG" in said[0] and "IMG_2.JPG" not in said[0] and "warning" in said[0]
    assert "Europe/Amsterdam" in said[0] and "+01:00" in said[0] and "+02:00" in said[0]


# ------------------------------------------------------------ 4: the track-end warning


def test_a_track_wholly_before_or_after_the_video_is_said_as_such() -> None:
    """Defect: a track ending 3301 s before a 20 s video began was said to end "3321.0 s
    before the video: 30.0 s of video are placed at its last fix ..., the 3291.0 s beyond
    get none": more video than there is, and 0 frames were placed."""
    t0 = datetime(2026, 3, 29, 0, 20)
    fixes = [Fix(t0 + timedelta(seconds=s), 52.1 + s * 1e-5, 5.1) for s in range(900)]
    track = TrackPositions(fixes, 30.0, source="gpx")
    end = fixes[-1].time
    assert held_warning(track, end + timedelta(seconds=3301), 20.0) is None  # nothing held
    near = held_warning(track, end + timedelta(seconds=10), 30.0)  # 20 s held, 10 s none
    assert near is not None and "ends 10.0 s before the video begins" in near, near
    assert "20.0 s of video are placed at its last fix" in near
    assert "the 10.0 s beyond get none" in near
    inside = held_warning(track, end + timedelta(seconds=5), 10.0)  # all 10 s held
    assert inside is not None and "10.0 s of video are placed at its last fix" in inside
    assert "get none" not in inside
    before = held_warning(track, t0 - timedelta(seconds=45), 20.0)  # the track starts later
    assert before is not None and "starts 25.0 s after the video ends" in before, before
    assert "5.0 s of video are placed at its first fix" in before
    assert "the 15.0 s beyond get none" in before
    assert held_warning(track, t0 - timedelta(seconds=500), 20.0) is None


def test_the_run_with_a_track_hours_off_states_no_held_frames(tmp_path: Path) -> None:
    gpx = _gpx(tmp_path / "walk.gpx", datetime(2026, 3, 29, 0, 20), 15 * 60)
    config = _config(tmp_path, _mp4(tmp_path / "v.mp4"), **{
        "position.track": str(gpx), "source.start_time": "2026-03-29T02:30:00",
        "source.tz": "Europe/Amsterdam"})  # fmt: skip
    lines, log = _logs()
    inputs_from_config(config, log)
    assert any(line.startswith("warning: only 0%") for line in lines), lines
    assert not [line for line in lines if "placed at its" in line], lines


# ------------------------------------------------------------ 6: a --tz nothing uses


def test_a_tz_that_converts_nothing_is_said(tmp_path: Path) -> None:
    """Defect: --tz with a video whose time is UTC (a phone's mvhd) was silently unused."""
    video = _mp4(tmp_path / "v.mp4", created=datetime(2026, 3, 29, 0, 30))
    place = place_session(_config(tmp_path, video, **{"source.tz": "Europe/Amsterdam"}),
                          live=False, fps=10.0)  # fmt: skip
    assert place.time.start == datetime(2026, 3, 29, 0, 30)
    said = [n for n in place.notes if "--tz Europe/Amsterdam" in n]
    assert len(said) == 1 and "not used" in said[0] and "mvhd" in said[0], place.notes
    given = _config(tmp_path, video, **{"source.tz": "Europe/Amsterdam",
                                        "source.start_time": "2026-03-29T02:00:00+02:00"})  # fmt: skip
    said = [n for n in place_session(given, live=False, fps=10.0).notes if "not used" in n]
    assert len(said) == 1 and "offset" in said[0]
    used = _config(tmp_path, video, **{"source.tz": "Europe/Amsterdam",
                                       "source.start_time": "2026-03-29T03:00:00"})  # fmt: skip
    assert not [n for n in place_session(used, live=False, fps=10.0).notes if "not used" in n]


def test_a_photo_run_says_its_zoneless_gpx_is_a_local_clock_as_a_video_run_does(tmp_path):
    """The "has a local clock; zone ..." line of a video's run is said for a photo set's
    track too (one rule: tracks.read.track_in_utc)."""
    from fieldtool.config import Config
    from fieldtool.photos.session import config_track

    gpx = tmp_path / "local.gpx"
    gpx.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        '<trkpt lat="52.09" lon="5.12"><time>2026-06-10T10:00:00</time></trkpt>'
        '<trkpt lat="52.10" lon="5.12"><time>2026-06-10T10:01:00</time></trkpt>'
        "</trkseg></trk></gpx>"
    )
    config = Config.model_validate({"source": {"uri": str(tmp_path), "tz": "Europe/Amsterdam"},
                                    "position": {"track": str(gpx)}})  # fmt: skip
    lines: list[str] = []
    track = config_track(config, lines.append)
    assert track is not None and track.fixes[0].time.hour == 8  # 10:00 CEST is 08:00Z
    assert any("local.gpx has a local clock; zone Europe/Amsterdam" in line for line in lines)
