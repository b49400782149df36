"""The protocol both reference scripts share (torch_bench.py, onnx_bench.py), so PyTorch and
onnxruntime are timed exactly as vdb-clip-bench times vdb: the same arguments, the same inputs
(seeded random pixels; full-length token ids with BOS first and EOS last), one warm-up call on a
quarter (images) or an eighth (texts) of the batch, then the median of ``--repeats`` timed
batches; one JSON line ``{"results": [...]}`` with ``--json``."""
import argparse
import json
import statistics
import time

import torch


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("model")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--image-batch", type=int, default=32)
    ap.add_argument("--text-batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="image or text")
    ap.add_argument("--json", action="store_true")
    return ap


def pixels(cfg, n, generator):
    s = cfg.vision_config.image_size
    return torch.randn((n, 3, s, s), generator=generator)


def text_ids(cfg, n, generator):
    """Random full-length token ids, BOS (vocab - 2) first and EOS (the largest id) last."""
    ctx, vocab = cfg.text_config.max_position_embeddings, cfg.text_config.vocab_size
    ids = torch.randint(0, vocab - 2, (n, ctx), generator=generator)
    ids[:, 0] = vocab - 2
    ids[:, -1] = vocab - 1
    return ids


class Runner:
    """Times the towers for each thread count and collects the results."""

    def __init__(self, name, args):
        self.name, self.args, self.results = name, args, []
        self.generator = torch.Generator().manual_seed(0)

    def thread_counts(self):
        return [int(t) for t in self.args.threads.split(",")]

    def wants(self, tower):
        return self.args.only in ("", tower)

    def measure(self, tower, threads, batch, warm, run):
        """``warm()`` once, then the median of ``--repeats`` timed ``run()`` calls."""
        warm()
        ts = []
        for _ in range(self.args.repeats):
            t0 = time.perf_counter()
            run()
            ts.append(time.perf_counter() - t0)
        rate = batch / statistics.median(ts)
        self.results.append({"tower": tower, "threads": threads, "batch": batch, "per_second": rate})
        if not self.args.json:
            unit = "images" if tower == "image" else "texts"
            print(f"{self.name} {tower} tower threads={threads} batch={batch}  {rate:.2f} {unit}/s  "
                  f"(median of {self.args.repeats})")

    def finish(self):
        if self.args.json:
            print(json.dumps({"results": self.results}))
