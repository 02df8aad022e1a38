from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import fieldtool.classify
from fieldtool.classify import DinoClassifier, cpu_micro_batch, cut_tiles, pick_device, reduce_tiles
from fieldtool.cli import DEMO_DATA
from fieldtool.config import DEMO_MODEL
from fieldtool.model import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RENAMED_PARAMETERS,
    load_model_folder,
    match_parameter_names,
)
from fieldtool.sources import VideoSource
from fieldtool.types import FieldtoolError


def test_model_folder_round_trip(tiny_model_dir, labels):
    model = load_model_folder(tiny_model_dir)
    assert model.labels == labels and model.info.model_id == "tiny-test"
    assert model.network.num_prefix == 3  # CLS + 2 registers
    x = torch.randn(2, 3, 32, 32)
    assert model.network(x).shape == (2, len(labels))


def _drop(folder, name):
    (folder / name).unlink()


def _truncate_labels(folder, _):
    lines = (folder / "labels.csv").read_text().splitlines()
    (folder / "labels.csv").write_text("\n".join(lines[:-1]) + "\n")


def _extra_key(folder, _):
    state = load_file(str(folder / "model.safetensors"))
    state["backbone.surprise"] = torch.zeros(1)
    save_file(state, str(folder / "model.safetensors"))


def _garble(folder, name):
    (folder / name).write_bytes(b"\x00garbage")


@pytest.mark.parametrize(
    ("damage", "name", "fragment"),
    [
        (_drop, "model.safetensors", "lacks model.safetensors"),
        (_drop, "config.json", "no config.json"),
        (_drop, "labels.csv", "model folder lacks labels.csv"),
        (_truncate_labels, None, "head has 4 outputs but labels.csv lists 3"),
        (_extra_key, None, "weights do not fit"),
        (_garble, "model.safetensors", "cannot read weights"),
        (_garble, "config.json", "not valid JSON"),
    ],
)
def test_broken_model_folders_give_one_line_errors(tiny_model_dir, damage, name, fragment):
    damage(tiny_model_dir, name)
    with pytest.raises(FieldtoolError) as err:
        load_model_folder(tiny_model_dir)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_unknown_model_folder(tmp_path):
    with pytest.raises(FieldtoolError, match="model folder not found"):
        load_model_folder(tmp_path / "nope")


def test_classifier_preprocess_matches_manual_normalisation(tiny_model_dir):
    clf = DinoClassifier(load_model_folder(tiny_model_dir), device="cpu")
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    pixels = clf.preprocess([image])
    rgb = cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA)[..., ::-1] / 255.0
    manual = (rgb - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(pixels[0].permute(1, 2, 0).numpy(), manual, atol=1e-4)


@pytest.mark.parametrize("tiles", [1, 2, 3])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_classifier_outputs_distributions_in_batches(tiny_model_dir, tiles, precision):
    clf = DinoClassifier(
        load_model_folder(tiny_model_dir), device="cpu", batch_size=4, tiles=tiles,
        precision=precision,
    )  # fmt: skip
    images = [np.full((48, 64, 3), i * 20, np.uint8) for i in range(7)]
    probs, tile_probs = clf.predict(images)
    assert probs.shape == (7, 4) and tile_probs.shape == (7, tiles * tiles, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    one_by_one = np.concatenate([clf.predict([im])[0] for im in images])
    np.testing.assert_allclose(probs, one_by_one, atol=1e-5 if precision == "fp32" else 2e-2)


@pytest.mark.parametrize("native_bf16", [True, False])
def test_auto_precision_on_the_cpu_follows_its_bf16_hardware(
    tiny_model_dir, monkeypatch, native_bf16
):
    monkeypatch.setattr(fieldtool.classify, "cpu_has_native_bf16", lambda: native_bf16)
    clf = DinoClassifier(load_model_folder(tiny_model_dir), device="cpu", precision="auto")
    assert clf.precision == ("bf16" if native_bf16 else "fp32")
    assert (
        DinoClassifier(load_model_folder(tiny_model_dir), device="cpu", precision="fp32").precision
        == "fp32"
    )


def test_bf16_agrees_with_fp32_on_the_demo_model():
    """bf16 autocast changes scores by rounding only: same top class, scores within 0.05."""
    walk = VideoSource(str(DEMO_DATA / "walk_west.mp4"), sample_fps=1.0)
    demo_frames = [frame.image for frame in walk.frames()]
    model = load_model_folder(DEMO_MODEL)
    fp32, _ = DinoClassifier(model, device="cpu", precision="fp32").predict(demo_frames)
    bf16, _ = DinoClassifier(model, device="cpu", precision="bf16").predict(demo_frames)
    assert (fp32.argmax(axis=1) == bf16.argmax(axis=1)).mean() >= 0.95
    assert np.abs(fp32 - bf16).max() < 0.05


def test_compiled_classifier_matches_eager_for_full_odd_and_single_batches(tiny_model_dir):
    model = load_model_folder(tiny_model_dir)
    eager = DinoClassifier(model, device="cpu", batch_size=4, precision="fp32")
    lines: list[str] = []
    compiled = DinoClassifier(
        model, device="cpu", batch_size=4, precision="fp32", compile=True, log=lines.append
    )
    images = [np.random.default_rng(i).integers(0, 255, (40, 56, 3), np.uint8) for i in range(7)]
    for part in (images, images[:3], images[:1]):  # 4 + 3 (padded to 4), 3, 1
        np.testing.assert_allclose(compiled.predict(part)[0], eager.predict(part)[0], atol=1e-4)
    assert compiled.compiled
    compiling = [line for line in lines if line.startswith("compiling")]
    assert compiling == [  # two shapes, each compiled once
        "compiling the model for batches of 4 (once, 15-60 s)",
        "compiling the model for batches of 1 (once, 15-60 s)",
    ]


def test_a_failing_compile_falls_back_to_the_eager_model(tiny_model_dir, monkeypatch):
    def broken_compile(network, **kwargs):
        def run(pixels):
            raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found\nmore detail")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    lines: list[str] = []
    model = load_model_folder(tiny_model_dir)
    clf = DinoClassifier(model, device="cpu", precision="fp32", compile=True, log=lines.append)
    images = [np.full((40, 56, 3), 90, np.uint8)] * 2
    got, _ = clf.predict(images)
    want, _ = DinoClassifier(model, device="cpu", precision="fp32").predict(images)
    np.testing.assert_allclose(got, want, atol=1e-6)
    failed = [line for line in lines if "failed" in line]
    assert not clf.compiled and len(failed) == 1 and "C++ compiler" in failed[0]
    assert "\n" not in failed[0]


def test_the_configured_compile_mode_reaches_torch_compile(tiny_model_dir, monkeypatch):
    from fieldtool.config import load_config
    from fieldtool.pipeline.inputs import classifier_from_config

    modes: list[str | None] = []

    def recording_compile(network, mode=None, **kwargs):
        modes.append(mode)
        return network

    monkeypatch.setattr(torch, "compile", recording_compile)
    for mode in ("default", "max-autotune-no-cudagraphs"):
        config = load_config(None, {"model.path": str(tiny_model_dir), "model.compile": True,
                                    "model.compile_mode": mode, "model.device": "cpu"})
        classifier_from_config(config, log=lambda line: None)
    assert modes == [None, "max-autotune-no-cudagraphs"]  # "default": torch's own default


def test_cut_tiles_covers_the_frame():
    image = np.arange(7 * 10 * 3, dtype=np.uint8).reshape(7, 10, 3)
    tiles = cut_tiles(image, 3)
    assert len(tiles) == 9 and sum(t.shape[0] * t.shape[1] for t in tiles) == 70


def test_reduce_tiles_max_keeps_a_plant_seen_in_one_tile():
    background = np.array([False, False, True])
    tile_probs = np.array([[[0.9, 0.0, 0.1], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])
    frame = reduce_tiles(tile_probs.copy(), background, "max")
    assert frame.argmax() == 0 and frame.sum() == pytest.approx(1.0)
    mean = reduce_tiles(tile_probs.copy(), background, "mean")
    assert mean.argmax() == 2


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(FieldtoolError, match="no CUDA GPU"):
            pick_device("cuda")


def test_model_folder_copy_is_self_contained(tiny_model_dir, tmp_path):
    copy = tmp_path / "copied"
    shutil.copytree(tiny_model_dir, copy)
    assert load_model_folder(copy).info.image_size == 32


FITS = {  # fieldtool.json "preprocessing" records (none: squash, as older folders)
    "squash (no record)": None,
    "crop": {"fit": "crop", "resize": 36, "interpolation": "bicubic", "rescale_factor": 1 / 255},
    "squash 40, crop": {"fit": "squash", "resize": 40, "interpolation": "bilinear",
                        "rescale_factor": 1 / 255},
}  # fmt: skip


@pytest.mark.parametrize("fit", FITS)
@pytest.mark.parametrize("tiles", [1, 2])
def test_device_preprocessing_matches_the_opencv_path(tiny_model_dir, tiles, fit):
    """The GPU path (tensor resize) agrees with the CPU path (OpenCV, or torch's uint8
    resize for a recorded fit); run here on the CPU. The crop is in the same place."""
    if FITS[fit] is not None:
        info = json.loads((tiny_model_dir / "fieldtool.json").read_text())
        (tiny_model_dir / "fieldtool.json").write_text(json.dumps(info | {"preprocessing": FITS[fit]}))
    clf = DinoClassifier(load_model_folder(tiny_model_dir), device="cpu", tiles=tiles)
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (12, 16, 3)).astype(np.uint8)
    images = [cv2.resize(base, (160, 120), interpolation=cv2.INTER_LINEAR) for _ in range(3)]
    images[1] = images[1][:, ::-1].copy()
    images[2][:60, :80] = 255  # a corner the crop cuts into: misplaced crops differ there
    on_device = clf._preprocess_on_device(images)
    with_cv2 = clf.preprocess(images)
    assert on_device.shape == with_cv2.shape == (3 * tiles * tiles, 3, 32, 32)
    if FITS[fit] is None:
        assert (on_device - with_cv2).abs().mean() < 0.05
    else:  # the same resize and crop: float (device) against uint8 passes (CPU), a few
        # 0-255 steps apart at most, at sharp edges; a misplaced crop is tens of steps off
        step = 1 / (255 * min(IMAGENET_STD))
        assert (on_device - with_cv2).abs().max() < 4 * step
        assert (on_device - with_cv2).abs().mean() < 0.25 * step


def test_device_preprocessing_in_chunks_matches_all_at_once(tiny_model_dir, monkeypatch):
    """Big frames go to the GPU a few at a time; the crops must not depend on the chunking."""
    clf = DinoClassifier(load_model_folder(tiny_model_dir), device="cpu", tiles=2)
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 255, (60, 80, 3)).astype(np.uint8) for _ in range(5)]
    whole = clf._preprocess_on_device(images)
    monkeypatch.setattr(fieldtool.classify, "DEVICE_CHUNK_BYTES", 2 * 60 * 80 * 3 * 4)
    chunked = clf._preprocess_on_device(images)  # chunks of 2, 2, 1 frames
    assert chunked.shape == whole.shape == (5 * 4, 3, 32, 32)
    torch.testing.assert_close(chunked, whole)


def _other_release_names(key: str) -> str:
    """The name the other transformers release gives a parameter."""
    for older, newer in RENAMED_PARAMETERS:
        if newer in key:
            return key.replace(newer, older)
        if older in key:
            return key.replace(older, newer)
    return key


def test_a_model_folder_saved_under_other_transformers_names_loads(tiny_model_dir):
    """transformers 5.17 (and the hub) name attention weights ``attention.attention.query``,
    5.24 ``attention.q_proj``: a folder written by either loads under either."""
    model = load_model_folder(tiny_model_dir)
    state = load_file(tiny_model_dir / "model.safetensors")
    renamed = {_other_release_names(k): v for k, v in state.items()}
    assert renamed.keys() != state.keys()  # the folder now speaks the other release's names
    save_file(renamed, tiny_model_dir / "model.safetensors")
    again = load_model_folder(tiny_model_dir)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(again.network(x), model.network(x))
    assert set(match_parameter_names(renamed, set(state))) == set(state)


def test_swiglu_weights_split_and_join_between_releases():
    gate, up = torch.randn(6, 4), torch.randn(6, 4)
    fused = {"l.0.mlp.weights_in.weight": torch.cat([gate, up])}
    split = match_parameter_names(fused, {"l.0.mlp.gate_proj.weight", "l.0.mlp.up_proj.weight"})
    torch.testing.assert_close(split["l.0.mlp.gate_proj.weight"], gate)
    torch.testing.assert_close(split["l.0.mlp.up_proj.weight"], up)
    joined = match_parameter_names(split, {"l.0.mlp.weights_in.weight"})
    torch.testing.assert_close(
        joined["l.0.mlp.weights_in.weight"], fused["l.0.mlp.weights_in.weight"]
    )


def _layout(image_size: int, patch: int, hidden: int, registers: int = 0):
    from types import SimpleNamespace

    config = SimpleNamespace(image_size=image_size, patch_size=patch, hidden_size=hidden,
                             num_register_tokens=registers)  # fmt: skip
    return SimpleNamespace(backbone=SimpleNamespace(config=config))


@pytest.mark.parametrize(
    ("layout", "crops"),
    [
        (_layout(224, 14, 384), 8),  # ViT-S/14: measured fastest at 8
        (_layout(224, 14, 768, 4), 4),  # ViT-B/14-reg4: 4-8
        (_layout(96, 8, 128), 32),  # the demo model: 32
        (_layout(518, 14, 768, 4), 1),  # PlantCLEF's ViT-B at 518 px
    ],
)
def test_cpu_micro_batch_follows_the_activation_size(layout, crops):
    assert cpu_micro_batch(layout) == crops


def test_micro_batches_give_the_same_probabilities(tiny_model_dir):
    model = load_model_folder(tiny_model_dir)
    whole = DinoClassifier(model, device="cpu", batch_size=8, precision="fp32", micro_batch=8)
    micro = DinoClassifier(model, device="cpu", batch_size=8, precision="fp32", micro_batch=3)
    calls: list[int] = []
    run = micro._run_network
    micro._run_network = lambda pixels: calls.append(len(pixels)) or run(pixels)
    images = [np.random.default_rng(i).integers(0, 255, (40, 56, 3), np.uint8) for i in range(7)]
    np.testing.assert_allclose(micro.predict(images)[0], whole.predict(images)[0], atol=1e-5)
    assert calls == [3, 3, 1]  # one batch of 7 frames, network calls of at most 3


def test_a_compiled_model_does_not_recompile_when_the_session_calls_it(tiny_model_dir):
    """After the first batches, the session's calls (on the model thread, with frames
    prepared on the reader thread, a short last batch) reuse the graphs: dynamo's counters
    do not move (issue 13: a recompile inside a session cost ~25 s on the GPU)."""
    import threading

    from torch._dynamo.utils import counters

    model = load_model_folder(tiny_model_dir)
    classifier = DinoClassifier(model, device="cpu", batch_size=4, precision="fp32", compile=True)
    images = [np.random.default_rng(i).integers(0, 255, (40, 56, 3), np.uint8) for i in range(7)]
    classifier.predict(images[:4])  # warm-up: a full batch, on this thread, not prepared
    classifier.predict(images[:1])  # and one frame (a live source's batch)
    graphs = counters["stats"]["unique_graphs"]
    recompiles = sum(counters["recompiles"].values())
    out: list = []

    def session_calls() -> None:
        prepared = [classifier.prepare(image) for image in images]
        out.append(classifier.predict(images[:4], prepared[:4]))
        out.append(classifier.predict(images[4:], prepared[4:]))  # 3 frames: padded to 4
        out.append(classifier.predict(images[:1], prepared[:1]))

    worker = threading.Thread(target=session_calls)
    worker.start()
    worker.join()
    assert len(out) == 3
    assert counters["stats"]["unique_graphs"] == graphs
    assert sum(counters["recompiles"].values()) == recompiles


def test_an_older_plantclef_folder_is_cropped_as_timm_and_keyed_so(tiny_model_dir, tmp_path):
    """A PlantCLEF folder imported before fieldtool.json recorded preprocessing says only
    ``extra.resize = "bicubic"`` (timm's eval transform, crop_pct 1.0). It is read as that
    record everywhere: the classifier crops it, and how it sees a frame (a gallery's input
    check, a batch's key) is that of a folder that records it."""
    from fieldtool.model import inputs_sha256
    from fieldtool.preprocessing import timm_crop

    info = json.loads((tiny_model_dir / "fieldtool.json").read_text())
    older = tmp_path / "older"
    shutil.copytree(tiny_model_dir, older)
    (older / "fieldtool.json").write_text(json.dumps(info | {"extra": {"resize": "bicubic"}}))
    recorded = tmp_path / "recorded"
    shutil.copytree(tiny_model_dir, recorded)
    record = timm_crop(info["image_size"]).model_dump()
    (recorded / "fieldtool.json").write_text(json.dumps(info | {"preprocessing": record}))

    assert load_model_folder(older).info.preprocessing == timm_crop(info["image_size"])
    assert inputs_sha256(older) == inputs_sha256(recorded) != inputs_sha256(tiny_model_dir)
    frames = [np.random.default_rng(3).integers(0, 255, (40, 64, 3)).astype(np.uint8)]
    crops = {
        name: DinoClassifier(load_model_folder(folder), device="cpu").preprocess(frames)
        for name, folder in (("older", older), ("recorded", recorded), ("squash", tiny_model_dir))
    }
    torch.testing.assert_close(crops["older"], crops["recorded"])
    assert (crops["older"] - crops["squash"]).abs().max() > 0.1
