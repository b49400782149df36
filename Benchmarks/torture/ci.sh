#!/usr/bin/env bash
# The reduced torture run CI calls (a few minutes on 2 cores, debug build): 60 SIGKILL cycles,
# 100 fuzz inputs of each kind, 8 readers + 1 writer for 15 s in one process and across
# processes, a full 4 MiB tmpfs (needs root, as CI runs) and injected I/O errors at 6 points.
# Exit status 1 when any report has a failure; a Markdown summary is printed at the end.
# The full run is Benchmarks/torture/run.sh (Docs/reliability.md).
CONFIG=${TORTURE_CONFIG:-debug}
SEED=${TORTURE_SEED:-1}
TMPFS_SIZE=4m
source "$(dirname "$0")/lib.sh"
run kill --cycles 60
run fuzz --count 100
run concurrency --seconds 15 --readers 8
full_disk
run ioerrors --shim "$WORK/failio.so" --points 1,2,3,5,8,13
finish
