#!/usr/bin/env bash
# Proves that vdb works as a versioned SwiftPM dependency.
#
# Clones this repository's HEAD into a temporary directory, tags the clone 0.1.0 (and nothing
# else), then builds Scripts/consumer in release mode, a package that depends on
# `.package(url: "file://<clone>", from: "0.1.0")` exactly as a user's project would (SwiftPM
# refuses such dependencies if they use unsafeFlags), and runs it: it searches a tiny collection
# exactly and through HNSW and checks the answers. It runs the consumer twice more to check the
# kernel dispatch end to end: VDB_FORCE_ISA=scalar must switch every kernel to the portable path,
# and an unknown value must be ignored with a warning.
#
# Checks the committed HEAD: uncommitted changes are not in the clone.
# Usage: Scripts/check-consumer.sh        (about 2-4 minutes on 2 cores, most of it the release build)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vdb-consumer.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

say() { echo "check-consumer: $*"; }
die() { echo "check-consumer: FAILED: $*" >&2; exit 1; }

# A clone of HEAD whose only tag is 0.1.0, so `from: "0.1.0"` resolves to exactly this commit.
head="$(git -C "$ROOT" rev-parse HEAD)"
git clone --quiet --no-checkout "$ROOT" "$WORK/vdb"
git -C "$WORK/vdb" checkout --quiet --detach "$head"
git -C "$WORK/vdb" tag -l | xargs -r git -C "$WORK/vdb" tag -d >/dev/null
git -C "$WORK/vdb" tag 0.1.0
say "vdb ${head:0:12} tagged 0.1.0 in $WORK/vdb"

cp -R "$ROOT/Scripts/consumer" "$WORK/consumer"
export VDB_PACKAGE_URL="file://$WORK/vdb"
cd "$WORK/consumer"
swift build -c release
bin="$(swift build -c release --show-bin-path)/vdb-consumer"

out="$("$bin")" || die "the consumer failed"
echo "$out"
[[ "$out" == *"vdb-consumer: ok"* ]] || die "no ok line from the consumer"

out="$(VDB_FORCE_ISA=scalar "$bin")" || die "the consumer failed with VDB_FORCE_ISA=scalar"
[[ "$out" == *"kernels: scalar)"* ]] || die "VDB_FORCE_ISA=scalar was not honoured: $out"
say "VDB_FORCE_ISA=scalar: same answers on the portable kernels"

err="$(VDB_FORCE_ISA=sse9 "$bin" 2>&1 >/dev/null)" || die "the consumer failed with VDB_FORCE_ISA=sse9"
[[ "$err" == *"ignoring VDB_FORCE_ISA=sse9"* ]] || die "no warning for an unknown VDB_FORCE_ISA: '$err'"
say "VDB_FORCE_ISA=sse9: ignored with a warning"

say "passed in $((SECONDS - start)) s"
