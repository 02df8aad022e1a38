"""What an input given to a model importer (:mod:`fieldtool.importers`) is, when it is not
what the importer expects: a Hugging Face checkpoint given as a timm one, a folder already
in fieldtool's format, weights whose keys do not fit the network, the two label files of
``import-plantclef`` swapped. Each gives the words of a one-line error."""

from __future__ import annotations

import re
from pathlib import Path

from fieldtool.names import first_few

HF_KEY = re.compile(r"(^|\.)(embeddings|encoder\.layer\.\d+)\.")  # transformers' DINOv2 names
LAYER = re.compile(r"encoder\.layer\.(\d+)\.")


def not_timm(keys: list[str]) -> str | None:
    """Why a state dict with no timm ViT blocks (``blocks.N.``) is not one, where its keys
    tell: a fieldtool model's (``backbone.`` and ``head.``), transformers' DINOv2 names."""
    if keys and all(k.startswith(("backbone.", "head.")) for k in keys):
        return "a fieldtool model's weights: use its folder with --model"
    if any(HF_KEY.search(k) for k in keys):
        return ("looks like a Hugging Face DINOv2 checkpoint: use `fieldtool model import-hf` "
                "on its folder")  # fmt: skip
    return None


def fieldtool_folder(folder: Path) -> str | None:
    """``folder`` already in fieldtool's format (its ``fieldtool.json``), said so."""
    if (folder / "fieldtool.json").is_file():
        return f"{folder}: already a fieldtool model folder: use it with --model"
    return None


def timm_folder(folder: Path) -> str:
    """A hint for a folder without ``config.json`` that holds a timm checkpoint (``.pth``,
    ``.pth.tar``, ``.pt``; PlantCLEF's are): it is ``import-plantclef``'s input; else ""."""
    found = sorted(p.name for p in folder.glob("*") if p.name.endswith((".pth", ".pth.tar", ".pt")))
    if (folder / "config.json").exists() or not found:
        return ""
    return (f"; {first_few(found, 2)} looks like a timm checkpoint: `fieldtool model "
            "import-plantclef CHECKPOINT --classes ... --names ...`")


def key_mismatch(expected: set[str], given: set[str]) -> str | None:
    """How ``given`` weight names differ from the network's ``expected`` ones: how many
    are missing and unexpected, the first few of each (whole names), after the layer
    counts where those differ (a config.json for another depth); None where they agree."""
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if not missing and not unexpected:
        return None
    words = [f"{len(missing)} missing ({first_few(missing, 3)})" if missing else "0 missing",
             f"{len(unexpected)} unexpected ({first_few(unexpected, 3)})" if unexpected
             else "0 unexpected"]  # fmt: skip
    depth = [
        len({m.group(1) for k in keys if (m := LAYER.search(k))}) for keys in (expected, given)
    ]
    if depth[0] != depth[1] and all(depth):
        words.insert(0, f"the config has {depth[0]} layers, the weights {depth[1]}")
    return "; ".join(words)


def shape_mismatch(error: str) -> str:
    """The first of torch's ``size mismatch for ...`` lines of ``error`` (whole) and how
    many more there are."""
    lines = [line.strip() for line in error.splitlines()[1:] if line.strip()]
    if not lines:
        return (error.strip().splitlines() or ["?"])[0]
    return lines[0].rstrip(".") + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")


def swapped_labels(classes_file: Path, names_file: Path) -> str:
    """A hint, where the classes file has the ``;``-separated columns a names file has:
    the two were given the other way round; else ""."""
    try:
        lines = [x for x in classes_file.read_text(encoding="utf-8").splitlines() if x.strip()]
    except (OSError, UnicodeDecodeError):
        return ""
    if lines and all(len(x.split(";")) >= 2 for x in lines[:5]):
        return (f" ({classes_file.name} has the species_id;species columns a names file has: "
                "are --classes and --names swapped?)")  # fmt: skip
    return ""
