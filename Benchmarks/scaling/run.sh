#!/usr/bin/env bash
# Scaling study of vdb's HNSW and IVF indexes on seeded synthetic data (clustered Gaussian, d 128 and 512).
#
#   Benchmarks/scaling/run.sh                       # N = 10k and 100k (about 15-25 min on 2 busy cores)
#   Benchmarks/scaling/run.sh --sizes 10000,100000,1000000   # + 1M: hours and ~8 GB RAM; never in CI
#
# Extra arguments go to scaling.py (see its --help). Uses /work/venv-bench's Python when present so the
# plot (Docs/scaling.png) is drawn; plain python3 works too, without the plot.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=python3
if [ -x "${VDB_BENCH_VENV:-/work/venv-bench}/bin/python" ]; then PY="${VDB_BENCH_VENV:-/work/venv-bench}/bin/python"; fi
exec "$PY" Benchmarks/scaling/scaling.py "$@"
