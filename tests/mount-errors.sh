#!/usr/bin/env bash
# vmimportfs and its mount point: a relative mount point is unmounted by a
# SIGTERM to the daemon (no stale mount left), and a clean SIGTERM
# unmount exits 0.
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
finish
