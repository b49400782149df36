#!/usr/bin/env python3
"""PyTorch reference for the CLIP tower benchmark (same protocol as vdb-clip-bench; see
tower_bench.py).

    V/bin/python Benchmarks/clip/torch_bench.py MODEL_DIR [--threads 1,2] [--image-batch 32]
                                                    [--text-batch 256] [--repeats 3] [--json]

Venv: Debian's torch (python3-torch) in a venv with system site packages, plus transformers
4.40.2 (torch 1.13 / transformers 4.40 were used for Docs/benchmarks-clip.md). fp32;
`torch.set_num_threads(threads)`; inference mode.
"""
import torch
from transformers import CLIPModel

import tower_bench


def main():
    a = tower_bench.parse_args(__doc__).parse_args()
    model = CLIPModel.from_pretrained(a.model).eval()
    cfg = model.config
    bench = tower_bench.Runner("torch", a)
    for threads in bench.thread_counts():
        torch.set_num_threads(threads)
        with torch.inference_mode():
            if bench.wants("image"):
                px = tower_bench.pixels(cfg, a.image_batch, bench.generator)
                bench.measure("image", threads, a.image_batch,
                              lambda: model.get_image_features(pixel_values=px[: max(1, a.image_batch // 4)]),
                              lambda: model.get_image_features(pixel_values=px))
            if bench.wants("text"):
                ids = tower_bench.text_ids(cfg, a.text_batch, bench.generator)
                bench.measure("text", threads, a.text_batch,
                              lambda: model.get_text_features(input_ids=ids[: max(1, a.text_batch // 8)]),
                              lambda: model.get_text_features(input_ids=ids))
    bench.finish()


if __name__ == "__main__":
    main()
