#!/usr/bin/env bash
# ThreadSanitizer over vmimportfs: two readers stream through disks (each
# drop-behind hands work to the daemon's dropper thread) while a third reads
# at random.  The daemon must report no race and every byte must be right.
# Registered only in a -Db_sanitize=thread build (tests/run.sh makes
# build-tsan).
. "$VMI_SRC/tests/lib.sh"
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1}

# Two disks streamed at once (one page cache each, so that each stream sees
# all its own reads) and a third read at random.
mkdir -p "$T/src"
for d in a b c; do
  head -c 100M /dev/urandom > "$T/$d.raw"
  qemu-img convert -O qcow2 -c "$T/$d.raw" "$T/src/$d.qcow2"
done
check tsan_mount_compressed_qcow2 mount_fs "$T/src" "$T/mnt" -v --drop-behind 16M
check tsan_two_streams_and_random_reads bash -c "
  cp '$T/mnt/a/disk-0.img' '$T/a.out' & a=\$!
  cp '$T/mnt/b/disk-0.img' '$T/b.out' & b=\$!
  '$LT' random '$T/mnt/c/disk-0.img' '$T/c.raw' 300 2 3 >/dev/null &&
  wait \$a && wait \$b && cmp '$T/a.out' '$T/a.raw' && cmp '$T/b.out' '$T/b.raw'"
check tsan_unmount unmount_fs "$T/mnt"
check tsan_both_streams_dropped_pages bash -c "
  grep -q \"/a/disk-0.img: dropped the kernel's cached pages\" '$T/vmimportfs.log' &&
  grep -q \"/b/disk-0.img: dropped the kernel's cached pages\" '$T/vmimportfs.log'"
check tsan_daemon_reports_no_race bash -c "! grep -A30 ThreadSanitizer '$T/vmimportfs.log'"
finish
