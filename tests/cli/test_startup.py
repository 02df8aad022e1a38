"""``fieldtool --help`` and every command's parser are built without the heavy libraries
(torch, transformers, Ray, Streamlit, pandas' plotting...): each is imported by the command
that runs, so ``fieldtool review list`` or ``fieldtool sql`` on a field laptop starts in a
second, not the 10-30 s torch's import takes there."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "ray", "streamlit", "pydeck", "duckdb", "av")


def test_building_the_parser_imports_no_heavy_library():
    code = (
        "import json, sys\n"
        "from fieldtool.cli import build_parser\n"
        "build_parser()\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=300).stdout  # fmt: skip
    assert json.loads(out.strip().splitlines()[-1]) == []
