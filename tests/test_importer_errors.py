"""Model importers' errors on the wrong input (a new-user trial): one line saying what the
input is and what to do, key names whole, counts of what is missing and unexpected."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from fieldtool.importers import import_hf_dinov2, import_plantclef, read_checkpoint
from fieldtool.types import FieldtoolError

from .test_importers import HEADS, SPECIES, _tiny_hf, timm_state, training_checkpoint


@pytest.fixture
def plantclef_files(tmp_path):
    """A timm training checkpoint, its class_mapping.txt and species_id_to_name.txt."""
    ckpt = tmp_path / "model_best.pth.tar"
    torch.save(training_checkpoint(timm_state()), ckpt)
    classes = tmp_path / "class_mapping.txt"
    classes.write_text("\n".join(SPECIES) + "\n", encoding="utf-8")
    names = tmp_path / "species_id_to_name.txt"
    rows = [f'"{sid}";"{name}"' for sid, name in SPECIES.items()]
    names.write_text('"species_id";"species"\n' + "\n".join(rows) + "\n", encoding="utf-8")
    return ckpt, classes, names


def _hf_folder(tmp_path):
    """A small Dinov2ForImageClassification folder as transformers writes it (weights,
    config, its image processor's preprocessor_config.json)."""
    from transformers import BitImageProcessor

    _, folder = _tiny_hf(tmp_path, registers=0, classify=True)
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                      do_center_crop=True).save_pretrained(folder)  # fmt: skip
    return folder


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(FieldtoolError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message, message
    return message


def test_a_model_prefix_is_stripped_like_module(tmp_path):
    """Lightning and some training scripts save a timm model's keys as ``model.<key>``."""
    state = timm_state()
    save_file({f"model.{k}": v for k, v in state.items()}, str(tmp_path / "p.safetensors"))
    read, _ = read_checkpoint(tmp_path / "p.safetensors")
    assert set(read) == set(state)


def test_a_hugging_face_checkpoint_given_to_import_plantclef_says_so(plantclef_files, tmp_path):
    _, classes, names = plantclef_files
    folder = _hf_folder(tmp_path)
    message = _error(import_plantclef, folder / "model.safetensors", classes, names,
                     tmp_path / "out", num_heads=HEADS)  # fmt: skip
    assert "looks like a Hugging Face DINOv2 checkpoint" in message, message
    assert "fieldtool model import-hf" in message and "found []" not in message
    assert not (tmp_path / "out").exists()


def _keys_named(message: str) -> list[str]:
    return re.findall(r"backbone\.[\w.]+\w", message)


def test_renamed_keys_say_how_many_are_missing_and_unexpected_with_whole_names(tmp_path):
    folder = _hf_folder(tmp_path)
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    save_file({k.replace(".layer.", ".blocks."): v for k, v in state.items()}, str(weights))
    message = _error(import_hf_dinov2, folder, tmp_path / "out")
    found = re.search(r"(\d+) missing .* (\d+) unexpected", message)
    assert found, message
    assert int(found.group(1)) == int(found.group(2)) > 0  # each renamed key both ways
    named = _keys_named(message)
    assert named and all(
        re.fullmatch(
            r"backbone\.encoder\.(layer|blocks)\.\d+\.[\w.]+"
            r"(weight|bias|lambda1)",
            k,
        )
        for k in named
    ), named
    assert any(".layer." in k for k in named) and any(".blocks." in k for k in named)


def test_a_config_with_more_layers_than_the_weights_says_both_counts(tmp_path):
    folder = _hf_folder(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    message = _error(import_hf_dinov2, folder, tmp_path / "out")
    assert "the config has 3 layers, the weights 2" in message, message
    found = re.search(r"\b(\d+) missing \(backbone\.encoder\.layer\.2\..*and (\d+) more\)", message)
    assert found and int(found.group(1)) == int(found.group(2)) + 3, message  # 3 named
    assert "0 unexpected" in message, message


def test_a_fieldtool_model_folder_given_to_import_hf_says_so(tmp_path, tiny_model_dir):
    message = _error(import_hf_dinov2, tiny_model_dir, tmp_path / "out")
    assert "already a fieldtool model folder: use it with --model" in message, message
    assert str(tiny_model_dir) in message


def test_swapped_classes_and_names_files_are_hinted(plantclef_files, tmp_path):
    ckpt, classes, names = plantclef_files
    message = _error(import_plantclef, ckpt, names, classes, tmp_path / "out", num_heads=HEADS)
    assert "swapped" in message and "--classes" in message and "--names" in message, message


def test_a_names_file_that_is_wrong_on_its_own_gets_no_swap_hint(plantclef_files, tmp_path):
    ckpt, classes, _ = plantclef_files
    one_column = tmp_path / "names.txt"
    one_column.write_text("1355868\n1355869\n")
    message = _error(import_plantclef, ckpt, classes, one_column, tmp_path / "out")
    assert "row 1 has 1 columns, expected 2" in message and "swapped" not in message, message


def test_a_readable_folder_imports_as_before(tmp_path):
    folder = _hf_folder(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert (import_hf_dinov2(copy, tmp_path / "out") / "fieldtool.json").is_file()
    assert torch.is_tensor(load_file(str(tmp_path / "out" / "model.safetensors"))["head.bias"])


def test_a_fieldtool_models_weights_given_to_import_plantclef_say_so(plantclef_files, tmp_path,
                                                                    tiny_model_dir):  # fmt: skip
    _, classes, names = plantclef_files
    message = _error(import_plantclef, tiny_model_dir / "model.safetensors", classes, names,
                     tmp_path / "out")  # fmt: skip
    assert "a fieldtool model's weights: use its folder with --model" in message, message


def test_a_timm_checkpoint_folder_given_to_import_hf_points_at_import_plantclef(plantclef_files,
                                                                                tmp_path):  # fmt: skip
    ckpt, _, _ = plantclef_files
    message = _error(import_hf_dinov2, ckpt.parent, tmp_path / "out")
    assert "not a Hugging Face model folder (no config.json)" in message, message
    assert "model_best.pth.tar" in message and "import-plantclef" in message, message
