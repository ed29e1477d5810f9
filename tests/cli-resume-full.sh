#!/usr/bin/env bash
# vmimport copy --resume after the destination's filesystem filled up: the
# failed copy saves what it had done (the state file is rewritten in place
# when there is no block for a new one), and once space is freed --resume
# starts (free space is counted against what DST still lacks, not against
# every byte not yet marked), ends byte-identical and recopies at most a
# few units.  --resume with no state starts a fresh copy and says so.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"
. "$VMI_SRC/tests/nginx.sh"

UNIT=$((4 << 20))
DATA=$((64 << 20))
W=$T/www
mkdir -p "$W"
head -c $DATA /dev/urandom > "$T/src.raw"
truncate -s 96M "$T/src.raw"
qemu-img convert -f raw -O qcow2 "$T/src.raw" "$W/disk.qcow2"

# A small ext4 (no blocks reserved for root): after KEEP, room for the
# data and 16 MiB more.
truncate -s 128M "$T/fs.img"
mkfs.ext4 -q -m 0 "$T/fs.img"
D=$T/dfs
mkdir -p "$D"
mount -o loop "$T/fs.img" "$D"
at_exit "umount '$D'"
avail () { df -B1 --output=avail "$D" | tail -n 1; }
fallocate -l $(( $(avail) - DATA - (16 << 20) )) "$D/keep"

# A slow copy; once 8 MiB are written, fill the filesystem but 16 MiB.
nginx_start "$W" --limit-rate 2m
URL=$NGINX_URL/disk.qcow2
OUT=$D/out.raw
"$VMI" copy --jobs 2 --progress json "$URL" "$OUT" > "$T/run1" 2> "$T/err1" &
pid=$!
for i in $(seq 1 400); do
  [ -e "$OUT" ] && [ $(( $(stat -c %b "$OUT") * 512 )) -ge $((8 << 20)) ] && break
  sleep 0.05
done
fallocate -l $(( $(avail) - (16 << 20) )) "$D/filler"
wait $pid; rc=$?
cat "$T/err1"
check disk_full_exits_3 test "$rc" -eq 3
check disk_full_message_names_the_cause grep -q 'No space left on device' "$T/err1"
marked () {   # units marked done in the state file
  python3 -c '
import sys
for l in open(sys.argv[1]):
    if l.startswith("done "): print(sum(bin(int(c, 16)).count("1") for c in l[5:].strip()))' "$OUT.vmimport-state"
}
m=$(marked)
echo "units marked after the failure: $m; written: $(du -B1 "$OUT" | cut -f1)"
check disk_full_progress_saved test "$m" -ge 3

# Free the filler: --resume must start, finish, and fetch little again.
rm -f "$D/filler"
nginx_stop
nginx_start "$W"
check resume_after_disk_full_finishes "$VMI" copy --quiet --resume "$URL" "$OUT"
check resume_after_disk_full_matches cmp -n $((96 << 20)) "$T/src.raw" "$OUT"
sent=$(nginx_bytes_sent)
limit=$(( DATA - m * UNIT + 3 * UNIT + (1 << 20) ))
echo "the resumed copy fetched $sent bytes; at most $limit allowed"
check resume_recopies_at_most_a_few_units test "$sent" -le "$limit"
check state_removed_when_done test ! -e "$OUT.vmimport-state"

# Not enough room even so: refused with what is missing, unless --force.
rm -f "$OUT"
fallocate -l $(( $(avail) - (32 << 20) )) "$D/filler"
expect_rc 3 short_space_refused "$VMI" copy --quiet "$URL" "$OUT"
check short_space_message grep -q 'the copy still has 64.0 MiB to write, the filesystem has' "$T/err"
expect_rc 3 short_space_force_tries_and_fails_on_write "$VMI" copy --quiet --force "$URL" "$OUT"
check short_space_force_wrote grep -q 'No space left on device' "$T/err"
rm -f "$D/filler" "$OUT" "$OUT.vmimport-state"

# --resume without a state file: a fresh copy, said so.
head -c 1M /dev/urandom > "$D/old.raw"
expect_rc 0 resume_without_state_starts_fresh "$VMI" copy --quiet --resume "$URL" "$D/old.raw"
check resume_without_state_says_so grep -q 'no copy state at .*: starting a fresh copy' "$T/err"
check resume_without_state_matches cmp "$T/src.raw" "$D/old.raw"
finish
