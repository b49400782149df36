#!/usr/bin/env python3
"""The demo model's world: seeded procedural scenes of coloured shapes, with captions.

Every scene is one group of identical shapes on a background:

* shape      circle, square, triangle, star, heart, cross
* colour     red, green, blue, yellow, orange, purple, white, black, pink, brown
* count      one to four
* size       small or large
* texture    solid, striped or dotted
* position   left, right, top, bottom or centre (single shapes only)
* background one of the colours above or grey (never the shape's colour)

``Scene`` holds the attributes, ``render`` draws it with PIL, ``caption`` writes
an English description that mentions all or a random subset of the attributes
("two small red triangles on a blue background", "a photo of a large striped
green circle on the left", "a red shape"), and returns the constraint it
expresses so that a training loss can tell which images in a batch a caption
matches. The scene content is drawn inside a centred square, so a wider photo
keeps everything inside the square centre crop that CLIP preprocessing takes.

``render`` and ``caption`` draw and describe the bundled sample photos
(``train_demo_clip.py --samples``; they must not change, or the photos do) and
were the English demo model's training data. The bilingual model's training data
uses ``Scene`` and the vocabulary from here with its own renderer
(``demo_render.py``) and captions (``demo_captions.py``). Needs Pillow and NumPy
(any recent version).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, asdict

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ["circle", "square", "triangle", "star", "heart", "cross"]
COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "white", "black", "pink", "brown"]
BACKGROUNDS = COLOURS + ["grey"]
COUNTS = ["one", "two", "three", "four"]
SIZES = ["small", "large"]
TEXTURES = ["solid", "striped", "dotted"]
POSITIONS = ["left", "right", "top", "bottom", "centre"]
NO_POSITION = len(POSITIONS)  # position code of scenes with more than one shape

RGB = {
    "red": (220, 30, 35),
    "green": (35, 165, 60),
    "blue": (35, 80, 225),
    "yellow": (245, 215, 35),
    "orange": (250, 135, 20),
    "purple": (135, 45, 180),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "pink": (250, 140, 195),
    "brown": (125, 75, 35),
    "grey": (128, 128, 128),
}

# Attribute order of Scene.codes() and of caption constraints.
ATTRIBUTES = ["shape", "colour", "count", "multi", "size", "texture", "position", "background"]
ANY = -1  # constraint value: the caption does not say


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    count: int  # 1...4
    size: str
    texture: str
    position: str  # one of POSITIONS, or "" when count > 1
    background: str
    seed: int  # layout jitter, colour jitter and noise

    def codes(self) -> list[int]:
        """Integer attribute codes in ``ATTRIBUTES`` order."""
        return [
            SHAPES.index(self.shape),
            COLOURS.index(self.colour),
            self.count - 1,
            int(self.count > 1),
            SIZES.index(self.size),
            TEXTURES.index(self.texture),
            POSITIONS.index(self.position) if self.position else NO_POSITION,
            BACKGROUNDS.index(self.background),
        ]

    def to_dict(self) -> dict:
        return asdict(self)


def random_scene(rng: random.Random, **fixed) -> Scene:
    """A uniformly random scene; keyword arguments fix attributes."""
    shape = fixed.get("shape", rng.choice(SHAPES))
    colour = fixed.get("colour", rng.choice(COLOURS))
    count = fixed.get("count", rng.randint(1, 4))
    size = fixed.get("size", rng.choice(SIZES))
    texture = fixed.get("texture", rng.choice(TEXTURES))
    if count == 1:
        position = fixed.get("position", rng.choice(POSITIONS))
    else:
        position = ""
    background = fixed.get("background", rng.choice([b for b in BACKGROUNDS if b != colour]))
    if background == colour:
        raise ValueError(f"background and shape are both {colour}")
    return Scene(shape, colour, count, size, texture, position, background, rng.randrange(1 << 30))


# ---------------------------------------------------------------- rendering

def _shape_polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]] | None:
    """Outline of a shape of 'radius' r centred at (cx, cy); None for circles."""
    def rotate(pts):
        c, s = math.cos(rot), math.sin(rot)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]

    if shape == "circle":
        return None
    if shape == "square":
        a = r * 0.86
        return rotate([(-a, -a), (a, -a), (a, a), (-a, a)])
    if shape == "triangle":
        return rotate([(r * math.cos(t), r * math.sin(t) + r * 0.12)
                       for t in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)])
    if shape == "star":
        pts = []
        for i in range(10):
            t = -math.pi / 2 + i * math.pi / 5
            rr = r if i % 2 == 0 else r * 0.42
            pts.append((rr * math.cos(t), rr * math.sin(t) + r * 0.06))
        return rotate(pts)
    if shape == "heart":
        pts = []
        for i in range(48):
            t = 2 * math.pi * i / 48
            x = 16 * math.sin(t) ** 3
            y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            pts.append((x * r / 16.5, -y * r / 16.5 + r * 0.05))
        return rotate(pts)
    if shape == "cross":
        a, b = r * 0.9, r * 0.32
        return rotate([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b),
                       (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)])
    raise ValueError(f"unknown shape {shape!r}")


def _jitter(rgb, rng: random.Random, amount: int = 14):
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in rgb)


def _layout(scene: Scene, rng: random.Random) -> list[tuple[float, float, float]]:
    """Shape centres and radii in unit coordinates of the content square."""
    if scene.size == "large":
        r = rng.uniform(0.17, 0.21)
    else:
        r = rng.uniform(0.085, 0.105)
    if scene.count == 1:
        off = 0.27 if scene.size == "large" else 0.30
        cx, cy = {
            "left": (0.5 - off, 0.5),
            "right": (0.5 + off, 0.5),
            "top": (0.5, 0.5 - off),
            "bottom": (0.5, 0.5 + off),
            "centre": (0.5, 0.5),
        }[scene.position]
        j = 0.03
        return [(cx + rng.uniform(-j, j), cy + rng.uniform(-j, j), r)]
    grid = 2 if scene.size == "large" else 3
    cells = rng.sample([(i, j) for i in range(grid) for j in range(grid)], scene.count)
    cell = 1.0 / grid
    out = []
    for i, j in cells:
        slack = max(0.0, cell / 2 - r - 0.01)
        cx = (i + 0.5) * cell + rng.uniform(-slack, slack)
        cy = (j + 0.5) * cell + rng.uniform(-slack, slack)
        out.append((cx, cy, r))
    return out


def render(scene: Scene, width: int = 128, height: int | None = None, content: int | None = None,
           noise: bool = True) -> Image.Image:
    """Draw ``scene`` as an RGB image of ``width`` x ``height``.

    The shapes live in a centred ``content`` x ``content`` square (default: the
    shorter side); the background fills the whole image. ``noise=False`` skips
    the faint pixel noise (PNG files compress much better without it).
    """
    height = height or width
    content = content or min(width, height)
    rng = random.Random(scene.seed)
    ss = 2  # supersampling for smooth edges
    W, H, C = width * ss, height * ss, content * ss
    ox, oy = (W - C) / 2, (H - C) / 2

    # Background: jittered colour, a soft gradient, a little noise.
    bg = np.array(_jitter(RGB[scene.background], rng, 10), dtype=np.float32)
    grad_dir = rng.uniform(0, 2 * math.pi)
    strength = rng.uniform(0.0, 0.12)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    g = ((xs / W - 0.5) * math.cos(grad_dir) + (ys / H - 0.5) * math.sin(grad_dir)) * strength
    img = bg[None, None, :] * (1.0 + g[..., None])
    img = np.clip(img, 0, 255).astype(np.uint8)
    canvas = Image.fromarray(img, "RGB")

    fg = _jitter(RGB[scene.colour], rng, 14)
    lum = 0.299 * fg[0] + 0.587 * fg[1] + 0.114 * fg[2]
    if lum > 70:
        alt = tuple(int(v * 0.45) for v in fg)
    else:
        alt = (150, 150, 150)

    rot = rng.uniform(-0.25, 0.25)
    stripe_angle = rng.choice([0.0, math.pi / 4, math.pi / 2, -math.pi / 4])
    for cx, cy, r in _layout(scene, rng):
        px, py, pr = ox + cx * C, oy + cy * C, r * C
        mask = Image.new("L", (W, H), 0)
        d = ImageDraw.Draw(mask)
        poly = _shape_polygon(scene.shape, px, py, pr, rot)
        if poly is None:
            d.ellipse([px - pr * 0.92, py - pr * 0.92, px + pr * 0.92, py + pr * 0.92], fill=255)
        else:
            d.polygon(poly, fill=255)
        fill = Image.new("RGB", (W, H), fg)
        if scene.texture == "striped":
            period = max(4.0, pr * 0.5)
            sd = ImageDraw.Draw(fill)
            ca, sa = math.cos(stripe_angle), math.sin(stripe_angle)
            n = int(2 * pr / period) + 3
            for k in range(-n, n + 1):
                # a band of width period/2 perpendicular to (ca, sa)
                o = k * period
                cxk, cyk = px + ca * o, py + sa * o
                hw, L = period / 4, pr * 2
                pts = [(cxk + ca * hw - sa * L, cyk + sa * hw + ca * L),
                       (cxk + ca * hw + sa * L, cyk + sa * hw - ca * L),
                       (cxk - ca * hw + sa * L, cyk - sa * hw - ca * L),
                       (cxk - ca * hw - sa * L, cyk - sa * hw + ca * L)]
                sd.polygon(pts, fill=alt)
        elif scene.texture == "dotted":
            sd = ImageDraw.Draw(fill)
            step = max(5.0, pr * 0.5)
            dr = step * 0.24
            n = int(pr / step) + 2
            for a in range(-n, n + 1):
                for b in range(-n, n + 1):
                    x = px + a * step + (step / 2 if b % 2 else 0)
                    y = py + b * step * 0.87
                    sd.ellipse([x - dr, y - dr, x + dr, y + dr], fill=alt)
        canvas.paste(fill, (0, 0), mask)

    out = canvas.resize((width, height), Image.BILINEAR)
    if not noise:
        return out
    noise = np.asarray(out, dtype=np.int16) + np.random.default_rng(scene.seed).integers(-5, 6, (height, width, 3))
    return Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8), "RGB")


# ---------------------------------------------------------------- captions

SIZE_WORDS = {"small": ["small", "small", "little", "tiny"], "large": ["large", "large", "big"]}
TEXTURE_WORDS = {"solid": ["solid", "plain"], "striped": ["striped"], "dotted": ["dotted", "spotted"]}
POSITION_WORDS = {
    "left": ["on the left", "on the left side"],
    "right": ["on the right", "on the right side"],
    "top": ["at the top", "near the top"],
    "bottom": ["at the bottom", "near the bottom"],
    "centre": ["in the centre", "in the center", "in the middle"],
}
BG_WORDS = {b: [b] for b in BACKGROUNDS}
BG_WORDS["grey"] = ["grey", "gray"]
COUNT_WORDS = {2: "two", 3: "three", 4: "four"}
PLURAL = {s: s + "s" for s in SHAPES}
PLURAL["cross"] = "crosses"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(scene: Scene, rng: random.Random, full: bool = False) -> tuple[str, list[int]]:
    """A description of ``scene`` and the constraint it expresses.

    With ``full`` every attribute is mentioned; otherwise a random subset
    (always at least the shape or the colour). The constraint lists, in
    ``ATTRIBUTES`` order, the attribute code the caption requires or ``ANY``.
    Singular or plural always tells whether there is more than one shape.
    """
    codes = scene.codes()
    if full:
        m = {k: True for k in ATTRIBUTES}
    else:
        m = {
            "shape": rng.random() < 0.85,
            "colour": rng.random() < 0.85,
            "count": rng.random() < 0.75,
            "size": rng.random() < 0.5,
            "texture": rng.random() < (0.6 if scene.texture != "solid" else 0.3),
            "position": rng.random() < 0.55,
            "background": rng.random() < 0.5,
        }
        if not m["shape"] and not m["colour"]:
            m[rng.choice(["shape", "colour"])] = True
    multi = scene.count > 1
    if not multi:
        m["count"] = True  # "a" = one
    if multi:
        m["position"] = False

    words = []
    if multi:
        if m["count"]:
            words.append(COUNT_WORDS[scene.count])
        elif rng.random() < 0.5:
            words.append("some")
    if m["size"]:
        words.append(rng.choice(SIZE_WORDS[scene.size]))
    tex = rng.choice(TEXTURE_WORDS[scene.texture]) if m["texture"] else None
    col = scene.colour if m["colour"] else None
    if tex and col and rng.random() < 0.3:
        words += [col, tex]
    else:
        words += [w for w in (tex, col) if w]
    noun = scene.shape if m["shape"] else "shape"
    words.append(PLURAL.get(noun, noun + "s") if multi else noun)
    np_ = " ".join(words)
    if not multi:
        np_ = ("one " if rng.random() < 0.15 else _article(np_) + " ") + np_

    pos = " " + rng.choice(POSITION_WORDS[scene.position]) if m["position"] else ""
    bgw = rng.choice(BG_WORDS[scene.background])
    t = rng.random()
    if m["background"] and t < 0.2:
        text = f"{_article(bgw)} {bgw} background with {np_}{pos}"
    else:
        bg = ""
        if m["background"]:
            bg = rng.choice([f" on {_article(bgw)} {bgw} background", f" against {_article(bgw)} {bgw} background", f" on {bgw}"])
        prefix = rng.choice(["", "", "a photo of ", "a picture of ", "an image of ", "a drawing of "])
        text = f"{prefix}{np_}{pos}{bg}"

    constraint = [
        codes[0] if m["shape"] else ANY,
        codes[1] if m["colour"] else ANY,
        codes[2] if m["count"] else ANY,
        codes[3],
        codes[4] if m["size"] else ANY,
        codes[5] if m["texture"] else ANY,
        codes[6] if m["position"] else ANY,
        codes[7] if m["background"] else ANY,
    ]
    return text, constraint


def matches(constraint: list[int], codes: list[int]) -> bool:
    """Whether a scene with attribute ``codes`` satisfies a caption ``constraint``."""
    return all(c == ANY or c == a for c, a in zip(constraint, codes))


if __name__ == "__main__":
    import sys
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    for i in range(12):
        s = random_scene(rng)
        print(caption(s, rng, full=True)[0], "|", caption(s, rng)[0])
