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
optimization, `intra_op_num_threads = threads` and one inter-op thread. Timing and inputs as tower_bench.py, fp32.
"""
import json
import os
import sys

import numpy as np

import tower_bench


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

    class Tower(torch.nn.Module):
        """One tower of the model as a module of one input, for the exporter."""

        def __init__(self, m, method, argument):
            super().__init__()
            self.m, self.method, self.argument = m, method, argument

        def forward(self, x):
            return getattr(self.m, self.method)(**{self.argument: x})

    px = tower_bench.pixels(cfg, 2, torch.Generator().manual_seed(1))
    ids = tower_bench.text_ids(cfg, 2, torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref_image = model.get_image_features(pixel_values=px).numpy()
        ref_text = model.get_text_features(input_ids=ids).numpy()
    torch.onnx.export(Tower(model, "get_image_features", "pixel_values"), (px,), image_path, input_names=["pixel_values"], output_names=["embeds"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "embeds": {0: "batch"}}, opset_version=14)
    torch.onnx.export(Tower(model, "get_text_features", "input_ids"), (ids,), text_path, input_names=["input_ids"], output_names=["embeds"],
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


def session(path, threads):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def main():
    ap = tower_bench.parse_args(__doc__)
    ap.add_argument("--onnx-dir", default="", help="where the exported towers go (default MODEL/onnx)")
    a = ap.parse_args()
    from transformers import CLIPConfig

    image_path, text_path = export(a.model, a.onnx_dir or os.path.join(a.model, "onnx"))
    cfg = CLIPConfig.from_pretrained(a.model)
    bench = tower_bench.Runner("onnxruntime", a)
    inputs = {"image": (image_path, "pixel_values", a.image_batch, 4,
                        lambda: tower_bench.pixels(cfg, a.image_batch, bench.generator).numpy()),
              "text": (text_path, "input_ids", a.text_batch, 8,
                       lambda: tower_bench.text_ids(cfg, a.text_batch, bench.generator).numpy())}
    for threads in bench.thread_counts():
        for tower, (path, name, batch, warm_part, make) in inputs.items():
            if not bench.wants(tower):
                continue
            x, sess = make(), session(path, threads)
            bench.measure(tower, threads, batch,
                          lambda: sess.run(None, {name: x[: max(1, batch // warm_part)]}),
                          lambda: sess.run(None, {name: x}))
    bench.finish()

if __name__ == "__main__":
    main()
