#!/usr/bin/env bash
# End-to-end ingest throughput vs the image tower's own throughput (issue: ingest must reach
# >= 0.85x of the tower, i.e. decoding must not be the bottleneck). Not a test.
#
#   Benchmarks/ingest/run.sh MODEL_DIR [N_IMAGES] [THREADS]
#
# MODEL_DIR: a ViT-B/32-shaped checkpoint, e.g. one written by
#   /work/venv/bin/python Scripts/make_clip_fixtures.py --vit-b32 /tmp/vitb32
# The photos are N copies of a 1024x768 JPEG fixture (each decoded in full: the same bytes
# under different paths), ingested into a fresh database.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:?usage: run.sh MODEL_DIR [N_IMAGES] [THREADS]}
N=${2:-256}
T=${3:-2}
swift build -c release --product vdb --product vdb-clip-bench 2>&1 | grep -E "error|Build" | tail -1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/photos"
for i in $(seq 1 "$N"); do
    cp Tests/VDBCLIPTests/Fixtures/images/photo_1024x768.jpg "$work/photos/p$(printf %04d "$i").jpg"
done
echo "== image tower alone (batch 32, $T threads)"
tower=$(.build/release/vdb-clip-bench "$MODEL" --threads "$T" --image-batch 32 --repeats 3 --only image --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["per_second"])')
echo "tower: $tower images/s"
echo "== vdb ingest of $N 1024x768 JPEGs ($T threads, batch 32)"
summary=$(.build/release/vdb ingest "$work/photos" --db "$work/db" --model "$MODEL" --threads "$T" --batch 32 --json)
ingest=$(echo "$summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_second"])')
echo "ingest: $ingest images/s end to end (decode, preprocess, embed, commit)"
python3 -c "print(f'ratio ingest/tower = {$ingest/$tower:.2f} (target >= 0.85)')"
