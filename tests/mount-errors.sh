#!/usr/bin/env bash
# vmimportfs and its mount point: a relative mount point is unmounted by a
# SIGTERM to the daemon (no stale mount left), and a clean SIGTERM
# unmount exits 0.  Mistakes are refused with exit 3 and a message: a
# regular file, a point already mounted, a folder with files in it
# (unless -o nonempty), a missing folder.
. "$VMI_SRC/tests/lib.sh"

head -c 4M /dev/urandom > "$T/disk.img"
truncate -s 16M "$T/disk.img"

# The daemon (no -f) leaves the folder it started in; SIGTERM must still
# unmount the point it was given as a relative path.
mkdir -p "$T/rel"
daemon_pid () { pgrep -n -f -- "$VMIFS $T/disk.img rel" || true; }
relative_mount_unmounts_on_sigterm () {
  (cd "$T" && "$VMIFS" "$T/disk.img" rel) || return 1
  local pid i
  pid=$(daemon_pid)
  [ -n "$pid" ] || { echo "no daemon"; return 1; }
  at_exit "fusermount3 -u '$T/rel'; kill $pid"
  mountpoint -q "$T/rel" || { echo "not mounted"; return 1; }
  kill -TERM "$pid"
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if mountpoint -q "$T/rel" || ! ls "$T/rel" >/dev/null; then
    echo "stale mount left on $T/rel"; fusermount3 -u "$T/rel"; return 1
  fi
}
check relative_mount_unmounts_on_sigterm relative_mount_unmounts_on_sigterm

# In the foreground, a SIGTERM unmount exits 0, every time.
sigterm_exits_0 () {
  local pid rc i
  mkdir -p "$T/fg"
  "$VMIFS" -f "$T/disk.img" "$T/fg" 2>>"$T/vmimportfs.log" &
  pid=$!
  for i in $(seq 1 200); do mountpoint -q "$T/fg" && break; sleep 0.05; done
  ls "$T/fg" >/dev/null
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  echo "exit $rc"
  ! mountpoint -q "$T/fg" && [ "$rc" -eq 0 ]
}
for n in 1 2 3 4 5; do
  check "sigterm_unmount_exits_0_run_$n" sigterm_exits_0
done

# expect3 NAME REGEX CMD...: exit 3, message matching REGEX, nothing mounted
# on the point (the mount points are checked by the caller).
expect3 () {
  local name=$1 regex=$2 rc; shift 2
  timeout 20 "$@" > "$T/out" 2> "$T/err"; rc=$?
  check "$name" bash -c "
    [ $rc -eq 3 ] || { echo 'exit $rc, expected 3'; cat '$T/err'; exit 1; }
    grep -Eq -- '$regex' '$T/err' || { echo 'message does not match /$regex/:'; cat '$T/err'; exit 1; }"
}
touch "$T/a-file"
expect3 regular_file_refused 'a-file: not a folder' "$VMIFS" -f "$T/disk.img" "$T/a-file"
check regular_file_not_mounted bash -c "! grep -q ' $T/a-file ' /proc/self/mountinfo"
expect3 missing_folder_refused 'nowhere: No such file or directory' "$VMIFS" -f "$T/disk.img" "$T/nowhere"
mkdir -p "$T/full"
echo keep > "$T/full/a file.txt"
expect3 non_empty_folder_refused 'not empty \(it holds a file.txt\).*-o nonempty' \
  "$VMIFS" -f "$T/disk.img" "$T/full"
check non_empty_folder_not_mounted bash -c "! mountpoint -q '$T/full'"
check non_empty_folder_with_nonempty_mounts mount_fs "$T/disk.img" "$T/full" -o nonempty,allow_other
check non_empty_folder_mount_shows_disk test -e "$T/full/disk/disk-0.img"
expect3 second_mount_refused 'already mounted there' "$VMIFS" -f -o nonempty "$T/disk.img" "$T/full"
check second_mount_not_stacked bash -c "[ \$(grep -c ' $T/full ' /proc/self/mountinfo) -eq 1 ]"
unmount_fs "$T/full"
check non_empty_folder_files_kept grep -q keep "$T/full/a file.txt"

# A missing argument is named, in a few lines (not the whole help).
check no_mountpoint_says_what_is_missing bash -c "
  ! '$VMIFS' '$T/disk.img' 2> '$T/err' && grep -q 'missing MOUNTPOINT' '$T/err' &&
  [ \$(wc -l < '$T/err') -le 4 ]"
# Sizes: T is a unit; a bad size says what sizes look like.
mkdir -p "$T/big"
check cache_size_1T_accepted mount_fs "$T/disk.img" "$T/big" --cache-size 1T
check cache_size_1T_reads cmp "$T/disk.img" "$T/big/disk/disk-0.img"
unmount_fs "$T/big"
check bad_size_says_what_is_valid bash -c "
  '$VMIFS' --cache-size 1X '$T/disk.img' '$T/big' 2> '$T/err'; [ \$? -eq 2 ] &&
  grep -q 'K, M, G or T' '$T/err'"
finish
