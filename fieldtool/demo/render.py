"""Procedural renderer of the demo world: ground, clutter and the 12 demo species.

Everything is drawn with numpy + OpenCV onto canvases of shape (H, W, 3), uint8, BGR.
Sizes are defined for a reference frame height of 240 px and multiplied by
``scale = frame_height / 240``, so a smaller frame shows the same scene, smaller.

A *scene* is ground with clutter (soil, stones, twigs, dead leaves, grass) and plants
(:class:`PlantSpec`). A *frame* is a view of a scene through a camera
(:func:`camera_view`: position, zoom, roll) followed by camera effects
(:func:`apply_effects`: brightness, white balance, gamma, a shading gradient, focus and
motion blur, sensor noise). The walk videos (``fieldtool.demo.world``) and the training
samples (:func:`render_sample`) are made by this same chain, with the same distributions,
so that a classifier trained on samples sees walk-like frames.

A plant occupies an ellipse of half-width ``radius`` around its centre; its horizontal
extent ``[x - radius, x + radius]`` is what "fraction visible" refers to.

Looks (``DemoSpecies.look``): short_needles, scale_sprays, glossy_oval, palmate, lobed,
bracts, tulip, star, long_needles. The two species of a look-alike pair share a look and
differ only by small, heavily overlapping shifts of colour, lobe depth, size, serration and
bract count (see ``_STYLES``), so that the image alone separates them only partly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

import cv2
import numpy as np

from fieldtool.demo.species import BACKGROUND, DEMO_SPECIES

FRAME_SIZE = (320, 240)  # (width, height) px of walk frames
REFERENCE_HEIGHT = 240  # px; drawing sizes below are for this frame height
PLANT_RADIUS = (0.36, 0.55)  # plant half-width, fraction of the frame height
MIN_VISIBLE = 0.5  # a species sample shows at least this fraction of the plant's width

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Style:
    """How one species is drawn. Colours are RGB 0-255; ranges are (low, high)."""

    look: str
    leaf: RGB  # main foliage colour
    accent: RGB = (95, 70, 45)  # twigs / petioles / bark / bracts, depending on the look
    size: float = 1.0  # leaf or element size factor
    depth: tuple[float, float] = (0.4, 0.6)  # lobe depth (palmate, lobed)
    teeth: float = 0.0  # relative amplitude of leaf-margin serration
    lobes: tuple[float, float] = (3.5, 4.5)  # oak: lobes per side
    bracts: tuple[float, float, float] = (1.0, 0.0, 0.0)  # dogwood: P(4, 5, 6 bracts)
    notch: tuple[float, float] = (0.0, 0.0)  # dogwood: depth of the bract-tip notch
    tint: float = 0.0  # dogwood: probability of pink-tinged bracts


_STYLES = MappingProxyType(
    {
        "Pseudotsuga menziesii": Style("short_needles", leaf=(36, 76, 40)),
        "Thuja plicata": Style("scale_sprays", leaf=(128, 160, 52), accent=(110, 85, 55)),
        "Arbutus menziesii": Style("glossy_oval", leaf=(34, 82, 38), accent=(190, 78, 36)),
        "Acer macrophyllum": Style(
            "palmate",
            leaf=(94, 144, 52),
            accent=(122, 104, 60),
            size=1.04,
            depth=(0.4, 0.64),
            teeth=0.02,
        ),
        "Acer rubrum": Style(
            "palmate",
            leaf=(92, 141, 54),
            accent=(128, 98, 60),
            size=1.0,
            depth=(0.37, 0.61),
            teeth=0.026,
        ),
        "Quercus garryana": Style(
            "lobed",
            leaf=(68, 105, 54),
            accent=(100, 90, 60),
            size=1.02,
            depth=(0.5, 0.74),
            lobes=(3.1, 4.3),
        ),
        "Quercus alba": Style(
            "lobed",
            leaf=(70, 106, 58),
            accent=(100, 90, 60),
            size=1.0,
            depth=(0.47, 0.71),
            lobes=(3.3, 4.5),
        ),
        "Cornus nuttallii": Style(
            "bracts",
            leaf=(73, 123, 57),
            accent=(238, 236, 224),
            size=1.03,
            bracts=(0.6, 0.25, 0.15),
            notch=(0.0, 0.08),
        ),
        "Cornus florida": Style(
            "bracts",
            leaf=(75, 122, 59),
            accent=(240, 235, 226),
            bracts=(0.72, 0.22, 0.06),
            notch=(0.02, 0.1),
            tint=0.08,
        ),
        "Liriodendron tulipifera": Style("tulip", leaf=(132, 176, 72), accent=(110, 120, 60)),
        "Liquidambar styraciflua": Style("star", leaf=(42, 128, 46), accent=(95, 80, 50)),
        "Pinus taeda": Style("long_needles", leaf=(76, 128, 62), accent=(112, 82, 58)),
    }
)


def style_of(species: str) -> Style:
    """The drawing style of a demo species (KeyError for unknown names)."""
    return _STYLES[species]


@dataclass(frozen=True)
class PlantSpec:
    """One plant in a scene: centre and half-width in scene px, and its drawing seed."""

    species: str
    x: float  # centre, px
    y: float  # centre, px
    radius: float  # half-width of the plant's ellipse, px
    seed: int  # seeds every random choice of its drawing

    @property
    def x0(self) -> float:
        return self.x - self.radius

    @property
    def x1(self) -> float:
        return self.x + self.radius


@dataclass(frozen=True)
class CameraEffects:
    """Photometric and optical effects of one frame (see :func:`apply_effects`)."""

    gain: float = 1.0  # overall brightness factor
    white_b: float = 1.0  # white-balance factors per channel
    white_g: float = 1.0
    white_r: float = 1.0
    gamma: float = 1.0  # output = input ** gamma (0-1 scale)
    shade: float = 0.0  # strength of a linear brightness gradient across the frame
    shade_angle: float = 0.0  # rad, direction of that gradient
    blur_sigma: float = 0.0  # px (at the reference height), focus blur
    motion_px: float = 0.0  # px, horizontal motion-blur length
    noise_sigma: float = 2.0  # sensor noise, grey levels (0-255)

    def mix(self, other: CameraEffects, w: float) -> CameraEffects:
        """Linear interpolation: ``w`` = 0 gives self, 1 gives other (angles too)."""
        return CameraEffects(
            *((1 - w) * getattr(self, f.name) + w * getattr(other, f.name) for f in fields(self))
        )


# ----------------------------------------------------------------------------- helpers


def _clamp(v: float) -> float:
    return 0.0 if v < 0 else 255.0 if v > 255 else float(v)


def _bgr(rgb: Sequence[float], factor: float = 1.0) -> tuple[float, float, float]:
    return (_clamp(rgb[2] * factor), _clamp(rgb[1] * factor), _clamp(rgb[0] * factor))


def _jitter(
    rng: np.random.Generator, rgb: Sequence[float], light: float = 0.15, hue: float = 5.0
) -> RGB:
    """Colour variation of one element: brightness factor and a small per-channel shift."""
    f = rng.uniform(1 - light, 1 + light)
    d = rng.normal(0, hue, 3)
    return (
        int(_clamp(rgb[0] * f + d[0])),
        int(_clamp(rgb[1] * f + d[1])),
        int(_clamp(rgb[2] * f + d[2])),
    )


def _fixed(points: np.ndarray) -> np.ndarray:
    """(N, 2) float px -> (N, 1, 2) int32 with 4 fractional bits (for ``shift=4``)."""
    return np.round(np.asarray(points, dtype=np.float64) * 16).astype(np.int32).reshape(-1, 1, 2)


def _place(outline: np.ndarray, length: float, angle: float, x: float, y: float) -> np.ndarray:
    """Leaf outline in leaf units (base at origin, tip at (0, -1)) -> (N, 2) px.

    ``angle``: rad, direction of the tip, 0 = up, clockwise positive.
    """
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (outline * length) @ rot.T + (x, y)


def _chaikin(points: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Corner-cutting smoothing of a closed polygon, (N, 2) -> (N * 2**iterations, 2)."""
    for _ in range(iterations):
        nxt = np.roll(points, -1, axis=0)
        points = np.stack([0.75 * points + 0.25 * nxt, 0.25 * points + 0.75 * nxt], axis=1).reshape(
            -1, 2
        )
    return points


def _path(
    rng: np.random.Generator,
    start: Sequence[float],
    angle: float,
    length: float,
    bend: float,
    step: float,
) -> np.ndarray:
    """A gently curving polyline, (K, 2) px; ``angle`` 0 = up, ``bend`` rad per unit length."""
    n = max(2, int(length / step) + 1)
    seg = length / (n - 1)
    k = np.arange(n - 1)
    angles = angle + rng.normal(0, bend * step, n - 1).cumsum() + rng.normal(0, bend) * seg * k
    out = np.empty((n, 2))
    out[0] = start
    out[1:, 0] = start[0] + (np.sin(angles) * seg).cumsum()
    out[1:, 1] = start[1] - (np.cos(angles) * seg).cumsum()
    return out


def _along(path: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``spacing`` px along a polyline: positions (M, 2), unit tangents (M, 2), t in 0-1."""
    seg = np.diff(path, axis=0)
    seg_len = np.linalg.norm(seg, axis=1) + 1e-9
    cum = np.concatenate([[0.0], seg_len.cumsum()])
    total = cum[-1]
    d = np.arange(spacing * 0.5, total, spacing)
    if d.size == 0:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
    idx = np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(seg) - 1)
    frac = (d - cum[idx]) / seg_len[idx]
    pos = path[idx] + seg[idx] * frac[:, None]
    tan = seg[idx] / seg_len[idx, None]
    return pos, tan, d / total


def _needles(
    pos: np.ndarray, tan: np.ndarray, length: np.ndarray, angle: np.ndarray, both: bool = True
) -> np.ndarray:
    """Segments (M, 2, 2) leaving ``pos`` at ``angle`` rad from the tangent (both sides)."""
    out = []
    for side in (1, -1) if both else (1,):
        a = angle * side
        c, s = np.cos(a), np.sin(a)
        d = np.stack([tan[:, 0] * c - tan[:, 1] * s, tan[:, 0] * s + tan[:, 1] * c], axis=1)
        out.append(np.stack([pos, pos + d * length[:, None]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2, 2))


def _lowfreq(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise field (h, w) float32, roughly N(0, 1), features ~``cell`` px across."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


class _Painter:
    """Draws onto a BGR patch and its coverage mask at once (mask 255 where painted)."""

    def __init__(self, h: int, w: int) -> None:
        self.img = np.zeros((h, w, 3), np.uint8)
        self.mask = np.zeros((h, w), np.uint8)

    def poly(self, points: np.ndarray, rgb: Sequence[float], mask: bool = True) -> None:
        pts = [_fixed(points)]
        cv2.fillPoly(self.img, pts, _bgr(rgb), cv2.LINE_AA, shift=4)
        if mask:
            cv2.fillPoly(self.mask, pts, 255, cv2.LINE_AA, shift=4)

    def lines(
        self,
        paths: Sequence[np.ndarray] | np.ndarray,
        rgb: Sequence[float],
        thickness: float,
        mask: bool = True,
    ) -> None:
        if len(paths) == 0:
            return
        pts = [_fixed(p) for p in paths]
        t = max(1, int(round(thickness)))
        cv2.polylines(self.img, pts, False, _bgr(rgb), t, cv2.LINE_AA, shift=4)
        if mask:
            cv2.polylines(self.mask, pts, False, 255, t, cv2.LINE_AA, shift=4)

    def disc(self, x: float, y: float, r: float, rgb: Sequence[float], mask: bool = True) -> None:
        c, rr = (int(round(x * 16)), int(round(y * 16))), max(16, int(round(r * 16)))
        cv2.circle(self.img, c, rr, _bgr(rgb), -1, cv2.LINE_AA, shift=4)
        if mask:
            cv2.circle(self.mask, c, rr, 255, -1, cv2.LINE_AA, shift=4)


# --------------------------------------------------------------------- leaf outlines


def _palmate_outline(depth: float, teeth: float, n: int = 140) -> np.ndarray:
    """Maple leaf: five pointed lobes, a basal sinus; (n, 2) leaf units."""
    phi = np.linspace(-math.pi, math.pi, n, endpoint=False)
    centres = np.array([0.0, 1.2, -1.2, 2.3, -2.3])
    lengths = np.array([1.0, 0.93, 0.93, 0.62, 0.62])
    delta = np.abs((phi[:, None] - centres[None, :] + math.pi) % (2 * math.pi) - math.pi)
    r = (lengths * (1 - depth * np.minimum(1.0, delta / 0.6))).max(axis=1)
    r = r * (1 + teeth * np.sin(phi * 38))
    return np.stack([0.5 * r * np.sin(phi), -0.45 - 0.5 * r * np.cos(phi)], axis=1)


def _lobed_outline(depth: float, lobes: float, phase: float, n: int = 70) -> np.ndarray:
    """Oak leaf: obovate with rounded lobes on both sides; (2n, 2) leaf units."""
    t = np.linspace(0, 1, n)
    env = np.sin(math.pi * t**1.35) ** 0.75
    right = 0.36 * env * (1 - depth * (1 - np.abs(np.sin(math.pi * lobes * t)) ** 0.5))
    left = 0.36 * env * (1 - depth * (1 - np.abs(np.sin(math.pi * lobes * t + phase)) ** 0.5))
    return np.concatenate(
        [np.stack([right, -t], axis=1), np.stack([-left[::-1], -t[::-1]], axis=1)]
    )


_TULIP_HALF = np.array(
    [
        [0.0, 0.0],
        [0.2, -0.03],
        [0.42, -0.13],
        [0.52, -0.36],
        [0.37, -0.5],
        [0.5, -0.8],
        [0.3, -0.97],
        [0.0, -0.84],
    ]
)


def _tulip_outline(rng: np.random.Generator) -> np.ndarray:
    """Tulip-tree leaf: four lobes and a truncated, notched tip; (N, 2) leaf units."""
    half = _TULIP_HALF + rng.normal(0, 0.025, _TULIP_HALF.shape)
    half[0] = 0.0
    half[-1, 0] = 0.0
    mirror = half[-2:0:-1] * (-1, 1)
    return _chaikin(np.concatenate([half, mirror]), 3)


def _star_outline(lobes: int, inner: float, n: int = 150) -> np.ndarray:
    """Sweetgum leaf: ``lobes`` narrow pointed lobes; (n, 2) leaf units."""
    phi = np.linspace(-math.pi, math.pi, n, endpoint=False)
    half = math.pi / lobes
    delta = np.abs((phi + half) % (2 * half) - half)
    r = inner + (1 - inner) * (1 - delta / half) ** 1.6
    return np.stack([0.5 * r * np.sin(phi), -0.5 - 0.5 * r * np.cos(phi)], axis=1)


def _oval_outline(aspect: float, notch: float = 0.0, n: int = 60) -> np.ndarray:
    """Oval leaf or bract, slightly pointed; ``notch`` cuts a notch into the tip."""
    u = np.linspace(0, 2 * math.pi, n, endpoint=False)
    p = (1 - np.cos(u)) / 2  # 0 at the base, 1 at the tip
    x = aspect * np.sin(u) * (1 - 0.35 * p**3)
    y = -0.5 + 0.5 * np.cos(u)
    if notch:
        y = y + notch * np.maximum(0.0, 1 - np.abs(x) / (0.45 * aspect)) ** 1.5 * p**4
    return np.stack([x, y], axis=1)


# --------------------------------------------------------------------- plant looks


@dataclass(frozen=True)
class _Ellipse:
    """Where a plant is drawn on its patch: centre and semi-axes, px, and the frame scale."""

    cx: float
    cy: float
    rx: float
    ry: float
    s: float  # frame height / 240

    def point(self, rng: np.random.Generator, max_r: float = 1.0) -> tuple[float, float, float]:
        """Random point, denser toward the centre; returns (x, y, radial fraction)."""
        r = max_r * math.sqrt(rng.uniform(0, 1)) ** 1.2
        a = rng.uniform(0, 2 * math.pi)
        return self.cx + self.rx * r * math.cos(a), self.cy + self.ry * r * math.sin(a), r

    def rim(self, a: float) -> tuple[float, float]:
        """The point just outside the rim at angle ``a`` rad."""
        return self.cx + 1.05 * self.rx * math.cos(a), self.cy + 1.05 * self.ry * math.sin(a)


LookFn = Callable[[_Painter, np.random.Generator, _Ellipse, Style], None]
VeinFn = Callable[[np.random.Generator], list[np.ndarray]]
OutlineFn = Callable[[np.random.Generator], np.ndarray]


def _heading(d: np.ndarray) -> float:
    """Direction of vector (dx, dy) as an angle, rad, 0 = up, clockwise positive."""
    return math.atan2(d[0], -d[1])


def _branches(
    p: _Painter,
    rng: np.random.Generator,
    g: _Ellipse,
    rgb: RGB,
    count: int,
    thickness: float,
) -> list[np.ndarray]:
    """Woody branches entering the plant from its rim toward the far side; returns their paths."""
    paths = []
    for _ in range(count):
        start = g.rim(rng.uniform(0, 2 * math.pi))
        target = (g.cx + rng.uniform(-0.5, 0.5) * g.rx, g.cy + rng.uniform(-0.5, 0.5) * g.ry)
        ang = math.atan2(target[0] - start[0], -(target[1] - start[1]))
        length = math.hypot(target[0] - start[0], target[1] - start[1]) * rng.uniform(1.0, 1.5)
        path = _path(rng, start, ang, length, 0.004 / g.s, 6 * g.s)
        p.lines([path], _jitter(rng, rgb, 0.15), thickness * rng.uniform(0.8, 1.2))
        paths.append(path)
    return paths


def _leafy(
    p: _Painter,
    rng: np.random.Generator,
    g: _Ellipse,
    style: Style,
    leaf_len: float,
    leaf_area: float,
    make: OutlineFn,
    veins: VeinFn,
    gloss: float = 0.0,
    coverage: float | None = None,
    branches: bool = True,
) -> None:
    """Broad leaves on a few branches, pointing outward; the count follows a coverage target.

    ``leaf_len``: px; ``leaf_area``: a leaf's area / leaf_len**2; ``make``: leaf outline in
    leaf units; ``veins``: polylines in leaf units; ``gloss``: strength of a highlight.
    """
    if branches:
        _branches(p, rng, g, (92, 74, 56), int(rng.integers(2, 5)), 4 * g.s)
    if coverage is None:
        coverage = rng.uniform(0.9, 1.5)
    n = int(np.clip(coverage * math.pi * g.rx * g.ry / (leaf_area * leaf_len**2), 4, 60))
    for _ in range(n):
        length = leaf_len * rng.uniform(0.75, 1.2)
        x, y, r = g.point(rng, max(0.15, 1 - 0.8 * length / min(g.rx, g.ry)))
        out = math.atan2(x - g.cx, -(y - g.cy)) if r > 0.05 else rng.uniform(-math.pi, math.pi)
        ang = out + rng.normal(0, 0.7)
        rgb = _jitter(rng, style.leaf)
        base = (x - math.sin(ang) * 0.25 * length, y + math.cos(ang) * 0.25 * length)
        p.lines([np.array([base, (x, y)])], _jitter(rng, style.accent, 0.1), max(1.0, 2 * g.s))
        outline = _place(make(rng), length, ang, x, y)
        p.poly(outline, rgb)
        dark = tuple(c * 0.72 for c in rgb)
        p.lines([np.vstack([outline, outline[:1]])], dark, 1, mask=False)
        light = tuple(min(255, c * 1.25 + 12) for c in rgb)
        vein_px = [_place(v, length, ang, x, y) for v in veins(rng)]
        p.lines(vein_px, light, max(1.0, 1.0 * g.s), mask=False)
        if gloss > 0 and rng.uniform() < 0.8:
            hl = _place(np.array([[-0.12, -0.3], [-0.1, -0.5], [-0.06, -0.7]]), length, ang, x, y)
            p.lines([hl], tuple(min(255, c * 1.6 + 60 * gloss) for c in rgb), 2 * g.s, mask=False)


def _rays(centre: Sequence[float], angles: Sequence[float], length: float) -> list[np.ndarray]:
    """Straight veins from ``centre`` (leaf units) toward ``angles`` (rad, 0 = tip)."""
    c = np.asarray(centre, dtype=np.float64)
    return [np.array([c, c + length * np.array([math.sin(a), -math.cos(a)])]) for a in angles]


def _look_palmate(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    def make(r: np.random.Generator) -> np.ndarray:
        return _palmate_outline(r.uniform(*style.depth), style.teeth)

    def veins(r: np.random.Generator) -> list[np.ndarray]:
        return _rays((0.0, -0.45), (0.0, 1.2, -1.2), 0.42) + [np.array([[0.0, 0.0], [0.0, -0.45]])]

    leaf_len = rng.uniform(0.44, 0.58) * g.ry * style.size
    _leafy(p, rng, g, style, leaf_len, 0.5, make, veins)


def _look_lobed(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    def make(r: np.random.Generator) -> np.ndarray:
        return _lobed_outline(
            r.uniform(*style.depth), r.uniform(*style.lobes), r.uniform(-0.5, 0.5)
        )

    def veins(r: np.random.Generator) -> list[np.ndarray]:
        return [np.array([[0.0, 0.0], [0.0, -0.95]])]

    leaf_len = rng.uniform(0.5, 0.66) * g.ry * style.size
    _leafy(p, rng, g, style, leaf_len, 0.36, make, veins, gloss=0.3)


def _look_tulip(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    def veins(r: np.random.Generator) -> list[np.ndarray]:
        return [
            np.array([[0.0, 0.0], [0.0, -0.8]]),
            np.array([[0.0, -0.3], [0.4, -0.7]]),
            np.array([[0.0, -0.3], [-0.4, -0.7]]),
        ]

    leaf_len = rng.uniform(0.42, 0.55) * g.ry * style.size
    _leafy(p, rng, g, style, leaf_len, 0.6, _tulip_outline, veins)


def _look_star(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    def make(r: np.random.Generator) -> np.ndarray:
        lobes = int(r.choice([5, 5, 5, 6, 7]))
        return _star_outline(lobes, r.uniform(0.28, 0.42))

    def veins(r: np.random.Generator) -> list[np.ndarray]:
        return _rays((0.0, -0.5), np.linspace(0, 2 * math.pi, 5, endpoint=False), 0.45)

    leaf_len = rng.uniform(0.44, 0.58) * g.ry * style.size
    _leafy(p, rng, g, style, leaf_len, 0.38, make, veins, gloss=0.5)


def _look_glossy_oval(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    def make(r: np.random.Generator) -> np.ndarray:
        return _oval_outline(r.uniform(0.24, 0.32))

    def veins(r: np.random.Generator) -> list[np.ndarray]:
        return [np.array([[0.0, -0.02], [0.0, -0.95]])]

    leaf_len = rng.uniform(0.36, 0.46) * g.ry
    leaves = replace(style, accent=(120, 110, 50))
    _leafy(p, rng, g, leaves, leaf_len, 0.42, make, veins, 1.0, rng.uniform(0.5, 0.8), False)
    # red-orange peeling bark: one to three limbs over the lower leaves
    limbs = _branches(p, rng, g, style.accent, int(rng.integers(1, 4)), rng.uniform(10, 16) * g.s)
    for path in limbs:
        pos, _, _ = _along(path, 8 * g.s)
        for x, y in pos:
            if rng.uniform() < 0.5:
                peel = _jitter(rng, (176, 164, 100) if rng.uniform() < 0.6 else (118, 46, 28), 0.1)
                ax, ay = rng.uniform(3, 6) * g.s, rng.uniform(2, 4) * g.s
                angle = int(rng.uniform(0, 180))
                pts = cv2.ellipse2Poly(
                    (int(x), int(y)), (int(ax) + 1, int(ay) + 1), angle, 0, 360, 30
                )
                p.poly(pts.astype(np.float64), peel, mask=False)
    _leafy(p, rng, g, leaves, leaf_len, 0.42, make, veins, 1.0, rng.uniform(0.2, 0.45), False)


def _look_bracts(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    def make(r: np.random.Generator) -> np.ndarray:
        return _oval_outline(r.uniform(0.3, 0.38))

    def veins(r: np.random.Generator) -> list[np.ndarray]:
        out = [np.array([[0.0, 0.0], [0.0, -0.92]])]
        for yb in (-0.25, -0.45, -0.65):
            for side in (1, -1):
                out.append(np.array([[0.0, yb], [side * 0.14, yb - 0.12], [side * 0.2, yb - 0.28]]))
        return out

    leaves = replace(style, accent=(100, 110, 60))
    _leafy(p, rng, g, leaves, rng.uniform(0.36, 0.46) * g.ry, 0.55, make, veins)
    # flower heads: 4-6 bracts (style.bracts) around a green-yellow centre
    for _ in range(int(rng.integers(3, 8))):
        blen = rng.uniform(0.17, 0.24) * g.ry * style.size
        x, y, _ = g.point(rng, max(0.2, 1 - 1.1 * blen / min(g.rx, g.ry)))
        k = int(rng.choice([4, 5, 6], p=style.bracts))
        rot = rng.uniform(0, 2 * math.pi)
        base_rgb = (240, 214, 220) if rng.uniform() < style.tint else style.accent
        for j in range(k):
            a = rot + 2 * math.pi * j / k + rng.normal(0, 0.12)
            outline = _oval_outline(rng.uniform(0.36, 0.46), rng.uniform(*style.notch))
            bx, by = x + math.sin(a) * 0.08 * blen, y - math.cos(a) * 0.08 * blen
            rgb = _jitter(rng, base_rgb, 0.06, 3)
            p.poly(_place(outline, blen * rng.uniform(0.9, 1.1), a, bx, by), rgb)
            midrib = _place(np.array([[0.0, -0.1], [0.0, -0.8]]), blen, a, bx, by)
            p.lines([midrib], tuple(c * 0.9 for c in rgb), 1, mask=False)
        p.disc(x, y, 0.2 * blen, _jitter(rng, (150, 165, 70), 0.1))
        for _ in range(6):
            dx, dy = rng.normal(0, 0.08 * blen), rng.normal(0, 0.08 * blen)
            p.disc(x + dx, y + dy, max(0.6, 0.05 * blen), (95, 120, 40), mask=False)


def _look_short_needles(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    s = g.s
    twig_rgb = (92, 70, 46)
    segs, twigs = [], []
    for branch in _branches(p, rng, g, twig_rgb, int(rng.integers(3, 6)), 3 * s):
        twigs.append(branch)
        pos, tan, t = _along(branch, rng.uniform(13, 19) * s)
        for i, (q, d, tt) in enumerate(zip(pos, tan, t, strict=True)):
            a = _heading(d) + (1 if i % 2 else -1) * rng.uniform(0.6, 1.0)
            length = (1.15 - tt) * rng.uniform(0.25, 0.45) * g.ry
            twigs.append(_path(rng, q, a, length, 0.01 / s, 4 * s))
    p.lines(twigs, twig_rgb, 2 * s)
    # short flat needles on both sides of every twig, in three shades plus light new growth
    for tw in twigs:
        pos, tan, _ = _along(tw, 3.0 * s)
        m = len(pos)
        segs.append(_needles(pos, tan, rng.uniform(6, 9, m) * s, rng.uniform(1.0, 1.4, m)))
    needles = np.concatenate(segs)
    rng.shuffle(needles)
    groups = np.array_split(needles, 4)
    for group in groups[:3]:
        p.lines(group, _jitter(rng, style.leaf, 0.05, 3), max(1.0, 2 * s))
    p.lines(groups[3], (70, 120, 60), max(1.0, 1.5 * s))


def _look_long_needles(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    s = g.s
    segs = []
    for branch in _branches(p, rng, g, style.accent, int(rng.integers(4, 7)), 5 * s):
        pos, tan, t = _along(branch, rng.uniform(4, 6) * s)
        keep = t > rng.uniform(0.15, 0.4)
        for q, d in zip(pos[keep], tan[keep], strict=True):
            for _ in range(3):  # a fascicle of three long needles
                a = _heading(d) + rng.choice([-1, 1]) * rng.uniform(0.2, 1.3)
                length = rng.uniform(0.34, 0.55) * g.ry
                segs.append(_path(rng, q, a, length, 0.006 / s, length / 3))
    order = rng.permutation(len(segs))
    for k, f in enumerate((0.75, 0.9, 1.05, 1.25)):
        group = [segs[i] for i in order[k::4]]
        rgb = _jitter(rng, tuple(c * f for c in style.leaf), 0.04, 3)
        p.lines(group, rgb, max(1.0, (2.0 if k % 2 else 1.2) * s))


def _look_scale_sprays(p: _Painter, rng: np.random.Generator, g: _Ellipse, style: Style) -> None:
    s = g.s
    for _ in range(int(rng.integers(5, 10))):  # flat fronds from the rim inward
        start = g.rim(rng.uniform(0, 2 * math.pi))
        ang = math.atan2(g.cx - start[0], -(g.cy - start[1])) + rng.normal(0, 0.4)
        axis = _path(rng, start, ang, rng.uniform(0.9, 1.4) * g.ry, 0.005 / s, 5 * s)
        parts = [(axis, 5 * s)]
        pos, tan, t = _along(axis, rng.uniform(8, 12) * s)
        for i, (q, d, tt) in enumerate(zip(pos, tan, t, strict=True)):
            if tt < 0.15:
                continue
            sa = _heading(d) + (1 if i % 2 else -1) * rng.uniform(0.7, 1.1)
            branch = _path(rng, q, sa, (1.1 - tt) * rng.uniform(0.25, 0.4) * g.ry, 0.01 / s, 3 * s)
            parts.append((branch, 4 * s))
            bpos, btan, _ = _along(branch, 6 * s)
            for j, (bq, bd) in enumerate(zip(bpos, btan, strict=True)):
                ba = _heading(bd) + (1 if j % 2 else -1) * 0.8
                parts.append((_path(rng, bq, ba, rng.uniform(5, 9) * s, 0.0, 3 * s), 3 * s))
        rgb = _jitter(rng, style.leaf, 0.12, 4)
        for path, th in parts:
            p.lines([path], rgb, th)
        dark = tuple(c * 0.7 for c in rgb)
        for path, _ in parts:  # scale pattern
            q, d, _ = _along(path, 3 * s)
            if len(q):
                scales = _needles(q, d, np.full(len(q), 1.6 * s), np.full(len(q), 0.6))
                p.lines(scales, dark, 1, mask=False)


_LOOKS: MappingProxyType[str, LookFn] = MappingProxyType(
    {
        "palmate": _look_palmate,
        "lobed": _look_lobed,
        "tulip": _look_tulip,
        "star": _look_star,
        "glossy_oval": _look_glossy_oval,
        "bracts": _look_bracts,
        "short_needles": _look_short_needles,
        "long_needles": _look_long_needles,
        "scale_sprays": _look_scale_sprays,
    }
)


def draw_plant(scene: np.ndarray, plant: PlantSpec, scale: float) -> None:
    """Draw ``plant`` into ``scene`` (H, W, 3) uint8 BGR in place, with a soft shadow.

    The drawing is clipped to a soft ellipse 1.06x the plant's size; parts outside the
    scene are cut off. ``scale``: frame height / 240.
    """
    style = _STYLES[plant.species]
    rng = np.random.default_rng(plant.seed)
    rx = plant.radius
    ry = plant.radius * rng.uniform(0.85, 1.1)
    pad = int(8 * scale) + 2
    pw, ph = int(2 * rx * 1.12) + 2 * pad, int(2 * ry * 1.12) + 2 * pad
    p = _Painter(ph, pw)
    lx, ly = pw / 2, ph / 2
    _LOOKS[style.look](p, rng, _Ellipse(lx, ly, rx, ry, scale), style)

    clip = np.zeros((ph, pw), np.uint8)
    cv2.ellipse(clip, (int(lx), int(ly)), (int(rx * 1.06), int(ry * 1.06)), 0, 0, 360, 255, -1)
    clip = cv2.GaussianBlur(clip, (0, 0), 3 * scale + 0.5)
    alpha = (p.mask.astype(np.float32) / 255) * (clip.astype(np.float32) / 255)
    # lighting across the plant: one side brighter
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    light = 1 + rng.uniform(0.05, 0.2) * ((xx - lx) * math.cos(a) + (yy - ly) * math.sin(a)) / max(
        rx, ry
    )
    img = p.img.astype(np.float32) * light[..., None]

    x0, y0 = int(round(plant.x - lx)), int(round(plant.y - ly))
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(scene.shape[1], x0 + pw), min(scene.shape[0], y0 + ph)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    px0, py0 = sx0 - x0, sy0 - y0
    a_crop = alpha[py0 : py0 + sy1 - sy0, px0 : px0 + sx1 - sx0]
    # shadow: the coverage, blurred and shifted down-right, darkens the ground
    shift = np.float32([[1, 0, 6 * scale], [0, 1, 8 * scale]])
    shadow = cv2.warpAffine(cv2.GaussianBlur(alpha, (0, 0), 6 * scale + 1), shift, (pw, ph))
    sh = shadow[py0 : py0 + sy1 - sy0, px0 : px0 + sx1 - sx0] * rng.uniform(0.25, 0.45)
    region = scene[sy0:sy1, sx0:sx1].astype(np.float32) * (1 - sh[..., None])
    im = img[py0 : py0 + sy1 - sy0, px0 : px0 + sx1 - sx0]
    out = region * (1 - a_crop[..., None]) + im * a_crop[..., None]
    scene[sy0:sy1, sx0:sx1] = np.clip(out, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- ground

_SOILS: tuple[RGB, ...] = (
    (118, 92, 66),
    (96, 76, 56),
    (132, 112, 84),
    (84, 68, 50),
    (110, 98, 80),
    (140, 120, 92),
)
_GRASS: tuple[RGB, ...] = (
    (132, 136, 72),
    (164, 150, 92),
    (104, 122, 62),
    (150, 140, 100),
    (120, 110, 70),
)


def _grass_tuft(
    canvas: np.ndarray, rng: np.random.Generator, x: float, y: float, scale: float, rgb: RGB
) -> None:
    """A tuft of 4-11 curved blades rising from (x, y) px."""
    n, k = int(rng.integers(4, 12)), 4
    length = rng.uniform(10, 30, (n, 1)) * scale
    angles = rng.normal(0, 0.45, (n, 1)) + rng.normal(0, 0.25, (n, 1)) * np.arange(k) / k
    seg = length / k
    pts = np.zeros((n, k + 1, 2))
    pts[:, 0, 0] = x + rng.normal(0, 2 * scale, n)
    pts[:, 0, 1] = y
    pts[:, 1:, 0] = pts[:, :1, 0] + (np.sin(angles) * seg).cumsum(axis=1)
    pts[:, 1:, 1] = y - (np.cos(angles) * seg).cumsum(axis=1)
    thick = max(1, int(round(1.4 * scale)))
    cv2.polylines(
        canvas,
        list(np.round(pts * 16).astype(np.int32)),
        False,
        _bgr(_jitter(rng, rgb, 0.12)),
        thick,
        cv2.LINE_AA,
        shift=4,
    )


def _ellipse16(
    canvas: np.ndarray, x: float, y: float, ax: float, ay: float, angle: float, bgr: tuple
) -> None:
    """Filled anti-aliased ellipse with sub-pixel centre and axes (px), angle in degrees."""
    centre = (int(x * 16), int(y * 16))
    axes = (int(ax * 16), int(ay * 16))
    cv2.ellipse(canvas, centre, axes, angle, 0, 360, bgr, -1, cv2.LINE_AA, shift=4)


def render_ground(
    rng: np.random.Generator, width: int, height: int, scale: float, density: float | None = None
) -> np.ndarray:
    """Ground of no species: soil, stones, dead leaves, twigs, grass; (height, width, 3) uint8 BGR.

    Soil colour drifts along x (a new palette every ~1.5 frame widths). ``density``
    (clutter factor, default random 0.3-1.6) scales how much clutter lies on it.
    """
    if density is None:
        density = rng.uniform(0.3, 1.6)
    step = 360 * scale
    anchors = max(2, int(width / step) + 2)
    ax = np.linspace(0, width, anchors)
    soil_a = np.array(
        [_jitter(rng, _SOILS[i], 0.12, 6) for i in rng.integers(0, len(_SOILS), anchors)],
        np.float32,
    )
    soil_b = np.array(
        [_jitter(rng, _SOILS[i], 0.12, 6) for i in rng.integers(0, len(_SOILS), anchors)],
        np.float32,
    )
    xs = np.arange(width)
    col_a = np.stack([np.interp(xs, ax, soil_a[:, c]) for c in (2, 1, 0)], axis=1).astype(
        np.float32
    )
    col_b = np.stack([np.interp(xs, ax, soil_b[:, c]) for c in (2, 1, 0)], axis=1).astype(
        np.float32
    )
    mix = 1 / (1 + np.exp(-2.5 * _lowfreq(rng, height, width, 40 * scale)))
    bgr = col_b[None] + (col_a - col_b)[None] * mix[..., None]
    mottle = 1 + 0.08 * _lowfreq(rng, height, width, 8 * scale)
    mottle += rng.standard_normal((height, width), dtype=np.float32) * 0.05
    bgr *= mottle[..., None]
    canvas = np.clip(bgr, 0, 255, out=bgr).astype(np.uint8)

    area = width * height / (320 * 240 * scale**2)  # in reference frames
    # dead leaves
    for _ in range(rng.poisson(8 * density * area)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        pts = _place(
            _oval_outline(rng.uniform(0.25, 0.45)),
            rng.uniform(8, 20) * scale,
            rng.uniform(-math.pi, math.pi),
            x,
            y,
        )
        cv2.fillPoly(
            canvas, [_fixed(pts)], _bgr(_jitter(rng, (120, 88, 52), 0.25, 8)), cv2.LINE_AA, shift=4
        )
    # stones
    for _ in range(rng.poisson(3 * density * area)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        ax_, ay_ = rng.uniform(4, 16) * scale, rng.uniform(3, 11) * scale
        ang = rng.uniform(0, 180)
        grey = rng.uniform(110, 175)
        tone = (grey * rng.uniform(0.95, 1.05), grey, grey * rng.uniform(0.9, 1.0))
        for (ex, ey), (sx, sy), f in (
            ((x, y), (ax_, ay_), 0.7),  # dark rim
            ((x, y), (ax_ * 0.8125, ay_ * 0.8125), 1.0),  # body
            ((x - ax_ * 0.3, y - ay_ * 0.3), (ax_ * 0.3125, ay_ * 0.25), 1.2),  # highlight
        ):
            _ellipse16(canvas, ex, ey, sx, sy, ang, _bgr(tone, f))
    # twigs
    twigs = []
    for _ in range(rng.poisson(3 * density * area)):
        start = (rng.uniform(0, width), rng.uniform(0, height))
        a = rng.uniform(-math.pi, math.pi)
        main = _path(rng, start, a, rng.uniform(15, 60) * scale, 0.02 / scale, 5 * scale)
        twigs.append(main)
        for q in main[1:-1:3]:
            twigs.append(
                _path(
                    rng,
                    q,
                    a + rng.choice([-1, 1]) * rng.uniform(0.4, 1.0),
                    rng.uniform(5, 15) * scale,
                    0.0,
                    5 * scale,
                )
            )
    if twigs:
        cv2.polylines(
            canvas,
            [_fixed(t) for t in twigs],
            False,
            _bgr(_jitter(rng, (88, 66, 46), 0.2)),
            max(1, int(round(2 * scale))),
            cv2.LINE_AA,
            shift=4,
        )
    # grass
    grass = _GRASS[int(rng.integers(0, len(_GRASS)))]
    for _ in range(rng.poisson(7 * density * area)):
        _grass_tuft(canvas, rng, rng.uniform(0, width), rng.uniform(0, height), scale, grass)
    return canvas


def draw_foreground(
    scene: np.ndarray, rng: np.random.Generator, scale: float, x0: float, x1: float
) -> None:
    """A few grass tufts in front of everything between x0 and x1 (px), near the bottom."""
    h = scene.shape[0]
    n = rng.poisson(3 * (x1 - x0) / (320 * scale))
    grass = _GRASS[int(rng.integers(0, len(_GRASS)))]
    for _ in range(n):
        _grass_tuft(scene, rng, rng.uniform(x0, x1), h * rng.uniform(0.8, 1.0), scale * 1.3, grass)


# --------------------------------------------------------------------------- camera


def camera_view(
    scene: np.ndarray, cx: float, cy: float, zoom: float, roll_deg: float, size: tuple[int, int]
) -> np.ndarray:
    """The (H, W, 3) view centred on scene point (cx, cy) px, magnified ``zoom``, rolled.

    ``size``: (width, height) px. The view spans ``width / zoom`` scene px horizontally.
    """
    w, h = size
    a = math.radians(roll_deg)
    c, s = math.cos(a) / zoom, math.sin(a) / zoom
    # output (u, v) -> scene: [cx, cy] + R(a) @ ([u, v] - [w/2, h/2]) / zoom
    m = np.array([[c, -s, cx - c * w / 2 + s * h / 2], [s, c, cy - s * w / 2 - c * h / 2]])
    return cv2.warpAffine(
        scene,
        m,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def random_effects(rng: np.random.Generator) -> CameraEffects:
    """Effects drawn from the demo's distribution (walk keyframes and training samples)."""
    return CameraEffects(
        gain=float(rng.uniform(0.7, 1.25)),
        white_b=float(np.exp(rng.normal(0, 0.06))),
        white_g=float(np.exp(rng.normal(0, 0.04))),
        white_r=float(np.exp(rng.normal(0, 0.06))),
        gamma=float(rng.uniform(0.85, 1.15)),
        shade=float(rng.uniform(0.0, 0.3)),
        shade_angle=float(rng.uniform(-math.pi, math.pi)),
        blur_sigma=float(rng.uniform(0.0, 1.4) if rng.uniform() < 0.6 else 0.0),
        motion_px=float(rng.uniform(0.0, 4.0)),
        noise_sigma=float(rng.uniform(1.0, 4.0)),
    )


def apply_effects(frame: np.ndarray, fx: CameraEffects, rng: np.random.Generator) -> np.ndarray:
    """Apply ``fx`` to an (H, W, 3) uint8 BGR frame; returns a new array of the same shape."""
    h, w = frame.shape[:2]
    scale = h / REFERENCE_HEIGHT
    levels = (np.arange(256, dtype=np.float32) / 255) ** fx.gamma * 255 * fx.gain
    lut = np.stack([levels * fx.white_b, levels * fx.white_g, levels * fx.white_r], axis=1)
    lut = np.clip(lut, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    img = cv2.LUT(frame, lut).astype(np.float32)
    gx = (np.arange(w, dtype=np.float32) / w - 0.5) * (2 * fx.shade * math.cos(fx.shade_angle))
    gy = (np.arange(h, dtype=np.float32) / h - 0.5) * (2 * fx.shade * math.sin(fx.shade_angle))
    img *= (1 + gx[None, :] + gy[:, None])[..., None]
    if fx.blur_sigma * scale > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), fx.blur_sigma * scale)
    length = int(round(fx.motion_px * scale))
    if length >= 2:
        kernel = np.full((1, length), 1 / length, np.float32)
        img = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)
    img += rng.standard_normal((h, w, 1), dtype=np.float32) * fx.noise_sigma
    return np.clip(img, 0, 255, out=img).astype(np.uint8)


# --------------------------------------------------------------------------- samples


def plant_radius(rng: np.random.Generator, frame_height: int) -> float:
    """A plant's half-width, px, drawn from the demo's distribution."""
    return float(rng.uniform(*PLANT_RADIUS) * frame_height)


def render_sample(
    name: str,
    rng: np.random.Generator,
    size: int | tuple[int, int] = FRAME_SIZE,
    visible: float | None = None,
    compress: bool = True,
) -> np.ndarray:
    """One walk-like frame of a species (scientific name) or of ``"background"``.

    Returns (H, W, 3) uint8 BGR; ``size``: (width, height) px, or an int for a square.
    A species frame shows one plant of which ``visible`` (default random, >= 0.5) of its
    width lies inside the frame; a background frame shows ground and clutter, and one in
    four shows a sliver (<= 20 %) of some plant at an edge. ``compress``: pass through
    JPEG at a random quality, like the video codec does to walk frames.
    """
    w, h = (size, size) if isinstance(size, int) else size
    scale = h / REFERENCE_HEIGHT
    margin_x, margin_y = int(0.3 * w), int(0.18 * h)
    sw, sh = w + 2 * margin_x, h + 2 * margin_y
    scene = render_ground(rng, sw, sh, scale)
    zoom = float(rng.uniform(0.94, 1.07))
    view_w = w / zoom
    left = sw / 2 - view_w / 2  # view's left edge in scene px

    plant_name: str | None = name
    if name == BACKGROUND:
        plant_name = None
        if rng.uniform() < 0.25:
            plant_name = DEMO_SPECIES[int(rng.integers(0, len(DEMO_SPECIES)))].species
            visible = float(rng.uniform(0.0, 0.2))
    elif name not in _STYLES:
        raise KeyError(f"unknown species {name!r}")
    if plant_name is not None:
        radius = plant_radius(rng, h)
        width = 2 * radius
        if visible is None:
            visible = 1.0 if rng.uniform() < 0.5 else float(rng.uniform(MIN_VISIBLE, 1.0))
        if visible >= 1.0 and width <= view_w:
            x0 = left + rng.uniform(0, view_w - width)
        else:
            shown = min(visible * width, view_w)
            x0 = left + view_w - shown if rng.uniform() < 0.5 else left + shown - width
        y = sh / 2 + rng.normal(0, 0.06 * h)
        plant = PlantSpec(plant_name, x0 + radius, y, radius, int(rng.integers(0, 2**31)))
        draw_plant(scene, plant, scale)
    draw_foreground(scene, rng, scale, 0, sw)
    cy = sh / 2 + rng.normal(0, 0.03 * h)
    frame = camera_view(scene, sw / 2, cy, zoom, float(rng.normal(0, 1.5)), (w, h))
    frame = apply_effects(frame, random_effects(rng), rng)
    if compress:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 90))])
        if ok:
            frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return frame


def class_names() -> list[str]:
    """The demo model's classes: the species in ``DEMO_SPECIES`` order, then background."""
    return [s.species for s in DEMO_SPECIES] + [BACKGROUND]
