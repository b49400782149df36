#!/usr/bin/env bash
# vdb's first-run demo: install the C libraries if they are missing, build vdb, ingest the bundled
# sample photos with the bundled demo CLIP model, and search them by text.
#
#   bash Scripts/demo.sh                 # default queries
#   bash Scripts/demo.sh "a green star"  # your own queries
#
# The demo model was trained by this project on a synthetic world of shapes and colours
# (Docs/demo-model.md): it understands captions like "two small red triangles on a blue
# background", not real photos. For real photos use a real CLIP checkpoint (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pc in lmdb openblas libjpeg libpng; do pkg-config --exists "$pc" 2>/dev/null || missing+=("$pc"); done
if [ ${#missing[@]} -gt 0 ] || ! command -v pkg-config >/dev/null; then
    echo "==> installing system libraries (missing: ${missing[*]:-pkg-config})"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        pkg-config liblmdb-dev libopenblas-dev libjpeg-dev libpng-dev >/dev/null
fi

echo "==> building vdb (release)"
swift build -c release --product vdb 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3
VDB=.build/release/vdb

DB="${VDB_DEMO_DB:-$(mktemp -d)/demo.vdb}"
echo "==> ingesting Samples/photos into $DB"
"$VDB" ingest Samples/photos --db "$DB" --collection photos

queries=("$@")
if [ ${#queries[@]} -eq 0 ]; then
    mapfile -t queries < <(sed -n 's/.*"query": *"\([^"]*\)".*/\1/p' Samples/demo-queries.jsonl | head -4)
    # A model that reads Chinese (the bilingual demo model, Docs/demo-model.md) gets Chinese queries too.
    if grep -q '"model_type": *"chinese_clip"' "${VDB_MODEL:-Models/demo-clip}/config.json" 2>/dev/null; then
        mapfile -t -O "${#queries[@]}" queries < <(sed -n 's/.*"query": *"\([^"]*\)".*/\1/p' Samples/demo-queries-zh.jsonl | head -2)
    fi
fi
for q in "${queries[@]}"; do
    echo
    echo "==> vdb search photos --text \"$q\" -k 3"
    "$VDB" search photos --db "$DB" --text "$q" -k 3
done
echo
echo "Try: $VDB search photos --db $DB --image Samples/photos/red-circle-01.jpg -k 5"
echo "     $VDB classify Samples/photos/red-circle-01.jpg --labels red,green,blue,yellow --template 'a photo of a {} shape'"
echo "     (the demo model knows only its synthetic world of shapes: see Docs/demo-model.md)"
echo
echo "Search them in your browser (web app and HTTP API, Docs/http-api.md):"
echo "     $VDB serve --db $DB --model Models/demo-clip     # then open http://127.0.0.1:8080/"
