"""What the Spark and Ray recipes share: one shard's work as a plain function, and the driver steps.

The engine does the distribution (tasks, retries, placement); vdb does the work of each task:

1. ``ingest_shard(cfg, i)``    on an executor: ``vdb ingest INPUT --shard i/N`` into a scratch database
                               on the executor's local disk, then the finished ``data.mdb`` copied to
                               ``OUT/shards/shard-i`` (renamed into place: a half-copied shard is never
                               visible). A rerun of a killed task resumes its scratch database, or starts
                               over on another executor; either way it takes the same files and gives
                               them the same ids, so its output has the same content.
2. ``train_centroids(cfg)``    on the driver, for IVF: ``vdb index train`` on a sample of the shards.
3. ``index_shard(cfg, i)``     on an executor: ``vdb index build --centroids`` in a local copy of the
                               shard, copied back the same way.
4. ``merge_shards(cfg)``       on the driver: ``vdb merge`` of local copies of the shards; the merged
                               database is copied to ``OUT/merged``.

LMDB must not live on a network file system: every vdb command here runs on a database in a local
scratch folder, and only closed, finished database files are copied to or from OUT (which may be
shared storage).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time


@dataclasses.dataclass(frozen=True)
class ShardConfig:
    vdb: str                      # path of the vdb binary on every node
    model: str                    # CLIP checkpoint folder on every node
    input: str                    # folder to ingest, or a file listing paths (with files_list=True)
    out: str                      # output folder (shards/, centroids.ivfq, merged/, *.json)
    shards: int
    collection: str = "photos"
    files_list: bool = False      # input is a list of files (vdb ingest --files)
    threads: int = 0              # vdb --threads per task (0 = all cores of the executor)
    batch: int = 32               # images per embedding batch
    index: str = "flat"           # flat | ivf_flat | ivf_sq8 | hnsw (hnsw is built by the merge)
    nlist: int = 64
    sample: int = 0               # vectors to train IVF centroids on (0 = 256 per list)
    scratch: str = ""             # local scratch folder on each node (default: the system temp folder)
    fail_once: int = -1           # tests: kill the first attempt of this shard mid-ingest

    @property
    def shard_dir(self) -> str:
        return os.path.join(self.out, "shards")

    def shard_path(self, i: int) -> str:
        return os.path.join(self.shard_dir, f"shard-{i}")

    @property
    def centroids(self) -> str:
        return os.path.join(self.out, "centroids.ivfq")

    @property
    def merged(self) -> str:
        return os.path.join(self.out, "merged")

    def local(self, name: str) -> str:
        """A folder on this node's local disk, the same for every attempt of a task on this node."""
        base = self.scratch or os.path.join(tempfile.gettempdir(), "vdb-scratch")
        tag = hashlib.sha256(f"{self.out}\0{self.collection}".encode()).hexdigest()[:12]
        path = os.path.join(base, tag, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vdb", required=True, help="vdb binary (the same path on every node)")
    p.add_argument("--model", required=True, help="CLIP checkpoint folder (the same path on every node)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="folder of photos, at the same path on every node")
    src.add_argument("--files", help="file listing the photos to ingest, one path per line")
    p.add_argument("--out", required=True, help="output folder (shared storage on a cluster)")
    p.add_argument("--shards", type=int, required=True, help="number of shards (tasks)")
    p.add_argument("--collection", default="photos")
    p.add_argument("--threads", type=int, default=0, help="vdb --threads per task (0 = all cores)")
    p.add_argument("--batch", type=int, default=32, help="images per embedding batch")
    p.add_argument("--index", default="flat", choices=["flat", "ivf_flat", "ivf_sq8", "hnsw"])
    p.add_argument("--nlist", type=int, default=64, help="IVF lists (shared by every shard)")
    p.add_argument("--sample", type=int, default=0, help="vectors to train IVF on (0 = 256 per list)")
    p.add_argument("--scratch", default="", help="local scratch folder on each node")
    p.add_argument("--fail-once", type=int, default=-1, help=argparse.SUPPRESS)


def config_from_args(a: argparse.Namespace) -> ShardConfig:
    if a.shards < 1:
        raise SystemExit("--shards must be >= 1")
    absolute = lambda p: os.path.abspath(os.path.expanduser(p)) if p else p
    return ShardConfig(vdb=absolute(a.vdb), model=absolute(a.model), input=absolute(a.input or a.files),
                       files_list=a.files is not None, out=absolute(a.out), shards=a.shards, collection=a.collection,
                       threads=a.threads, batch=a.batch, index=a.index, nlist=a.nlist, sample=a.sample,
                       scratch=absolute(a.scratch), fail_once=a.fail_once)


def run_vdb(cfg: ShardConfig, *args: str) -> str:
    """Runs vdb; returns its standard output; raises with its error line if it fails."""
    r = subprocess.run([cfg.vdb, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"vdb {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def publish(local_db: str, target: str) -> None:
    """Copies a closed database folder to `target` and renames it into place (replacing an older
    copy from an earlier attempt). Only data.mdb is copied: lock.mdb is per host."""
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(target) + ".partial-", dir=parent)
    shutil.copyfile(os.path.join(local_db, "data.mdb"), os.path.join(tmp, "data.mdb"))
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=os.path.basename(target) + ".old-", dir=parent)
        os.rename(target, os.path.join(old, "db"))
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, target)


def fetch(source: str, local_db: str) -> str:
    """Copies a published database to a local folder (fresh) and returns it."""
    shutil.rmtree(local_db, ignore_errors=True)
    os.makedirs(local_db)
    shutil.copyfile(os.path.join(source, "data.mdb"), os.path.join(local_db, "data.mdb"))
    return local_db


def ingest_shard(cfg: ShardConfig, i: int) -> dict:
    """One task: ingest shard i of N locally, publish it. Safe to run again (retries)."""
    start = time.time()
    local = cfg.local(f"ingest-{i}")
    source = ["--files", cfg.input] if cfg.files_list else [cfg.input]
    args = ["ingest", "--db", local, *source, "--shard", f"{i}/{cfg.shards}", "--collection", cfg.collection,
            "--model", cfg.model, "--threads", str(cfg.threads), "--batch", str(cfg.batch), "--json"]
    marker = cfg.local(f"failed-once-{i}")
    if i == cfg.fail_once and not os.path.exists(marker):
        # Tests: the first attempt is killed (SIGKILL) in the middle of its ingest, as a lost executor would be.
        open(marker, "w").close()
        proc = subprocess.Popen([cfg.vdb, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        raise RuntimeError(f"shard {i}: injected failure (vdb killed mid-ingest); the engine retries the task")
    summary = json.loads(run_vdb(cfg, *args))
    publish(local, cfg.shard_path(i))
    return {"shard": i, "path": cfg.shard_path(i), "count": summary["count"],
            "ingested": summary.get("added", 0) + summary.get("updated", 0), "failed": len(summary.get("failed", [])),
            "seconds": time.time() - start, "host": os.uname().nodename}


def train_centroids(cfg: ShardConfig) -> str:
    """On the driver: trains the shared IVF centroids on a sample of local copies of the shards."""
    locals_ = [fetch(cfg.shard_path(i), cfg.local(f"train-{i}")) for i in range(cfg.shards)]
    args = ["index", "train", cfg.collection, "--type", cfg.index, "--nlist", str(cfg.nlist), "--out", cfg.centroids, "--quiet"]
    if cfg.sample > 0:
        args += ["--sample", str(cfg.sample)]
    for path in locals_:
        args += ["--from", path]
    run_vdb(cfg, *args)
    for path in locals_:
        shutil.rmtree(path, ignore_errors=True)
    return cfg.centroids


def index_shard(cfg: ShardConfig, i: int) -> dict:
    """One task: fills shard i's IVF lists with the shared centroids (local copy), publishes it."""
    start = time.time()
    local = fetch(cfg.shard_path(i), cfg.local(f"index-{i}"))
    run_vdb(cfg, "index", "build", "--db", local, cfg.collection, "--centroids", cfg.centroids, "--quiet")
    publish(local, cfg.shard_path(i))
    shutil.rmtree(local, ignore_errors=True)
    return {"shard": i, "seconds": time.time() - start}


def merge_shards(cfg: ShardConfig) -> dict:
    """On the driver: merges local copies of every shard, publishes OUT/merged, writes OUT/merge.json."""
    locals_ = [fetch(cfg.shard_path(i), cfg.local(f"merge-{i}")) for i in range(cfg.shards)]
    merged = cfg.local("merged")
    shutil.rmtree(merged, ignore_errors=True)
    summary = json.loads(run_vdb(cfg, "merge", merged, *locals_, "--json", "--quiet"))
    if cfg.index == "hnsw":
        run_vdb(cfg, "index", "build", "--db", merged, cfg.collection, "--type", "hnsw", "--quiet")
    publish(merged, cfg.merged)
    for path in locals_ + [merged]:
        shutil.rmtree(path, ignore_errors=True)
    with open(os.path.join(cfg.out, "merge.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    return summary


def cleanup_scratch(cfg: ShardConfig) -> None:
    shutil.rmtree(os.path.dirname(cfg.local("x")), ignore_errors=True)


def report(engine: str, cfg: ShardConfig, shards: list[dict], summary: dict, seconds: float) -> None:
    with open(os.path.join(cfg.out, "shards.json"), "w") as f:
        json.dump(shards, f, indent=1, sort_keys=True)
    images = sum(s["count"] for s in shards)
    print(f"{engine}: {cfg.shards} shards, {images} images ingested in {seconds:.1f} s; merged into {cfg.merged}")
    for c in summary["collections"]:
        print(f"  {c['name']}: {c['count']} vectors, index {c['index']} ({c['index_merge']})")
