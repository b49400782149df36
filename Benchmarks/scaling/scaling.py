#!/usr/bin/env python3
"""Scaling study: how build time, memory and QPS at recall@10 >= 0.95 grow with N, for HNSW and IVF.

    python3 Benchmarks/scaling/scaling.py                         # N = 10k, 100k; d = 128, 512
    python3 Benchmarks/scaling/scaling.py --sizes 10000,100000,1000000   # adds 1M (not for CI: long, ~6 GB RAM at d=512)

For every (d, N) it writes a seeded clustered-Gaussian dataset with exact ground truth once
(`vdb bench synth`, cached under --data), then runs `vdb bench --json` for each index with a search
sweep, in a fresh process whose peak resident memory (ru_maxrss, from wait4) is recorded. Reported:
build seconds (insert + index build), peak RSS of the whole `vdb bench` process (it also holds base
and query vectors: N*d*4 bytes, listed as "data MB"), bytes on disk, and the best batch QPS whose
recall@10 reaches the target. Writes Markdown and JSON lines to --out, and a PNG if matplotlib is
importable (run with /work/venv-bench/bin/python, or any Python with matplotlib, for the plot).
Only the standard library is required otherwise.
"""
import argparse
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_measured(cmd):
    """Runs cmd, returns (stdout, peak RSS bytes of that process)."""
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("scaling.py: command failed: %s" % " ".join(cmd))
    return out, usage.ru_maxrss * 1024


def nlist_for(n):
    """sqrt(N) rounded to a power of two (10k -> 128, 100k -> 256, 1M -> 1024)."""
    return 2 ** round(math.log2(math.sqrt(n)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--dims", default="128,512")
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--indexes", default="hnsw,ivf_flat,ivf_sq8")
    ap.add_argument("--threads", type=int, default=1, help="search threads")
    ap.add_argument("--build-threads", type=int, default=0, help="index build threads (0 = all cores)")
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--ef", default="10,16,32,64,128,256,512")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64,128")
    ap.add_argument("--latency-queries", type=int, default=300)
    ap.add_argument("--data", default="/tmp/vdb-scaling-data", help="cache of generated datasets")
    ap.add_argument("--vdb", default=None, help="vdb executable (default: build .build/release/vdb)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Docs"))
    a = ap.parse_args()

    if a.vdb is None:
        subprocess.check_call(["swift", "build", "-c", "release", "--product", "vdb"], cwd=ROOT)
        a.vdb = os.path.join(ROOT, ".build", "release", "vdb")
    os.makedirs(a.out, exist_ok=True)
    rows, raw = [], []
    for d in [int(x) for x in a.dims.split(",")]:
        for n in [int(x) for x in a.sizes.split(",")]:
            folder = os.path.join(a.data, "synth-%d-%d-c%d-s%d" % (n, d, a.clusters, a.seed))
            if not os.path.exists(os.path.join(folder, "gt_l2.ivecs")):
                subprocess.check_call([a.vdb, "bench", "synth", "--n", str(n), "--dim", str(d), "--clusters", str(a.clusters),
                                       "--queries", str(a.queries), "--seed", str(a.seed), "--metrics", "l2", "--out", folder])
            for index in a.indexes.split(","):
                cmd = [a.vdb, "bench", "--dataset", folder, "--metric", "l2", "--index", index, "-k", "10",
                       "--threads", str(a.threads), "--build-threads", str(a.build_threads), "--json",
                       "--latency-queries", str(a.latency_queries)]
                if index == "hnsw":
                    cmd += ["--M", "16", "--ef-construction", "200", "--ef", a.ef]
                elif index.startswith("ivf"):
                    cmd += ["--nlist", str(nlist_for(n)), "--nprobe", a.nprobe]
                out, peak = run_measured(cmd)
                recs = [json.loads(l) for l in out.splitlines() if l.strip()]
                for r in recs:
                    r.update({"n": n, "d": d, "peak_rss": peak})
                raw += recs
                ok = [r for r in recs if r["recall"] >= a.target]
                best = max(ok, key=lambda r: r["qps"]) if ok else None
                rows.append({"n": n, "d": d, "index": index, "build_s": recs[0]["build_s"], "peak_rss": peak,
                             "bytes": recs[0]["bytes"], "data_bytes": n * d * 4,
                             "best": best, "max_recall": max(r["recall"] for r in recs),
                             "params": {k: v for k, v in recs[0]["params"].items() if k not in ("ef", "nprobe")}})
                b = rows[-1]
                print("N=%d d=%d %s build=%.1fs peak=%.0fMB qps@%.2f=%s" % (n, d, index, b["build_s"], peak / 2**20, a.target,
                      "%.0f" % best["qps"] if best else "not reached"), file=sys.stderr, flush=True)

    lines = ["| N | d | index | build params | build s | peak RSS MB | data MB | disk MB | best QPS @ recall@10 >= %.2f | p50 ms there |" % a.target,
             "|---:|---:|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        b = r["best"]
        setting = ",".join("%s=%s" % kv for kv in b["params"].items() if kv[0] in ("ef", "nprobe")) if b else ""
        lines.append("| %d | %d | %s | %s | %.1f | %.0f | %.0f | %.0f | %s | %s |" % (
            r["n"], r["d"], r["index"], ",".join("%s=%s" % kv for kv in r["params"].items()), r["build_s"],
            r["peak_rss"] / 2**20, r["data_bytes"] / 2**20, r["bytes"] / 2**20,
            "%.0f (%s, r=%.3f)" % (b["qps"], setting, b["recall"]) if b else "not reached (max r=%.3f)" % r["max_recall"],
            "%.3f" % b["p50_ms"] if b else "-"))
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(a.out, "scaling.md"), "w") as f:
        f.write("Scaling study (threads=%d, build threads=%s, clusters=%d, seed=%d)\n\n%s\n" % (
            a.threads, a.build_threads or "all", a.clusters, a.seed, table))
    with open(os.path.join(a.out, "scaling.jsonl"), "w") as f:
        for r in raw:
            f.write(json.dumps(r) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for (index, d) in sorted({(r["index"], r["d"]) for r in rows}):
        rs = sorted([r for r in rows if r["index"] == index and r["d"] == d], key=lambda r: r["n"])
        ns = [r["n"] for r in rs]
        label = "%s d=%d" % (index, d)
        axes[0].plot(ns, [r["build_s"] for r in rs], marker="o", label=label)
        axes[1].plot(ns, [r["peak_rss"] / 2**20 for r in rs], marker="o", label=label)
        pts = [(r["n"], r["best"]["qps"]) for r in rs if r["best"]]
        if pts:
            axes[2].plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    for ax, title in zip(axes, ["build seconds", "peak RSS MB (process)", "best QPS at recall@10 >= %.2f" % a.target]):
        ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlabel("N"); ax.set_title(title); ax.grid(True, which="both", alpha=0.3)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "scaling.png"), dpi=100)
    print("wrote %s" % os.path.join(a.out, "scaling.png"), file=sys.stderr)


if __name__ == "__main__":
    main()
