#!/usr/bin/env bash
# The full torture run of Docs/reliability.md (about 45 minutes on 2 cores, release build; run it
# on an otherwise idle machine, as root for the full-disk test): 1,000 SIGKILL cycles, 1,000
# fuzz inputs of each kind, 8 readers + 1 writer for 10 minutes in one process and 10 across
# processes, a full tmpfs, and injected I/O errors at 16 points.
#   TORTURE_SEED=N  another seed (default 1);  TORTURE_WORK=DIR  keep the work files there.
CONFIG=${TORTURE_CONFIG:-release}
SEED=${TORTURE_SEED:-1}
TMPFS_SIZE=8m
source "$(dirname "$0")/lib.sh"
run kill --cycles 1000
run fuzz --count 1000
run concurrency --seconds 600 --readers 8
full_disk
run ioerrors --shim "$WORK/failio.so" --points 1,2,3,4,5,6,7,8,10,12,16,20,24,32,48,64
finish
