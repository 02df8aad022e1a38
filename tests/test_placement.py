"""Time and place of a session: own tracks found by themselves, zones, the overlap check."""

from __future__ import annotations

import shutil
import struct
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.config import load_config
from fieldtool.pipeline import inputs_from_config, run_from_config
from fieldtool.placement import place_session
from fieldtool.store import query
from fieldtool.timebase import TimeBasis, parse_zone, to_utc, utc_naive
from fieldtool.tracks import mp4_creation_time, read_track
from fieldtool.types import FieldtoolError
from tests.conftest import SHARED_DATA, write_video

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
SRT_DIR = SHARED_DATA / "telemetry" / "dji_srt"
GOPRO = SHARED_DATA / "telemetry" / "gopro" / "max-heromode.mp4"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data folder absent")
_MP4_EPOCH = datetime(1904, 1, 1)


def _config(tmp_path: Path, uri: Path | str, **overrides: object):
    values = {"source.uri": str(uri), "store.db": str(tmp_path / "s.duckdb"),
              "store.snapshots": False, "source.sample_fps": 2.0}  # fmt: skip
    values.update(overrides)
    return load_config(None, values)


def _mp4(path: Path, seconds: float = 4.0, created: datetime | None = None) -> Path:
    """An MP4 (OpenCV's mp4v) with its mvhd creation time set to ``created`` (naive)."""
    write_video(path.with_suffix(".avi"), [(0, seconds)])
    import cv2

    cap = cv2.VideoCapture(str(path.with_suffix(".avi")))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(frame)
    writer.release()
    cap.release()
    if created is not None:
        data = bytearray(path.read_bytes())
        at = data.find(b"mvhd")
        assert at > 0 and data[at + 4] == 0  # version 0: 32-bit seconds since 1904
        secs = int((created - _MP4_EPOCH).total_seconds())
        struct.pack_into(">II", data, at + 8, secs, secs)
        path.write_bytes(bytes(data))
    return path


def _logs() -> tuple[list[str], object]:
    lines: list[str] = []
    return lines, lines.append


# ------------------------------------------------------------------------ time zones


def test_zone_parsing_and_conversion() -> None:
    assert to_utc(datetime(2022, 6, 21, 16, 6, 17), "Europe/Madrid") == datetime(
        2022, 6, 21, 14, 6, 17
    )  # summer time: UTC+2
    assert to_utc(datetime(2022, 1, 21, 16, 0), "Europe/Madrid") == datetime(2022, 1, 21, 15, 0)
    assert to_utc(datetime(2022, 1, 21, 16, 0), "-05:30") == datetime(2022, 1, 21, 21, 30)
    assert utc_naive(datetime(2022, 1, 1, 12, 0), "+02:00") == datetime(2022, 1, 1, 10, 0)
    assert utc_naive(datetime(2022, 1, 1, 12, 0)) == datetime(2022, 1, 1, 12, 0)
    with pytest.raises(FieldtoolError, match="Mars/Olympus"):
        parse_zone("Mars/Olympus")


def test_bad_tz_flag_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(FieldtoolError, match="source.tz.*unknown"):
        _config(tmp_path, "x.mp4", **{"source.tz": "Nowhere/Land"})


# --------------------------------------------------------------- MP4 creation time


def test_mp4_creation_time_dates_a_video_without_track(tmp_path: Path) -> None:
    """Defect: a video with neither track nor --start-time was dated at processing time."""
    created = datetime(2026, 6, 1, 9, 30, 0)
    video = _mp4(tmp_path / "phone.mp4", created=created)
    assert mp4_creation_time(video) == created
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert place.positions is None
    assert (place.time.start, place.time.source, place.time.zone_known) == (
        created, "mp4-creation-time", True,
    )  # fmt: skip
    lines, log = _logs()
    result = run_from_config(_config(tmp_path, video, **{"position.lat": 44.5,
                                                        "position.lon": -123.3}), log=log)  # fmt: skip
    row = query(
        tmp_path / "s.duckdb", "SELECT time_source, time_zone, time_zone_known FROM sessions"
    )
    assert tuple(row.iloc[0]) == ("mp4-creation-time", "UTC", True)
    first = query(tmp_path / "s.duckdb", "SELECT min(time) AS t FROM detections").iloc[0, 0]
    assert first.to_pydatetime() == created
    assert result.session.frames_positioned == result.session.frames_analysed > 0


def test_video_without_any_time_warns_and_says_processing_time(tmp_path: Path) -> None:
    video = _mp4(tmp_path / "bare.mp4")  # OpenCV writes creation time 0: unset
    assert mp4_creation_time(video) is None
    lines, log = _logs()
    inputs = inputs_from_config(_config(tmp_path, video), log)
    assert inputs.time is not None and inputs.time.source == "processing-time"
    assert any("carries no recording time" in line for line in lines)


# --------------------------------------------------------------- the overlap check


def test_start_time_outside_the_track_warns_before_the_run(tmp_path: Path) -> None:
    """Defect: --start-time outside the GPX's span ran to 'finished' with nothing placed."""
    gpx = DEMO / "walk_west.gpx"
    lines, log = _logs()
    config = _config(tmp_path, DEMO / "walk_west.mp4", **{
        "position.track": str(gpx), "source.start_time": "2020-01-01T00:00:00Z",
        "source.max_frames": 40})  # fmt: skip
    result = run_from_config(config, log=log)
    warnings = [line for line in lines if line.startswith("warning: only")]
    assert len(warnings) == 1, lines
    assert "0% of the video's frames" in warnings[0]
    assert "2020-01-01 00:00:00" in warnings[0]  # the video's span
    assert "--time-offset" in warnings[0] and "--start-time" in warnings[0]
    assert result.session.frames_positioned == 0


def test_a_matching_track_gives_no_warning_and_the_summary_counts_positioned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fieldtool.cli import main

    db = tmp_path / "s.duckdb"
    code = main(["run", str(DEMO / "walk_west.mp4"), "--track", str(DEMO / "walk_west.gpx"),
                 "--db", str(db), "--no-snapshots", "--quiet", "--sample-fps", "2",
                 "--set", "source.max_frames=60"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert "warning: only" not in err
    assert "positioned (100%)" in err
    row = query(db, "SELECT frames_positioned, frames_analysed, time_source FROM sessions")
    assert row.iloc[0, 0] == row.iloc[0, 1] > 0 and row.iloc[0, 2] == "track-start"


def test_a_zone_error_of_whole_hours_is_named(tmp_path: Path) -> None:
    gpx = DEMO / "walk_west.gpx"
    from fieldtool.tracks import read_gpx

    first = read_gpx(gpx).fixes[0].time
    lines, log = _logs()
    config = _config(tmp_path, DEMO / "walk_west.mp4", **{
        "position.track": str(gpx),
        "source.start_time": (first - timedelta(hours=2)).isoformat() + "Z"})  # fmt: skip
    inputs_from_config(config, log)
    warning = next(line for line in lines if line.startswith("warning: only"))
    assert "7200 s after the video" in warning and "time zone error" in warning
    assert "--time-offset +7200 in all" in warning  # frames 2 h later meet the track


# ------------------------------------------------------- the video's own tracks


@needs_shared
def test_sidecar_srt_is_found_placed_by_media_time_and_its_zone_taken_from_its_place(
    tmp_path: Path,
) -> None:
    """Defect: an SRT's local clock against a UTC --start-time placed nothing; its local
    times were stored as UTC."""
    video = _mp4(tmp_path / "DJI_0001.mp4", seconds=6.0)
    shutil.copy(SRT_DIR / "mavic_pro.SRT", tmp_path / "DJI_0001.SRT")
    lines, log = _logs()
    result = run_from_config(_config(tmp_path, video), log=log)
    assert any("using DJI_0001.SRT" in line for line in lines), lines
    s = result.session
    assert s.frames_positioned == s.frames_analysed > 0
    # The SRT's clock (2017-08-05 14:11:50 at media t=0, Queensland, UTC+10) moved to UTC.
    row = query(tmp_path / "s.duckdb",
                "SELECT time_source, time_zone, time_zone_known FROM sessions").iloc[0]  # fmt: skip
    assert row["time_source"] == "srt-clock" and row["time_zone_known"]
    assert row["time_zone"].startswith("Australia/")
    first = query(tmp_path / "s.duckdb", "SELECT min(time) FROM detections").iloc[0, 0]
    assert first.to_pydatetime() == datetime(2017, 8, 5, 4, 11, 50)
    lat = query(tmp_path / "s.duckdb", "SELECT avg(latitude) FROM detections").iloc[0, 0]
    assert lat == pytest.approx(-20.2533, abs=1e-3)

    # A --start-time two hours off (a zone slip) no longer unplaces the frames.
    db2 = tmp_path / "s2.duckdb"
    other = run_from_config(_config(tmp_path, video, **{
        "source.start_time": "2017-08-05T14:11:50Z", "store.db": str(db2)}), log=log)  # fmt: skip
    assert other.session.frames_positioned == other.session.frames_analysed > 0


@needs_shared
def test_tz_flag_overrides_and_an_unknown_zone_stays_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = _mp4(tmp_path / "DJI_0002.mp4", seconds=3.0)
    shutil.copy(SRT_DIR / "mavic_pro.SRT", tmp_path / "DJI_0002.srt")
    place = place_session(_config(tmp_path, video, **{"source.tz": "+02:00"}), live=False,
                          fps=10.0)  # fmt: skip
    assert place.time.start == datetime(2017, 8, 5, 12, 11, 50)
    assert (place.time.zone, place.time.zone_known) == ("+02:00", True)

    monkeypatch.setattr("fieldtool.timebase.zone_at", lambda lat, lon: None)
    lines, log = _logs()
    result = run_from_config(_config(tmp_path, video), log=log)
    assert any("zone unknown" in line for line in lines), lines
    row = query(tmp_path / "s.duckdb", "SELECT time_zone, time_zone_known FROM sessions").iloc[0]
    assert row["time_zone"] is None or row["time_zone"] != row["time_zone"]  # NULL
    assert not row["time_zone_known"]
    first = query(tmp_path / "s.duckdb", "SELECT min(time) FROM detections").iloc[0, 0]
    assert first.to_pydatetime() == datetime(2017, 8, 5, 14, 11, 50)  # the local clock, as is
    assert result.session.frames_positioned == result.session.frames_analysed


@needs_shared
def test_gopro_clip_uses_the_gps_inside_it_by_itself(tmp_path: Path) -> None:
    clip = tmp_path / "GX010042.MP4"
    shutil.copy(GOPRO, clip)
    lines, log = _logs()
    result = run_from_config(_config(tmp_path, clip, **{"source.max_frames": 120}), log=log)
    assert any("GoPro GPMF track inside GX010042.MP4" in line for line in lines), lines
    row = query(tmp_path / "s.duckdb", "SELECT time_source, time_zone_known FROM sessions")
    assert tuple(row.iloc[0]) == ("gpmf-gpsu", True)
    assert result.session.frames_positioned == result.session.frames_analysed > 0


def test_auto_track_off_and_an_explicit_position_skip_discovery(tmp_path: Path) -> None:
    video = _mp4(tmp_path / "DJI_0003.mp4", seconds=2.0)
    (tmp_path / "DJI_0003.SRT").write_text("not telemetry\n")
    place = place_session(_config(tmp_path, video, **{"position.lat": 1.0, "position.lon": 2.0}),
                          live=False, fps=10.0)  # fmt: skip
    assert type(place.positions).__name__ == "FixedPosition"
    place = place_session(_config(tmp_path, video, **{"position.auto_track": False}), live=False)
    assert place.positions is None


class _SyntheticLiveCamera:
    """A live source whose frames cover 90 s of media time, yielded without waiting."""

    def __init__(self, start: datetime) -> None:
        from fieldtool.sources import SourceStats

        self.uri, self.live, self.stats = "rtsp://127.0.0.1/synthetic", True, SourceStats()
        self.fps, self.frame_count, self.start = None, None, start
        self.name: str | None = None  # no name beside its URI

    def frames(self):
        import numpy as np

        from fieldtool.types import Frame

        for i in range(46):  # one frame every 2 s of media time
            self.stats.frames_read += 1
            t = 2.0 * i
            yield Frame(i, t, self.start + timedelta(seconds=t), np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("track_year, warned", [(2001, True), (2026, False)])
def test_live_source_is_checked_once_after_its_first_minute(
    tmp_path: Path, colour_classifier, track_year: int, warned: bool
) -> None:
    from fieldtool.pipeline import run_session
    from fieldtool.store import SightingStore
    from fieldtool.tracks import TrackPositions
    from fieldtool.types import Fix

    start = datetime(2026, 6, 1, 9, 0, 0)
    fixes = [Fix(datetime(track_year, 6, 1, 9, 0, s), 44.5, -123.3) for s in range(0, 60, 5)]
    fixes += [Fix(datetime(track_year, 6, 1, 9, 1, s), 44.5, -123.3) for s in range(0, 60, 5)]
    positions = TrackPositions(fixes, max_gap_s=30.0, source="gpx")
    config = _config(tmp_path, "rtsp://127.0.0.1/synthetic")
    lines, log = _logs()
    result = run_session(_SyntheticLiveCamera(start), colour_classifier,  # type: ignore[arg-type]
                         SightingStore(config.store.db), config, positions=positions,
                         log=log)  # fmt: skip
    warnings = [line for line in lines if "of the first minute got a position" in line]
    assert len(warnings) == (1 if warned else 0), lines
    assert result.session.time_source == "wall-clock"
    assert (result.session.frames_positioned > 0) is not warned


def test_a_track_timed_before_gps_existed_is_refused(tmp_path: Path) -> None:
    """A logger without a clock writes 1901-12-13T20:45:52 (the 32-bit Unix minimum) on
    every point: taken as fixes, it dated the session 1901."""
    points = "".join(
        f'<trkpt lat="46.43{i}" lon="13.74{i}"><time>1901-12-13T20:45:52.207Z</time></trkpt>'
        for i in range(5)
    )
    gpx = tmp_path / "noclock.gpx"
    gpx.write_text(f'<gpx version="1.0"><trk><trkseg>{points}</trkseg></trk></gpx>')
    with pytest.raises(FieldtoolError, match=r"noclock.gpx: no plausible fixes .*5 before_1980"):
        read_track(gpx)


@pytest.mark.parametrize("extra", [["--lat", "44.5", "--lon", "-123.3"], ["--gpsd"]])
def test_a_track_and_another_position_source_is_a_one_line_error(tmp_path, capsys, extra):
    """For files the track was read and the other source silently ignored."""
    from fieldtool.cli import main

    code = main(["run", str(DEMO / "walk_west.mp4"), "--track", str(DEMO / "walk_west.gpx"),
                 *extra, "--db", str(tmp_path / "s.duckdb")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "give one of lat/lon, a track or gpsd" in err[0]
    assert not (tmp_path / "s.duckdb").exists()


def test_a_track_that_ends_before_the_video_is_said(tmp_path: Path) -> None:
    # a drone's SRT 55 s long beside a 75 s clip: the last fix is held for 20 s of video
    from fieldtool.placement import held_warning
    from fieldtool.tracks import TrackPositions
    from fieldtool.types import Fix

    t0 = datetime(2026, 6, 1, 9)
    fixes = [Fix(t0 + timedelta(seconds=s), 44.0 + s * 1e-4, -123.0) for s in range(0, 56)]
    track = TrackPositions(fixes, 30.0, 0.0, source="srt")
    warning = held_warning(track, t0, 75.0)
    assert warning is not None and "ends 20.0 s before the video" in warning
    assert "20.0 s of video are placed at its last fix" in warning and "get none" not in warning
    late = held_warning(track, t0 - timedelta(seconds=5), 100.0)  # starts late, ends early
    assert late is not None and "starts 5.0 s after the video begins" in late
    assert "30.0 s of video are placed at its last fix" in late
    assert "the 10.0 s beyond get none" in late
    assert held_warning(track, t0, 55.0) is None  # the track covers the video
    assert held_warning(track, t0, 56.5) is None  # a second and a half: a fix's spacing


def test_the_run_says_its_track_ends_early(tmp_path: Path) -> None:
    video = _mp4(tmp_path / "walk.mp4", seconds=8.0, created=datetime(2026, 6, 1, 9))
    gpx = tmp_path / "short.gpx"
    points = "".join(f'<trkpt lat="{44 + i * 1e-4}" lon="-123"><time>2026-06-01T09:00:0{i}Z'
                     "</time></trkpt>" for i in range(4))  # fmt: skip
    gpx.write_text('<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
                   f"<trk><trkseg>{points}</trkseg></trk></gpx>")  # fmt: skip
    lines, log = _logs()
    inputs_from_config(_config(tmp_path, video, **{"position.track": str(gpx)}), log)
    assert any("the track ends 5.0 s before the video" in line for line in lines), lines


# --------------------------------------------------------------- a copied drone file


@needs_shared
@pytest.mark.parametrize("copied_days", [0.0, 1900.0])
def test_a_copied_srts_file_time_does_not_beat_the_mp4s_creation_time(tmp_path, copied_days):
    """A DJI SRT without dates is dated by its modification time, which copying the card
    resets to the day of the copy (years after the flight). Where it is later than the
    MP4's own creation time by more than any time zone and the flight, the creation time
    dates the video, said in a warning: the drone's local clock, converted with the zone
    of the SRT's place (Washington: UTC-7 in May); a file time that agrees stays (UTC)."""
    import os

    created = datetime(2021, 5, 1, 17, 0, 0)
    video = _mp4(tmp_path / "DJI_0001.MP4", created=created)
    srt = shutil.copy(SRT_DIR / "mavic_mini.SRT", tmp_path / "DJI_0001.SRT")
    closed = created + timedelta(hours=2, days=copied_days)  # 2 h: a zone's worth
    stamp = (closed - datetime(1970, 1, 1)).total_seconds()
    os.utime(srt, (stamp, stamp))
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    warned = [n for n in place.notes if "modification time" in n]
    if copied_days:
        assert place.time.source == "mp4-creation-time"
        assert place.time.start == created + timedelta(hours=7)
        assert place.time.zone == "America/Los_Angeles" and place.time.zone_known
        assert len(warned) == 1 and "2021-05-01" in warned[0] and warned[0].startswith("warning")
        assert "--start-time" in warned[0]
    else:
        assert place.time.source == "srt-file-mtime" and warned == []
        assert abs(place.time.start - created) < timedelta(hours=3)


def test_the_videos_own_track_gets_no_time_offset_advice(tmp_path: Path) -> None:
    """A DJI SRT beside its video is matched by media time: --time-offset moves nothing
    there, so a short SRT's warning must not advise one (following it placed no frame at
    all), and a --start-time whole hours from the SRT's own clock asks about the zone."""
    from fieldtool.placement import overlap_share, overlap_warning, start_time_warning
    from fieldtool.timebase import TimeBasis
    from fieldtool.tracks import TrackPositions
    from fieldtool.types import Fix

    clock = datetime(2017, 8, 5, 4, 11, 50)  # the SRT's own clock (UTC after its zone)
    fixes = [Fix(clock + timedelta(seconds=s), -20.0 + s * 1e-5, 149.0) for s in range(117)]
    track = TrackPositions(fixes, 2.0, 0.0, source="srt", media_start=clock,
                           by_media_time=True)  # fmt: skip
    given = datetime(2017, 8, 5, 14, 11, 50)  # local time written with a Z: 10 h off
    basis = TimeBasis(given, "start-time", "UTC", True, "--start-time")
    share = overlap_share(track, given, 300.0, 1.0)
    assert 0.3 < share < 0.5  # 117 s of 300 s, wherever --start-time puts the video
    warning = overlap_warning(track, basis, 300.0, share)
    assert warning is not None and "fix with --time-offset" not in warning
    assert "own" in warning and "116 s of the video's 300 s" in warning  # 117 fixes a second apart
    zone = start_time_warning(track, basis)
    assert zone is not None and "+10 h" in zone and "time zone" in zone
    assert start_time_warning(track, TimeBasis(clock, "start-time", "UTC", True, "")) is None


@needs_shared
@pytest.mark.parametrize(("tz", "apart"), [("+02:00", "8"), ("Australia/Brisbane", None),
                                           ("+10:00", None)])  # fmt: skip
def test_tz_that_disagrees_with_the_tracks_place_is_said(tmp_path: Path, tz, apart) -> None:
    """--tz comes first for a local clock (the SRT's, Queensland, UTC+10); a --tz that gives
    another UTC offset than the zone where the track is shifts every time: said."""
    video = _mp4(tmp_path / "DJI_0002.mp4", seconds=3.0)
    shutil.copy(SRT_DIR / "mavic_pro.SRT", tmp_path / "DJI_0002.srt")
    place = place_session(_config(tmp_path, video, **{"source.tz": tz}), live=False, fps=10.0)
    said = [n for n in place.notes if n.startswith("warning: --tz")]
    if apart is None:
        assert not said, said
    else:
        (line,) = said
        assert f"--tz {tz} disagrees with the zone of the track's place, Australia/" in line
        assert f"({apart} h apart)" in line and "DJI_0002.srt" in line


@pytest.mark.parametrize(("tz", "warned"), [("Europe/Madrid", True), ("America/Los_Angeles",
                                                                      False)])  # fmt: skip
def test_start_time_in_a_tz_far_from_the_track_is_said(tmp_path: Path, tz, warned) -> None:
    """A local --start-time taken in --tz Europe/Madrid for a walk in Oregon: 9 h off."""
    config = _config(tmp_path, DEMO / "walk_west.mp4", **{
        "position.track": str(DEMO / "walk_west.gpx"), "source.tz": tz,
        "source.start_time": "2026-06-01T09:00:00"})  # fmt: skip
    place = place_session(config, live=False, fps=10.0)
    said = [n for n in place.notes if n.startswith("warning: --tz")]
    assert bool(said) == warned, said
    if warned:
        assert "America/Los_Angeles (9 h apart)" in said[0] and "--start-time" in said[0]


@pytest.mark.parametrize("clock", [datetime(1970, 1, 1), datetime(1970, 1, 1, 0, 5),
                                   datetime(1990, 6, 1)])  # fmt: skip
def test_a_creation_time_before_video_files_existed_is_no_time(tmp_path: Path, clock) -> None:
    """A camera whose clock was never set writes the Unix epoch: not a recording time."""
    video = _mp4(tmp_path / "cam.mp4", created=clock)
    assert mp4_creation_time(video) is None
    lines, log = _logs()
    inputs = inputs_from_config(_config(tmp_path, video), log)
    assert inputs.time is not None and inputs.time.source == "processing-time"
    assert any("carries no recording time" in line and "never set" in line for line in lines)


@pytest.mark.parametrize("suffix", [".m4v", ".3gp", ".3g2", ".MP4", ".M4V"])
def test_every_iso_media_container_is_dated_by_its_creation_time(tmp_path: Path, suffix) -> None:
    """Phones write .3gp, iTunes-style copies .m4v: the same mvhd as an .mp4."""
    created = datetime(2026, 6, 1, 9, 0, 0)
    video = _mp4(tmp_path / "phone.mp4", created=created).rename(tmp_path / f"phone{suffix}")
    place = place_session(_config(tmp_path, video), live=False, fps=10.0)
    assert (place.time.start, place.time.source) == (created, "mp4-creation-time")


def test_a_video_dated_by_a_much_longer_track_says_so(tmp_path: Path) -> None:
    """A new-user trial found: a GPX of several days' tracks dated a 75 s video without a
    time of its own by the first fix of the first day, placed it there too (100% of
    frames "positioned"), and said nothing. The first fix is a guess when the track runs
    far longer than the video: said, with the fix."""
    from fieldtool.tracks import read_gpx

    walk = read_gpx(DEMO / "walk_west.gpx").fixes
    day_before = [(walk[0].time - timedelta(hours=26) + timedelta(seconds=s), 44.86, -123.30)
                  for s in range(0, 600, 10)]  # fmt: skip
    tracks = [day_before, [(f.time, f.lat, f.lon) for f in walk]]
    body = "".join(
        "<trk><trkseg>" + "".join(
            f'<trkpt lat="{lat}" lon="{lon}"><time>{t:%Y-%m-%dT%H:%M:%S}Z</time></trkpt>'
            for t, lat, lon in points) + "</trkseg></trk>" for points in tracks)  # fmt: skip
    gpx = tmp_path / "week.gpx"
    gpx.write_text(f'<gpx version="1.1" creator="t">{body}</gpx>', encoding="utf-8")
    lines, log = _logs()
    inputs = inputs_from_config(_config(tmp_path, DEMO / "walk_west.mp4",
                                        **{"position.track": str(gpx)}), log)  # fmt: skip
    assert inputs.time is not None and inputs.time.source == "track-start"
    said = [line for line in lines if line.startswith("warning") and "first fix" in line]
    assert len(said) == 1, lines
    assert "week.gpx" in said[0] and "26" in said[0] and "--start-time" in said[0]
    # a track about as long as the video: the usual case, nothing said
    lines2, log2 = _logs()
    inputs_from_config(_config(tmp_path, DEMO / "walk_west.mp4",
                               **{"position.track": str(DEMO / "walk_west.gpx")}), log2)  # fmt: skip
    assert not [line for line in lines2 if "first fix" in line and "warning" in line], lines2


def test_a_local_start_in_the_hour_repeated_when_summer_time_ends_is_said(tmp_path) -> None:
    """A local clock read in the hour that occurs twice is taken as the first (summer
    time); the time line says so, and which offset the other would have had."""
    from fieldtool.timebase import repeated_local_time

    video = _mp4(tmp_path / "v.mp4")
    config = _config(tmp_path, video, **{"source.start_time": "2026-11-01T01:30:00",
                                         "source.tz": "America/New_York"})  # fmt: skip
    basis = place_session(config, live=False, fps=10.0).time
    assert basis.start == datetime(2026, 11, 1, 5, 30)  # EDT, -04:00
    line = basis.describe()
    assert "2026-11-01 01:30:00 occurs twice in America/New_York" in line, line
    assert "-04:00" in line and "-05:00" in line
    assert repeated_local_time(datetime(2026, 11, 1, 6, 30), "America/New_York") == datetime(
        2026, 11, 1, 1, 30)  # the second one, EST
    for utc, zone in [(datetime(2026, 11, 1, 4, 30), "America/New_York"),  # 00:30 EDT
                      (datetime(2026, 11, 1, 5, 30), "-04:00"), (datetime(2026, 11, 1, 5), "UTC")]:  # fmt: skip
        assert repeated_local_time(utc, zone) is None
    plain = place_session(_config(tmp_path, video, **{"source.start_time": "2026-06-01T01:30:00",
                                                     "source.tz": "America/New_York"}),
                          live=False, fps=10.0).time  # fmt: skip
    assert "occurs twice" not in plain.describe()
    # a photo set's basis is its first photo, maybe GPS-timed: its photos say it per zone
    photos = TimeBasis(datetime(2026, 11, 1, 5, 30), "photos", "America/New_York", True, "x")
    assert "occurs twice" not in photos.describe()


def test_the_no_overlap_hint_gives_the_whole_offset_where_one_was_given() -> None:
    """With --time-offset +600 given, a track starting 1,200 s before the (corrected)
    video needs a total --time-offset of -600 s: the hint says the total, not -1,200."""
    from fieldtool.placement import overlap_share, overlap_warning
    from fieldtool.timebase import TimeBasis
    from fieldtool.tracks import TrackPositions
    from fieldtool.types import Fix

    clock = datetime(2026, 3, 29, 0, 25, 0)
    fixes = [Fix(clock + timedelta(seconds=s), 52.0 + s * 1e-5, 4.9) for s in range(60)]
    track = TrackPositions(fixes, 2.0, source="gpx")
    start = clock + timedelta(seconds=1200)  # the camera's clock + 600 s given
    basis = TimeBasis(start, "mp4-creation-time", "UTC", True, "mvhd; --time-offset +600 s added")
    warning = overlap_warning(track, basis, 20.0, overlap_share(track, start, 20.0, 1.0),
                              given_offset_s=600.0)  # fmt: skip
    assert warning is not None
    assert "1200 s before the video" in warning and "--time-offset -600" in warning
