"""Measurements for Docs/scale-out.md: sharded ingest throughput with 1, 2 and 4 local executors,
merge rate for 1M vectors, export rate, and the inputs of the 100M projection.

Run on a quiet machine with a release build (timings under load are meaningless):

    swift build -c release
    VDB_PYTHON=$VENV/bin/python $VENV/bin/python Scripts/distributed/measure.py \\
        --vdb .build/release/vdb --work /tmp/vdb-measure            # full: 2000 photos, 1M x 512 vectors
    ... measure.py --vdb .build/release/vdb --work /tmp/m --smoke   # a quick check that it all runs

Prints a Markdown table per measurement and writes them to WORK/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)


def run(*cmd: str) -> float:
    """Runs a command, returns its wall time in seconds."""
    start = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.strip()[-2000:]}")
    return time.time() - start


def ingest_throughput(a, results: dict) -> None:
    photos = os.path.join(a.work, "photos")
    if not os.path.exists(photos):
        run(sys.executable, os.path.join(REPO, "Tests", "distributed", "make_photos.py"), photos, str(a.photos))
    rows = []
    single = os.path.join(a.work, "single")
    shutil.rmtree(single, ignore_errors=True)
    t = run(a.vdb, "ingest", "--db", single, photos, "--collection", "photos", "--model", a.model, "--threads", "0")
    rows.append(("single process, --threads 0", 1, t, a.photos / t, t))
    for engine in ("spark", "ray"):
        for executors in (1, 2, 4):
            out = os.path.join(a.work, f"{engine}-{executors}")
            shutil.rmtree(out, ignore_errors=True)
            common = ["--vdb", a.vdb, "--model", a.model, "--input", photos, "--shards", str(executors), "--out", out,
                      "--threads", "1"]
            script = os.path.join(HERE, f"{engine}_ingest.py")
            extra = ["--master", f"local[{executors}]"] if engine == "spark" else ["--num-cpus", str(executors)]
            t = run(sys.executable, script, *common, *extra)
            with open(os.path.join(out, "shards.json")) as f:
                slowest = max(s["seconds"] for s in json.load(f))
            rows.append((f"{engine}, {executors} executors x 1 thread", executors, t, a.photos / t, slowest))
    results["ingest"] = [dict(setup=r[0], executors=r[1], seconds=r[2], images_per_second=r[3], slowest_task_seconds=r[4],
                              images_per_second_in_tasks=a.photos / r[4]) for r in rows]
    print(f"\n### Ingest of {a.photos} generated photos ({os.path.basename(a.model)})\n")
    print("Wall time includes the engine's start (JVM, Ray) and the merge; the last column counts the slowest task only.\n")
    print("| setup | executors | wall s | images/s | slowest task s | images/s in tasks |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.1f} | {a.photos / r[4]:.1f} |")


def merge_and_export(a, results: dict) -> None:
    import numpy as np
    n, d, shards = a.vectors, a.dim, 4
    per = n // shards
    rng = np.random.default_rng(1)
    shard_dbs = []
    for s in range(shards):
        db = os.path.join(a.work, f"vshard-{s}")
        shutil.rmtree(db, ignore_errors=True)
        npy = os.path.join(a.work, f"vshard-{s}.npy")
        np.save(npy, rng.standard_normal((per, d)).astype(np.float32))
        run(a.vdb, "create", "--db", db, "v", "--dim", str(d), "--metric", "cosine")
        run(a.vdb, "import", "--db", db, "v", npy, "--start-id", str(s * per))
        os.remove(npy)
        shard_dbs.append(db)
    rows = []
    out = os.path.join(a.work, "vmerged")
    shutil.rmtree(out, ignore_errors=True)
    t = run(a.vdb, "merge", out, *shard_dbs, "--quiet")
    rows.append(("flat", t))
    centroids = os.path.join(a.work, "v.ivfq")
    t_train = run(a.vdb, "index", "train", "v", "--type", "ivf_flat", "--nlist", str(a.nlist), "--out", centroids, "--quiet",
                  *sum((["--from", db] for db in shard_dbs), []))
    t_build = max(run(a.vdb, "index", "build", "--db", db, "v", "--centroids", centroids, "--quiet") for db in shard_dbs)
    out_ivf = os.path.join(a.work, "vmerged-ivf")
    shutil.rmtree(out_ivf, ignore_errors=True)
    t = run(a.vdb, "merge", out_ivf, *shard_dbs, "--quiet")
    rows.append((f"ivf_flat nlist {a.nlist}, lists concatenated", t))
    results["merge"] = dict(vectors=per * shards, dim=d, shards=shards, train_seconds=t_train, slowest_shard_build_seconds=t_build,
                            runs=[dict(index=r[0], seconds=r[1], vectors_per_second=per * shards / r[1]) for r in rows])
    print(f"\n### Merge of {shards} shards, {per * shards} x {d} cosine vectors\n")
    print(f"(train on a sample: {t_train:.1f} s; slowest shard build from the centroids: {t_build:.1f} s)\n")
    print("| index | wall s | vectors/s |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.1f} | {per * shards / r[1]:.0f} |")
    exports = []
    for fmt in ("npy", "arrows", "parquet", "jsonl"):
        path = os.path.join(a.work, f"export.{fmt}")
        t = run(a.vdb, "export", "--db", out, "v", path)
        size = os.path.getsize(path)
        exports.append((fmt, t, size))
        os.remove(path)
        if fmt == "npy":
            os.remove(os.path.join(a.work, "export.ids.npy"))
    results["export"] = [dict(format=f, seconds=t, bytes=b, vectors_per_second=per * shards / t) for f, t, b in exports]
    print(f"\n### Export of {per * shards} x {d} vectors\n")
    print("| format | wall s | vectors/s | MB |\n|---|---|---|---|")
    for f, t, b in exports:
        print(f"| {f} | {t:.1f} | {per * shards / t:.0f} | {b / 1e6:.0f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vdb", required=True)
    p.add_argument("--model", default=os.path.join(REPO, "Models", "demo-clip"))
    p.add_argument("--work", required=True)
    p.add_argument("--photos", type=int, default=2000)
    p.add_argument("--vectors", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--nlist", type=int, default=1024)
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks that everything runs")
    p.add_argument("--only", choices=["ingest", "merge"], default=None)
    a = p.parse_args()
    a.vdb = os.path.abspath(a.vdb)
    if a.smoke:
        a.photos, a.vectors, a.dim, a.nlist = 80, 8000, 64, 16
    os.makedirs(a.work, exist_ok=True)
    results: dict = {}
    if a.only in (None, "ingest"):
        ingest_throughput(a, results)
    if a.only in (None, "merge"):
        merge_and_export(a, results)
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
