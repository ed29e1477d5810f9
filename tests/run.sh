#!/usr/bin/env bash
# Build (with -Werror, ASan and UBSan) and run every test, then print the
# line CI reads: "N passed, N failed".  Extra arguments go to meson test
# (e.g. a test name, or --suite unit); without any, the ThreadSanitizer and
# fuzz suites run too (see below).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-test}
bash scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$BUILD"; then
  echo "0 passed, 1 failed"
  exit 1
fi
# With no test named: the conversion tests' guest (a debootstrap of a few
# minutes, waiting on the network more than on the CPU) is built in the
# background while the other tests run; convert-boot waits for it.
if [ $# -eq 0 ]; then
  (. tests/guest-lib.sh && guest_image) > "$BUILD/guest-build.log" 2>&1 &
fi
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"
rc=$?
logs=("$BUILD/meson-logs/testlog.json")
broken=0
# With no test named: also the concurrency tests under ThreadSanitizer
# (build-tsan) and each fuzz target for FUZZ_SECONDS (default 30; 0 skips)
# in a clang + libFuzzer build (build-fuzz).
extra () {  # extra DIR SUITE PROCESSES MESON-SETUP-ARGS...
  local dir=$1 suite=$2 procs=$3; shift 3
  rm -f "$dir/meson-logs/testlog.json"
  if [ ! -f "$dir/build.ninja" ] && ! meson setup "$dir" "$@" >/dev/null; then
    broken=$((broken+1)); return 1
  fi
  meson compile -C "$dir" >/dev/null || { broken=$((broken+1)); return 1; }
  logs+=("$dir/meson-logs/testlog.json")
  meson test -C "$dir" --suite "$suite" --print-errorlogs --num-processes "$procs"
}
if [ $# -eq 0 ]; then
  extra build-tsan tsan 1 -Dwerror=true -Db_sanitize=thread -Db_lundef=false || rc=1
  export FUZZ_SECONDS=${FUZZ_SECONDS:-30}
  if [ "$FUZZ_SECONDS" != 0 ]; then
    # One target per core: each gets a core of its own for FUZZ_SECONDS.
    CC=clang extra build-fuzz fuzz "$(nproc)" -Dfuzz=true -Dwerror=true -Db_sanitize=address,undefined \
      -Db_lundef=false || rc=1
  fi
fi
python3 - "$broken" "${logs[@]}" <<'PY'
import json, os, sys
p = s = 0
f = int(sys.argv[1])          # extra builds that failed to set up or compile
for log in sys.argv[2:]:
    if not os.path.exists(log):
        f += 1
        continue
    for line in open(log):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): p += 1
        elif r == "SKIP": s += 1
        else: f += 1
print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
PY
exit $rc
