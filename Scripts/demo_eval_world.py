#!/usr/bin/env python3
"""An independent renderer of the demo model's world, for evaluation only.

It draws the same vocabulary (six shapes, ten colours, one to four shapes, small or large, solid,
striped or dotted, five positions for a single shape, eleven backgrounds) with code that shares
nothing with the training renderers (``demo_world.py``, ``demo_render.py``): it does not import
them, uses no PIL drawing, and its distributions differ on purpose.

* Rasterization in NumPy: each shape is an implicit region (a disc, a rotated box, three
  half-planes, an even-odd star polygon test, the algebraic heart (x^2 + y^2 - 1)^3 <= x^2 y^3,
  two crossed bars), sampled 4 x 4 per pixel for anti-aliasing; stripes are a thresholded
  sine, dots a lattice distance test, evaluated on the same sub-samples.
* Colours from another palette (Material Design shades), flat or vertically shaded backgrounds
  with fine paper noise.
* Sizes: radius 0.065-0.10 (small) or 0.17-0.23 (large) of the content square.
* Placement: a single shape at offset 0.24-0.3 from the centre (or in the centre); groups in a
  row, a column, a diagonal, a triangle or a 2 x 2 block, jittered.
* Photos 120-360 px on the short side, aspect ratios 1:1, 5:4, 4:5, 2:1, 1:2, 7:5; encoded as
  JPEG quality 20-90, palette PNG (PIL's max-coverage quantizer, 24-200 colours) or plain PNG.
  The shapes stay inside the centred square (what CLIP preprocessing crops).

Captions are written here too (one canonical phrasing per language), so the evaluation also
tests phrasings the training captions were not written by:
"two small striped red triangles on a blue background" / "蓝色背景上的两个带条纹的红色小三角形".

Needs NumPy and Pillow (only to encode and decode the files).
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

SHAPES = ("circle", "square", "triangle", "star", "heart", "cross")
COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "white", "black", "pink", "brown")
BACKGROUNDS = COLOURS + ("grey",)
SIZES = ("small", "large")
TEXTURES = ("solid", "striped", "dotted")
POSITIONS = ("left", "right", "top", "bottom", "centre")

MATERIAL = {
    "red": [(229, 57, 53), (211, 47, 47), (198, 40, 40)],
    "green": [(67, 160, 71), (56, 142, 60), (46, 125, 50)],
    "blue": [(30, 136, 229), (25, 118, 210), (21, 101, 192)],
    "yellow": [(253, 216, 53), (255, 235, 59), (251, 192, 45)],
    "orange": [(251, 140, 0), (245, 124, 0), (255, 152, 0)],
    "purple": [(142, 36, 170), (123, 31, 162), (106, 27, 154)],
    "white": [(250, 250, 250), (255, 255, 255), (238, 238, 238)],
    "black": [(33, 33, 33), (10, 10, 10), (25, 25, 25)],
    "pink": [(240, 98, 146), (244, 143, 177), (236, 64, 122)],
    "brown": [(121, 85, 72), (109, 76, 65), (93, 64, 55)],
    "grey": [(158, 158, 158), (117, 117, 117), (189, 189, 189)],
}
SS = 4  # sub-samples per pixel side


@dataclass(frozen=True)
class EvalScene:
    shape: str
    colour: str
    count: int
    size: str
    texture: str
    position: str  # "" for groups
    background: str
    seed: int

    def key(self):
        return (self.shape, self.colour, self.count, self.size, self.texture, self.position, self.background)


def scenes(n: int, seed: int) -> list[EvalScene]:
    """``n`` scenes with distinct attribute combinations, uniform over the vocabulary."""
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        colour = rng.choice(COLOURS)
        count = rng.randint(1, 4)
        s = EvalScene(rng.choice(SHAPES), colour, count, rng.choice(SIZES), rng.choice(TEXTURES),
                      rng.choice(POSITIONS) if count == 1 else "",
                      rng.choice([b for b in BACKGROUNDS if b != colour]), rng.randrange(1 << 31))
        if s.key() not in seen:
            seen.add(s.key())
            out.append(s)
    return out


# ---------------------------------------------------------------- regions

def _inside(shape: str, u: np.ndarray, v: np.ndarray, p: dict) -> np.ndarray:
    """Boolean mask of points (u, v), in units of the shape's radius around its centre (v down)."""
    c, s = math.cos(p["angle"]), math.sin(p["angle"])
    x, y = c * u + s * v, -s * u + c * v
    if shape == "circle":
        return x * x + y * y <= 0.9 ** 2
    if shape == "square":
        return np.maximum(np.abs(x), np.abs(y)) <= 0.78
    if shape == "triangle":
        y = y - 0.18  # centre of the bounding box, not of the circumcircle
        inside = np.ones_like(x, dtype=bool)
        for k in range(3):
            a = -math.pi / 2 + 2 * math.pi * k / 3  # vertex directions; edges face the opposite way
            nx, ny = -math.cos(a), -math.sin(a)
            inside &= x * nx + y * ny <= 0.5
        return inside
    if shape == "star":
        pts = [((1.0 if i % 2 == 0 else p["inner"]) * math.cos(-math.pi / 2 + i * math.pi / 5),
                (1.0 if i % 2 == 0 else p["inner"]) * math.sin(-math.pi / 2 + i * math.pi / 5) + 0.08) for i in range(10)]
        odd = np.zeros_like(x, dtype=bool)
        for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]):
            crosses = (y1 > y) != (y2 > y)
            xi = x1 + (y - y1) * (x2 - x1) / ((y2 - y1) if y2 != y1 else 1e-9)
            odd ^= crosses & (x < xi)
        return odd
    if shape == "heart":
        hx, hy = x * 1.15, -(y * 1.15) + 0.15  # the algebraic heart's lobes are on top (v grows down)
        return (hx * hx + hy * hy - 1) ** 3 - hx * hx * hy ** 3 <= 0
    if shape == "cross":
        w = p["arm"]
        return ((np.abs(x) <= w) & (np.abs(y) <= 0.9)) | ((np.abs(y) <= w) & (np.abs(x) <= 0.9))
    raise ValueError(shape)


def _alt(texture: str, X: np.ndarray, Y: np.ndarray, p: dict) -> np.ndarray | None:
    """Where the texture's second colour shows (pixel coordinates of the photo)."""
    if texture == "solid":
        return None
    if texture == "striped":
        t = X * math.cos(p["stripe_angle"]) + Y * math.sin(p["stripe_angle"])
        return np.sin(2 * math.pi * t / p["period"]) > p["duty"]
    gx = (X / p["period"]) % 1.0 - 0.5
    gy = (Y / p["period"]) % 1.0 - 0.5
    return gx * gx + gy * gy <= p["dot"] ** 2


def _centres(scene: EvalScene, r: float, rng: random.Random) -> list[tuple[float, float]]:
    """Centres in unit coordinates of the content square."""
    if scene.count == 1:
        o = rng.uniform(0.24, 0.3)
        o = min(o, 0.47 - r)
        j = lambda: rng.uniform(-0.04, 0.04)  # noqa: E731
        return [{"left": (0.5 - o + j(), 0.5 + j()), "right": (0.5 + o + j(), 0.5 + j()),
                 "top": (0.5 + j(), 0.5 - o + j()), "bottom": (0.5 + j(), 0.5 + o + j()),
                 "centre": (0.5 + j(), 0.5 + j())}[scene.position]]
    n = scene.count
    arrangements = ["row", "column", "diagonal"] + (["triangle"] if n == 3 else []) + (["block"] if n == 4 else [])
    kind = rng.choice(arrangements)
    gap = 2 * r * rng.uniform(1.15, 1.35)
    span = gap * (n - 1)
    if kind in ("row", "column", "diagonal") and span > 0.94 - 2 * r:
        kind = {3: "triangle", 4: "block"}.get(n, kind)
        if kind in ("row", "column", "diagonal"):
            gap = (0.94 - 2 * r) / (n - 1)
    if kind == "row":
        pts = [(0.5 + (i - (n - 1) / 2) * gap, 0.5) for i in range(n)]
    elif kind == "column":
        pts = [(0.5, 0.5 + (i - (n - 1) / 2) * gap) for i in range(n)]
    elif kind == "diagonal":
        g = gap / math.sqrt(2)
        sign = rng.choice([-1, 1])
        pts = [(0.5 + (i - (n - 1) / 2) * g, 0.5 + sign * (i - (n - 1) / 2) * g) for i in range(n)]
    elif kind == "triangle":
        pts = [(0.5 + 0.6 * gap * math.cos(a), 0.52 + 0.6 * gap * math.sin(a))
               for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    else:
        h = gap / 2
        pts = [(0.5 - h, 0.5 - h), (0.5 + h, 0.5 - h), (0.5 - h, 0.5 + h), (0.5 + h, 0.5 + h)]
    j = 0.15 * r
    return [(min(max(x + rng.uniform(-j, j), r + 0.02), 0.98 - r), min(max(y + rng.uniform(-j, j), r + 0.02), 0.98 - r))
            for x, y in pts]


def _shade(name: str, rng: random.Random) -> np.ndarray:
    base = np.array(rng.choice(MATERIAL[name]), dtype=np.float32)
    return np.clip(base + rng.uniform(-12, 12), 0, 255)


def draw(scene: EvalScene) -> Image.Image:
    """The scene as an RGB photo (size, aspect ratio and every unnamed detail from its seed)."""
    rng = random.Random(scene.seed)
    short = rng.randint(120, 360)
    aw, ah = rng.choice([(1, 1), (5, 4), (4, 5), (2, 1), (1, 2), (7, 5)])
    w, h = (round(short * aw / ah), short) if aw >= ah else (short, round(short * ah / aw))
    side = min(w, h)
    ox, oy = (w - side) / 2, (h - side) / 2

    bg = _shade(scene.background, rng)
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = bg
    if rng.random() < 0.5:
        img *= (1 + rng.uniform(-0.12, 0.12) * (np.arange(h, dtype=np.float32)[:, None, None] / h - 0.5))
    nrng = np.random.default_rng(scene.seed)
    img += nrng.uniform(-6, 6, (h, w, 1)).astype(np.float32)

    fg = _shade(scene.colour, rng)
    lum = float(fg @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    alt = fg * 0.5 if lum > 90 else fg + (255 - fg) * 0.5
    r = (rng.uniform(0.065, 0.10) if scene.size == "small" else rng.uniform(0.17, 0.23 if scene.count < 3 else 0.2))
    rpx = r * side
    p = {"angle": {"circle": 0.0, "square": rng.uniform(-0.5, 0.5), "triangle": rng.uniform(-0.7, 0.7),
                   "star": rng.uniform(-0.6, 0.6), "heart": rng.uniform(-0.3, 0.3), "cross": rng.uniform(-0.25, 0.25)}[scene.shape],
         "inner": rng.uniform(0.42, 0.5), "arm": rng.uniform(0.26, 0.34),
         "stripe_angle": rng.uniform(0, math.pi), "period": max(3.0, rpx * rng.uniform(0.3, 0.45)),
         "duty": rng.uniform(0.05, 0.35), "dot": rng.uniform(0.22, 0.3)}
    for cx, cy in _centres(scene, r, rng):
        px, py = ox + cx * side, oy + cy * side
        x0, x1 = max(0, int(px - 1.2 * rpx)), min(w, int(px + 1.2 * rpx) + 2)
        y0, y1 = max(0, int(py - 1.2 * rpx)), min(h, int(py + 1.2 * rpx) + 2)
        sub = (np.arange(SS, dtype=np.float32) + 0.5) / SS
        X = (np.arange(x0, x1, dtype=np.float32)[:, None] + sub[None, :]).reshape(-1)
        Y = (np.arange(y0, y1, dtype=np.float32)[:, None] + sub[None, :]).reshape(-1)
        XX, YY = np.meshgrid(X, Y)
        inside = _inside(scene.shape, (XX - px) / rpx, (YY - py) / rpx, p)
        a = _alt(scene.texture, XX, YY, p)
        colour = np.where((inside & a)[..., None], alt, fg) if a is not None else np.broadcast_to(fg, inside.shape + (3,))
        hh, ww = y1 - y0, x1 - x0
        cov = inside.reshape(hh, SS, ww, SS).mean(axis=(1, 3))[..., None]
        col = (colour * inside[..., None]).reshape(hh, SS, ww, SS, 3).sum(axis=(1, 3)) / (SS * SS)
        img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - cov) + col
    return Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), "RGB")


def photo_bytes(scene: EvalScene) -> tuple[bytes, str]:
    """The photo encoded as a file: JPEG (70%, quality 20-90), palette PNG (15%) or PNG."""
    rng = random.Random(scene.seed ^ 0xE7A1)
    img = draw(scene)
    buf = io.BytesIO()
    k = rng.random()
    if k < 0.7:
        img.save(buf, "JPEG", quality=rng.randint(20, 90))
        return buf.getvalue(), "jpg"
    if k < 0.85:
        img.quantize(colors=rng.randint(24, 200), method=Image.Quantize.MAXCOVERAGE).save(buf, "PNG")
    else:
        img.save(buf, "PNG")
    return buf.getvalue(), "png"


# ---------------------------------------------------------------- captions

EN_NUMBER = {1: "a", 2: "two", 3: "three", 4: "four"}
EN_PLURAL = {s: s + "s" for s in SHAPES}
EN_PLURAL["cross"] = "crosses"
EN_WHERE = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom",
            "centre": "in the middle"}
ZH_NUMBER = {1: "一个", 2: "两个", 3: "三个", 4: "四个"}
ZH_COLOUR = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "orange": "橙色", "purple": "紫色",
             "white": "白色", "black": "黑色", "pink": "粉色", "brown": "棕色", "grey": "灰色"}
ZH_SHAPE = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星星", "heart": "爱心", "cross": "十字"}
ZH_SIZE = {"small": "小", "large": "大"}
ZH_TEXTURE = {"solid": "纯色的", "striped": "带条纹的", "dotted": "带圆点的"}
ZH_WHERE = {"left": "左边", "right": "右边", "top": "上方", "bottom": "下方", "centre": "中间"}


def caption_en(s: EvalScene) -> str:
    """Every attribute named: "a large solid green circle on the left, on a grey background"."""
    noun = s.shape if s.count == 1 else EN_PLURAL[s.shape]
    phrase = f"{s.size} {s.texture} {s.colour} {noun}"
    if s.count == 1:
        phrase = ("an " if phrase[0] in "aeiou" else "a ") + phrase + " " + EN_WHERE[s.position] + ","
    else:
        phrase = f"{EN_NUMBER[s.count]} {phrase}"
    return f"{phrase} on {'an' if s.background[0] in 'aeiou' else 'a'} {s.background} background"


def caption_zh(s: EvalScene) -> str:
    """Every attribute named: "灰色背景上左边的一个纯色的绿色大圆形"."""
    where = ZH_WHERE[s.position] if s.count == 1 else ""
    return (f"{ZH_COLOUR[s.background]}背景上{where}的{ZH_NUMBER[s.count]}{ZH_TEXTURE[s.texture]}"
            f"{ZH_COLOUR[s.colour]}{ZH_SIZE[s.size]}{ZH_SHAPE[s.shape]}")


def caption(s: EvalScene, lang: str) -> str:
    return caption_en(s) if lang == "en" else caption_zh(s)


# Zero-shot prompts: one attribute named, singular or plural as the scene is.
def prompt(attribute: str, value, lang: str, plural: bool) -> str:
    if lang == "en":
        if attribute == "colour":
            return f"a photo of {value} shapes" if plural else f"a photo of {'an' if value[0] in 'aeiou' else 'a'} {value} shape"
        if attribute == "shape":
            return f"a photo of {EN_PLURAL[value]}" if plural else f"a photo of {'an' if value[0] in 'aeiou' else 'a'} {value}"
        if attribute == "count":
            return f"a photo of {EN_NUMBER[value]} shape" if value == 1 else f"a photo of {EN_NUMBER[value]} shapes"
        if attribute == "size":
            return f"a photo of {value} shapes" if plural else f"a photo of a {value} shape"
        if attribute == "texture":
            return f"a photo of {value} shapes" if plural else f"a photo of a {value} shape"
        if attribute == "background":
            return f"a shape on {'an' if value[0] in 'aeiou' else 'a'} {value} background"
        if attribute == "position":
            return f"a shape {EN_WHERE[value]}"
    else:
        some = "一些" if plural else "一个"
        if attribute == "colour":
            return f"{some}{ZH_COLOUR[value]}的图形"
        if attribute == "shape":
            return f"{some}{ZH_SHAPE[value]}"
        if attribute == "count":
            return f"{ZH_NUMBER[value]}图形"
        if attribute == "size":
            return f"{some}{ZH_SIZE[value]}图形"
        if attribute == "texture":
            return f"{some}{ZH_TEXTURE[value]}图形"
        if attribute == "background":
            return f"{ZH_COLOUR[value]}背景上的图形"
        if attribute == "position":
            return f"{ZH_WHERE[value]}的一个图形"
    raise ValueError(attribute)


def with_changed(s: EvalScene, attribute: str, rng: random.Random) -> EvalScene:
    """The scene with one attribute changed (for 'true caption vs. altered caption' tests)."""
    from dataclasses import replace
    if attribute == "count":
        n = rng.choice([k for k in (1, 2, 3, 4) if k != s.count])
        return replace(s, count=n, position=(s.position or rng.choice(POSITIONS)) if n == 1 else "")
    if attribute == "shape":
        return replace(s, shape=rng.choice([x for x in SHAPES if x != s.shape]))
    if attribute == "colour":
        return replace(s, colour=rng.choice([x for x in COLOURS if x not in (s.colour, s.background)]))
    raise ValueError(attribute)


if __name__ == "__main__":
    import os
    import sys
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/demo-eval-world"
    os.makedirs(out, exist_ok=True)
    for i, s in enumerate(scenes(24, 7)):
        data, ext = photo_bytes(s)
        with open(os.path.join(out, f"{i:02d}.{ext}"), "wb") as f:
            f.write(data)
        print(i, caption_en(s), "|", caption_zh(s))
