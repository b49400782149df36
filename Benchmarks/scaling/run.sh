#!/usr/bin/env bash
# Scaling study: vdb (FLAT, HNSW, IVF_FLAT, IVF_SQ8 through the CLI and `vdb bench --db`) against hnswlib and
# Faiss at 10k, 100k and 1M vectors of ann-dev's distribution (see scaling.py's header for the generator).
#
#   Benchmarks/scaling/run.sh                                  # 10k, 100k, 1M, cosine: ~45 min, ~6 GB RAM, ~4 GB disk
#   Benchmarks/scaling/run.sh --sizes 10000,100000 --out /tmp/s # the quick part
#   Benchmarks/scaling/run.sh --prepare-only                   # only the data and exact ground truth
#
# Never in CI. Run it on a quiet machine (no builds, tests or other benchmarks beside it).
# Extra arguments go to scaling.py (see --help). Needs numpy, hnswlib, faiss-cpu (and matplotlib for the plot):
# /work/venv-bench's Python is used when present, else $VDB_BENCH_VENV.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=python3
if [ -x "${VDB_BENCH_VENV:-/work/venv-bench}/bin/python" ]; then PY="${VDB_BENCH_VENV:-/work/venv-bench}/bin/python"; fi
exec "$PY" Benchmarks/scaling/scaling.py "$@"
