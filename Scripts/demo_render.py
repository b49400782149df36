#!/usr/bin/env python3
"""The bilingual demo model's training renderer: the shapes world drawn with as much nuisance
variation as the labels allow.

``demo_world.render`` draws the bundled sample photos (fixed geometry, two sizes, a grid layout,
one JPEG quality); a model trained only on that learns its drawing habits (the old demo model
called few circles circles on another renderer, see Docs/demo-model.md). ``render_photo`` draws
the same scenes (``demo_world.Scene``: shape, colour, count, size, texture, position,
background) with everything the caption does not say randomized:

* geometry: circles as ellipses or polygons (aspect 0.93-1.07), rectangles with rounded corners
  and aspect 0.9-1.1, triangles with jittered vertices, 5- or 6-pointed stars of varying depth,
  hearts from two constructions, crosses of varying arm width; rotations (upright-ish most of the
  time, any angle sometimes); optional outlines and drop shadows;
* anti-aliasing: drawn at 1x (hard, aliased edges) to 3x and downsampled with a random filter;
* sizes: small 0.06-0.11 and large 0.16-0.27 of the content square (radius), each shape of a
  group within +-6% of the group's size;
* placement: single shapes left/right/top/bottom/centre with random offsets; groups anywhere in
  the content square without overlap (no grid);
* colours: several prototypes per colour name, brightness and per-channel jitter; texture
  colours darker, lighter, white or black, stripes of any angle and duty, dots on a square or hex
  grid or scattered;
* backgrounds: jittered shade, linear or radial gradient, low-frequency blotches, pixel noise;
* photo: short side 48-288 px, aspect ratios from 9:16 to 2:1 (the shapes stay inside the centred
  square that CLIP preprocessing crops), JPEG quality 30-95 with 4:2:0 or 4:4:4 chroma, palette
  PNGs of 8-128 colours with or without dithering, lossless PNG.

``model_input`` then does what the model's image processor does (bicubic resize of the shortest
side, centre crop), so training sees exactly what vdb feeds the model. Everything is a function of
``(scene, seed)``. The evaluation renderer (``demo_eval_world.py``) shares no code with this one.

Needs Pillow and NumPy.
"""
from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from demo_world import Scene

# Several prototypes per colour name (sRGB); a scene picks one and jitters it.
PALETTE = {
    "red": [(220, 30, 35), (200, 20, 25), (235, 55, 45), (185, 25, 40), (245, 35, 60)],
    "green": [(35, 165, 60), (20, 130, 45), (80, 185, 70), (40, 150, 100), (60, 200, 90)],
    "blue": [(35, 80, 225), (25, 55, 170), (50, 110, 235), (20, 90, 200), (60, 70, 210)],
    "yellow": [(245, 215, 35), (250, 230, 60), (235, 200, 20), (255, 235, 100), (240, 220, 50)],
    "orange": [(250, 135, 20), (240, 115, 25), (255, 160, 40), (235, 130, 50), (250, 120, 0)],
    "purple": [(135, 45, 180), (110, 35, 150), (155, 70, 200), (120, 40, 165), (150, 50, 160)],
    "white": [(245, 245, 245), (255, 255, 255), (235, 235, 230), (240, 240, 250), (250, 248, 240)],
    "black": [(20, 20, 20), (0, 0, 0), (35, 35, 40), (25, 20, 15), (15, 20, 30)],
    "pink": [(250, 140, 195), (255, 110, 180), (245, 170, 205), (235, 120, 170), (255, 150, 215)],
    "brown": [(125, 75, 35), (100, 60, 30), (145, 90, 45), (115, 70, 45), (135, 80, 25)],
    "grey": [(128, 128, 128), (110, 110, 110), (150, 150, 150), (125, 128, 135), (140, 138, 130)],
}

ASPECTS = [(1, 1), (1, 1), (4, 3), (4, 3), (3, 4), (3, 2), (2, 3), (16, 9), (9, 16), (5, 4), (2, 1)]
SMALL_R = (0.06, 0.11)
LARGE_R = (0.16, 0.27)


def colour_of(name: str, rng: random.Random, amount: int = 14) -> tuple[int, int, int]:
    """A jittered shade of the colour ``name``: a prototype, a brightness factor, a common offset
    and a smaller per-channel offset (neutral colours get almost no tint)."""
    base = rng.choice(PALETTE[name])
    neutral = name in ("white", "black", "grey")
    f = 1.0 if neutral else rng.uniform(0.9, 1.08)
    common = rng.randint(-amount, amount)
    tint = 4 if neutral else amount // 2
    return tuple(max(0, min(255, int(v * f) + common + rng.randint(-tint, tint))) for v in base)


# ---------------------------------------------------------------- geometry

def _rotate(pts, cx, cy, rot):
    c, s = math.cos(rot), math.sin(rot)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


def _rounded_rect(a, b, rc, n=4):
    """Half-sizes a x b, corner radius rc: polygon around the origin."""
    if rc <= 0:
        return [(-a, -b), (a, -b), (a, b), (-a, b)]
    pts = []
    for (sx, sy, t0) in ((1, -1, -math.pi / 2), (1, 1, 0), (-1, 1, math.pi / 2), (-1, -1, math.pi)):
        ccx, ccy = sx * (a - rc), sy * (b - rc)
        for k in range(n + 1):
            t = t0 + (math.pi / 2) * k / n
            pts.append((ccx + rc * math.cos(t), ccy + rc * math.sin(t)))
    return pts


def _heart_parametric(r, n=40):
    pts = []
    for i in range(n):
        t = 2 * math.pi * i / n
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((x * r / 16.5, -y * r / 16.5 + r * 0.05))
    return pts


def _heart_lobes(r, lobe, n=14):
    """Two circular lobes and a point: the outline of the constructed heart."""
    cy, lx, rho = -r * 0.28, r * (1 - lobe), lobe * r
    # right lobe from its lower outer side over the top to the notch (y grows downwards)
    right = [(lx + rho * math.cos(t), cy + rho * math.sin(t))
             for t in (math.radians(40) - math.radians(220) * k / n for k in range(n + 1))]
    left = [(-x, y) for x, y in reversed(right)]
    return [(0.0, r * 0.95)] + right + left


def shape_outline(shape: str, r: float, g: dict) -> list[tuple[float, float]]:
    """Outline around the origin of a shape of radius ``r`` with geometry parameters ``g``."""
    if shape == "circle":
        n = g["circle_n"]
        return [(r * 0.92 * g["aspect"] * math.cos(2 * math.pi * k / n), r * 0.92 / g["aspect"] * math.sin(2 * math.pi * k / n))
                for k in range(n)]
    if shape == "square":
        a = r * 0.8
        return _rounded_rect(a * g["aspect"], a / g["aspect"], a * g["round"])
    if shape == "triangle":
        pts = []
        for k, t in enumerate((-math.pi / 2, math.pi / 6, 5 * math.pi / 6)):
            rr = r * g["tri_r"][k]
            tt = t + g["tri_t"][k]
            pts.append((rr * math.cos(tt), rr * math.sin(tt) + r * 0.15))
        return pts
    if shape == "star":
        p, inner = g["star_points"], g["star_inner"]
        return [((r if i % 2 == 0 else r * inner) * math.cos(-math.pi / 2 + i * math.pi / p),
                 (r if i % 2 == 0 else r * inner) * math.sin(-math.pi / 2 + i * math.pi / p) + r * 0.05)
                for i in range(2 * p)]
    if shape == "heart":
        pts = _heart_parametric(r) if g["heart_kind"] == 0 else _heart_lobes(r, g["heart_lobe"])
        return [(x * g["aspect"], y / g["aspect"]) for x, y in pts]
    if shape == "cross":
        a, b = r * 0.88, r * g["cross_w"]
        return [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)]
    raise ValueError(f"unknown shape {shape!r}")


def _geometry(shape: str, rng: random.Random) -> dict:
    """The random geometry shared by all shapes of a scene (they are 'identical shapes')."""
    g = {
        "aspect": rng.uniform(0.93, 1.07) if shape in ("circle", "heart") else rng.uniform(0.9, 1.1) ** 0.5,
        "circle_n": rng.choice([24, 32, 48, 64]),
        "round": rng.choice([0.0, 0.0, 0.0, rng.uniform(0.05, 0.3)]),
        "tri_r": [rng.uniform(0.88, 1.08) for _ in range(3)],
        "tri_t": [rng.uniform(-0.12, 0.12) for _ in range(3)],
        "star_points": 5 if rng.random() < 0.85 else 6,
        "star_inner": rng.uniform(0.36, 0.55),
        "heart_kind": rng.randrange(2),
        "heart_lobe": rng.uniform(0.5, 0.58),
        "cross_w": rng.uniform(0.22, 0.4),
    }
    # rotation: mostly upright-ish, sometimes any angle the shape allows
    period = {"circle": math.pi, "square": math.pi / 2, "triangle": 2 * math.pi / 3,
              "star": 2 * math.pi / g["star_points"], "heart": 0.0, "cross": math.pi / 2}[shape]
    if shape == "heart":
        g["rot"] = rng.uniform(-0.45, 0.45)
    elif rng.random() < 0.65:
        g["rot"] = rng.uniform(-0.2, 0.2)
    else:
        g["rot"] = rng.uniform(-period / 2, period / 2)
    g["rot_jitter"] = rng.choice([0.0, 0.0, 0.15])
    return g


def _layout(scene: Scene, rng: random.Random) -> list[tuple[float, float, float]]:
    """Centres and radii in unit coordinates of the content square."""
    lo, hi = SMALL_R if scene.size == "small" else LARGE_R
    if scene.size == "large" and scene.count >= 3:
        hi = 0.21
    r0 = rng.uniform(lo, hi)
    if scene.count == 1:
        m = r0 + 0.03
        off = rng.uniform(0.2, max(0.2, 0.5 - m))
        j = rng.uniform(-0.07, 0.07)
        cx, cy = {"left": (0.5 - off, 0.5 + j), "right": (0.5 + off, 0.5 + j), "top": (0.5 + j, 0.5 - off),
                  "bottom": (0.5 + j, 0.5 + off), "centre": (0.5 + j, 0.5 + rng.uniform(-0.07, 0.07))}[scene.position]
        cx, cy = min(max(cx, m), 1 - m), min(max(cy, m), 1 - m)
        return [(cx, cy, r0)]
    for _ in range(40):
        rs = [r0 * rng.uniform(0.94, 1.06) for _ in range(scene.count)]
        out = []
        for r in rs:
            for _ in range(60):
                cx, cy = rng.uniform(r + 0.02, 0.98 - r), rng.uniform(r + 0.02, 0.98 - r)
                if all((cx - x) ** 2 + (cy - y) ** 2 > ((r + rr) * 1.08) ** 2 for x, y, rr in out):
                    out.append((cx, cy, r))
                    break
        if len(out) == scene.count:
            return out
        r0 *= 0.95
    raise RuntimeError(f"no layout for {scene}")


# ---------------------------------------------------------------- drawing

def _background(w: int, h: int, rgb, rng: random.Random, nrng: np.random.Generator) -> np.ndarray:
    base = np.array(rgb, dtype=np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = xs / max(1, w - 1) - 0.5, ys / max(1, h - 1) - 0.5
    kind = rng.random()
    if kind < 0.45:
        a = rng.uniform(0, 2 * math.pi)
        shade = 1.0 + (xs * math.cos(a) + ys * math.sin(a)) * rng.uniform(0, 0.3)
    elif kind < 0.7:
        shade = 1.0 - (xs ** 2 + ys ** 2) * rng.uniform(0, 0.5) + rng.uniform(0, 0.08)
    else:
        shade = np.ones_like(xs)
    img = base[None, None, :] * shade[..., None]
    if rng.random() < 0.3:  # low-frequency blotches
        g = nrng.normal(0, 1, (4, 4, 3)).astype(np.float32)
        blot = np.asarray(Image.fromarray(((g - g.min()) / (np.ptp(g) + 1e-6) * 255).astype(np.uint8), "RGB")
                          .resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0 - 0.5
        img = img + blot * rng.uniform(5, 25)
    return img


def _texture_layer(size, texture: str, fg, rng: random.Random, scale: float) -> Image.Image:
    """The shapes' fill: solid, striped or dotted, as a full-canvas RGB image."""
    W, H = size
    fill = Image.new("RGB", (W, H), fg)
    if texture == "solid":
        return fill
    lum = 0.299 * fg[0] + 0.587 * fg[1] + 0.114 * fg[2]
    k = rng.random()
    if k < 0.45:
        alt = tuple(int(v * rng.uniform(0.35, 0.55)) for v in fg) if lum > 70 else tuple(int(v + (255 - v) * 0.55) for v in fg)
    elif k < 0.75:
        t = rng.uniform(0.45, 0.7)
        alt = tuple(int(v + (255 - v) * t) for v in fg) if lum < 200 else tuple(int(v * 0.45) for v in fg)
    else:
        alt = (250, 250, 250) if lum < 150 else (15, 15, 15)
    d = ImageDraw.Draw(fill)
    if texture == "striped":
        period = max(3.0, scale * rng.uniform(0.12, 0.3))
        duty = rng.uniform(0.3, 0.45)
        ang = rng.choice([0.0, math.pi / 2, math.pi / 4, -math.pi / 4, rng.uniform(0, math.pi)])
        ca, sa = math.cos(ang), math.sin(ang)
        L = W + H
        n = int(L / period) + 2
        ph = rng.uniform(0, period)
        for i in range(-n, n + 1):
            o = i * period + ph
            cx, cy = W / 2 + ca * o, H / 2 + sa * o
            hw = period * duty / 2
            d.polygon([(cx + ca * hw - sa * L, cy + sa * hw + ca * L), (cx + ca * hw + sa * L, cy + sa * hw - ca * L),
                       (cx - ca * hw + sa * L, cy - sa * hw - ca * L), (cx - ca * hw - sa * L, cy - sa * hw + ca * L)], fill=alt)
    else:  # dotted
        step = max(4.0, scale * rng.uniform(0.12, 0.28))
        dr = step * rng.uniform(0.18, 0.3)
        mode = rng.random()
        if mode < 0.75:
            hexa = mode < 0.4
            ny, nx = int(H / (step * (0.87 if hexa else 1))) + 2, int(W / step) + 2
            oy, ox = rng.uniform(0, step), rng.uniform(0, step)
            for b in range(-1, ny):
                for a in range(-1, nx):
                    x = ox + a * step + (step / 2 if hexa and b % 2 else 0)
                    y = oy + b * step * (0.87 if hexa else 1)
                    d.ellipse([x - dr, y - dr, x + dr, y + dr], fill=alt)
        else:
            for _ in range(int(W * H / step ** 2)):
                x, y = rng.uniform(0, W), rng.uniform(0, H)
                d.ellipse([x - dr, y - dr, x + dr, y + dr], fill=alt)
    return fill


def render_photo(scene: Scene, seed: int) -> Image.Image:
    """Draw ``scene`` as an RGB photo of random size and aspect ratio (see the module doc).
    The shapes lie inside the centred square whose side is the photo's shorter side."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    short = int(48 + 240 * rng.random() ** 1.3)
    aw, ah = rng.choice(ASPECTS)
    if aw >= ah:
        h, w = short, int(round(short * aw / ah))
    else:
        w, h = short, int(round(short * ah / aw))
    ss = rng.choice([1, 2, 2, 3]) if short * 3 <= 700 else rng.choice([1, 2])
    W, H, C = w * ss, h * ss, min(w, h) * ss
    ox, oy = (W - C) / 2, (H - C) / 2

    bg_rgb = colour_of(scene.background, rng, 18)
    canvas = Image.fromarray(np.clip(_background(w, h, bg_rgb, rng, nrng), 0, 255).astype(np.uint8), "RGB")
    if ss > 1:
        canvas = canvas.resize((W, H), Image.BILINEAR)
    fg = colour_of(scene.colour, rng, 14)
    g = _geometry(scene.shape, rng)
    layout = _layout(scene, rng)

    mask = Image.new("L", (W, H), 0)
    md = ImageDraw.Draw(mask)
    polys = []
    for cx, cy, r in layout:
        px, py, pr = ox + cx * C, oy + cy * C, r * C
        rot = g["rot"] + rng.uniform(-g["rot_jitter"], g["rot_jitter"])
        if scene.shape == "circle" and rng.random() < 0.5 and abs(g["aspect"] - 1) < 0.04:
            e = pr * 0.92
            md.ellipse([px - e, py - e, px + e, py + e], fill=255)
            polys.append(("ellipse", [px - e, py - e, px + e, py + e]))
        else:
            poly = _rotate(shape_outline(scene.shape, pr, g), px, py, rot)
            md.polygon(poly, fill=255)
            polys.append(("polygon", poly))

    if rng.random() < 0.15:  # drop shadow
        dx, dy = (rng.uniform(-0.02, 0.02) * C for _ in range(2))
        shadow = mask.transform(mask.size, Image.AFFINE, (1, 0, -dx, 0, 1, -dy)).filter(ImageFilter.GaussianBlur(max(1, C * 0.01)))
        dark = Image.new("RGB", (W, H), tuple(int(v * 0.55) for v in bg_rgb))
        canvas.paste(dark, (0, 0), shadow.point(lambda v: int(v * 0.6)))

    # the fill only needs to cover the shapes' bounding box
    x0 = max(0, int(min(ox + (cx - 1.25 * r) * C for cx, _, r in layout)) - 2)
    y0 = max(0, int(min(oy + (cy - 1.25 * r) * C for _, cy, r in layout)) - 2)
    x1 = min(W, int(max(ox + (cx + 1.25 * r) * C for cx, _, r in layout)) + 3)
    y1 = min(H, int(max(oy + (cy + 1.25 * r) * C for _, cy, r in layout)) + 3)
    fill = _texture_layer((x1 - x0, y1 - y0), scene.texture, fg, rng, layout[0][2] * C)
    canvas.paste(fill, (x0, y0), mask.crop((x0, y0, x1, y1)))

    if rng.random() < 0.2:  # outline
        oc = tuple(int(v * 0.4) for v in fg) if rng.random() < 0.6 else (0, 0, 0)
        width = max(1, int(round(rng.uniform(0.01, 0.025) * C)))
        d = ImageDraw.Draw(canvas)
        for kind, xy in polys:
            if kind == "ellipse":
                d.ellipse(xy, outline=oc, width=width)
            else:
                d.polygon(xy, outline=oc, width=width)

    if ss > 1:
        canvas = canvas.resize((w, h), rng.choice([Image.BOX, Image.BILINEAR, Image.LANCZOS, Image.BICUBIC]))
    if rng.random() < 0.1:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))
    sigma = rng.choice([0.0, 2.0, 4.0, rng.uniform(0, 9)])
    if sigma > 0:
        arr = np.asarray(canvas, dtype=np.float32) + nrng.normal(0, sigma, (h, w, 3)).astype(np.float32)
        canvas = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return canvas


def encode_photo(img: Image.Image, rng: random.Random) -> Image.Image:
    """A JPEG (quality 30-95), palette PNG (8-128 colours) or lossless round trip, decoded."""
    k = rng.random()
    buf = io.BytesIO()
    if k < 0.6:
        img.save(buf, "JPEG", quality=rng.randint(30, 95), subsampling=rng.choice([0, 2, 2]))
    elif k < 0.8:
        pal = img.quantize(colors=rng.choice([8, 16, 32, 64, 128]), method=rng.choice([0, 2]),
                           dither=rng.choice([Image.Dither.NONE, Image.Dither.FLOYDSTEINBERG]))
        pal.save(buf, "PNG")
    else:
        return img
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def model_input(img: Image.Image, size: int) -> np.ndarray:
    """What the saved image processor does: bicubic resize of the shortest side to ``size``
    (the longer side to int(size * long / short)), centre crop ``size`` x ``size``; uint8 HWC."""
    w, h = img.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    img = img.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def training_image(scene: Scene, seed: int, size: int) -> np.ndarray:
    """One training image: rendered, encoded, decoded, preprocessed (uint8 ``size`` x ``size`` x 3)."""
    img = render_photo(scene, seed)
    img = encode_photo(img, random.Random(seed ^ 0x5EED))
    return model_input(img, size)


if __name__ == "__main__":
    import os
    import sys
    import demo_world as world
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/demo-render"
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0)
    for i in range(24):
        s = world.random_scene(rng)
        img = encode_photo(render_photo(s, i), random.Random(i))
        img.save(os.path.join(out, f"{i:02d}-{s.count}-{s.size}-{s.texture}-{s.colour}-{s.shape}-{s.position or 'group'}-on-{s.background}.png"))
    print("wrote", out)
