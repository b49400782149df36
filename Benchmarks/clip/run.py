#!/usr/bin/env python3
"""Side-by-side CLIP tower benchmark: vdb (vdb-clip-bench) vs PyTorch, alternating, same machine.

    swift build -c release --product vdb-clip-bench
    /work/venv/bin/python Scripts/make_clip_fixtures.py --vit-b32 /tmp/vitb32
    /work/venv/bin/python Benchmarks/clip/run.py /tmp/vitb32 [--rounds 3] [--threads 1,2]
            [--image-batch 32] [--text-batch 64] [--repeats 3]

Each round runs PyTorch then vdb (one process each per thread count) so both see the same
machine load; the report gives the median over rounds of each side's per-round median, the
ratio vdb/PyTorch per round (median, min, max), and vdb's peak RSS against the weights' size.
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
    a = ap.parse_args()
    common = ["--image-batch", str(a.image_batch), "--text-batch", str(a.text_batch), "--repeats", str(a.repeats), "--json"]
    rows = {}  # (tower, threads) -> {"torch": [...], "vdb": [...], "ratio": [...]}
    rss = []
    weights = 0
    for r in range(a.rounds):
        for t in a.threads.split(","):
            tr = run([sys.executable, os.path.join(HERE, "torch_bench.py"), a.model, "--threads", t] + common)
            vr = run([a.bench, a.model, "--threads", t] + common)
            rss.append(vr["peak_rss_bytes"]); weights = vr["weights_bytes"]
            for x, y in zip(tr["results"], vr["results"]):
                assert x["tower"] == y["tower"]
                k = (x["tower"], int(t))
                d = rows.setdefault(k, {"torch": [], "vdb": [], "ratio": []})
                d["torch"].append(x["per_second"]); d["vdb"].append(y["per_second"])
                d["ratio"].append(y["per_second"] / x["per_second"])
                print(f"round {r + 1} {x['tower']:5s} threads={t}: torch {x['per_second']:.2f}/s  vdb {y['per_second']:.2f}/s"
                      f"  ratio {d['ratio'][-1]:.2f}", file=sys.stderr, flush=True)
    print("| tower | threads | PyTorch /s | vdb /s | vdb / PyTorch (median, min-max over rounds) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for (tower, t), d in sorted(rows.items()):
        unit = "images" if tower == "image" else "texts"
        print(f"| {tower} ({unit}) | {t} | {statistics.median(d['torch']):.2f} | {statistics.median(d['vdb']):.2f} | "
              f"{statistics.median(d['ratio']):.2f}x ({min(d['ratio']):.2f}-{max(d['ratio']):.2f}) |")
    print(f"\nvdb peak RSS: {max(rss) / 1e6:.0f} MB for {weights / 1e6:.0f} MB of float32 weights "
          f"({max(rss) / max(1, weights):.2f}x)")


if __name__ == "__main__":
    main()
