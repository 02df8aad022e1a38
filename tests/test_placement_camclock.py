"""A camera's MP4 (a trail camera's clip, a camcorder's) writes its own local clock into the
``mvhd`` creation time, where the MP4 spec (and every phone) writes UTC. Such a clip is told
by the maker its metadata names (not a phone), or by its place on the camera's card: a DCF
folder (``DCIM/100RECNX``) beside photos whose EXIF names one camera. Phones keep UTC; where
nothing tells, a clip whole hours from its photos is said. And a GoPro's GPS-timed start
keeps its time whatever ``--time-offset`` (a camera clock's correction) says."""

from __future__ import annotations

import builtins
import hashlib
import os
import pathlib
import pickle
import shutil
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fieldtool.pipeline import run_from_config
from fieldtool.placement import DcfFolders, place_session
from fieldtool.scale.decode import file_config, local_file
from fieldtool.scale.plan import PlanRow, batch_key, hash_options, with_hash
from fieldtool.store import query
from fieldtool.tracks.gpmf import mp4_creation_time
from tests.scale.test_remote_sidecars import bucket  # noqa: F401  (a fixture: mem:// URIs)
from tests.test_placement import GOPRO, _config, _mp4, needs_shared

av = pytest.importorskip("av")

RECONYX = sorted((GOPRO.parents[2] / "camtrap_dp" / "example" / "media").glob("*.JPG"))
TRAP_CLOCK = datetime(2021, 4, 11, 20, 43, 12)  # the trap's clock, 2 s after its last photo
CORVALLIS = {"position.lat": 44.5646, "position.lon": -123.262}  # America/Los_Angeles
NOT_APPLIED = "time offset not applied: the start is GPS time"


def _clip(
    path: Path, created: datetime, tags: dict[str, str] | None = None, keys: bool = False
) -> Path:
    """A 3-frame H.264 clip whose ``mvhd`` reads ``created`` (the muxer writes it as given).
    ``tags``: written as QuickTime ``udta`` strings (``make`` → ``©mak``, ``model`` →
    ``©mod``, as cameras write them), or with ``keys`` as ``moov/meta`` keys (``mdta``)."""
    metadata = {"creation_time": f"{created:%Y-%m-%dT%H:%M:%S}Z", **(tags or {})}
    options = {"movflags": "use_metadata_tags"} if keys else {}
    with av.open(str(path), "w", format="mov", options=options) as out:
        out.metadata.update(metadata)
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(3):
            image = np.zeros((48, 64, 3), np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    assert mp4_creation_time(path) == created
    return path


def _photo(path: Path, taken: datetime, make: str = "", model: str = "") -> Path:
    """A small JPEG whose EXIF has DateTimeOriginal ``taken`` (no offset: a camera's local
    clock) and, where given, Make and Model."""
    from PIL import Image

    exif = Image.Exif()
    if make:
        exif[0x010F], exif[0x0110] = make, model
    exif.get_ifd(0x8769)[0x9003] = f"{taken:%Y:%m:%d %H:%M:%S}"
    Image.new("RGB", (32, 24)).save(path, exif=exif)
    return path


def _trap_card(tmp_path: Path) -> Path:
    """A Reconyx card's DCF folder: its real photos (EXIF Make RECONYX, the trap's local
    clock, no offset) and a clip after them, its mvhd written by the same clock."""
    folder = tmp_path / "card" / "DCIM" / "100RECNX"
    folder.mkdir(parents=True)
    for photo in RECONYX[-3:]:
        shutil.copy(photo, folder / photo.name.split("-")[1])  # RCNX0038.JPG ...
    return _clip(folder / "RCNX0041.MP4", TRAP_CLOCK)


@needs_shared
@pytest.mark.parametrize("zone", ["tz", "place", "unknown"])
def test_a_trap_clip_beside_its_cameras_photos_is_the_cameras_local_clock(
    tmp_path: Path, zone: str
) -> None:
    """Defect: a trap's clip in its card's DCF folder was dated by its mvhd as UTC, hours
    from its own photos (EXIF, the same clock, converted from the zone). It is the camera's
    local clock, zoned as the photos are: --tz, else the place, else unknown."""
    video = _trap_card(tmp_path)
    overrides: dict[str, object] = {}
    if zone == "tz":
        overrides["source.tz"] = "-05:00"
    elif zone == "place":
        overrides.update(CORVALLIS)
    place = place_session(_config(tmp_path, video, **overrides), live=False, fps=10.0)
    assert place.time.source == "mp4-camera-clock", place.time
    assert "RECONYX" in place.time.how and "100RECNX" in place.time.how, place.time.how
    if zone == "tz":
        assert (place.time.zone, place.time.zone_known) == ("-05:00", True)
        assert place.time.start == TRAP_CLOCK + timedelta(hours=5)
    elif zone == "place":
        assert (place.time.zone, place.time.zone_known) == ("America/Los_Angeles", True)
        assert place.time.start == TRAP_CLOCK + timedelta(hours=7)  # PDT in April
    else:
        assert (place.time.zone, place.time.zone_known) == (None, False)
        assert place.time.start == TRAP_CLOCK
        assert "give --tz" in place.time.describe()
    assert not any("apart" in n for n in place.notes), place.notes


@pytest.mark.parametrize(("tags", "keys"), [
    ({"make": "Browning", "model": "BTC-8E-HP5"}, False),  # udta ©mak/©mod
    ({"make": "Bushnell", "model": "CORE DS-4K"}, True),  # moov/meta keys "make"/"model"
    ({"com.apple.quicktime.make": "Stealth Cam", "com.apple.quicktime.model": "DS4K"}, True),
])  # fmt: skip
def test_a_clip_naming_a_camera_maker_is_its_local_clock(
    tmp_path: Path, tags: dict[str, str], keys: bool
) -> None:
    """A clip whose own metadata names a maker that is not a phone's: the camera's clock,
    wherever the file lies (a folder of clips copied off the card)."""
    make = next(v for k, v in tags.items() if k.endswith("make"))
    video = _clip(tmp_path / "clip.MP4", TRAP_CLOCK, tags, keys=keys)
    assert make.encode() in video.read_bytes()  # the box this case is for
    place = place_session(_config(tmp_path, video, **{"source.tz": "+02:00"}),
                          live=False, fps=10.0)  # fmt: skip
    assert (place.time.source, place.time.zone) == ("mp4-camera-clock", "+02:00")
    assert place.time.start == TRAP_CLOCK - timedelta(hours=2)
    assert make in place.time.how, place.time.how


def test_phones_and_clips_without_a_camera_beside_keep_their_mvhd_as_utc(
    tmp_path: Path,
) -> None:
    """A phone follows the MP4 spec: a clip with Android's keys, or naming Apple, or in an
    iPhone's DCF folder beside its photos; so does a clip in a DCF folder without photos,
    or beside a trap's photos outside any DCF folder (nothing says whose it is)."""
    taken = datetime(2021, 4, 11, 20, 43, 10)
    android = tmp_path / "a" / "DCIM" / "100ANDRO"
    apple = tmp_path / "b" / "DCIM" / "100APPLE"
    empty = tmp_path / "c" / "DCIM" / "100MEDIA"
    loose = tmp_path / "d" / "clips"
    for folder in (android, apple, empty, loose):
        folder.mkdir(parents=True)
    _photo(android / "IMG_0001.JPG", taken, "Browning", "BTC-8E")  # a copied-in photo
    _photo(apple / "IMG_0001.JPG", taken, "Apple", "iPhone 15")
    _photo(loose / "IMAG0001.JPG", taken, "Browning", "BTC-8E")
    videos = [
        _clip(android / "VID_0002.MP4", TRAP_CLOCK, {"com.android.version": "14"}, keys=True),
        _clip(tmp_path / "e.MP4", TRAP_CLOCK, {"make": "Apple", "model": "iPhone 15"}),
        _clip(apple / "IMG_0002.MOV", TRAP_CLOCK),
        _clip(empty / "IMAG0002.MP4", TRAP_CLOCK),
        _clip(loose / "IMAG0002.MP4", TRAP_CLOCK),
    ]
    for video in videos:
        place = place_session(_config(tmp_path, video, **{"source.tz": "+02:00"}),
                              live=False, fps=10.0)  # fmt: skip
        assert (place.time.source, place.time.start, place.time.zone) == (
            "mp4-creation-time", TRAP_CLOCK, "UTC"), video  # fmt: skip
        assert not any("apart" in n or "camera's clock" in n for n in place.notes), place.notes


@pytest.mark.parametrize(("clip", "said"), [
    (datetime(2026, 6, 1, 10, 0, 5), 2),  # the trap's local clock (+02:00) read as UTC
    (datetime(2026, 6, 1, 9, 5, 0), 1),  # 1 h 5 min: within 10 min of a whole hour
    (datetime(2026, 6, 1, 8, 2, 0), 0),  # 2 min after its photo: agrees
    (datetime(2026, 6, 1, 8, 40, 0), 0),  # 40 min: no whole hour
    (datetime(2026, 6, 1, 10, 25, 0), 0),  # 2 h 25 min: no whole hour
])  # fmt: skip
def test_a_clip_whole_hours_from_the_photos_beside_it_is_said(
    tmp_path: Path, clip: datetime, said: int
) -> None:
    """Nothing tells whose clip it is (no maker in it, photos without a Make): it stays
    UTC, and where its mvhd and the photos' EXIF times (as fieldtool reads them) are a
    near-whole number of hours apart, one warning gives both readings and the offset."""
    folder = tmp_path / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    _photo(folder / "IMAG0001.JPG", datetime(2026, 6, 1, 10, 0, 0))  # 08:00 UTC at +02:00
    _photo(folder / "IMAG0003.JPG", datetime(2026, 6, 1, 14, 37, 0))  # 12:37 UTC
    video = _clip(folder / "IMAG0002.MP4", clip)
    place = place_session(_config(tmp_path, video, **{"source.tz": "+02:00"}),
                          live=False, fps=10.0)  # fmt: skip
    assert (place.time.source, place.time.start) == ("mp4-creation-time", clip)
    warned = [n for n in place.notes if "IMAG0002.MP4" in n and "IMAG0001.JPG" in n]
    if not said:
        assert warned == [], place.notes
        return
    assert len(warned) == 1 and warned[0].startswith("warning: time:"), place.notes
    assert f"{clip:%Y-%m-%d %H:%M:%S}" in warned[0]  # the clip's reading
    assert "2026-06-01 10:00:00" in warned[0]  # the photo's EXIF reading
    assert f"{said} h" in warned[0] and f"--time-offset {-3600 * said:+d}" in warned[0]


@pytest.mark.parametrize(("offset", "advised"), [(-7200.0, None), (-3600.0, -7200)])
def test_the_advice_taken_is_not_given_again(tmp_path: Path, offset: float,
                                             advised: int | None) -> None:  # fmt: skip
    """Defect (a user's trial): after following the warning's advice (--time-offset -7200)
    the clip sat with its photos, yet the same warning came again: the offset the run adds
    is counted, and a partial one is advised to the whole."""
    folder = tmp_path / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    _photo(folder / "IMAG0001.JPG", datetime(2026, 6, 1, 10, 0, 0))  # 08:00 UTC at +02:00
    video = _clip(folder / "IMAG0002.MP4", datetime(2026, 6, 1, 10, 0, 5))
    config = _config(tmp_path, video, **{"source.tz": "+02:00",
                                          "position.time_offset_s": offset})  # fmt: skip
    place = place_session(config, live=False, fps=10.0)
    warned = [n for n in place.notes if "IMAG0002.MP4" in n and "IMAG0001.JPG" in n]
    if advised is None:
        assert warned == [], place.notes
    else:
        assert len(warned) == 1 and f"--time-offset {advised:+d} puts" in warned[0], warned
        assert "--time-offset -3600 s added" in warned[0]


@needs_shared
def test_the_run_stores_the_traps_clip_in_its_zone(tmp_path: Path) -> None:
    video = _trap_card(tmp_path)
    lines: list[str] = []
    run_from_config(_config(tmp_path, video, **{"source.tz": "-05:00"}), log=lines.append)
    db = tmp_path / "s.duckdb"
    row = query(db, "SELECT time_source, time_zone, time_zone_known FROM sessions")
    assert tuple(row.iloc[0]) == ("mp4-camera-clock", "-05:00", True)
    first = query(db, "SELECT min(time) AS t FROM detections").iloc[0, 0]
    assert first.to_pydatetime() == TRAP_CLOCK + timedelta(hours=5)
    assert any("mp4-camera-clock" in line for line in lines), lines


def _earlier_key(hashed: PlanRow, settings: str) -> str:
    """:func:`fieldtool.scale.plan.batch_key` as batches stored it before camera clocks
    (a video row without track, place or sidecars)."""
    extra = f"{hashed.track}|{hashed.start_time}|{hashed.segment}"
    return hashlib.sha256(f"{hashed.content_sha256}|{settings}|{extra}".encode()).hexdigest()


@needs_shared
def test_a_batch_reruns_a_camera_clock_clip_and_keeps_a_phones_key(tmp_path: Path) -> None:
    """A trap's clip was stored at its mvhd as UTC before: other results now, so its key
    changes; a phone's clip (results unchanged) keeps the key earlier batches stored."""
    trap = _trap_card(tmp_path)
    phone = _clip(tmp_path / "VID_0001.MP4", TRAP_CLOCK, {"com.android.version": "14"},
                  keys=True)  # fmt: skip
    keys = {}
    for video in (trap, phone):
        hashed = PlanRow(**with_hash(PlanRow(str(video)).as_row(), "s"))
        keys[video.name] = (hashed.batch_key, _earlier_key(hashed, "s"))
    assert keys["VID_0001.MP4"][0] == keys["VID_0001.MP4"][1]
    assert keys["RCNX0041.MP4"][0] != keys["RCNX0041.MP4"][1]


@needs_shared
def test_a_gps_timed_gopro_start_keeps_its_time_whatever_the_time_offset(
    tmp_path: Path,
) -> None:
    """Defect: --time-offset (a camera clock's correction) was added to a GoPro's GPS-timed
    start too, which is the satellites' clock. Not applied there, said once; a camera clock's
    start still takes it."""
    clip = tmp_path / "GX010042.MP4"
    shutil.copy(GOPRO, clip)
    plain = place_session(_config(tmp_path, clip), live=False, fps=30.0)
    assert plain.time.source == "gpmf-gpsu" and plain.time.start is not None
    offset = {"position.time_offset_s": -300.0}
    place = place_session(_config(tmp_path, clip, **offset), live=False, fps=30.0)
    assert (place.time.source, place.time.start) == ("gpmf-gpsu", plain.time.start)
    assert "added" not in place.time.how
    assert len([n for n in place.notes if NOT_APPLIED in n]) == 1, place.notes
    camera = _mp4(tmp_path / "cam.mp4", seconds=1.0, created=datetime(2026, 6, 1, 9))
    moved = place_session(_config(tmp_path, camera, **offset), live=False, fps=10.0)
    assert moved.time.start == datetime(2026, 6, 1, 8, 55)
    assert not any(NOT_APPLIED in n for n in moved.notes)
    lines: list[str] = []
    run_from_config(_config(tmp_path, clip, **offset, **{"source.max_frames": 30}),
                    log=lines.append)  # fmt: skip
    assert len([line for line in lines if NOT_APPLIED in line]) == 1, lines
    first = query(tmp_path / "s.duckdb", "SELECT min(time) AS t FROM detections").iloc[0, 0]
    assert abs(first.to_pydatetime() - plain.time.start) < timedelta(seconds=2)


def _keys(tmp_path: Path, row: PlanRow, **overrides: object) -> tuple[str, str]:
    """(the batch key of ``row`` in a batch of ``_config(**overrides)``, the key earlier
    batches stored for it: without what the clip's start is read as)."""
    options = hash_options(_config(tmp_path, row.path, **overrides))
    hashed = PlanRow(**with_hash(row.as_row(), "s", **options))
    earlier = replace(hashed, mvhd_clock="", gps_start="")
    if not hashed.place:  # as earlier batches wrote it
        assert batch_key(hashed.content_sha256, "s", earlier) == _earlier_key(hashed, "s")
    return hashed.batch_key, batch_key(hashed.content_sha256, "s", earlier)


@needs_shared
def test_only_a_gps_timed_start_under_a_time_offset_is_keyed_as_other_work(
    tmp_path: Path,
    bucket: Path,  # noqa: F811
) -> None:
    """Defect: --time-offset is no longer added to a GPS-timed start, and every batch with
    an offset ran all its files again (its settings key changed). Only such a clip holds
    other results: its key changes; a GoPro clip without GPS time (a camera clock, offset
    added as before), a clip dated otherwise (a start time; a fixed place, its GPMF not
    read) and any clip of a batch without an offset keep the keys earlier batches stored."""
    gps = tmp_path / "GX010042.MP4"
    shutil.copy(GOPRO, gps)
    no_gps = tmp_path / "GX010043.MP4"  # the same clip, its GPMF without GPSU
    no_gps.write_bytes(GOPRO.read_bytes().replace(b"GPSU", b"GPSX"))
    phone = _clip(tmp_path / "VID_0001.MP4", TRAP_CLOCK, {"com.android.version": "14"},
                  keys=True)  # fmt: skip
    offset: dict[str, object] = {"position.time_offset_s": -300.0}
    sources = {video.name: place_session(_config(tmp_path, video, **offset), live=False,
                                         fps=30.0).time.source for video in (gps, no_gps)}
    assert sources == {"GX010042.MP4": "gpmf-gpsu", "GX010043.MP4": "gpmf-creation-time"}
    shutil.copy(GOPRO, bucket / "flights" / "GX010042.MP4")  # read through its filesystem
    for video in (str(gps), "mem://flights/GX010042.MP4"):
        now, before = _keys(tmp_path, PlanRow(video), **offset)
        assert now != before, video
    given = "2024-05-01T10:00:00+00:00"
    for row, overrides in [
        (PlanRow(str(gps)), {}),
        (PlanRow(str(no_gps)), offset),
        (PlanRow(str(phone)), offset),
        (PlanRow(str(gps), start_time=given), offset),
        (PlanRow(str(gps)), {**offset, "source.start_time": given}),
        (PlanRow(str(gps), place="44.56,-123.30"), offset),
        (PlanRow(str(gps)), {**offset, "position.lat": 44.56, "position.lon": -123.3}),
    ]:  # fmt: skip
        now, before = _keys(tmp_path, row, **overrides)
        assert now == before, (row, overrides)


@needs_shared
def test_a_camera_clip_dated_by_a_start_time_keeps_its_key(tmp_path: Path) -> None:
    """Defect: a trap's clip was keyed as read by its camera's clock (other results than
    earlier batches') where a start time dates it and its mvhd is not read: a manifest
    row's, or the batch's --start-time. Its results are the same: the key earlier batches
    stored. Without one it is other work (the clock marker)."""
    trap = _trap_card(tmp_path)
    given = "2021-04-12T00:43:12+00:00"
    for row, overrides in [(PlanRow(str(trap), start_time=given), {}),
                           (PlanRow(str(trap)), {"source.start_time": given})]:  # fmt: skip
        run = file_config(_config(tmp_path, trap, **overrides), row.as_row(), str(trap), None)
        assert place_session(run, live=False, fps=10.0).time.source == "start-time"
        now, before = _keys(tmp_path, row, **overrides)
        assert now == before, (row, overrides)
    now, before = _keys(tmp_path, PlanRow(str(trap)))
    assert now != before


def test_a_remote_clip_is_keyed_by_the_clock_its_run_reads(
    bucket: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Defect: a remote clip was never keyed as a camera's clock, though its run (on a
    copy of the clip alone) reads the maker the clip names as one: the key earlier
    batches stored, other results. Keyed now by the clip's own moov, read through its
    filesystem; a remote clip beside its camera's photos, which its run does not see (UTC),
    keeps its key."""
    named = _clip(tmp_path / "IMG_0041.MP4", TRAP_CLOCK, {"make": "Browning", "model": "BTC-8E"})
    shutil.copy(named, bucket / "flights" / "IMG_0041.MP4")
    card = bucket / "card" / "DCIM" / "100MEDIA"
    card.mkdir(parents=True)
    _photo(card / "IMAG0040.JPG", TRAP_CLOCK - timedelta(seconds=2), "Browning", "BTC-8E")
    _clip(card / "IMAG0041.MP4", TRAP_CLOCK)
    for uri, source in [("mem://flights/IMG_0041.MP4", "mp4-camera-clock"),
                        ("mem://card/DCIM/100MEDIA/IMAG0041.MP4", "mp4-creation-time")]:
        with local_file(uri, beside=True) as copy:
            place = place_session(_config(tmp_path, Path(copy)), live=False, fps=10.0)
        assert place.time.source == source, uri
        hashed = PlanRow(**with_hash(PlanRow(uri).as_row(), "s"))
        assert hashed.content_sha256
        keyed_other = hashed.batch_key != _earlier_key(hashed, "s")
        assert keyed_other is (source == "mp4-camera-clock"), uri


def test_a_cards_clips_list_its_folder_once_and_read_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect: each clip's key listed and sorted its whole DCF folder (a card of thousands
    of clips and photos: quadratic) and opened the clip five times. A batch's plan lists a
    folder once, before its rows go to the tasks that hash them (each a copy of the
    options: Ray's map), which find each clip's neighbours in that listing; each clip is
    opened once, and a task reads each photo's EXIF once for the clips beside it."""
    folder = tmp_path / "card" / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    photo = _photo(tmp_path / "p.JPG", TRAP_CLOCK, "Browning", "BTC-8E")
    clip = _clip(tmp_path / "c.MP4", TRAP_CLOCK)
    n = 10
    for i in range(n):  # a trap in hybrid mode: a photo, then a clip, at each trigger
        shutil.copy(photo, folder / f"IMAG{2 * i:04d}.JPG")
        shutil.copy(clip, folder / f"IMAG{2 * i + 1:04d}.MP4")
    rows = [PlanRow(str(folder / f"IMAG{2 * i + 1:04d}.MP4")).as_row() for i in range(n)]
    listed: Counter[str] = Counter()
    opened: Counter[str] = Counter()

    def counted(real: Any, what: str) -> Any:
        def call(target: Any = ".", *args: Any, **kwargs: Any) -> Any:
            name = os.fspath(target) if isinstance(target, str | os.PathLike) else ""
            (listed if what == "list" else opened)[name] += 1
            return real(target, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "scandir", counted(os.scandir, "list"))
    monkeypatch.setattr(os, "listdir", counted(os.listdir, "list"))
    monkeypatch.setattr(builtins, "open", counted(builtins.open, "open"))
    monkeypatch.setattr(pathlib.Path, "open", counted(pathlib.Path.open, "open"))
    options = hash_options(_config(tmp_path, folder), rows)  # the plan's, on the driver
    assert listed[str(folder)] == 1, listed

    def in_folder() -> dict[str, int]:
        return {name: count for name, count in opened.items() if Path(name).parent == folder}

    listed.clear()
    hashed = [PlanRow(**with_hash(row, "s", **pickle.loads(pickle.dumps(options))))
              for row in rows]  # fmt: skip
    assert [r.mvhd_clock for r in hashed] == ["camera"] * n  # read by the photos beside
    assert listed[str(folder)] == 0, listed
    assert {name: count for name, count in in_folder().items() if name.endswith(".MP4")} == {
        row["path"]: 1 for row in rows}  # fmt: skip
    opened.clear()
    for row in rows:  # one task's rows
        assert with_hash(row, "s", **options)["mvhd_clock"] == "camera"
    assert set(in_folder().values()) == {1} and len(in_folder()) == 2 * n, in_folder()
    folders = DcfFolders()
    assert folders.beside(folder / "IMAG0011.MP4") == [
        folder / f"IMAG{k:04d}.JPG" for k in (6, 8, 10, 12, 14, 16)]  # fmt: skip
    assert folders.beside(folder / "IMAG0001.MP4") == [
        folder / f"IMAG{k:04d}.JPG" for k in (0, 2, 4, 6)]  # fmt: skip
    assert folders.beside(tmp_path / "c.MP4") is None  # no DCF folder
