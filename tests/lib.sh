# Shared helpers for integration tests.  Source it first:
#   . "$VMI_SRC/tests/lib.sh"
# Gives: $T (a scratch folder, removed at exit), $B (build dir),
# check NAME CMD...   run a check, print ok/FAIL, count failures
# finish              exit 0 if every check passed, 1 otherwise
# mount_fs SRC MNT [ARGS]  vmimportfs in the background, waits for the mount
# unmount_fs MNT      fusermount3 -u, waits for the daemon to go
# free_port           a free TCP port on 127.0.0.1
# make_ext4 IMG SIZE  a raw image holding an ext4 filesystem full of files
# seek_data_covers_qemu_map FILE SRC [holes], mount_matches_qemu NAME SRC VM REF
#                     a mounted disk's holes and bytes against qemu-img's
set -u
B=${VMI_BUILD:?run through meson test or tests/run.sh}
S=${VMI_SRC:?}
LT="$B/tests/layer-tool"
VMIFS="$B/fs/vmimportfs"
VMI="$B/tools/vmimport"
T=$(mktemp -d "${TMPDIR:-/tmp}/vmi-test.XXXXXX")
FAILS=0
CHECKS=0
_cleanups=()
at_exit () { _cleanups+=("$*"); }
_run_cleanups () {
  local i
  for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[$i]}" >/dev/null 2>&1 || true; done
  rm -rf "$T"
}
trap _run_cleanups EXIT
# ASan's leak checker dislikes FUSE's forked helpers; keep the rest of ASan on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

check () {
  local name=$1; shift
  CHECKS=$((CHECKS+1))
  if "$@" >"$T/check.out" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name"
    sed 's/^/     | /' "$T/check.out" | tail -n 30
    FAILS=$((FAILS+1))
  fi
}
# The command must fail (exit non-zero), and its output must match REGEX.
check_fails () {
  local name=$1 regex=$2; shift 2
  CHECKS=$((CHECKS+1))
  if "$@" >"$T/check.out" 2>&1; then
    echo "FAIL $name (succeeded; expected failure)"; FAILS=$((FAILS+1))
  elif ! grep -Eq -- "$regex" "$T/check.out"; then
    echo "FAIL $name (message does not match /$regex/)"
    sed 's/^/     | /' "$T/check.out" | tail -n 10
    FAILS=$((FAILS+1))
  else
    echo "ok   $name"
  fi
}
finish () {
  echo "$((CHECKS-FAILS)) of $CHECKS checks passed"
  [ "$FAILS" -eq 0 ]
  exit
}

mount_fs () {
  local src=$1 mnt=$2; shift 2
  mkdir -p "$mnt"
  "$VMIFS" -f "$@" "$src" "$mnt" 2>>"$T/vmimportfs.log" &
  local pid=$! i
  at_exit "fusermount3 -u '$mnt'; kill $pid"
  for i in $(seq 1 200); do
    if mountpoint -q "$mnt"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$T/vmimportfs.log" >&2; return 1; fi
    sleep 0.05
  done
  echo "mount of $src on $mnt did not appear" >&2; return 1
}
unmount_fs () {
  local mnt=$1 i
  fusermount3 -u "$mnt" || return 1
  for i in $(seq 1 100); do mountpoint -q "$mnt" || return 0; sleep 0.05; done
  return 1
}
# seek_data_covers_qemu_map FILE SRC [holes]: every range `qemu-img map`
# calls data (and not zero) in SRC is data for SEEK_DATA in FILE (SRC's disk
# in a vmimportfs mount); with "holes", a FILE of SRC, where qemu finds
# holes, has a hole too.
seek_data_covers_qemu_map () {
  python3 - "$@" <<'PY'
import json, os, subprocess, sys
path, src, holes = sys.argv[1], sys.argv[2], len(sys.argv) > 3
fd = os.open(path, os.O_RDONLY)
size = os.fstat(fd).st_size
ours, pos = [], 0
while pos < size:
    try:
        d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    ours.append((d, h)); pos = h
def covered(a, b):
    for d, h in ours:
        if d <= a < h:
            if b <= h: return True
            a = h
    return False
m = json.loads(subprocess.check_output(["qemu-img", "map", "--output=json", src]))
bad = [r for r in m if r["data"] and not r.get("zero")
       and not covered(r["start"], r["start"] + r["length"])]
if bad: sys.exit(f"ranges qemu-img calls data that we call holes: {bad[:5]}")
if holes and any(not r["present"] for r in m) and ours == [(0, size)]:
    sys.exit("qemu has holes, SEEK_HOLE finds none")
PY
}
# mount_matches_qemu NAME SRC VM REF: four checks, NAME_...: SRC mounts on
# $T/mnt, its VM/disk-0.img equals REF (qemu-img convert's), SEEK_DATA
# covers qemu-img map (holes too), and it unmounts.
mount_matches_qemu () {
  local name=$1 src=$2 vm=$3 ref=$4
  check "${name}_mounts" mount_fs "$src" "$T/mnt"
  check "${name}_mounted_disk_matches_qemu" cmp "$T/mnt/$vm/disk-0.img" "$ref"
  check "${name}_seek_data_covers_qemu_map" seek_data_covers_qemu_map \
    "$T/mnt/$vm/disk-0.img" "$src" holes
  check "${name}_unmounts" unmount_fs "$T/mnt"
}
free_port () {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# make_ext4 IMG SIZE: files of text and random bytes, some large, in an ext4
# filesystem that fills part of a raw image of SIZE (qemu-img size syntax).
make_ext4 () {
  local img=$1 size=$2 d="$T/ext4-src.$$"
  mkdir -p "$d/sub/deeper"
  head -c 3000000 /dev/urandom > "$d/random.bin"
  seq 1 200000 > "$d/numbers.txt"
  head -c 777777 /dev/urandom > "$d/sub/odd-size.bin"
  for i in 1 2 3 4 5; do echo "file $i" > "$d/sub/deeper/f$i.txt"; done
  rm -f "$img"
  qemu-img create -q -f raw "$img" "$size"
  mkfs.ext4 -q -F -d "$d" "$img" >/dev/null
  rm -rf "$d"
}

# flip_byte FILE OFFSET: invert the byte at OFFSET (always a change; writing
# a fixed byte leaves the file as it was when that byte was already there).
flip_byte () {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
PY
}
