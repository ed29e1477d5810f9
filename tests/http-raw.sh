#!/usr/bin/env bash
# A disk image over HTTP: range requests give the right bytes from many
# threads at once on separate connections, sequential readers get
# read-ahead, HEAD-less servers work, a server without ranges is refused
# clearly, and a server restarted in the middle of a read is retried.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
OT="$B/tests/ova-tool"

mkdir -p "$T/www"
make_ext4 "$T/www/disk.img" 64M
truncate -s 33554431 "$T/www/odd.raw"           # not a multiple of 512
head -c 5000000 /dev/urandom | dd of="$T/www/odd.raw" bs=1M seek=3 conv=notrunc status=none

nginx_start "$T/www"
U=$NGINX_URL
check http_raw_cat_matches bash -c "'$LT' cat '$U/disk.img' '$T/disk.out' && cmp '$T/disk.out' '$T/www/disk.img'"
check http_odd_size_cat_matches bash -c "'$LT' cat '$U/odd.raw' '$T/odd.out' && cmp '$T/odd.out' '$T/www/odd.raw'"
check http_random_reads_8_threads_match "$LT" random "$U/disk.img" "$T/www/disk.img" 600 8 1
check http_random_reads_through_cache_match "$LT" random "$U/odd.raw" "$T/www/odd.raw" 600 4 2 $((8<<20))
"$LT" vmjson "$U/disk.img" > "$T/disk.json"
check http_image_vmjson_capacity bash -c "python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j[\"disks\"][0][\"capacity\"]==64<<20 and j[\"source\"][\"kind\"]==\"http\"' '$T/disk.json'"
# The size comes from the Content-Range of the first read (its first 64
# KiB, kept for the reads that follow), not from a HEAD: one round trip.
check http_size_from_first_ranged_get bash -c "! grep -q '\"HEAD /disk.img' '$NGINX_LOG' && grep -q '\"GET /disk.img.*\"bytes=0-65535\"' '$NGINX_LOG'"

# Read-ahead: 128 KiB sequential reads of 32 MiB need far fewer requests.
nginx_log_clear
check http_sequential_reads_match bash -c "'$OT' head '$U/disk.img' 33554432 '$T/head.out' && cmp '$T/head.out' <(head -c 33554432 '$T/www/disk.img')"
n=$(grep -c '"GET /disk.img' "$NGINX_LOG")
check http_readahead_fewer_requests_than_reads test "$n" -lt 64
echo "     (256 reads of 128 KiB took $n GET requests)"

# Missing file: 404 named.
check_fails http_missing_file_404_named 'nope\.img.*(HTTP 404|no such file)' "$LT" vmjson "$U/nope.img"

# Several readers at once on several connections.  nginx lets a response
# start with one second's worth at full speed, then holds it to the rate:
# at 512 KB/s per connection, 4 threads x 2 MiB in 1 MiB reads take about
# 2 s in parallel and 8 s if they shared one connection.
nginx_stop
nginx_start "$T/www" --limit-rate 512k
start=$(date +%s.%N)
check http_parallel_reads_match "$OT" parallel "$NGINX_URL/disk.img" 4 $((2<<20)) "$T/www/disk.img"
el=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
check http_parallel_reads_do_not_serialise python3 -c "import sys; sys.exit(0 if $el < 5 else 1)"
echo "     (4 x 2 MiB at 512 KB/s per connection took $el s)"

# nginx stopped and started again in the middle of a full read: the read
# retries, resumes from the byte where it broke, and completes with the
# right bytes.  At 2 MB/s each 4 MiB request of the copy takes ~1 s.
nginx_stop
nginx_start "$T/www" --limit-rate 2m
VMI_VERBOSE=1 VMI_PIECE=4194304 "$OT" head "$NGINX_URL/odd.raw" 33554431 "$T/restart.out" 2>"$T/restart.err" &
pid=$!
sleep 2.5
nginx_stop
sleep 1
nginx_restart
wait $pid
rc=$?
check http_restart_mid_read_completes test "$rc" -eq 0
check http_restart_mid_read_bytes_match cmp "$T/restart.out" "$T/www/odd.raw"
check http_restart_mid_read_was_retried grep -q 'retry 1 of' "$T/restart.err"
# A resumed request starts where the broken one stopped (if any bytes of
# it had arrived), not on the copy's 4 MiB boundaries.
if grep -o '"bytes=[0-9]*' "$NGINX_LOG" | cut -d= -f2 | awk '$1 % 4194304 != 0 {f=1} END {exit !f}'; then
  echo "     (the broken request was resumed mid-way)"
fi

# Requests over 10 a second answered 503, then 429: each read is retried
# with back-off until it gets through, and the bytes are right.
for status in 503 429; do
  nginx_stop
  nginx_start "$T/www" --req-limit 10r/s $status
  check "http_${status}_retried_reads_match" "$LT" random "$NGINX_URL/odd.raw" "$T/www/odd.raw" 40 4 9
  check "http_${status}_was_answered" grep -q "\" $status " "$NGINX_LOG"
done

# httpTimeoutSeconds covers a whole request: at 200 KB/s a 2 MiB request
# needs ~10 s, so with a 2 s timeout it is cut, retried, and resumed from
# where it stopped (several requests); with 0 (no timeout) it is one.
nginx_stop
nginx_start "$T/www" --limit-rate 200k
check http_timeout_cuts_slow_request_and_resumes bash -c "VMI_TIMEOUT=2 VMI_PIECE=2097152 '$OT' head '$NGINX_URL/disk.img' 2097152 '$T/slow.out' && cmp '$T/slow.out' <(head -c 2097152 '$T/www/disk.img')"
n=$(grep -c '"GET /disk.img' "$NGINX_LOG")
check http_timeout_made_several_requests test "$n" -ge 3
nginx_log_clear
# (Read-ahead may ask for bytes past the first MiB; a resumed request
# would start inside it.)
check http_timeout_zero_means_none bash -c "VMI_TIMEOUT=0 VMI_PIECE=1048576 '$OT' head '$NGINX_URL/disk.img' 1048576 '$T/slow.out' && grep -q '\"bytes=0-1048575\"' '$NGINX_LOG'"
inside=$(grep '"GET /disk.img' "$NGINX_LOG" | grep -o '"bytes=[0-9]*-' | tr -dc '0-9\n' \
  | awk '$1 > 0 && $1 < 1048576' | wc -l)
check http_timeout_zero_request_not_cut_or_resumed test "$inside" -eq 0

# HEAD refused (405): nothing needs it.
nginx_stop
nginx_start "$T/www" --no-head
check http_head_refused_works bash -c "'$LT' cat '$NGINX_URL/odd.raw' '$T/odd2.out' && cmp '$T/odd2.out' '$T/www/odd.raw'"
check http_head_refused_was_not_needed bash -c "! grep -q '\"HEAD ' '$NGINX_LOG'"

# A server that ignores Range: a clear error, and no whole-file download.
nginx_stop
nginx_start "$T/www" --no-ranges
check_fails http_no_range_support_clear_error 'does not support range requests' "$LT" cat "$NGINX_URL/disk.img" "$T/x.out"
check http_no_range_support_did_not_download bash -c "[ \$(awk '{s+=\$NF} END {print s+0}' '$NGINX_LOG') -lt $((8<<20)) ]"
# ... but a file no longer than the first read (64 KiB), which such a
# server sends whole (200), is all there is to read: it opens and reads.
head -c 40000 /dev/urandom > "$T/www/small.raw"
check http_no_range_small_file_served_whole_reads bash -c "'$LT' cat '$NGINX_URL/small.raw' '$T/small.out' && cmp '$T/small.out' '$T/www/small.raw'"
finish
