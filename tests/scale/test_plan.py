"""The plan without Ray: what an input names, the keys that make reruns skip done work."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fieldtool.scale.plan import (
    PlanRow,
    batch_key,
    content_sha256,
    find_inputs,
    settings_sha256,
    with_hash,
)
from fieldtool.types import FieldtoolError
from tests.scale.conftest import demo_config


@pytest.fixture
def tree(tmp_path) -> Path:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/one.mp4", "a/deep/two.MOV", "a/notes.txt", "three.mp4"):
        (tmp_path / name).write_bytes(name.encode())
    return tmp_path


def test_a_folder_names_its_videos_recursively_a_glob_what_it_matches(tree):
    assert [r.path for r in find_inputs(str(tree))] == [
        str(tree / "a/deep/two.MOV"), str(tree / "a/one.mp4"), str(tree / "three.mp4"),
    ]  # fmt: skip
    assert [r.path for r in find_inputs(str(tree / "a" / "*.mp4"))] == [str(tree / "a/one.mp4")]
    assert [r.path for r in find_inputs(str(tree / "three.mp4"))] == [str(tree / "three.mp4")]


def test_a_manifest_gives_each_file_its_track_relative_to_the_manifest(tree):
    (tree / "m.csv").write_text("path,track,start_time\na/one.mp4,a/one.gpx,\nthree.mp4,,"
                                "2026-06-01T09:00:00+00:00\n")  # fmt: skip
    rows = find_inputs(str(tree / "m.csv"))
    assert rows[0] == PlanRow(str(tree / "a/one.mp4"), track=str(tree / "a/one.gpx"))
    assert rows[1].track == "" and rows[1].start_time == "2026-06-01T09:00:00+00:00"
    pq.write_table(pa.table({"path": [str(tree / "three.mp4")], "camera_id": ["cam7"]}),
                   tree / "m.parquet")  # fmt: skip
    (row,) = find_inputs(str(tree / "m.parquet"))
    assert row.path == str(tree / "three.mp4") and row.camera_id == "cam7"


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [("m.csv", "file,track\nx.mp4,\n", "no 'path' column"),
     ("m.csv", "path,speed\nx.mp4,3\n", "unknown manifest columns"),
     ("missing.csv", None, "manifest not found"),
     ("nothing", None, "not found")],
)  # fmt: skip
def test_bad_inputs_say_what_is_wrong(tmp_path, name, text, says):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(FieldtoolError, match=says):
        find_inputs(str(tmp_path / name))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FieldtoolError, match="no video files"):
        find_inputs(str(tmp_path / "empty"))


def test_the_key_changes_with_content_settings_and_track_but_not_with_the_store(tree):
    base = demo_config(tree / "a.duckdb")
    same = settings_sha256(demo_config(tree / "b.duckdb", **{"source.uri": "x.mp4"}), "m")
    assert settings_sha256(base, "m") == same  # where rows go and which file: not settings
    assert settings_sha256(base, "other weights") != same
    assert settings_sha256(demo_config(tree / "a.duckdb", **{"smoothing.tau_s": 9.0}), "m") != same
    row = PlanRow(str(tree / "three.mp4"))
    content = content_sha256(row.path)
    assert batch_key(content, same, row) != batch_key(content, same, PlanRow(row.path, "t.gpx"))
    hashed = with_hash(row.as_row(), same)
    assert hashed["content_sha256"] == content
    assert hashed["batch_key"] == batch_key(content, same, row)
    (tree / "three.mp4").write_bytes(b"changed")
    assert with_hash(row.as_row(), same)["batch_key"] != hashed["batch_key"]


def test_a_manifest_place_is_read_as_lat_lon_and_a_bad_one_names_the_row(tmp_path):
    """``place`` is "lat,lon" (or "lat lon") in decimal degrees: the file's fixed position."""
    from fieldtool.scale.decode import file_config
    from fieldtool.scale.plan import parse_place

    assert parse_place("44.56,-123.30") == (44.56, -123.30)
    assert parse_place(" 33.95 -83.38 ") == (33.95, -83.38)
    assert parse_place("33.95; -83.38") == (33.95, -83.38)
    (tmp_path / "m.csv").write_text('path,place,camera_id\na.mp4,"44.56,-123.30",cam-west\n'
                                    "b.mp4,33.95 -83.38,\n")  # fmt: skip
    rows = find_inputs(str(tmp_path / "m.csv"))
    assert [r.place for r in rows] == ["44.56,-123.30", "33.95 -83.38"]
    config = file_config(demo_config(tmp_path / "x.duckdb"), rows[1].as_row(), "b.mp4", None)
    assert (config.position.lat, config.position.lon) == (33.95, -83.38)
    for bad in ("44.56", "north", "95,10", "44.5,-190", "1,2,3"):
        (tmp_path / "bad.csv").write_text(f'path,place\na.mp4,\nb.mp4,"{bad}"\n')
        with pytest.raises(FieldtoolError) as raised:
            find_inputs(str(tmp_path / "bad.csv"))
        message = str(raised.value)
        assert "bad.csv" in message and "row 2" in message and repr(bad) in message, message
        assert "\n" not in message
    (tmp_path / "both.csv").write_text('path,track,place\na.mp4,a.gpx,"1,2"\n')
    with pytest.raises(FieldtoolError, match=r"row 1.*track.*place"):
        find_inputs(str(tmp_path / "both.csv"))


def test_the_key_follows_the_tracks_and_the_sidecar_srts_content(tmp_path):
    """A corrected track or sidecar SRT runs the file again; a row with neither keeps the
    key it had before tracks were hashed (existing databases do not rerun it)."""
    import hashlib

    video = tmp_path / "DJI_0001.MP4"
    video.write_bytes(b"video bytes")
    track = tmp_path / "walk.gpx"
    track.write_text("<gpx>first</gpx>")
    plain = with_hash(PlanRow(str(video), start_time="2026-06-01T09:00:00").as_row(), "s")
    content = content_sha256(str(video))
    legacy = hashlib.sha256(f"{content}|s||2026-06-01T09:00:00|0".encode()).hexdigest()
    assert plain["batch_key"] == legacy  # unchanged for a row without track or sidecar

    tracked = PlanRow(str(video), track=str(track)).as_row()
    before = with_hash(tracked, "s")["batch_key"]
    track.write_text("<gpx>edited: latitudes moved</gpx>")
    assert with_hash(tracked, "s")["batch_key"] != before

    srt = video.with_suffix(".SRT")
    srt.write_text("1\n00:00:00,000 --> 00:00:00,033\n[latitude: 41,424724]\n")
    with_srt = with_hash(PlanRow(str(video)).as_row(), "s")["batch_key"]
    assert with_srt != with_hash(PlanRow(str(video)).as_row(), "t")["batch_key"]
    srt.write_text("1\n00:00:00,000 --> 00:00:00,033\n[latitude: 41.424724]\n")
    corrected = with_hash(PlanRow(str(video)).as_row(), "s")["batch_key"]
    assert corrected != with_srt
    srt.unlink()
    assert with_hash(PlanRow(str(video)).as_row(), "s")["batch_key"] not in (with_srt, corrected)


def test_the_key_follows_a_gpx_beside_the_video(tmp_path):
    """``run`` places a video by the GPX beside it with its name (position.auto_track):
    one that appears or is edited is other work; a video without one keeps the key it had
    (earlier batches are not run again); a GPX of another name is not read, not keyed."""
    import hashlib

    video = tmp_path / "walk_east.mp4"
    video.write_bytes(b"video bytes")
    (tmp_path / "walk_west.gpx").write_text("<gpx>another walk's</gpx>")
    legacy = hashlib.sha256(f"{content_sha256(str(video))}|s|||0".encode()).hexdigest()
    row = PlanRow(str(video)).as_row()
    assert with_hash(row, "s")["batch_key"] == legacy
    gpx = tmp_path / "walk_east.gpx"
    gpx.write_text("<gpx>logged</gpx>")
    found = with_hash(row, "s")
    assert found["batch_key"] != legacy and found["sidecar_gpx_sha256"]
    gpx.write_text("<gpx>logged, edited</gpx>")
    edited = with_hash(row, "s")["batch_key"]
    assert edited not in (legacy, found["batch_key"])
    gpx.rename(tmp_path / "walk_east.GPX")  # the same content, as a logger names it
    assert with_hash(row, "s")["batch_key"] == edited
    (tmp_path / "walk_east.GPX").unlink()
    assert with_hash(row, "s")["batch_key"] == legacy
    remote = with_hash(PlanRow("s3://bucket/walk_east.mp4").as_row(), "s")
    assert remote["sidecar_gpx_sha256"] == ""  # only the video is copied to a worker
    # where the run does not look for it, it is not keyed: a manifest's track or place, a
    # config with a track, lat/lon, gpsd or auto_track off (``beside``)
    gpx.write_text("<gpx>logged</gpx>")
    placed = PlanRow(str(video), place="44.5,-123.3")
    assert with_hash(placed.as_row(), "s")["batch_key"] == batch_key(
        content_sha256(str(video)), "s", placed)  # fmt: skip
    tracked = with_hash(PlanRow(str(video), track=str(tmp_path / "walk_west.gpx")).as_row(), "s")
    assert tracked["sidecar_gpx_sha256"] == ""
    assert with_hash(row, "s", beside=False)["batch_key"] == legacy


def test_the_key_follows_a_rows_place_and_camera_id(tree):
    row = PlanRow(str(tree / "three.mp4"))
    keys = {with_hash(r.as_row(), "s")["batch_key"] for r in (
        row, PlanRow(row.path, place="1,2"), PlanRow(row.path, place="1,3"),
        PlanRow(row.path, camera_id="cam-a"), PlanRow(row.path, camera_id="cam-b"))}  # fmt: skip
    assert len(keys) == 5
    same = with_hash(PlanRow(row.path, place="1.0 2").as_row(), "s")["batch_key"]
    assert same == with_hash(PlanRow(row.path, place="1,2").as_row(), "s")["batch_key"]


def test_a_model_reimported_to_crop_is_other_settings(tmp_path):
    """Same weights, a preprocessing record added (a re-import that centre-crops where the
    first squashed): other results, so another key; a folder without a record keeps the
    key it had (databases made before are not run again)."""
    import json
    import shutil

    from fieldtool.config import DEMO_MODEL

    folder = tmp_path / "model"
    shutil.copytree(DEMO_MODEL, folder)
    config = demo_config(tmp_path / "a.duckdb", **{"model.path": str(folder)})
    before = settings_sha256(config, "m")
    assert before == settings_sha256(config.model_copy(deep=True), "m")
    info = json.loads((folder / "fieldtool.json").read_text())
    info["preprocessing"] = {"fit": "crop", "resize": 80, "interpolation": "bicubic",
                             "rescale_factor": 1 / 255}  # fmt: skip
    (folder / "fieldtool.json").write_text(json.dumps(info))
    assert settings_sha256(config, "m") != before


def test_an_older_plantclef_folder_is_keyed_as_the_crop_it_is_read_as(tmp_path):
    """An older PlantCLEF import (``extra.resize = "bicubic"``, no record) is cropped as
    timm's eval transform (fieldtool.preprocessing.folder_record): its batch key is that of
    the folder that records the crop, not the squash it was read as before."""
    import json
    import shutil

    from fieldtool.config import DEMO_MODEL
    from fieldtool.preprocessing import timm_crop

    folder = tmp_path / "model"
    shutil.copytree(DEMO_MODEL, folder)
    config = demo_config(tmp_path / "a.duckdb", **{"model.path": str(folder)})
    info = json.loads((folder / "fieldtool.json").read_text())
    squashed = settings_sha256(config, "m")
    keys = []
    for older in (True, False):  # the same folder, as older imports wrote it and as now
        if older:
            written = info | {"extra": info["extra"] | {"resize": "bicubic"}}
        else:
            written = info | {"preprocessing": timm_crop(info["image_size"]).model_dump()}
        (folder / "fieldtool.json").write_text(json.dumps(written))
        keys.append(settings_sha256(config, "m"))
    assert keys[0] == keys[1] != squashed


# settings_sha256 of KEYED_CONFIG as the batches of 2026-11-30 (schema 9) stored it
KEY_OF_EARLIER_BATCHES = "f26b48c4fbe57ceab253324ffa6e624c220d02825efdee16faa8b6ae95017d40"
KEYED_CONFIG = {"source": {"uri": "x.mp4"}, "model": {"path": "models/demo"},
                "store": {"db": "a.duckdb"}}  # fmt: skip


def test_a_setting_added_later_leaves_earlier_batches_keys_at_its_default():
    """A new config field enters every batch key: at its default it must not, or an
    upgrade mid-season would run the whole archive again (every file "other settings").
    The default config's key is pinned to the one earlier batches stored; a new field's
    other values do change it."""
    from fieldtool.config import Config

    config = Config.model_validate(KEYED_CONFIG)
    assert settings_sha256(config, "m") == KEY_OF_EARLIER_BATCHES
    swapped = Config.model_validate(KEYED_CONFIG | {"position": {"srt_order": "lon-lat"}})
    assert settings_sha256(swapped, "m") != KEY_OF_EARLIER_BATCHES


def test_earlier_batches_run_with_a_time_offset_are_other_settings_now():
    """--time-offset used to move only the track look-up; it now corrects the stored
    times too. A batch run with one before stored uncorrected times, so the same settings
    must key as other work (run again); without an offset the key is the earlier one."""
    from fieldtool.config import Config

    offset = Config.model_validate(KEYED_CONFIG | {"position": {"time_offset_s": -300}})
    earlier = "0033826dcd70cea52b9a51ea05e8d6f229c9b25faf89c2579d19226b1270a392"  # 2026-11-30
    assert settings_sha256(offset, "m") != earlier
    assert settings_sha256(Config.model_validate(KEYED_CONFIG), "m") == KEY_OF_EARLIER_BATCHES


def test_a_time_offset_keeps_the_settings_key_it_has_corrected_stored_times_with():
    """Defect: since the offset is no longer added to a GPS-timed start (a GoPro's GPSU),
    the settings key of every batch with --time-offset changed, so all its files ran again
    though only GPS-timed clips hold other results. The settings keep the key they had
    since the offset corrects stored times; those clips alone are keyed as other work
    (tests/test_placement_camclock.py)."""
    from fieldtool.config import Config

    offset = Config.model_validate(KEYED_CONFIG | {"position": {"time_offset_s": -300}})
    since_it_corrects_stored_times = (
        "7bd639e0d8aff4d34703b33f775e84dcb585fb46a6abc5ba163b586ab9364d44")  # fmt: skip
    assert settings_sha256(offset, "m") == since_it_corrects_stored_times


GPX_ZONELESS = """<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="44.5" lon="-123.3"><time>2026-06-10T10:00:00{zone}</time></trkpt>
<trkpt lat="44.6" lon="-123.3"><time>2026-06-10T10:01:00{zone}</time></trkpt>
</trkseg></trk></gpx>
"""


def test_a_track_of_zoneless_times_keys_other_work_than_before(tmp_path):
    """A GPX whose times carry no zone is read as a local clock since 2026-11-30 (it was
    taken as UTC), so a file run with one before holds other times: its key changes. A GPX
    in UTC (nearly all) keeps the key it had."""
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not really a video")
    keys = {}
    for zone in ("Z", ""):
        track = tmp_path / f"t{zone or 'local'}.gpx"
        track.write_text(GPX_ZONELESS.format(zone=zone))
        row = PlanRow(str(video), track=str(track)).as_row()
        hashed = PlanRow(**with_hash(row, "s"))
        earlier = batch_key(hashed.content_sha256, "s", PlanRow(
            str(video), track=str(track), track_sha256=hashed.track_sha256))  # fmt: skip
        keys[zone] = (hashed.batch_key, earlier)
    assert keys["Z"][0] == keys["Z"][1]  # a UTC track: the key it had
    assert keys[""][0] != keys[""][1]  # a local clock now: other work


def test_tiles_of_a_cropping_model_key_other_work_than_before(tmp_path):
    """Since 2026-11-30 a cropping model's tiles are squares that cover the frame (they
    were the frame's shape, cropped alike): other results, so another key for tiles > 1;
    one tile, or a squash model's tiles, keep theirs."""
    import json
    import shutil

    from fieldtool.config import DEMO_MODEL
    from fieldtool.preprocessing import timm_crop

    folder = tmp_path / "model"
    shutil.copytree(DEMO_MODEL, folder)

    def key(tiles: int, crop: bool) -> str:
        info = json.loads((DEMO_MODEL / "fieldtool.json").read_text())
        if crop:
            info["preprocessing"] = timm_crop(info["image_size"]).model_dump()
        (folder / "fieldtool.json").write_text(json.dumps(info))
        return settings_sha256(demo_config(tmp_path / "a.duckdb", **{
            "model.path": str(folder), "model.tiles": tiles}), "m")  # fmt: skip

    def earlier(tiles: int, crop: bool) -> str:  # the key as computed before the change
        import hashlib

        from fieldtool.scale import plan

        config = demo_config(tmp_path / "a.duckdb", **{"model.path": str(folder), "model.tiles": tiles})
        data = config.model_dump(mode="json")
        for section, keys in plan.PER_FILE.items():
            if keys is None:
                data.pop(section, None)
            else:
                for k in keys:
                    data[section].pop(k, None)
        for (section, k), default in plan.ADDED_LATER.items():
            if data.get(section, {}).get(k, default) == default:
                data.get(section, {}).pop(k, None)
        identity = {"config": data, "model_sha256": "m"}
        if crop:
            info = json.loads((DEMO_MODEL / "fieldtool.json").read_text())
            identity["preprocessing"] = timm_crop(info["image_size"]).model_dump()
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    assert key(2, crop=False) == earlier(2, crop=False)
    assert key(1, crop=True) == earlier(1, crop=True)
    k = key(2, crop=True)
    assert k != earlier(2, crop=True)


def test_a_gpx_beside_a_video_with_its_srt_is_not_keyed(tmp_path):
    """The DJI SRT beside a video comes before a GPX beside it (the camera's own track),
    so the GPX is not read: adding or editing it must not make the file other work."""
    video = tmp_path / "DJI_0001.mp4"
    video.write_bytes(b"video bytes")
    (tmp_path / "DJI_0001.SRT").write_text("1\n00:00:00,000 --> 00:00:01,000\nGPS(1,2,3)\n")
    row = PlanRow(str(video)).as_row()
    before = with_hash(row, "s")
    (tmp_path / "DJI_0001.gpx").write_text("<gpx>logged</gpx>")
    after = with_hash(row, "s")
    assert after["sidecar_gpx_sha256"] == "" and after["batch_key"] == before["batch_key"]
