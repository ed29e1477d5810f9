#!/usr/bin/env bash
# ThreadSanitizer over the multi-threaded random-read tests: the local raw
# file, the block cache, and the NBD transport (also while its connection
# drops and comes back, and while the server fails requests).  Registered
# only in a -Db_sanitize=thread build (tests/run.sh makes build-tsan).
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nbd-lib.sh"
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1}

make_ext4 "$T/disk.img" 64M
check tsan_raw_random_reads_8_threads "$LT" random "$T/disk.img" "$T/disk.img" 300 8 1
check tsan_raw_cache_random_reads_8_threads "$LT" random "$T/disk.img" "$T/disk.img" 300 8 2 $((4<<20))

start_nbdkit nbd file "$T/disk.img"
check tsan_nbd_random_reads_8_threads "$LT" random "$(unix_uri nbd)" "$T/disk.img" 300 8 3
check tsan_nbd_cache_random_reads_8_threads "$LT" random "$(unix_uri nbd)" "$T/disk.img" 300 8 4 $((4<<20))

start_nbdkit err --filter=error file "$T/disk.img" error-rate=10% error=EIO
check tsan_nbd_retries_8_threads "$LT" random "$(unix_uri err)" "$T/disk.img" 200 8 5

reads_through_a_drop "$T/disk.img" 6 "$T/drop.out"; rc=$?
check tsan_nbd_reconnect_8_threads bash -c "cat '$T/drop.out'; [ $rc = 0 ] && grep -q reconnected '$T/drop.out'"
finish
