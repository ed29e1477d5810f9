#!/usr/bin/env bash
# NBD faults: a server that fails requests, one that is slow, one that goes
# away and comes back, one that hangs.  Our retries (no nbdkit retry filter)
# must turn transient faults into identical copies, and give up with a clear
# error in bounded time when the fault does not go away.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nbd-lib.sh"

head -c $((40<<20)) /dev/urandom > "$T/disk.img"
truncate -s 64M "$T/disk.img"

# elapsed CMD...: run CMD, leave its wall time in seconds in $T/elapsed.
elapsed () {
  local t0 r; t0=$(date +%s.%N)
  "$@"; r=$?
  awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f\n", a - b }' > "$T/elapsed"
  return $r
}
secs () { cat "$T/elapsed"; }

# 10% of reads and block status requests fail with EIO: the copy and the
# random reads still come out identical, and each retry is logged once at
# info level with its cause.
start_nbdkit err10 --filter=error file "$T/disk.img" error-rate=10% error=EIO
check nbd_error_10pct_copy_identical bash -c "VMI_LOG_LEVEL=2 '$LT' cat '$(unix_uri err10)' '$T/err10.out' 2>'$T/err10.log'; r=\$?; cat '$T/err10.log'; [ \$r = 0 ] && cmp '$T/disk.img' '$T/err10.out'"
check nbd_error_10pct_random_reads_match bash -c "VMI_LOG_LEVEL=2 '$LT' random '$(unix_uri err10)' '$T/disk.img' 300 8 5 2>>'$T/err10.log'"
check nbd_error_10pct_retries_logged_with_cause bash -c "grep -E 'info: nbd.*: (read|block status) .*Input/output error; retry 1 of 8' '$T/err10.log'"

# Every request fails: a clear error, in bounded time (default policy: 8
# retries, ~12 s of back-off), and sooner with a shorter policy.
start_nbdkit err100 --filter=error file "$T/disk.img" error-rate=100% error=EIO
check_fails nbd_error_100pct_fails_clearly "Input/output error \(gave up after 9 tries\)" \
  elapsed "$LT" cat "$(unix_uri err100)" "$T/err100.out"
check nbd_error_100pct_fails_in_bounded_time bash -c "echo \$(cat '$T/elapsed') s; awk 'BEGIN { exit !($(secs) < 40) }'"
check_fails nbd_error_100pct_policy_configurable "gave up after 3 tries" \
  env VMI_RETRY_ATTEMPTS=2 "$LT" cat "$(unix_uri err100)" "$T/err100.out"

# 200 ms per read on ONE connection (multi-conn off): 8 threads finish the
# reads in about 1/8 of the serial time, so requests are in flight
# together (serial requests would give a ratio of 2 at most: a large read
# is two requests).  The time to open (two probe reads, block status) is
# measured alone and taken off both; the reads' own CPU time (ASan, a
# loaded machine) keeps the ratio under 8, so ask for 3.
start_nbdkit slow --filter=multi-conn --filter=delay file "$T/disk.img" \
  multi-conn-mode=disable delay-read=200ms
elapsed "$LT" random "$(unix_uri slow)" "$T/disk.img" 0 1 7 >/dev/null; t0=$(secs)
elapsed "$LT" random "$(unix_uri slow)" "$T/disk.img" 40 1 7 >/dev/null; t1=$(secs)
elapsed "$LT" random "$(unix_uri slow)" "$T/disk.img" 40 8 7 >/dev/null; t8=$(secs)
check nbd_delay_8_threads_in_flight_together bash -c "echo 'open $t0 s, 40 reads: serial $t1 s, 8 threads $t8 s'; awk 'BEGIN { exit !(($t8 - $t0) * 3 < $t1 - $t0) }'"

# The server dies in the middle of many reads from 8 threads and comes back
# on the same socket: every read completes with the right bytes.
reads_through_a_drop "$T/disk.img" 9 "$T/drop.out"; rc=$?
check nbd_dropped_connection_reads_all_correct bash -c "cat '$T/drop.out'; [ $rc = 0 ] && grep -q '^400 reads, 0 failures' '$T/drop.out'"
check nbd_dropped_connection_reconnected bash -c "grep -q 'reconnected' '$T/drop.out'"

# A server that stops answering (60 s per read): the stalled connection is
# dropped after the timeout and the read fails with EIO in bounded time.
start_nbdkit hang --filter=delay file "$T/disk.img" delay-read=60
check_fails nbd_hung_server_times_out "no reply|gave up" \
  elapsed env VMI_TIMEOUT=1 VMI_RETRY_ATTEMPTS=1 "$LT" info "$(unix_uri hang)"
check nbd_hung_server_fails_in_bounded_time bash -c "echo \$(cat '$T/elapsed') s; awk 'BEGIN { exit !($(secs) < 15) }'"
finish
