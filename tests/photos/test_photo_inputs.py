"""What a new user's photo inputs met (trial 9a): a glob that missed a camera trap's
``.JPG``, a set of which no photo decodes that "finished", summaries in seconds since the
earliest photo, and the same photos run again from another path."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from types import SimpleNamespace

import duckdb
import numpy as np
import pytest

from fieldtool.cli import main
from fieldtool.cli.common import ProgressPrinter
from fieldtool.photos import PhotoSource, expand_photos
from fieldtool.types import FieldtoolError, Sighting
from tests.photos.conftest import RECONYX, make_photo

T0 = datetime(2024, 6, 1, 10, 0, 0)


def test_a_globs_file_name_matches_the_suffix_in_any_case(tmp_path) -> None:
    """``**/*.jpg`` (docs/photos.md) missed a camera trap's ``RCNX0001.JPG`` silently."""
    upper = make_photo(tmp_path / "camA" / "RCNX0001.JPG")
    lower = make_photo(tmp_path / "camB" / "noexif.jpg")
    mixed = make_photo(tmp_path / "camB" / "day2" / "IMG_2.Jpg")
    make_photo(tmp_path / "camB" / "other.png")
    found = expand_photos(str(tmp_path / "**" / "*.jpg"))
    assert found == sorted([upper, lower, mixed])
    # the folders of the pattern stay as typed; only the file name's case is ignored
    assert expand_photos(str(tmp_path / "camA" / "rcnx*.jpg")) == [upper]
    # a pattern ending in ** is every file below, as glob's recursive ** gives them (review)
    assert expand_photos(str(tmp_path / "**")) == sorted([upper, lower, mixed, tmp_path / "camB" /
                                                          "other.png"])  # fmt: skip


def test_a_glob_names_the_files_it_matched_that_are_not_photos(tmp_path) -> None:
    photo = make_photo(tmp_path / "cam" / "a.JPG")
    (tmp_path / "cam" / "notes.txt").write_text("x")
    logs: list[str] = []
    assert expand_photos(str(tmp_path / "cam" / "*"), logs.append) == [photo]
    assert len(logs) == 1 and "1 file left out" in logs[0] and ".txt" in logs[0], logs


def _truncated(path, whole) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(whole.read_bytes()[:3000])


def test_a_set_of_which_no_photo_decodes_is_an_error_naming_it(tmp_path) -> None:
    whole = make_photo(tmp_path / "src" / "whole.jpg", taken=T0, size=(640, 480),
                       image=np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8))  # fmt: skip
    bad = tmp_path / "only_bad"
    _truncated(bad / "a.JPG", whole)  # its header reads, its pixels do not
    (bad / "empty.jpg").write_bytes(b"")
    # the JPEG found cut short when read (its end marker missing), the empty file unreadable
    with pytest.raises(FieldtoolError, match=r"only_bad: none of the 2 photos could be read: "
                       r"a\.JPG \(cannot be decoded"):  # fmt: skip
        PhotoSource(expand_photos(str(bad)), uri=str(bad))


def test_a_run_of_photos_none_of_which_decode_exits_2_and_stores_no_session(
    tmp_path, capsys, tiny_model_dir
) -> None:
    """As a video that cannot be opened: one line, exit 2, no session row "finished"."""
    whole = RECONYX / sorted(p.name for p in RECONYX.iterdir())[0]
    bad = tmp_path / "only_bad"
    _truncated(bad / "a.JPG", whole)
    (bad / "empty.jpg").write_bytes(b"")
    db = tmp_path / "bad.duckdb"
    code = main(["run", str(bad), "--lat", "51", "--lon", "5", "--model", str(tiny_model_dir),
                 "--db", str(db), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("fieldtool: error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "decoded" in errors[0], err
    assert "finished" not in err
    if db.exists():
        with duckdb.connect(str(db), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


def test_frames_read_counts_every_photo_tried(tmp_path) -> None:
    good = make_photo(tmp_path / "good.jpg", taken=T0)
    whole = make_photo(tmp_path / "whole.jpg", taken=T0 + timedelta(seconds=1), size=(640, 480),
                       image=np.random.default_rng(1).integers(0, 255, (480, 640, 3), np.uint8))  # fmt: skip
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    source = PhotoSource([good, truncated, empty])
    frames = list(source.frames())
    assert [f.path for f in frames] == [str(good)]
    assert (source.stats.frames_read, source.stats.frames_yielded) == (3, 1)


def _sighting(first: datetime, last: datetime) -> Sighting:
    return Sighting("s1", "x", "Calamagrostis rubescens", "", first, last, 94164070.0,
                    94164070.0, frames=2, peak_score=0.8)  # fmt: skip


def test_a_photo_sessions_sighting_line_gives_capture_times() -> None:
    from fieldtool.cli.session import sighting_line

    first, last = datetime(2023, 3, 3, 10, 1, 2), datetime(2023, 3, 3, 10, 1, 9)
    utc = sighting_line(_sighting(first, last), photos=True, zone_known=True)
    assert "2023-03-03 10:01:02" in utc and "10:01:09" in utc and "UTC" in utc, utc
    assert "94164070" not in utc
    local = sighting_line(_sighting(first, last), photos=True, zone_known=False)
    assert "2023-03-03 10:01:02" in local and "local" in local and "UTC" not in local
    video = sighting_line(_sighting(first, last), photos=False, zone_known=True)
    assert "94164070.0-94164070.0 s" in video


def test_a_photo_sessions_progress_counts_photos() -> None:
    out = io.StringIO()
    ProgressPrinter("traps_mix", out)(SimpleNamespace(
        t=460_851_507.0, duration_s=None, frames_read=5, frames_total=9, frames_analysed=4,
        analysis_fps=2.0, closed_sightings=1, open_sightings=0))  # fmt: skip
    line = out.getvalue()
    assert line.startswith("traps_mix: photo 5 of 9") and " d " not in line, line


def test_photos_the_db_holds_from_another_path_are_said_before_they_run(tmp_path, labels):
    """A folder run, then a copy of it at another path into the same db: each sighting
    was counted twice without a word (the rerun check knew the source path only). Now
    left out, said (tests/photos/test_renamed_folder.py runs it)."""
    import shutil

    from fieldtool.config import load_config
    from fieldtool.photos.held import HeldCheck
    from fieldtool.pipeline import run_session
    from fieldtool.store import SightingStore
    from tests.conftest import ColourClassifier

    first = tmp_path / "card"
    make_photo(first / "IMG_1.JPG", colour=1, taken=T0)
    make_photo(first / "IMG_2.JPG", colour=1, taken=T0 + timedelta(seconds=5))
    make_photo(first / "IMG_3.JPG", colour=2, taken=T0 + timedelta(hours=1))
    db = tmp_path / "s.duckdb"
    config = load_config(None, {"source.uri": str(first), "store.db": str(db)})
    source = PhotoSource(expand_photos(str(first)), uri=str(first))
    result = run_session(source, ColourClassifier(labels), SightingStore(db), config,
                         time_basis=source.time_basis())  # fmt: skip
    said: list[str] = []
    # its own path: the "already holds" warning's
    assert len(PhotoSource(expand_photos(str(first)), uri=str(first),
                           held=HeldCheck(db, said.append)).photos) == 3 and not said  # fmt: skip
    copy = tmp_path / "backup" / "card_copy"
    shutil.copytree(first, copy)
    (copy / "IMG_3.JPG").unlink()
    make_photo(copy / "IMG_4.JPG", colour=2, taken=T0 + timedelta(hours=2))
    again = PhotoSource(expand_photos(str(copy)), uri=str(copy), held=HeldCheck(db, said.append))
    (line,) = said
    assert "2 of its 3 photo(s) are held" in line and str(first) in line, line
    assert [p.path.name for p in again.photos] == ["IMG_4.JPG"] and result.sightings
    none = HeldCheck(tmp_path / "none.duckdb", said.append)
    assert len(PhotoSource(expand_photos(str(copy)), uri=str(copy), held=none).photos) == 3
