"""A photo counts once in a set: a photo is its picture (for a JPEG, the compressed image
data from its first SOS marker to its EOI), not its file. A copy re-tagged by a tool that
rewrote its metadata is the same photo; two cameras of one model that wrote one file name in
one second took two (:mod:`fieldtool.photos.same`)."""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from fieldtool.photos import PhotoSource, expand_photos
from fieldtool.photos.same import photo_hashes, picture_span
from tests.photos.conftest import RECONYX, make_photo

T0 = datetime(2021, 5, 31, 9, 0, 0)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def retagged(photo: Path, target: Path, tag: str = "deer") -> Path:
    """``photo`` as a tagging tool writes it back: an XMP block added after the JPEG's start
    (its EXIF, pixels and name as they were; its bytes other)."""
    data = photo.read_bytes()
    xmp = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
           + f"<dc:subject>{tag}</dc:subject></x:xmpmeta>".encode())  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data[:2] + _segment(0xE1, xmp) + data[2:])
    return target


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_photos_identity_is_its_picture_not_its_metadata(tmp_path) -> None:
    """Tagging tools rewrite the APPn and COM segments before the picture, never its
    compressed data; the segments are stepped over by their lengths, so an EXIF thumbnail
    (a JPEG of its own, with its own SOS and EOI) inside one is no picture."""
    photo = make_photo(tmp_path / "a" / "IMG_0001.JPG", taken=T0, make="RECONYX", model="HF2")
    data = photo.read_bytes()
    whole, picture = photo_hashes(photo)
    assert whole == _sha(data) and picture != whole
    start, end = picture_span(data) or (0, 0)
    assert data[start : start + 2] == b"\xff\xda" and end == len(data)
    assert picture == _sha(data[start:end])
    # re-tagged: the same picture, other bytes
    tagged = retagged(photo, tmp_path / "b" / "IMG_0001.JPG")
    assert photo_hashes(tagged) == (_sha(tagged.read_bytes()), picture)
    # a thumbnail (a whole JPEG) in an APP1 segment and a comment before the picture, a
    # phone's trailer after its end: the same picture
    thumb = make_photo(tmp_path / "thumb.jpg", colour=2, size=(16, 12)).read_bytes()
    busy = tmp_path / "c" / "IMG_0001.JPG"
    busy.parent.mkdir()
    busy.write_bytes(data[:2] + _segment(0xE1, b"Exif\x00\x00" + thumb) + _segment(0xFE, b"hi")
                     + data[2:] + b"\xff\xd8trailer\xff\xd9")  # fmt: skip
    assert photo_hashes(busy)[1] == picture
    # another picture under the same EXIF
    other = make_photo(tmp_path / "d" / "IMG_0001.JPG", colour=1, taken=T0, make="RECONYX",
                       model="HF2")  # fmt: skip
    assert photo_hashes(other)[1] != picture
    # a progressive JPEG: its scans, and the tables between them, are the picture
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buffer, "JPEG", progressive=True)
    progressive = buffer.getvalue()
    start, end = picture_span(progressive) or (0, 0)
    assert progressive.count(b"\xff\xda", start) > 1 and end == len(progressive)
    # not a JPEG, or one whose segments do not parse: the whole file is the picture
    png = make_photo(tmp_path / "e.png")
    assert photo_hashes(png) == (_sha(png.read_bytes()),) * 2
    broken = tmp_path / "f.jpg"
    broken.write_bytes(data[:2] + b"\x00\x01" + data[2:])
    assert photo_hashes(broken) == (_sha(broken.read_bytes()),) * 2


def test_a_retagged_copy_in_the_set_counts_once(tmp_path) -> None:
    """Defect: the same photos twice in one set, once as they came off the card and once
    re-tagged (other bytes), each counted twice: only byte-identical copies were told."""
    card = tmp_path / "season" / "card07" / "DCIM" / "100RECNX"
    shutil.copytree(RECONYX, card)
    tagged = tmp_path / "season" / "card07_tagged" / "DCIM" / "100RECNX"
    for photo in sorted(card.iterdir())[:4]:
        retagged(photo, tagged / photo.name)
    shutil.copy(sorted(card.iterdir())[5], tagged / "RCNX_copy.JPG")  # byte-identical
    lines: list[str] = []
    source = PhotoSource(expand_photos(str(tmp_path / "season")), tz="Europe/Brussels",
                         log=lines.append)  # fmt: skip
    assert len(source.photos) == 10  # each photo once: the first by path, off the card
    assert {p.path.parent for p in source.photos} == {card}
    (line,) = [x for x in lines if "re-tagged" in x]
    assert line.startswith("warning: 4 photo(s) are copies of another in this set with other "
                           "metadata (the same picture: re-tagged), left out"), line
    assert "card07_tagged" in line
    (line,) = [x for x in lines if "byte-identical" in x]
    assert line.startswith("warning: 1 photo(s) are byte-identical copies of another in this "
                           "set, left out"), line
    assert sum("copy of" in why for _, why in source.skipped) == 5
    assert source.frame_count == 10  # the copies are not photos tried


def test_two_cameras_of_one_model_writing_one_name_in_one_second_took_two_photos(tmp_path):
    """Defect: paired traps of one model (no serial in their EXIF, as most trail cameras),
    both counters at IMG_0001 in the same second, and two phones of one model at a
    bioblitz (names by time) counted as one photo each: told by name, time and camera."""
    season = tmp_path / "season"
    for n, owner in enumerate(["stationA_cam1", "stationA_cam2"]):
        make_photo(season / owner / "DCIM" / "100RECNX" / "IMG_0001.JPG", taken=T0,
                   make="RECONYX", model="HYPERFIRE 2", colour=n)  # fmt: skip
    for n, owner in enumerate(["alice", "bob"]):
        make_photo(season / owner / "IMG_20210531_090000.jpg", taken=T0, make="samsung",
                   model="SM-A526B", colour=n + 2)  # fmt: skip
    source = PhotoSource(expand_photos(str(season)), tz="UTC")
    assert len(source.photos) == 4 and not source.skipped


def test_other_cameras_or_times_under_one_name_are_other_photos(tmp_path) -> None:
    # two traps whose counters both wrote IMG_0001.JPG in the same second: two photos
    a = make_photo(tmp_path / "trapA" / "IMG_0001.JPG", taken=T0, make="RECONYX",
                   model="HYPERFIRE 2")  # fmt: skip
    b = make_photo(tmp_path / "trapB" / "IMG_0001.JPG", taken=T0, make="Browning",
                   model="BTC-8E", colour=1)  # fmt: skip
    # the same camera and name a second later (a card reused after formatting): another
    c = make_photo(tmp_path / "trapC" / "IMG_0001.JPG", taken=T0 + timedelta(seconds=1),
                   make="RECONYX", model="HYPERFIRE 2", colour=2)  # fmt: skip
    # no EXIF time (dated by the file): never taken as a copy by its name
    d = make_photo(tmp_path / "x" / "IMG_0002.JPG", colour=1)
    e = make_photo(tmp_path / "y" / "IMG_0002.JPG", colour=2)
    source = PhotoSource([a, b, c, d, e], tz="UTC")
    assert len(source.photos) == 5 and not source.skipped


def black(path: Path, taken: datetime) -> Path:
    """A black frame (lens covered; a night frame of a camera without a data strip): the
    same pixels as any other of its size, its EXIF capture time its own."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48)).save(path, exif=exif, quality=95)
    return path


def test_two_black_frames_with_one_picture_are_two_photos(tmp_path) -> None:
    """Defect: two shots with identical pixels (other capture times and names) had one
    picture hash: all but one were left out as re-tagged copies (survey effort lost). One
    photo is the same picture under the same file name (or the same bytes)."""
    a = black(tmp_path / "card" / "IMG_0001.JPG", T0)
    b = black(tmp_path / "card" / "IMG_0002.JPG", T0 + timedelta(hours=3))
    assert photo_hashes(a)[1] == photo_hashes(b)[1] and photo_hashes(a)[0] != photo_hashes(b)[0]
    source = PhotoSource([a, b], tz="UTC")
    assert len(source.photos) == 2 and not source.skipped
    # a re-tagged copy (same name, same picture, its metadata other) still counts once
    tagged = retagged(a, tmp_path / "tagged" / "img_0001.jpg")
    source = PhotoSource([a, b, tagged], tz="UTC")
    assert len(source.photos) == 2 and source.skipped == [(str(tagged), f"a copy of {a}")]


def test_two_truncated_jpegs_cut_short_after_their_scan_header_are_two_pictures(tmp_path):
    """Defect: a JPEG cut short (no EOI) was hashed from its SOS to its end: cut just after
    the scan header, a few bytes alike in two photos. Without its EOI, its picture is the
    whole file."""
    cut = []
    for n, colour in enumerate([1, 2]):
        data = make_photo(tmp_path / f"IMG_000{n}.JPG", colour=colour,
                          taken=T0 + timedelta(seconds=n)).read_bytes()  # fmt: skip
        start, _ = picture_span(data) or (0, 0)
        header = int.from_bytes(data[start + 2 : start + 4], "big")
        path = tmp_path / f"cut{n}.JPG"
        path.write_bytes(data[: start + 2 + header])  # the scan header, then cut
        cut.append(photo_hashes(path))
    assert cut[0][1] != cut[1][1]  # was one hash: of the same scan header
    assert all(whole == picture for whole, picture in cut)


@pytest.fixture
def colours(monkeypatch, labels) -> None:
    """``run`` classifies by colour (no model to load)."""
    from tests.conftest import ColourClassifier

    monkeypatch.setattr("fieldtool.pipeline.inputs.classifier_from_config",
                        lambda config, log: ColourClassifier(labels))  # fmt: skip


def test_a_black_frame_run_before_holds_no_other_black_frame(tmp_path, capsys, colours):
    """Defect: ``run`` of one card's black frame, then of another folder's black frame
    (another shot: other name, other time) left the second out as held in the database;
    the same across a batch's units."""
    from fieldtool.scale.copies import next_turn
    from fieldtool.scale.plan import PlanRow, with_hash
    from fieldtool.store import query
    from tests.photos.test_renamed_folder import run

    db = tmp_path / "season.duckdb"
    a = black(tmp_path / "season" / "cam1" / "IMG_0001.JPG", T0).parent
    b = black(tmp_path / "season" / "cam2" / "IMG_0002.JPG", T0 + timedelta(hours=3)).parent
    rows = [with_hash(PlanRow(str(f), kind="photos").as_row(), "settings") for f in (a, b)]
    turn = next_turn(tmp_path / "batch.duckdb", rows, rows)
    assert [r["path"] for r in turn.run] == [str(a), str(b)] and not turn.waiting
    assert run(a, db, capsys)[0] == 0
    code, err = run(b, db, capsys)
    assert code == 0 and not [x for x in err if "held in" in x], err
    assert query(db, "SELECT count(*) AS n FROM media").n.iloc[0] == 2
