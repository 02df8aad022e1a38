"""Turn models made elsewhere into fieldtool model folders (see :mod:`fieldtool.model`).

Three sources:

- :func:`import_plantclef`: a timm training checkpoint of ``vit_base_patch14_reg4_dinov2``
  (the PlantCLEF 2024 model), converted to transformers' ``Dinov2WithRegistersModel`` layout.
  It is read with ``torch.load(weights_only=True)``: only tensors, plain containers and an
  ``argparse.Namespace`` (plus numpy scalars) are allowed; a pickle that would run code is
  refused, never loaded.
- :func:`import_hf_dinov2`: a Hugging Face DINOv2 folder (``config.json`` + weights).
  Without a classifier head it becomes a *backbone-only* folder (one placeholder
  ``background`` class, zero head), for use with a gallery (:mod:`fieldtool.gallery`).
- :func:`pull`: download one of :data:`HF_MODELS` and import it (needs the internet).

Each writes its folder with a model card, all or nothing (:mod:`fieldtool.import_card`).
Nothing here downloads anything except :func:`pull`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import pickle
import re
import socket
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from fieldtool import import_card as card
from fieldtool import import_hints as hints
from fieldtool.names import first_few
from fieldtool.types import FieldtoolError, Label, LabelSet

if TYPE_CHECKING:  # torch and transformers load on first use: the CLI parser stays fast
    import torch
    from transformers import Dinov2Config, Dinov2WithRegistersConfig

    from fieldtool.model import ModelInfo, SpeciesClassifier

TIMM_WEIGHT_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")  # preference order
WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.")  # DDP / torch.compile / Lightning
HF_MODELS = tuple(
    f"facebook/dinov2-{size}{reg}"
    for size in ("small", "base", "large")
    for reg in ("", "-with-registers")
)
HF_FILES = ("config.json", "model.safetensors", "preprocessor_config.json", "README.md")
BACKBONE_ONLY_LABEL = "background"


# --------------------------------------------------------------------------- timm checkpoints


def _safe_globals() -> list[Any]:
    """Classes ``weights_only`` may rebuild: timm's ``args`` Namespace and numpy scalars."""
    from numpy._core.multiarray import scalar  # numpy's stubs do not export ``np._core``

    return [
        argparse.Namespace,
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),  # pickled by numpy < 2
        np.dtype,
        np.dtypes.Float64DType,
        np.dtypes.Float32DType,
        np.dtypes.Int64DType,
    ]


def _unpickling_detail(exc: Exception) -> tuple[bool, str]:
    """(refused because of a global, short reason) from torch's multi-line message."""
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return True, f"it references {found.group(1)}"
    found = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    reason = found.group(1).strip() if found else (text.strip().splitlines() or ["?"])[0]
    return False, reason[:200]


def read_checkpoint(path: Path | str) -> tuple[dict[str, torch.Tensor], str]:
    """Weights of a timm checkpoint (``.pth``/``.pth.tar``/``.safetensors``).

    Returns (state dict, where it was found: a key of :data:`TIMM_WEIGHT_KEYS`, ``"bare"``
    or ``"safetensors"``). Wrapper prefixes (``module.``, ``_orig_mod.``, ``model.``) go.
    """
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FieldtoolError(f"{path}: checkpoint not found")
    if path.name.endswith(".safetensors"):
        try:
            state, where = load_file(str(path)), "safetensors"
        except Exception as exc:  # safetensors raises several types for a damaged file
            raise FieldtoolError(f"{path}: cannot read safetensors file ({exc})") from None
    else:
        try:
            with torch.serialization.safe_globals(_safe_globals()):
                obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            refused, reason = _unpickling_detail(exc)
            if refused:
                raise FieldtoolError(
                    f"{path}: refused to load: the pickle would run code or build objects "
                    f"beyond tensors ({reason}); fieldtool only loads with weights_only=True"
                ) from None
            raise FieldtoolError(f"{path}: not a readable PyTorch checkpoint ({reason})") from None
        except (RuntimeError, EOFError, OSError, ValueError) as exc:
            reason = (str(exc).strip().splitlines() or ["?"])[0][:200]
            raise FieldtoolError(f"{path}: not a readable PyTorch checkpoint ({reason})") from None
        state, where = _pick_weights(path, obj)
    for prefix in WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state, where


def _pick_weights(path: Path, obj: object) -> tuple[dict[str, torch.Tensor], str]:
    import torch

    if not isinstance(obj, dict) or not obj:
        raise FieldtoolError(
            f"{path}: checkpoint holds {type(obj).__name__}, not a dict of weights"
        )
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj), "bare"
    for key in TIMM_WEIGHT_KEYS:
        value = obj.get(key)
        if isinstance(value, dict) and value:
            tensors = {k: v for k, v in value.items() if isinstance(v, torch.Tensor)}
            if tensors:
                return tensors, key
    raise FieldtoolError(
        f"{path}: no weights under {', '.join(TIMM_WEIGHT_KEYS[:-1])} or {TIMM_WEIGHT_KEYS[-1]} "
        f"(checkpoint keys: {first_few(sorted(str(k) for k in obj), 6)})"
    )


def _grid_side(count: int) -> int | None:
    side = math.isqrt(count)
    return side if side > 0 and side * side == count else None


def convert_timm_vit(
    state: dict[str, torch.Tensor], num_heads: int | None = None
) -> tuple[Dinov2Config | Dinov2WithRegistersConfig, dict[str, torch.Tensor]]:
    """timm DINOv2 ViT state dict -> (transformers config, ``SpeciesClassifier`` state dict).

    Handles ``pos_embed`` without a CLS slot (``no_embed_class=True``, the reg4 DINOv2
    models: the CLS slot becomes zeros, since timm adds no position to the CLS token), with
    a CLS slot, or with CLS + register slots (folded into the register tokens). ``num_heads``
    defaults to hidden size / 64 (every DINOv2 size); weights cannot tell it otherwise.
    """
    import torch
    from transformers import Dinov2Config, Dinov2WithRegistersConfig

    required = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
                "norm.weight", "norm.bias", "head.weight", "head.bias"]  # fmt: skip
    blocks = sorted({int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))})
    depth = len(blocks)
    if blocks != list(range(depth)) or depth == 0:
        raise FieldtoolError((not depth and hints.not_timm(list(state)))
                             or f"checkpoint has no consecutive transformer blocks (found {blocks[:5]})")
    has_ls = "blocks.0.ls1.gamma" in state
    has_qkv_bias = "blocks.0.attn.qkv.bias" in state
    per_block = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.proj.weight",
                 "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight",
                 "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"]  # fmt: skip
    per_block += ["ls1.gamma", "ls2.gamma"] if has_ls else []
    per_block += ["attn.qkv.bias"] if has_qkv_bias else []
    required += [f"blocks.{i}.{name}" for i in range(depth) for name in per_block]
    if "head.weight" not in state and "head.bias" not in state:
        raise FieldtoolError(
            "checkpoint has no classifier head (head.weight): not a fine-tuned model"
        )
    missing = [k for k in required if k not in state]
    if missing:
        raise FieldtoolError(
            f"checkpoint lacks {len(missing)} expected keys: {first_few(sorted(missing), 3)}"
        )
    unexpected = set(state) - set(required) - {"reg_token"}
    if unexpected:
        raise FieldtoolError(
            f"checkpoint has {len(unexpected)} keys this converter does not know: "
            f"{first_few(sorted(unexpected), 3)}"
        )

    f32 = {k: v.detach().to(torch.float32) for k, v in state.items()}
    cls = f32["cls_token"]
    hidden = cls.shape[-1]
    reg = f32.get("reg_token", torch.zeros(1, 0, hidden))
    registers = reg.shape[1]
    proj = f32["patch_embed.proj.weight"]  # (D, 3, P, P)
    if proj.ndim != 4 or proj.shape[-1] != proj.shape[-2] or proj.shape[0] != hidden:
        raise FieldtoolError(
            f"patch_embed.proj.weight has shape {tuple(proj.shape)}, not (D, 3, P, P)"
        )
    patch = proj.shape[-1]
    pos = f32["pos_embed"]
    count = pos.shape[1]
    for slots in (0, 1, 1 + registers):
        if count > slots and (side := _grid_side(count - slots)):
            break
    else:
        raise FieldtoolError(
            f"pos_embed has {count} positions: not a square grid (+ CLS/registers)"
        )
    patch_pos = pos[:, slots:]
    cls_pos = pos[:, :1] if slots >= 1 else torch.zeros(1, 1, hidden)
    if slots > 1:
        reg = reg + pos[:, 1:slots]  # transformers adds no position to registers: fold it in
    if num_heads is None:
        if hidden % 64:
            raise FieldtoolError(f"hidden size {hidden} is not a multiple of 64: give num_heads")
        num_heads = hidden // 64
    if hidden % num_heads:
        raise FieldtoolError(f"hidden size {hidden} is not divisible by {num_heads} heads")
    mlp_hidden = f32["blocks.0.mlp.fc1.weight"].shape[0]
    mlp_ratio = mlp_hidden / hidden
    common: dict[str, Any] = dict(  # keyword arguments of either config class
        hidden_size=hidden,
        num_hidden_layers=depth,
        num_attention_heads=num_heads,
        mlp_ratio=int(mlp_ratio) if mlp_ratio.is_integer() else mlp_ratio,
        patch_size=patch,
        image_size=side * patch,
        num_channels=proj.shape[1],
        qkv_bias=has_qkv_bias,
        layer_norm_eps=1e-6,  # timm's ViT default, as in DINOv2
        hidden_act="gelu",
        layerscale_value=1.0,
    )
    if int(hidden * common["mlp_ratio"]) != mlp_hidden:
        raise FieldtoolError(f"MLP width {mlp_hidden} is not hidden size {hidden} x a ratio")
    config: Dinov2Config | Dinov2WithRegistersConfig
    if registers:
        config = Dinov2WithRegistersConfig(num_register_tokens=registers, **common)
    else:
        config = Dinov2Config(**common)

    out = {
        "backbone.embeddings.cls_token": cls,
        "backbone.embeddings.mask_token": torch.zeros(1, hidden),
        "backbone.embeddings.position_embeddings": torch.cat([cls_pos, patch_pos], dim=1),
        "backbone.embeddings.patch_embeddings.projection.weight": proj,
        "backbone.embeddings.patch_embeddings.projection.bias": f32["patch_embed.proj.bias"],
        "backbone.layernorm.weight": f32["norm.weight"],
        "backbone.layernorm.bias": f32["norm.bias"],
        "head.weight": f32["head.weight"],
        "head.bias": f32["head.bias"],
    }
    if registers:
        out["backbone.embeddings.register_tokens"] = reg
    for i in range(depth):
        src, dst = f"blocks.{i}.", f"backbone.encoder.layer.{i}."
        for a, b in [("norm1", "norm1"), ("norm2", "norm2"), ("attn.proj", "attention.o_proj"),
                     ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2")]:  # fmt: skip
            out[dst + b + ".weight"] = f32[src + a + ".weight"]
            out[dst + b + ".bias"] = f32[src + a + ".bias"]
        qkv_w = f32[src + "attn.qkv.weight"]  # (3D, D): rows q | k | v, head-major inside each
        if qkv_w.shape != (3 * hidden, hidden):
            raise FieldtoolError(f"{src}attn.qkv.weight has shape {tuple(qkv_w.shape)}")
        qkv_b = f32.get(src + "attn.qkv.bias")
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            out[f"{dst}attention.{name}.weight"] = qkv_w[j * hidden : (j + 1) * hidden]
            if qkv_b is not None:
                out[f"{dst}attention.{name}.bias"] = qkv_b[j * hidden : (j + 1) * hidden]
        for n in (1, 2):
            gamma = f32[f"{src}ls{n}.gamma"] if has_ls else torch.ones(hidden)
            out[f"{dst}layer_scale{n}.lambda1"] = gamma
    return config, {k: v.contiguous() for k, v in out.items()}


def read_plantclef_labels(classes_file: Path | str, names_file: Path | str) -> LabelSet:
    """Labels in ``class_mapping.txt`` order (one species_id a line), named from
    ``species_id_to_name.txt`` (``;``-separated, columns ``species_id`` and ``species``,
    and ``genus`` and ``family`` when its header has them)."""
    classes_file, names_file = Path(classes_file), Path(names_file)
    for f in (classes_file, names_file):
        if not f.is_file():
            raise FieldtoolError(f"{f}: file not found")
    ids = [
        line.strip().strip('"') for line in classes_file.read_text(encoding="utf-8").splitlines()
    ]
    ids = [i for i in ids if i and i.lower() != "species_id"]
    if not ids:
        raise FieldtoolError(f"{classes_file}: no species ids")
    if len(set(ids)) != len(ids):
        dupes = [i for i, n in Counter(ids).items() if n > 1]
        raise FieldtoolError(f"{classes_file}: repeated species ids: {first_few(sorted(dupes), 3)}")
    with names_file.open(newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh, delimiter=";") if r and any(c.strip() for c in r)]
    id_col, name_col, taxa_cols = 0, 1, {}
    if rows and {"species_id", "species"} & {c.strip().lower() for c in rows[0]}:
        header = [c.strip().lower() for c in rows.pop(0)]
        if "species_id" not in header or "species" not in header:
            raise FieldtoolError(f"{names_file}: header needs columns species_id and species")
        id_col, name_col = header.index("species_id"), header.index("species")
        taxa_cols = {rank: header.index(rank) for rank in ("genus", "family") if rank in header}
    names: dict[str, str] = {}
    taxa: dict[str, tuple[str, str]] = {}  # species_id -> (genus, family), "" where not given
    for n, row in enumerate(rows):
        if len(row) <= max(id_col, name_col):
            raise FieldtoolError(f"{names_file}: row {n + 1} has {len(row)} columns, expected 2"
                                 + hints.swapped_labels(classes_file, names_file))
        names[row[id_col].strip()] = row[name_col].strip()
        cells = {rank: row[col].strip() for rank, col in taxa_cols.items() if col < len(row)}
        taxa[row[id_col].strip()] = (cells.get("genus", ""), cells.get("family", ""))
    unnamed = [i for i in ids if not names.get(i)]
    if unnamed:
        raise FieldtoolError(
            f"{names_file}: no name for {len(unnamed)} species ids: {first_few(sorted(unnamed), 3)}"
        )
    return LabelSet(
        tuple(Label(i, names[s], genus=taxa[s][0], family=taxa[s][1]) for i, s in enumerate(ids))
    )


def import_plantclef(
    checkpoint: Path | str,
    classes_file: Path | str,
    names_file: Path | str,
    out_dir: Path | str,
    model_id: str | None = None,
    *,
    num_heads: int | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Convert the PlantCLEF 2024 timm checkpoint into a model folder; returns ``out_dir``.

    Input size is taken from ``pos_embed`` (518 px for the real model: 37x37 patches of
    14 px); timm's eval transform at crop_pct 1.0 is recorded (``preprocessing.timm_crop``).
    """
    from fieldtool.model import ModelInfo, background_by_name
    from fieldtool.preprocessing import IMAGENET_MEAN, IMAGENET_STD, timm_crop

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    for f in (checkpoint, Path(classes_file), Path(names_file)):
        if not f.is_file():
            raise FieldtoolError(f"{f}: file not found")
    notes: list[str] = []  # said once the folder is written
    labels = background_by_name(read_plantclef_labels(classes_file, names_file), notes.append)
    state, where = read_checkpoint(checkpoint)
    try:
        config, converted = convert_timm_vit(state, num_heads)
    except FieldtoolError as exc:
        raise FieldtoolError(f"{checkpoint}: {exc}") from None
    classes = converted["head.weight"].shape[0]
    if classes != len(labels):
        raise FieldtoolError(
            f"{checkpoint}: head has {classes} outputs but {classes_file} lists {len(labels)} classes"
        )
    network = _network(config, converted, len(labels), "cls", str(checkpoint))
    if not isinstance(config.image_size, int):  # convert_timm_vit sets one side (square)
        raise FieldtoolError(f"{checkpoint}: input size {config.image_size} is not one number")
    info = ModelInfo(
        model_id=model_id or out_dir.name,
        image_size=int(config.image_size),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        head_input="cls",
        extra={
            "source": "timm vit_*_patch14_reg4_dinov2 training checkpoint (PlantCLEF 2024)",
            "checkpoint": checkpoint.name,
            "weights": where,
        },
        preprocessing=timm_crop(int(config.image_size)),
    )
    source = card.plantclef_source(checkpoint, where, Path(classes_file), Path(names_file), notes)
    card.write_imported(out_dir, network, labels, info, source, overwrite=overwrite)
    if log is not None:
        for note in notes:
            log(note)
    return out_dir


def _network(config: Dinov2Config | Dinov2WithRegistersConfig, state: dict[str, torch.Tensor],
             classes: int, head_input: str, source: str) -> SpeciesClassifier:  # fmt: skip
    from fieldtool.model import SpeciesClassifier, match_parameter_names

    network = SpeciesClassifier(config, classes, head_input)
    state = match_parameter_names(state, set(network.state_dict()))
    if detail := hints.key_mismatch(set(network.state_dict()), set(state)):  # names, then shapes
        raise FieldtoolError(f"{source}: converted weights do not fit: {detail}")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = hints.shape_mismatch(str(exc))
        raise FieldtoolError(f"{source}: converted weights do not fit: {detail}") from None
    return network.eval()


# --------------------------------------------------------------------- Hugging Face folders

HF_PREFIXES = ("dinov2_with_registers.", "dinov2.", "backbone.", "model.")


def _read_hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    import torch
    from safetensors.torch import load_file

    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    legacy = folder / "pytorch_model.bin"
    try:
        if single.is_file():
            return load_file(str(single))
        if index.is_file():
            shards = sorted(
                set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            )
            state: dict[str, torch.Tensor] = {}
            for shard in shards:
                state.update(load_file(str(folder / shard)))
            return state
        if legacy.is_file():
            return torch.load(legacy, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise FieldtoolError(f"{legacy}: refused to load ({_unpickling_detail(exc)[1]})") from None
    except Exception as exc:  # damaged or partial download
        raise FieldtoolError(f"{folder}: cannot read weights ({str(exc)[:200]})") from None
    raise FieldtoolError(f"{folder}: no model.safetensors (or pytorch_model.bin) weights")


def _hf_config(folder: Path) -> Dinov2Config | Dinov2WithRegistersConfig:
    from fieldtool.model import read_backbone_config

    return read_backbone_config(folder, "Hugging Face model folder")


def _hf_state(
    raw: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Hub state dict -> (backbone state without prefixes, classifier.* tensors). Names
    that differ between transformers releases are matched when the network loads them
    (:func:`fieldtool.model.match_parameter_names`)."""
    classifier = {k[len("classifier.") :]: v for k, v in raw.items() if k.startswith("classifier.")}
    state = {k: v for k, v in raw.items() if not k.startswith("classifier.")}
    for prefix in HF_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state, classifier


def import_hf_dinov2(
    folder: Path | str,
    out_dir: Path | str,
    labels_csv: Path | str | None = None,
    *,
    model_id: str | None = None,
    image_size: int | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
    hub_id: str | None = None,
) -> Path:
    """Convert a Hugging Face DINOv2 folder (``Dinov2Model``, ``Dinov2WithRegistersModel`` or
    their ``...ForImageClassification``, keys possibly prefixed ``dinov2.``) into a model folder.

    With a ``classifier`` head its classes come from ``labels_csv`` (fieldtool
    ``labels.csv`` format) or ``config.id2label``; the head reads CLS + mean patch token
    (as transformers' classifier does). Without one the folder is *backbone-only*: a single
    ``background`` class with a zero head, ``extra["backbone_only"] = True``; use it with a
    gallery. Classes named as no species (``background``, ``empty``...) are marked so, and
    preprocessing is :func:`fieldtool.preprocessing.from_hf_processor`'s (said via ``log``).
    ``hub_id``: the hub repository ``folder`` was downloaded from (:func:`pull`), for the card.
    """
    import torch

    from fieldtool.model import ModelInfo, background_by_name, read_labels
    from fieldtool.preprocessing import from_hf_processor

    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise FieldtoolError(f"{folder}: folder not found")
    if already := hints.fieldtool_folder(folder):
        raise FieldtoolError(already)
    try:
        config = _hf_config(folder)
    except FieldtoolError as exc:
        raise FieldtoolError(f"{exc}{hints.timm_folder(folder)}") from None
    notes: list[str] = []  # said once the folder is written
    record, size, mean, std = from_hf_processor(folder, image_size, notes.append)  # or refused
    state, classifier = _hf_state(_read_hf_weights(folder))
    hidden = config.hidden_size
    state.setdefault("embeddings.mask_token", torch.zeros(1, hidden))
    extra: dict = {"source": f"Hugging Face {type(config).__name__} folder {folder.name}"}
    if classifier:
        if "weight" not in classifier or "bias" not in classifier:
            raise FieldtoolError(f"{folder}: classifier head lacks weight or bias")
        weight, bias = classifier["weight"], classifier["bias"]
        head_input = "cls+mean" if weight.shape[1] == 2 * hidden else "cls"
        if labels_csv is not None:
            labels = read_labels(Path(labels_csv))
        else:
            id2label = {int(k): v for k, v in (config.id2label or {}).items()}
            labels = LabelSet(
                tuple(Label(i, str(id2label.get(i, f"class_{i}"))) for i in range(weight.shape[0]))
            )
        if len(labels) != weight.shape[0]:
            raise FieldtoolError(
                f"{folder}: classifier has {weight.shape[0]} outputs but {len(labels)} labels"
            )
        labels = background_by_name(labels, notes.append)
    else:
        if labels_csv is not None:
            raise FieldtoolError(
                f"{folder}: no classifier head, so {labels_csv} cannot be used (enroll a gallery)"
            )
        head_input = "cls"
        weight, bias = torch.zeros(1, hidden), torch.zeros(1)
        labels = LabelSet((Label(0, BACKBONE_ONLY_LABEL, "", is_background=True),))
        extra["backbone_only"] = True
    full = {f"backbone.{k}": v.to(torch.float32) for k, v in state.items()}
    full["head.weight"], full["head.bias"] = weight.to(torch.float32), bias.to(torch.float32)
    network = _network(config, full, len(labels), head_input, str(folder))
    info = ModelInfo(model_id=model_id or out_dir.name, image_size=size, mean=mean, std=std,
                     head_input=head_input, extra=extra, preprocessing=record)  # fmt: skip
    card.write_imported(out_dir, network, labels, info, card.hf_source(folder, hub_id, notes),
                        overwrite=overwrite)  # fmt: skip
    if log is not None:
        for note in notes:
            log(note)
    return out_dir


def is_backbone_only(info: ModelInfo) -> bool:
    """True for folders from :func:`import_hf_dinov2` without a head (gallery use only)."""
    return bool(info.extra.get("backbone_only"))


# ------------------------------------------------------------------------------------ pull


def _offline_reason(timeout_s: float) -> str | None:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        return f"cannot reach {host}:{port} ({exc.strerror or exc})"
    return None


def pull(name: str, dest: Path | str, *, timeout_s: float = 5.0, overwrite: bool = False,
         log: Callable[[str], None] | None = None) -> Path:  # fmt: skip
    """Download ``name`` (one of :data:`HF_MODELS`) and import it as a backbone-only folder.

    Fails at once (``FieldtoolError``) when ``huggingface_hub`` is missing or the hub cannot
    be reached within ``timeout_s`` seconds.
    """
    dest = Path(dest)
    if name not in HF_MODELS:
        raise FieldtoolError(f"unknown model {name!r}; choose one of {', '.join(HF_MODELS)}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise FieldtoolError(
            "'model pull' needs the huggingface_hub package (pip install huggingface_hub)"
        ) from None
    reason = _offline_reason(timeout_s)
    if reason:
        raise FieldtoolError(
            f"cannot download {name}: offline ({reason}); download it on a connected machine "
            "and use 'fieldtool model import-hf FOLDER -o DIR'"
        )
    card.check_out_dir(dest, overwrite)  # before the download, not only after it
    dest.parent.mkdir(parents=True, exist_ok=True)  # the download goes beside it
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pull-") as tmp:
        try:
            snapshot_download(
                repo_id=name, local_dir=tmp, allow_patterns=list(HF_FILES), etag_timeout=timeout_s
            )
        except Exception as exc:  # network errors come in many types
            line = (str(exc).strip().splitlines() or [""])[0][:200]
            raise FieldtoolError(f"cannot download {name}: {type(exc).__name__}: {line}") from None
        import_hf_dinov2(tmp, dest, model_id=name.split("/")[-1], overwrite=overwrite, log=log,
                         hub_id=name)  # fmt: skip
    return dest
