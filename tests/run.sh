#!/usr/bin/env bash
# Build (with -Werror, ASan and UBSan) and run every test, then print the
# line CI reads: "N passed, N failed".  Extra arguments go to meson test
# (e.g. a test name, or --suite unit).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-test}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$BUILD"; then
  echo "0 passed, 1 failed"
  exit 1
fi
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"
rc=$?
python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
PY
exit $rc
