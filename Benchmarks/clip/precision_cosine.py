#!/usr/bin/env python3
"""Accuracy cost of `--precision bfloat16`: the cosine of each bfloat16 embedding to its float32
one, through `vdb embed`, on the parity fixtures (random tiny CLIP and Chinese-CLIP checkpoints)
and on the bundled demo model with the sample photos.

    swift build -c release --product vdb
    python3 Benchmarks/clip/precision_cosine.py [--vdb .build/release/vdb]
"""
import argparse
import glob
import json
import math
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEXTS = ["a photo of a cat", "two small red triangles on a blue background", "a green circle",
         "three yellow squares", "a dog running on the beach at sunset", "黑色背景上的一颗黄色星星"]


def embed(vdb, model, precision, texts, images):
    args = [vdb, "embed", "--model", model, "--precision", precision, "--json", "--threads", "2"]
    for t in texts:
        args += ["--text", t]
    for i in images:
        args += ["--image", i]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [json.loads(line)["embedding"] for line in out.splitlines() if line.strip()]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vdb", default=os.path.join(ROOT, ".build", "release", "vdb"))
    a = ap.parse_args()
    fixtures = os.path.join(ROOT, "Tests", "VDBCLIPTests", "Fixtures")
    fixture_images = sorted(glob.glob(os.path.join(fixtures, "clip-images", "*")))[:6]
    cases = [("tiny-clip (parity fixture)", os.path.join(fixtures, "tiny-clip"), fixture_images),
             ("tiny-chinese-clip (parity fixture)", os.path.join(fixtures, "tiny-chinese-clip"), fixture_images),
             ("demo model, sample photos", os.path.join(ROOT, "Models", "demo-clip"),
              sorted(glob.glob(os.path.join(ROOT, "Samples", "photos", "*.jpg")))[:20])]
    for name, model, images in cases:
        f32 = embed(a.vdb, model, "float32", TEXTS, images)
        bf16 = embed(a.vdb, model, "bfloat16", TEXTS, images)
        n = len(TEXTS)
        texts = [cosine(x, y) for x, y in zip(f32[:n], bf16[:n])]
        imgs = [cosine(x, y) for x, y in zip(f32[n:], bf16[n:])]
        print(f"{name}: cosine(bfloat16, float32) texts min {min(texts):.6f} over {len(texts)}, "
              f"images min {min(imgs):.6f} over {len(imgs)}")


if __name__ == "__main__":
    main()
