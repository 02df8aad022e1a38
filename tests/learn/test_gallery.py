"""``learn --gallery``: a gallery keeps no photos to re-embed, so it is refused in one line."""

from __future__ import annotations

import numpy as np

from fieldtool.cli import main
from fieldtool.gallery import Entry, Gallery


def _gallery(path):
    gallery = Gallery(path, create=True)
    gallery.entries = [Entry(s, f"{s.split()[0].lower()}_{i}.jpg")
                       for s in ("Acer rubrum", "Quercus alba") for i in range(2)]  # fmt: skip
    rows = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    gallery.embeddings = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    gallery.save()
    return path


def test_learn_over_a_gallery_is_a_one_line_error(tmp_path, capsys):
    gallery = _gallery(tmp_path / "g")
    out = tmp_path / "new"
    args = ["learn", "--db", str(tmp_path / "none.duckdb"), "--model", str(tmp_path / "m"),
            "-o", str(out), "--gallery", str(gallery)]  # fmt: skip
    assert main(args) == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(gallery) in err
    assert "no photos to re-embed" in err and "4 rows" in err


def test_learn_over_a_folder_that_is_no_gallery_says_so(tmp_path, capsys):
    args = ["learn", "--model", str(tmp_path / "m"), "-o", str(tmp_path / "new"),
            "--gallery", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "no gallery here" in capsys.readouterr().err
