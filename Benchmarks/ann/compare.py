#!/usr/bin/env python3
"""Side-by-side ANN benchmark: vdb's HNSW / IVF_FLAT / IVF_SQ8 against hnswlib and Faiss.

Same machine, same data (ann-dev: 50k x 384 base, 1k queries), same thread counts, one run.
Each side builds once; then --rounds rounds each sweep the reference and vdb (vdb reloads its
index from a record cache, so it is not rebuilt), and per setting the median over rounds is kept.
For every family and search setting: recall@10, batch QPS (all queries in one call, median of
--reps calls), CPU QPS (queries per CPU-second of the process; comparable at 1 thread, where other
load on the machine inflates wall time but not CPU time), single-query p50/p99 latency (queries
issued one at a time), build seconds, and
index bytes (vdb: in-memory bytes and persisted record bytes; Faiss/hnswlib: serialized size).
Then, per family, the best QPS reaching a recall target, and vdb's ratio to the reference.

Setup (once):
    python3 -m venv /work/venv-bench
    /work/venv-bench/bin/pip install faiss-cpu hnswlib numpy matplotlib   # hnswlib builds from source
    swift build -c release --product vdb-ann-bench

Run (from the package root):
    /work/venv-bench/bin/python Benchmarks/ann/compare.py --data ../shared/data/ann-dev \
        --threads 1 2 --metrics l2 ip --out Benchmarks/out/ann.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def read_vecs(path, dtype):
    a = np.fromfile(path, dtype='<i4')
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy().view(dtype)


def recall_at_10(ids, gt):
    hits = 0
    for r, t in zip(ids, gt):
        hits += len(set(int(x) for x in r[:10]) & set(int(x) for x in t[:10]))
    return hits / (10 * len(gt))


def latency(fn, queries, n):
    lat = []
    for i in range(min(n, len(queries))):
        q = queries[i:i + 1]
        t = time.perf_counter()
        fn(q)
        lat.append(time.perf_counter() - t)
    lat.sort()
    return lat[len(lat) // 2] * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000


def batch_qps(fn, queries, reps):
    """Median wall-clock QPS and median CPU QPS (queries per CPU-second of this process)."""
    times, cpu = [], []
    out = None
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        out = fn(queries)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    times.sort()
    cpu.sort()
    return len(queries) / times[len(times) // 2], len(queries) / max(cpu[len(cpu) // 2], 1e-9), out


def build_hnswlib(base, metric, threads):
    import hnswlib
    space = 'l2' if metric == 'l2' else 'ip'
    p = hnswlib.Index(space=space, dim=base.shape[1])
    t = time.perf_counter()
    p.init_index(max_elements=len(base), ef_construction=200, M=16, random_seed=100)
    p.add_items(base, np.arange(len(base)), num_threads=threads)
    build = time.perf_counter() - t
    with tempfile.NamedTemporaryFile(suffix='.bin') as f:
        p.save_index(f.name)
        size = os.path.getsize(f.name)
    return p, build, size


def sweep_hnswlib(p, build, size, queries, gt, metric, threads, efs, reps, lat_n):
    rows = []
    for ef in efs:
        p.set_ef(max(ef, 10))
        qps, cpu_qps, (ids, _) = batch_qps(lambda q: p.knn_query(q, k=10, num_threads=threads), queries, reps)
        p50, p99 = latency(lambda q: p.knn_query(q, k=10, num_threads=1), queries, lat_n)
        rows.append(dict(family='hnswlib', metric=metric, threads=threads, params=f'ef={ef}', build_s=build,
                         recall=recall_at_10(ids, gt), qps=qps, cpu_qps=cpu_qps, p50_ms=p50, p99_ms=p99, index_bytes=size))
    return rows


def build_faiss(base, metric, threads, sq8):
    import faiss
    faiss.omp_set_num_threads(threads)
    d = base.shape[1]
    mt = faiss.METRIC_L2 if metric == 'l2' else faiss.METRIC_INNER_PRODUCT
    quant = faiss.IndexFlatL2(d) if metric == 'l2' else faiss.IndexFlatIP(d)
    if sq8:
        index = faiss.IndexIVFScalarQuantizer(quant, d, 1024, faiss.ScalarQuantizer.QT_8bit, mt)
    else:
        index = faiss.IndexIVFFlat(quant, d, 1024, mt)
    t = time.perf_counter()
    index.train(base)
    index.add(base)
    build = time.perf_counter() - t
    size = len(faiss.serialize_index(index))
    return (index, quant), build, size


def sweep_faiss(handle, build, size, queries, gt, metric, threads, nprobes, reps, lat_n, sq8):
    import faiss
    faiss.omp_set_num_threads(threads)
    index = handle[0]
    family = 'faiss-IVFSQ8' if sq8 else 'faiss-IVFFlat'
    rows = []
    for nprobe in nprobes:
        index.nprobe = nprobe
        qps, cpu_qps, (_, ids) = batch_qps(lambda q: index.search(q, 10), queries, reps)
        p50, p99 = latency(lambda q: index.search(q, 10), queries, lat_n)
        rows.append(dict(family=family, metric=metric, threads=threads, params=f'nprobe={nprobe}', build_s=build,
                         recall=recall_at_10(ids, gt), qps=qps, cpu_qps=cpu_qps, p50_ms=p50, p99_ms=p99, index_bytes=size))
    return rows


def run_vdb(binary, data, kind, metric, threads, efs, nprobes, reps, lat_n, rerank=False, cache=None):
    """One vdb run: builds the index (or loads it from `cache`, written by the first run) and sweeps."""
    cmd = [binary, '--data', data, '--index', kind, '--metric', metric, '--threads', str(threads),
           '--M', '16', '--ef-construction', '200', '--nlist', '1024', '--reps', str(reps),
           '--latency-queries', str(lat_n),
           '--ef', ','.join(map(str, efs)), '--nprobe', ','.join(map(str, nprobes))]
    if rerank:
        cmd.append('--rerank')
    if cache:
        cmd += ['--cache', cache]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        if not line.startswith('{'):
            print(line, file=sys.stderr)
            continue
        j = json.loads(line)
        params = f"ef={j['ef']}" if kind == 'hnsw' else f"nprobe={j['nprobe']}" + (', rerank' if j.get('rerank') else '')
        rows.append(dict(family=j['family'] + ('+rerank' if rerank else ''), metric=metric, threads=threads, params=params,
                         build_s=j['build_s'], load_s=j['load_s'], recall=j['recall'], qps=j['qps'], cpu_qps=j['cpu_qps'],
                         p50_ms=j['p50_ms'], p99_ms=j['p99_ms'], index_bytes=j['record_bytes'],
                         memory_bytes=j['memory_bytes'], largest_record=j['largest_record']))
    return rows


def median_rows(rounds):
    """Per (family, params): the median of qps, cpu_qps, p50 and p99 over rounds (other fields from round 1)."""
    out = []
    for i, first in enumerate(rounds[0]):
        r = dict(first)
        for key in ('qps', 'cpu_qps', 'p50_ms', 'p99_ms'):
            vals = sorted(rr[i][key] for rr in rounds)
            r[key] = vals[len(vals) // 2]
        r['qps_rounds'] = [rr[i]['qps'] for rr in rounds]
        out.append(r)
    return out


def best(rows, family, target, key='qps'):
    ok = [r for r in rows if r['family'] == family and r['recall'] >= target]
    return max(ok, key=lambda r: r[key]) if ok else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='../shared/data/ann-dev')
    ap.add_argument('--binary', default='.build/release/vdb-ann-bench')
    ap.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    ap.add_argument('--metrics', nargs='+', default=['l2', 'ip'])
    ap.add_argument('--families', nargs='+', default=['hnsw', 'ivf_flat', 'ivf_sq8'])
    ap.add_argument('--efs', type=int, nargs='+', default=[16, 32, 64, 128, 256, 512])
    ap.add_argument('--nprobes', type=int, nargs='+', default=[8, 16, 32, 64, 128])
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--latency-queries', type=int, default=500)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--cache-dir', default='Benchmarks/out')
    ap.add_argument('--out', default='Benchmarks/out/ann.json')
    a = ap.parse_args()

    base_raw = read_vecs(os.path.join(a.data, 'base.fvecs'), '<f4')
    queries_raw = read_vecs(os.path.join(a.data, 'query.fvecs'), '<f4')
    rows = []
    for metric in a.metrics:
        gt = read_vecs(os.path.join(a.data, f'gt_{metric}.ivecs'), '<i4')
        base, queries = base_raw, queries_raw
        if metric == 'ip':
            base = base / np.linalg.norm(base, axis=1, keepdims=True)
            queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        base = np.ascontiguousarray(base, dtype=np.float32)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        for t in a.threads:
            # Build each side once, then --rounds rounds of (reference sweep, vdb sweep), so that
            # machine noise hits both sides alike; per setting, the median over rounds is kept.
            for fam in a.families:
                cache = os.path.join(a.cache_dir, f'{fam}-{metric}-t{t}.records')
                for f in (cache, cache + '.build_s'):
                    if os.path.exists(f):
                        os.remove(f)
                if fam == 'hnsw':
                    h, b, sz = build_hnswlib(base, metric, t)
                    ref = lambda: sweep_hnswlib(h, b, sz, queries, gt, metric, t, a.efs, a.reps, a.latency_queries)
                else:
                    h, b, sz = build_faiss(base, metric, t, sq8=(fam == 'ivf_sq8'))
                    ref = lambda: sweep_faiss(h, b, sz, queries, gt, metric, t, a.nprobes, a.reps, a.latency_queries, fam == 'ivf_sq8')
                rounds = []
                for r in range(a.rounds):
                    rounds.append(ref() + run_vdb(a.binary, a.data, fam, metric, t, a.efs, a.nprobes, a.reps,
                                                  a.latency_queries, cache=cache))
                rows += median_rows(rounds)
                del h
            print(f'done metric={metric} threads={t}', file=sys.stderr, flush=True)

    os.makedirs(os.path.dirname(a.out) or '.', exist_ok=True)
    with open(a.out, 'w') as f:
        json.dump(rows, f, indent=1)

    # Summary: best QPS at a recall target, vdb vs reference.
    pairs = [('vdb-hnsw', 'hnswlib', 0.95), ('vdb-hnsw', 'hnswlib', 0.90),
             ('vdb-ivf_flat', 'faiss-IVFFlat', 0.95), ('vdb-ivf_flat', 'faiss-IVFFlat', 0.90),
             ('vdb-ivf_sq8', 'faiss-IVFSQ8', 0.90), ('vdb-ivf_sq8', 'faiss-IVFSQ8', 0.95)]
    print('| metric | threads | vdb family | reference | recall target | vdb best QPS (setting, recall) | reference best QPS (setting, recall) | ratio | ratio of CPU QPS |')
    print('|---|---:|---|---|---:|---|---|---:|---:|')
    for metric in a.metrics:
        for t in a.threads:
            sub = [r for r in rows if r['metric'] == metric and r['threads'] == t]
            for fam, ref, target in pairs:
                if not any(r['family'] == fam for r in sub):
                    continue
                b, rb = best(sub, fam, target), best(sub, ref, target)
                fmt = lambda r: f"{r['qps']:.0f} ({r['params']}, r={r['recall']:.3f})" if r else 'not reached'
                ratio = f"{b['qps'] / rb['qps']:.2f}x" if b and rb else '-'
                bc, rc = best(sub, fam, target, 'cpu_qps'), best(sub, ref, target, 'cpu_qps')
                cratio = f"{bc['cpu_qps'] / rc['cpu_qps']:.2f}x" if bc and rc and t == 1 else '-'
                print(f'| {metric} | {t} | {fam} | {ref} | {target} | {fmt(b)} | {fmt(rb)} | {ratio} | {cratio} |')
    print()
    print('| metric | threads | family | build s | index MB (serialized / vdb records) | vdb memory MB | vdb reopen s |')
    print('|---|---:|---|---:|---:|---:|---:|')
    for metric in a.metrics:
        for t in a.threads:
            seen = set()
            for r in rows:
                if r['metric'] != metric or r['threads'] != t or r['family'] in seen:
                    continue
                seen.add(r['family'])
                mem = f"{r['memory_bytes'] / 1e6:.1f}" if 'memory_bytes' in r else '-'
                load = f"{r['load_s']:.3f}" if 'load_s' in r else '-'
                print(f"| {metric} | {t} | {r['family']} | {r['build_s']:.2f} | {r['index_bytes'] / 1e6:.1f} | {mem} | {load} |")
    print()
    print('| metric | threads | family | params | recall@10 | QPS (median) | QPS per round | CPU QPS | p50 ms | p99 ms |')
    print('|---|---:|---|---|---:|---:|---|---:|---:|---:|')
    for r in rows:
        per = ' / '.join(f'{x:.0f}' for x in r['qps_rounds'])
        print(f"| {r['metric']} | {r['threads']} | {r['family']} | {r['params']} | {r['recall']:.4f} | {r['qps']:.0f} | {per} | {r['cpu_qps']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |")


if __name__ == '__main__':
    main()
