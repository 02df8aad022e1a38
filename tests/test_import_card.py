"""The model card an import writes (``MODEL_CARD.md``): what was converted (file and its
SHA-256, or the Hugging Face folder and its own card, copied as ``SOURCE_README.md``), when
and by which fieldtool, the network, classes, preprocessing and the weights' SHA-256, and
what the import does not know. The folder, card included, is written all or nothing."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import torch

import fieldtool.import_card as import_card
import fieldtool.model as model_module
from fieldtool.import_card import SOURCE_README, source_licence
from fieldtool.importers import import_hf_dinov2, import_plantclef, pull
from fieldtool.learn.card import CARD_MD
from fieldtool.model import describe_folder, load_model_folder
from fieldtool.types import FieldtoolError

from .test_hf_preprocessing import make_hf
from .test_importers import HEADS, SPECIES, _tiny_hf, timm_state, training_checkpoint

HUB_README = (
    "---\r\nlicense: cc-by-nc-4.0\r\ntags:\r\n- dino\r\n- vision\r\n---\r\n\r\n"
    "# Model card for a tiny DINOv2 \u2013 sp\u00e9cies test\r\n\r\nNot for use.\r\n"
).encode()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def card(folder: Path) -> str:
    return (folder / CARD_MD).read_text(encoding="utf-8")


@pytest.fixture
def plantclef_files(tmp_path):
    """A timm training checkpoint, its class_mapping.txt and species_id_to_name.txt."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    ckpt = inputs / "model_best.pth.tar"
    torch.save(training_checkpoint(timm_state()), ckpt)
    classes = inputs / "class_mapping.txt"
    classes.write_text("\n".join(SPECIES) + "\n", encoding="utf-8")
    names = inputs / "species_id_to_name.txt"
    rows = [f'"{sid}";"{name}"' for sid, name in SPECIES.items()]
    names.write_text('"species_id";"species"\n' + "\n".join(rows) + "\n", encoding="utf-8")
    return ckpt, classes, names


def _plantclef(files, out: Path, **kwargs) -> Path:
    ckpt, classes, names = files
    return import_plantclef(ckpt, classes, names, out, num_heads=HEADS, **kwargs)


def test_a_plantclef_import_writes_a_card_naming_its_checkpoint_and_what_it_holds(
    plantclef_files, tmp_path
):
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    out = _plantclef(plantclef_files, tmp_path / "pc", model_id="pc-tiny")
    after = datetime.now(UTC).replace(tzinfo=None)
    text = card(out)
    assert text.startswith("# Model card: `pc-tiny`")
    ckpt = plantclef_files[0]
    assert f"`model_best.pth.tar`, SHA-256 `{sha256(ckpt)}`" in text
    assert "`state_dict_ema`" in text  # where the weights were taken from
    assert "`class_mapping.txt`" in text and "`species_id_to_name.txt`" in text
    when = re.search(r"on (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) UTC", text)
    assert when and before <= datetime.fromisoformat(when.group(1)) <= after
    assert f"fieldtool {version('fieldtool')}" in text
    assert "hidden size 32, 2 layers, 2 attention heads, 4 registers, patches of 14 px" in text
    assert "input 42 x 42 px" in text and "CLS token" in text
    assert "5 classes" in text and "Lactuca virosa L." in text and "background: none" in text
    assert "shorter side to 42 px (bicubic), centre 42 x 42 px" in text
    assert "mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]" in text
    assert f"`model.safetensors` SHA-256 `{sha256(out / 'model.safetensors')}`" in text
    assert load_model_folder(out).sha256 == sha256(out / "model.safetensors")
    unknown = text.split("## What this import does not know", 1)[1]
    assert "trained on" in unknown and "accuracy" in unknown and "licence" in unknown
    assert "see the source's own card" in unknown
    assert not (out / SOURCE_README).exists() and not (out / "model_card.json").exists()


def test_an_hf_import_copies_the_source_readme_byte_for_byte_and_quotes_its_licence(tmp_path):
    folder = make_hf(tmp_path / "dinov2-tiny-hf")
    (folder / "README.md").write_bytes(HUB_README)
    config = json.loads((folder / "config.json").read_text())
    config["_name_or_path"] = "someone/dinov2-tiny"
    (folder / "config.json").write_text(json.dumps(config))
    notes: list[str] = []
    out = import_hf_dinov2(folder, tmp_path / "ft", log=notes.append)
    assert (out / SOURCE_README).read_bytes() == HUB_README
    text = card(out)
    assert "`dinov2-tiny-hf`" in text and "`Dinov2ForImageClassification`" in text
    assert "`someone/dinov2-tiny`" in text
    assert f"`{SOURCE_README}`" in text and "license: `cc-by-nc-4.0`" in text
    assert "4 classes" in text and "background: `background`" in text
    assert "CLS token and the mean patch token" in text
    assert "shorter side to 36 px (bicubic), centre 32 x 32 px" in text
    assert "mean [0.5, 0.4, 0.3], std [0.2, 0.25, 0.3]" in text
    assert notes and all(note in text for note in notes)  # what the import said, kept
    assert "no registers" in text


def test_a_backbone_without_a_readme_or_a_preprocessor_says_what_is_not_known(tmp_path):
    _, folder = _tiny_hf(tmp_path, registers=4, classify=False)
    (folder / "preprocessor_config.json").unlink()
    out = import_hf_dinov2(folder, tmp_path / "ft", log=lambda line: None)
    text = card(out)
    assert "backbone only" in text and "gallery" in text and "4 registers" in text
    assert "squashed to 224 x 224 px" in text and "not recorded" in text
    assert "no README.md" in text and "licence is not known" in text
    assert not (out / SOURCE_README).exists()
    assert "card MODEL_CARD.md" in describe_folder(out)


@pytest.mark.parametrize(
    ("front", "licence"),
    [
        ("---\nlicense: apache-2.0\n---\n# x\n", "apache-2.0"),
        ("\ufeff---\nlanguage: en\nlicense: 'mit'\n---\n", "mit"),
        ("---\nlicense:\n  - cc-by-4.0\n  - mit\ntags: [a]\n---\n", "cc-by-4.0, mit"),
        (
            "---\nlicense: other\nlicense_name: dinov2-license\n---\n",
            "other (license_name: dinov2-license)",
        ),
        ("# No front matter\nlicense: mit\n", ""),
        ("---\ntags:\n  license: mit\n---\n", ""),  # not a top-level key
    ],
)
def test_the_licence_is_read_from_the_readme_front_matter(front, licence):
    assert source_licence(front) == licence


def test_a_label_count_mismatch_leaves_no_folder(plantclef_files, tmp_path):
    ckpt, classes, names = plantclef_files
    classes.write_text("\n".join(list(SPECIES)[:4]) + "\n", encoding="utf-8")
    with pytest.raises(FieldtoolError, match="head has 5 outputs"):
        import_plantclef(ckpt, classes, names, tmp_path / "pc", num_heads=HEADS)
    assert not (tmp_path / "pc").exists()


def test_a_write_that_fails_leaves_no_half_folder(plantclef_files, tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_module, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _plantclef(plantclef_files, tmp_path / "out" / "pc")
    left = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert left == []  # neither the folder nor a partial one beside it


def test_a_card_that_fails_keeps_the_folder_it_would_replace(plantclef_files, tmp_path,
                                                             monkeypatch):  # fmt: skip
    out = _plantclef(plantclef_files, tmp_path / "pc")
    kept = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(import_card, "write_card", broken)
    with pytest.raises(OSError, match="Input/output"):
        _plantclef(plantclef_files, out, model_id="other", overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "pc"]  # no partial left


def test_force_replaces_the_whole_folder_and_no_old_file_stays(plantclef_files, tmp_path):
    folder = make_hf(tmp_path / "hf")
    (folder / "README.md").write_bytes(HUB_README)
    out = import_hf_dinov2(folder, tmp_path / "m", log=lambda line: None)
    (out / "model_card.json").write_text("{}")  # as a learnt head leaves beside it
    (out / "prototypes.safetensors").write_bytes(b"old backbone's prototypes")
    _plantclef(plantclef_files, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "config.json",
        "fieldtool.json",
        "labels.csv",
        "model.safetensors",
    ]
    assert "model_best.pth.tar" in card(out) and SOURCE_README not in card(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "inputs", "m"]


def test_force_does_not_replace_a_folder_that_is_not_a_model_folder(plantclef_files, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("field notes")
    with pytest.raises(
        FieldtoolError,
        match=r"mine: not a fieldtool model folder \(no "
        r"fieldtool.json\): --force replaces only one",
    ):
        _plantclef(plantclef_files, out, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_force_does_not_replace_a_folder_holding_the_import_input(plantclef_files, tmp_path):
    out = _plantclef(plantclef_files, tmp_path / "pc")
    ckpt, classes, names = plantclef_files
    inside = out / ckpt.name
    inside.write_bytes(ckpt.read_bytes())
    with pytest.raises(FieldtoolError, match="holds model_best.pth.tar, an input of this import"):
        import_plantclef(inside, classes, names, out, num_heads=HEADS, overwrite=True)
    assert inside.is_file() and (out / CARD_MD).is_file()


def test_pull_writes_a_card_naming_the_hub_repository(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    import shutil

    import huggingface_hub

    source = make_hf(tmp_path / "hub")
    (source / "README.md").write_bytes(HUB_README)
    asked: dict = {}

    def fake_download(repo_id, local_dir, allow_patterns, **kwargs):
        asked.update(repo_id=repo_id, allow_patterns=allow_patterns)
        for name in allow_patterns:
            if (source / name).is_file():
                shutil.copyfile(source / name, Path(local_dir) / name)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    monkeypatch.setattr("fieldtool.importers._offline_reason", lambda timeout_s: None)
    out = pull("facebook/dinov2-small", tmp_path / "models" / "small", log=lambda line: None)
    assert "README.md" in asked["allow_patterns"]
    assert (out / SOURCE_README).read_bytes() == HUB_README
    text = card(out)
    assert "Hugging Face hub repository `facebook/dinov2-small`" in text
    assert "`fieldtool model pull`" in text and ".pull-" not in text
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["small"]


def test_force_on_the_folder_a_shell_is_in_keeps_that_folder(plantclef_files, tmp_path,
                                                             monkeypatch):  # fmt: skip
    """``-o . --force`` from inside a model folder: the folder itself stays (a shell in it,
    a link to it, its permissions); its files are replaced."""
    out = _plantclef(plantclef_files, tmp_path / "pc", model_id="first")
    (out / "prototypes.safetensors").write_bytes(b"old")
    monkeypatch.chdir(out)
    ckpt, classes, names = plantclef_files
    import_plantclef(ckpt, classes, names, Path("."), model_id="second", num_heads=HEADS,
                     overwrite=True)  # fmt: skip
    assert Path.cwd().is_dir() and card(Path(".")).startswith("# Model card: `second`")
    assert not Path("prototypes.safetensors").exists()
    assert "card MODEL_CARD.md" in describe_folder(Path("."))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "pc"]


def test_a_swap_that_fails_midway_puts_every_old_file_back(plantclef_files, tmp_path,
                                                           monkeypatch):  # fmt: skip
    out = _plantclef(plantclef_files, tmp_path / "pc", model_id="first")
    (out / "prototypes.safetensors").write_bytes(b"old")
    (out / CARD_MD).unlink()  # imported before cards: the new card must not stay either
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    rename, moved_in = Path.rename, []

    def fail_on_the_third_new_file(self, target):
        if Path(target).parent == out and ".partial-" in str(self):
            moved_in.append(self.name)
            if len(moved_in) == 3:  # the card and another new file are in, the old ones out
                raise OSError(5, "Input/output error")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", fail_on_the_third_new_file)
    with pytest.raises(OSError, match="Input/output"):
        _plantclef(plantclef_files, out, model_id="second", overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "pc"]
