#!/usr/bin/env python3
"""Side-by-side ANN benchmark: vdb (through `vdb bench`, the whole database path) against Faiss, hnswlib,
usearch, voyager and ScaNN.

    python3 Benchmarks/compare.py                               # ann-dev, metrics l2 and ip, 1 thread, all families
    python3 Benchmarks/compare.py --threads 1,2 --metrics ip --families hnsw --rounds 3
    python3 Benchmarks/compare.py --dataset DIR                 # base.fvecs|bvecs|npy, query.*, gt_<metric>.ivecs (optional)
    python3 Benchmarks/compare.py --synthetic 100000:128:100    # seeded clustered Gaussian (`vdb bench synth`)
    python3 Benchmarks/compare.py --dry-run                     # print what would run, run nothing
    python3 Benchmarks/compare.py --synthetic 400:16:4 --synthetic-queries 50 --systems vdb \\
        --nlist 8 --out /tmp/smoke                              # smoke run: seconds, vdb only

What it does:
  1. Sets up its Python environment: if a module the run needs is missing (numpy always; faiss, hnswlib
     usearch, voyager, scann for those systems; matplotlib unless --no-plot) it creates a venv (default /work/venv-bench, or
     $VDB_BENCH_VENV), installs what is missing and re-runs itself inside it.
  2. Builds vdb in release mode (`swift build -c release --product vdb`) unless --vdb is given.
  3. For every metric and thread count: runs `vdb bench --json` once per index family (flat, ivf_flat,
     ivf_sq8, hnsw) and the references with the same parameters: faiss IndexFlat, IndexIVFFlat,
     IndexIVFScalarQuantizer (QT_8bit), IndexHNSWFlat, hnswlib, usearch (f32; int8 too for cosine) and
     voyager for HNSW, and ScaNN (tree + anisotropic quantization + exact re-order) once per metric,
     compared with vdb's best index of any kind. Same queries, k, thread count and
     measuring method (batch QPS = all queries in one call, median of --runs calls; CPU QPS = queries per
     CPU-second of the process over those calls; p50/p99 = single queries one at a time after 50 warm-up
     queries; build = train + add, for vdb insert + build).
  4. Checks vdb's reported recall against this script's own recall computation on the ids vdb returned
     (vdb bench --results-dir), and stops if they disagree.
  5. With --rounds R, repeats steps 3-4 R times and keeps each setting's fastest round (noise on a
     shared machine only ever slows a run down). vdb builds its index in the first round only: later
     rounds reopen the same database (`vdb bench --db`), and the first round's build time is kept.
  6. Prints, per index family and recall level (0.90, 0.95, 0.99), the best QPS of each system and the
     ratio vdb/reference (and the ratio of CPU QPS at 1 thread, which time-slicing by other processes
     distorts less); writes per metric and thread count a recall-vs-QPS plot (PNG) and the raw results
     (JSON lines), and per thread count the tables (Markdown), into --out (default Docs/).

Metric `ip` means cosine, as in the ann-dev ground truth: base and queries are L2-normalized, vdb runs
with `--metric cosine`, faiss/hnswlib with inner product on the normalized vectors.

This replaces Benchmarks/ann/compare.py and its `vdb-ann-bench` executable, which measured the index
types without the database (no transaction, no id lookup, no FLAT); what a user gets is the database
path. For an index's inner loops, profile `vdb bench` or use `vdb-micro-bench` (Benchmarks/README.md).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATASET = os.path.join(os.path.dirname(ROOT), "shared", "data", "ann-dev")
DEFAULT_VENV = os.environ.get("VDB_BENCH_VENV", "/work/venv-bench")
PIP_NAME = {"numpy": "numpy", "faiss": "faiss-cpu", "hnswlib": "hnswlib", "matplotlib": "matplotlib",
            "usearch": "usearch", "voyager": "voyager", "scann": "scann"}
FAMILIES = ["flat", "ivf_flat", "ivf_sq8", "hnsw"]
SYSTEMS = ["vdb", "faiss", "hnswlib", "usearch", "voyager", "scann"]
# The HNSW libraries measured against vdb's HNSW (usearch-i8: usearch's int8 storage, cosine only),
# and ScaNN against vdb's best index of any kind.
HNSW_LIBRARIES = ["faiss", "hnswlib", "usearch", "usearch-i8", "voyager"]
RECALL_LEVELS = [0.90, 0.95, 0.99]
VDB_KEYS = {"index", "params", "threads", "k", "recall", "qps", "cpu_qps", "p50_ms", "p99_ms", "build_s", "bytes",
            "results_file"}


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def needed_modules(a):
    mods = ["numpy"] + [m for m in ("faiss", "hnswlib", "usearch", "voyager", "scann") if m in a.systems]
    return mods + ([] if a.no_plot else ["matplotlib"])


def ensure_environment(modules, script=None):
    """Re-executes `script` (default: this one) inside a venv that has `modules`, unless this Python has them."""
    import importlib.util
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    if os.environ.get("VDB_BENCH_REEXEC"):
        sys.exit("%s: the venv at %s still lacks %s" % (os.path.basename(script or __file__), DEFAULT_VENV, ", ".join(missing)))
    py = os.path.join(DEFAULT_VENV, "bin", "python")
    if not os.path.exists(py):
        progress("creating venv %s" % DEFAULT_VENV)
        subprocess.check_call([sys.executable, "-m", "venv", DEFAULT_VENV])
    probe = subprocess.run([py, "-c", "import " + ", ".join(modules)], capture_output=True)
    if probe.returncode != 0:
        packages = [PIP_NAME[m] for m in modules]
        progress("installing %s into %s" % (" ".join(packages), DEFAULT_VENV))
        subprocess.check_call([py, "-m", "pip", "install", "-q"] + packages)
    env = dict(os.environ, VDB_BENCH_REEXEC="1")
    os.execve(py, [py, os.path.abspath(script or __file__)] + sys.argv[1:], env)


# ----------------------------------------------------------------------------- data

def read_vecs(path, dtype):
    """TEXMEX .fvecs ('<f4'), .ivecs ('<i4'); .bvecs widened to float32."""
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
    """Finds base, query and ground-truth files of `metric` in a dataset folder (as `vdb bench --dataset`)."""
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
    """Exact top-k ids in float64, ties to the smaller id (as vdb's and the reference files)."""
    import numpy as np
    b = base.astype(np.float64)
    norms = (b * b).sum(axis=1) if metric == "l2" else None
    block = max(1, (1 << 25) // max(1, len(b)))
    out = np.empty((len(query), k), dtype=np.int64)
    ids = np.arange(len(b))
    for q0 in range(0, len(query), block):
        q = query[q0:q0 + block].astype(np.float64)
        scores = -2 * q @ b.T + norms if metric == "l2" else -(q @ b.T)
        for i, row in enumerate(scores):
            # A few more candidates than k, then (score, id) order: ties go to the smaller id.
            kk = min(k + 16, len(row) - 1)
            cand = np.argpartition(row, kk)[:kk + 1] if len(row) > k + 16 else ids
            order = np.lexsort((cand, row[cand]))
            out[q0 + i] = cand[order[:k]]
    return out


def recall_at_k(ids, gt, k):
    """|returned top-k ∩ first k gt ids| / k averaged over queries (duplicates and -1 never count)."""
    total = 0
    for row, truth in zip(ids, gt):
        total += len(set(int(i) for i in row[:k] if i >= 0) & set(int(t) for t in truth[:k]))
    return total / (k * len(gt))


def synthetic_folder(a):
    """Writes (once) the --synthetic dataset with `vdb bench synth`; returns its folder."""
    parts = a.synthetic.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        sys.exit("compare.py: --synthetic wants N:D[:clusters], got %s" % a.synthetic)
    n, d = parts[0], parts[1]
    clusters = parts[2] if len(parts) == 3 else "100"
    folder = os.path.join(a.synthetic_cache, "synth-%s-%s-c%s-q%d-s%d" % (n, d, clusters, a.synthetic_queries, a.seed))
    cmd = [a.vdb, "bench", "synth", "--n", n, "--dim", d, "--clusters", clusters, "--queries", str(a.synthetic_queries),
           "--seed", str(a.seed), "--gt-k", str(max(100, a.k)), "--metrics", ",".join(a.metrics), "--out", folder]
    have = all(os.path.exists(os.path.join(folder, "gt_%s.ivecs" % m)) for m in a.metrics)
    if a.dry_run:
        print(("# exists: " if have else "") + shlex.join(cmd))
    elif not have:
        progress("$ " + shlex.join(cmd))
        subprocess.check_call(cmd)
    return folder


# ----------------------------------------------------------------------------- timing

def timed_sweep(system, family, params, build_s, nbytes, batch, single, queries, gt, a, threads):
    """Measures one search setting with the same method as `vdb bench`."""
    import numpy as np
    for i in range(min(50, len(queries))):          # warm-up
        single(queries[i:i + 1])
    lat = []
    for i in range(min(a.latency_queries, len(queries))):
        t = time.perf_counter()
        single(queries[i:i + 1])
        lat.append((time.perf_counter() - t) * 1e3)
    rates, cpu_rates, ids = [], [], None
    for _ in range(max(3, a.runs)):
        t, c = time.perf_counter(), time.process_time()
        out = batch(queries)
        cpu_rates.append(len(queries) / max(time.process_time() - c, 1e-9))
        rates.append(len(queries) / max(time.perf_counter() - t, 1e-9))
        if ids is None:
            ids = out
    return {"system": system, "index": family, "params": params, "threads": threads, "k": a.k,
            "recall": recall_at_k(ids, gt, a.k), "qps": float(np.median(rates)), "cpu_qps": float(np.median(cpu_rates)),
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "build_s": build_s, "bytes": nbytes}


def run_faiss(family, base, queries, gt, metric, a, threads):
    """faiss IndexFlat / IndexIVFFlat / IndexIVFScalarQuantizer(QT_8bit) / IndexHNSWFlat."""
    import faiss
    faiss.omp_set_num_threads(threads)
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
            index.hnsw.efSearch = max(value, a.k)
        search = lambda q: index.search(q, a.k)[1]
        out.append(timed_sweep("faiss", family, params, build_s, nbytes, search, search, queries, gt, a, threads))
        progress("faiss %s %s recall=%.4f qps=%.0f" % (family, params, out[-1]["recall"], out[-1]["qps"]))
    return out


def run_hnswlib(base, queries, gt, metric, a, threads):
    """hnswlib HNSW with the same M / ef_construction / ef sweep."""
    import hnswlib
    d = base.shape[1]
    t = time.perf_counter()
    index = hnswlib.Index(space="l2" if metric == "l2" else "ip", dim=d)
    index.init_index(max_elements=len(base), M=a.M, ef_construction=a.ef_construction, random_seed=100)
    index.set_num_threads(threads)
    index.add_items(base, num_threads=threads)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.bin")
        index.save_index(path)
        nbytes = os.path.getsize(path)
    out = []
    for e in a.ef:
        index.set_ef(max(e, a.k))
        batch = lambda q: index.knn_query(q, k=a.k, num_threads=threads)[0]
        single = lambda q: index.knn_query(q, k=a.k, num_threads=1)[0]
        out.append(timed_sweep("hnswlib", "hnsw", {"M": a.M, "efConstruction": a.ef_construction, "ef": e},
                               build_s, nbytes, batch, single, queries, gt, a, threads))
        progress("hnswlib ef=%d recall=%.4f qps=%.0f" % (e, out[-1]["recall"], out[-1]["qps"]))
    return out


def vdb_command(family, files, metric, a, threads, results_dir, db_dir):
    """The `vdb bench` command line for one family (the same parameters as the references)."""
    base, query, gt_path = files
    cmd = [a.vdb, "bench", "--base", base, "--queries", query, "--metric", "l2" if metric == "l2" else "cosine",
           "--index", family, "-k", str(a.k), "--threads", str(threads), "--json", "--runs", str(a.runs),
           "--latency-queries", str(a.latency_queries), "--results-dir", results_dir, "--db", db_dir]
    if gt_path:
        cmd += ["--gt", gt_path]
    if a.limit_queries:
        cmd += ["--limit-queries", str(a.limit_queries)]
    if family.startswith("ivf"):
        cmd += ["--nlist", str(a.nlist), "--nprobe", ",".join(map(str, a.nprobe))]
        if family == "ivf_sq8" and a.rerank:
            cmd.append("--rerank")
    elif family == "hnsw":
        cmd += ["--M", str(a.M), "--ef-construction", str(a.ef_construction), "--ef", ",".join(map(str, a.ef))]
    return cmd


def run_vdb(cmd, family, gt, a, results_dir):
    """Runs `vdb bench --json`; checks its recall against the ids it wrote to results_dir."""
    progress("$ " + shlex.join(cmd))
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
    wall = time.perf_counter() - started
    progress("vdb bench --index %s took %.1f s" % (family, wall))
    if proc.returncode != 0:
        sys.exit("compare.py: vdb bench failed (exit %d)" % proc.returncode)
    out = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if not VDB_KEYS <= set(r):
            sys.exit("compare.py: vdb bench --json lacks the keys %s" % sorted(VDB_KEYS - set(r)))
        ids = read_vecs(os.path.join(results_dir, r["results_file"]), "<i4")
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


def run_usearch(base, queries, gt, metric, a, threads):
    """usearch HNSW (same M as connectivity, ef_construction as expansion_add, ef as expansion_search):
    float32 vectors, and for cosine also int8 (its quantized storage; distances in int8)."""
    from usearch.index import Index
    out = []
    kinds = [("f32", "l2sq" if metric == "l2" else "ip")] + ([("i8", "cos")] if metric == "ip" else [])
    for dtype, umetric in kinds:
        t = time.perf_counter()
        index = Index(ndim=base.shape[1], metric=umetric, dtype=dtype, connectivity=a.M,
                      expansion_add=a.ef_construction, expansion_search=max(a.ef[0], a.k))
        index.add(None, base, threads=threads)   # keys 0..n-1
        build_s = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "index.usearch")
            index.save(path)
            nbytes = os.path.getsize(path)
        for e in a.ef:
            index.expansion_search = max(e, a.k)
            batch = lambda q: index.search(q, a.k, threads=threads).keys
            single = lambda q: index.search(q, a.k, threads=1).keys
            system = "usearch" if dtype == "f32" else "usearch-i8"
            r = timed_sweep(system, "hnsw", {"M": a.M, "efConstruction": a.ef_construction, "ef": e},
                            build_s, nbytes, batch, single, queries, gt, a, threads)
            out.append(r)
            progress("usearch %s ef=%d recall=%.4f qps=%.0f" % (dtype, e, r["recall"], r["qps"]))
    return out


def run_voyager(base, queries, gt, metric, a, threads):
    """Spotify's voyager (hnswlib-derived) with the same M / ef_construction / ef sweep, float32 storage."""
    import numpy as np
    import voyager
    t = time.perf_counter()
    space = voyager.Space.Euclidean if metric == "l2" else voyager.Space.InnerProduct
    index = voyager.Index(space, num_dimensions=base.shape[1], M=a.M, ef_construction=a.ef_construction,
                          random_seed=1, max_elements=len(base), storage_data_type=voyager.StorageDataType.Float32)
    index.add_items(base, ids=np.arange(len(base)), num_threads=threads)
    build_s = time.perf_counter() - t
    nbytes = len(index.as_bytes())
    out = []
    for e in a.ef:
        ef = max(e, a.k)
        batch = lambda q: index.query(q, k=a.k, num_threads=threads, query_ef=ef)[0]
        single = lambda q: index.query(q, k=a.k, num_threads=1, query_ef=ef)[0]
        r = timed_sweep("voyager", "hnsw", {"M": a.M, "efConstruction": a.ef_construction, "ef": e},
                        build_s, nbytes, batch, single, queries, gt, a, threads)
        out.append(r)
        progress("voyager ef=%d recall=%.4f qps=%.0f" % (e, r["recall"], r["qps"]))
    return out


def run_scann(base, queries, gt, metric, a, threads):
    """Google's ScaNN: a partitioning tree (--scann-leaves leaves), anisotropic 4-bit product quantization
    (score_ah(2, threshold 0.2), as its README recommends) and an exact re-order; sweeps the leaves
    searched and the re-ordered candidates. Threads > 1 use search_batched_parallel."""
    import scann
    n = len(base)
    leaves = min(a.scann_leaves or max(16, int(round(n ** 0.5))), n)
    t = time.perf_counter()
    builder = scann.scann_ops_pybind.builder(base, a.k, "squared_l2" if metric == "l2" else "dot_product")
    searcher = (builder.tree(num_leaves=leaves, num_leaves_to_search=min(leaves, 32), training_sample_size=min(n, 250_000))
                .score_ah(2, anisotropic_quantization_threshold=0.2).reorder(max(100, a.k)).build())
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        searcher.serialize(tmp)
        nbytes = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
    out = []
    for probe in [p for p in a.scann_search if p <= leaves]:
        for reorder in a.scann_reorder:
            reorder = max(reorder, a.k)
            if threads > 1:
                batch = lambda q: searcher.search_batched_parallel(q, final_num_neighbors=a.k, leaves_to_search=probe,
                                                                   pre_reorder_num_neighbors=reorder)[0]
            else:
                batch = lambda q: searcher.search_batched(q, final_num_neighbors=a.k, leaves_to_search=probe,
                                                          pre_reorder_num_neighbors=reorder)[0]
            single = lambda q: searcher.search_batched(q, final_num_neighbors=a.k, leaves_to_search=probe,
                                                       pre_reorder_num_neighbors=reorder)[0]
            r = timed_sweep("scann", "scann", {"leaves": leaves, "leaves_to_search": probe, "reorder": reorder},
                            build_s, nbytes, batch, single, queries, gt, a, threads)
            out.append(r)
            progress("scann leaves_to_search=%d reorder=%d recall=%.4f qps=%.0f" % (probe, reorder, r["recall"], r["qps"]))
    return out


# ----------------------------------------------------------------------------- report

REFERENCE_FOR = {"flat": ["faiss"], "ivf_flat": ["faiss"], "ivf_sq8": ["faiss"], "hnsw": HNSW_LIBRARIES}
LABEL = {("faiss", "flat"): "faiss Flat", ("faiss", "ivf_flat"): "faiss IVFFlat", ("faiss", "ivf_sq8"): "faiss IVFSQ8",
         ("faiss", "hnsw"): "faiss HNSWFlat", ("hnswlib", "hnsw"): "hnswlib", ("usearch", "hnsw"): "usearch",
         ("usearch-i8", "hnsw"): "usearch i8", ("voyager", "hnsw"): "voyager", ("scann", "scann"): "ScaNN"}


def best_at(results, level, key="qps"):
    ok = [r for r in results if r["recall"] >= level]
    return max(ok, key=lambda r: r[key]) if ok else None


def describe(r):
    p = ",".join("%s=%s" % kv for kv in r["params"].items() if kv[0] in ("nprobe", "ef")) or "exact"
    return "%.0f (%s, r=%.3f)" % (r["qps"], p, r["recall"])


def ratio_table(results, metric, threads):
    lines = ["**metric=%s, threads=%d** (best batch QPS reaching recall@k; ratio = vdb / reference; CPU ratio: "
             "best queries per CPU-second, 1 thread only)" % (metric, threads), "",
             "| family | recall >= | vdb | reference | reference QPS | vdb / ref | CPU ratio |",
             "|---|---:|---|---|---|---:|---:|"]
    for fam in FAMILIES:
        mine = [r for r in results if r["system"] == "vdb" and r["index"] == fam]
        if not any(r["index"] == fam for r in results):
            continue
        for level in RECALL_LEVELS:
            bv = best_at(mine, level)
            vdb_cell = describe(bv) if bv else ("not reached (max r=%.3f)" % max(r["recall"] for r in mine) if mine else "not run")
            refs = [ref for ref in REFERENCE_FOR[fam] if any(r["system"] == ref and r["index"] == fam for r in results)]
            if not refs:
                lines.append("| %s | %.2f | %s | - | - | - | - |" % (fam, level, vdb_cell))
            for ref in refs:
                theirs = [r for r in results if r["system"] == ref and r["index"] == fam]
                br = best_at(theirs, level)
                ratio = "%.2f" % (bv["qps"] / br["qps"]) if bv and br else "-"
                cv, cr = best_at(mine, level, "cpu_qps"), best_at(theirs, level, "cpu_qps")
                cpu = "%.2f" % (cv["cpu_qps"] / cr["cpu_qps"]) if cv and cr and threads == 1 else "-"
                lines.append("| %s | %.2f | %s | %s | %s | %s | %s |" % (
                    fam, level, vdb_cell, LABEL[(ref, fam)],
                    describe(br) if br else "not reached (max r=%.3f)" % max(r["recall"] for r in theirs), ratio, cpu))
    theirs = [r for r in results if r["system"] == "scann"]
    mine = [r for r in results if r["system"] == "vdb"]
    if theirs and mine:
        for level in RECALL_LEVELS:
            bv, br = best_at(mine, level), best_at(theirs, level)
            vdb_cell = "%s %s" % (bv["index"], describe(bv)) if bv else "not reached"
            scann_cell = describe_scann(br) if br else "not reached (max r=%.3f)" % max(r["recall"] for r in theirs)
            ratio = "%.2f" % (bv["qps"] / br["qps"]) if bv and br else "-"
            cv, cr = best_at(mine, level, "cpu_qps"), best_at(theirs, level, "cpu_qps")
            cpu = "%.2f" % (cv["cpu_qps"] / cr["cpu_qps"]) if cv and cr and threads == 1 else "-"
            lines.append("| best vdb index | %.2f | %s | ScaNN | %s | %s | %s |" % (level, vdb_cell, scann_cell, ratio, cpu))
    return "\n".join(lines)


def describe_scann(r):
    return "%.0f (leaves %d/%d, reorder %d, r=%.3f)" % (r["qps"], r["params"]["leaves_to_search"], r["params"]["leaves"],
                                                       r["params"]["reorder"], r["recall"])


def sweep_table(results, k):
    lines = ["| system | index | params | build s | recall@%d | QPS | CPU QPS | p50 ms | p99 ms | MB |" % k,
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        p = ",".join("%s=%s" % kv for kv in r["params"].items()) or "-"
        lines.append("| %s | %s | %s | %.2f | %.4f | %.0f | %.0f | %.3f | %.3f | %.1f |" % (
            r["system"], r["index"], p, r["build_s"], r["recall"], r["qps"], r["cpu_qps"], r["p50_ms"], r["p99_ms"],
            r["bytes"] / 1048576))
    return "\n".join(lines)


def plot(results, title, path, k):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5))
    styles = {"vdb": "-", "faiss": "--", "hnswlib": ":", "usearch": "-.", "usearch-i8": "-.", "voyager": ":", "scann": "--"}
    colors = {"flat": "black", "ivf_flat": "tab:blue", "ivf_sq8": "tab:green", "hnsw": "tab:red", "scann": "tab:purple"}
    shades = {"usearch": "tab:orange", "usearch-i8": "tab:brown", "voyager": "tab:pink"}
    markers = {"vdb": "o", "faiss": "s", "hnswlib": "^", "usearch": "v", "usearch-i8": "<", "voyager": "D", "scann": "P"}
    series = {}
    for r in results:
        series.setdefault((r["system"], r["index"]), []).append(r)
    for (system, fam), rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r["recall"])
        label = "vdb " + fam if system == "vdb" else LABEL[(system, fam)]
        if system == "scann":  # one curve: the best QPS at each recall over the (leaves, reorder) grid
            rs = [r for r in rs if not any(o["recall"] >= r["recall"] and o["qps"] > r["qps"] for o in rs)]
        ax.plot([r["recall"] for r in rs], [r["qps"] for r in rs], styles[system], marker=markers[system],
                color=shades.get(system, colors[fam]), label=label, markersize=4)
    ax.set_yscale("log")
    ax.set_xlabel("recall@%d" % k)
    ax.set_ylabel("queries per second (batch, log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- main

def int_list(s):
    try:
        values = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("wants comma-separated integers, got %r" % s)
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("wants comma-separated integers >= 1, got %r" % s)
    return values


def name_list(choices):
    def parse(s):
        names = [x for x in s.split(",") if x]
        bad = [x for x in names if x not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError("choose from %s, got %r" % (",".join(choices), s))
        return names
    return parse


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1, got %d" % v)
    return v


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = ap.add_argument_group("data")
    data.add_argument("--dataset", default=DEFAULT_DATASET, help="folder with base/query/gt files")
    data.add_argument("--synthetic", default=None, metavar="N:D[:clusters]",
                      help="seeded clustered-Gaussian data written by `vdb bench synth` instead of --dataset")
    data.add_argument("--synthetic-queries", type=positive, default=1000)
    data.add_argument("--seed", type=int, default=1, help="seed of --synthetic")
    data.add_argument("--synthetic-cache", default=os.path.join(tempfile.gettempdir(), "vdb-compare-data"),
                      help="where --synthetic datasets are written (reused when present)")
    data.add_argument("--limit-queries", type=int, default=0, help="use only the first N queries (0 = all)")
    data.add_argument("--name", default=None, help="dataset name in file names (default: folder name)")
    what = ap.add_argument_group("what to compare")
    what.add_argument("--metrics", type=name_list(["l2", "ip"]), default=["l2", "ip"],
                      help="comma list of l2, ip (= cosine on normalized vectors)")
    what.add_argument("--families", type=name_list(FAMILIES), default=list(FAMILIES), help="comma list of index kinds")
    what.add_argument("--systems", type=name_list(SYSTEMS), default=list(SYSTEMS))
    what.add_argument("--threads", type=int_list, default=[1], help="comma list of thread counts, each run separately")
    what.add_argument("-k", "--k", type=positive, default=10)
    what.add_argument("--nlist", type=positive, default=1024)
    what.add_argument("--nprobe", type=int_list, default=[1, 2, 4, 8, 16, 32, 64, 128])
    what.add_argument("--M", type=positive, default=16)
    what.add_argument("--ef-construction", type=positive, default=200)
    what.add_argument("--ef", type=int_list, default=[10, 16, 32, 64, 128, 256, 512])
    what.add_argument("--rerank", action="store_true", help="vdb ivf_sq8: re-rank with the exact vectors")
    what.add_argument("--scann-leaves", type=int, default=0, help="ScaNN partitions (0: sqrt(n))")
    what.add_argument("--scann-search", type=int_list, default=[2, 4, 8, 16, 32, 64], help="ScaNN leaves searched")
    what.add_argument("--scann-reorder", type=int_list, default=[50, 100, 200],
                      help="ScaNN candidates re-ordered exactly")
    how = ap.add_argument_group("how to measure")
    how.add_argument("--runs", type=positive, default=3, help="timed batch runs per setting (median)")
    how.add_argument("--rounds", type=positive, default=1,
                     help="repeat every system's sweep this many times and keep each setting's best round "
                          "(use 2-3 on a shared machine)")
    how.add_argument("--latency-queries", type=positive, default=1000, help="queries timed one at a time")
    out = ap.add_argument_group("where")
    out.add_argument("--vdb", default=None, help="vdb executable (default: build .build/release/vdb)")
    out.add_argument("--out", default=os.path.join(ROOT, "Docs"), help="where PNG, JSON lines and Markdown go")
    out.add_argument("--no-plot", action="store_true", help="skip the PNG plots (no matplotlib needed)")
    out.add_argument("--dry-run", action="store_true",
                     help="print the dataset files and the commands each round would run; run nothing")
    a = ap.parse_args(argv)
    if a.vdb and os.sep in a.vdb:
        a.vdb = os.path.abspath(a.vdb)
    if a.synthetic and a.dataset != DEFAULT_DATASET:
        ap.error("give --dataset or --synthetic, not both")
    return a


def build_vdb(dry_run):
    """Builds vdb in release mode (or, dry, prints the command); returns the executable's path."""
    build = ["swift", "build", "-c", "release", "--product", "vdb"]
    if dry_run:
        print("(cd %s && %s)" % (shlex.quote(ROOT), shlex.join(build)))
    else:
        progress("building vdb (release)")
        subprocess.check_call(build, cwd=ROOT)
    return os.path.join(ROOT, ".build", "release", "vdb")


def main():
    a = parse_args()
    if not a.dry_run:
        ensure_environment(needed_modules(a))
    if "vdb" in a.systems and a.vdb is None:
        a.vdb = build_vdb(a.dry_run)
    elif a.vdb is None:
        a.vdb = "vdb"  # only --synthetic needs it then
    folder = synthetic_folder(a) if a.synthetic else a.dataset
    name = a.name or ("synth-" + a.synthetic.replace(":", "x") if a.synthetic else os.path.basename(os.path.normpath(folder)))

    if a.dry_run:
        for metric in a.metrics:
            files = discover(folder, metric) if os.path.isdir(folder) else (folder + "/base.fvecs", folder + "/query.fvecs",
                                                                            folder + "/gt_%s.ivecs" % metric)
            print("# metric %s: base %s, queries %s, ground truth %s" % (metric, *[f or "(computed)" for f in files]))
            for threads in a.threads:
                for fam in a.families:
                    if "vdb" in a.systems:
                        print(shlex.join(vdb_command(fam, files, metric, a, threads, "RESULTS_DIR", "DB_DIR/%s" % fam)))
                    refs = [s for s in REFERENCE_FOR[fam] if s.split("-")[0] in a.systems]
                    if fam == a.families[-1] and "scann" in a.systems:
                        refs.append("scann")
                    if refs:
                        print("# %s %s, threads=%d, %d round(s) in this process" % (" and ".join(refs), fam, threads, a.rounds))
        print("# outputs: %s/bench-%s-<metric>-t<threads>.{jsonl,png}, bench-%s-t<threads>.md" % (a.out, name, name))
        return

    os.makedirs(a.out, exist_ok=True)
    for threads in a.threads:
        report = ["# %s: vdb vs %s (threads=%d, k=%d)" % (name, " / ".join(s for s in a.systems if s != "vdb") or "itself",
                                                         threads, a.k), ""]
        for metric in a.metrics:
            report += compare_metric(a, folder, name, metric, threads)
        md = os.path.join(a.out, "bench-%s-t%d.md" % (name, threads))
        with open(md, "w") as f:
            f.write("\n".join(report))
        progress("wrote %s and the JSONL/PNG files next to it" % md)


def compare_metric(a, folder, name, metric, threads):
    """All families and rounds of one metric and thread count; returns the Markdown lines."""
    base_path, query_path, gt_path = discover(folder, metric)
    base, queries = load_matrix(base_path), load_matrix(query_path)
    if a.limit_queries:
        queries = queries[:a.limit_queries]
    if metric == "ip":
        base, queries = normalize(base), normalize(queries)
    if gt_path:
        gt = read_vecs(gt_path, "<i4")[:len(queries)]
        if gt.shape[1] < a.k:
            sys.exit("compare.py: %s has %d neighbours per query, fewer than k = %d" % (gt_path, gt.shape[1], a.k))
    else:
        progress("no gt file for %s: computing exact ground truth" % metric)
        gt = exact_gt(base, queries, metric, max(100, a.k))
    progress("== %s metric=%s: %d base x %d, %d queries, threads=%d" % (name, metric, len(base), base.shape[1],
                                                                      len(queries), threads))
    best, built = {}, {}
    with tempfile.TemporaryDirectory(prefix="vdb-compare-") as work:
        for round_ in range(a.rounds):
            if a.rounds > 1:
                progress("-- round %d of %d" % (round_ + 1, a.rounds))
            for fam in a.families:
                got = []
                if "vdb" in a.systems:
                    results_dir = os.path.join(work, "ids-%s-r%d" % (fam, round_))
                    cmd = vdb_command(fam, (base_path, query_path, gt_path), metric, a, threads, results_dir,
                                      os.path.join(work, "db-" + fam))
                    rows = run_vdb(cmd, fam, gt, a, results_dir)
                    # Later rounds reopen the first round's database: keep the build it measured.
                    for r in rows:
                        r["build_s"] = built.setdefault(fam, r["build_s"])
                    got += rows
                if "faiss" in a.systems:
                    got += run_faiss(fam, base, queries, gt, metric, a, threads)
                if fam == "hnsw" and "hnswlib" in a.systems:
                    got += run_hnswlib(base, queries, gt, metric, a, threads)
                if fam == "hnsw" and "usearch" in a.systems:
                    got += run_usearch(base, queries, gt, metric, a, threads)
                if fam == "hnsw" and "voyager" in a.systems:
                    got += run_voyager(base, queries, gt, metric, a, threads)
                if fam == a.families[-1] and "scann" in a.systems:
                    got += run_scann(base, queries, gt, metric, a, threads)
                # Keep each setting's best round: other processes only ever slow a run down.
                for r in got:
                    r["metric"] = metric
                    r["rounds"] = a.rounds
                    key = (r["system"], r["index"], json.dumps(r["params"], sort_keys=True))
                    if key not in best or r["qps"] > best[key]["qps"]:
                        best[key] = r
    results = list(best.values())
    stem = "bench-%s-%s-t%d" % (name, metric, threads)
    with open(os.path.join(a.out, stem + ".jsonl"), "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    lines = []
    table = ratio_table(results, metric, threads)
    print(table + "\n", flush=True)
    lines += [table, ""]
    if not a.no_plot:
        plot(results, "%s, metric=%s, threads=%d, k=%d" % (name, metric, threads, a.k), os.path.join(a.out, stem + ".png"), a.k)
        lines += ["![recall vs QPS](%s.png)" % stem, ""]
    lines += ["<details><summary>full sweep</summary>", "", sweep_table(results, a.k), "", "</details>", ""]
    return lines


if __name__ == "__main__":
    main()
