"""Tests of the distributed recipes and of the export to the next tier (run by Tests/distributed/run.sh).

- 4-shard PySpark local[2] and Ray local runs over Samples/photos, each with one task killed and
  retried by the engine, with `--batch 1 --threads 1`, merge into collections identical (bit for bit)
  to one `vdb ingest` with the same flags; with IVF
  from shared centroids the lists are concatenated and search like a single-node index built from
  the same centroids.
- The same over a larger generated folder with default threads and batches (embeddings then agree
  within 1e-5, ids and metadata exactly, exact top-10 overlap at least 0.99).
- Parquet export imports back losslessly; loaded into Milvus Lite and LanceDB it gives recall@10
  within 0.01 of vdb's on the same queries.

Plain asserts, one line per test, then "N passed, M failed". Spark or Ray failing to start is a failure.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "Scripts", "distributed"))
import ray_ingest  # noqa: E402
import spark_ingest  # noqa: E402

SAMPLES = os.path.join(REPO, "Samples", "photos")
MODEL = os.path.join(REPO, "Models", "demo-clip")
VDB = ""
WORK = ""


def vdb(*args: str) -> str:
    r = subprocess.run([VDB, *args], capture_output=True, text=True)
    assert r.returncode == 0, f"vdb {' '.join(args)} failed: {r.stderr.strip()}"
    return r.stdout


def rows(db: str, collection: str) -> list[dict]:
    """The collection's rows (id, vector, metadata) sorted by id, through a JSONL export."""
    path = os.path.join(WORK, f"rows-{time.time_ns()}.jsonl")
    vdb("export", "--db", db, collection, path)
    with open(path) as f:
        out = sorted((json.loads(line) for line in f), key=lambda r: r["id"])
    os.remove(path)
    return out


def exported_lines(db: str, collection: str) -> list[str]:
    path = os.path.join(WORK, f"lines-{time.time_ns()}.jsonl")
    vdb("export", "--db", db, collection, path)
    with open(path) as f:
        lines = sorted(f.read().splitlines())
    os.remove(path)
    return lines


def search(db: str, collection: str, queries: str, *extra: str) -> list[list[int]]:
    out = vdb("search", "--db", db, collection, "--queries", queries, "-k", "10", "--json", *extra)
    return [[r["id"] for r in json.loads(line)["results"]] for line in out.splitlines()]


def reference(name: str, folder: str, *ingest_args: str) -> str:
    """One single-node `vdb ingest` of `folder` (cached per name)."""
    db = os.path.join(WORK, "ref-" + name)
    if not os.path.exists(db):
        vdb("ingest", "--db", db, folder, "--collection", "photos", "--model", MODEL, *ingest_args)
    return db


def run_engine(engine: str, out: str, folder: str, *args: str) -> dict:
    common = ["--vdb", VDB, "--model", MODEL, "--input", folder, "--shards", "4", "--out", out,
              "--scratch", os.path.join(WORK, "scratch"), *args]
    try:
        if engine == "spark":
            return spark_ingest.main(common + ["--master", "local[2,4]"])
        return ray_ingest.main(common + ["--num-cpus", "2"])
    except Exception as e:  # noqa: BLE001 - an engine that cannot start must fail the test loudly
        raise AssertionError(f"{engine} run failed (could the engine start here?): {e!r}") from e


def check_sharded_run(engine: str, index: str) -> None:
    """Exact mode (one image per batch, one thread: embeddings independent of batching) with a task
    killed once: merged content identical to one ingest; IVF lists from shared centroids."""
    exact = ("--threads", "1", "--batch", "1")
    ref = reference("exact", SAMPLES, *exact)
    out = os.path.join(WORK, f"{engine}-{index}")
    summary = run_engine(engine, out, SAMPLES, *exact, "--index", index, "--nlist", "4", "--fail-once", "1")
    merged = os.path.join(out, "merged")
    for name in ("photos", "photos.captions"):
        assert exported_lines(merged, name) == exported_lines(ref, name), f"{engine}: merged '{name}' differs from one ingest"
    by_name = {c["name"]: c for c in summary["collections"]}
    assert by_name["photos"]["count"] == 40 and by_name["photos"]["duplicates"] == 0, by_name
    assert by_name["photos"]["index"] == index and by_name["photos"]["index_merge"] == "concatenated", by_name["photos"]
    # The single-node collection with an index from the same centroids searches the same.
    single = os.path.join(WORK, f"single-{engine}-{index}")
    shutil.copytree(ref, single)
    vdb("index", "build", "--db", single, "photos", "--centroids", os.path.join(out, "centroids.ivfq"))
    queries = os.path.join(WORK, f"q-{engine}.npy")
    vdb("export", "--db", ref, "photos", queries)
    for nprobe in ("1", "2"):
        a = search(single, "photos", queries, "--nprobe", nprobe)
        b = search(merged, "photos", queries, "--nprobe", nprobe)
        assert a == b, f"{engine}: IVF results at nprobe {nprobe} differ from the single-node index"


def test_spark_shards_with_retry_and_shared_ivf_flat():
    check_sharded_run("spark", "ivf_flat")


def test_ray_shards_with_retry_and_shared_ivf_sq8():
    check_sharded_run("ray", "ivf_sq8")


def check_generated_folder(engine: str) -> None:
    """A larger generated folder, default threads and batches: ids and metadata exact, vectors
    within 1e-5 (float32 rounding that depends on batch composition), exact top-10 overlap >= 0.99."""
    folder = os.path.join(WORK, "generated")
    if not os.path.exists(folder):
        subprocess.run([sys.executable, os.path.join(HERE, "make_photos.py"), folder, "240"], check=True)
    ref = reference("generated", folder)
    out = os.path.join(WORK, f"{engine}-generated")
    run_engine(engine, out, folder)
    merged = os.path.join(out, "merged")
    for name in ("photos", "photos.captions"):
        a, b = rows(ref, name), rows(merged, name)
        assert [r["id"] for r in a] == [r["id"] for r in b], f"{engine}: '{name}' ids differ"
        assert all(x.get("metadata") == y.get("metadata") for x, y in zip(a, b)), f"{engine}: '{name}' metadata differs"
        diff = max(float(np.max(np.abs(np.array(x["vector"]) - np.array(y["vector"])))) for x, y in zip(a, b))
        print(f"    {engine}: '{name}' vectors differ from one ingest by at most {diff:.2e}")
        assert diff < 1e-5, f"{engine}: '{name}' vectors differ by {diff}"
    assert len(rows(merged, "photos")) == 240
    queries = os.path.join(WORK, "q-generated.npy")
    vdb("export", "--db", ref, "photos", queries)
    a, b = search(ref, "photos", queries), search(merged, "photos", queries)
    overlap = sum(len(set(x) & set(y)) for x, y in zip(a, b)) / (10 * len(a))
    print(f"    {engine}: exact top-10 overlap with one ingest {overlap:.3f}")
    assert overlap >= 0.99, f"{engine}: exact top-10 overlap {overlap}"


def test_spark_generated_folder():
    check_generated_folder("spark")


def test_ray_generated_folder():
    check_generated_folder("ray")


def test_parquet_round_trip_is_lossless():
    ref = reference("exact", SAMPLES, "--threads", "1", "--batch", "1")
    db = os.path.join(WORK, "roundtrip")
    for fmt in ("parquet", "arrows"):
        path = os.path.join(WORK, f"photos.{fmt}")
        vdb("export", "--db", ref, "photos", path)
        vdb("import", "--db", db, f"photos-{fmt}", path)
        assert exported_lines(db, f"photos-{fmt}") == exported_lines(ref, "photos"), f"{fmt} round trip differs"
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pq.read_table(os.path.join(WORK, "photos.parquet"))
    vector = table.schema.field("vector").type
    assert pa.types.is_fixed_size_list(vector) and vector.list_size == 128 and vector.value_type == pa.float32(), vector
    assert table.schema.metadata[b"vdb.metric"] == b"cosine" and table.num_rows == 40
    props = json.loads(table.schema.metadata[b"vdb.properties"])
    assert "clip.model.fingerprint" in props, props


def recall(results: list[list[int]], truth: list[list[int]]) -> float:
    return sum(len(set(r) & set(t)) for r, t in zip(results, truth)) / sum(len(t) for t in truth)


def test_milvus_lite_and_lancedb_match_vdb_recall():
    """Exports loaded into Milvus Lite (FLAT) and LanceDB (brute force): recall@10 against exact
    ground truth within 0.01 of vdb's, on an l2 collection and the cosine photo collection."""
    from pymilvus import DataType, MilvusClient
    import lancedb
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    base = rng.standard_normal((3000, 64)).astype(np.float32)
    queries = rng.standard_normal((50, 64)).astype(np.float32)
    db = os.path.join(WORK, "recall")
    np.save(os.path.join(WORK, "base.npy"), base)
    np.save(os.path.join(WORK, "queries.npy"), queries)
    vdb("create", "--db", db, "points", "--dim", "64", "--metric", "l2")
    vdb("import", "--db", db, "points", os.path.join(WORK, "base.npy"), "--start-id", "1")
    photos = reference("exact", SAMPLES, "--threads", "1", "--batch", "1")
    photo_queries = os.path.join(WORK, "photo-queries.npy")
    vdb("export", "--db", photos, "photos", photo_queries)

    cases = [("points", db, os.path.join(WORK, "queries.npy"), "L2", "l2"),
             ("photos", photos, photo_queries, "COSINE", "cosine")]
    milvus = MilvusClient(os.path.join(WORK, "milvus.db"))
    lance = lancedb.connect(os.path.join(WORK, "lance"))
    for name, source, qfile, milvus_metric, lance_metric in cases:
        path = os.path.join(WORK, f"{name}-export.parquet")
        vdb("export", "--db", source, name, path, "--id-type", "int64")
        table = pq.read_table(path)
        q = np.load(qfile)
        vectors = np.stack(table.column("vector").to_numpy(zero_copy_only=False)).astype(np.float32)
        ids = table.column("id").to_numpy()
        # Ground truth: exact search in NumPy (float64).
        if lance_metric == "l2":
            d = ((q[:, None, :].astype(np.float64) - vectors[None, :, :]) ** 2).sum(-1)
        else:
            qn = q / np.linalg.norm(q, axis=1, keepdims=True)
            d = -(qn.astype(np.float64) @ vectors.T.astype(np.float64))
        truth = [list(ids[np.argsort(row, kind="stable")[:10]]) for row in d]
        vdb_exact = recall(search(source, name, qfile), truth)

        dim = vectors.shape[1]
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = milvus.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type=milvus_metric)
        if milvus.has_collection(name):
            milvus.drop_collection(name)
        milvus.create_collection(name, schema=schema, index_params=index)
        records = [{k: v for k, v in r.items() if v is not None} for r in table.to_pylist()]
        for start in range(0, len(records), 1000):
            milvus.insert(name, records[start:start + 1000])
        hits = milvus.search(name, data=q.tolist(), limit=10, search_params={"metric_type": milvus_metric}, output_fields=["*"])
        milvus_recall = recall([[h["id"] for h in r] for r in hits], truth)

        tbl = lance.create_table(name, data=table, mode="overwrite")
        lance_hits = [tbl.search(v).distance_type(lance_metric).limit(10).to_list() for v in q]
        lance_recall = recall([[h["id"] for h in r] for r in lance_hits], truth)
        print(f"    {name}: recall@10 vdb {vdb_exact:.3f}, Milvus Lite {milvus_recall:.3f}, LanceDB {lance_recall:.3f}")
        assert abs(milvus_recall - vdb_exact) <= 0.01, (name, milvus_recall, vdb_exact)
        assert abs(lance_recall - vdb_exact) <= 0.01, (name, lance_recall, vdb_exact)
        if name == "photos":
            assert any("path" in (h.get("entity") or {}) for h in hits[0]), "metadata did not reach Milvus"
            assert "path" in lance_hits[0][0], "metadata did not reach LanceDB"
    milvus.close()


def main() -> int:
    global VDB, WORK
    p = argparse.ArgumentParser()
    p.add_argument("--vdb", required=True)
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("-k", default="", help="run only tests whose name contains this")
    a = p.parse_args()
    VDB = os.path.abspath(a.vdb)
    WORK = tempfile.mkdtemp(prefix="vdb-distributed-")
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f) and a.k in n]
    passed = failed = 0
    start = time.time()
    for name, fn in tests:
        t = time.time()
        try:
            fn()
            passed += 1
            print(f"PASS {name} ({time.time() - t:.1f} s)", flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"FAIL {name} ({time.time() - t:.1f} s)\n{traceback.format_exc()}", flush=True)
    if a.keep:
        print(f"work folder: {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"distributed tests took {time.time() - start:.0f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
