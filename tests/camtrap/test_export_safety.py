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
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp folder


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


# Review 12C: the swap replaced the whole of -o (a user's notes.md, even the database
# exported with "-o ."), and wrote its temporary folders into -o's parent.


def _earlier(tmp_path: Path, out: Path) -> tuple[Path, Path]:
    """An earlier export in ``out`` (the database ``tmp_path/a.duckdb``), and a user's
    files beside it: notes.md, another database, a folder of R scripts."""
    db = tmp_path / "a.duckdb"
    _run_export(annotated_package(tmp_path / "pkg"), db, out)
    (out / "notes.md").write_text("field notes")
    (out / "other.duckdb").write_bytes(b"not ours")
    (out / "analysis").mkdir()
    (out / "analysis" / "occupancy.R").write_text("library(camtrapR)")
    return db, out


def _theirs(out: Path) -> dict[str, bytes]:
    return {k: v for k, v in _tree(out).items()
            if k.split("/")[0] in ("notes.md", "other.duckdb", "analysis")}  # fmt: skip


def test_a_re_export_keeps_the_users_other_files(tmp_path, colour_run, capsys):
    """A re-export deleted every file in -o besides the package's own."""
    db, out = _earlier(tmp_path, tmp_path / "o1")
    kept = _theirs(out)
    # a killed export's leftovers: cleaned up, said in one line
    (out / ".fieldtool-export-99999").mkdir()
    (out / ".fieldtool-export-99999" / "media.csv").write_text("half")
    (out / ".fieldtool-export-old-99999").mkdir()
    capsys.readouterr()
    assert _export(db, out) == 0
    assert _theirs(out) == kept and len(kept) == 3
    assert (out / "datapackage.json").is_file() and (out / "media").is_dir()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if ".fieldtool-export-" in line]
    assert len(said) == 1 and "killed export" in said[0], err


def test_dash_o_dot_keeps_the_database_and_its_snapshots(tmp_path, colour_run, monkeypatch):
    """``-o .`` beside the database replaced the folder the database was in."""
    from fieldtool.store.maintenance import snapshot_folder

    _, out = _earlier(tmp_path, tmp_path / "o1")
    db = out / "s.duckdb"
    assert main(["run", str(tmp_path / "pkg"), "--db", str(db), "--quiet"]) == 0
    snaps = snapshot_folder(db)
    snaps.mkdir(exist_ok=True)
    (snaps / "keep.jpg").write_bytes(b"jpeg")
    kept = {**_theirs(out), "db": db.read_bytes(), "snap": (snaps / "keep.jpg").read_bytes()}
    monkeypatch.chdir(out)
    assert _export(Path("s.duckdb"), Path(".")) == 0
    assert {**_theirs(out), "db": db.read_bytes(),
            "snap": (snaps / "keep.jpg").read_bytes()} == kept  # fmt: skip
    assert (out / "datapackage.json").is_file()


def test_a_database_inside_the_media_an_export_replaces_is_refused(tmp_path, colour_run,
                                                                    capsys):  # fmt: skip
    _, out = _earlier(tmp_path, tmp_path / "o1")
    db = out / "media" / "s.duckdb"
    assert main(["run", str(tmp_path / "pkg"), "--db", str(db), "--quiet"]) == 0
    before = _tree(out)
    capsys.readouterr()
    assert _export(db, out) == 2
    line = _last_error(capsys)
    assert f"{out}: the sightings database {db} lies in {out}/media" in line, line
    assert _tree(out) == before


def test_a_failure_while_swapping_puts_the_earlier_export_back(tmp_path, monkeypatch):
    """A rename that fails midway (the second entry moved in) leaves the earlier export as
    it was, the user's file beside it, no temporary folder, and says so."""
    import pytest

    from fieldtool.camtrap.files import Layout, write_folder
    from fieldtool.types import FieldtoolError

    out = tmp_path / "o1"
    (out / "media" / "d").mkdir(parents=True)
    (out / "media" / "d" / "a.jpg").write_bytes(b"old photo")
    for name in ("datapackage.json", "deployments.csv", "media.csv", "observations.csv"):
        (out / name).write_text(f"old {name}")
    (out / "notes.md").write_text("mine")
    before = _tree(out)
    real, calls = os.replace, []
    said: list[str] = []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 4:
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    tables = {n: b"new" for n in ("datapackage.json", "deployments.csv", "media.csv",
                                  "observations.csv")}  # fmt: skip
    with pytest.raises(FieldtoolError) as caught:
        write_folder(out, tables, Layout(), said.append)
    monkeypatch.undo()
    assert len(calls) > 4  # it failed midway, then put things back
    message = str(caught.value)
    assert "Input/output error" in message and "as it was" in message, message
    assert _tree(out) == before and said == []
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["media", "datapackage.json", "deployments.csv", "media.csv", "observations.csv",
         "notes.md"])  # fmt: skip


def test_the_folder_above_o_is_not_written(tmp_path, colour_run, monkeypatch):
    """``-o /media/user/USBSTICK``: the temporary folders were made in its parent (not
    writable: 'cannot write (Permission denied)'; and a mount point cannot be renamed).
    Run as root, a read-only parent is no test: every folder made or renamed is watched."""
    parent = tmp_path / "mnt"
    parent.mkdir()
    db, out = _earlier(tmp_path, parent / "stick")
    made: list[Path] = []
    real_mkdir, real_replace = os.mkdir, os.replace

    def mkdir(path, *args, **kwargs):
        made.append(Path(path))
        return real_mkdir(path, *args, **kwargs)

    def replace(src, dst):
        made.extend((Path(src), Path(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "replace", replace)
    parent.chmod(0o555)
    try:
        assert _export(db, out) == 0
    finally:
        parent.chmod(0o755)
        monkeypatch.undo()
    assert made, "the export made no folder: the watch saw nothing"
    assert [p for p in made if p.resolve().parent == parent.resolve()
            or p.resolve() == out.resolve()] == []  # fmt: skip
    assert sorted(p.name for p in parent.iterdir()) == ["stick"]
