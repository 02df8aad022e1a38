"""A model's own preprocessing: how an image (a frame, or one tile of it) becomes the
model's S x S input, as the model was trained and evaluated with.

A model folder records it in ``fieldtool.json`` as ``"preprocessing"`` (:class:`Preprocessing`),
beside :class:`fieldtool.model.ModelInfo`'s ``image_size`` (S, px), ``mean`` and ``std``:

- ``fit = "crop"``: the shorter side is resized to ``resize`` px (the longer one to
  ``int(resize * long / short)``, as transformers and torchvision do), then the centre S x S
  is cut out (top/left offsets rounded down, as transformers does). Hugging Face
  ``BitImageProcessor`` (the DINOv2 models: shorter side 256, crop 224) and timm's eval
  transform (PlantCLEF: crop_pct 1.0, so ``resize`` = S) are this.
- ``fit = "squash"``: the image is resized to ``resize`` x ``resize`` whatever its shape,
  then its centre S x S cut out (none when ``resize`` = S).

then pixel values (0-255) are multiplied by ``rescale_factor`` and normalised with
``mean``/``std`` (0 and 1 where the model's processor does not normalise). The resize is
antialiased (as PIL's, which transformers' and timm's processors use) and its result
rounded to whole pixel values as PIL's is.

Folders without the record (older imports, the demo model, which was trained so) are
squashed to S x S: :func:`geometry` with ``None``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fieldtool.types import FieldtoolError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = {2: "bilinear", 3: "bicubic"}  # PIL resample codes, as processors write them
PIL_NAMES = {0: "nearest", 1: "lanczos", 4: "box", 5: "hamming"}  # the ones not followed
# processor steps fieldtool does; any other ``do_*`` step switched on is refused
KNOWN_STEPS = {"do_resize", "do_center_crop", "do_rescale", "do_normalize", "do_convert_rgb"}


class Preprocessing(BaseModel):
    """The geometry and pixel scale of a model's own preprocessing (module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fit: Literal["squash", "crop"] = Field(
        description="crop: shorter side resized to `resize`, then the centre image_size "
        "square; squash: resized to resize x resize, then the centre image_size square"
    )
    resize: int = Field(gt=0, description="px: the shorter side (crop) or both sides (squash)")
    interpolation: Literal["bilinear", "bicubic"] = Field(
        description="resize filter, antialiased when shrinking (as PIL's)"
    )
    rescale_factor: float = Field(
        1 / 255, gt=0, description="multiplies 0-255 pixel values before mean/std"
    )

    def describe(self, size: int) -> str:
        """In words, e.g. 'shorter side to 256 px (bicubic), centre 224 x 224 px'."""
        first = (
            f"shorter side to {self.resize} px"
            if self.fit == "crop"
            else f"squashed to {self.resize} x {self.resize} px"
        )
        crop = f", centre {size} x {size} px" if self.fit == "crop" or self.resize > size else ""
        return f"{first} ({self.interpolation}){crop}"


@dataclass(frozen=True)
class Geometry:
    """Where an image goes: resized to ``height`` x ``width`` px, then the ``size`` x
    ``size`` crop at (``top``, ``left``) of that is the model's input."""

    height: int
    width: int
    top: int
    left: int
    size: int


def geometry(height: int, width: int, size: int, pre: Preprocessing | None) -> Geometry:
    """The :class:`Geometry` of an ``height`` x ``width`` px image for a model of input
    ``size`` px and preprocessing ``pre`` (``None``: squash to ``size``). Both of the
    classifier's paths (OpenCV/torch on the CPU, torch on the device) cut with it."""
    if pre is None:
        return Geometry(size, size, 0, 0, size)
    if pre.fit == "squash":
        new_h = new_w = pre.resize
    elif width <= height:  # transformers' get_resize_output_image_size, default_to_square=False
        new_w, new_h = pre.resize, int(pre.resize * height / width)
    else:
        new_h, new_w = pre.resize, int(pre.resize * width / height)
    return Geometry(new_h, new_w, (new_h - size) // 2, (new_w - size) // 2, size)


Bounds = tuple[int, int, int, int]  # (y0, y1, x0, x1) px; a tile may reach past its image


def tile_bounds(
    height: int, width: int, tiles: int, size: int = 0, pre: Preprocessing | None = None
) -> list[Bounds]:
    """(y0, y1, x0, x1) px of the ``tiles`` x ``tiles`` tiles of an ``height`` x ``width`` px
    image, row by row, for a model of input ``size`` px and preprocessing ``pre``.

    Where the model shows all of a tile (no record: squash; a squash without a rim cut)
    they are a grid of the image's shape, without overlap. Where its crop leaves part of a
    tile out, the parts it keeps cover the image instead: a crop model's are squares of
    side (longer side / tiles), overlapping along the shorter side (a 16:9 tile would lose
    its sides); a squash-and-crop model's are the grid's cells. Each tile is its kept part
    grown by the rim the crop cuts off, so at the image's edges it reaches past the image
    (cut with the edge pixels repeated there: the model does not see them, but for the
    resize filter's few pixels at the crop's border). An image more than ``tiles`` times
    as long as its shorter side cannot be spanned by that many squares: it gets the grid,
    each tile cropped as the image would be (:func:`seen_share` says how much is seen)."""
    grid = _grid(height, width, tiles)
    if tiles == 1 or pre is None or (pre.fit == "squash" and pre.resize <= size):
        return grid
    if pre.fit == "squash":  # every tile is squashed to resize x resize: sides apart
        ys, xs = _span(height, tiles, size, pre), _span(width, tiles, size, pre)
    else:  # a square tile is resized to resize x resize: one side for both axes
        long_side, short_side = max(height, width), min(height, width)
        along = _span(long_side, tiles, size, pre)
        across = along and _starts(short_side, tiles, along[0], size, pre)
        if not along or not across:
            return grid
        ys, xs = (along, (along[0], across)) if height > width else ((along[0], across), along)
    if ys is None or xs is None:
        return grid
    return [(y, y + ys[0], x, x + xs[0]) for y in ys[1] for x in xs[1]]


def _grid(height: int, width: int, tiles: int) -> list[Bounds]:
    ys = [int(v) for v in np.linspace(0, height, tiles + 1).astype(int)]
    xs = [int(v) for v in np.linspace(0, width, tiles + 1).astype(int)]
    return [(ys[r], ys[r + 1], xs[c], xs[c + 1]) for r in range(tiles) for c in range(tiles)]


def _span(length: int, tiles: int, size: int, pre: Preprocessing) -> tuple[int, list[int]] | None:
    """(tile side px, tile starts px) along an image side ``length`` px: the shortest
    side whose kept parts (``size`` of every ``resize`` px, from ``(resize - size) // 2``)
    cover it with ``tiles`` tiles."""
    side = max(1, math.ceil(length * pre.resize / (tiles * size)))
    for _ in range(tiles + 8):  # rounding the starts to whole pixels costs a pixel or two
        starts = _starts(length, tiles, side, size, pre)
        if starts is not None:
            return side, starts
        side += 1
    return None


def _starts(length: int, tiles: int, side: int, size: int, pre: Preprocessing) -> list[int] | None:
    """Starts px of ``tiles`` tiles ``side`` px long, evenly spaced, whose kept parts cover
    ``0..length`` and reach past it by two pixels at most; None where they cannot."""
    offset = (pre.resize - size) // 2
    kept = (offset * side / pre.resize, (offset + size) * side / pre.resize)  # px in a tile
    if kept[1] - kept[0] > length + 2:  # (rounding to whole pixels: 2 px of slack)
        return None  # it would show what is not in the image
    first, last = math.floor(-kept[0]), math.ceil(length - kept[1])
    if last <= first:  # one tile's kept part spans it all (about tiles times the other side)
        starts = [first] * tiles
    else:
        starts = [int(v) for v in np.rint(np.linspace(first, last, tiles))]
    reach = 0.0
    for start in starts:
        if start + kept[0] > reach:
            return None
        reach = max(reach, start + kept[1])
    return starts if reach >= length else None


def seen_share(
    bounds: list[Bounds], height: int, width: int, size: int, pre: Preprocessing | None
) -> tuple[float, float, float]:
    """(share of an ``height`` x ``width`` px image's area that the model's input shows of
    some tile, share of the first tile's width it shows, of its height), over tiles
    ``bounds`` (:func:`tile_bounds`: they may overlap and reach past the image)."""
    kept = seen_parts(bounds, height, width, size, pre)
    first: tuple[float, float] | None = None
    if bounds:
        y0, y1, x0, x1 = bounds[0]
        g = geometry(y1 - y0, x1 - x0, size, pre)
        first = (min(1.0, size / g.width), min(1.0, size / g.height))
    share_w, share_h = first or (1.0, 1.0)
    return (_union_area(kept) / (height * width) if height * width else 1.0), share_w, share_h


def seen_parts(
    bounds: list[Bounds], height: int, width: int, size: int, pre: Preprocessing | None
) -> list[tuple[float, float, float, float]]:
    """(y0, y1, x0, x1) px of the part of each tile of ``bounds`` (:func:`tile_bounds`) that
    the model's input shows, clipped to the ``height`` x ``width`` px image: what the model
    saw of it (the whole tile where it is squashed uncut)."""
    kept = []
    for y0, y1, x0, x1 in bounds:
        g = geometry(y1 - y0, x1 - x0, size, pre)
        rows = _kept(y0, y1, g.top, g.height, size)
        cols = _kept(x0, x1, g.left, g.width, size)
        kept.append((max(rows[0], 0), min(rows[1], height), max(cols[0], 0), min(cols[1], width)))
    return kept


def _kept(start: int, end: int, offset: int, resized: int, size: int) -> tuple[float, float]:
    """px of the image that a tile ``start..end`` shows when resized to ``resized`` px and
    cut from ``offset`` for ``size`` px (all of it where that is the whole)."""
    scale = (end - start) / resized
    return start + max(0, offset) * scale, start + min(resized, offset + size) * scale


def _union_area(boxes: list[tuple[float, float, float, float]]) -> float:
    """Area covered by (y0, y1, x0, x1) boxes, overlaps counted once."""
    edges = sorted({x for _, _, x0, x1 in boxes for x in (x0, x1)})
    area = 0.0
    for left, right in zip(edges, edges[1:], strict=False):
        rows = sorted((y0, y1) for y0, y1, x0, x1 in boxes if x0 <= left and x1 >= right)
        covered, reach = 0.0, -math.inf
        for y0, y1 in rows:
            if y1 > reach:
                covered += y1 - max(y0, reach)
                reach = y1
        area += covered * (right - left)
    return area


def timm_crop(size: int) -> Preprocessing:
    """timm's eval transform at crop_pct 1.0 (PlantCLEF 2024): shorter side bicubic to
    ``size``, centre crop ``size``."""
    return Preprocessing(fit="crop", resize=size, interpolation="bicubic")


def folder_record(info: Any) -> dict | None:
    """The preprocessing record (:class:`Preprocessing` as a dict) that a model folder's
    ``fieldtool.json``, read as ``info``, stands for; None: squash. The one reading of it
    for the classifier (:class:`fieldtool.model.ModelInfo`), a gallery's input check and a
    batch's key. A PlantCLEF folder imported before the record was written notes only
    ``extra.resize = "bicubic"``: that import meant timm's eval transform, so it reads as
    :func:`timm_crop` at its input size (it squashed then, which timm never did)."""
    if not isinstance(info, dict):
        return None
    record = info.get("preprocessing")
    if isinstance(record, dict):
        return record
    extra = info.get("extra")
    if isinstance(extra, dict) and extra.get("resize") == "bicubic":
        return timm_crop(int(info.get("image_size") or 224)).model_dump()
    return None


def read_folder_info(folder: Path | str) -> dict | None:
    """A model folder's ``fieldtool.json`` as a dict, or None where it cannot be read."""
    try:
        info = json.loads((Path(folder) / "fieldtool.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _field(container: Any, key: str) -> Any:
    """A key of transformers' ``SizeDict`` (5.x) or of a plain dict (older releases)."""
    if isinstance(container, dict):
        return container.get(key)
    return getattr(container, key, None)


def _load_processor(folder: Path, path: Path) -> Any:
    """transformers' own image processor for ``folder`` (its class defaults fill what the
    file leaves out; a file that names no class is DINOv2's, BitImageProcessor), read
    locally, its backend notices silenced."""
    from transformers import AutoImageProcessor, Dinov2Config
    from transformers.utils import logging as hf_logging

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FieldtoolError(f"{path}: not valid JSON ({exc})") from None
    # without a class name transformers looks in config.json's model_type, and knows none
    # for dinov2_with_registers: take DINOv2's then
    named = isinstance(data, dict) and "image_processor_type" in data
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "requires torchvision; falling back to PIL": not ours
    try:
        return AutoImageProcessor.from_pretrained(
            str(folder), local_files_only=True, **({} if named else {"config": Dinov2Config()})
        )
    except Exception as exc:  # transformers raises many kinds for a processor it cannot build
        line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise FieldtoolError(f"{path}: transformers cannot read it ({line})") from None
    finally:
        hf_logging.set_verbosity(level)


Triple = tuple[float, float, float]


def from_hf_processor(
    folder: Path, image_size: int | None = None, note: Callable[[str], None] | None = None
) -> tuple[Preprocessing | None, int, Triple, Triple]:
    """(record, input size px, mean, std) of ``folder/preprocessor_config.json`` as
    transformers reads it. ``image_size`` (px) overrides the input size, the resize scaled
    alike. A processor fieldtool cannot follow (another resample, padding, a non-square
    input, no resize, ...) is a one-line error naming the file. Without that file: no
    record (squash to ``image_size`` or 224 px), ImageNet mean/std, said through ``note``."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        if note is not None:
            note(f"{folder}: no preprocessor_config.json, so the model's own preprocessing is "
                 f"unknown: frames are squashed to {image_size or 224} px, ImageNet mean/std")  # fmt: skip
        return None, image_size or 224, IMAGENET_MEAN, IMAGENET_STD
    processor = _load_processor(folder, path)

    def refuse(what: str) -> FieldtoolError:
        return FieldtoolError(f"{path}: {what}: fieldtool cannot feed the model as it expects")

    steps = {k: v for k, v in vars(processor).items() if k.startswith("do_")}
    others = sorted(k for k, on in steps.items() if on and k not in KNOWN_STEPS)
    if others:
        raise refuse(f"{others[0]} is true (fieldtool only resizes, centre-crops, rescales "
                     "and normalises)")  # fmt: skip
    if getattr(processor, "crop_pct", None) is not None:
        raise refuse("crop_pct is set (a resize fieldtool does not follow)")
    if not steps.get("do_resize", True):
        raise refuse("do_resize is false (the model takes each image at its own size)")
    size, crop = processor.size, steps.get("do_center_crop") and processor.crop_size
    shortest, height, width = (_field(size, k) for k in ("shortest_edge", "height", "width"))
    if _field(size, "longest_edge") or (not shortest and not (height and width)):
        raise refuse(f"size {size} is not a shortest_edge or a height and width")
    if shortest:
        if not crop:
            raise refuse("size.shortest_edge without a centre crop keeps each image's aspect "
                         "ratio (an input that is not square)")  # fmt: skip
        fit: Literal["squash", "crop"] = "crop"
        resize = int(shortest)
    else:
        if height != width:
            raise refuse(f"size {height}x{width} is not square")
        fit, resize = "squash", int(height)
    side = resize
    if crop:
        crop_h, crop_w = _field(crop, "height"), _field(crop, "width")
        if crop_h != crop_w or not crop_h:
            raise refuse(f"crop_size {crop_h}x{crop_w} is not square")
        if int(crop_h) > resize:
            raise refuse(f"crop_size {crop_h} is larger than the resized image ({resize} px; "
                         "transformers pads it)")  # fmt: skip
        side = int(crop_h)
    raw = getattr(processor, "resample", 2)
    code = getattr(raw, "value", raw)
    if code not in INTERPOLATIONS and str(code).lower() in INTERPOLATIONS.values():
        code = {v: k for k, v in INTERPOLATIONS.items()}[str(code).lower()]  # torchvision's
    if code not in INTERPOLATIONS:
        raise refuse(f"resample {code} ({PIL_NAMES.get(code, 'unknown')}) is not bilinear (2) "
                     "or bicubic (3)")  # fmt: skip
    if image_size:  # --image-size: the same geometry at another scale
        resize, side = round(resize * image_size / side), image_size
    factor = float(processor.rescale_factor) if steps.get("do_rescale") else 1.0
    if not factor > 0:
        raise refuse(f"rescale_factor {factor} is not above 0")
    if steps.get("do_normalize"):
        mean, std = (_three(getattr(processor, k), path, k) for k in ("image_mean", "image_std"))
    else:
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    record = Preprocessing(fit=fit, resize=resize, interpolation=INTERPOLATIONS[code],
                           rescale_factor=factor)  # fmt: skip
    return record, side, mean, std


def _three(value: Any, path: Path, key: str) -> Triple:
    """RGB mean or std: three numbers (one number for all three channels)."""
    values = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) != 3:
        raise FieldtoolError(f"{path}: {key} has {len(values)} values, not 3 (RGB)")
    return values[0], values[1], values[2]
