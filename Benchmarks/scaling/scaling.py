#!/usr/bin/env python3
"""Scaling study: vdb against hnswlib and Faiss at 10k, 100k and 1M vectors of ann-dev's distribution.

    Benchmarks/scaling/run.sh                                   # N = 10k, 100k, 1M; cosine; ~45 min, ~6 GB RAM
    Benchmarks/scaling/run.sh --sizes 10000,100000 --out /tmp/s  # the quick part (minutes)
    Benchmarks/scaling/run.sh --metrics l2,ip --systems vdb,hnswlib

Data (written once under --data, reused): the first 50,000 rows are ann-dev's real MiniLM vectors;
rows past 50,000 come from a seeded generator that stays on their manifold: a new row is a random
point on the segment between a base row and one of its 10 nearest neighbours, plus isotropic
Gaussian noise of a quarter of that segment's length. The N-row set is the first N rows of the 1M
set, so 10k, 100k and 1M are nested. Queries are ann-dev's 1,000 real queries; ground truth is exact
(float32 candidates re-scored in float64, ties to the smaller id), per metric (`ip` = cosine).

Per N and metric, every system runs in processes of its own, whose peak resident memory is recorded
(VmHWM via wait4, and the anonymous part polled from /proc, since vdb's LMDB map also counts as
resident file pages):
  vdb      `vdb create` + `vdb import --resume` (streamed; import s, rows/s, peak RSS), then per index
           kind a fresh database: `vdb index build` (build s, peak RSS), bytes on disk, `vdb info` and
           `vdb search` of one query in fresh processes (reopen + first answer), and the search sweep
           with `vdb bench --db` on that database (the whole database path; the index is reused).
  hnswlib  M=16, ef_construction=200, items added in chunks of 100k from a memory map (the process
           never holds the whole base), ef sweep.
  faiss    IndexFlat, IndexIVFFlat, IndexIVFScalarQuantizer(QT_8bit), trained on 256 x nlist points,
           added in chunks, nprobe sweep.
Builds use --build-threads (2), searches --threads (1). Batch QPS is the median of 3 calls over all
queries; recall@10 against the exact ground truth; p50 over --latency-queries single queries.

Writes scaling.md (one table, ratios vdb/reference), scaling.jsonl and scaling.png to --out (Docs/).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANN_DEV = os.path.join(os.path.dirname(ROOT), "shared", "data", "ann-dev")
CHUNK = 100_000


def log(msg):
    print("[scaling %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data

def fvecs_view(path):
    """(memory map of the float32 values, n, d) of a TEXMEX .fvecs file, without reading it."""
    import numpy as np
    d = int(np.fromfile(path, dtype="<i4", count=1)[0])
    raw = np.memmap(path, dtype="<f4", mode="r")
    n = raw.size // (d + 1)
    return raw.reshape(n, d + 1)[:, 1:], n, d


def write_vecs(f, rows, dtype):
    import numpy as np
    n, d = rows.shape
    out = np.empty((n, d + 1), dtype="<i4")
    out[:, 0] = d
    out[:, 1:] = rows.astype(dtype, copy=False).view("<i4")
    out.tofile(f)


def unit(x):
    import numpy as np
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_topk(base_view, n, queries, metric, k=100):
    """Exact top-k ids of queries against base_view[:n]: float32 candidates, float64 re-score, ties to smaller id."""
    import numpy as np
    q = unit(queries) if metric == "ip" else queries
    q64 = q.astype(np.float64)
    cand_n = k + 32
    best_s = np.full((len(q), 0), 0, dtype=np.float32)
    best_i = np.full((len(q), 0), 0, dtype=np.int64)
    for s in range(0, n, CHUNK):
        b = np.ascontiguousarray(base_view[s:min(n, s + CHUNK)], dtype=np.float32)
        if metric == "ip":
            b = unit(b)
            score = q @ b.T                                   # higher is better
        else:
            score = 2 * (q @ b.T) - (b * b).sum(1)[None, :]   # -(|b|^2 - 2qb), higher is better
        take = min(cand_n, score.shape[1])
        part = np.argpartition(-score, take - 1, axis=1)[:, :take]
        best_s = np.concatenate([best_s, np.take_along_axis(score, part, 1)], 1)
        best_i = np.concatenate([best_i, part + s], 1)
        if best_s.shape[1] > cand_n:
            keep = np.argpartition(-best_s, cand_n - 1, axis=1)[:, :cand_n]
            best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    gt = np.empty((len(q), k), dtype=np.int32)
    for r in range(len(q)):
        ids = np.sort(best_i[r])
        v = np.asarray(base_view[ids], dtype=np.float64)
        if metric == "ip":
            dist = -(unit(v) @ q64[r])
        else:
            dist = ((v - q64[r]) ** 2).sum(1)
        order = np.lexsort((ids, dist))[:k]
        gt[r] = ids[order]
    return gt


def check_gt(base_view, n, queries, metric, gt, count=5, seed=0):
    """Recomputes `count` random queries' top-100 by plain float64 brute force; stops on any difference."""
    import numpy as np
    for r in np.random.default_rng(seed).choice(len(queries), count, replace=False):
        q = queries[r].astype(np.float64)
        if metric == "ip":
            q = q / np.linalg.norm(q)
        dist = np.empty(n)
        for s in range(0, n, CHUNK):
            v = np.asarray(base_view[s:min(n, s + CHUNK)], dtype=np.float64)
            dist[s:s + len(v)] = -(unit(v) @ q) if metric == "ip" else ((v - q) ** 2).sum(1)
        ids = np.lexsort((np.arange(n), dist))[:gt.shape[1]]
        if not np.array_equal(ids, gt[r]):
            sys.exit("scaling.py: ground truth of query %d (N=%d, %s) differs from brute force" % (r, n, metric))


def make_data(a):
    """Writes base_<N>.fvecs (nested prefixes of one generated 1M set), query.fvecs and gt_<metric>_<N>.ivecs."""
    import numpy as np
    os.makedirs(a.data, exist_ok=True)
    sizes = sorted(a.sizes)
    top = sizes[-1]
    real, n_real, d = fvecs_view(os.path.join(a.source, "base.fvecs"))
    real = np.ascontiguousarray(real, dtype=np.float32)
    queries = np.ascontiguousarray(fvecs_view(os.path.join(a.source, "query.fvecs"))[0], dtype=np.float32)
    full = os.path.join(a.data, "base_%d.fvecs" % top)
    if not os.path.exists(full):
        log("generating %d x %d from %s (seed %d)" % (top, d, a.source, a.seed))
        rng = np.random.default_rng(a.seed)
        nn = None
        if top > n_real:
            # 10 nearest neighbours (L2) of every real row, in blocks.
            sq = (real * real).sum(1)
            nn = np.empty((n_real, 10), dtype=np.int64)
            for s in range(0, n_real, 5000):
                blk = real[s:s + 5000]
                dist = sq[None, :] - 2 * (blk @ real.T)
                dist[np.arange(len(blk)), np.arange(s, s + len(blk))] = np.inf
                nn[s:s + len(blk)] = np.argpartition(dist, 10, axis=1)[:, :10]
        tmp = full + ".part"
        with open(tmp, "wb") as f:
            write_vecs(f, real[:min(top, n_real)], "<f4")
            left = top - min(top, n_real)
            while left > 0:
                m = min(CHUNK, left)
                i = rng.integers(0, n_real, m)
                j = nn[i, rng.integers(0, 10, m)]
                t = rng.random(m, dtype=np.float32)[:, None]
                seg = real[j] - real[i]
                noise = rng.standard_normal((m, d), dtype=np.float32)
                noise *= (0.25 * np.linalg.norm(seg, axis=1, keepdims=True) / np.sqrt(d))
                write_vecs(f, real[i] + t * seg + noise, "<f4")
                left -= m
        os.replace(tmp, full)
    qpath = os.path.join(a.data, "query.fvecs")
    if not os.path.exists(qpath):
        with open(qpath, "wb") as f:
            write_vecs(f, queries, "<f4")
    view, n_full, _ = fvecs_view(full)
    for n in sizes:
        path = os.path.join(a.data, "base_%d.fvecs" % n)
        if not os.path.exists(path):
            with open(path + ".part", "wb") as f:
                for s in range(0, n, CHUNK):
                    write_vecs(f, np.asarray(view[s:min(n, s + CHUNK)]), "<f4")
            os.replace(path + ".part", path)
        for metric in a.metrics:
            gpath = os.path.join(a.data, "gt_%s_%d.ivecs" % (metric, n))
            if not os.path.exists(gpath):
                log("exact ground truth: N=%d metric=%s" % (n, metric))
                gt = exact_topk(view, n, queries, metric)
                check_gt(view, n, queries, metric, gt)
                with open(gpath + ".part", "wb") as f:
                    write_vecs(f, gt, "<i4")
                os.replace(gpath + ".part", gpath)


# ---------------------------------------------------------------- measuring processes

def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_child(cmd):
    """Runs cmd; returns (stdout, wall seconds, peak RSS bytes, peak anonymous RSS bytes).

    Both peaks are polled from /proc every 20 ms: VmHWM is the kernel's own high-water mark of the
    process's memory since its exec (ru_maxrss would also count this Python parent's pages, which a
    fork copies before the exec), RssAnon the part that is not a file map (vdb's LMDB map is page cache)."""
    log("$ " + " ".join(cmd))
    started = time.perf_counter()
    out_file = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen(cmd, stdout=out_file)
    peak = peak_anon = 0
    while True:
        pid, status, _ = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        peak = max(peak, status_kb(p.pid, "VmHWM"))
        peak_anon = max(peak_anon, status_kb(p.pid, "RssAnon"))
        time.sleep(0.02)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if p.returncode != 0:
        sys.exit("scaling.py: command failed (exit %s): %s" % (p.returncode, " ".join(cmd)))
    out_file.seek(0)
    return out_file.read(), wall, peak * 1024, peak_anon * 1024


def disk_bytes(path):
    """Bytes the files under path occupy on disk (allocated blocks, so a sparse LMDB map counts what it uses)."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            total += os.stat(os.path.join(dirpath, name)).st_blocks * 512
    return total


# ---------------------------------------------------------------- vdb

def nlist_for(n):
    """2 x sqrt(N) rounded to a power of two: 10k -> 256, 100k -> 512, 1M -> 2048 lists (Faiss trains on
    256 x nlist points, so 1M trains on half the data instead of all of it with 4 x sqrt(N))."""
    import math
    return max(64, 2 * 2 ** round(math.log2(math.sqrt(n))))


def run_vdb(n, metric, a, files):
    base, query, gt = files
    rows = []
    vmetric = "l2" if metric == "l2" else "cosine"
    for index in a.indexes:
        db = os.path.join(a.work, "vdb-%s-%d-%s" % (metric, n, index))
        shutil.rmtree(db, ignore_errors=True)
        run_child([a.vdb, "create", "c", "--dim", str(a.dim), "--metric", vmetric, "--db", db])
        _, imp_s, imp_peak, imp_anon = run_child([a.vdb, "import", "c", base, "--resume", "--batch-size", str(CHUNK), "--db", db])
        build_s = build_peak = build_anon = 0.0
        params = {}
        if index != "flat":
            cmd = [a.vdb, "index", "build", "c", "--type", index, "--seed", "42", "--threads", str(a.build_threads), "--quiet", "--db", db]
            if index == "hnsw":
                params = {"M": a.M, "efConstruction": a.ef_construction}
                cmd += ["--M", str(a.M), "--ef-construction", str(a.ef_construction)]
            else:
                params = {"nlist": nlist_for(n)}
                cmd += ["--nlist", str(nlist_for(n))]
            _, build_s, build_peak, build_anon = run_child(cmd)
        disk = disk_bytes(db)
        _, info_s, _, _ = run_child([a.vdb, "info", "--db", db])
        one = os.path.join(a.work, "one-query.fvecs")
        _, first_s, first_peak, _ = run_child([a.vdb, "search", "c", "-k", "10", "--queries", one, "--db", db])
        bench = [a.vdb, "bench", "--db", db, "--collection", "c", "--base", base, "--queries", query, "--gt", gt,
                 "--metric", vmetric, "--index", index, "-k", "10", "--threads", str(a.threads),
                 "--build-threads", str(a.build_threads), "--build-seed", "42", "--json",
                 "--latency-queries", str(a.latency_queries)]
        if index == "hnsw":
            bench += ["--M", str(a.M), "--ef-construction", str(a.ef_construction), "--ef", ",".join(map(str, a.ef))]
        elif index.startswith("ivf"):
            bench += ["--nlist", str(nlist_for(n)), "--nprobe", ",".join(map(str, a.nprobe))]
        out, _, _, _ = run_child(bench)
        sweep = [json.loads(l) for l in out.splitlines() if l.strip()]
        if any(r["build_s"] > 0 for r in sweep):
            sys.exit("scaling.py: vdb bench rebuilt the index instead of reusing the one `vdb index build` made (%s): %s" % (db, out))
        # Searching memory: a batch of all queries in a fresh process (the LMDB map is page cache, not anonymous memory).
        search_cmd = [a.vdb, "search", "c", "-k", "10", "--queries", query, "--threads", str(a.threads), "--db", db]
        if index == "hnsw":
            search_cmd += ["--ef", str(a.ef[-1])]
        elif index.startswith("ivf"):
            search_cmd += ["--nprobe", str(a.nprobe[-1])]
        _, _, search_peak, search_anon = run_child(search_cmd)
        rows.append({"system": "vdb", "index": index, "n": n, "metric": metric, "params": params,
                     "import_s": imp_s, "import_peak": imp_peak, "import_anon": imp_anon,
                     "build_s": build_s, "build_peak": build_peak, "build_anon": build_anon,
                     "disk": disk, "info_s": info_s, "first_query_s": first_s,
                     "search_peak": search_peak, "search_anon": search_anon, "sweep": sweep})
        log("vdb N=%d %s %s import %.1fs build %.1fs disk %.0f MB info %.2fs reopen+query %.2fs" % (
            n, metric, index, imp_s, build_s, disk / 2**20, info_s, first_s))
        if not a.keep:
            shutil.rmtree(db, ignore_errors=True)
    return rows


# ---------------------------------------------------------------- references (run as --worker in a process of their own)

def worker(a):
    import numpy as np
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import compare
    view, n, d = fvecs_view(a.w_base)
    queries = np.ascontiguousarray(fvecs_view(a.w_query)[0], dtype=np.float32)
    gt = np.ascontiguousarray(fvecs_view(a.w_gt)[0]).view("<i4")
    if a.metric == "ip":
        queries = unit(queries)

    def chunks():
        for s in range(0, n, CHUNK):
            b = np.ascontiguousarray(view[s:min(n, s + CHUNK)], dtype=np.float32)
            yield s, (unit(b) if a.metric == "ip" else b)

    class Opts:
        latency_queries, runs, k = a.latency_queries, 3, 10
    out = []
    t = time.perf_counter()
    if a.worker == "hnswlib":
        import hnswlib
        index = hnswlib.Index(space="l2" if a.metric == "l2" else "ip", dim=d)
        index.init_index(max_elements=n, M=a.M, ef_construction=a.ef_construction, random_seed=100)
        for s, b in chunks():
            index.add_items(b, np.arange(s, s + len(b)), num_threads=a.build_threads)
        build_s = time.perf_counter() - t
        for e in a.ef:
            index.set_ef(max(e, 10))
            batch = lambda q: index.knn_query(q, k=10, num_threads=a.threads)[0]
            single = lambda q: index.knn_query(q, k=10, num_threads=1)[0]
            out.append(compare.timed_sweep("hnswlib", "hnsw", {"M": a.M, "efConstruction": a.ef_construction, "ef": e},
                                           build_s, 0, batch, single, queries, gt, Opts, a.threads))
    else:
        import faiss
        family = a.worker.split(":")[1]
        faiss.omp_set_num_threads(a.build_threads)
        fm = faiss.METRIC_L2 if a.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if family == "flat":
            index = faiss.IndexFlat(d, fm)
            settings = [({}, None)]
        else:
            nlist = nlist_for(n)
            quantizer = faiss.IndexFlat(d, fm)
            if family == "ivf_flat":
                index = faiss.IndexIVFFlat(quantizer, d, nlist, fm)
            else:
                index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, fm)
            m = min(n, 256 * nlist)
            pick = np.sort(np.random.default_rng(1).choice(n, m, replace=False))
            sample = np.ascontiguousarray(view[pick], dtype=np.float32)
            index.train(unit(sample) if a.metric == "ip" else sample)
            del sample
            settings = [({"nlist": nlist, "nprobe": p}, p) for p in a.nprobe]
        for _, b in chunks():
            index.add(b)
        build_s = time.perf_counter() - t
        faiss.omp_set_num_threads(a.threads)
        for params, value in settings:
            if value is not None:
                index.nprobe = value
            search = lambda q: index.search(q, 10)[1]
            out.append(compare.timed_sweep("faiss", family, params, build_s, 0, search, search, queries, gt, Opts, a.threads))
    # Size of the index as the library saves it (streamed to a file, so no second copy in memory).
    path = os.path.join(a.work, "ref-index-%d.bin" % os.getpid())
    if a.worker == "hnswlib":
        index.save_index(path)
    else:
        faiss.write_index(index, path)
    for r in out:
        r["bytes"] = os.path.getsize(path)
        print(json.dumps(r), flush=True)
    os.remove(path)


def run_reference(system, n, metric, a, files):
    base, query, gt = files
    cmd = [a.python, os.path.abspath(__file__), "--worker", system, "--w-base", base, "--w-query", query, "--w-gt", gt,
           "--metric-one", metric, "--threads", str(a.threads), "--build-threads", str(a.build_threads),
           "--latency-queries", str(a.latency_queries), "--ef", ",".join(map(str, a.ef)),
           "--nprobe", ",".join(map(str, a.nprobe)), "--M", str(a.M), "--ef-construction", str(a.ef_construction),
           "--work", a.work]
    out, wall, peak, anon = run_child(cmd)
    sweep = [json.loads(l) for l in out.splitlines() if l.strip()]
    index = "hnsw" if system == "hnswlib" else system.split(":")[1]
    row = {"system": system.split(":")[0], "index": index, "n": n, "metric": metric,
           "params": {k: v for k, v in sweep[0]["params"].items() if k not in ("ef", "nprobe")},
           "build_s": sweep[0]["build_s"], "build_peak": peak, "build_anon": anon, "disk": sweep[0]["bytes"], "sweep": sweep}
    log("%s N=%d %s build %.1fs peak %.0f MB" % (system, n, metric, row["build_s"], peak / 2**20))
    return row


# ---------------------------------------------------------------- report

def best_at(sweep, target):
    ok = [r for r in sweep if r["recall"] >= target]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def setting(r):
    return ",".join("%s=%s" % kv for kv in r["params"].items() if kv[0] in ("ef", "nprobe")) or "exact"


def report(rows, a):
    mb = lambda b: "%.0f" % (b / 2**20) if b else "-"
    lines = []
    for metric in a.metrics:
        lines += ["", "### metric %s (%s), %d search thread(s), %d build threads, k = 10, QPS at recall@10 >= %.2f" % (
            metric, "cosine" if metric == "ip" else "L2", a.threads, a.build_threads, a.target), "",
            "| N | index | system | params | import s (rows/s, peak RSS) | build s | peak RSS MB (anon): vdb build, reference whole run | disk MB (reference: saved index) | "
            "`vdb info` s | reopen + 1st query s | search peak RSS MB (anon) | QPS @ %.2f (setting, recall) | p50 ms | "
            "vdb / reference QPS | vdb / reference build |" % a.target,
            "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
        for n in sorted(a.sizes):
            for index in a.indexes:
                group = [r for r in rows if r["n"] == n and r["metric"] == metric and r["index"] == index]
                mine = next((r for r in group if r["system"] == "vdb"), None)
                for r in sorted(group, key=lambda r: r["system"] != "vdb"):
                    b = best_at(r["sweep"], a.target)
                    qps = "%.0f (%s, r=%.3f)" % (b["qps"], setting(b), b["recall"]) if b else \
                        "not reached (max r=%.3f)" % max(x["recall"] for x in r["sweep"])
                    ratio_q = ratio_b = ""
                    if mine is not None and r is not mine:
                        mb_best = best_at(mine["sweep"], a.target)
                        if b and mb_best:
                            ratio_q = "%.2fx" % (mb_best["qps"] / b["qps"])
                        if r["build_s"] > 0 and mine["build_s"] > 0:
                            ratio_b = "%.2fx" % (mine["build_s"] / r["build_s"])
                    imp = "%.1f (%.0fk/s, %s MB)" % (r["import_s"], n / r["import_s"] / 1e3, mb(r["import_peak"])) if "import_s" in r else "-"
                    lines.append("| %s | %s | %s | %s | %s | %.1f | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        "{:,}".format(n), index, r["system"], ",".join("%s=%s" % kv for kv in r["params"].items()) or "-",
                        imp, r["build_s"], mb(r["build_peak"]), mb(r["build_anon"]), mb(r.get("disk", 0)),
                        "%.3f" % r["info_s"] if "info_s" in r else "-",
                        "%.3f" % r["first_query_s"] if "first_query_s" in r else "-",
                        "%s (%s)" % (mb(r["search_peak"]), mb(r["search_anon"])) if "search_peak" in r else "-",
                        qps, "%.3f" % b["p50_ms"] if b else "-", ratio_q, ratio_b))
    return "\n".join(lines)


def plot(rows, a, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not importable: no plot")
        return
    metric = a.metrics[0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    keys = sorted({(r["system"], r["index"]) for r in rows if r["metric"] == metric})
    colours = {index: "C%d" % i for i, index in enumerate(["flat", "hnsw", "ivf_flat", "ivf_sq8"])}
    for system, index in keys:
        rs = sorted([r for r in rows if r["metric"] == metric and r["system"] == system and r["index"] == index], key=lambda r: r["n"])
        style = dict(color=colours.get(index, "k"), linestyle="-" if system == "vdb" else "--",
                     marker="o" if system == "vdb" else "s", label="%s %s" % (system, index))
        pts = [(r["n"], best_at(r["sweep"], a.target)) for r in rs]
        pts = [(n, b["qps"]) for n, b in pts if b]
        if pts:
            axes[0].plot([p[0] for p in pts], [p[1] for p in pts], **style)
        if index != "flat":
            axes[1].plot([r["n"] for r in rs], [r["build_s"] for r in rs], **style)
        axes[2].plot([r["n"] for r in rs], [r["build_anon"] / 2**20 for r in rs], **style)
    titles = ["QPS at recall@10 >= %.2f (%d search thread)" % (a.target, a.threads),
              "build seconds (%d threads; FLAT has none)" % a.build_threads,
              "peak anonymous memory, MB (vdb: index build; reference: whole run)"]
    for ax, title in zip(axes, titles):
        ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlabel("N (vectors, d=%d, %s)" % (a.dim, "cosine" if metric == "ip" else "L2"))
        ax.set_title(title, fontsize=9); ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.text(0.5, 0.005, "solid: vdb, dashed: hnswlib / Faiss; one colour per index kind", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    log("wrote %s" % path)


# ---------------------------------------------------------------- main

def int_list(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int_list, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--metrics", type=lambda s: s.split(","), default=["ip"], help="l2 and/or ip (= cosine)")
    ap.add_argument("--indexes", type=lambda s: s.split(","), default=["flat", "hnsw", "ivf_flat", "ivf_sq8"])
    ap.add_argument("--systems", type=lambda s: s.split(","), default=["vdb", "hnswlib", "faiss"])
    ap.add_argument("--threads", type=int, default=1, help="search threads")
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", type=int_list, default=[16, 32, 64, 128, 256])
    ap.add_argument("--nprobe", type=int_list, default=[8, 16, 32, 64, 128])
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1, help="seed of the generated rows")
    ap.add_argument("--source", default=ANN_DEV, help="ann-dev folder (base.fvecs, query.fvecs)")
    ap.add_argument("--data", default="/work/data/scaling" if os.access("/work", os.W_OK) else "/tmp/vdb-scaling-data",
                    help="generated datasets, 1.7 GB with 1M (reused when present)")
    ap.add_argument("--work", default="/tmp/vdb-scaling-work", help="databases (deleted after each index unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--prepare-only", action="store_true", help="write the datasets and ground truth, then stop")
    ap.add_argument("--replot", metavar="JSONL", help="redraw the table and plot from a scaling.jsonl, run nothing")
    ap.add_argument("--vdb", default=None, help="vdb executable (default: build .build/release/vdb)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Docs"))
    # --worker mode: one reference system in this process (internal).
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--w-base", help=argparse.SUPPRESS)
    ap.add_argument("--w-query", help=argparse.SUPPRESS)
    ap.add_argument("--w-gt", help=argparse.SUPPRESS)
    ap.add_argument("--metric-one", dest="metric", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)

    if a.replot:
        rows = [json.loads(l) for l in open(a.replot) if l.strip()]
        a.sizes = sorted({r["n"] for r in rows})
        a.metrics = sorted({r["metric"] for r in rows})
        a.indexes = [i for i in a.indexes if any(r["index"] == i for r in rows)]
        a.dim = int(__import__("numpy").fromfile(os.path.join(a.source, "base.fvecs"), dtype="<i4", count=1)[0])
        print(report(rows, a))
        return plot(rows, a, os.path.join(a.out, "scaling.png"))
    a.python = sys.executable
    if a.vdb is None and not a.prepare_only:
        subprocess.check_call(["swift", "build", "-c", "release", "--product", "vdb"], cwd=ROOT)
        a.vdb = os.path.join(ROOT, ".build", "release", "vdb")
    a.dim = int(__import__("numpy").fromfile(os.path.join(a.source, "base.fvecs"), dtype="<i4", count=1)[0])
    make_data(a)
    if a.prepare_only:
        return
    os.makedirs(a.work, exist_ok=True)
    import numpy as np
    q, _, _ = fvecs_view(os.path.join(a.data, "query.fvecs"))
    with open(os.path.join(a.work, "one-query.fvecs"), "wb") as f:
        write_vecs(f, np.asarray(q[:1]), "<f4")
    os.makedirs(a.out, exist_ok=True)
    load = os.getloadavg()
    log("load average before: %.2f %.2f %.2f" % load)
    rows = []
    for n in sorted(a.sizes):
        for metric in a.metrics:
            files = (os.path.join(a.data, "base_%d.fvecs" % n), os.path.join(a.data, "query.fvecs"),
                     os.path.join(a.data, "gt_%s_%d.ivecs" % (metric, n)))
            if "vdb" in a.systems:
                rows += run_vdb(n, metric, a, files)
            if "hnswlib" in a.systems and "hnsw" in a.indexes:
                rows.append(run_reference("hnswlib", n, metric, a, files))
            if "faiss" in a.systems:
                for index in a.indexes:
                    if index != "hnsw":
                        rows.append(run_reference("faiss:" + index, n, metric, a, files))
            with open(os.path.join(a.out, "scaling.jsonl"), "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
    table = report(rows, a)
    header = ("# Scaling study: 10k to 1M vectors\n\nCommand: `Benchmarks/scaling/run.sh %s`, %s UTC, load average before %.2f %.2f %.2f.\n"
              "Data: ann-dev's 50,000 real rows, extended by the seeded generator described in `Benchmarks/scaling/scaling.py`; "
              "ann-dev's 1,000 real queries; exact ground truth.\n" % (
                  " ".join(sys.argv[1:]), time.strftime("%Y-%m-%d %H:%M", time.gmtime()), *load))
    print(table)
    with open(os.path.join(a.out, "scaling.md"), "w") as f:
        f.write(header + table + "\n")
    plot(rows, a, os.path.join(a.out, "scaling.png"))
    log("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
