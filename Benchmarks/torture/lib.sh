# Shared by ci.sh and run.sh: build, run each torture test, collect the reports.
# Expects CONFIG (debug|release) and the per-test parameters in the caller's variables.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
swift build -c "$CONFIG" --product vdb
swift build -c "$CONFIG" --product vdb-torture
BIN=".build/$CONFIG"
WORK=${TORTURE_WORK:-$(mktemp -d /tmp/vdb-torture.XXXXXX)}
mkdir -p "$WORK"
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
cc -shared -fPIC -O2 -o "$WORK/failio.so" Benchmarks/torture/failio.c -ldl
status=0

# run NAME ARGS...: one test; its JSON reports go to $RESULTS, its progress to stderr.
run() {
    local name=$1; shift
    echo "== $name $*" >&2
    if ! "$BIN/vdb-torture" "$name" "$@" --work "$WORK/$name" --seed "$SEED" --vdb "$BIN/vdb" >> "$RESULTS"; then
        status=1
    fi
}

# The full-disk test needs a small tmpfs: root mounts one (no silent skip: failing to mount fails).
full_disk() {
    local mnt="$WORK/tmpfs"
    mkdir -p "$mnt"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    if $sudo mount -t tmpfs -o "size=$TMPFS_SIZE" tmpfs "$mnt"; then
        $sudo chmod 777 "$mnt"
        run fulldisk --tmpfs "$mnt"
        $sudo umount "$mnt"
    else
        echo "FAILED: cannot mount a tmpfs for the full-disk test (run as root)" >&2
        echo '{"test":"full disk (tmpfs)","passed":false,"failures":["cannot mount a tmpfs (not root)"],"counters":{},"notes":{},"seconds":0}' >> "$RESULTS"
        status=1
    fi
}

finish() {
    echo
    echo "Results ($RESULTS):"
    "$BIN/vdb-torture" summary --results "$RESULTS" || status=1
    exit $status
}
