"""What an import writes beside the model, and how: its model card (``MODEL_CARD.md``, the
name learnt heads use), the source's own card where it has one (a Hugging Face folder's
``README.md``, copied unchanged as ``SOURCE_README.md``), and the folder itself, all or
nothing (:func:`write_imported`).

The card says what was converted (the checkpoint's name and SHA-256, or the folder and its
``config.json``'s architecture), when (UTC) and by which fieldtool, the network, classes,
preprocessing and the SHA-256 of ``model.safetensors`` (the identity sessions store), what
the import said, and what it does not know: training data, accuracy, licence.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from fieldtool.learn.card import CARD_MD
from fieldtool.names import first_few
from fieldtool.types import FieldtoolError, LabelSet

if TYPE_CHECKING:
    from fieldtool.model import ModelInfo, SpeciesClassifier

SOURCE_README = "SOURCE_README.md"
# where read_checkpoint found the weights, in words (else: the checkpoint's entry of that name)
WEIGHTS_FOUND = {"bare": "its top level (a bare state dict)", "safetensors": "the file's tensors"}


@dataclass
class ImportSource:
    """What an import converted, for its card."""

    what: str  # in words, after "from": the kind of source
    details: list[str]  # card lines (Markdown): files, their SHA-256, config fields
    inputs: tuple[Path, ...]  # files and folders read: --force never replaces a folder holding one
    licence: str  # where its licence is to be found (after "see the source's own card")
    readme: Path | None = None  # the source's own card, copied unchanged as SOURCE_README.md
    notes: list[str] = field(default_factory=list)  # what the import said (its log lines)


def fieldtool_version() -> str:
    """fieldtool's version, as installed (the package root is not imported from below)."""
    try:
        return version("fieldtool")
    except PackageNotFoundError:
        return "unknown"


def _scalar(text: str) -> str:
    """A YAML scalar or flow list as written on one line, unquoted: 'a, b' for [a, b]."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return ", ".join(_scalar(part) for part in text[1:-1].split(",") if part.strip())
    return text.strip("'\"").strip()


def source_licence(text: str) -> str:
    """The top-level ``license`` of a hub model card's YAML front matter (its text), with
    ``license_name`` / ``license_link`` in brackets where given (``license: other``); ""
    where the card has no front matter or no licence there."""
    found = re.match(r"\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|$)", text, re.S)
    values: dict[str, str] = {}
    lines = found.group(1).splitlines() if found else []
    for i, line in enumerate(lines):
        key = re.match(r"(license(?:_name|_link)?)\s*:(.*)$", line)
        if not key:
            continue
        value, items = _scalar(key.group(2)), []
        for item in lines[i + 1 :] if not value else ():  # a block list on the next lines
            if not (entry := re.match(r"\s*-\s+(.*)$", item)):
                break
            items.append(_scalar(entry.group(1)))
        values[key.group(1)] = value or ", ".join(items)
    main = values.pop("license", "")
    more = ", ".join(f"{k}: {v}" for k, v in values.items() if v)
    return f"{main} ({more})" if main and more else main


def plantclef_source(checkpoint: Path, where: str, classes_file: Path, names_file: Path,
                     notes: list[str]) -> ImportSource:  # fmt: skip
    """The card's source of :func:`fieldtool.importers.import_plantclef` (``where``: as
    :func:`fieldtool.importers.read_checkpoint` says)."""
    from fieldtool.model import file_sha256

    found = WEIGHTS_FOUND.get(where, f"its `{where}` entry")
    return ImportSource(
        what="a timm `vit_*_patch14_reg4_dinov2` training checkpoint (PlantCLEF 2024), "
        "converted to transformers' DINOv2 layout",
        details=[
            f"checkpoint `{checkpoint.name}`, SHA-256 `{file_sha256(checkpoint)}`; weights "
            f"taken from {found}",
            f"classes in the order of `{classes_file.name}`, named from `{names_file.name}`",
        ],
        inputs=(checkpoint, classes_file, names_file),
        licence="for the PlantCLEF 2024 model, the challenge pages it was published on; "
        "a checkpoint records none",
        notes=notes,
    )


def hf_source(folder: Path, hub_id: str | None, notes: list[str]) -> ImportSource:
    """The card's source of :func:`fieldtool.importers.import_hf_dinov2` (``hub_id``: the
    hub repository ``pull`` downloaded it from)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # read once already; a card never fails an import on it
        config = {}
    said = [f"`{key}`: `{', '.join(map(str, v)) if isinstance(v, list) else v}`"
            for key in ("architectures", "_name_or_path", "transformers_version")
            if (v := config.get(key))]  # fmt: skip
    details = [
        f"Hugging Face hub repository `{hub_id}`, downloaded by `fieldtool model pull`"
        if hub_id else f"Hugging Face model folder `{folder.name}`",
        f"its config.json: {'; '.join(said)}" if said else "its config.json names no architecture",
    ]  # fmt: skip
    readme = folder / "README.md"
    if readme.is_file():
        licence = source_licence(readme.read_text(encoding="utf-8", errors="replace"))
        says = f"license: `{licence}`" if licence else "no `license:` in its front matter"
        details.append(f"its own card (README.md) is copied unchanged as `{SOURCE_README}` "
                       f"({says})")  # fmt: skip
        where = f"`{SOURCE_README}`, and the hub page it came from"
    else:
        details.append("the source folder has no README.md (the hub's model card): its "
                       "licence is not known here")  # fmt: skip
        where = "its page on the Hugging Face hub"
    return ImportSource(
        what=f"a Hugging Face DINOv2 {'download' if hub_id else 'folder'}",
        details=details,
        inputs=(folder,),
        licence=where,
        readme=readme if readme.is_file() else None,
        notes=[note.replace(str(folder), hub_id) for note in notes] if hub_id else notes,
    )


def _numbers(values: tuple[float, ...] | list[float]) -> str:
    return f"[{', '.join(f'{v:g}' for v in values)}]"


def card_markdown(network: SpeciesClassifier, labels: LabelSet, info: ModelInfo,
                  source: ImportSource, sha256: str, now: datetime) -> str:  # fmt: skip
    """The card of a folder written from ``network``, ``labels`` and ``info`` (its
    ``model.safetensors``' SHA-256 ``sha256``), imported from ``source`` at ``now`` (UTC)."""
    config = network.backbone.config
    size = info.image_size
    registers = int(getattr(config, "num_register_tokens", 0) or 0)
    params = sum(p.numel() for p in network.parameters())
    head = "a zero placeholder head" if info.extra.get("backbone_only") else "a linear head"
    shape = (f"hidden size {config.hidden_size}, {config.num_hidden_layers} layers, "
             f"{config.num_attention_heads} attention heads, "
             f"{f'{registers} registers' if registers else 'no registers'}, "
             f"patches of {config.patch_size} px")  # fmt: skip
    reads = ("the CLS token and the mean patch token (`cls+mean`)"
             if info.head_input == "cls+mean" else "the CLS token (`cls`)")  # fmt: skip
    if info.extra.get("backbone_only"):
        classes = ("backbone only: no classifier, one placeholder `background` class and a "
                   "zero head. Use it with a gallery (`fieldtool gallery add --model`).")  # fmt: skip
    else:
        background = ", ".join(f"`{lb.species}`" for lb in labels.labels if lb.is_background)
        classes = (f"{len(labels)} classes in `labels.csv` (e.g. {first_few(labels.species, 3)}); "
                   f"background: {background or 'none (every class is a species)'}")  # fmt: skip
    pre = info.preprocessing
    if pre is not None:
        scale = "1/255" if abs(pre.rescale_factor - 1 / 255) < 1e-12 else f"{pre.rescale_factor:g}"
        frames = f"{pre.describe(size)}; 0-255 values x {scale}"
    else:
        frames = (f"squashed to {size} x {size} px (the model's own preprocessing is not "
                  "recorded: it may have been fed otherwise); 0-255 values / 255")  # fmt: skip
    norm = f"mean {_numbers(info.mean)}, std {_numbers(info.std)}"
    said = "\n".join(f"- {note}" for note in source.notes) or "- nothing beyond the above"
    details = "\n".join(f"- {line}" for line in source.details)
    return f"""# Model card: `{info.model_id}`

Imported on {now:%Y-%m-%dT%H:%M:%S} UTC by fieldtool {fieldtool_version()} from
{source.what}. fieldtool converted the weights; it did not train or score this model.

## Source

{details}

## Network

- transformers `{type(network.backbone).__name__}` (`{config.model_type}`) and {head},
  {params:,} parameters
- {shape}
- input {size} x {size} px; the head reads {reads}

## Classes

- {classes}

## Preprocessing

- frames: {frames}, then (x - mean) / std with {norm} (RGB)

## Weights

- `model.safetensors` SHA-256 `{sha256}`: the model's identity, stored with each session

## Said at import

{said}

## What this import does not know

- what the model was trained on (which photos, places, seasons) and what it was validated on;
- its accuracy, on any data, and on your footage least of all: score it on sightings you
  have reviewed before you trust it;
- its licence and terms of use: see the source's own card ({source.licence}).
"""


def write_card(folder: Path, network: SpeciesClassifier, labels: LabelSet, info: ModelInfo,
               source: ImportSource) -> None:  # fmt: skip
    """``MODEL_CARD.md`` (and ``SOURCE_README.md``) into ``folder``, whose model is written."""
    from fieldtool.model import file_sha256

    if source.readme is not None:
        shutil.copyfile(source.readme, folder / SOURCE_README)
    sha256 = file_sha256(folder / "model.safetensors")
    text = card_markdown(network, labels, info, source, sha256, datetime.now(UTC))
    (folder / CARD_MD).write_text(text, encoding="utf-8")


def check_out_dir(out_dir: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """A FieldtoolError where ``out_dir`` cannot take an import: a file; a folder with
    something in it, unless ``overwrite`` and it is a fieldtool model folder holding none of
    ``inputs`` (it is replaced whole). Creates nothing."""
    if out_dir.exists() and not out_dir.is_dir():
        raise FieldtoolError(f"{out_dir}: exists and is not a folder")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise FieldtoolError(f"{out_dir}: folder exists and is not empty (use --force to replace)")
    if not (out_dir / "fieldtool.json").is_file():
        raise FieldtoolError(f"{out_dir}: not a fieldtool model folder (no fieldtool.json): "
                             "--force replaces only one; choose another folder")  # fmt: skip
    home = out_dir.resolve()
    for item in inputs:
        if home == item.resolve() or home in item.resolve().parents:
            raise FieldtoolError(f"{out_dir}: holds {item.name}, an input of this import, "
                                 "which --force would delete; write to another folder")  # fmt: skip


def _beside(folder: Path, kind: str) -> Path:
    """A hidden name next to ``folder``, unique to this call."""
    return folder.with_name(f".{folder.name}.{kind}-{uuid.uuid4().hex[:12]}")


def _replace_files(tmp: Path, out_dir: Path) -> None:
    """``out_dir``'s files swapped for ``tmp``'s: the old ones moved to a hidden folder
    beside it (and removed), the new ones in. The folder itself stays, so a shell in it, a
    link to it and its permissions do too. Where a move fails every file goes back."""
    old = _beside(out_dir, "old")
    old.mkdir()
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for entry in sorted(out_dir.iterdir()):
            entry.rename(old / entry.name)
            moved_out.append(entry.name)
        for entry in sorted(tmp.iterdir()):  # MODEL_CARD.md first
            entry.rename(out_dir / entry.name)
            moved_in.append(entry.name)
    except BaseException:
        for name in moved_in:
            (out_dir / name).rename(tmp / name)
        for name in moved_out:
            (old / name).rename(out_dir / name)
        old.rmdir()
        raise
    tmp.rmdir()
    shutil.rmtree(old, ignore_errors=True)


def write_imported(out_dir: Path, network: SpeciesClassifier, labels: LabelSet, info: ModelInfo,
                   source: ImportSource, *, overwrite: bool = False) -> None:  # fmt: skip
    """The model folder ``out_dir`` with its card, all or nothing: written into a hidden
    folder beside it, which is renamed to ``out_dir`` once complete; where ``out_dir``
    exists (empty, or a model folder it replaces: ``overwrite``) the files are swapped
    (:func:`_replace_files`). On any failure the hidden folder goes and ``out_dir`` is as
    it was."""
    from fieldtool.model import save_model_folder

    check_out_dir(out_dir, overwrite, source.inputs)  # errors name it as given
    out_dir = Path(os.path.abspath(out_dir))  # "-o ." has a name to put a folder beside
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _beside(out_dir, "partial")
    tmp.mkdir()  # not mkdtemp: its 0700 would keep a colleague out of the folder
    try:
        save_model_folder(tmp, network, labels, info)
        write_card(tmp, network, labels, info, source)
        if out_dir.is_dir():
            _replace_files(tmp, out_dir)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
