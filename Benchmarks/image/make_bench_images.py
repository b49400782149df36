#!/usr/bin/env python3
"""Writes N photo-like 1024x768 JPEGs (quality 90, 4:2:0) for the preprocessing benchmark.
Usage: python make_bench_images.py OUTDIR [N]   (venv: see Scripts/make_image_fixtures.py)"""
import os, sys
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Scripts"))
from make_image_fixtures import scene  # noqa: E402

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 64
os.makedirs(out, exist_ok=True)
for i in range(n):
    Image.fromarray(scene(1024, 768, 1000 + i, noise=3.0)).save(os.path.join(out, f"img{i:03d}.jpg"), quality=90)
print(f"{n} images in {out}")
