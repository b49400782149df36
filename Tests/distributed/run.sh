#!/usr/bin/env bash
# Tests of the distributed recipes (Spark, Ray) and of the export to Milvus Lite and LanceDB.
# Needs the venv of Scripts/distributed/install.sh and a built vdb (swift build).
#
#   bash Tests/distributed/run.sh                # VDB_DIST_VENV, VDB_BIN override the defaults
#   bash Tests/distributed/run.sh -k ray         # only tests whose name contains "ray"
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VDB_DIST_VENV:-$HOME/.cache/vdb/dist-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "error: no venv at $VENV: run Scripts/distributed/install.sh first (or set VDB_DIST_VENV)" >&2
    exit 1
fi
if [ -z "${VDB_BIN:-}" ]; then
    swift build --product vdb >/dev/null
    VDB_BIN="$(swift build --show-bin-path)/vdb"
fi
# Parquet goes through pyarrow: vdb runs the venv's Python.
export VDB_PYTHON="$VENV/bin/python"
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" RAY_USAGE_STATS_ENABLED=0 PYSPARK_PYTHON="$VENV/bin/python"
exec "$VENV/bin/python" Tests/distributed/test_distributed.py --vdb "$VDB_BIN" "$@"
