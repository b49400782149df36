#!/usr/bin/env python3
"""onnxruntime reference for the CLIP tower benchmark (same protocol as torch_bench.py and
vdb-clip-bench).

    V/bin/python Benchmarks/clip/onnx_bench.py MODEL_DIR [--threads 1,2] [--image-batch 32]
                                               [--text-batch 256] [--repeats 3] [--json]

Venv: torch, transformers, onnx, onnxruntime (torch 1.13, transformers 4.40.2, onnx 1.17+,
onnxruntime 1.32 were used for Docs/benchmarks-clip.md). The first run exports both towers of
the Hugging Face checkpoint with `torch.onnx.export` (opset 14, dynamic batch) into
MODEL_DIR/onnx/ and checks that onnxruntime's embeddings match PyTorch's (max abs difference
printed; the export fails above 1e-3). Sessions use the CPU provider with full graph
optimization, `intra_op_num_threads = threads` and one inter-op thread. Timing: median of
`--repeats` batches after one warm-up batch, fp32.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def export(model_dir, out_dir):
    """Writes image.onnx and text.onnx (once) and returns their paths."""
    import torch
    from transformers import CLIPModel

    image_path, text_path = os.path.join(out_dir, "image.onnx"), os.path.join(out_dir, "text.onnx")
    stamp = os.path.join(out_dir, "source.json")
    weights = os.path.join(model_dir, "model.safetensors")
    source = {"weights_mtime": os.path.getmtime(weights) if os.path.exists(weights) else None}
    if os.path.exists(image_path) and os.path.exists(text_path) and os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == source:
                return image_path, text_path
    os.makedirs(out_dir, exist_ok=True)
    model = CLIPModel.from_pretrained(model_dir).eval()
    cfg = model.config

    class Image(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m.get_image_features(pixel_values=pixel_values)

    class Text(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m.get_text_features(input_ids=input_ids)

    s = cfg.vision_config.image_size
    px = torch.randn((2, 3, s, s), generator=torch.Generator().manual_seed(1))
    ids = text_ids(cfg, 2, torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref_image = model.get_image_features(pixel_values=px).numpy()
        ref_text = model.get_text_features(input_ids=ids).numpy()
    torch.onnx.export(Image(model), (px,), image_path, input_names=["pixel_values"], output_names=["embeds"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "embeds": {0: "batch"}}, opset_version=14)
    torch.onnx.export(Text(model), (ids,), text_path, input_names=["input_ids"], output_names=["embeds"],
                      dynamic_axes={"input_ids": {0: "batch"}, "embeds": {0: "batch"}}, opset_version=14)
    img = session(image_path, 1).run(None, {"pixel_values": px.numpy()})[0]
    txt = session(text_path, 1).run(None, {"input_ids": ids.numpy()})[0]
    di, dt = float(np.abs(img - ref_image).max()), float(np.abs(txt - ref_text).max())
    print(f"onnx export: max |onnxruntime - torch| image {di:.2e}, text {dt:.2e}", file=sys.stderr)
    if max(di, dt) > 1e-3:
        sys.exit(f"onnxruntime's embeddings differ from PyTorch's by {max(di, dt):.2e}; the export is wrong")
    with open(stamp, "w") as f:
        json.dump(source, f)
    return image_path, text_path


def text_ids(cfg, n, generator):
    """Random full-length token ids, BOS first and EOS (the largest id) last, as torch_bench.py."""
    import torch

    ctx, vocab = cfg.text_config.max_position_embeddings, cfg.text_config.vocab_size
    ids = torch.randint(0, vocab - 2, (n, ctx), generator=generator)
    ids[:, 0] = vocab - 2
    ids[:, -1] = vocab - 1
    return ids


def session(path, threads):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def timed(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--image-batch", type=int, default=32)
    ap.add_argument("--text-batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--onnx-dir", default="", help="where the exported towers go (default MODEL/onnx)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    import torch
    from transformers import CLIPConfig

    image_path, text_path = export(a.model, a.onnx_dir or os.path.join(a.model, "onnx"))
    cfg = CLIPConfig.from_pretrained(a.model)
    g = torch.Generator().manual_seed(0)
    results = []
    for threads in [int(t) for t in a.threads.split(",")]:
        if a.only != "text":
            s = cfg.vision_config.image_size
            px = torch.randn((a.image_batch, 3, s, s), generator=g).numpy()
            sess = session(image_path, threads)
            sess.run(None, {"pixel_values": px[: max(1, a.image_batch // 4)]})
            rate = a.image_batch / timed(lambda: sess.run(None, {"pixel_values": px}), a.repeats)
            results.append({"tower": "image", "threads": threads, "batch": a.image_batch, "per_second": rate})
            if not a.json:
                print(f"onnxruntime image tower threads={threads} batch={a.image_batch}  {rate:.2f} images/s")
        if a.only != "image":
            ids = text_ids(cfg, a.text_batch, g).numpy()
            sess = session(text_path, threads)
            sess.run(None, {"input_ids": ids[: max(1, a.text_batch // 8)]})
            rate = a.text_batch / timed(lambda: sess.run(None, {"input_ids": ids}), a.repeats)
            results.append({"tower": "text", "threads": threads, "batch": a.text_batch, "per_second": rate})
            if not a.json:
                print(f"onnxruntime text tower  threads={threads} batch={a.text_batch}  {rate:.2f} texts/s")
    if a.json:
        print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
