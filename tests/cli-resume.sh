#!/usr/bin/env bash
# vmimport copy --resume: a copy from a slow server killed half way resumes,
# ends with the right bytes, and the second run fetches less than the disk.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"
. "$VMI_SRC/tests/nginx.sh"

W=$T/www
mkdir -p "$W"
# 32 MiB of incompressible data spread over a 256 MiB disk, served as
# QCOW2 (so the copy knows where the data is and skips the rest).
R=$T/disk.raw
truncate -s 256M "$R"
for at in 0 60 130 200; do
  head -c 8M /dev/urandom | dd of="$R" bs=1M seek=$at conv=notrunc status=none
done
qemu-img convert -f raw -O qcow2 "$R" "$W/disk.qcow2"
DATA=$((32 << 20))
nginx_start "$W" --limit-rate 512k
URL=$NGINX_URL/disk.qcow2

# resume_case NAME DST STATE: kill the copy half way, then --resume.
resume_case () {
  local name=$1 dst=$2 state=$3 pid i
  nginx_log_clear
  "$VMI" copy --jobs 2 --progress json "$URL" "$dst" > "$T/$name.1" 2>&1 &
  pid=$!
  # Half way: the progress says half is done; then a little longer, so
  # that the state file (saved every 5 seconds) has caught up.
  for i in $(seq 1 300); do
    if python3 -c "
import json,sys
ls=[json.loads(l) for l in open('$T/$name.1') if l.startswith('{')]
sys.exit(0 if ls and ls[-1]['done'] >= ls[-1]['total'] / 2 else 1)" 2>/dev/null; then break; fi
    sleep 0.1
  done
  sleep 5.5
  kill -9 $pid; wait $pid 2>/dev/null
  local first
  first=$(nginx_bytes_sent)
  check "${name}_killed_copy_is_incomplete" bash -c "! cmp -s -n $((256 << 20)) '$R' '$dst'"
  check "${name}_state_file_kept" test -s "$state"
  echo "state after the kill: $(grep '^done' "$state"); progress: $(tail -n 1 "$T/$name.1")"
  nginx_log_clear
  check "${name}_resume_finishes" "$VMI" copy --quiet --resume "$URL" "$dst"
  check "${name}_resumed_copy_matches" cmp -n $((256 << 20)) "$R" "$dst"
  local second
  second=$(nginx_bytes_sent)
  echo "first run fetched $first bytes, the resumed run $second of $DATA"
  check "${name}_resume_fetches_less_than_the_disk" test "$second" -lt $((DATA * 9 / 10))
  check "${name}_state_file_removed_when_done" test ! -e "$state"
}
resume_case file "$T/out.raw" "$T/out.raw.vmimport-state"
truncate -s 256M "$T/dev.img"
make_loop "$T/dev.img"
# A device's state lives in /var/tmp (not in /dev).
state=/var/tmp/vmimport-copy${LOOP//\//_}.state
at_exit "rm -f '$state'"
resume_case loop "$LOOP" "$state"
finish
