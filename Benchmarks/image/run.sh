#!/bin/sh
# CLIP image preprocessing benchmark: vdb (Swift, release) vs transformers CLIPImageProcessor + Pillow,
# same 1024x768 JPEGs, same run. Usage: Benchmarks/image/run.sh [PYTHON] (default /work/venv/bin/python)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-/work/venv/bin/python}
imgs="$here/../out/image-bench"
[ -d "$imgs" ] || "$py" "$here/make_bench_images.py" "$imgs" 64
root=$(cd "$here/../.." && pwd)
(cd "$root" && swift build -c release --product vdb-image-bench >/dev/null)
bin=$(cd "$root" && swift build -c release --show-bin-path)/vdb-image-bench
for round in 1 2 3; do
  echo "--- round $round"
  "$py" "$here/bench_hf.py" "$imgs" 5
  "$bin" "$imgs" --threads 1,2 --passes 5
done
