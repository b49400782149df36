#!/usr/bin/env python3
"""FLAT (exact) search benchmark: vdb against Faiss IndexFlatL2 / IndexFlatIP, same data, same run.

Measures, on the ann-dev set (50k x 384 base, 1k queries):
  - batch search QPS, k=10, all 1000 queries in one call, 1 and 2 threads, metrics l2 and
    ip (cosine: vectors normalized; vdb `cosine` collection vs Faiss IndexFlatIP on normalized data);
    vdb and Faiss runs are interleaved round by round, and the median round is reported;
  - recall@10 of both against the ground truth;
  - vdb import throughput (vectors/s, as `vdb import` reports it) and data.mdb size / raw float32;
  - the machine's GEMM limit for the same shape (1000 x 50000 x 384: the product an exact batch
    search computes), measured in every round by `vdb-micro-bench --sgemm`: OpenBLAS's sgemm (one
    single-threaded call per thread, on its own range of columns) and vdb's packed GEMM (each thread
    packs and multiplies its columns), as queries per second; the limit is the faster of the two.
    A search cannot beat it, and vdb's share of it is what its selection, norms and bookkeeping
    cost on top.

vdb's time is the library search call only (`vdb search --stats`: no process start, no file
reading, no output), the same span Faiss's `index.search` is timed over.

Setup (not run by CI):
    python3 -m venv /work/venv-bench && /work/venv-bench/bin/pip install faiss-cpu numpy
    swift build -c release --product vdb --product vdb-micro-bench
    /work/venv-bench/bin/python Benchmarks/flat/bench_flat.py [--rounds 5] [--data ../shared/data/ann-dev]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import faiss


def read_vecs(path, dtype):
    a = np.fromfile(path, dtype="<i4")
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy().view(dtype)


def vdb(exe, db, *args):
    r = subprocess.run([exe, "--db", db, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"vdb {' '.join(args)} failed: {r.stderr.strip()}")
    return r


def recall_at_10(ids, gt):
    return float(np.mean([len(set(ids[i][:10]) & set(gt[i][:10])) / 10 for i in range(len(gt))]))


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "ann-dev"))
    ap.add_argument("--vdb", default=os.path.join(root, ".build", "release", "vdb"))
    ap.add_argument("--micro", default=os.path.join(root, ".build", "release", "vdb-micro-bench"))
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per configuration")
    ap.add_argument("--inner", type=int, default=3, help="searches per round (median taken)")
    ap.add_argument("--imports", type=int, default=3, help="import runs (median taken)")
    args = ap.parse_args()

    base_path = os.path.join(args.data, "base.fvecs")
    query_path = os.path.join(args.data, "query.fvecs")
    base = read_vecs(base_path, "<f4")
    queries = read_vecs(query_path, "<f4")
    gts = {"l2": read_vecs(os.path.join(args.data, "gt_l2.ivecs"), "<i4"),
           "ip": read_vecs(os.path.join(args.data, "gt_ip.ivecs"), "<i4")}
    n, d = base.shape
    raw_bytes = n * d * 4
    tmp = tempfile.mkdtemp(prefix="vdb-bench-flat-")
    out = {"faiss": faiss.__version__, "numpy": np.__version__, "n": n, "d": d, "nq": len(queries)}
    try:
        # Import throughput and on-disk size (fresh database each run).
        rates, ratios = [], []
        for i in range(args.imports):
            db = os.path.join(tmp, f"import{i}")
            vdb(args.vdb, db, "create", "c", "--dim", str(d), "--metric", "l2")
            r = vdb(args.vdb, db, "import", "c", base_path)
            rates.append(float(re.search(r"\((\d+) vectors/s\)", r.stdout).group(1)))
            ratios.append(os.path.getsize(os.path.join(db, "data.mdb")) / raw_bytes)
            shutil.rmtree(db)
        out["import_vectors_per_s"] = statistics.median(rates)
        out["import_runs"] = rates
        out["disk_ratio"] = statistics.median(ratios)

        db = os.path.join(tmp, "search")
        vdb(args.vdb, db, "create", "l2", "--dim", str(d), "--metric", "l2")
        vdb(args.vdb, db, "import", "l2", base_path)
        vdb(args.vdb, db, "create", "ip", "--dim", str(d), "--metric", "cosine")
        vdb(args.vdb, db, "import", "ip", base_path)

        normalized_base = base / np.linalg.norm(base, axis=1, keepdims=True)
        normalized_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        indexes = {"l2": faiss.IndexFlatL2(d), "ip": faiss.IndexFlatIP(d)}
        indexes["l2"].add(base)
        indexes["ip"].add(normalized_base)
        faiss_q = {"l2": queries, "ip": normalized_q}

        rows = []
        for metric in ("l2", "ip"):
            # Recall, once per side.
            r = vdb(args.vdb, db, "search", metric, "-k", "10", "--queries", query_path, "--json", "--threads", "2")
            vdb_ids = [[h["id"] for h in json.loads(line)["results"]] for line in r.stdout.splitlines()]
            faiss.omp_set_num_threads(2)
            _, fi = indexes[metric].search(faiss_q[metric], 10)
            vdb_recall = recall_at_10(vdb_ids, gts[metric])
            faiss_recall = recall_at_10(fi.tolist(), gts[metric])
            for threads in (1, 2):
                vq, fq, sq, bq = [], [], [], []
                for _ in range(args.rounds):
                    r = subprocess.run([args.micro, "--sgemm", f"{len(queries)}x{n}x{d}", "--threads", str(threads),
                                        "--repeats", str(args.inner)], capture_output=True, text=True, check=True)
                    limit = json.loads(r.stdout.strip().splitlines()[-1])
                    # the machine's limit: the faster of OpenBLAS's sgemm and vdb's packed GEMM
                    sq.append(len(queries) / min(limit["seconds"], limit.get("vdb_gemm_seconds", float("inf"))))
                    bq.append(len(queries) / limit["seconds"])
                    out["blas_core"] = limit["blas_core"]
                    r = vdb(args.vdb, db, "search", metric, "-k", "10", "--queries", query_path, "--threads",
                            str(threads), "--stats", "--repeat", str(args.inner))
                    vq.append(float(re.search(r": (\d+) QPS", r.stderr).group(1)))
                    faiss.omp_set_num_threads(threads)
                    times = []
                    for _ in range(args.inner):
                        t0 = time.perf_counter()
                        indexes[metric].search(faiss_q[metric], 10)
                        times.append(time.perf_counter() - t0)
                    fq.append(len(queries) / statistics.median(times))
                rows.append({"metric": metric, "threads": threads, "sgemm_limit_qps": statistics.median(sq),
                             "openblas_sgemm_qps": statistics.median(bq),
                             "vdb_qps": statistics.median(vq), "faiss_qps": statistics.median(fq),
                             "vdb_rounds": vq, "faiss_rounds": [round(x) for x in fq],
                             "vdb_recall": vdb_recall, "faiss_recall": faiss_recall})
        out["search"] = rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"vdb FLAT vs Faiss {out['faiss']} (numpy {out['numpy']}), {n} x {d}, {len(queries)} queries, k=10, "
          f"median of {args.rounds} interleaved rounds (each the median of {args.inner} searches); "
          f"vdb's OpenBLAS kernels: {out.get('blas_core', '?')}\n")
    print("| metric | threads | vdb QPS | Faiss QPS | vdb / Faiss | median of per-round ratios | OpenBLAS sgemm QPS | "
          "GEMM limit QPS (faster of OpenBLAS and vdb_gemm) | vdb / limit | vdb recall@10 | Faiss recall@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in out["search"]:
        paired = statistics.median(v / f for v, f in zip(r["vdb_rounds"], r["faiss_rounds"]))
        print(f"| {r['metric']} | {r['threads']} | {r['vdb_qps']:.0f} | {r['faiss_qps']:.0f} | "
              f"{r['vdb_qps'] / r['faiss_qps']:.2f}x | {paired:.2f}x | {r['openblas_sgemm_qps']:.0f} | {r['sgemm_limit_qps']:.0f} | "
              f"{r['vdb_qps'] / r['sgemm_limit_qps']:.0%} | {r['vdb_recall']:.4f} | {r['faiss_recall']:.4f} |")
    print()
    print(f"import: {out['import_vectors_per_s']:.0f} vectors/s (median of {len(out['import_runs'])}: "
          f"{', '.join(f'{x:.0f}' for x in out['import_runs'])})")
    print(f"data.mdb / raw float32 ({raw_bytes} bytes): {out['disk_ratio']:.3f}x")
    print()
    print("rounds (vdb | faiss):")
    for r in out["search"]:
        print(f"  {r['metric']} t={r['threads']}: {r['vdb_rounds']} | {r['faiss_rounds']}")


if __name__ == "__main__":
    main()
