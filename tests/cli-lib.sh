# Helpers for the vmimport CLI tests (sourced after tests/lib.sh).
# make_loop FILE      a loop device over FILE, detached at exit, in $LOOP
#                     (not in a $(...) subshell: at_exit must run here)
# fill_ff FILE SIZE   a file of SIZE bytes of 0xFF (a "dirty" device)
# json_get FILE EXPR  evaluate a Python expression on the JSON in FILE (as j)
# run_rc CMD...       run, keep stdout/stderr in $T/out $T/err, print the code
make_loop () {
  LOOP=$(losetup -f --show "$1") || return 1
  at_exit "losetup -d $LOOP"
}
fill_ff () {
  python3 - "$1" "$2" <<'PY'
import sys
size = int(sys.argv[2]); chunk = b"\xff" * (1 << 20)
with open(sys.argv[1], "wb") as f:
    while size > 0:
        n = min(size, len(chunk)); f.write(chunk[:n]); size -= n
PY
}
json_get () {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
run_rc () {
  "$@" >"$T/out" 2>"$T/err"
  echo $?
}
# expect_rc WANT NAME CMD...: the command exits WANT (its stderr is shown
# when not).
expect_rc () {
  local want=$1 name=$2 rc; shift 2
  rc=$(run_rc "$@")
  check "$name" bash -c "[ $rc -eq $want ] || { echo 'exit $rc, expected $want'; cat '$T/err'; exit 1; }"
}
# Allocated bytes of a file (what du counts).
alloc_bytes () { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }
# make_loop_range FILE OFFSET SIZE: a loop device over part of FILE, in $LOOP.
make_loop_range () {
  LOOP=$(losetup -f --show -o "$2" --sizelimit "$3" "$1") || return 1
  at_exit "losetup -d $LOOP"
}
