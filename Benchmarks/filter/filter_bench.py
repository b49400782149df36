#!/usr/bin/env python3
"""Filtered-search benchmark: vdb (FLAT, HNSW, IVF_FLAT through `vdb bench --filter`) against hnswlib with a
filter function and Faiss with an IDSelector (HNSW and IVF), side by side, at several selectivities.

    python3 Benchmarks/filter/filter_bench.py                    # ann-dev + synthetic 100k x 512, every system
    python3 Benchmarks/filter/filter_bench.py --dry-run          # the data it would write and the commands it would run
    python3 Benchmarks/filter/filter_bench.py --datasets ann-dev --threads 2
    python3 Benchmarks/filter/filter_bench.py --smoke --vdb .build/debug/vdb --out /tmp/filter-smoke   # seconds

What it does, per dataset (ann-dev: 50k x 384, cosine; synthetic: seeded clustered Gaussians, l2):
  1. Writes into --out/data/<dataset>/ (reused when present): the queries, the base vectors (synthetic only),
     metadata.jsonl with one object per base vector, and exact filtered ground truth per filter
     (gt_<filter>.ivecs, float64 brute force over the matching vectors, ties to the smaller id).
     Filters, for each selectivity s in --selectivities (fraction of the base that matches):
       label_<s>_independent  keyword label on a random s of the vectors
       label_<s>_clustered    keyword label on whole k-means clusters (s of the vectors): correlated with the
                              vectors, so a query far from those clusters finds its matches far away
       range_<s>              range filter num < s*n on an integer field (a random permutation of 0..n-1)
  2. vdb: one database per index kind (kept in --out/db, reused across filters and runs), built by the first
     `vdb bench` call (unfiltered, the baseline), then `vdb bench --filter JSON --gt gt_<filter>.ivecs` per filter
     with the declared fields (--field); recall is checked against this script's own computation on the ids vdb
     wrote, and the number of results per query is counted (every query must get k when k match).
  3. hnswlib (M, ef_construction as vdb) with `knn_query(filter=...)`, a Python function per visited node;
     Faiss IndexHNSWFlat and IndexIVFFlat with SearchParameters(sel=IDSelectorBitmap). Same queries, k, threads,
     and measuring method as `vdb bench` (Benchmarks/compare.py `timed_sweep`: batch QPS median of --runs calls,
     p50/p99 of single queries after 50 warm-up queries).
  4. Writes results.jsonl (every setting), results.md (per dataset and selectivity: each system's best QPS at
     recall >= 0.95, its p50 latency, fewest results per query; the targets of issue 13 checked) and a
     recall-vs-QPS plot per dataset (filter_<dataset>.png).

Targets (issue 13): recall@10 >= 0.95 at every selectivity and correlation; always k results when k match;
QPS at 10% >= 0.5x vdb's unfiltered QPS; at 1% and 0.1% >= 2x hnswlib-with-filter at the same recall; median
single-query latency <= 5 ms on the 100k set. Never run this on a loaded machine and quote the numbers.
"""
import argparse
import json
import os
import shlex
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks"))
import compare  # noqa: E402  (shared readers, ground truth, recall and timing of the ANN comparison)

DEFAULT_ANN_DEV = os.path.join(os.path.dirname(ROOT), "shared", "data", "ann-dev")
SYSTEMS = ["vdb-flat", "vdb-hnsw", "vdb-ivf_flat", "hnswlib", "faiss-hnsw", "faiss-ivf"]
TARGET_RECALL = 0.95


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data

class Dataset:
    """Vectors, metric, filters (name -> (JSON, mask, selectivity, kind)) and file paths of one dataset."""

    def __init__(self, name, metric, base, queries, folder, base_file):
        self.name, self.metric, self.base, self.queries = name, metric, base, queries
        self.folder, self.base_file = folder, base_file
        self.query_file = os.path.join(folder, "query.fvecs")
        self.metadata_file = os.path.join(folder, "metadata.jsonl")
        self.filters = {}
        self.fields = ["num:int"]


def write_fvecs(path, x):
    import numpy as np
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty((len(x), x.shape[1] + 1), dtype=np.float32)
    out[:, 0] = np.array([x.shape[1]], dtype="<i4").view(np.float32)[0]
    out[:, 1:] = x
    out.tofile(path)


def write_ivecs(path, ids):
    import numpy as np
    ids = np.ascontiguousarray(ids, dtype="<i4")
    out = np.empty((len(ids), ids.shape[1] + 1), dtype="<i4")
    out[:, 0] = ids.shape[1]
    out[:, 1:] = ids
    out.tofile(path)


def synthetic(n, d, clusters, nq, seed):
    """Clustered Gaussians (centres N(0,1), noise 0.5), queries from the same mixture."""
    import numpy as np
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    def sample(m):
        c = rng.integers(0, clusters, m)
        return (centres[c] + 0.5 * rng.standard_normal((m, d)).astype(np.float32)).astype(np.float32)
    return sample(n), sample(nq)


def cluster_ids(base, clusters, seed):
    """k-means cluster of every base vector (faiss, seeded)."""
    import faiss
    import numpy as np
    km = faiss.Kmeans(base.shape[1], clusters, niter=10, seed=seed, verbose=False)
    km.train(np.ascontiguousarray(base, dtype=np.float32))
    return km.index.search(np.ascontiguousarray(base, dtype=np.float32), 1)[1][:, 0]


def prepare(name, a):
    """Loads or generates a dataset, writes its metadata, queries and filtered ground truth (once)."""
    import numpy as np
    folder = os.path.join(a.out, "data", name)
    os.makedirs(folder, exist_ok=True)
    if name == "ann-dev":
        base_file = os.path.join(a.ann_dev, "base.fvecs")
        base = compare.normalize(compare.load_matrix(base_file))
        queries = compare.normalize(compare.load_matrix(os.path.join(a.ann_dev, "query.fvecs")))
        metric = "ip"
    else:
        n, d, c = a.synthetic
        base_file = os.path.join(folder, "base.fvecs")
        base, queries = synthetic(n, d, c, a.synthetic_queries, a.seed)
        if not os.path.exists(base_file):
            write_fvecs(base_file, base)
        metric = "l2"
    if a.limit_queries:
        queries = queries[:a.limit_queries]
    ds = Dataset(name, metric, base, queries, folder, base_file)
    write_fvecs(ds.query_file, queries)
    n = len(base)
    rng = np.random.default_rng(a.seed)
    num = rng.permutation(n)
    independent = rng.permutation(n)
    clusters = cluster_ids(base, min(a.clusters, n // 20), a.seed)
    cluster_order = rng.permutation(clusters.max() + 1)
    rank = np.empty_like(cluster_order)
    rank[cluster_order] = np.arange(len(cluster_order))
    clustered = np.lexsort((rng.random(n), rank[clusters]))   # whole clusters, in random cluster order
    meta = [{"num": int(num[i])} for i in range(n)]
    for s in a.selectivities:
        m = int(round(s * n))
        if m < a.k:
            progress("%s: selectivity %g leaves %d matches (< k = %d); skipped" % (name, s, m, a.k))
            continue
        tag = ("%g" % (100 * s)).replace(".", "_")
        for kind, rows in (("independent", independent[:m]), ("clustered", clustered[:m])):
            key = "l%s%s" % (tag, kind[0])
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            for r in rows:
                meta[r][key] = "y"
            ds.fields.append(key + ":keyword")
            ds.filters["label_%s_%s" % (tag, kind)] = (json.dumps({"must": [{"key": key, "match": {"value": "y"}}]}),
                                                       mask, s, "label " + kind)
        ds.filters["range_%s" % tag] = (json.dumps({"must": [{"key": "num", "range": {"lt": m}}]}), num < m, s,
                                        "range")
    with open(ds.metadata_file, "w") as f:
        for row in meta:
            f.write(json.dumps(row, separators=(",", ":")) + "\n")
    # Ground truth is cached per filter; a cached file is reused when it covers the queries (the
    # queries are always a prefix of the same list, so its first rows are theirs).
    def cached(path):
        return os.path.exists(path) and len(compare.read_vecs(path, "<i4")) >= len(queries)

    ds.gt = {}
    gt_path = os.path.join(folder, "gt_unfiltered.ivecs")
    if not cached(gt_path):
        progress("%s: exact ground truth (unfiltered)" % name)
        write_ivecs(gt_path, compare.exact_gt(base, queries, metric, a.k))
    ds.gt["unfiltered"] = (gt_path, compare.read_vecs(gt_path, "<i4")[:len(queries)])
    for fname, (_, mask, _, _) in ds.filters.items():
        path = os.path.join(folder, "gt_%s.ivecs" % fname)
        if not cached(path):
            progress("%s: exact filtered ground truth %s" % (name, fname))
            rows = np.nonzero(mask)[0]
            write_ivecs(path, rows[compare.exact_gt(base[rows], queries, metric, a.k)])
        ds.gt[fname] = (path, compare.read_vecs(path, "<i4")[:len(queries)])
    return ds


def fewest_results(ids, k):
    """The fewest valid (>= 0) ids any query got."""
    return int(min(sum(1 for i in row[:k] if i >= 0) for row in ids)) if len(ids) else 0


# ----------------------------------------------------------------------------- vdb

def vdb_runs(ds, family, a):
    """`vdb bench` per filter (the first, unfiltered, builds the index in a kept database)."""
    db = os.path.join(a.out, "db", "%s-%s" % (ds.name, family))
    results = []
    for fname in ["unfiltered"] + list(ds.filters):
        results_dir = os.path.join(a.out, "ids", "%s-%s-%s" % (ds.name, family, fname))
        cmd = [a.vdb, "bench", "--base", ds.base_file, "--queries", ds.query_file, "--gt", ds.gt[fname][0],
               "--metric", "l2" if ds.metric == "l2" else "cosine", "--index", family, "-k", str(a.k),
               "--threads", str(a.threads), "--json", "--runs", str(a.runs), "--latency-queries", str(a.latency_queries),
               "--results-dir", results_dir, "--db", db, "--collection", "c", "--metadata", ds.metadata_file]
        for f in ds.fields:
            cmd += ["--field", f]
        if family == "ivf_flat":
            cmd += ["--nlist", str(a.nlist), "--nprobe", ",".join(map(str, a.nprobe))]
        elif family == "hnsw":
            cmd += ["--M", str(a.M), "--ef-construction", str(a.ef_construction), "--ef", ",".join(map(str, a.ef))]
        if fname != "unfiltered":
            cmd += ["--filter", ds.filters[fname][0]]
            if a.exact_below is not None:
                cmd += ["--exact-below", str(a.exact_below)]
        if a.dry_run:
            print(shlex.join(cmd))
            continue
        for r in compare.run_vdb(cmd, family, ds.gt[fname][1], a, results_dir):
            ids = compare.read_vecs(os.path.join(results_dir, r["results_file"]), "<i4")
            r.update(system="vdb-" + family, family=family, filter=fname, fewest_results=fewest_results(ids, a.k))
            results.append(r)
    return results


# ----------------------------------------------------------------------------- references

def measure(system, family, params, build_s, nbytes, batch, single, ds, fname, a, limit=0):
    """compare.timed_sweep, plus the fewest results any query got in the first batch run; on the first
    `limit` queries only when given (hnswlib's Python filter callback at low selectivity runs at tens
    of queries per second)."""
    seen = []
    def batch_recorded(q):
        out = batch(q)
        if not seen:
            seen.append(out)
        return out
    n = min(limit, len(ds.queries)) if limit else len(ds.queries)
    r = compare.timed_sweep(system, family, params, build_s, nbytes, batch_recorded, single, ds.queries[:n],
                            ds.gt[fname][1][:n], a, a.threads)
    r.update(system=system, family=family, filter=fname, fewest_results=fewest_results(seen[0], a.k), queries=n)
    progress("%s %s %s recall=%.4f qps=%.0f fewest=%d" % (system, fname, params, r["recall"], r["qps"], r["fewest_results"]))
    return r


def hnswlib_runs(ds, a):
    """hnswlib with a filter function (knn_query(filter=...)); queries with fewer than k matches found get -1s."""
    import hnswlib
    import numpy as np
    t = time.perf_counter()
    index = hnswlib.Index(space="l2" if ds.metric == "l2" else "ip", dim=ds.base.shape[1])
    index.init_index(max_elements=len(ds.base), M=a.M, ef_construction=a.ef_construction, random_seed=100)
    index.set_num_threads(a.threads)
    index.add_items(ds.base, num_threads=a.threads)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        index.save_index(os.path.join(tmp, "i.bin"))
        nbytes = os.path.getsize(os.path.join(tmp, "i.bin"))

    def search(q, threads, admit):
        try:
            return index.knn_query(q, k=a.k, num_threads=threads, filter=admit)[0]
        except RuntimeError:  # fewer than k found for some query: one at a time, padding with -1
            out = np.full((len(q), a.k), -1, dtype=np.int64)
            for i in range(len(q)):
                try:
                    out[i] = index.knn_query(q[i:i + 1], k=a.k, num_threads=1, filter=admit)[0][0]
                    continue
                except RuntimeError:
                    pass
                # The most results hnswlib returns for this query: binary search on k (each failed
                # call is a whole traversal, so trying k-1, k-2, ... one by one took minutes).
                lo, hi = 0, a.k - 1
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    try:
                        index.knn_query(q[i:i + 1], k=mid, num_threads=1, filter=admit)
                        lo = mid
                    except RuntimeError:
                        hi = mid - 1
                if lo:
                    out[i, :lo] = index.knn_query(q[i:i + 1], k=lo, num_threads=1, filter=admit)[0][0]
            return out

    results = []
    for fname in ["unfiltered"] + list(ds.filters):
        mask = ds.filters[fname][1] if fname != "unfiltered" else None
        admit = (lambda label, m=mask: bool(m[label])) if mask is not None else None
        for e in a.ef:
            index.set_ef(max(e, a.k))
            results.append(measure("hnswlib", "hnsw", {"M": a.M, "efConstruction": a.ef_construction, "ef": e}, build_s,
                                   nbytes, lambda q: search(q, a.threads, admit), lambda q: search(q, 1, admit), ds, fname, a,
                                   limit=a.hnswlib_queries))
    return results


def faiss_runs(ds, family, a):
    """Faiss IndexHNSWFlat / IndexIVFFlat with an IDSelectorBitmap in the search parameters."""
    import faiss
    import numpy as np
    faiss.omp_set_num_threads(a.threads)
    d = ds.base.shape[1]
    fm = faiss.METRIC_L2 if ds.metric == "l2" else faiss.METRIC_INNER_PRODUCT
    t = time.perf_counter()
    if family == "hnsw":
        index = faiss.IndexHNSWFlat(d, a.M, fm)
        index.hnsw.efConstruction = a.ef_construction
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlat(d, fm), d, a.nlist, fm)
        index.train(ds.base)
    index.add(ds.base)
    build_s = time.perf_counter() - t
    nbytes = int(faiss.serialize_index(index).nbytes)
    results = []
    for fname in ["unfiltered"] + list(ds.filters):
        bits = selector = None
        if fname != "unfiltered":
            bits = np.packbits(ds.filters[fname][1], bitorder="little")
            selector = faiss.IDSelectorBitmap(len(ds.base), faiss.swig_ptr(bits))
        settings = a.ef if family == "hnsw" else a.nprobe
        for value in settings:
            if family == "hnsw":
                params = faiss.SearchParametersHNSW()
                params.efSearch = max(value, a.k)
                reported = {"M": a.M, "efConstruction": a.ef_construction, "ef": value}
            else:
                params = faiss.SearchParametersIVF()
                params.nprobe = value
                reported = {"nlist": a.nlist, "nprobe": value}
            if selector is not None:
                params.sel = selector
            search = lambda q, p=params: index.search(q, a.k, params=p)[1]
            results.append(measure("faiss-" + ("hnsw" if family == "hnsw" else "ivf"), family, reported, build_s, nbytes,
                                   search, search, ds, fname, a))
        del bits
    return results


# ----------------------------------------------------------------------------- report

def best(results, level=TARGET_RECALL):
    ok = [r for r in results if r["recall"] >= level]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def report(all_results, datasets, a):
    """results.md: per dataset and selectivity, each system's best QPS at recall >= 0.95, and the targets."""
    lines = ["# Filtered search: vdb vs hnswlib (filter function) and Faiss (IDSelector)", "",
             "k = %d, %d thread(s). Best batch QPS among the settings with recall@%d >= %.2f (and that setting's "
             "p50 single-query latency); `-` when no setting reaches it (max recall in parentheses). `fewest` is the "
             "fewest results any query got (must be k)." % (a.k, a.threads, a.k, TARGET_RECALL), ""]
    checks = []
    for ds in datasets:
        rs = [r for r in all_results if r["dataset"] == ds.name]
        systems = [s for s in SYSTEMS if any(r["system"] == s for r in rs)]
        groups = [("unfiltered", ["unfiltered"])]
        for s in a.selectivities:
            names = [f for f, v in ds.filters.items() if v[2] == s]
            if names:
                groups.append(("%g%% match" % (100 * s), names))
        lines += ["## %s (%d x %d, %s)" % (ds.name, len(ds.base), ds.base.shape[1], "cosine" if ds.metric == "ip" else "l2"), ""]
        for title, names in groups:
            lines += ["### " + title, "", "| filter | " + " | ".join(systems) + " |",
                      "|---|" + "---|" * len(systems)]
            for fname in names:
                cells = []
                for s in systems:
                    mine = [r for r in rs if r["system"] == s and r["filter"] == fname]
                    b = best(mine)
                    fewest = min((r["fewest_results"] for r in mine), default=0)
                    if b:
                        cells.append("%.0f QPS, p50 %.2f ms, fewest %d" % (b["qps"], b["p50_ms"], fewest))
                    else:
                        cells.append("- (%.3f), fewest %d" % (max((r["recall"] for r in mine), default=0), fewest))
                lines.append("| %s | %s |" % (fname, " | ".join(cells)))
            lines.append("")
        # The targets of issue 13.
        for family in ("flat", "hnsw", "ivf_flat"):
            system = "vdb-" + family
            mine = [r for r in rs if r["system"] == system]
            if not mine:
                continue
            base_best = best([r for r in mine if r["filter"] == "unfiltered"])
            for fname, (_, _, s, kind) in ds.filters.items():
                fr = [r for r in mine if r["filter"] == fname]
                b = best(fr)
                checks.append((ds.name, system, fname, "recall >= %.2f" % TARGET_RECALL, b is not None,
                               "max %.4f" % max(r["recall"] for r in fr)))
                checks.append((ds.name, system, fname, "k results", min(r["fewest_results"] for r in fr) == a.k,
                               "fewest %d" % min(r["fewest_results"] for r in fr)))
                if s == 0.1 and b and base_best:
                    checks.append((ds.name, system, fname, "QPS >= 0.5x unfiltered", b["qps"] >= 0.5 * base_best["qps"],
                                   "%.0f vs %.0f" % (b["qps"], base_best["qps"])))
                if s <= 0.01 and b:
                    h = best([r for r in rs if r["system"] == "hnswlib" and r["filter"] == fname])
                    if h:
                        checks.append((ds.name, system, fname, "QPS >= 2x hnswlib", b["qps"] >= 2 * h["qps"],
                                       "%.0f vs %.0f" % (b["qps"], h["qps"])))
                if len(ds.base) >= 100_000 and b:
                    checks.append((ds.name, system, fname, "p50 <= 5 ms", b["p50_ms"] <= 5, "%.2f ms" % b["p50_ms"]))
    lines += ["## Targets", "", "| dataset | system | filter | target | met | value |", "|---|---|---|---|---|---|"]
    for c in checks:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (c[0], c[1], c[2], c[3], "yes" if c[4] else "**no**", c[5]))
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def plot(all_results, ds, a):
    """Recall vs QPS, one panel per selectivity (rows: independent labels, clustered labels, range)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kinds = ["label independent", "label clustered", "range"]
    sels = [s for s in a.selectivities if any(v[2] == s for v in ds.filters.values())]
    fig, axes = plt.subplots(len(kinds), len(sels), figsize=(4 * len(sels), 3.3 * len(kinds)), squeeze=False)
    colors = dict(zip(SYSTEMS, ["black", "tab:red", "tab:blue", "tab:orange", "tab:purple", "tab:green"]))
    for row, kind in enumerate(kinds):
        for col, s in enumerate(sels):
            ax = axes[row][col]
            fname = next((f for f, v in ds.filters.items() if v[2] == s and v[3] == kind), None)
            for system in SYSTEMS:
                rs = sorted((r for r in all_results if r["dataset"] == ds.name and r["system"] == system
                             and r["filter"] == fname), key=lambda r: r["recall"])
                if rs:
                    ax.plot([r["recall"] for r in rs], [r["qps"] for r in rs], "-o", markersize=3, color=colors[system],
                            label=system)
            ax.set_yscale("log")
            ax.set_title("%s, %g%%" % (kind, 100 * s), fontsize=9)
            ax.axvline(TARGET_RECALL, color="gray", lw=0.5)
            ax.grid(True, which="both", alpha=0.3)
            if row == len(kinds) - 1:
                ax.set_xlabel("recall@%d" % a.k)
            if col == 0:
                ax.set_ylabel("QPS (batch, log)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("filtered search on %s (k=%d, %d thread(s))" % (ds.name, a.k, a.threads))
    fig.tight_layout()
    path = os.path.join(a.out, "filter_%s.png" % ds.name)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--datasets", type=compare.name_list(["ann-dev", "synthetic"]), default=["ann-dev", "synthetic"])
    ap.add_argument("--ann-dev", default=DEFAULT_ANN_DEV, help="ann-dev folder (base.fvecs, query.fvecs)")
    ap.add_argument("--hnswlib-queries", type=int, default=0,
                    help="hnswlib: time and score only the first N queries (0 = all); its Python filter "
                         "callback makes low-selectivity runs take minutes per setting")
    ap.add_argument("--synthetic", default="100000:512:100", metavar="N:D:clusters")
    ap.add_argument("--synthetic-queries", type=compare.positive, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clusters", type=compare.positive, default=100, help="k-means clusters of the clustered labels")
    ap.add_argument("--selectivities", default="0.5,0.1,0.01,0.001", help="comma list of fractions of the base that match")
    ap.add_argument("--limit-queries", type=int, default=0, help="use only the first N queries (0 = all)")
    ap.add_argument("--systems", type=compare.name_list(SYSTEMS), default=list(SYSTEMS))
    ap.add_argument("-k", "--k", type=compare.positive, default=10)
    ap.add_argument("--threads", type=compare.positive, default=1)
    ap.add_argument("--M", type=compare.positive, default=16)
    ap.add_argument("--ef-construction", type=compare.positive, default=200)
    ap.add_argument("--ef", type=compare.int_list, default=[16, 32, 64, 128, 256, 512])
    ap.add_argument("--nlist", type=compare.positive, default=1024)
    ap.add_argument("--nprobe", type=compare.int_list, default=[1, 2, 4, 8, 16, 32, 64, 128])
    ap.add_argument("--exact-below", type=int, default=None, help="vdb: the planner's exact-scan threshold (default: vdb's)")
    ap.add_argument("--runs", type=compare.positive, default=3)
    ap.add_argument("--latency-queries", type=compare.positive, default=1000)
    ap.add_argument("--vdb", default=None, help="vdb executable (default: build .build/release/vdb)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "out", "filter"))
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="write the data, print the vdb commands, run nothing else")
    ap.add_argument("--smoke", action="store_true",
                    help="a seconds-long check of the whole pipeline on tiny synthetic data (numbers meaningless)")
    a = ap.parse_args(argv)
    if a.smoke:
        a.datasets, a.synthetic, a.synthetic_queries, a.clusters = ["synthetic"], "3000:16:20", 60, 20
        a.selectivities, a.ef, a.nprobe, a.nlist, a.M, a.ef_construction = "0.5,0.1,0.01", [16, 64], [2, 8], 32, 8, 40
        a.runs, a.latency_queries = 1, 20
    a.selectivities = [float(x) for x in a.selectivities.split(",") if x.strip()]
    parts = a.synthetic.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        ap.error("--synthetic wants N:D:clusters, got %s" % a.synthetic)
    a.synthetic = tuple(int(p) for p in parts)
    a.out = os.path.abspath(a.out)
    if a.vdb and os.sep in a.vdb:
        a.vdb = os.path.abspath(a.vdb)
    return a


def main():
    a = parse_args()
    compare.ensure_environment(["numpy", "faiss"] + (["hnswlib"] if "hnswlib" in a.systems else [])
                               + ([] if a.no_plot else ["matplotlib"]), script=__file__)
    os.makedirs(a.out, exist_ok=True)
    if any(s.startswith("vdb") for s in a.systems) and a.vdb is None:
        a.vdb = compare.build_vdb(a.dry_run)
    datasets, all_results = [], []
    for name in a.datasets:
        ds = prepare(name, a)
        datasets.append(ds)
        progress("%s: %d x %d, %d queries, filters %s" % (name, len(ds.base), ds.base.shape[1], len(ds.queries),
                                                          ", ".join(ds.filters)))
        runs = []
        for family in ("flat", "hnsw", "ivf_flat"):
            if "vdb-" + family in a.systems:
                runs += vdb_runs(ds, family, a)
        if a.dry_run:
            continue
        if "hnswlib" in a.systems:
            runs += hnswlib_runs(ds, a)
        if "faiss-hnsw" in a.systems:
            runs += faiss_runs(ds, "hnsw", a)
        if "faiss-ivf" in a.systems:
            runs += faiss_runs(ds, "ivf", a)
        for r in runs:
            r["dataset"] = name
            r["selectivity"] = ds.filters[r["filter"]][2] if r["filter"] != "unfiltered" else 1.0
        all_results += runs
    if a.dry_run:
        return
    with open(os.path.join(a.out, "results.jsonl"), "w") as f:
        for r in all_results:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    lines = report(all_results, datasets, a)
    if not a.no_plot:
        for ds in datasets:
            progress("wrote " + plot(all_results, ds, a))
    print("\n".join(lines))
    progress("wrote %s/results.md and results.jsonl" % a.out)


if __name__ == "__main__":
    main()
