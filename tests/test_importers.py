"""Model importers: timm PlantCLEF checkpoints, Hugging Face DINOv2 folders, ``model pull``."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from fieldtool.importers import (
    HF_MODELS,
    convert_timm_vit,
    import_hf_dinov2,
    import_plantclef,
    pull,
    read_checkpoint,
)
from fieldtool.model import load_model_folder
from fieldtool.preprocessing import timm_crop
from fieldtool.types import FieldtoolError

# Tiny stand-in for vit_base_patch14_reg4_dinov2 (768 wide, 12 blocks, 12 heads, 518 px).
DIM, DEPTH, HEADS, PATCH, GRID, REGS, CLASSES = 32, 2, 2, 14, 3, 4, 5
SPECIES = {
    "1355868": "Lactuca virosa L.",
    "1355869": "Crepis capillaris (L.) Wallr.",
    "1355870": "Crepis foetida L.",
    "1355871": "Hypochaeris radicata L.",
    "1355872": "Taraxacum officinale F.H.Wigg.",
}


def timm_state(seed: int = 0, classes: int = CLASSES) -> dict[str, torch.Tensor]:
    """Random weights with timm's exact keys and shapes for ``vit_*_patch14_reg4_dinov2``."""
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 0.2, offset: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale + offset

    hidden = 4 * DIM
    state = {
        "cls_token": rnd(1, 1, DIM, scale=1.0),
        "reg_token": rnd(1, REGS, DIM, scale=1.0),
        "pos_embed": rnd(1, GRID * GRID, DIM, scale=0.5),  # no CLS slot (no_embed_class)
        "patch_embed.proj.weight": rnd(DIM, 3, PATCH, PATCH, scale=0.05),
        "patch_embed.proj.bias": rnd(DIM),
    }
    for i in range(DEPTH):
        b = f"blocks.{i}."
        state |= {
            b + "norm1.weight": rnd(DIM, offset=1.0), b + "norm1.bias": rnd(DIM),
            b + "attn.qkv.weight": rnd(3 * DIM, DIM), b + "attn.qkv.bias": rnd(3 * DIM),
            b + "attn.proj.weight": rnd(DIM, DIM), b + "attn.proj.bias": rnd(DIM),
            b + "ls1.gamma": rnd(DIM, scale=0.3, offset=0.5),
            b + "norm2.weight": rnd(DIM, offset=1.0), b + "norm2.bias": rnd(DIM),
            b + "mlp.fc1.weight": rnd(hidden, DIM), b + "mlp.fc1.bias": rnd(hidden),
            b + "mlp.fc2.weight": rnd(DIM, hidden), b + "mlp.fc2.bias": rnd(DIM),
            b + "ls2.gamma": rnd(DIM, scale=0.3, offset=0.5),
        }  # fmt: skip
    state |= {
        "norm.weight": rnd(DIM, offset=1.0),
        "norm.bias": rnd(DIM),
        "head.weight": rnd(classes, DIM, scale=0.5),
        "head.bias": rnd(classes),
    }
    return state


def timm_forward(state: dict[str, torch.Tensor], x: torch.Tensor, heads: int) -> torch.Tensor:
    """timm ``VisionTransformer.forward`` (reg tokens, ``no_embed_class=True``,
    ``init_values`` LayerScale, pre-norm blocks, token pooling), in float64. (B,3,S,S) -> (B,C)."""
    s = {k: v.double() for k, v in state.items()}
    x = x.double()
    batch, dim = x.shape[0], s["cls_token"].shape[-1]
    patch = s["patch_embed.proj.weight"].shape[-1]
    tokens = F.conv2d(x, s["patch_embed.proj.weight"], s["patch_embed.proj.bias"], stride=patch)
    tokens = tokens.flatten(2).transpose(1, 2)  # (B, N, D)
    tokens = tokens + s["pos_embed"]  # _pos_embed with no_embed_class: patches only
    prefix = [s["cls_token"].expand(batch, -1, -1), s["reg_token"].expand(batch, -1, -1)]
    tokens = torch.cat([*prefix, tokens], dim=1)  # [cls, reg x4, patches]
    n = tokens.shape[1]
    depth = len({k.split(".")[1] for k in s if k.startswith("blocks.")})
    for i in range(depth):
        b = f"blocks.{i}."
        h = F.layer_norm(tokens, (dim,), s[b + "norm1.weight"], s[b + "norm1.bias"], eps=1e-6)
        qkv = F.linear(h, s[b + "attn.qkv.weight"], s[b + "attn.qkv.bias"])
        q, k, v = qkv.reshape(batch, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * (dim // heads) ** -0.5) @ k.transpose(-2, -1)
        h = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, n, dim)
        h = F.linear(h, s[b + "attn.proj.weight"], s[b + "attn.proj.bias"])
        tokens = tokens + s[b + "ls1.gamma"] * h
        h = F.layer_norm(tokens, (dim,), s[b + "norm2.weight"], s[b + "norm2.bias"], eps=1e-6)
        h = F.linear(h, s[b + "mlp.fc1.weight"], s[b + "mlp.fc1.bias"])
        h = F.linear(F.gelu(h), s[b + "mlp.fc2.weight"], s[b + "mlp.fc2.bias"])
        tokens = tokens + s[b + "ls2.gamma"] * h
    tokens = F.layer_norm(tokens, (dim,), s["norm.weight"], s["norm.bias"], eps=1e-6)
    return F.linear(tokens[:, 0], s["head.weight"], s["head.bias"])  # global_pool="token"


def training_checkpoint(state: dict[str, torch.Tensor]) -> dict:
    """What timm's train.py saves: EMA weights preferred over the (different) raw ones."""
    raw = {k: v + 0.1 for k, v in state.items()}
    return {
        "epoch": 12,
        "arch": "vit_base_patch14_reg4_dinov2",
        "state_dict": raw,
        "state_dict_ema": state,
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999)}]},
        "args": argparse.Namespace(
            model="vit_base_patch14_reg4_dinov2.lvd142m", img_size=518, lr=1e-4, mean=None
        ),
        "version": 2,
        "metric": np.float64(0.51),
    }


@pytest.fixture
def plantclef_files(tmp_path):
    state = timm_state()
    ckpt = tmp_path / "model_best.pth.tar"
    torch.save(training_checkpoint(state), ckpt)
    classes = tmp_path / "class_mapping.txt"
    classes.write_text("\n".join(SPECIES) + "\n", encoding="utf-8")
    names = tmp_path / "species_id_to_name.txt"
    rows = [f'"{sid}";"{name}"' for sid, name in reversed(SPECIES.items())]
    names.write_text('"species_id";"species"\n' + "\n".join(rows) + '\n"999";"Other sp."\n')
    return state, ckpt, classes, names


def test_plantclef_conversion_matches_timm_reference(plantclef_files, tmp_path):
    state, ckpt, classes, names = plantclef_files
    out = import_plantclef(ckpt, classes, names, tmp_path / "pc", num_heads=HEADS)
    model = load_model_folder(out)
    assert model.labels.species == list(SPECIES.values())
    assert model.info.image_size == GRID * PATCH and model.info.head_input == "cls"
    assert model.info.extra["weights"] == "state_dict_ema"
    assert model.info.preprocessing == timm_crop(GRID * PATCH)  # bicubic, crop_pct 1.0
    assert model.network.backbone.config.num_register_tokens == REGS
    x = torch.randn(3, 3, GRID * PATCH, GRID * PATCH, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model.network(x).double()
    reference = timm_forward(state, x, HEADS)
    diff = (ours - reference).abs().max().item()
    print(f"\ntimm -> transformers conversion: max abs logit difference {diff:.3e}")
    assert reference.abs().max() > 0.5  # logits are not trivially small
    assert diff < 1e-4


def test_safetensors_copy_and_bare_prefixed_state(plantclef_files, tmp_path):
    state, _, classes, names = plantclef_files
    x = torch.randn(2, 3, GRID * PATCH, GRID * PATCH)
    reference = timm_forward(state, x, HEADS)
    copy = tmp_path / "model.safetensors"
    save_file(state, str(copy))
    bare = tmp_path / "bare.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, bare)
    for i, source in enumerate((copy, bare)):
        out = import_plantclef(source, classes, names, tmp_path / f"m{i}", num_heads=HEADS)
        with torch.no_grad():
            logits = load_model_folder(out).network(x).double()
        assert (logits - reference).abs().max() < 1e-4


def test_converter_derives_vit_base_config_from_real_shapes():
    """The real model's shapes: 768 wide, 12 blocks, 37x37 patches of 14 px, 4 registers."""
    d, blocks = 768, 12
    state = {"cls_token": torch.empty(1, 1, d), "reg_token": torch.empty(1, 4, d),
             "pos_embed": torch.zeros(1, 37 * 37, d), "patch_embed.proj.weight": torch.empty(d, 3, 14, 14),
             "patch_embed.proj.bias": torch.empty(d), "norm.weight": torch.empty(d),
             "norm.bias": torch.empty(d), "head.weight": torch.empty(7806, d),
             "head.bias": torch.empty(7806)}  # fmt: skip
    shapes = {"norm1.weight": (d,), "norm1.bias": (d,), "attn.qkv.weight": (3 * d, d),
              "attn.qkv.bias": (3 * d,), "attn.proj.weight": (d, d), "attn.proj.bias": (d,),
              "ls1.gamma": (d,), "ls2.gamma": (d,), "norm2.weight": (d,), "norm2.bias": (d,),
              "mlp.fc1.weight": (4 * d, d), "mlp.fc1.bias": (4 * d,),
              "mlp.fc2.weight": (d, 4 * d), "mlp.fc2.bias": (d,)}  # fmt: skip
    for i in range(blocks):
        state |= {f"blocks.{i}.{k}": torch.empty(shape) for k, shape in shapes.items()}
    config, out = convert_timm_vit(state)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (d, 12, 12)
    assert (config.image_size, config.patch_size, config.num_register_tokens) == (518, 14, 4)
    assert config.mlp_ratio == 4 and config.model_type == "dinov2_with_registers"
    pos = out["backbone.embeddings.position_embeddings"]
    assert pos.shape == (1, 1 + 37 * 37, d) and not pos[:, 0].any()  # zero CLS slot
    assert out["head.weight"].shape == (7806, d)


def test_zero_cls_slot_survives_interpolation(plantclef_files, tmp_path):
    """transformers passes the CLS slot through unchanged when it resizes positions."""
    _, ckpt, classes, names = plantclef_files
    model = load_model_folder(
        import_plantclef(ckpt, classes, names, tmp_path / "pc", num_heads=HEADS)
    )
    emb = model.network.backbone.embeddings
    tokens = torch.zeros(1, 1 + 25, DIM)
    assert not emb.interpolate_pos_encoding(tokens, 5 * PATCH, 5 * PATCH)[:, 0].any()


class Exploit:
    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _evil(tmp_path, state):
    torch.save({"state_dict": state, "hook": Exploit(tmp_path / "pwned")}, tmp_path / "c.pth")


def _no_weights(tmp_path, state):
    torch.save({"epoch": 3, "args": argparse.Namespace(lr=0.1)}, tmp_path / "c.pth")


def _missing(tmp_path, state):
    torch.save({k: v for k, v in state.items() if "blocks.1.mlp" not in k}, tmp_path / "c.pth")


def _unexpected(tmp_path, state):
    torch.save(state | {"blocks.0.attn.q_norm.weight": torch.ones(16)}, tmp_path / "c.pth")


def _wrong_classes(tmp_path, state):
    torch.save(timm_state(classes=7), tmp_path / "c.pth")


def _garbage(tmp_path, state):
    (tmp_path / "c.pth").write_bytes(b"\x00 not a checkpoint")


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_evil, "would run code"),
        (_no_weights, "no weights under state_dict_ema, model_ema, state_dict or model"),
        (_missing, "lacks 4 expected keys: blocks.1.mlp.fc1.bias"),
        (_unexpected, "does not know: blocks.0.attn.q_norm.weight"),
        (_wrong_classes, "head has 7 outputs but"),
        (_garbage, "not a readable PyTorch checkpoint"),
    ],
)
def test_bad_checkpoints_give_one_line_errors(plantclef_files, tmp_path, make, fragment):
    state, _, classes, names = plantclef_files
    make(tmp_path, state)
    with pytest.raises(FieldtoolError) as err:
        import_plantclef(tmp_path / "c.pth", classes, names, tmp_path / "out", num_heads=HEADS)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "out").exists()


def test_missing_inputs_and_unnamed_species(plantclef_files, tmp_path):
    _, ckpt, classes, names = plantclef_files
    with pytest.raises(FieldtoolError, match="nope.pth: file not found"):
        import_plantclef(tmp_path / "nope.pth", classes, names, tmp_path / "o")
    names.write_text("species_id;species\n1355868;Lactuca virosa L.\n")
    with pytest.raises(FieldtoolError, match="no name for 4 species ids"):
        import_plantclef(ckpt, classes, names, tmp_path / "o")
    with pytest.raises(FieldtoolError, match="not a multiple of 64: give num_heads"):
        convert_timm_vit(timm_state())


def test_read_checkpoint_prefers_ema(plantclef_files):
    state, ckpt, _, _ = plantclef_files
    weights, where = read_checkpoint(ckpt)
    assert where == "state_dict_ema" and torch.equal(weights["cls_token"], state["cls_token"])


def test_plantclef_folder_runs_end_to_end(plantclef_files, tmp_path):
    """``fieldtool run --model`` on a converted tiny checkpoint."""
    from fieldtool.cli import main
    from tests.conftest import write_video

    _, ckpt, classes, names = plantclef_files
    from fieldtool.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["model", "import-plantclef", str(ckpt), "--classes", str(classes),
                              "--names", str(names), "-o", str(tmp_path / "pc"), "--heads", "2"])  # fmt: skip
    assert args.func(args) == 0
    video = write_video(tmp_path / "walk.avi", [(0, 1.0), (1, 1.0)])
    code = main(["run", str(video), "--model", str(tmp_path / "pc"), "--db", str(tmp_path / "s.duckdb"),
                 "--device", "cpu", "--quiet", "--no-snapshots", "--sample-fps", "4"])  # fmt: skip
    assert code == 0


def test_plantclef_frames_are_resized_and_centre_cropped_as_timms_eval(plantclef_files,
                                                                       tmp_path):  # fmt: skip
    """timm's eval transform at crop_pct 1.0: shorter side bicubic (PIL) to the input size,
    centre crop; done here by hand and compared with the classifier, frame and tiles."""
    from PIL import Image

    from fieldtool.classify import DinoClassifier, cut_tiles
    from fieldtool.model import IMAGENET_MEAN, IMAGENET_STD

    _, ckpt, classes, names = plantclef_files
    model = load_model_folder(import_plantclef(ckpt, classes, names, tmp_path / "pc",
                                               num_heads=HEADS))  # fmt: skip
    size = GRID * PATCH
    rng = np.random.default_rng(4)
    rgb = np.kron(rng.integers(0, 256, (9, 16, 3)), np.ones((10, 10, 1))).astype(np.uint8)

    def by_hand(image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        short, long = sorted((height, width))
        new_long = int(size * long / short)
        new = (new_long, size) if width >= height else (size, new_long)  # PIL: (w, h)
        resized = np.asarray(Image.fromarray(image).resize(new, Image.BICUBIC), np.float32)
        top, left = (resized.shape[0] - size) // 2, (resized.shape[1] - size) // 2
        crop = resized[top : top + size, left : left + size] / 255
        x = (crop - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
        with torch.no_grad():
            logits = model.network(torch.from_numpy(x).permute(2, 0, 1)[None].float())
        return torch.softmax(logits, -1)[0].numpy()

    for tiles in (1, 2):
        clf = DinoClassifier(model, device="cpu", precision="fp32", tiles=tiles)
        probs, tile_probs = clf.predict([np.ascontiguousarray(rgb[..., ::-1])])
        for k, tile in enumerate(cut_tiles(rgb, tiles, size, model.info.preprocessing)):
            # within a rounding step of PIL on a few pixels (as in test_hf_preprocessing)
            assert np.abs(tile_probs[0, k] - by_hand(np.ascontiguousarray(tile))).max() < 1e-3
    squashed = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    assert np.abs(by_hand(squashed) - by_hand(rgb)).max() > 5e-3  # the crop matters here


# --------------------------------------------------------------------- Hugging Face folders


def _tiny_hf(tmp_path, registers: int, classify: bool):
    from transformers import (
        Dinov2Config,
        Dinov2ForImageClassification,
        Dinov2WithRegistersConfig,
        Dinov2WithRegistersModel,
    )

    torch.manual_seed(0)
    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, patch_size=8,
                  image_size=32, layerscale_value=0.7)  # fmt: skip
    if classify:
        config = Dinov2Config(**common, num_labels=3, id2label={0: "A a", 1: "B b", 2: "C c"})
        model = Dinov2ForImageClassification(config)
    else:
        model = Dinov2WithRegistersModel(
            Dinov2WithRegistersConfig(**common, num_register_tokens=registers)
        )
    folder = tmp_path / "hf"
    model.eval().save_pretrained(folder)  # writes the hub's names (attention.attention.query ...)
    (folder / "preprocessor_config.json").write_text(
        '{"crop_size": {"height": 32, "width": 32}, "resample": 3,'
        ' "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}'
    )
    return model, folder


def test_hf_backbone_becomes_backbone_only_folder(tmp_path):
    reference, folder = _tiny_hf(tmp_path, registers=4, classify=False)
    out = import_hf_dinov2(folder, tmp_path / "out", model_id="tiny-hf")
    model = load_model_folder(out)
    assert model.info.extra["backbone_only"] and model.labels.background_mask.all()
    assert model.info.image_size == 32 and model.info.preprocessing.interpolation == "bicubic"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = reference(pixel_values=x).last_hidden_state
        got = model.network.backbone(pixel_values=x).last_hidden_state
    assert (want - got).abs().max() < 1e-5


def test_hf_classifier_keeps_its_head_and_labels(tmp_path):
    reference, folder = _tiny_hf(tmp_path, registers=0, classify=True)
    model = load_model_folder(import_hf_dinov2(folder, tmp_path / "out"))
    assert model.labels.species == ["A a", "B b", "C c"] and model.info.head_input == "cls+mean"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (reference(pixel_values=x).logits - model.network(x)).abs().max() < 1e-5


def test_hf_errors(tmp_path):
    with pytest.raises(FieldtoolError, match="no config.json"):
        import_hf_dinov2(tmp_path, tmp_path / "o")
    _, folder = _tiny_hf(tmp_path, registers=2, classify=False)
    with pytest.raises(FieldtoolError, match="no classifier head"):
        import_hf_dinov2(folder, tmp_path / "o", labels_csv=tmp_path / "labels.csv")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("x")
    with pytest.raises(FieldtoolError, match="not empty"):
        import_hf_dinov2(folder, tmp_path / "o")


# -------------------------------------------------------------------------------------- pull


def test_pull_fails_at_once_offline(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    import socket
    import time

    def refuse(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.monotonic()
    with pytest.raises(FieldtoolError, match="offline .*cannot reach huggingface.co"):
        pull("facebook/dinov2-small", tmp_path / "m")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FieldtoolError, match="HF_HUB_OFFLINE is set"):
        pull("facebook/dinov2-base-with-registers", tmp_path / "m")
    assert time.monotonic() - start < 2 and not (tmp_path / "m").exists()
    with pytest.raises(FieldtoolError, match="unknown model"):
        pull("facebook/dinov2-huge", tmp_path / "m")
    assert len(HF_MODELS) == 6


def test_plantclef_names_with_genus_and_family_reach_the_model_folder(plantclef_files, tmp_path):
    _, ckpt, classes, _ = plantclef_files
    names = tmp_path / "species_id_to_name_taxa.txt"
    rows = [f'"{sid}";"{name}";"{name.split()[0]}";"Asteraceae"' for sid, name in SPECIES.items()]
    names.write_text('"species_id";"species";"genus";"family"\n' + "\n".join(rows) + "\n")
    out = import_plantclef(ckpt, classes, names, tmp_path / "pc-taxa", num_heads=HEADS)
    labels = load_model_folder(out).labels.labels
    assert [(lb.genus, lb.family) for lb in labels[:2]] == [
        ("Lactuca", "Asteraceae"), ("Crepis", "Asteraceae")]  # fmt: skip
