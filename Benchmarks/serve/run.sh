#!/usr/bin/env bash
# Load test of `vdb serve` over loopback (issue 12): CLIENTS concurrent clients (wrk) send vector
# searches for DURATION seconds to a 50k x 384 HNSW collection (ann-dev) while a writer upserts
# batches at a fixed rate (first in batches of BATCH searches a request, then one search a request,
# each phase with its own writer inserting new ids); then text-search latency with the demo model. Reports QPS, p50/p99,
# errors (must be 0) and the ratio of HTTP QPS to in-process `vdb bench` QPS at the same
# settings (same index, ef, k, THREADS search threads). Bounded in time; loopback only.
#
#   bash Benchmarks/serve/run.sh                 # the full run (several minutes: index build + 60 s load)
#   SMOKE=1 VDB=.build/debug/vdb bash Benchmarks/serve/run.sh   # seconds, tiny synthetic data: proves the script works
#
# Settings (environment): DATASET (../shared/data/ann-dev), METRIC (l2), CLIENTS (32), DURATION (60),
# THREADS (2: wrk threads and in-process search threads), EF (64), K (10), M (16), EFC (200),
# WRITE_RATE (batches/s, 10), WRITE_BATCH (vectors per batch, 10), BATCH (queries per search/batch
# request in a first phase of BATCH_DURATION s, with the same writer; 100, 1 skips it), WARMUP (s of
# unmeasured searches first, 5), OUT (results folder), VDB (binary).
# Needs wrk (Debian package; installed when missing). Run it on a quiet machine: the load
# generator shares the cores with the server, so the ratio is a lower bound.
set -euo pipefail
cd "$(dirname "$0")/../.."

SMOKE="${SMOKE:-0}"
METRIC="${METRIC:-l2}"
K="${K:-10}"
EF="${EF:-64}"
THREADS="${THREADS:-2}"
BATCH="${BATCH:-100}"   # queries per search/batch request in the batch phase (1: skip it)
if [ "$SMOKE" = 1 ]; then
    CLIENTS="${CLIENTS:-2}"; DURATION="${DURATION:-3}"; M="${M:-8}"; EFC="${EFC:-64}"
    WRITE_RATE="${WRITE_RATE:-5}"; WRITE_BATCH="${WRITE_BATCH:-5}"; TEXT_N="${TEXT_N:-10}"; BATCH_DURATION="${BATCH_DURATION:-2}"; WARMUP="${WARMUP:-1}"
else
    CLIENTS="${CLIENTS:-32}"; DURATION="${DURATION:-60}"; M="${M:-16}"; EFC="${EFC:-200}"
    WRITE_RATE="${WRITE_RATE:-10}"; WRITE_BATCH="${WRITE_BATCH:-10}"; TEXT_N="${TEXT_N:-200}"; BATCH_DURATION="${BATCH_DURATION:-20}"; WARMUP="${WARMUP:-5}"
fi
OUT="${OUT:-Benchmarks/serve/results/$(date +%Y%m%d-%H%M%S)$([ "$SMOKE" = 1 ] && echo -smoke || true)}"
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
    echo "==> installing wrk"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq wrk >/dev/null
fi
if [ -z "${VDB:-}" ]; then
    echo "==> building vdb (release)"
    swift build -c release --product vdb 2>&1 | grep -E "error|Build" | tail -2
    VDB=.build/release/vdb
fi

WORK="$(mktemp -d)"
SERVER_PID=""; WRITER_PID=""
cleanup() {
    for pid in $WRITER_PID $SERVER_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$SMOKE" = 1 ]; then
    DATASET="$WORK/data"
    "$VDB" bench synth --n 2000 --dim 32 --clusters 20 --queries 200 --metrics "$METRIC" --out "$DATASET" >/dev/null
else
    DATASET="${DATASET:-../shared/data/ann-dev}"
fi

echo "==> in-process: vdb bench (hnsw M=$M ef_construction=$EFC, ef=$EF, k=$K, $THREADS threads) on $DATASET"
"$VDB" bench --dataset "$DATASET" --metric "$METRIC" --index hnsw --M "$M" --ef-construction "$EFC" \
    --ef "$EF" -k "$K" --threads "$THREADS" --runs 20 --json --db "$WORK/db" --collection bench | tee "$OUT/inprocess.jsonl"

echo "==> ingesting Samples/photos for the text-search latency"
"$VDB" ingest Samples/photos --db "$WORK/db" --collection photos --model Models/demo-clip >/dev/null

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
"$VDB" serve --db "$WORK/db" --host 127.0.0.1 --port "$PORT" --model Models/demo-clip >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
python3 - "$URL" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1).read(); sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the server did not start")
PY

python3 Benchmarks/serve/load.py bodies --queries "$DATASET/query.fvecs" --k "$K" --ef "$EF" --out "$WORK/bodies.txt"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }   # utime + stime of the server

# One measured phase: wrk sends the bodies in file $2 to .../bench/$3 for $1 seconds (timeout $4)
# while a writer inserts WRITE_RATE batches of WRITE_BATCH new points a second (ids from $5, noise
# seed $6; bodies written before the phase starts). Outputs: $OUT/wrk$7.txt, writer$7.json and
# server_cpu$7.json (the server's CPU time during the phase).
load_phase() {
    local seconds=$1 bodies=$2 route=$3 timeout=$4 first_id=$5 seed=$6 suffix=$7 before
    python3 Benchmarks/serve/load.py upserts --base "$DATASET/base.fvecs" --batch "$WRITE_BATCH" \
        --count "$(( (seconds + 1) * WRITE_RATE ))" --first-id "$first_id" --seed "$seed" --out "$WORK/upserts$suffix.txt"
    python3 Benchmarks/serve/load.py writer --url "$URL" --collection bench --bodies "$WORK/upserts$suffix.txt" \
        --rate "$WRITE_RATE" --duration "$seconds" --out "$OUT/writer$suffix.json" &
    WRITER_PID=$!
    before="$(cpu_ticks)"
    VDB_BODIES="$bodies" wrk -t "$THREADS" -c "$CLIENTS" -d "${seconds}s" --timeout "$timeout" --latency \
        -s Benchmarks/serve/search.lua "$URL/api/v1/collections/bench/$route" | tee "$OUT/wrk$suffix.txt"
    echo "{\"server_cpu_s\": $(( $(cpu_ticks) - before )).0, \"ticks_per_s\": $(getconf CLK_TCK)}" >"$OUT/server_cpu$suffix.json"
    wait "$WRITER_PID"; WRITER_PID=""
}

# Warm-up, not measured (as `vdb bench` runs its single queries before its timed batches): the
# server's first requests fault in the index's pages and grow the allocator's arenas.
echo "==> warm-up: $CLIENTS clients for $WARMUP s"
VDB_BODIES="$WORK/bodies.txt" wrk -t "$THREADS" -c "$CLIENTS" -d "${WARMUP}s" --timeout 10s \
    -s Benchmarks/serve/search.lua "$URL/api/v1/collections/bench/search" >/dev/null

# The batch phase first: it searches the index `vdb bench` measured in process (plus what its own
# writer adds), so the ratio compares the same index. Run after the single-search phase, it
# searched 6,000 more vectors (12%), which made every search 7-9% slower, HTTP or not.
BATCH_ARGS=()
if [ "$BATCH" -gt 1 ]; then
    echo "==> search/batch: $BATCH queries a request, $CLIENTS clients for $BATCH_DURATION s, upserts $WRITE_RATE x $WRITE_BATCH vectors/s"
    python3 Benchmarks/serve/load.py bodies --queries "$DATASET/query.fvecs" --k "$K" --ef "$EF" --batch "$BATCH" --out "$WORK/batch-bodies.txt"
    load_phase "$BATCH_DURATION" "$WORK/batch-bodies.txt" search/batch 30s 10000000 7 -batch
    BATCH_ARGS=(--batch-wrk "$OUT/wrk-batch.txt" --batch-size "$BATCH" --batch-server-cpu "$OUT/server_cpu-batch.json")
fi

echo "==> load: $CLIENTS clients for $DURATION s, upserts $WRITE_RATE x $WRITE_BATCH vectors/s"
load_phase "$DURATION" "$WORK/bodies.txt" search 10s 20000000 8 ""

echo "==> text search latency (demo model, 1 client, $TEXT_N requests)"
python3 Benchmarks/serve/load.py text --url "$URL" --queries Samples/demo-queries.jsonl --n "$TEXT_N" --out "$OUT/text.json"
python3 -c "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('$URL/metrics').read().decode())" >"$OUT/metrics.txt"

{
    echo "# vdb serve load test, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
    echo
    echo "Command: \`CLIENTS=$CLIENTS DURATION=$DURATION THREADS=$THREADS EF=$EF K=$K M=$M EFC=$EFC WRITE_RATE=$WRITE_RATE WRITE_BATCH=$WRITE_BATCH BATCH=$BATCH bash Benchmarks/serve/run.sh\` on $DATASET ($METRIC)"
    echo
    python3 Benchmarks/serve/load.py report --inprocess "$OUT/inprocess.jsonl" --wrk "$OUT/wrk.txt" \
        --writer "$OUT/writer.json" --text "$OUT/text.json" --server-cpu "$OUT/server_cpu.json" --out "$OUT/summary.json" "${BATCH_ARGS[@]}" \
        --clients "$CLIENTS" --duration "$DURATION"
    if [ "$BATCH" -gt 1 ]; then
        python3 - "$OUT/writer-batch.json" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))
print(f"\nUpserts during the batch phase: {w['vectors']} vectors in {w['batches']} batches, p50 {w['p50_ms']:.1f} ms, {w['errors']} errors")
PY
    fi
} | tee "$OUT/summary.md"
echo "results in $OUT"
