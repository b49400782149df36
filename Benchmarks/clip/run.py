#!/usr/bin/env python3
"""Side-by-side CLIP tower benchmark: vdb (vdb-clip-bench) vs PyTorch and onnxruntime, alternating,
same machine.

    swift build -c release --product vdb-clip-bench
    V/bin/python Scripts/make_clip_fixtures.py --vit-b32 /tmp/vitb32
    V/bin/python Benchmarks/clip/run.py /tmp/vitb32 [--rounds 3] [--threads 1,2]
            [--image-batch 32] [--text-batch 64] [--repeats 3] [--references torch,onnxruntime]
            [--precisions float32,bfloat16] [--accuracy 64]

V is a venv with torch, transformers 4.40.2, onnx and onnxruntime (see onnx_bench.py; Debian's
python3-torch in a venv with system site packages works). Each round runs every reference, then
vdb (one process each per thread count), so all see the same machine load; the report gives the
median over rounds of each side's per-round median, vdb's ratio to the best reference per round
(median, min, max), and vdb's peak RSS against the weights' size. vdb runs once per precision
(`--precisions`; bfloat16 is opt-in, so it gets its own rows), and `--accuracy N` reports the cosine of
N bfloat16 embeddings of random inputs to their float32 ones.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--image-batch", type=int, default=32)
    ap.add_argument("--text-batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bench", default=os.path.join(ROOT, ".build", "release", "vdb-clip-bench"))
    ap.add_argument("--references", default="torch,onnxruntime")
    ap.add_argument("--precisions", default="float32,bfloat16")
    ap.add_argument("--accuracy", type=int, default=64)
    a = ap.parse_args()
    common = ["--image-batch", str(a.image_batch), "--text-batch", str(a.text_batch), "--repeats", str(a.repeats), "--json"]
    scripts = {"torch": "torch_bench.py", "onnxruntime": "onnx_bench.py"}
    refs = [r for r in a.references.split(",") if r]
    for r in refs:
        if r not in scripts:
            sys.exit(f"unknown reference {r!r}; known: {', '.join(scripts)}")
    rows = {}  # (tower, threads, precision) -> {system: [per-round rates], "ratio": [vdb / best reference]}
    rss = []
    weights = 0
    for r in range(a.rounds):
        for t in a.threads.split(","):
            outs = {ref: run([sys.executable, os.path.join(HERE, scripts[ref]), a.model, "--threads", t] + common)
                    for ref in refs}
            for prec in a.precisions.split(","):
                vr = run([a.bench, a.model, "--threads", t, "--precision", prec] + common)
                if prec == "float32":
                    rss.append(vr["peak_rss_bytes"]); weights = vr["weights_bytes"]
                isa = vr.get("vdb_isa", "?")
                for y in vr["results"]:
                    record(rows, refs, outs, y, t, prec, r)
    names = {"torch": "PyTorch", "onnxruntime": "onnxruntime"}
    print("| tower | threads | " + " | ".join(f"{names[r]} /s" for r in refs) +
          " | vdb precision | vdb /s | vdb / best reference (median, min-max over rounds) |")
    print("| --- | ---: | " + " | ".join("---:" for _ in refs) + " | --- | ---: | --- |")
    for (tower, t, prec), d in sorted(rows.items()):
        unit = "images" if tower == "image" else "texts"
        cells = " | ".join(f"{statistics.median(d[r]):.2f}" for r in refs)
        print(f"| {tower} ({unit}) | {t} | {cells} | {prec} | {statistics.median(d['vdb']):.2f} | "
              f"{statistics.median(d['ratio']):.2f}x ({min(d['ratio']):.2f}-{max(d['ratio']):.2f}) |")
    if rss:
        print(f"\nvdb peak RSS (float32): {max(rss) / 1e6:.0f} MB for {weights / 1e6:.0f} MB of float32 weights "
              f"({max(rss) / max(1, weights):.2f}x); vdb's kernels: {isa}")
    if a.accuracy > 0 and "bfloat16" in a.precisions.split(","):
        acc = run([a.bench, a.model, "--accuracy", str(a.accuracy), "--json"])
        for tower in ("image", "text"):
            c = acc[tower]
            print(f"bfloat16 vs float32, {tower} tower: cosine min {c['min']:.6f}, median {c['median']:.6f} "
                  f"over {acc['count']} random inputs")


def record(rows, refs, outs, y, t, prec, r):
    """Adds one vdb result and the references' rates of the same round to `rows`."""
    d = rows.setdefault((y["tower"], int(t), prec), {"vdb": [], "ratio": [], **{ref: [] for ref in refs}})
    d["vdb"].append(y["per_second"])
    for ref in refs:
        x = next(x for x in outs[ref]["results"] if x["tower"] == y["tower"])
        d[ref].append(x["per_second"])
    best = max(d[ref][-1] for ref in refs) if refs else y["per_second"]
    d["ratio"].append(y["per_second"] / best)
    others = "  ".join(f"{ref} {d[ref][-1]:.2f}/s" for ref in refs)
    print(f"round {r + 1} {y['tower']:5s} threads={t} {prec}: {others}  vdb {y['per_second']:.2f}/s"
          f"  vdb/best {d['ratio'][-1]:.2f}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
