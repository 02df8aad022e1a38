"""``fieldtool batch`` on real Ray (local mode): the same sightings as ``fieldtool run``,
failed files recorded, reruns skip what is done, a killed run's finished parts are kept."""

from __future__ import annotations

import os
import random

import pandas as pd

from fieldtool.cli import DEMO_REGIONS, main
from fieldtool.pipeline import run_from_config
from fieldtool.scale import run_batch
from fieldtool.scale.merge import merge
from fieldtool.store import query
from tests.scale.conftest import demo_config

SIGHTINGS = (
    "SELECT species, first_t, last_t, frames, peak_score, mean_score FROM sightings "
    "JOIN sessions USING (session_id) WHERE source = ? ORDER BY first_t, species"
)


def test_demo_walks_give_the_sightings_run_gives(ray_local, walks, tmp_path, capsys):
    run_db, batch_db = tmp_path / "run.duckdb", tmp_path / "batch.duckdb"
    for region in DEMO_REGIONS:
        config = demo_config(run_db, **{"source.uri": str(walks / f"walk_{region}.mp4"),
                                        "position.track": str(walks / f"walk_{region}.gpx")})  # fmt: skip
        run_from_config(config, log=lambda message: None)
    capsys.readouterr()
    code = main(["batch", str(walks / "manifest.csv"), "--db", str(batch_db),
                 "--model", str(demo_config(batch_db).model.path),
                 "--ranges", str(demo_config(batch_db).prior.ranges[0])])  # fmt: skip
    assert code == 0
    assert "2 done, 0 skipped (done before), 0 failed" in capsys.readouterr().out
    for region in DEMO_REGIONS:
        source = str(walks / f"walk_{region}.mp4")
        ran = query(run_db, SIGHTINGS, [source])
        batched = query(batch_db, SIGHTINGS, [source])
        assert len(ran) >= 5
        exact = ["species", "first_t", "last_t", "frames"]
        assert batched[exact].equals(ran[exact])
        for score in ("peak_score", "mean_score"):
            assert (batched[score] - ran[score]).abs().max() <= 1e-5
        placed = query(batch_db, "SELECT count(*) FROM sightings JOIN sessions USING (session_id) "
                       "WHERE source = ? AND latitude IS NOT NULL", [source]).iloc[0, 0]  # fmt: skip
        assert placed == len(ran)  # the manifest's track placed them
        counts = (
            "SELECT frames_read, frames_analysed, frames_positioned, time_source, status, "
            "(SELECT count(*) FROM detections d WHERE d.session_id = s.session_id) AS detections, "
            "(SELECT count(*) FROM track k WHERE k.session_id = s.session_id) AS track "
            "FROM sessions s WHERE source = ?"
        )
        assert query(batch_db, counts, [source]).equals(query(run_db, counts, [source]))
    files = query(batch_db, "SELECT status, session_id FROM batch_files")
    assert (files.status == "done").all() and len(files) == len(DEMO_REGIONS)
    sessions = query(batch_db, "SELECT session_id, status FROM sessions")
    assert set(sessions.session_id) == set(files.session_id)
    assert (sessions.status == "finished").all()


def test_corrupt_and_truncated_files_fail_alone_and_reruns_skip_done_files(
    ray_local, walks, tmp_path
):
    folder = tmp_path / "mixed"
    folder.mkdir()
    data = (walks / "walk_west.mp4").read_bytes()
    (folder / "good.mp4").write_bytes(data)
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (folder / "corrupt.mp4").write_bytes(random.Random(0).randbytes(200_000))
    db = tmp_path / "mixed.duckdb"
    config = demo_config(db, **{"source.max_frames": 60})
    summary = run_batch(str(folder), db, config, log=lambda message: None)
    assert [f.path for f in summary.done] == [str(folder / "good.mp4")]
    assert sorted(f.path for f in summary.failed) == [str(folder / "corrupt.mp4"),
                                                       str(folder / "truncated.mp4")]  # fmt: skip
    lines = summary.lines()
    assert lines[0].startswith("batch: 1 done, 0 skipped (done before), 2 failed")
    assert any("corrupt.mp4" in line for line in lines[1:])
    files = query(db, "SELECT path, status, error FROM batch_files ORDER BY path")
    assert list(files.status) == ["failed", "done", "failed"]
    assert "cannot open" in files.error[0]  # random bytes
    assert "no moov atom: the file was cut off" in files.error[2]  # the first half of an MP4
    assert pd.isna(files.error[1])
    assert query(db, "SELECT frames_analysed FROM sessions").iloc[0, 0] > 0

    again = run_batch(str(folder), db, config, log=lambda message: None)
    assert again.skipped == [str(folder / "good.mp4")]
    assert len(again.failed) == 2 and not again.done  # failed files are tried again
    assert query(db, "SELECT count(*) FROM sessions").iloc[0, 0] == 1


def test_a_killed_runs_finished_parts_are_merged_not_redone_and_merging_is_idempotent(
    ray_local, walks, tmp_path
):
    db = tmp_path / "first.duckdb"
    config = demo_config(db, **{"source.max_frames": 150})
    first = run_batch(str(walks / "walk_east.mp4"), db, config, log=lambda message: None)
    assert len(first.done) == 1
    parts = db.with_name(db.name + ".parts")
    (marker,) = parts.glob("*/_SUCCESS.json")
    stamp = os.stat(marker).st_mtime_ns
    rows = "SELECT species, first_t, frames, snapshot_path FROM sightings ORDER BY ALL"
    before = query(db, rows)
    assert len(before) and query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 50
    db.unlink()  # as if the run was killed after the part was written, before the merge
    again = run_batch(str(walks / "walk_east.mp4"), db, config, log=lambda message: None)
    assert len(again.done) == 1 and os.stat(marker).st_mtime_ns == stamp  # not run again
    assert query(db, rows).equals(before)
    assert all((db.parent / p).is_file() for p in before.snapshot_path)
    merge(db, parts, again.done)  # the same part once more: nothing doubles
    assert query(db, rows).equals(before)
    assert query(db, "SELECT count(*) FROM detections").iloc[0, 0] == 50
    assert query(db, "SELECT count(*) FROM batch_files").iloc[0, 0] == 1


def test_a_damaged_files_gap_is_recorded_as_run_records_it(ray_local, tmp_path):
    """The decoding task's damage gap reaches ``source_gaps`` through the same session end
    as a run in one process (``finish_session``)."""
    from tests.sources.conftest import write_h264_pyav

    video = write_h264_pyav(tmp_path / "long.mp4", frames=150, fps=30, bframes=False)
    data = bytearray(video.read_bytes())
    middle, size = len(data) // 2, len(data) // 20  # zeros over 1/20 of the file, half way
    data[middle : middle + size] = bytes(size)
    video.write_bytes(bytes(data))
    run_db, batch_db = tmp_path / "run.duckdb", tmp_path / "batch.duckdb"
    settings = {"source.decoder": "pyav", "prior.ranges": []}
    run_from_config(demo_config(run_db, **{"source.uri": str(video), **settings}),
                    log=lambda message: None)  # fmt: skip
    summary = run_batch(str(video), batch_db, demo_config(batch_db, **settings),
                        log=lambda message: None)  # fmt: skip
    assert [f.path for f in summary.done] == [str(video)]
    (said,) = [line for line in summary.lines() if line.startswith("gaps:")]  # not only in SQL
    assert str(video) in said and "1 stretch(es)" in said
    gaps = "SELECT start_t, end_t, reason FROM source_gaps ORDER BY start_t"
    ran, batched = query(run_db, gaps), query(batch_db, gaps)
    assert len(ran) == 1 and "damaged data" in ran.reason[0]
    assert batched.equals(ran)
    ended = "SELECT status, frames_read, frames_analysed FROM sessions"
    assert query(batch_db, ended).equals(query(run_db, ended))


def test_a_manifests_place_and_camera_id_identical_copies_and_each_files_warnings(
    ray_local, walks, tmp_path, capsys
):
    """A fixed camera's row: ``place`` positions every frame, ``camera_id`` names the
    session. A byte copy with the same place and camera is said identical, not "done
    before". A file with no recording time nor position is warned about, by name, as
    ``fieldtool run`` warns, and counted in the summary."""
    import shutil

    shutil.copy(walks / "walk_east.mp4", walks / "east_copy.mp4")
    (walks / "walk_west.gpx").unlink()  # else its run is placed by the GPX beside it
    (walks / "fixed.csv").write_text(
        "path,track,start_time,place,camera_id\n"
        'walk_east.mp4,,2026-06-02T09:00:00Z,"44.56,-123.30",cam-east\n'
        "east_copy.mp4,,2026-06-02T09:00:00Z,44.56 -123.30,cam-east\n"
        "walk_west.mp4,,,,\n"
    )
    db = tmp_path / "fixed.duckdb"
    config = demo_config(db)
    code = main(["batch", str(walks / "fixed.csv"), "--db", str(db),
                 "--model", str(config.model.path), "--ranges", str(config.prior.ranges[0]),
                 "--set", "source.max_frames=30"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    east, copy, west = (str(walks / n) for n in ("walk_east.mp4", "east_copy.mp4",
                                                   "walk_west.mp4"))  # fmt: skip
    sessions = query(db, "SELECT source, source_name, frames_analysed, frames_positioned, "
                     "time_source FROM sessions ORDER BY source")  # fmt: skip
    assert list(sessions.source) == [east, west]  # the copy did not run twice
    placed = sessions.iloc[0]
    assert placed.source_name == "cam-east"
    assert placed.frames_positioned == placed.frames_analysed > 0
    track = query(db, "SELECT DISTINCT round(latitude, 4) AS lat, round(longitude, 4) AS lon "
                  "FROM track")  # fmt: skip
    assert track.values.tolist() == [[44.56, -123.3]]
    assert pd.isna(sessions.iloc[1].source_name) and sessions.iloc[1].frames_positioned == 0
    assert f"{copy}: identical to {east} (same bytes, track and settings): not run twice" in (
        out + err
    )
    assert "batch: 2 done, 0 skipped (done before), 1 identical to another, 0 failed" in out
    warned = [line for line in err.splitlines() if "warning" in line]
    assert any(west in line and "carries no recording time" in line for line in warned), err
    assert not any(east in line for line in warned), err
    summary = out.splitlines()
    for what in ("dated at the processing time", "with no frame positioned"):
        (line,) = [x for x in summary if x.startswith(f"warning: 1 session(s) {what}")]
        assert line.endswith(f": {west}")


def test_a_gpx_beside_a_video_places_its_batch_run_and_an_edited_one_runs_it_again(
    ray_local, walks, tmp_path
):
    """A folder's video with its logger's GPX beside it (walk_west.mp4 + walk_west.gpx)
    is placed by it, as ``fieldtool run`` places it; the same GPX skips it as done, an
    edited one runs it again."""
    folder = tmp_path / "beside"
    folder.mkdir()
    for name in ("walk_west.mp4", "walk_west.gpx"):
        (folder / name).write_bytes((walks / name).read_bytes())
    db = tmp_path / "beside.duckdb"
    config = demo_config(db, **{"source.max_frames": 30})
    first = run_batch(str(folder), db, config, log=lambda message: None)
    assert [f.path for f in first.done] == [str(folder / "walk_west.mp4")]
    placed = query(db, "SELECT frames_analysed, frames_positioned FROM sessions").iloc[0]
    assert placed.frames_positioned == placed.frames_analysed > 0
    rerun = run_batch(str(folder), db, config, log=lambda message: None)
    assert rerun.skipped == [str(folder / "walk_west.mp4")] and not rerun.done
    gpx = folder / "walk_west.gpx"
    gpx.write_text(gpx.read_text().replace("<ele>70.0</ele>", "<ele>71.5</ele>", 1))  # corrected
    again = run_batch(str(folder), db, config, log=lambda message: None)
    assert [f.path for f in again.done] == [str(folder / "walk_west.mp4")] and not again.skipped
