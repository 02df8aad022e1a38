"""A Camtrap DP export's media files keep their names, and their card and folder below the
folder the session ran: a data manager finds each original from ``filePath``. Photos of
the same name on two cards lie side by side, none renamed; the layout is the same in
every export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from fieldtool.camtrap.files import deployment_folder
from fieldtool.cli import main
from tests.camtrap.conftest import read_csv
from tests.conftest import COLOURS

CARD_PHOTOS = ("cardA/DCIM/100RECNX/IMG_0001.JPG", "cardA/DCIM/100RECNX/IMG_0002.JPG",
               "cardB/DCIM/100RECNX/IMG_0001.JPG")  # fmt: skip


def _cards(root: Path) -> Path:
    for k, rel in enumerate(CARD_PHOTOS):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((48, 64, 3), np.uint8)
        pixels[:] = COLOURS[k][::-1]
        Image.fromarray(pixels).save(path, quality=95)
    return root


def _export(tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    assert main(["export", "--db", str(tmp_path / "c.duckdb"), "--format", "camtrap-dp",
                 "-o", str(out)]) == 0  # fmt: skip
    return out


def test_file_name_is_the_original_and_file_path_keeps_card_and_folder(tmp_path, colour_run):
    """Two cards' IMG_0001.JPG: one was exported as ``10_IMG_0001.JPG`` with fileName
    IMG_0001.JPG, and neither said which card it came from."""
    root = _cards(tmp_path / "cards")
    assert main(["run", str(root), "--db", str(tmp_path / "c.duckdb"), "--lat", "44.5",
                 "--lon", "-123.2", "--quiet"]) == 0  # fmt: skip
    out = _export(tmp_path, "out")
    media = read_csv(out / "media.csv")
    assert sorted(m["fileName"] for m in media) == ["IMG_0001.JPG", "IMG_0001.JPG",
                                                    "IMG_0002.JPG"]  # fmt: skip
    (dep,) = {m["deploymentID"] for m in media}
    folders = {m["filePath"].split("/")[1] for m in media}
    assert len(folders) == 1  # media/<deployment>/...
    (folder,) = folders
    assert sorted(m["filePath"] for m in media) == [f"media/{folder}/{rel}" for rel in CARD_PHOTOS]
    for m in media:
        original = root / m["filePath"].split("/", 2)[2]
        assert (out / m["filePath"]).read_bytes() == original.read_bytes()
        assert Path(m["filePath"]).name == m["fileName"]
    files = sorted(p.relative_to(out).as_posix() for p in (out / "media").rglob("*")
                   if p.is_file())  # fmt: skip
    assert files == sorted(m["filePath"] for m in media)  # nothing else, nothing renamed
    # a second export: the same layout, the same bytes, the same descriptor but its
    # "created" (its "id" is the dataset's, the same in every export of it)
    again = _export(tmp_path, "again")
    for name in ("media.csv", "deployments.csv", "observations.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    for m in media:
        assert (again / m["filePath"]).read_bytes() == (out / m["filePath"]).read_bytes()
    descriptors = [json.loads((o / "datapackage.json").read_text()) for o in (out, again)]
    for d in descriptors:
        d.pop("created")
    assert descriptors[0] == descriptors[1]
    assert folder == deployment_folder(dep)  # media/<the deployment's folder>/...


def test_the_session_root_is_the_folder_run():
    from fieldtool.camtrap.files import session_root

    assert session_root("/data/cards") == Path("/data/cards")
    assert session_root("/data/cards/*/DCIM/**/*.JPG") == Path("/data/cards")
    assert session_root("/data/cards/IMG_0001.JPG") == Path("/data/cards/IMG_0001.JPG")
    assert session_root("https://example.org/photos") is None
    assert session_root("0") is None  # a camera


def test_layout_is_collision_free_and_keeps_names():
    """Paths outside the root fall back to the name; a name taken (in any case: a package
    unpacked on macOS or Windows) moves into a folder of its own, the name kept."""
    from fieldtool.camtrap.files import Layout, package_path

    used = Layout()
    root = Path("/data/cards")
    first = package_path("/data/cards/a/IMG_1.JPG", root, "trap", "0", used)
    assert first == "media/trap/a/IMG_1.JPG"
    elsewhere = package_path("/other/IMG_1.JPG", root, "trap", "1", used)
    assert elsewhere == "media/trap/IMG_1.JPG"
    upper = package_path("/other/b/img_1.jpg", None, "trap", "2", used)
    assert upper.endswith("/img_1.jpg") and upper.casefold() != elsewhere.casefold()
    clash = package_path("/other/c/IMG_1.JPG", None, "trap", "3", used)
    assert clash.endswith("/IMG_1.JPG")
    again = package_path("/other/c/IMG_1.JPG", None, "trap", "3", used)
    named = [first, elsewhere, upper, clash, again]
    assert len({p.casefold() for p in named}) == len(named)  # every call names a new file
    assert all(p.startswith("media/trap/") for p in named)
    odd = package_path("/data/cards/x/IMG..1.JPG", root, "trap", "4", used)
    assert ".." not in odd and odd.startswith("media/trap/x/")
    single = package_path("/data/one/IMG_9.JPG", Path("/data/one/IMG_9.JPG"), "t", "5", used)
    assert single == "media/t/IMG_9.JPG"  # a session of one photo: its name
    # a package's own layout (media/...) is kept as it wrote it
    kept = package_path("/pkg/media/d1/IMG_1.JPG", Path("/pkg"), "trap", "6", used,
                        own_layout=True)  # fmt: skip
    assert kept == "media/d1/IMG_1.JPG"
