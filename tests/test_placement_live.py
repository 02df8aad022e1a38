"""The live path keeps the clock rules of a file (``docs/time.md``): a GPX of zone-less
(local) times is converted to UTC the same way, ``--time-offset`` corrects the stored frame
times (the computer's clock, which times a live source's frames), and a local-clock track
crossing a daylight saving change is converted fix by fix."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldtool.placement import place_session
from fieldtool.sources import VideoSource
from fieldtool.tracks import TrackPositions, positions_from_config, read_track
from tests.test_placement import _config, _mp4
from tests.test_placement_clocks import WAGENINGEN, _gpx
from tests.test_sources import FlakyCapture

LIVE = "rtsp://127.0.0.1:1/synthetic"


# ------------------------------------------- 1: a live source's zone-less GPX is a local clock


@pytest.mark.parametrize("tz", ["Europe/Amsterdam", None], ids=["tz", "track-place"])
def test_a_live_source_converts_a_zoneless_gpx_as_a_file_does(tmp_path: Path, tz) -> None:
    """Defect: live place_session read --gpx through positions_from_config, which never
    converted a local clock: fixes written 10:00 in Amsterdam (08:00Z) were looked up by
    the computer's UTC frame times as if 10:00Z, every position two hours off (or none)."""
    local = _gpx(tmp_path / "local.gpx", datetime(2026, 6, 10, 10), 30, zone="")
    values = {"position.track": str(local)} | ({"source.tz": tz} if tz else {})
    live = place_session(_config(tmp_path, LIVE, **values), live=True)
    video = _mp4(tmp_path / "v.mp4")
    file = place_session(_config(tmp_path, video, **values), live=False, fps=10.0)
    assert isinstance(live.positions, TrackPositions)
    assert isinstance(file.positions, TrackPositions)
    assert live.positions.fixes == file.positions.fixes  # one rule for both paths
    assert live.positions.fixes[0].time == datetime(2026, 6, 10, 8)
    at = live.positions.position_at(datetime(2026, 6, 10, 8, 0, 10))  # a UTC frame time
    assert at is not None and at.lat == pytest.approx(WAGENINGEN[0] + 10 * 1e-5)
    assert live.positions.position_at(datetime(2026, 6, 10, 10, 0, 10)) is None
    said = [*live.notes, *live.positions.notes]
    assert any("local.gpx has a local clock; zone Europe/Amsterdam" in n for n in said), said
    assert live.time.source == "wall-clock" and live.time.start is None


def test_positions_from_config_reading_a_local_track_converts_it(tmp_path: Path) -> None:
    """positions_from_config reading the track itself applies the same rule (--tz given)."""
    local = _gpx(tmp_path / "local.gpx", datetime(2026, 6, 10, 10), 30, zone="")
    config = _config(tmp_path, LIVE, **{"position.track": str(local)})
    positions = positions_from_config(config.position, tz="+02:00")
    assert isinstance(positions, TrackPositions)
    assert positions.fixes[0].time == datetime(2026, 6, 10, 8)
    assert any("has a local clock; zone +02:00 (--tz)" in n for n in positions.notes)


# ------------------------------------------- 2: --time-offset corrects a live source's clock


def test_time_offset_corrects_a_live_sources_stored_frame_times(tmp_path: Path) -> None:
    """Defect: on a live source --time-offset moved only the track look-up, while the
    frames were stored at the computer's uncorrected clock (docs/time.md: it corrects the
    clock that is off; a live camera's is the computer's). Now the frame times are
    corrected and looked up once, at the corrected time."""
    from fieldtool.pipeline.inputs import video_placement

    gpx = _gpx(tmp_path / "walk.gpx", datetime(2026, 6, 10, 8), 15 * 60)
    config = _config(tmp_path, LIVE, **{"position.track": str(gpx),
                                        "position.time_offset_s": -300.0})  # fmt: skip
    place = place_session(config, live=True)
    assert isinstance(place.positions, TrackPositions)
    assert place.positions.time_offset_s == 0.0  # the clock moves, not the look-up again
    assert "--time-offset -300 s added" in place.time.describe()
    lines: list[str] = []
    source, _ = video_placement(config, lines.append)  # nothing is opened before frames
    assert source.live and source.clock_offset_s == -300.0
    assert any("--time-offset -300 s added" in line for line in lines), lines
    # the computer's clock reads 08:10 when the stream opens: its frames are at 08:05
    ticks = iter(float(i) for i in range(10_000))
    cam = VideoSource(LIVE, sample_fps=1.0, retry=0, clock=lambda: next(ticks),
                      wall=lambda: datetime(2026, 6, 10, 8, 10), synchronised=lambda: None,
                      open_capture=lambda _: FlakyCapture(3))  # type: ignore[arg-type,return-value]  # fmt: skip
    cam.clock_offset_s = -300.0
    frames = list(cam.frames())
    first = frames[0]
    assert first.wall_time == datetime(2026, 6, 10, 8, 5) + timedelta(seconds=first.t)
    gone = cam.stats.gaps[-1]  # its outage is on the same corrected clock
    assert gone.started_at == datetime(2026, 6, 10, 8, 5) + timedelta(seconds=gone.start_t)
    where = place.positions.position_at(first.wall_time)
    assert where is not None and where.lat == pytest.approx(WAGENINGEN[0] + (300 + first.t) * 1e-5)


def test_a_live_source_with_gpsd_is_offered_gps_time(tmp_path: Path) -> None:
    """Defect: gpsd's fixes carry GPS time, yet a live source on a computer whose clock was
    never set timed every frame by that clock, its positions looked up off the fixes. The
    source is offered GPS time (it takes it when no --time-offset is given and the clock is
    not known to be synchronised: tests/sources/test_live_clock.py); a file is not."""
    from fieldtool.pipeline.inputs import video_placement
    from fieldtool.tracks.gpsd import GpsdPositions

    config = _config(tmp_path, LIVE, **{"position.gpsd": "127.0.0.1:9"})  # nothing answers
    source, place = video_placement(config, lambda line: None)
    try:
        assert isinstance(place.positions, GpsdPositions)
        assert source.gps_time == place.positions.gps_now
    finally:
        place.positions.close()
    video = _mp4(tmp_path / "v.mp4", created=datetime(2026, 6, 1, 9))
    file, placed = video_placement(_config(tmp_path, video, **{"position.gpsd": "127.0.0.1:9"}),
                                   lambda line: None)  # fmt: skip
    try:
        assert file.gps_time is None
    finally:
        close = getattr(placed.positions, "close", None)
        if close is not None:
            close()


def test_a_file_source_gets_no_live_clock_offset(tmp_path: Path) -> None:
    """A file's offset is in its start time (media t=0), never added again per frame."""
    from fieldtool.pipeline.inputs import video_placement

    gpx = _gpx(tmp_path / "walk.gpx", datetime(2026, 3, 29, 0, 20), 15 * 60)
    video = _mp4(tmp_path / "v.mp4", created=datetime(2026, 3, 29, 0, 30))
    config = _config(tmp_path, video, **{"position.track": str(gpx),
                                         "position.time_offset_s": -300.0})  # fmt: skip
    said: list[str] = []
    source, place = video_placement(config, said.append)
    assert source.clock_offset_s == 0.0
    assert source.start_time == place.time.start == datetime(2026, 3, 29, 0, 25)


# --------------------------------- 3: a local-clock track across a daylight saving change


def test_a_zoneless_gpx_across_the_spring_change_is_converted_fix_by_fix(tmp_path) -> None:
    """Defect: in_utc converted a whole local-clock track with the offset at its start:
    a zone-less GPX from 01:50 to 03:10 on 2026-03-29 in Amsterdam (clocks 02:00 -> 03:00)
    put every fix after the change an hour late, silently."""
    unchanged = _gpx(tmp_path / "night.gpx", datetime(2026, 3, 29, 1, 50), 20 * 60, zone="")
    text = unchanged.read_text(encoding="utf-8")
    # the logger's clock followed the change: 01:50..01:59:58 then 03:00..03:10
    across = tmp_path / "across.gpx"
    across.write_text(text.replace("T02:", "T03:"), encoding="utf-8")
    track = read_track(across).in_utc("Europe/Amsterdam")
    times = [f.time for f in track.fixes]
    assert times[0] == datetime(2026, 3, 29, 0, 50)  # +01:00 before
    assert times[-1] == datetime(2026, 3, 29, 1, 10)  # 03:10 at +02:00, not 02:10 UTC
    assert times == sorted(times) and len(set(times)) == len(times)
    steps = {(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)}
    assert steps == {2.0}, steps  # one even walk, no hour's jump
    said = [n for n in track.notes if "daylight saving" in n]
    assert len(said) == 1 and "+01:00" in said[0] and "+02:00" in said[0], track.notes
    assert not said[0].startswith("warning") and "across.gpx" in said[0]
    # a clock that did not change reads the skipped hour (02:00..02:10): said, +01:00 kept
    kept = read_track(unchanged).in_utc("Europe/Amsterdam")
    assert kept.fixes[-1].time == datetime(2026, 3, 29, 1, 10)
    skipped = [n for n in kept.notes if "does not occur" in n]
    assert len(skipped) == 1 and skipped[0].startswith("warning: time: night.gpx"), kept.notes
    assert "301 fix(es)" in skipped[0] and "+01:00" in skipped[0]


def test_a_zoneless_gpx_in_the_repeated_autumn_hour_warns(tmp_path: Path) -> None:
    """The hour repeated when summer time ends (02:00-03:00 on 2026-10-25 in Amsterdam)
    cannot be told apart in local times: the fixes there are taken as the first and one
    warning says so, naming the count and the way out."""
    local = _gpx(tmp_path / "autumn.gpx", datetime(2026, 10, 25, 1, 50), 20 * 60, zone="")
    track = read_track(local).in_utc("Europe/Amsterdam")
    assert track.fixes[0].time == datetime(2026, 10, 24, 23, 50)  # +02:00
    assert track.fixes[-1].time == datetime(2026, 10, 25, 0, 10)  # 02:10, first (+02:00)
    said = [n for n in track.notes if "occurs twice" in n]
    assert len(said) == 1 and said[0].startswith("warning: time: autumn.gpx"), track.notes
    assert "301 fix(es)" in said[0] and "+02:00" in said[0] and "in UTC" in said[0], said


def test_a_summer_only_zoneless_gpx_has_no_change_note(tmp_path: Path) -> None:
    track = read_track(_gpx(tmp_path / "day.gpx", datetime(2026, 6, 10, 10), 60,
                            zone="")).in_utc("Europe/Amsterdam")  # fmt: skip
    assert track.fixes[0].time == datetime(2026, 6, 10, 8)
    assert not [n for n in track.notes if "daylight" in n or "twice" in n]


def test_a_media_timed_local_track_keeps_one_offset(tmp_path: Path) -> None:
    """A DJI SRT's fixes are media_start + media time (one start): they keep its offset,
    a drone clip crossing the change is not split an hour apart."""
    from fieldtool.tracks import TrackRead
    from fieldtool.types import Fix

    start = datetime(2026, 3, 29, 1, 59, 50)
    fixes = tuple(Fix(start + timedelta(seconds=s), 51.97, 5.67) for s in range(0, 30, 5))
    srt = TrackRead(tmp_path / "DJI_0001.SRT", "srt", fixes, "local", start)
    moved = srt.in_utc("Europe/Amsterdam")
    assert moved.media_start == datetime(2026, 3, 29, 0, 59, 50)
    assert [f.time for f in moved.fixes] == [f.time - timedelta(hours=1) for f in fixes]
    assert moved.clock == "utc" and moved.notes == ()
