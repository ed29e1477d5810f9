#!/usr/bin/env bash
# The benchmark: vmimport against qemu-img, nbdkit+qemu-img and
# download-then-convert on one fixture.  Prints a table (and JSON with
# --json FILE).  Needs root (FUSE) and about 8 GiB of free disk for the
# fixture (cached in --dir, default BUILD/bench-fixture).
#   tests/bench/run.sh [BUILD] [--runs N] [--json FILE] [--dir DIR] [--only CASES]
# Use a build without sanitizers: meson setup build (the README's demo does).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
exec python3 "$here/bench.py" --build "$build" "$@"
