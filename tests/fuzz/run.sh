#!/usr/bin/env bash
# Run one fuzz target: replay its kept reproducers (regressions/TARGET/*.b64),
# then fuzz for SECONDS (default $FUZZ_SECONDS, else 60) starting from the
# seed corpus that make-seeds.sh generates.
#
#   tests/fuzz/run.sh TARGET [SECONDS]      e.g. tests/fuzz/run.sh vmdk 3600
#
# The binaries come from $FUZZ_BIN_DIR (set by meson test), else
# ${FUZZ_BUILD:-build-fuzz}/tests/fuzz.  Corpus, seeds and crash artifacts
# live in work/ beside them; a crash leaves
# work/artifacts/TARGET-crash-<sha1>: keep it as a regression with
#   base64 < that-file > tests/fuzz/regressions/TARGET/<what-it-was>.b64
set -u
here=$(cd "$(dirname "$0")" && pwd)
t=${1:?usage: run.sh TARGET [SECONDS]}
secs=${2:-${FUZZ_SECONDS:-60}}
bindir=${FUZZ_BIN_DIR:-$here/../../${FUZZ_BUILD:-build-fuzz}/tests/fuzz}
exe=$bindir/fuzz-$t
work=$bindir/work
engine=${FUZZ_ENGINE:-libfuzzer}
[ -x "$exe" ] || { echo "run.sh: no $exe (build with -Dfuzz=true)" >&2; exit 2; }

# Several targets may start at once (meson test runs two in parallel): the
# first makes the seeds while the others wait for it.
mkdir -p "$work"
(
  flock 9
  if [ ! -f "$work/seeds/.done" ]; then
    "$here/make-seeds.sh" "$work/seeds" || { echo "run.sh: make-seeds.sh failed" >&2; exit 2; }
    touch "$work/seeds/.done"
  fi
) 9> "$work/.seeds.lock" || exit 2
mkdir -p "$work/corpus/$t" "$work/artifacts" "$work/regressions/$t"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Reproducers of past findings: each must now run clean.
regs=()
for f in "$here/regressions/$t"/*.b64; do
  [ -e "$f" ] || continue
  out="$work/regressions/$t/$(basename "$f" .b64)"
  base64 -d "$f" > "$out" && regs+=("$out")
done
if [ ${#regs[@]} -gt 0 ]; then
  echo "run.sh: replaying ${#regs[@]} reproducer(s) of $t"
  "$exe" "${regs[@]}" || exit 1
fi

if [ "$engine" != libfuzzer ]; then
  # No fuzzing engine linked in: replay the seeds (AFL++ is run by hand).
  find "$work/seeds/$t" -type f -print0 | xargs -0 -r "$exe"
  exit
fi
dict=()
[ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
echo "run.sh: fuzzing $t for $secs s"
# -error_exitcode: libFuzzer says 77 by default, which meson reads as
# "skipped": a finding must fail the test.
exec "$exe" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -error_exitcode=1 \
  -max_len=1048576 -print_final_stats=1 "${dict[@]}" \
  -artifact_prefix="$work/artifacts/$t-" "$work/corpus/$t" "$work/seeds/$t"
