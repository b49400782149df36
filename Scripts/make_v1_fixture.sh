#!/usr/bin/env bash
# Builds Tests/VDBCoreTests/Fixtures/format1.tar.xz: a database written by a vdb build of on-disk
# format version 1 (before checksums; e.g. commit d494da5), with the search results that build
# gave, so MigrationTests can check that this build converts it to format 2 without changing
# anything a user sees. Usage: Scripts/make_v1_fixture.sh /path/to/format-1/vdb
set -euo pipefail
V1=${1:?usage: $0 /path/to/format-1/vdb}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/format1
python3 - "$work" <<'PY'
import json, random, struct, sys
w = sys.argv[1]
r = random.Random(7)
with open(f"{w}/docs.jsonl", "w") as f:
    for i in range(300):
        v = [round(r.uniform(-1, 1), 4) for _ in range(8)]
        f.write(json.dumps({"id": i, "vector": v, "metadata": {"n": i, "tag": f"t{i % 5}"}}) + "\n")
with open(f"{w}/plain.fvecs", "wb") as f:
    for i in range(50):
        f.write(struct.pack("<i", 5) + struct.pack("<5f", *[r.uniform(-2, 2) for _ in range(5)]))
with open(f"{w}/queries.jsonl", "w") as f:
    for d in (3, 8, 5):
        for _ in range(4):
            f.write(json.dumps({"dim": d, "vector": [round(r.uniform(-1, 1), 4) for _ in range(d)]}) + "\n")
PY
"$V1" --db "$db" create colors --dim 3 --metric l2 >/dev/null
"$V1" --db "$db" import colors Docs/examples/colors.jsonl >/dev/null
"$V1" --db "$db" index build colors --type hnsw --M 8 --ef-construction 64 --threads 1 >/dev/null
"$V1" --db "$db" delete colors --ids 4,5 >/dev/null
"$V1" --db "$db" create docs --dim 8 --metric cosine >/dev/null
"$V1" --db "$db" import docs "$work/docs.jsonl" >/dev/null
"$V1" --db "$db" index build docs --type ivf_flat --nlist 8 --threads 1 >/dev/null
"$V1" --db "$db" delete docs --ids 3,30,31,299 >/dev/null
"$V1" --db "$db" create plain --dim 5 --metric ip >/dev/null
"$V1" --db "$db" import plain "$work/plain.fvecs" >/dev/null
# Expected results: {"collection", "vector", "k", "results": [[id, distance], ...]} per line.
python3 - "$V1" "$db" "$work/queries.jsonl" > "$work/format1/expected.jsonl" <<'PY'
import json, subprocess, sys
v1, db, queries = sys.argv[1:]
names = {3: "colors", 8: "docs", 5: "plain"}
for line in open(queries):
    q = json.loads(line)
    name = names[q["dim"]]
    out = subprocess.run([v1, "--db", db, "search", name, "-k", "6", "--nprobe", "8", "--ef", "64", "--json",
                          "--vector", ",".join(str(x) for x in q["vector"])], check=True, capture_output=True, text=True).stdout
    hits = json.loads(out)["results"]
    print(json.dumps({"collection": name, "vector": q["vector"], "k": 6,
                      "results": [[h["id"], h["distance"], h["metadata"]] for h in hits]}))
PY
rm -f "$db/lock.mdb"
tar -C "$work" -cJf Tests/VDBCoreTests/Fixtures/format1.tar.xz format1
ls -la Tests/VDBCoreTests/Fixtures/format1.tar.xz
