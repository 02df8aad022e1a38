"""Pipeline stage "classify": species probabilities for batches of frames.

Preprocessing is array work (a resize, then one tensor normalisation on the model's
device), with no PIL in the hot path. Each frame (or tile) is resized and centre-cropped
as the model's own preprocessing does (:mod:`fieldtool.preprocessing`; a folder without
that record is squashed to the input size). With ``tiles`` > 1 each frame is also cut into
tiles x tiles tiles (PlantCLEF style: one view holds several plants): a grid, or where the
model's crop would cut a grid tile's sides, squares whose seen parts cover the frame
(:func:`fieldtool.preprocessing.tile_bounds`); a frame's
probability for a species is then its maximum over tiles, the background class its
minimum (a frame is plant-free only if every tile is), renormalised.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import cv2
import numpy as np
import torch

from fieldtool.colour import YuvImage, yuv_to_rgb
from fieldtool.model import LoadedModel, SpeciesClassifier
from fieldtool.preprocessing import (
    Bounds,
    Geometry,
    Preprocessing,
    geometry,
    seen_parts,
    seen_share,
    tile_bounds,
)
from fieldtool.types import Classifier, FieldtoolError, LabelSet


def pick_device(preference: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; or the named device, if it exists."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise FieldtoolError("device 'cuda' requested but no CUDA GPU is available")
    if preference == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise FieldtoolError("device 'mps' requested but MPS is not available")
    return torch.device(preference)


def cut_tiles(
    image: np.ndarray, tiles: int, size: int = 0, pre: Preprocessing | None = None
) -> list[np.ndarray]:
    """Split (H, W, 3) into the tiles*tiles tiles of :func:`tile_bounds` for a model of
    input ``size`` px and preprocessing ``pre`` (default: the grid), row by row; where a
    tile reaches past the image its edge pixels are repeated there."""
    if tiles == 1:
        return [image]
    height, width = image.shape[:2]
    out = []
    for bounds in tile_bounds(height, width, tiles, size, pre):
        (y0, y1, x0, x1), (top, bottom, left, right) = overhang(bounds, height, width)
        tile = image[y0:y1, x0:x1]
        if top or bottom or left or right:
            tile = np.pad(tile, ((top, bottom), (left, right), (0, 0)), mode="edge")
        out.append(tile)
    return out


def overhang(bounds: Bounds, height: int, width: int) -> tuple[Bounds, tuple[int, int, int, int]]:
    """A tile's bounds within an ``height`` x ``width`` image and how far (px: top, bottom,
    left, right) it reaches past it, where both paths repeat the edge pixels."""
    y0, y1, x0, x1 = bounds
    inside = (max(y0, 0), min(y1, height), max(x0, 0), min(x1, width))
    return inside, (max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0))


def reduce_tiles(tile_probs: np.ndarray, background: np.ndarray, how: str) -> np.ndarray:
    """(N, T, C) tile probabilities -> (N, C) frame probabilities."""
    if tile_probs.shape[1] == 1:
        return tile_probs[:, 0]
    if how == "mean":
        return tile_probs.mean(axis=1)
    frame = tile_probs.max(axis=1)
    frame[:, background] = tile_probs[:, :, background].min(axis=1)
    return frame / frame.sum(axis=1, keepdims=True)


DEVICE_CHUNK_BYTES = 512 * 2**20  # float32 frames resized on the GPU at once


CPU_MICRO_BATCH_VALUES = 700_000  # tokens x hidden size per network call on the CPU


def cpu_micro_batch(network: torch.nn.Module, image_size: int | None = None) -> int:
    """Crops per network call on the CPU: a power of two near ``CPU_MICRO_BATCH_VALUES`` /
    (tokens x hidden size), so the activations stay in the caches. On this project's
    2-core AVX512 CPU: ViT-S/14 at 224 px ran fastest at 8 (22 fps against 17 at 32),
    ViT-B/14 at 4-8, the demo model (96 px, hidden 128) at 32."""
    config = getattr(getattr(network, "backbone", None), "config", None)
    if config is None:
        return 8
    tokens = ((image_size or config.image_size) // config.patch_size) ** 2 + 1
    tokens += getattr(config, "num_register_tokens", 0)
    per_crop = tokens * config.hidden_size
    return int(2 ** round(math.log2(max(1.0, CPU_MICRO_BATCH_VALUES / per_crop))))


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX).

    Elsewhere bf16 is emulated and slower than fp32, so ``precision = "auto"`` keeps fp32.
    """
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def stacked_upload(arrays: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """N same-shaped uint8 host arrays -> one (N, ...) uint8 tensor on ``device``, with one
    host copy: on CUDA they are stacked straight into page-locked memory (torch's caching
    host allocator: the block is not reused before the asynchronous upload has read it)
    and uploaded without waiting; stacking into pageable memory and pinning it after was
    two copies of every frame (6 MB of 1080p BGR) on the thread that feeds the model."""
    pinned = device.type == "cuda"
    host = torch.empty((len(arrays), *arrays[0].shape), dtype=torch.uint8, pin_memory=pinned)
    np.stack(arrays, out=host.numpy())
    return host.to(device, non_blocking=pinned)  # the CPU's: itself


class DinoClassifier(Classifier):
    """Runs a loaded model on frames, in batches, under ``torch.inference_mode``.

    On CUDA the frames go to the GPU as uint8 (pinned memory, non-blocking copy) and are
    cut, resized (antialiased) and normalised there; the network runs under bf16/fp16
    autocast. On the CPU, OpenCV resizes on the reader thread and the network runs under
    bf16 autocast where the CPU has bf16 hardware, else in fp32.

    ``micro_batch``: crops per network call on the CPU (default: :func:`cpu_micro_batch`);
    ``batch_size`` frames still go to :meth:`predict` at once.

    ``compile``: ``torch.compile`` the network (on the CPU with weights frozen into the
    graph, which lets oneDNN pre-pack them). Network calls are padded to one of two shapes
    (one frame's crops, or a whole call of ``micro_batch`` crops) so it compiles at most
    twice; if compiling fails (no C++ compiler, unsupported platform) the classifier says
    so through ``log`` and goes on uncompiled.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        device: str = "auto",
        batch_size: int = 16,
        tiles: int = 1,
        tile_reduce: str = "max",
        precision: str = "auto",
        compile: bool = False,
        compile_mode: str = "default",
        micro_batch: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.device = pick_device(device)
        network = model.network.to(self.device).eval()
        # torch.compile (below) swaps in a wrapper that is called the same way
        self.network: SpeciesClassifier | Callable[..., torch.Tensor] = network
        self.labels: LabelSet = model.labels
        self.model_id = model.info.model_id
        self.model_sha256 = model.sha256
        self.fit = model.info.preprocessing  # None: squash (older folders, the demo model)
        self.image_size = int(model.info.image_size)
        self.batch_size = batch_size
        self.tiles = tiles
        crops_per_batch = max(1, batch_size // tiles**2) * tiles**2
        if self.device.type != "cpu":
            self.micro_batch = crops_per_batch
        else:
            auto = cpu_micro_batch(self.network, self.image_size)
            self.micro_batch = min(micro_batch or auto, crops_per_batch)
        self.tile_reduce = tile_reduce
        self.autocast_dtype = _autocast_dtype(precision, self.device)
        self._log = log or (lambda line: None)
        self._eager = self.network
        self.compiled = compile
        self._compiled_sizes: set[int] = set()
        if compile:
            mode = None if compile_mode == "default" else compile_mode
            self.network = torch.compile(self.network, mode=mode)
        # (x * rescale - mean) / std, on 0-255 pixel values x
        per_unit = 255 if self.fit is None else 1 / self.fit.rescale_factor
        self._mean = torch.tensor(model.info.mean, device=self.device).view(1, 3, 1, 1) * per_unit
        self._std = torch.tensor(model.info.std, device=self.device).view(1, 3, 1, 1) * per_unit
        self._background = model.labels.background_mask
        self._view_said = False  # the unseen share of a frame: said once (_say_view)
        self._view_lock = threading.Lock()  # prepare runs on readers' threads

    def _geometry(self, height: int, width: int) -> Geometry:
        return geometry(height, width, self.image_size, self.fit)

    def tile_bounds(self, height: int, width: int) -> list[Bounds]:
        """(y0, y1, x0, x1) px of the tiles of an ``height`` x ``width`` px frame, row by
        row (:func:`fieldtool.preprocessing.tile_bounds`: where the model's crop would
        leave part of a tile unseen, tiles whose seen parts cover the frame)."""
        return tile_bounds(height, width, self.tiles, self.image_size, self.fit)

    def seen_tiles(self, height: int, width: int) -> list[Bounds]:
        """(y0, y1, x0, x1) px of the part of each tile of an ``height`` x ``width`` px
        frame that the model sees (:func:`fieldtool.preprocessing.seen_parts`, rounded to
        whole pixels), row by row as the tile probabilities: where the preview draws them."""
        parts = seen_parts(self.tile_bounds(height, width), height, width, self.image_size,
                           self.fit)  # fmt: skip
        return [(round(y0), round(y1), round(x0), round(x1)) for y0, y1, x0, x1 in parts]

    def view_note(self, height: int, width: int) -> str | None:
        """One line on how much of an ``height`` x ``width`` px frame the model's centre
        crop leaves unseen, or None where it sees (almost) all of it."""
        bounds = self.tile_bounds(height, width)
        seen, share_w, share_h = seen_share(bounds, height, width, self.image_size, self.fit)
        if self.fit is None or seen > 0.995:
            return None
        part = "tile" if self.tiles > 1 else "frame"
        g = self._geometry(bounds[0][1] - bounds[0][0], bounds[0][3] - bounds[0][2])
        # with tiles, why they do not cover it: too long a frame for tiles squares across
        tiled = (f"; a frame whose longer side is more than {self.tiles} times its shorter "
                 f"one is too long for {self.tiles} square tiles across, so tiles keep its "
                 "shape, are cropped alike and do not cover it") if self.tiles > 1 else ""  # fmt: skip
        return (
            f"model {self.model_id}: it sees the centre {self.image_size}x{self.image_size} px "
            f"of each {part} resized to {g.width}x{g.height} px ({share_w:.0%} of its width, "
            f"{share_h:.0%} of its height): {1 - seen:.0%} of each {width}x{height} frame is "
            f"not seen{tiled}"
        )

    def _say_view(self, image: np.ndarray | YuvImage) -> None:
        """:meth:`view_note` once for the classifier's first frame, at its full size (the
        reader's :meth:`prepare` sees it before the frame it keeps is shrunk)."""
        with self._view_lock:
            if self._view_said:
                return
            self._view_said = True
        height, width = image.size if isinstance(image, YuvImage) else image.shape[:2]
        if note := self.view_note(height, width):
            self._log(note)

    # Whether frames are cut, resized and normalised by torch on the model's device (and
    # YUV planes converted there): None on CUDA only; True also on the CPU (tests run the
    # CUDA path's arithmetic so), False never.
    device_preprocess: bool | None = None

    @property
    def _on_device(self) -> bool:
        if self.device_preprocess is None:
            return self.device.type == "cuda"
        return self.device_preprocess

    @property
    def takes_yuv(self) -> bool:  # type: ignore[override]  # read here, never set
        """YUV planes as decoded (types.classifier_input) where they are converted on the
        device; the host path takes the frame's BGR, made once and kept on the frame (for
        its crops, its shrunk copy, snapshots), not once for each."""
        return self._on_device

    def prepare(self, image: np.ndarray | YuvImage) -> np.ndarray | None:
        """CPU half of preprocessing for one (H, W, 3) BGR frame or its YUV planes: (T, S, S,
        3) uint8 RGB crops, or None where the device does it (CUDA). Thread-safe: the reader
        calls it."""
        self._say_view(image)
        if self._on_device:
            return None
        return self._host_crops(image.to_bgr() if isinstance(image, YuvImage) else image)

    def _host_crops(self, image: np.ndarray) -> np.ndarray:
        """(T, S, S, 3) uint8 RGB crops of one (H, W, 3) BGR frame: squashed by OpenCV
        (no recorded preprocessing), else resized by torch on uint8 (antialiased, rounded:
        as PIL's resize, within one step on a few pixels) and centre-cropped."""
        tiles = cut_tiles(image, self.tiles, self.image_size, self.fit)
        if self.fit is None:
            size = (self.image_size, self.image_size)
            return np.stack([
                cv2.cvtColor(cv2.resize(tile, size, interpolation=cv2.INTER_AREA),
                             cv2.COLOR_BGR2RGB)
                for tile in tiles
            ])  # fmt: skip
        crops = []
        for tile in tiles:
            g = self._geometry(*tile.shape[:2])
            pixels = torch.from_numpy(tile if tile.flags.writeable else tile.copy())
            resized = torch.nn.functional.interpolate(
                pixels.permute(2, 0, 1)[None], size=(g.height, g.width),
                mode=self.fit.interpolation, antialias=True, align_corners=False,
            )  # fmt: skip
            crop = resized[0, [2, 1, 0], g.top : g.top + g.size, g.left : g.left + g.size]
            crops.append(crop.permute(1, 2, 0).numpy())
        return np.stack(crops)

    def preprocess(
        self,
        images: Sequence[np.ndarray | YuvImage],
        prepared: Sequence[np.ndarray | None] | None = None,
    ) -> torch.Tensor:
        """BGR uint8 frames (H, W, 3), or YUV planes -> (N*T, 3, S, S) float tensor on the
        device. Same-sized frames of one kind go to the device as they are (YUV: half the
        bytes, converted there); others are converted to BGR on the CPU first.

        ``prepared``: what :meth:`prepare` already made of each frame (skips that work).
        """
        kinds = {im.kind if isinstance(im, YuvImage) else im.shape for im in images}
        if self._on_device and len(kinds) == 1:
            return self._preprocess_on_device(images)
        if prepared is None or any(p is None for p in prepared):
            # not `prepare`: on CUDA it gives None, and mixed-size frames on CUDA come here
            bgr = [im.to_bgr() if isinstance(im, YuvImage) else im for im in images]
            if self._on_device and len({im.shape for im in bgr}) == 1:
                return self._preprocess_on_device(bgr)  # YUV and BGR frames of one size
            crops = [self._host_crops(image) for image in bgr]
        else:
            crops = [p for p in prepared if p is not None]  # all of them, as checked above
        batch = torch.from_numpy(np.concatenate(crops))  # (N*T, S, S, 3) uint8 RGB
        batch = batch.to(self.device).permute(0, 3, 1, 2).float()
        # Contiguous like the device path and a padded batch (torch.cat): a compiled network
        # guards on strides, and channels-last strides here made it compile a second graph
        # for the same shape in the middle of a session.
        return ((batch - self._mean) / self._std).contiguous()

    def _preprocess_on_device(self, images: Sequence[np.ndarray | YuvImage]) -> torch.Tensor:
        """Same-sized BGR frames (or YUV planes of one kind) -> (N*T, 3, S, S) on the device,
        a few frames at a time so that their float copies stay under ``DEVICE_CHUNK_BYTES``
        (a 4K frame is 100 MB as float32; a batch of 256 at once would be 25 GB)."""
        first = images[0]
        height, width = first.size if isinstance(first, YuvImage) else first.shape[:2]
        per_chunk = max(1, DEVICE_CHUNK_BYTES // (height * width * 3 * 4))
        chunks = [
            self._crops_on_device(images[start : start + per_chunk])
            for start in range(0, len(images), per_chunk)
        ]
        return (torch.cat(chunks) - self._mean) / self._std

    def _crops_on_device(self, images: Sequence[np.ndarray | YuvImage]) -> torch.Tensor:
        """(N*T, 3, S, S) float crops in 0-255, frame-major like the CPU path."""
        first = images[0]
        planes = [im.data if isinstance(im, YuvImage) else im for im in images]
        on_host = [p for p in planes if isinstance(p, np.ndarray)]
        if len(on_host) == len(planes):  # (N, H, W, 3) or (N, H*3/2, W) uint8
            uploaded = stacked_upload(on_host, self.device)
        else:  # planes the decoder left on the device (NVDEC), host ones uploaded beside
            uploaded = torch.stack([torch.as_tensor(p).to(self.device) for p in planes])
        if isinstance(first, YuvImage):  # one kind (preprocess checked): RGB (N, 3, H, W)
            frames = yuv_to_rgb(uploaded, first.layout, first.matrix, first.color_range)
        else:
            frames = uploaded[..., [2, 1, 0]].permute(0, 3, 1, 2).float()  # RGB, (N, 3, H, W)
        height, width = frames.shape[2:]
        crops = []
        for bounds in self.tile_bounds(height, width):
            (y0, y1, x0, x1), pads = overhang(bounds, height, width)
            tiles = frames[:, :, y0:y1, x0:x1]
            if any(pads):  # edge pixels repeated, as the host path's np.pad "edge"
                top, bottom, left, right = pads
                tiles = torch.nn.functional.pad(tiles, (left, right, top, bottom), mode="replicate")
            crops.append(self._fit_on_device(tiles))
        return torch.stack(crops, dim=1).flatten(0, 1).clamp(0, 255)

    def _fit_on_device(self, tiles: torch.Tensor) -> torch.Tensor:
        """(N, 3, h, w) float tiles -> (N, 3, S, S): resized and cropped by the same
        :class:`Geometry` as the host path; rounded like it where a preprocessing is
        recorded (PIL's resize gives whole pixel values)."""
        g = self._geometry(*tiles.shape[2:])
        mode = self.fit.interpolation if self.fit else "bilinear"
        resized = torch.nn.functional.interpolate(
            tiles, size=(g.height, g.width), mode=mode, antialias=True, align_corners=False
        )
        crop = resized[:, :, g.top : g.top + g.size, g.left : g.left + g.size]
        return crop if self.fit is None else crop.clamp(0, 255).round()

    @property
    def precision(self) -> str:
        """The precision the network runs in: "fp32", "bf16" or "fp16"."""
        names = {torch.bfloat16: "bf16", torch.float16: "fp16"}
        return "fp32" if self.autocast_dtype is None else names.get(self.autocast_dtype, "fp32")

    def run_settings(self) -> Mapping[str, str]:
        """The device and precision that actually run ("auto" resolved)."""
        return {"device": self.device.type, "precision": self.precision}

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, C) probabilities on the CPU, ``micro_batch`` crops a call."""
        count, step = pixels.shape[0], self.micro_batch
        if self.compiled and self.tiles**2 < count and count % step:
            # Static shapes, so each compiles once: whole steps, or one frame's crops
            # (live sources), instead of once per odd-sized last batch.
            pad = pixels.new_zeros((step - count % step, *pixels.shape[1:]))
            pixels = torch.cat([pixels, pad])
        logits = [self._network_call(pixels[i : i + step]) for i in range(0, len(pixels), step)]
        return torch.softmax(torch.cat(logits)[:count].float(), dim=-1).cpu()

    def _network_call(self, pixels: torch.Tensor) -> torch.Tensor:
        first = self.compiled and pixels.shape[0] not in self._compiled_sizes
        if first:
            self._log(f"compiling the model for batches of {pixels.shape[0]} (once, 15-60 s)")
        start = time.monotonic()
        try:
            logits = self._run_network(pixels)
            if first and self.compiled:
                self._compiled_sizes.add(pixels.shape[0])
                self._log(f"compiled in {time.monotonic() - start:.0f} s")
        except Exception as error:
            if not self.compiled:
                raise
            self._log(
                f"torch.compile failed ({type(error).__name__}: {str(error).splitlines()[0]}); "
                "running the model uncompiled"
            )
            self.network, self.compiled = self._eager, False
            logits = self._run_network(pixels)
        return logits

    def _run_network(self, pixels: torch.Tensor) -> torch.Tensor:
        with contextlib.ExitStack() as stack:
            if self.autocast_dtype is not None:
                stack.enter_context(torch.autocast(self.device.type, dtype=self.autocast_dtype))
            if self.compiled and self.device.type == "cpu":
                # Freezing folds the weights into the graph so that oneDNN pre-packs them:
                # all of the gain of compiling on the CPU (1.3x on ViT-S). Compilation
                # happens on the first call of each shape, so the setting is scoped to the
                # calls; ``options=`` of torch.compile does not reach it.
                from torch._inductor import config as inductor_config

                stack.enter_context(inductor_config.patch(freezing=True))
            return self.network(pixels)

    @torch.inference_mode()
    def predict(
        self,
        images: Sequence[np.ndarray | YuvImage],
        prepared: Sequence[np.ndarray | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frames -> ((N, C) frame probabilities, (N, T, C) tile probabilities)."""
        if not images:
            n = len(self.labels)
            return np.zeros((0, n), np.float32), np.zeros((0, self.tiles**2, n), np.float32)
        self._say_view(images[0])  # once a session: a centre crop leaves out a wide frame's sides
        chunks = []
        per_batch = max(1, self.batch_size // (self.tiles**2))
        for start in range(0, len(images), per_batch):
            part = prepared[start : start + per_batch] if prepared is not None else None
            pixels = self.preprocess(images[start : start + per_batch], part)
            chunks.append(self._forward(pixels).numpy())
        tile_probs = np.concatenate(chunks).reshape(len(images), self.tiles**2, -1)
        return reduce_tiles(tile_probs, self._background, self.tile_reduce), tile_probs


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, None for fp32. ``auto``: bf16 on GPUs that have it, else fp16; bf16
    on CPUs with bf16 hardware; fp32 on other CPUs and on MPS."""
    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif device.type == "cpu" and cpu_has_native_bf16():
            precision = "bf16"
        else:
            precision = "fp32"
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    raise FieldtoolError(f"model.precision {precision!r}: expected auto, fp32, bf16 or fp16")
