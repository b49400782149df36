#!/usr/bin/env python3
"""Generates the image fixtures and reference CLIP pixel values for vdb's image preprocessing tests.

Writes Tests/VDBCLIPTests/Fixtures/images/:
  *.jpg / *.png      small synthetic test images (good and bad ones)
  ref/<name>.png     reference `pixel_values` stored losslessly as the 224x224 8-bit RGB image they
                     were computed from: pixel_values[c,y,x] == (png[y,x,c] * (1/255) - mean[c]) / std[c]
                     (float64 product cast to float32, then float32 arithmetic, as transformers does).
                     The script checks that this inversion reproduces transformers' float32 output
                     (max error printed, < 1e-6), and index.json keeps the sum and the first values
                     of the original float output so tests can check the formula end to end.
  index.json         per image: format, stored size, orientation, expected error or reference file,
                     and how the reference was computed.

The reference is `transformers.CLIPImageProcessor()` (default CLIP configuration: shortest edge 224,
bicubic, centre crop 224, rescale 1/255, OpenAI mean/std) applied to the image as opened by Pillow,
with these documented pre-steps (where vdb deliberately does what users expect and the transformers
4.40 reference does not):
  * EXIF orientation: the reference is computed on `ImageOps.exif_transpose(image)`.
  * Alpha (RGBA, LA, palette + tRNS): composited on white first, exactly as newer transformers'
    `convert_to_rgb` does (RGBA over an opaque white RGBA background with `Image.alpha_composite`);
    transformers 4.40 only calls `image.convert("RGB")`, which drops alpha.
  * 16-bit grayscale: Pillow opens it as mode "I" and `convert("RGB")` clips values > 255 to 255
    (a Pillow quirk); vdb keeps the high byte (as Pillow does for 16-bit RGB), so the reference is
    computed on the high-byte 8-bit image.

Run from the package root:
    python3 -m venv /path/venv && /path/venv/bin/pip install "transformers==4.40.2" "pillow==9.4.0" "numpy<2"
    /path/venv/bin/python Scripts/make_image_fixtures.py
(On the development machines: /work/venv/bin/python Scripts/make_image_fixtures.py)
The output is deterministic (fixed seeds); files are small (total well under 1.5 MB).
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps
from transformers import CLIPImageProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "VDBCLIPTests", "Fixtures", "images")
REF = os.path.join(OUT, "ref")

rng = np.random.default_rng(20261125)
MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])
worst = [0.0]


def scene(w, h, seed, noise=0.8):
    """Photo-like synthetic RGB content: gradients, soft blobs, edges, fine texture."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / max(w - 1, 1), yy / max(h - 1, 1)
    img = np.stack([
        90 + 120 * u + 30 * np.sin(6 * v + seed),
        60 + 150 * v * (1 - u) + 20 * np.cos(9 * u),
        170 - 110 * u * v + 25 * np.sin(4 * (u + v) + seed),
    ], axis=-1)
    for _ in range(6):
        cx, cy = r.uniform(0, w), r.uniform(0, h)
        rad = r.uniform(0.05, 0.3) * min(w, h) + 1
        col = r.uniform(0, 255, 3)
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        m = np.clip((rad - d) / 2.0, 0, 1)[..., None]   # hard-ish edge
        img = img * (1 - m) + col * m
    # a few thin lines (high frequency, stress the resampler)
    for _ in range(4):
        if r.random() < 0.5:
            y = int(r.integers(0, h)); img[y:y + 1, :, :] = r.uniform(0, 255, 3)
        else:
            x = int(r.integers(0, w)); img[:, x:x + 1, :] = r.uniform(0, 255, 3)
    img += r.normal(0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def png_raw(width, height, bit_depth, color_type, rows_bytes):
    """Minimal PNG writer (for 16-bit RGB, which Pillow cannot write)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows_bytes)
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def png_adam7(rgb):
    """8-bit RGB PNG with Adam7 interlacing, written by hand (Pillow cannot write interlaced PNGs)."""
    h, w, _ = rgb.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = rgb[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        raw += b"".join(b"\x00" + sub[y].tobytes() for y in range(sub.shape[0]))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def exif_bytes(orientation):
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


def composite_white(im):
    """Newer transformers convert_to_rgb: RGBA over opaque white, then RGB."""
    rgba = im.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255))
    return Image.alpha_composite(bg, rgba).convert("RGB")


def main():
    os.makedirs(REF, exist_ok=True)
    for f in os.listdir(OUT):
        p = os.path.join(OUT, f)
        if os.path.isfile(p):
            os.remove(p)
    for f in os.listdir(REF):
        os.remove(os.path.join(REF, f))

    proc = CLIPImageProcessor()  # CLIP defaults (== openai/clip-vit-base-patch32 preprocessor)
    entries = []

    def save_bytes(name, data):
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)

    def add(name, fmt, data, ref_image=None, ref_note="PIL.Image.open", orientation=1, error=None,
            size=None):
        save_bytes(name, data)
        e = {"file": name, "bytes": len(data)}
        if fmt:
            e["format"] = fmt
        if error:
            e["error"] = error
        if size:
            e["width"], e["height"] = size
        e["orientation"] = orientation
        if ref_image is not None:
            pv = proc(images=ref_image, return_tensors="np",
                      input_data_format="channels_last")["pixel_values"][0].astype(np.float32)
            assert pv.shape == (3, 224, 224), pv.shape
            u8 = np.rint((pv.astype(np.float64) * STD[:, None, None] + MEAN[:, None, None]) * 255.0)
            assert u8.min() >= 0 and u8.max() <= 255
            u8 = u8.astype(np.uint8)
            back = ((u8.astype(np.float64) * (1 / 255)).astype(np.float32) - MEAN.astype(np.float32)[:, None, None]) \
                / STD.astype(np.float32)[:, None, None]
            err = float(np.abs(back - pv).max())
            assert err < 1e-6, (name, err)
            worst[0] = max(worst[0], err)
            ref = "ref/" + name + ".png"
            Image.fromarray(np.ascontiguousarray(u8.transpose(1, 2, 0)), "RGB").save(
                os.path.join(OUT, ref), optimize=True)
            e["reference"] = ref
            e["reference_sum"] = float(pv.astype(np.float64).sum())
            e["reference_head"] = [float(x) for x in pv[:, 0, :4].reshape(-1)]
            e["reference_input"] = ref_note
        entries.append(e)

    def jpeg(im, **kw):
        b = io.BytesIO(); im.save(b, "JPEG", **kw); return b.getvalue()

    def png(im, **kw):
        b = io.BytesIO(); im.save(b, "PNG", **kw); return b.getvalue()

    def reopen(data):
        return Image.open(io.BytesIO(data))

    # --- JPEG, colour, various subsamplings and encodings
    d = jpeg(Image.fromarray(scene(640, 480, 1)), quality=90)               # 4:2:0 default
    add("rgb_420.jpg", "jpeg", d, reopen(d), size=(640, 480))
    d = jpeg(Image.fromarray(scene(500, 375, 2)), quality=92, subsampling=0)  # 4:4:4
    add("rgb_444.jpg", "jpeg", d, reopen(d), size=(500, 375))
    d = jpeg(Image.fromarray(scene(480, 640, 3)), quality=88, progressive=True)
    add("progressive.jpg", "jpeg", d, reopen(d), size=(480, 640))
    d = jpeg(Image.fromarray(scene(1024, 768, 4)), quality=85)
    add("photo_1024x768.jpg", "jpeg", d, reopen(d), size=(1024, 768))
    # larger JPEG: exercises DCT-scaled decoding (reference from the full-size decode)
    d = jpeg(Image.fromarray(scene(1920, 1440, 5)), quality=80)
    add("large_1920x1440.jpg", "jpeg", d, reopen(d), size=(1920, 1440))

    # --- grayscale
    g = Image.fromarray(scene(400, 300, 6)).convert("L")
    d = jpeg(g, quality=90)
    add("gray.jpg", "jpeg", d, reopen(d), size=(400, 300))
    d = png(Image.fromarray(scene(300, 400, 7)).convert("L"))
    add("gray.png", "png", d, reopen(d), size=(300, 400))

    # --- PNG colour
    d = png(Image.fromarray(scene(200, 150, 8)))
    add("rgb.png", "png", d, reopen(d), size=(200, 150))

    # --- alpha
    a = scene(256, 200, 10)
    alpha = np.clip(np.linspace(0, 255, 256)[None, :] + np.zeros((200, 1)), 0, 255).astype(np.uint8)
    alpha[:40, :] = 0           # fully transparent band
    alpha[-40:, :] = 255        # opaque band
    rgba = Image.fromarray(np.dstack([a, alpha]), "RGBA")
    d = png(rgba)
    add("rgba.png", "png", d, composite_white(reopen(d)), "alpha composited on white", size=(256, 200))
    la = Image.fromarray(np.dstack([np.array(Image.fromarray(scene(180, 120, 11)).convert("L")),
                                    alpha[:120, :180]]), "LA")
    d = png(la)
    add("gray_alpha.png", "png", d, composite_white(reopen(d)), "alpha composited on white", size=(180, 120))
    pal = Image.fromarray(scene(200, 150, 12)).quantize(colors=32, method=Image.Quantize.MEDIANCUT)
    pal.info["transparency"] = 0
    d = png(pal, transparency=0)
    add("palette_trns.png", "png", d, composite_white(reopen(d)), "alpha composited on white", size=(200, 150))

    # --- 16-bit
    s16 = scene(96, 72, 13).astype(np.uint16) * 257 + rng.integers(0, 257, (72, 96, 3)).astype(np.uint16)
    rows = [s16[y].astype(">u2").tobytes() for y in range(72)]
    d = png_raw(96, 72, 16, 2, rows)
    add("rgb16.png", "png", d, reopen(d), "PIL.Image.open (16-bit RGB -> high byte)", size=(96, 72))
    g16 = (np.array(Image.fromarray(scene(150, 100, 14)).convert("L")).astype(np.uint16) * 257)
    rows = [g16[y].astype(">u2").tobytes() for y in range(100)]
    d = png_raw(150, 100, 16, 0, rows)
    add("gray16.png", "png", d, Image.fromarray((g16 >> 8).astype(np.uint8), "L"),
        "high byte of the 16-bit samples (Pillow would clip mode I to 255)", size=(150, 100))

    # --- CMYK JPEG (Pillow writes an Adobe marker and inverted CMYK)
    cm = Image.fromarray(scene(300, 200, 15)).convert("CMYK")
    d = jpeg(cm, quality=92)
    add("cmyk.jpg", "jpeg", d, reopen(d), "PIL.Image.open (CMYK, converted by Pillow)", size=(300, 200))

    # --- EXIF orientation, all 8 (small, asymmetric content)
    base = Image.fromarray(scene(96, 64, 16))
    for o in range(1, 9):
        d = jpeg(base, quality=95, exif=exif_bytes(o))
        add(f"exif_o{o}.jpg", "jpeg", d, ImageOps.exif_transpose(reopen(d)),
            "ImageOps.exif_transpose(PIL.Image.open)", orientation=o, size=(96, 64))
    big = Image.fromarray(scene(320, 240, 17))
    for o in (3, 6):
        d = jpeg(big, quality=90, exif=exif_bytes(o))
        add(f"exif_orient{o}.jpg", "jpeg", d, ImageOps.exif_transpose(reopen(d)),
            "ImageOps.exif_transpose(PIL.Image.open)", orientation=o, size=(320, 240))

    # --- odd aspect and tiny
    d = png(Image.fromarray(scene(17, 900, 18)))
    add("tall_17x900.png", "png", d, reopen(d), size=(17, 900))
    d = jpeg(Image.fromarray(scene(900, 17, 19)), quality=92)
    add("wide_900x17.jpg", "jpeg", d, reopen(d), size=(900, 17))
    d = png(Image.fromarray(np.array([[[200, 30, 90]]], dtype=np.uint8)))
    add("one_pixel.png", "png", d, reopen(d), size=(1, 1))
    d = jpeg(Image.fromarray(scene(1, 1, 20)), quality=95)
    add("one_pixel.jpg", "jpeg", d, reopen(d), size=(1, 1))
    d = png(Image.fromarray(scene(224, 224, 21, noise=0)))
    add("exact_224.png", "png", d, reopen(d), size=(224, 224))
    d = png(Image.fromarray(scene(224, 300, 22, noise=0)))
    add("width_224.png", "png", d, reopen(d), size=(224, 300))

    # --- low bit depths and interlacing
    bits1 = Image.fromarray(np.array(Image.fromarray(scene(90, 70, 27)).convert("L")) > 128)
    d = png(bits1)
    add("gray_1bit.png", "png", d, reopen(d), "PIL.Image.open (mode 1, 1-bit PNG)", size=(90, 70))
    pal4 = Image.fromarray(scene(110, 80, 28)).quantize(colors=12)
    d = png(pal4, bits=4)
    add("palette_4bit.png", "png", d, reopen(d), "PIL.Image.open (4-bit palette)", size=(110, 80))
    d = png_adam7(scene(150, 100, 29))
    add("interlaced.png", "png", d, reopen(d), "PIL.Image.open (Adam7 interlaced)", size=(150, 100))

    # --- bad files
    full = jpeg(Image.fromarray(scene(320, 240, 23)), quality=90)
    add("truncated.jpg", "jpeg", full[: len(full) * 6 // 10], error="truncated", size=(320, 240))
    add("empty.jpg", None, b"", error="empty")
    add("text.jpg", None, b"this is not an image, just text saved with a .jpg name\n", error="unknownFormat")
    d = png(Image.fromarray(scene(120, 90, 24)))
    add("png_named.jpg", "png", d, reopen(d), "PIL.Image.open (a PNG with a .jpg name)", size=(120, 90))
    full_png = png(Image.fromarray(scene(120, 90, 25)))
    add("truncated.png", "png", full_png[: len(full_png) // 2], error="truncated", size=(120, 90))
    corrupt = bytearray(jpeg(Image.fromarray(scene(64, 64, 26)), quality=90))
    # destroy the quantization table marker: "DQT" -> bogus table id
    i = corrupt.find(b"\xff\xdb")
    corrupt[i + 4] = 0x1F
    add("corrupt.jpg", "jpeg", bytes(corrupt), error="corrupt", size=(64, 64))

    with open(os.path.join(OUT, "index.json"), "w") as fh:
        json.dump({"generator": "Scripts/make_image_fixtures.py",
                   "reference": "transformers %s CLIPImageProcessor(), Pillow %s"
                   % (__import__("transformers").__version__, Image.__version__),
                   "images": entries}, fh, indent=1)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"float32 reconstruction of the references: max abs error {worst[0]:.2e}")
    print(f"{len(entries)} fixtures, {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    sys.exit(main())
