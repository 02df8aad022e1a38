"""Few-shot species gallery: classify by similarity to enrolled reference photos.

A gallery is a folder:

- ``gallery.safetensors``: ``embeddings``, (M, D) float32, one unit-length row per photo;
- ``gallery.json``: the model that made them (folder, ``model_id``, SHA-256 of its
  ``model.safetensors``), the embedding kind, the matching settings and, per row, the
  species and the photo it came from (file name, and its absolute path at enrollment, which
  ``fieldtool learn --gallery`` reads to fit a head: :mod:`fieldtool.learn.photos`).

An embedding is the backbone's L2-normalised CLS token after the final norm
(``"cls"``), or CLS and mean patch token, each normalised, concatenated and scaled by
1/sqrt(2) (``"cls+mean"``): the cosine of two such vectors is the mean of the two
cosines. Photos get exactly the preprocessing of :class:`fieldtool.classify.Classifier`.

:class:`GalleryClassifier` has the ``Classifier`` interface. For each frame (or tile) it
takes the cosine similarity s_k to each species k (its prototype, the renormalised mean of
its rows, or its nearest row) and returns softmax([s_1..s_S, threshold] / temperature):
the last class, ``unknown`` (a background class), wins exactly when no species reaches
``threshold``.

Genus-level reporting (summed species scores per genus) is :mod:`fieldtool.ranks`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import load_file, save_file

from fieldtool.colour import YuvImage, as_bgr
from fieldtool.types import Classifier, FieldtoolError, Label, LabelSet

if TYPE_CHECKING:  # torch, transformers and cv2 load on first use: the CLI parser stays fast
    import torch

    from fieldtool.model import LoadedModel

EMBEDDINGS_FILE = "gallery.safetensors"
INDEX_FILE = "gallery.json"
FORMAT_VERSION = 1
UNKNOWN = "unknown"
EMBEDDING_KINDS = ("cls", "cls+mean")
MODES = ("prototype", "nearest")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")  # OpenCV reads


def image_suffixes() -> tuple[str, ...]:
    """The suffixes of the photos a gallery or ``learn --photos`` reads here:
    :data:`IMAGE_SUFFIXES`, and HEIC/HEIF (phones) where the ``heic`` extra is installed."""
    from fieldtool.tracks.exif import HEIF_SUFFIXES, heif_readable

    return IMAGE_SUFFIXES + (HEIF_SUFFIXES if heif_readable() else ())


@dataclass
class GallerySettings:
    """How frames are matched; stored in ``gallery.json``."""

    embedding: str = "cls"  # "cls" or "cls+mean"
    mode: str = "prototype"  # "prototype" (per-species mean) or "nearest" (best row)
    threshold: float = 0.5  # cosine similarity; below it for every species: "unknown"
    temperature: float = 0.05  # softmax temperature on cosine similarities

    def check(self) -> GallerySettings:
        if self.embedding not in EMBEDDING_KINDS:
            raise FieldtoolError(
                f"embedding must be one of {EMBEDDING_KINDS}, not {self.embedding!r}"
            )
        if self.mode not in MODES:
            raise FieldtoolError(f"mode must be one of {MODES}, not {self.mode!r}")
        if not -1.0 <= self.threshold <= 1.0:
            raise FieldtoolError(f"threshold {self.threshold} is not a cosine in [-1, 1]")
        if not self.temperature > 0:
            raise FieldtoolError(f"temperature must be > 0, not {self.temperature}")
        return self


@dataclass
class Entry:
    """One enrolled photo."""

    species: str
    source: str  # file name, or "image #i" for arrays
    added: str = ""  # UTC, ISO 8601
    # the photo's absolute path at enrollment ("" for arrays and rows enrolled before paths
    # were kept): ``fieldtool learn --gallery`` re-embeds the photos for a head
    path: str = ""
    sha256: str = ""  # of the photo file ("" for arrays, older rows): enrolled once, one species


@dataclass
class ModelRef:
    """The model whose backbone made a gallery's embeddings."""

    path: str  # absolute model folder at enrollment
    model_id: str
    sha256: str  # of model.safetensors
    inputs: str = ""  # how it sees a frame (model.inputs_sha256); "" in older galleries


def model_ref(folder: Path | str, model_id: str) -> ModelRef:
    folder = Path(folder).resolve()
    from fieldtool.model import file_sha256, inputs_sha256

    return ModelRef(str(folder), model_id, file_sha256(folder / "model.safetensors"),
                    inputs_sha256(folder))  # fmt: skip


def embed_tokens(tokens: torch.Tensor, num_prefix: int, kind: str) -> torch.Tensor:
    """(B, T, D) normed backbone tokens -> (B, D) or (B, 2D) unit embeddings."""
    import torch
    import torch.nn.functional as F

    cls = F.normalize(tokens[:, 0].float(), dim=-1)
    if kind == "cls":
        return cls
    mean = F.normalize(tokens[:, num_prefix:].float().mean(dim=1), dim=-1)
    return torch.cat([cls, mean], dim=-1) / math.sqrt(2.0)


class Embedder:
    """BGR uint8 frames -> unit embeddings, with :class:`Classifier`'s preprocessing."""

    def __init__(
        self,
        model: LoadedModel,
        kind: str = "cls",
        *,
        device: str = "auto",
        batch_size: int = 16,
        tiles: int = 1,
    ) -> None:
        if kind not in EMBEDDING_KINDS:
            raise FieldtoolError(f"embedding must be one of {EMBEDDING_KINDS}, not {kind!r}")
        from fieldtool.classify import DinoClassifier

        self.kind = kind
        self.tiles = tiles
        self.batch_size = batch_size
        self._classifier = DinoClassifier(model, device=device, batch_size=batch_size, tiles=tiles)
        self.network = model.network  # moved to the device by the classifier (not compiled)
        self.dim = model.network.backbone.config.hidden_size * (2 if kind == "cls+mean" else 1)

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """N frames (H, W, 3) -> (N * tiles^2, D) float32, rows of unit length."""
        import torch

        if not images:
            return np.zeros((0, self.dim), np.float32)
        per_batch = max(1, self.batch_size // (self.tiles**2))
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(images), per_batch):
                pixels = self._classifier.preprocess(images[start : start + per_batch])
                tokens = self.network.backbone(pixel_values=pixels).last_hidden_state
                emb = embed_tokens(tokens, self.network.num_prefix, self.kind)
                chunks.append(emb.cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)


def read_image(path: Path | str) -> np.ndarray:
    """A photo as (H, W, 3) uint8 BGR, upright, read as sessions read photos
    (:func:`fieldtool.photos.read_upright`); an error where its pixels do not decode fully (a
    truncated JPEG, which OpenCV returned in part, without an error)."""
    from fieldtool.photos import read_upright

    try:
        return read_upright(Path(path))
    except (OSError, ValueError, SyntaxError) as exc:  # what Pillow raises
        raise FieldtoolError(f"{path}: not a readable image ({exc})") from None


def expand_photos(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; folders become their image files (:func:`image_suffixes`; not
    hidden ones, as a Mac's ``._IMG_1.JPG``), sorted."""
    from fieldtool.photos.files import is_photo

    suffixes = image_suffixes()
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if is_photo(f, suffixes))
        elif p.is_file():
            out.append(p)
        else:
            raise FieldtoolError(f"{p}: photo not found")
    return out


def species_folders(folders: Iterable[Path | str]) -> dict[str, list[Path]]:
    """Species -> photo files, from folders of species sub-folders (``Acer_rubrum/``:
    "Acer rubrum"). An error for a path that is not a folder or holds no photos at all."""
    groups: dict[str, list[Path]] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FieldtoolError(f"{folder}: not a folder of species sub-folders")
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            photos = expand_photos([sub])
            if photos:
                groups.setdefault(" ".join(sub.name.replace("_", " ").split()), []).extend(photos)
        if not any(expand_photos([sub]) for sub in folder.iterdir() if sub.is_dir()):
            raise FieldtoolError(f"{folder}: no species sub-folders with photos")
    return groups


def _file_sha256(path: Path) -> str:
    """SHA-256 of a photo file's bytes (as ``fieldtool.learn``'s rule); "" if it is gone."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class Gallery:
    """Enrolled embeddings in a folder; every change is written at once."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        self.path = Path(path)
        self.settings = GallerySettings()
        self.model: ModelRef | None = None
        self.entries: list[Entry] = []
        self.common_names: dict[str, str] = {}
        self.embeddings = np.zeros((0, 0), np.float32)  # (M, D)
        if (self.path / INDEX_FILE).is_file():
            self._load()
        elif not create:
            raise FieldtoolError(f"{self.path}: no gallery here (no {INDEX_FILE})")
        elif self.path.exists() and not self.path.is_dir():
            raise FieldtoolError(f"{self.path}: exists and is not a folder")

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def species(self) -> list[str]:
        """Enrolled species, in order of first enrollment."""
        return list(dict.fromkeys(e.species for e in self.entries))

    def list(self) -> list[tuple[str, int]]:
        """(species, photo count) in order of first enrollment."""
        counts: dict[str, int] = {}
        for e in self.entries:
            counts[e.species] = counts.get(e.species, 0) + 1
        return list(counts.items())

    def _load(self) -> None:
        index_path = self.path / INDEX_FILE
        try:
            data = json.loads(index_path.read_text(encoding="utf-8"))
            if data.get("version") != FORMAT_VERSION:
                raise FieldtoolError(
                    f"{index_path}: unknown gallery version {data.get('version')!r}"
                )
            self.settings = GallerySettings(**data["settings"]).check()
            self.model = ModelRef(**data["model"]) if data.get("model") else None
            self.entries = [Entry(**row) for row in data["rows"]]
            self.common_names = dict(data.get("common_names", {}))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise FieldtoolError(f"{index_path}: invalid gallery index ({exc})") from None
        if self.entries:
            try:
                self.embeddings = load_file(str(self.path / EMBEDDINGS_FILE))["embeddings"]
            except Exception as exc:  # missing file, damaged file, missing key
                raise FieldtoolError(
                    f"{self.path / EMBEDDINGS_FILE}: cannot read ({exc})"
                ) from None
            if len(self.embeddings) != len(self.entries):
                raise FieldtoolError(
                    f"{self.path}: {len(self.embeddings)} embeddings but {len(self.entries)} rows"
                )

    def save(self) -> None:
        """Write both files (embeddings first: the index names what is valid)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.entries:
            tmp = self.path / (EMBEDDINGS_FILE + ".tmp")
            save_file({"embeddings": np.ascontiguousarray(self.embeddings, np.float32)}, str(tmp))
            os.replace(tmp, self.path / EMBEDDINGS_FILE)
        else:
            (self.path / EMBEDDINGS_FILE).unlink(missing_ok=True)
        data = {
            "version": FORMAT_VERSION,
            "model": asdict(self.model) if self.model else None,
            "settings": asdict(self.settings),
            "common_names": self.common_names,
            "rows": [asdict(e) for e in self.entries],
        }
        tmp = self.path / (INDEX_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, self.path / INDEX_FILE)

    def check_model(self, folder: Path | str, ref: ModelRef | None = None) -> ModelRef:
        """The model folder's identity; an error if it is not the one that made the gallery."""
        if not (Path(folder) / "model.safetensors").is_file():
            raise FieldtoolError(f"{folder}: model folder lacks model.safetensors")
        ref = ref or model_ref(folder, "")
        if self.model and self.entries and ref.sha256 != self.model.sha256:
            raise FieldtoolError(
                f"{self.path}: embeddings were made with model {self.model.model_id!r} "
                f"(sha256 {self.model.sha256[:12]}), not {folder} (sha256 {ref.sha256[:12]}); "
                "use a new gallery for another model"
            )
        if self.model and self.entries and ref.inputs not in ("", self.model.inputs or ref.inputs):
            raise FieldtoolError(f"{self.path}: {folder} has the weights of its embeddings but "
                                 "sees frames otherwise (fieldtool.json's size, normalisation "
                                 "or preprocessing: a re-import?); use a new gallery for it")  # fmt: skip
        return ref

    def enroll(
        self,
        model_folder: Path | str,
        species: str,
        images: Sequence[np.ndarray | Path | str],
        *,
        common_name: str = "",
        embedding: str | None = None,
        device: str = "auto",
        batch_size: int = 16,
        model: LoadedModel | None = None,
        log: Callable[[str], None] | None = None,
    ) -> int:
        """Embed ``images`` (BGR arrays or photo paths) as ``species``; returns rows added.

        ``embedding`` ("cls" or "cls+mean") can be chosen while the gallery is empty.
        ``model``: the already loaded ``model_folder``, to skip loading it again. A photo file
        already enrolled (same SHA-256) is skipped, or left out if as another species (said).
        """
        species = " ".join(species.split())
        if not species or species.lower() == UNKNOWN:
            raise FieldtoolError(f"species name {species!r} is not allowed")
        if not images:
            raise FieldtoolError(f"no photos given for {species}")
        if embedding is not None and embedding != self.settings.embedding:
            if self.entries:
                raise FieldtoolError(
                    f"{self.path}: holds {self.settings.embedding!r} embeddings, not {embedding!r}"
                )
            self.settings.embedding = embedding
            self.settings.check()
        from fieldtool.model import load_model_folder

        model = model or load_model_folder(model_folder)
        ref = self.check_model(model_folder, model_ref(model_folder, model.info.model_id))
        items, hashes = _new_photos(self, species, images, log or (lambda line: None))
        if not items:
            return 0
        embed = Embedder(model, self.settings.embedding, device=device, batch_size=batch_size)
        chunks, sources, paths = [], [], []
        for start in range(0, len(items), batch_size):  # photos are read a batch at a time
            arrays = []
            for i, item in items[start : start + batch_size]:
                if isinstance(item, np.ndarray):
                    arrays.append(item)
                    sources.append(f"image #{i}")
                    paths.append("")
                else:
                    arrays.append(read_image(item))
                    sources.append(Path(item).name)
                    paths.append(str(Path(item).resolve()))
            chunks.append(embed(arrays))
        new = np.concatenate(chunks)
        if self.entries and new.shape[1] != self.embeddings.shape[1]:
            raise FieldtoolError(f"{self.path}: embedding size {new.shape[1]} != stored")
        self.embeddings = np.concatenate([self.embeddings, new]) if self.entries else new
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        self.entries += [Entry(species, source, now, path, sha)
                         for source, path, sha in zip(sources, paths, hashes, strict=True)]  # fmt: skip
        if common_name:
            self.common_names[species] = common_name
        self.model = ref
        self.save()
        return len(new)

    def enroll_folders(
        self,
        model_folder: Path | str,
        folders: Sequence[Path | str],
        *,
        embedding: str | None = None,
        device: str = "auto",
        batch_size: int = 16,
        progress: Callable[[str, int], None] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> dict[str, int]:
        """Enroll every species sub-folder of ``folders`` (``<folder>/<Genus_epithet>/*.jpg``;
        underscores in the name become spaces), loading the model once. Returns the photos
        added per species; ``progress(species, added)`` hears after each."""
        groups = species_folders(folders)
        from fieldtool.model import load_model_folder

        model = load_model_folder(model_folder)
        added: dict[str, int] = {}
        for species, photos in groups.items():
            added[species] = self.enroll(model_folder, species, photos, embedding=embedding,
                                         device=device, batch_size=batch_size, model=model,
                                         log=log)  # fmt: skip
            embedding = None  # chosen with the first species
            if progress:
                progress(species, added[species])
        return added

    def remove(self, species: str) -> int:
        """Drop every row of ``species``; returns how many."""
        keep = [i for i, e in enumerate(self.entries) if e.species != species]
        removed = len(self.entries) - len(keep)
        if not removed:
            raise FieldtoolError(f"{self.path}: no species {species!r} enrolled")
        self.entries = [self.entries[i] for i in keep]
        self.embeddings = self.embeddings[keep]
        self.common_names.pop(species, None)
        self.save()
        return removed

    def references(self) -> tuple[np.ndarray, np.ndarray]:
        """(R, D) reference vectors and (R,) species index of each, for the current mode."""
        names = self.species
        owner = np.array([names.index(e.species) for e in self.entries])
        if self.settings.mode == "nearest":
            return self.embeddings, owner
        protos = np.stack([self.embeddings[owner == k].mean(axis=0) for k in range(len(names))])
        return _unit_rows(protos).astype(np.float32), np.arange(len(names))

    def similarities(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, D) unit embeddings -> (N, S) cosine similarity to each species."""
        refs, owner = self.references()
        sims = embeddings @ refs.T  # (N, R)
        out = np.full((len(embeddings), len(self.species)), -1.0, np.float32)
        for k in range(out.shape[1]):
            out[:, k] = sims[:, owner == k].max(axis=1)
        return out



def _new_photos(
    gallery: Gallery, species: str, images: Sequence[np.ndarray | Path | str],
    log: Callable[[str], None],
) -> tuple[list[tuple[int, np.ndarray | Path | str]], list[str]]:
    """(index, image) of ``images`` to enroll as ``species``, and their SHA-256 ("" for arrays):
    photo files already enrolled (or given twice) are dropped, said."""
    enrolled: dict[str, str] = {}  # sha256 -> species
    for e in gallery.entries:
        known = e.sha256 or (_file_sha256(Path(e.path)) if e.path else "")
        if known:
            enrolled.setdefault(known, e.species)
    keep: list[tuple[int, np.ndarray | Path | str]] = []
    hashes, again = [], 0
    other: dict[str, list[str]] = {}  # the other species -> the photos left out
    for i, item in enumerate(images):
        sha = "" if isinstance(item, np.ndarray) else _file_sha256(Path(item))
        if sha and enrolled.get(sha, species) != species:
            other.setdefault(enrolled[sha], []).append(Path(str(item)).name)
            continue
        if sha and sha in enrolled:
            again += 1
            continue
        if sha:
            enrolled[sha] = species
        keep.append((i, item))
        hashes.append(sha)
    if again:
        log(f"{gallery.path}: {again} photos already enrolled as {species}, not enrolled again "
            "(same SHA-256)")  # fmt: skip
    for name, files in other.items():
        log(f"{gallery.path}: left out {len(files)} photos given as {species} that are enrolled "
            f"as {name} (same SHA-256; first: {files[0]}); a photo is one species: "
            f"`gallery remove --species \"{name}\"` first if that was wrong")  # fmt: skip
    return keep, hashes


def probs_from_similarities(sims: np.ndarray, threshold: float, temperature: float) -> np.ndarray:
    """(N, S) cosine similarities -> (N, S + 1) probabilities, the last one "unknown"."""
    logits = np.concatenate([sims, np.full((len(sims), 1), threshold, sims.dtype)], axis=1)
    logits = logits / temperature
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


class GalleryClassifier(Classifier):
    """The :class:`Classifier` interface over a gallery: ``labels`` (the gallery's species,
    then ``unknown`` as background), ``model_id`` and ``predict``."""

    def __init__(
        self,
        gallery: Gallery,
        model: LoadedModel,
        *,
        device: str = "auto",
        batch_size: int = 16,
        tiles: int = 1,
        tile_reduce: str = "max",
        threshold: float | None = None,
        temperature: float | None = None,
    ) -> None:
        if not gallery.entries:
            raise FieldtoolError(f"{gallery.path}: the gallery is empty; enroll species first")
        self.gallery = gallery
        self.threshold = gallery.settings.threshold if threshold is None else threshold
        self.temperature = gallery.settings.temperature if temperature is None else temperature
        GallerySettings(threshold=self.threshold, temperature=self.temperature).check()
        names = gallery.species
        labels = [Label(i, s, gallery.common_names.get(s, "")) for i, s in enumerate(names)]
        labels.append(Label(len(names), UNKNOWN, "", is_background=True))
        self.labels = LabelSet(tuple(labels))
        self.model_id = f"gallery:{gallery.name}/{model.info.model_id}"
        self.model_path = model.path  # the backbone's model folder
        self.model_sha256 = gallery.model.sha256 if gallery.model else ""  # its model.safetensors
        self.tiles = tiles
        self.tile_reduce = tile_reduce
        self.embed = Embedder(model, gallery.settings.embedding, device=device,
                              batch_size=batch_size, tiles=tiles)  # fmt: skip
        self.seen_tiles = self.embed._classifier.seen_tiles  # the backbone's tiles: the preview's
        if self.embed.dim != gallery.embeddings.shape[1]:
            raise FieldtoolError(
                f"{gallery.path}: embeddings have {gallery.embeddings.shape[1]} dims, "
                f"the model gives {self.embed.dim}"
            )

    def predict(
        self,
        images: Sequence[np.ndarray | YuvImage],
        prepared: Sequence[np.ndarray | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frames -> ((N, C) frame probabilities, (N, T, C) tile probabilities).

        ``prepared`` is unused: the embedder preprocesses on its own."""
        n, count = len(images), len(self.labels)
        if not n:
            return np.zeros((0, count), np.float32), np.zeros((0, self.tiles**2, count), np.float32)
        from fieldtool.classify import reduce_tiles

        sims = self.gallery.similarities(self.embed([as_bgr(i) for i in images]))  # (N*T, S)
        tile_probs = probs_from_similarities(sims, self.threshold, self.temperature)
        tile_probs = tile_probs.reshape(n, self.tiles**2, count)
        frame = reduce_tiles(tile_probs.copy(), self.labels.background_mask, self.tile_reduce)
        return frame, tile_probs

    def run_settings(self) -> Mapping[str, str]:
        """The backbone folder that ran, for the session's stored config: the gallery's
        own model, whatever ``model.path`` a ``--model`` beside ``--gallery`` gave (said
        by :func:`model_not_used`), so the stored settings name the model that ran."""
        return {"path": str(self.model_path)}


def classifier_from_gallery(
    path: Path | str,
    device: str = "auto",
    batch_size: int = 16,
    *,
    tiles: int = 1,
    tile_reduce: str = "max",
    model: Path | str | None = None,
) -> GalleryClassifier:
    """Open the gallery at ``path`` with the model that made it, or where that folder is
    gone (moved) with ``model``, which must have the same weights (checked)."""
    gallery = Gallery(path)
    if gallery.model is None or not gallery.entries:
        raise FieldtoolError(f"{gallery.path}: the gallery is empty; enroll species first")
    own = Path(gallery.model.path)
    folder = Path(model) if model is not None and not own.is_dir() else own
    if not folder.is_dir():
        raise FieldtoolError(
            f"{gallery.path}: its model folder {folder} is gone; give the folder with --model"
        )
    from fieldtool.model import load_model_folder

    gallery.check_model(folder)
    loaded = load_model_folder(folder)
    return GalleryClassifier(
        gallery, loaded, device=device, batch_size=batch_size, tiles=tiles, tile_reduce=tile_reduce
    )


def model_not_used(path: Path | str, model: Path | str) -> str:
    """What a session says of a ``--model`` beside a gallery: not used, the gallery's own is;
    "" for the gallery's own folder or the bundled demo model (the default)."""
    from fieldtool.config import DEMO_MODEL

    gallery = Gallery(path)
    own = Path(gallery.model.path) if gallery.model else None
    given = Path(model).resolve()
    if own is None or not own.is_dir() or given in (own.resolve(), Path(DEMO_MODEL).resolve()):
        return ""  # none given, the same, or the own folder gone: --model stands in for it
    return (f"--model {model} is not used: the gallery {gallery.path} classifies with its own "
            f"model {own} (its embeddings were made with it)")
