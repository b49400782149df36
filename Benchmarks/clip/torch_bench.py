#!/usr/bin/env python3
"""PyTorch reference for the CLIP tower benchmark (same protocol as vdb-clip-bench).

    /work/venv/bin/python Benchmarks/clip/torch_bench.py MODEL_DIR [--threads 1,2] [--image-batch 32]
                                                    [--text-batch 256] [--repeats 3] [--json]

Venv: python3 -m venv V && V/bin/pip install torch transformers safetensors (torch 1.13 /
transformers 4.40 were used for Docs/benchmarks-clip.md). Median of `--repeats` timed batches
after one warm-up batch; fp32; `torch.set_num_threads(threads)`; inference mode.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import CLIPModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--image-batch", type=int, default=32)
    ap.add_argument("--text-batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    model = CLIPModel.from_pretrained(a.model).eval()
    cfg = model.config
    results = []
    g = torch.Generator().manual_seed(0)
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            if a.only != "text":
                s = cfg.vision_config.image_size
                px = torch.randn((a.image_batch, 3, s, s), generator=g)
                model.get_image_features(pixel_values=px[: max(1, a.image_batch // 4)])
                ts = []
                for _ in range(a.repeats):
                    t0 = time.perf_counter(); model.get_image_features(pixel_values=px); ts.append(time.perf_counter() - t0)
                rate = a.image_batch / statistics.median(ts)
                results.append({"tower": "image", "threads": threads, "batch": a.image_batch, "per_second": rate})
                if not a.json:
                    print(f"torch image tower threads={threads} batch={a.image_batch}  {rate:.2f} images/s  (median of {a.repeats})")
            if a.only != "image":
                ctx, vocab = cfg.text_config.max_position_embeddings, cfg.text_config.vocab_size
                ids = torch.randint(0, vocab - 2, (a.text_batch, ctx), generator=g)
                ids[:, 0] = vocab - 2
                ids[:, -1] = vocab - 1
                model.get_text_features(input_ids=ids[: max(1, a.text_batch // 8)])
                ts = []
                for _ in range(a.repeats):
                    t0 = time.perf_counter(); model.get_text_features(input_ids=ids); ts.append(time.perf_counter() - t0)
                rate = a.text_batch / statistics.median(ts)
                results.append({"tower": "text", "threads": threads, "batch": a.text_batch, "per_second": rate})
                if not a.json:
                    print(f"torch text tower  threads={threads} batch={a.text_batch}  {rate:.2f} texts/s  (77 tokens, median of {a.repeats})")
    if a.json:
        print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
