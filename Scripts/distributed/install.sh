#!/usr/bin/env bash
# Installs what the distributed recipes and their tests need (Scripts/distributed/, Tests/distributed/):
# a Java runtime for Spark (Debian's default-jre-headless) and a Python venv with PySpark, Ray,
# pyarrow, pymilvus + milvus-lite, LanceDB, NumPy and Pillow (PyPI; Pillow draws the generated test photos).
#
#   bash Scripts/distributed/install.sh            # venv in $VDB_DIST_VENV, default ~/.cache/vdb/dist-venv
#   VDB_DIST_VENV=/work/venv-scale bash Scripts/distributed/install.sh
#
# Idempotent: a venv that already imports every package is kept as it is.
set -euo pipefail
VENV="${VDB_DIST_VENV:-$HOME/.cache/vdb/dist-venv}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

if ! command -v java >/dev/null 2>&1; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends default-jre-headless
fi
java -version 2>&1 | head -1

# Lower bounds only: pip picks the newest release that supports this Python (Spark 4 needs Java 17+).
# The versions the tests last passed with are listed in Docs/scale-out.md.
PACKAGES=(
    "pyspark>=3.5"
    "ray[data]>=2.9"
    "pyarrow>=14"
    "pymilvus>=2.4"
    "milvus-lite>=2.4"
    "lancedb>=0.5"
    "numpy>=1.26"
    "pandas<3"
    "pillow"
)
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import pyspark, ray, pyarrow, pymilvus, milvus_lite, lancedb, numpy, PIL" 2>/dev/null; then
    echo "distributed venv ready: $VENV"
    exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}"
"$VENV/bin/python" -c "import pyspark, ray, pyarrow, pymilvus, milvus_lite, lancedb, numpy, PIL; print('distributed venv ready:', '$VENV')"
