#!/usr/bin/env python3
"""Side-by-side benchmark: vdb against Faiss and hnswlib, same data, parameters and threads, one run.

    python3 Benchmarks/compare.py                       # ann-dev, metrics l2 and ip, 1 thread, all families
    python3 Benchmarks/compare.py --threads 2 --metrics ip --families hnsw
    python3 Benchmarks/compare.py --dataset /path/to/folder   # base.fvecs|bvecs|npy, query.*, gt_<metric>.ivecs (optional)

What it does:
  1. Sets up its Python environment: if numpy/faiss/hnswlib/matplotlib are not importable it creates a
     venv (default /work/venv-bench, or $VDB_BENCH_VENV; `python3 -m venv DIR && DIR/bin/pip install
     faiss-cpu hnswlib numpy matplotlib` by hand does the same) and re-runs itself inside it.
  2. Builds vdb in release mode (`swift build -c release --product vdb`) unless --vdb is given.
  3. For every metric: runs `vdb bench --json` once per index family (flat, ivf_flat, ivf_sq8, hnsw),
     and the references with the same parameters: faiss IndexFlat, IndexIVFFlat, IndexIVFScalarQuantizer
     (QT_8bit), IndexHNSWFlat, and hnswlib. Same queries, k, thread count and measuring method (batch QPS =
     all queries in one call, median of >= 3 calls; p50/p99 = single queries one at a time; build = train + add).
  4. Checks vdb's reported recall against this script's own recall computation on the ids vdb returned
     (vdb bench --results-dir), and stops if they disagree.
  5. With --rounds R, repeats steps 3-4 R times and keeps each setting's fastest round (noise on a
     shared machine only ever slows a run down).
  6. Prints, per index family and recall level (0.90, 0.95, 0.99), the best QPS of each system and the
     ratio vdb/reference; writes a recall-vs-QPS plot per dataset and metric (PNG) and the raw results
     (JSON lines) and tables (Markdown) into --out (default Docs/).

Metric `ip` means cosine, as in the ann-dev ground truth: base and queries are L2-normalized, vdb runs
with `--metric cosine`, faiss/hnswlib with inner product on the normalized vectors.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATASET = os.path.join(os.path.dirname(ROOT), "shared", "data", "ann-dev")
DEFAULT_VENV = os.environ.get("VDB_BENCH_VENV", "/work/venv-bench")
REQUIREMENTS = ["faiss-cpu", "hnswlib", "numpy", "matplotlib"]
FAMILIES = ["flat", "ivf_flat", "ivf_sq8", "hnsw"]
RECALL_LEVELS = [0.90, 0.95, 0.99]


def ensure_environment():
    """Re-executes this script inside a venv that has the reference libraries."""
    try:
        import faiss, hnswlib, numpy, matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("VDB_BENCH_REEXEC"):
        sys.exit("compare.py: the venv at %s still lacks one of %s" % (DEFAULT_VENV, REQUIREMENTS))
    py = os.path.join(DEFAULT_VENV, "bin", "python")
    if not os.path.exists(py):
        print("creating venv %s" % DEFAULT_VENV, file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", DEFAULT_VENV])
    probe = subprocess.run([py, "-c", "import faiss, hnswlib, numpy, matplotlib"], capture_output=True)
    if probe.returncode != 0:
        print("installing %s into %s" % (" ".join(REQUIREMENTS), DEFAULT_VENV), file=sys.stderr)
        subprocess.check_call([py, "-m", "pip", "install", "-q"] + REQUIREMENTS)
    env = dict(os.environ, VDB_BENCH_REEXEC="1")
    os.execve(py, [py, os.path.abspath(__file__)] + sys.argv[1:], env)


# ----------------------------------------------------------------------------- data

def read_vecs(path, dtype):
    """TEXMEX .fvecs ('<f4'), .ivecs ('<i4'); .bvecs handled separately."""
    import numpy as np
    if path.endswith(".bvecs"):
        raw = np.fromfile(path, dtype=np.uint8)
        d = int(raw[:4].view("<i4")[0])
        return raw.reshape(-1, d + 4)[:, 4:].astype(np.float32)
    a = np.fromfile(path, dtype="<i4")
    d = int(a[0])
    return a.reshape(-1, d + 1)[:, 1:].copy().view(dtype)


def load_matrix(path):
    import numpy as np
    if path.endswith(".npy"):
        return np.ascontiguousarray(np.load(path), dtype=np.float32)
    return np.ascontiguousarray(read_vecs(path, "<f4"), dtype=np.float32)


def find_file(folder, stems, exts):
    for s in stems:
        for e in exts:
            p = os.path.join(folder, s + e)
            if os.path.exists(p):
                return p
    return None


def discover(folder, metric):
    """Finds base, query and ground-truth files of `metric` in a dataset folder."""
    vec_ext = [".fvecs", ".bvecs", ".npy"]
    base = find_file(folder, ["base"], vec_ext)
    query = find_file(folder, ["query", "queries"], vec_ext)
    if base is None or query is None:
        sys.exit("compare.py: %s needs base.{fvecs,bvecs,npy} and query.{fvecs,bvecs,npy}" % folder)
    gt = find_file(folder, ["gt_" + metric, "groundtruth_" + metric, "gt", "groundtruth"], [".ivecs"])
    return base, query, gt


def normalize(x):
    import numpy as np
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1
    return np.ascontiguousarray(x / n, dtype=np.float32)


def exact_gt(base, query, metric, k):
    import faiss
    index = faiss.IndexFlatL2(base.shape[1]) if metric == "l2" else faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    return index.search(query, k)[1]


def recall_at_k(ids, gt, k):
    """|returned top-k ∩ first k gt ids| / k averaged over queries (duplicates and -1 never count)."""
    total = 0
    for row, truth in zip(ids, gt):
        total += len(set(int(i) for i in row[:k] if i >= 0) & set(int(t) for t in truth[:k]))
    return total / (k * len(gt))


# ----------------------------------------------------------------------------- timing

def timed_sweep(system, family, params, build_s, nbytes, batch, single, queries, gt, k, threads, runs, latency_queries):
    """Measures one search setting with the same method as `vdb bench`."""
    import numpy as np
    for i in range(min(50, len(queries))):          # warm-up
        single(queries[i:i + 1])
    lat = []
    for i in range(min(latency_queries, len(queries))):
        t = time.perf_counter()
        single(queries[i:i + 1])
        lat.append((time.perf_counter() - t) * 1e3)
    rates, ids = [], None
    for r in range(max(3, runs)):
        t = time.perf_counter()
        out = batch(queries)
        rates.append(len(queries) / (time.perf_counter() - t))
        if ids is None:
            ids = out
    return {"system": system, "index": family, "params": params, "threads": threads, "k": k,
            "recall": recall_at_k(ids, gt, k), "qps": float(np.median(rates)),
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "build_s": build_s, "bytes": nbytes}


def run_faiss(family, base, queries, gt, metric, a):
    """faiss IndexFlat / IndexIVFFlat / IndexIVFScalarQuantizer(QT_8bit) / IndexHNSWFlat."""
    import faiss
    faiss.omp_set_num_threads(a.threads)
    d = base.shape[1]
    fm = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    t = time.perf_counter()
    if family == "flat":
        index = faiss.IndexFlat(d, fm)
    elif family in ("ivf_flat", "ivf_sq8"):
        quantizer = faiss.IndexFlat(d, fm)
        if family == "ivf_flat":
            index = faiss.IndexIVFFlat(quantizer, d, a.nlist, fm)
        else:
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, a.nlist, faiss.ScalarQuantizer.QT_8bit, fm)
        index.train(base)
    else:
        index = faiss.IndexHNSWFlat(d, a.M, fm)
        index.hnsw.efConstruction = a.ef_construction
    index.add(base)
    build_s = time.perf_counter() - t
    nbytes = int(faiss.serialize_index(index).nbytes)
    out = []
    if family == "flat":
        settings = [({}, None)]
    elif family.startswith("ivf"):
        settings = [({"nlist": a.nlist, "nprobe": p}, p) for p in a.nprobe]
    else:
        settings = [({"M": a.M, "efConstruction": a.ef_construction, "ef": e}, e) for e in a.ef]
    for params, value in settings:
        if family.startswith("ivf"):
            index.nprobe = value
        elif family == "hnsw":
            index.hnsw.efSearch = value
        search = lambda q: index.search(q, a.k)[1]
        out.append(timed_sweep("faiss", family, params, build_s, nbytes, search, search, queries, gt, a.k,
                               a.threads, a.runs, a.latency_queries))
        progress("faiss %s %s recall=%.4f qps=%.0f" % (family, params, out[-1]["recall"], out[-1]["qps"]))
    return out


def run_hnswlib(base, queries, gt, metric, a):
    """hnswlib HNSW with the same M / ef_construction / ef sweep."""
    import hnswlib
    d = base.shape[1]
    t = time.perf_counter()
    index = hnswlib.Index(space="l2" if metric == "l2" else "ip", dim=d)
    index.init_index(max_elements=len(base), M=a.M, ef_construction=a.ef_construction, random_seed=100)
    index.set_num_threads(a.threads)
    index.add_items(base, num_threads=a.threads)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.bin")
        index.save_index(path)
        nbytes = os.path.getsize(path)
    out = []
    for e in a.ef:
        index.set_ef(max(e, a.k))
        batch = lambda q: index.knn_query(q, k=a.k, num_threads=a.threads)[0]
        single = lambda q: index.knn_query(q, k=a.k, num_threads=1)[0]
        out.append(timed_sweep("hnswlib", "hnsw", {"M": a.M, "efConstruction": a.ef_construction, "ef": e},
                               build_s, nbytes, batch, single, queries, gt, a.k, a.threads, a.runs, a.latency_queries))
        progress("hnswlib ef=%d recall=%.4f qps=%.0f" % (e, out[-1]["recall"], out[-1]["qps"]))
    return out


def run_vdb(family, files, metric, gt, a, results_dir):
    """`vdb bench --json` for one family; checks its recall against ids it wrote to results_dir."""
    import numpy as np
    base, query, gt_path = files
    cmd = [a.vdb, "bench", "--base", base, "--queries", query, "--metric", "l2" if metric == "l2" else "cosine",
           "--index", family, "-k", str(a.k), "--threads", str(a.threads), "--json",
           "--runs", str(a.runs), "--latency-queries", str(a.latency_queries), "--results-dir", results_dir]
    if gt_path:
        cmd += ["--gt", gt_path]
    if a.limit_queries:
        cmd += ["--limit-queries", str(a.limit_queries)]
    if family.startswith("ivf"):
        cmd += ["--nlist", str(a.nlist), "--nprobe", ",".join(map(str, a.nprobe))]
    elif family == "hnsw":
        cmd += ["--M", str(a.M), "--ef-construction", str(a.ef_construction), "--ef", ",".join(map(str, a.ef))]
    progress("$ " + " ".join(cmd))
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
    wall = time.perf_counter() - started
    progress("vdb bench --index %s took %.0f s (build + sweep)" % (family, wall))
    if proc.returncode != 0:
        sys.exit("compare.py: vdb bench failed (exit %d)" % proc.returncode)
    out = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        keys = {"index", "params", "threads", "k", "recall", "qps", "p50_ms", "p99_ms", "build_s", "bytes"}
        if set(r) != keys:
            sys.exit("compare.py: vdb bench --json keys %s differ from %s" % (sorted(r), sorted(keys)))
        name = result_file_name(r["index"], r["params"])
        ids = read_vecs(os.path.join(results_dir, name), "<i4")
        mine = recall_at_k(ids, gt, a.k)
        if abs(mine - r["recall"]) > 1e-6:
            sys.exit("compare.py: recall mismatch for %s %s: vdb says %.6f, independent check %.6f"
                     % (r["index"], r["params"], r["recall"], mine))
        r["recall_check"] = mine
        r["system"] = "vdb"
        r["vdb_bench_wall_s"] = wall
        out.append(r)
        progress("vdb %s %s recall=%.4f (checked %.4f) qps=%.0f" % (family, r["params"], r["recall"], mine, r["qps"]))
    return out


def result_file_name(index, params):
    """Must match `vdb bench --results-dir`: <index>[_<key>-<value>...].ivecs, keys in report order."""
    return index + "".join("_%s-%d" % (k, v) for k, v in params.items()) + ".ivecs"


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- report

REFERENCE_FOR = {"flat": ["faiss"], "ivf_flat": ["faiss"], "ivf_sq8": ["faiss"], "hnsw": ["faiss", "hnswlib"]}
LABEL = {("faiss", "flat"): "faiss Flat", ("faiss", "ivf_flat"): "faiss IVFFlat", ("faiss", "ivf_sq8"): "faiss IVFSQ8",
         ("faiss", "hnsw"): "faiss HNSWFlat", ("hnswlib", "hnsw"): "hnswlib"}


def best_at(results, level):
    ok = [r for r in results if r["recall"] >= level]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def describe(r):
    p = ",".join("%s=%s" % kv for kv in r["params"].items() if kv[0] in ("nprobe", "ef")) or "exact"
    return "%.0f (%s, r=%.3f)" % (r["qps"], p, r["recall"])


def ratio_table(results, metric, threads):
    lines = ["**metric=%s, threads=%d** (best batch QPS reaching recall@10; ratio = vdb / reference)" % (metric, threads), "",
             "| family | recall >= | vdb | reference | reference QPS | vdb / ref |", "|---|---:|---|---|---|---:|"]
    for fam in FAMILIES:
        mine = [r for r in results if r["system"] == "vdb" and r["index"] == fam]
        if not any(r["index"] == fam for r in results):
            continue
        for level in RECALL_LEVELS:
            bv = best_at(mine, level)
            vdb_cell = describe(bv) if bv else ("not reached (max r=%.3f)" % max(r["recall"] for r in mine) if mine else "not run")
            for ref in REFERENCE_FOR[fam]:
                theirs = [r for r in results if r["system"] == ref and r["index"] == fam]
                if not theirs:
                    continue
                br = best_at(theirs, level)
                ratio = "%.2f" % (bv["qps"] / br["qps"]) if bv and br else "-"
                lines.append("| %s | %.2f | %s | %s | %s | %s |" % (
                    fam, level, vdb_cell,
                    LABEL[(ref, fam)], describe(br) if br else "not reached (max r=%.3f)" % max(r["recall"] for r in theirs),
                    ratio))
    return "\n".join(lines)


def sweep_table(results):
    lines = ["| system | index | params | build s | recall@10 | QPS | p50 ms | p99 ms | MB |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        p = ",".join("%s=%s" % kv for kv in r["params"].items()) or "-"
        lines.append("| %s | %s | %s | %.2f | %.4f | %.0f | %.3f | %.3f | %.1f |" % (
            r["system"], r["index"], p, r["build_s"], r["recall"], r["qps"], r["p50_ms"], r["p99_ms"], r["bytes"] / 1048576))
    return "\n".join(lines)


def plot(results, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5))
    styles = {"vdb": "-", "faiss": "--", "hnswlib": ":"}
    colors = {"flat": "black", "ivf_flat": "tab:blue", "ivf_sq8": "tab:green", "hnsw": "tab:red"}
    series = {}
    for r in results:
        series.setdefault((r["system"], r["index"]), []).append(r)
    for (system, fam), rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r["recall"])
        label = "vdb " + fam if system == "vdb" else LABEL[(system, fam)]
        marker = "o" if system == "vdb" else ("s" if system == "faiss" else "^")
        ax.plot([r["recall"] for r in rs], [r["qps"] for r in rs], styles[system], marker=marker,
                color=colors[fam], label=label, markersize=4)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (batch, log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- main

def int_list(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default=DEFAULT_DATASET, help="folder with base/query/gt files (default: ann-dev)")
    ap.add_argument("--metrics", default="l2,ip", help="comma list of l2, ip (= cosine on normalized vectors)")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-k", "--k", type=int, default=10)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nprobe", type=int_list, default=[1, 2, 4, 8, 16, 32, 64, 128])
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", type=int_list, default=[10, 16, 32, 64, 128, 256, 512])
    ap.add_argument("--runs", type=int, default=3, help="timed batch runs per setting (median)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat every system's build + sweep this many times and keep each setting's best round "
                         "(use 2-3 on a shared machine)")
    ap.add_argument("--latency-queries", type=int, default=1000, help="queries timed one at a time")
    ap.add_argument("--limit-queries", type=int, default=0, help="use only the first N queries (0 = all)")
    ap.add_argument("--systems", default="vdb,faiss,hnswlib")
    ap.add_argument("--vdb", default=None, help="vdb executable (default: build .build/release/vdb)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Docs"), help="where PNG, JSON lines and Markdown go")
    ap.add_argument("--name", default=None, help="dataset name in file names (default: folder name)")
    a = ap.parse_args()
    ensure_environment()
    import numpy as np

    systems = a.systems.split(",")
    families = [f for f in a.families.split(",") if f]
    for f in families:
        if f not in FAMILIES:
            sys.exit("compare.py: unknown family %s (choose from %s)" % (f, ",".join(FAMILIES)))
    if "vdb" in systems and a.vdb is None:
        progress("building vdb (release)")
        subprocess.check_call(["swift", "build", "-c", "release", "--product", "vdb"], cwd=ROOT)
        a.vdb = os.path.join(ROOT, ".build", "release", "vdb")
    name = a.name or os.path.basename(os.path.normpath(a.dataset))
    os.makedirs(a.out, exist_ok=True)
    report = ["# %s: vdb vs faiss / hnswlib (threads=%d, k=%d)" % (name, a.threads, a.k), ""]

    for metric in a.metrics.split(","):
        if metric not in ("l2", "ip"):
            sys.exit("compare.py: metric must be l2 or ip, got %s" % metric)
        base_path, query_path, gt_path = discover(a.dataset, metric)
        base, queries = load_matrix(base_path), load_matrix(query_path)
        if a.limit_queries:
            queries = queries[:a.limit_queries]
        if metric == "ip":
            base, queries = normalize(base), normalize(queries)
        if gt_path:
            gt = read_vecs(gt_path, "<i4")[:len(queries)]
        else:
            progress("no gt file for %s: computing exact ground truth with faiss" % metric)
            gt = exact_gt(base, queries, metric, max(100, a.k))
        progress("== %s metric=%s: %d base x %d, %d queries, threads=%d" % (name, metric, len(base), base.shape[1], len(queries), a.threads))
        best = {}
        for round_ in range(a.rounds):
            if a.rounds > 1:
                progress("-- round %d of %d" % (round_ + 1, a.rounds))
            with tempfile.TemporaryDirectory() as results_dir:
                for fam in families:
                    got = []
                    if "vdb" in systems:
                        got += run_vdb(fam, (base_path, query_path, gt_path), metric, gt, a, results_dir)
                    if "faiss" in systems:
                        got += run_faiss(fam, base, queries, gt, metric, a)
                    if fam == "hnsw" and "hnswlib" in systems:
                        got += run_hnswlib(base, queries, gt, metric, a)
                    # Keep each setting's best round: other processes only ever slow a run down.
                    for r in got:
                        key = (r["system"], r["index"], json.dumps(r["params"], sort_keys=True))
                        if key not in best or r["qps"] > best[key]["qps"]:
                            best[key] = r
        results = list(best.values())
        stem = "bench-%s-%s-t%d" % (name, metric, a.threads)
        with open(os.path.join(a.out, stem + ".jsonl"), "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
        plot(results, "%s, metric=%s, threads=%d, k=%d" % (name, metric, a.threads, a.k), os.path.join(a.out, stem + ".png"))
        table = ratio_table(results, metric, a.threads)
        print(table + "\n", flush=True)
        report += [table, "", "![recall vs QPS](%s.png)" % stem, "", "<details><summary>full sweep</summary>", "",
                   sweep_table(results), "", "</details>", ""]
    md = os.path.join(a.out, "bench-%s-t%d.md" % (name, a.threads))
    with open(md, "w") as f:
        f.write("\n".join(report))
    progress("wrote %s and the PNG/JSONL files next to it" % md)


if __name__ == "__main__":
    main()
