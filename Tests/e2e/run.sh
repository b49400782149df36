#!/usr/bin/env bash
# Real-browser end-to-end test of `vdb serve` and its web app (Tests/e2e/web_e2e.py).
#
#   bash Tests/e2e/run.sh
#
# Builds vdb, ingests Samples/photos with the bundled demo model into a temporary database,
# starts `vdb serve` on 127.0.0.1 with a free port, drives headless Chromium through Selenium
# (Debian's chromium + chromium-driver; PyPI's selenium in a venv outside the repository), and
# stops the server. Screenshots go to Docs/screenshots/ (VDB_E2E_SCREENSHOTS overrides).
# Fails, never skips, when Chromium, chromedriver or selenium is missing.
#
# Environment: VDB_E2E_VENV (default ~/.cache/vdb-e2e-venv), CHROMIUM, CHROMEDRIVER.
set -euo pipefail
cd "$(dirname "$0")/../.."

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
for bin in "$CHROMIUM" "$CHROMEDRIVER"; do
    [ -x "$bin" ] || { echo "e2e: $bin not found: apt-get install chromium chromium-driver" >&2; exit 2; }
done
export CHROMIUM CHROMEDRIVER

VENV="${VDB_E2E_VENV:-$HOME/.cache/vdb-e2e-venv}"
if ! "$VENV/bin/python" -c "import selenium" 2>/dev/null; then
    echo "==> creating $VENV with selenium"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q selenium
fi

echo "==> building vdb"
swift build --product vdb 2>&1 | grep -E "error|Compiling vdb|Build" | tail -3
VDB="$(swift build --show-bin-path)/vdb"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> ingesting Samples/photos into $WORK/db"
"$VDB" ingest Samples/photos --db "$WORK/db" --collection photos --model Models/demo-clip >/dev/null

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "==> vdb serve on 127.0.0.1:$PORT"
"$VDB" serve --db "$WORK/db" --host 127.0.0.1 --port "$PORT" --model Models/demo-clip \
    --allow-ingest-from "$PWD/Samples" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
python3 - "$PORT" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/healthz"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("e2e: the server did not answer /healthz within 30 s")
PY

status=0
timeout 300 "$VENV/bin/python" Tests/e2e/web_e2e.py --url "http://127.0.0.1:$PORT" \
    --screenshots "${VDB_E2E_SCREENSHOTS:-Docs/screenshots}" || status=$?
if [ "$status" -ne 0 ]; then
    echo "e2e: FAILED (exit $status); server log:" >&2
    tail -n 40 "$WORK/server.log" >&2
fi
exit "$status"
