#!/usr/bin/env bash
# The benchmark: vmimport against qemu-img, nbdkit+qemu-img and
# download-then-convert on one fixture.  Prints a table (and JSON with
# --json FILE): for every row the benchmark's median, the same command timed
# by hand beside it (sync, drop caches, bash `time`), and whether the two
# agree within 20%.  Needs root (FUSE, drop_caches) and about 8 GiB of free
# disk for the fixture (cached in --dir, default BUILD/bench-fixture; --quick
# makes one 8 times smaller in BUILD/bench-fixture-s8).
#   tests/bench/run.sh [BUILD] [--runs N] [--hand-runs N] [--json FILE] [--dir DIR]
#                      [--only CASES] [--contenders NAMES] [--quick | --scale N] [--cache cold|warm]
#                      [--link [--rtt-ms 50] [--cap-mbps 40] [--conns 8]] [--timeout S]
# --link runs the remote cases through tests/bench/linkproxy.py (a round trip
# and a per-connection cap on 127.0.0.1) instead of loopback.
# Use a build without sanitizers: meson setup build-bench -Dbuildtype=release.
# Not part of the test suite: nothing here is timed in CI.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
exec python3 "$here/bench.py" --build "$build" "$@"
