"""Sharded CLIP ingest on Ray: N remote tasks run `vdb ingest --shard i/N`, the driver merges.

    python Scripts/distributed/ray_ingest.py \\
        --vdb .build/release/vdb --model Models/demo-clip --input Samples/photos --shards 4 --out /tmp/out

Without --address, a local Ray instance with --num-cpus CPUs is started; with --address auto (or
ray://...), the job runs on that cluster: the vdb binary and the model at the same path on every
node (a container image), the input and --out on shared storage, --scratch on local disks.
Retries are Ray's (max_retries, retry_exceptions): a retried task reruns its shard and produces
the same content. See Docs/scale-out.md.
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
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local instance)")
    p.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local instance")
    p.add_argument("--task-cpus", type=float, default=1, help="CPUs each shard task reserves")
    p.add_argument("--retries", type=int, default=3, help="attempts after the first for a failed task")
    args = p.parse_args(argv)
    cfg = vdb_shards.config_from_args(args)

    import ray
    here = os.path.dirname(os.path.abspath(__file__))
    runtime_env = {"working_dir": here, "excludes": ["__pycache__"]}
    if args.address:
        ray.init(address=args.address, runtime_env=runtime_env)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, runtime_env=runtime_env, log_to_driver=False)
    options = dict(num_cpus=args.task_cpus, max_retries=args.retries, retry_exceptions=True)
    ingest = ray.remote(**options)(vdb_shards.ingest_shard)
    index = ray.remote(**options)(vdb_shards.index_shard)
    start = time.time()
    try:
        shards = ray.get([ingest.remote(cfg, i) for i in range(cfg.shards)])
        if cfg.index in ("ivf_flat", "ivf_sq8"):
            vdb_shards.train_centroids(cfg)
            ray.get([index.remote(cfg, i) for i in range(cfg.shards)])
        summary = vdb_shards.merge_shards(cfg)
    finally:
        ray.shutdown()
        vdb_shards.cleanup_scratch(cfg)
    vdb_shards.report("ray", cfg, sorted(shards, key=lambda s: s["shard"]), summary, time.time() - start)
    return summary


if __name__ == "__main__":
    main()
