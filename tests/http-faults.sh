#!/usr/bin/env bash
# Network faults during a whole `vmimport copy` over HTTP: the server killed
# and restarted three times, and a server that cuts every response after
# 1 MiB.  Our retries (with resume from the byte where a transfer broke)
# must give identical bytes, and say what they retried.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"

W="$T/www"; mkdir -p "$W"
make_ext4 "$T/fs.img" 48M
qemu-img convert -O qcow2 "$T/fs.img" "$W/disk.qcow2"
head -c 40000000 /dev/urandom > "$W/rand.raw"
qemu-img convert -O raw "$W/disk.qcow2" "$T/disk.ref"

# 1. nginx restarted three times during one copy (a slow server, so the
#    copy spans the restarts).
nginx_start "$W" --limit-rate 1m
"$VMI" copy -v --progress=none "$NGINX_URL/rand.raw" "$T/out1.img" 2>"$T/copy1.err" &
pid=$!
for i in 1 2 3; do sleep 1.5; nginx_restart; done
wait "$pid"; rc=$?
check restarted_three_times_copy_succeeds test "$rc" -eq 0
check restarted_three_times_bytes_identical cmp "$T/out1.img" "$W/rand.raw"
check restarts_were_retried_and_logged bash -c "grep -c 'retry' '$T/copy1.err' | awk '{ exit !(\$1 >= 1) }'"
nginx_stop

# 2. A server that cuts every response after 1 MiB.
port=$(free_port)
python3 "$S/tests/cutserver.py" "$W" "$port" 1048576 &
at_exit "kill $!"
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
check cut_responses_raw_copy_identical bash -c "'$VMI' copy --quiet 'http://127.0.0.1:$port/rand.raw' '$T/out2.img' && cmp '$T/out2.img' '$W/rand.raw'"
check cut_responses_qcow2_copy_identical bash -c "'$VMI' copy --quiet 'http://127.0.0.1:$port/disk.qcow2' '$T/out3.img' && cmp '$T/out3.img' '$T/disk.ref'"

# 3. Read-ahead windows (from 4 MiB read on): a server that cuts every
#    response after 100000 bytes cuts the windows too (their readers fetch
#    the rest: the bytes are right), and stalls every range from 8 MiB on:
#    the windows launched past what was read stop when the reader closes, it
#    does not wait for them.
port=$(free_port)
python3 "$S/tests/cutserver.py" "$W" "$port" 100000 8388608 &
at_exit "kill $!"
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
start=$SECONDS
check readahead_cut_windows_bytes_identical bash -c "VMI_VERBOSE=1 VMI_PIECE=65536 timeout 50 '$B/tests/ova-tool' head 'http://127.0.0.1:$port/rand.raw' 8388608 '$T/ra.out' 2>'$T/ra.err' && cmp '$T/ra.out' <(head -c 8388608 '$W/rand.raw')"
check readahead_stalled_windows_stopped_at_close test $((SECONDS - start)) -lt 20
check readahead_cut_windows_were_fetched_again grep -q 'read-ahead of .* stopped after' "$T/ra.err"

# 4. A server that stays down: the copy fails in bounded time, clearly.
check_fails server_gone_fails_clearly_in_bounded_time "127.0.0.1:1/|[Cc]onnect|refused" \
  timeout 60 "$VMI" copy --quiet --retries 2 --retry-deadline 5 "http://127.0.0.1:1/rand.raw" "$T/out4.img"
finish
