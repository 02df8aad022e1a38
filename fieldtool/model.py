"""Species classifier network and its local model folder.

A model folder holds:

- ``config.json``: a ``transformers`` DINOv2 backbone config (``model_type`` ``dinov2`` or
  ``dinov2_with_registers``);
- ``fieldtool.json``: ``model_id``, ``image_size`` (px, square input), ``mean``/``std``
  (RGB, 0-1 scale), ``head_input`` (``"cls"`` or ``"cls+mean"``: CLS token, optionally
  concatenated with the mean patch token, after the final norm), and ``preprocessing``
  where the model's own preprocessing is known (:mod:`fieldtool.preprocessing`: resize and
  centre crop; without it frames are squashed to ``image_size``);
- ``labels.csv``: ``index,species,common_name,is_background`` in output order;
- ``model.safetensors``: ``backbone.*`` (the transformers ``Dinov2Model`` /
  ``Dinov2WithRegistersModel`` state dict) and ``head.weight``/``head.bias``.

and, for people (nothing reads it), ``MODEL_CARD.md``: what the model is and where it came
from (:mod:`fieldtool.import_card` for an import, :mod:`fieldtool.learn.card` a learnt head).

Nothing here downloads: a folder that is missing or incomplete is an error.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import (
    Dinov2Config,
    Dinov2Model,
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
)

from fieldtool.inputs import read_csv_rows
from fieldtool.preprocessing import IMAGENET_MEAN as IMAGENET_MEAN  # its home; kept here too
from fieldtool.preprocessing import IMAGENET_STD as IMAGENET_STD
from fieldtool.preprocessing import Preprocessing, folder_record, read_folder_info
from fieldtool.types import FieldtoolError, Label, LabelSet


@dataclass
class ModelInfo:
    """Contents of ``fieldtool.json``."""

    model_id: str
    image_size: int = 224  # px, square
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    head_input: str = "cls"  # "cls" or "cls+mean"
    extra: dict = field(default_factory=dict)  # free-form notes (training, accuracy)
    # the model's own resize/crop/rescale; None (older folders, the demo): squash to image_size
    preprocessing: Preprocessing | None = None

    def __post_init__(self) -> None:
        record: Any = self.preprocessing
        if record is None:  # an older PlantCLEF folder's note (folder_record)
            record = folder_record({"extra": self.extra, "image_size": self.image_size})
        if isinstance(record, dict):  # as read from fieldtool.json
            self.preprocessing = Preprocessing.model_validate(record)
        if self.preprocessing is not None and self.preprocessing.resize < self.image_size:
            raise ValueError(
                f"preprocessing.resize {self.preprocessing.resize} px is smaller than "
                f"image_size {self.image_size} px (the crop would not fit)"
            )

    def to_json(self) -> dict:
        """What ``fieldtool.json`` holds (no ``preprocessing`` key where there is none, so
        a folder without one reads as before)."""
        data = asdict(self)
        del data["preprocessing"]
        if self.preprocessing is not None:
            data["preprocessing"] = self.preprocessing.model_dump()
        return data


# Class names that mean "no species" in other projects' label files (case, spaces and
# hyphens aside); fieldtool's own is "background" with is_background set.
BACKGROUND_NAMES = frozenset({"background", "empty", "blank", "none", "no_plant"})


def build_backbone(
    config: Dinov2Config | Dinov2WithRegistersConfig,
) -> Dinov2Model | Dinov2WithRegistersModel:
    config._attn_implementation = "sdpa"
    if isinstance(config, Dinov2WithRegistersConfig):
        return Dinov2WithRegistersModel(config)
    return Dinov2Model(config)


class SpeciesClassifier(nn.Module):
    """DINOv2 backbone plus a linear head.

    Input: (B, 3, S, S) float, normalised RGB. Output: (B, C) logits.
    """

    def __init__(
        self,
        backbone_config: Dinov2Config | Dinov2WithRegistersConfig,
        num_classes: int,
        head_input: str = "cls",
    ) -> None:
        super().__init__()
        if head_input not in ("cls", "cls+mean"):
            raise ValueError(f"head_input must be 'cls' or 'cls+mean', not {head_input!r}")
        self.head_input = head_input
        self.backbone: Dinov2Model | Dinov2WithRegistersModel = build_backbone(backbone_config)
        hidden = backbone_config.hidden_size
        self.num_prefix = 1 + int(getattr(backbone_config, "num_register_tokens", 0) or 0)
        self.head = nn.Linear(hidden * (2 if head_input == "cls+mean" else 1), num_classes)

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, D) embedding that the head reads."""
        tokens = self.backbone(pixel_values=pixel_values).last_hidden_state  # normed
        cls = tokens[:, 0]
        if self.head_input == "cls":
            return cls
        return torch.cat([cls, tokens[:, self.num_prefix :].mean(dim=1)], dim=-1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixel_values))


@dataclass
class LoadedModel:
    network: SpeciesClassifier
    labels: LabelSet
    info: ModelInfo
    path: Path
    sha256: str = ""  # of model.safetensors: the model's identity, stored with each session


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def inputs_sha256(folder: Path | str) -> str:
    """sha256 (hex) of how a model folder sees a frame: its ``fieldtool.json``'s input size,
    mean, std and preprocessing record. The same weights re-imported to centre-crop where
    they squashed embed a photo otherwise. "" when the file cannot be read."""
    if (info := read_folder_info(folder)) is None:
        return ""
    seen = {key: info.get(key) for key in ("image_size", "mean", "std")}
    seen["preprocessing"] = folder_record(info)
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()


def read_labels(path: Path) -> LabelSet:
    rows = read_csv_rows(path, "labels")
    labels = []
    for i, row in enumerate(rows):
        try:
            index = int(row["index"])
            species = row["species"].strip()
        except (KeyError, TypeError, ValueError):
            raise FieldtoolError(
                f"{path}: row {i + 2} needs integer 'index' and 'species'"
            ) from None
        if index != i:
            raise FieldtoolError(f"{path}: row {i + 2} has index {index}, expected {i}")
        background = str(row.get("is_background", "")).strip().lower() in ("1", "true", "yes")
        labels.append(Label(
            index, species, (row.get("common_name") or "").strip(), background,
            genus=(row.get("genus") or "").strip(), family=(row.get("family") or "").strip(),
        ))  # fmt: skip
    if not labels:
        raise FieldtoolError(f"{path}: no labels")
    return LabelSet(tuple(labels))


def background_by_name(labels: LabelSet, log: Callable[[str], None] | None = None) -> LabelSet:
    """``labels`` with the classes named as no species (:data:`BACKGROUND_NAMES`) marked
    as background, where the set marks none itself (a hub model's ``id2label``, a labels
    file without ``is_background``); said through ``log`` in one line."""
    if labels.background_mask.any():
        return labels
    marked = [
        label for label in labels.labels
        if re.sub(r"[\s-]+", "_", label.species.strip().lower()) in BACKGROUND_NAMES
    ]  # fmt: skip
    if marked and log is not None:
        names = ", ".join(f"{label.index} {label.species!r}" for label in marked)
        log(f"class {names} taken for the model's background class (no species) by its name")
    return LabelSet(tuple(
        dataclasses.replace(label, is_background=True) if label in marked else label
        for label in labels.labels
    ))  # fmt: skip


def write_labels(path: Path, labels: LabelSet) -> None:
    """labels.csv: index, species, common_name, is_background, and genus, family when any
    label has them."""
    taxonomy = any(label.genus or label.family for label in labels.labels)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["index", "species", "common_name", "is_background"]
            + (["genus", "family"] if taxonomy else [])
        )
        for label in labels.labels:
            row = [label.index, label.species, label.common_name, int(label.is_background)]
            writer.writerow(row + ([label.genus, label.family] if taxonomy else []))


def read_backbone_config(
    path: Path, kind: str = "model folder"
) -> Dinov2Config | Dinov2WithRegistersConfig:
    """The DINOv2 backbone config in ``path/config.json``; ``kind`` names the folder in errors."""
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: not a {kind} (no config.json)") from None
    except json.JSONDecodeError as exc:
        raise FieldtoolError(f"{path / 'config.json'}: not valid JSON ({exc})") from None
    kind = data.get("model_type")
    if kind == "dinov2_with_registers":
        return Dinov2WithRegistersConfig.from_dict(data)
    if kind == "dinov2":
        return Dinov2Config.from_dict(data)
    raise FieldtoolError(f"{path / 'config.json'}: model_type {kind!r} is not a DINOv2 backbone")


# DINOv2 parameter names that changed between transformers releases, (older, newer): 5.17
# and the hub's files say ``attention.attention.query``, 5.24 ``attention.q_proj``. A model
# folder saved under either loads under either (the GPU machine and this one differ).
RENAMED_PARAMETERS = (
    (".attention.attention.query.", ".attention.q_proj."),
    (".attention.attention.key.", ".attention.k_proj."),
    (".attention.attention.value.", ".attention.v_proj."),
    (".attention.output.dense.", ".attention.o_proj."),
    (".mlp.weights_out.", ".mlp.down_proj."),
)


def match_parameter_names(
    state: dict[str, torch.Tensor], expected: set[str]
) -> dict[str, torch.Tensor]:
    """``state`` with DINOv2 keys renamed to the installed transformers' (``expected``),
    in either direction; SwiGLU's fused ``weights_in`` is split into ``gate_proj`` and
    ``up_proj`` or joined back, as ``expected`` needs."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for older, newer in RENAMED_PARAMETERS if key not in expected else ():
            for a, b in ((older, newer), (newer, older)):
                if a in key and key.replace(a, b) in expected:
                    key = key.replace(a, b)
        out[key] = value
    for key in [k for k in out if ".mlp.weights_in." in k and k not in expected]:
        base, kind = key.rsplit(".weights_in.", 1)
        out[f"{base}.gate_proj.{kind}"], out[f"{base}.up_proj.{kind}"] = out.pop(key).chunk(2)
    for key in [k for k in out if ".mlp.gate_proj." in k and k not in expected]:
        base, kind = key.rsplit(".gate_proj.", 1)
        if f"{base}.weights_in.{kind}" in expected and f"{base}.up_proj.{kind}" in out:
            up = out.pop(f"{base}.up_proj.{kind}")
            out[f"{base}.weights_in.{kind}"] = torch.cat([out.pop(key), up])
    return out


def check_model_folder(path: Path | str) -> None:
    """A FieldtoolError naming what ``path`` lacks to be a model folder (its four files;
    module doc), read from the listing only: a session checks it before it opens its
    source, so a wrong ``--model`` is said first and not after the video was read."""
    path = Path(path)
    if not path.is_dir():
        raise FieldtoolError(f"{path}: model folder not found")
    if not (path / "config.json").is_file():
        raise FieldtoolError(f"{path}: not a model folder (no config.json)")
    for name in ("fieldtool.json", "labels.csv", "model.safetensors"):
        if not (path / name).is_file():
            raise FieldtoolError(f"{path}: model folder lacks {name}")


def load_model_folder(path: Path | str) -> LoadedModel:
    """Load a model folder onto the CPU (the classifier moves it to its device)."""
    path = Path(path)
    check_model_folder(path)
    config = read_backbone_config(path)
    try:
        info_data = json.loads((path / "fieldtool.json").read_text(encoding="utf-8"))
        info = ModelInfo(**info_data)
    except FileNotFoundError:
        raise FieldtoolError(f"{path}: model folder lacks fieldtool.json") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FieldtoolError(
            f"{path / 'fieldtool.json'}: invalid preprocessing.{where} ({first['msg']})"
        ) from None
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise FieldtoolError(f"{path / 'fieldtool.json'}: invalid ({exc})") from None
    labels = read_labels(path / "labels.csv")
    weights_path = path / "model.safetensors"
    try:
        state = load_file(str(weights_path))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise FieldtoolError(f"{weights_path}: cannot read weights ({exc})") from None
    head = state.get("head.weight")
    if head is None:
        raise FieldtoolError(f"{weights_path}: no head.weight tensor")
    if head.shape[0] != len(labels):
        raise FieldtoolError(
            f"{path}: head has {head.shape[0]} outputs but labels.csv lists {len(labels)} classes"
        )
    network = SpeciesClassifier(config, len(labels), info.head_input)
    state = match_parameter_names(state, set(network.state_dict()))
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:3])
        raise FieldtoolError(f"{weights_path}: weights do not fit config.json ({detail})") from None
    network.eval()
    return LoadedModel(network, labels, info, path, file_sha256(weights_path))


def save_model_folder(
    path: Path | str, network: SpeciesClassifier, labels: LabelSet, info: ModelInfo
) -> None:
    """Write a model folder that :func:`load_model_folder` reads back."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    info.head_input = network.head_input
    network.backbone.config.to_json_file(str(path / "config.json"))
    (path / "fieldtool.json").write_text(
        json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8"
    )
    write_labels(path / "labels.csv", labels)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))


def describe_folder(folder: Path) -> str:
    """One line on a model folder just written (what the model commands print)."""
    info = json.loads((folder / "fieldtool.json").read_text(encoding="utf-8"))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    classes = sum(1 for _ in (folder / "labels.csv").open(encoding="utf-8")) - 1
    kind = (
        "backbone only (for a gallery)"
        if info["extra"].get("backbone_only")
        else f"{classes} classes"
    )
    record = info.get("preprocessing")
    pre = Preprocessing.model_validate(record) if record else None
    frames = pre.describe(info["image_size"]) if pre else "squashed"
    card = "MODEL_CARD.md"  # learn.card.CARD_MD, which this layer does not import
    return (
        f"wrote {folder}: model {info['model_id']!r}, {config['model_type']} "
        f"{config['hidden_size']}x{config['num_hidden_layers']}, {info['image_size']} px "
        f"(frames: {frames}), {kind}" + f", card {card}" * (folder / card).is_file()
    )
