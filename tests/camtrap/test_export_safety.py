"""A Camtrap DP export never loses what was there, never deletes what it reads, and never
copies a file from outside a package (review 12B):

- a package's video whose file is absent (packages ship without their large videos) is a
  ``missing file`` row, not a failed, half-written export;
- a refusal (nothing between ``--since`` and ``--until``; Darwin Core's bad
  ``--dataset-id``) makes no folder and leaves an earlier export whole, and so does a
  failure while the files are written: the package is written beside ``-o`` and swapped
  into place once complete;
- an export into the package the file's sessions ran is refused (it replaced the
  originals it read);
- a package's media row whose file lies outside the package (``file:///...``,
  ``media/../../...``, a link out of it) is written without its file, said so;
- file paths collide as macOS and Windows see them: in any case, in any Unicode form, a
  folder as much as a file.
"""

from __future__ import annotations

import os
import unicodedata
from datetime import timedelta
from pathlib import Path

from fieldtool.camtrap import validate_package
from fieldtool.cli import main
from tests.camtrap.conftest import read_csv
from tests.camtrap.test_carry_through import _append, _run_export, mixed_package
from tests.camtrap.test_round_trip import T0, _local, annotated_package

OUTSIDE = "file outside the package, not copied"


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative POSIX path -> bytes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _export(db: Path, out: Path, *more: str) -> int:
    return main(["export", "--db", str(db), "--format", "camtrap-dp", "-o", str(out), *more])


def _last_error(capsys) -> str:
    """The last line said, the error; none before it says what was written."""
    lines = capsys.readouterr().err.strip().splitlines()
    claims = [line for line in lines if "event observations" in line or "written to" in line]
    assert claims == [], lines
    return lines[-1] if lines else ""


def test_a_video_whose_file_is_absent_is_a_missing_file_row(tmp_path, colour_run, capsys,
                                                            standard_url):  # fmt: skip
    """The package shipped without its video: the export failed ('cannot write (No such
    file or directory)') and left a half-written package behind."""
    package = mixed_package(tmp_path / "pkg")
    (package / "media" / "VID_0001.MP4").unlink()
    out = _run_export(package, tmp_path / "a.duckdb", tmp_path / "new" / "out")
    (video,) = [m for m in read_csv(out / "media.csv") if m["mediaID"] == "mVID"]
    assert "not classified by fieldtool (missing file)" in video["mediaComments"], video
    assert "file not found at export" in video["mediaComments"], video
    assert not (out / video["filePath"]).exists()
    assert validate_package(out, standard_url) == []
    err = capsys.readouterr().err
    (summary,) = [line for line in err.splitlines() if "event observations" in line]
    assert "1 missing file" in summary, summary


def test_a_refused_window_makes_no_folder_and_keeps_an_earlier_export(tmp_path, colour_run,
                                                                      capsys):  # fmt: skip
    """'nothing to export between --since and --until' came after the export had made
    ``-o``'s folders and deleted an earlier export's media/ (its CSVs left naming them)."""
    db = tmp_path / "a.duckdb"
    out = _run_export(annotated_package(tmp_path / "pkg"), db, tmp_path / "o1")
    before = _tree(out)
    capsys.readouterr()
    assert _export(db, out, "--since", "2030-01-01T00:00:00Z") == 2
    assert "nothing to export as Camtrap DP between --since and --until" in _last_error(capsys)
    assert _tree(out) == before
    new = tmp_path / "x" / "y" / "pkg"
    assert _export(db, new, "--since", "2030-01-01T00:00:00Z") == 2
    assert not (tmp_path / "x").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_failure_while_writing_keeps_the_earlier_export(tmp_path, colour_run, monkeypatch,
                                                          capsys):  # fmt: skip
    """A disk that fills (here: the third file copied) leaves the earlier export as it was
    and nothing half-written beside it."""
    from fieldtool.camtrap import files

    db = tmp_path / "a.duckdb"
    out = _run_export(annotated_package(tmp_path / "pkg"), db, tmp_path / "o1")
    before = _tree(out)
    calls = []
    real = files.place_file

    def place(src: Path, dst: Path) -> int:
        calls.append(src)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(files, "place_file", place)
    capsys.readouterr()
    assert _export(db, out) == 2
    assert "No space left on device" in _last_error(capsys)
    assert len(calls) == 3
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".o1")] == []


def test_dwca_refuses_a_bad_dataset_id_before_making_folders(tmp_path, colour_run, capsys):
    db = tmp_path / "a.duckdb"
    assert main(["run", str(annotated_package(tmp_path / "pkg")), "--db", str(db),
                 "--quiet"]) == 0  # fmt: skip
    zipped = tmp_path / "new" / "deeper" / "s.zip"
    capsys.readouterr()
    assert main(["export", "--db", str(db), "--format", "dwca", "-o", str(zipped),
                 "--dataset-id", "two words", "--license", "CC-BY-4.0"]) == 2  # fmt: skip
    assert "--dataset-id 'two words': expected one word" in _last_error(capsys)
    assert not (tmp_path / "new").exists()


def test_an_export_into_the_package_its_sessions_ran_is_refused(tmp_path, colour_run, capsys):
    """``fieldtool run o1; fieldtool export -o o1`` deleted the photos the session ran."""
    out1 = _run_export(mixed_package(tmp_path / "pkg"), tmp_path / "a.duckdb", tmp_path / "o1")
    before = _tree(out1)
    db = tmp_path / "b.duckdb"
    assert main(["run", str(out1), "--db", str(db), "--quiet"]) == 0
    capsys.readouterr()
    assert _export(db, out1) == 2
    line = _last_error(capsys)
    assert f"{out1}: holds what session" in line and "ran" in line, line
    assert _tree(out1) == before
    # a folder inside the package is no way round it
    assert _export(db, out1 / "media") == 2
    assert _tree(out1) == before


def test_a_file_the_export_would_copy_inside_out_is_refused(tmp_path, colour_run, capsys):
    """A folder run that holds an earlier export (``field/`` with ``field/o1/``), exported
    over that export: its photos there were deleted before they were copied."""
    field = tmp_path / "field"
    out = field / "o1"
    _run_export(annotated_package(tmp_path / "pkg"), tmp_path / "a.duckdb", out)
    db = tmp_path / "b.duckdb"
    assert main(["run", str(field), "--db", str(db), "--lat", "44.5", "--lon", "-123.2",
                 "--quiet"]) == 0  # fmt: skip
    before = _tree(out)
    capsys.readouterr()
    assert _export(db, out) == 2
    line = _last_error(capsys)
    assert f"{out}: holds what session" in line and f"({out}/media/" in line, line
    assert _tree(out) == before


def test_files_outside_the_package_are_not_copied(tmp_path, colour_run, capsys, standard_url):
    """A package's rows naming ``file:///home/.../id_rsa``, ``media/../../home/id_rsa`` and
    a link out of the package pulled a local secret into the export under its bare name."""
    secret = tmp_path / "home" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("PRIVATE KEY")
    package = annotated_package(tmp_path / "pkg")
    os.symlink(secret, package / "media" / "LINK.MP4")
    common = {"deploymentID": "depA", "captureMethod": "activityDetection", "filePublic": "true"}
    rows = {"mX": (f"file://{secret}", "audio/wav"),
            "mY": ("media/../../home/id_rsa", "video/mp4"),
            "mZ": ("media/LINK.MP4", "video/mp4")}  # fmt: skip
    _append(package / "media.csv", [
        {**common, "mediaID": mid, "timestamp": _local(T0 + timedelta(minutes=5 + k)),
         "filePath": path, "fileName": Path(path).name, "fileMediatype": kind}
        for k, (mid, (path, kind)) in enumerate(rows.items())])  # fmt: skip
    out = _run_export(package, tmp_path / "a.duckdb", tmp_path / "out")
    media = {m["mediaID"]: m for m in read_csv(out / "media.csv")}
    for mid in rows:
        assert OUTSIDE in media[mid]["mediaComments"], media[mid]
        assert str(secret) not in media[mid]["mediaComments"]
        assert not (out / media[mid]["filePath"]).exists()
    assert not [p for p in out.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]
    assert validate_package(out, standard_url) == []
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "outside their package" in line]
    assert len(said) == 1 and "3 media file(s) outside their package not copied" in said[0], err


def test_paths_collide_as_case_and_unicode_blind_file_systems_see_them():
    """Deployments Trap1 and trap1 shared one folder on macOS; a name in NFC and NFD
    (é typed, é from a Mac's file name) was two files on Linux, one on macOS."""
    from fieldtool.camtrap.files import Layout, package_path

    used = Layout()
    one, two = used.folder("Trap1"), used.folder("trap1")
    assert one.casefold() != two.casefold()
    assert used.folder("Trap1") == one  # a deployment keeps its folder
    a = package_path("/d/x.JPG", Path("/d"), one, "0", used)
    b = package_path("/d/x.JPG", Path("/d"), two, "0", used)
    assert a.split("/")[1].casefold() != b.split("/")[1].casefold()
    composed = unicodedata.normalize("NFC", "/d/caf\u00e9.JPG")
    decomposed = unicodedata.normalize("NFD", "/d/CAF\u00c9.jpg")
    first = package_path(composed, Path("/d"), one, "1", used)
    second = package_path(decomposed, Path("/d"), one, "2", used)
    assert unicodedata.normalize("NFC", first).casefold() != \
        unicodedata.normalize("NFC", second).casefold()
    # folders too: cardA/ then carda/ below one root are one folder there: one spelling
    c = package_path("/r/cardA/IMG_1.JPG", Path("/r"), one, "3", used)
    d = package_path("/r/carda/IMG_2.JPG", Path("/r"), one, "4", used)
    assert c.split("/")[:3] == d.split("/")[:3] and c != d
    # a file and a folder of one name (in any case) cannot both be
    f = package_path("/r/docs", Path("/r"), one, "5", used)
    g = package_path("/r/DOCS/IMG_3.JPG", Path("/r"), one, "6", used)
    assert f == f"media/{one}/docs"
    assert not g.casefold().startswith(f"{f}/".casefold()), g


def test_kind_says_missing_for_any_local_path_that_is_not_a_file(tmp_path):
    """Only a photo was checked: a video row without its file was copied, and failed."""
    from fieldtool.camtrap.carry import kind
    from fieldtool.camtrap.read import Media

    for mediatype in ("video/mp4", "image/jpeg", "application/pdf"):
        for path in (tmp_path / "gone", tmp_path):  # no file; a folder
            assert kind(Media("m", "d", T0, "UTC", path, mediatype)) == "missing", mediatype
