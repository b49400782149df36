"""Sharded CLIP ingest on Apache Spark: N tasks run `vdb ingest --shard i/N`, the driver merges.

    spark-submit --master 'local[2]' Scripts/distributed/spark_ingest.py \\
        --vdb .build/release/vdb --model Models/demo-clip --input Samples/photos --shards 4 --out /tmp/out

On a cluster: the vdb binary and the model at the same path on every executor (a container image,
or `--archives`), the input folder and --out on shared storage, --scratch on each node's local disk.
Retries are Spark's (spark.task.maxFailures, 4 by default on a cluster; 'local[2,4]' locally): a
retried task reruns its shard and produces the same content. See Docs/scale-out.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdb_shards  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    vdb_shards.add_arguments(p)
    p.add_argument("--master", default=None, help="Spark master when not given by spark-submit (e.g. local[2])")
    args = p.parse_args(argv)
    cfg = vdb_shards.config_from_args(args)

    from pyspark.sql import SparkSession
    builder = SparkSession.builder.appName("vdb-sharded-ingest").config("spark.ui.enabled", "false")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    sc.addPyFile(vdb_shards.__file__)
    start = time.time()
    try:
        n = cfg.shards
        # One partition per shard: Spark schedules, places and retries the tasks.
        shards = sc.parallelize(range(n), n).map(lambda i: vdb_shards.ingest_shard(cfg, i)).collect()
        if cfg.index in ("ivf_flat", "ivf_sq8"):
            vdb_shards.train_centroids(cfg)
            sc.parallelize(range(n), n).map(lambda i: vdb_shards.index_shard(cfg, i)).collect()
        summary = vdb_shards.merge_shards(cfg)
    finally:
        spark.stop()
        vdb_shards.cleanup_scratch(cfg)
    vdb_shards.report("spark", cfg, shards, summary, time.time() - start)
    return summary


if __name__ == "__main__":
    main()
