#!/usr/bin/env bash
# Remote disks over a long link whose connections are capped, as a vCenter,
# an ESXi host or Glance far away is: tests/bench/linkproxy.py gives every
# connection 50 ms of round trip and 40 MB/s.  The HTTP transport sees the
# link is wide (a request spends more time waiting than receiving) and
# opens more than 8 connections, fetching a large read in parts on several
# of them; on loopback it keeps 8.  A VMDK's grain tables are read in a few
# requests, not one per 16 tables.  The bytes are checked against the
# source (raw) and qemu-img (VMDK).  Nothing here is timed.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"

mkdir -p "$T/www"
head -c $((96 << 20)) /dev/urandom > "$T/www/disk.raw"
# 8 GiB virtual, 256 grain tables of 512 entries (monolithicSparse lays
# them out one after another), a little data far apart.
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$T/www/big.vmdk" 8G
qemu-io -f vmdk -c "write -P 0x41 0 1M" -c "write -P 0x42 3G 1M" \
  -c "write -P 0x43 8191M 1M" "$T/www/big.vmdk" >/dev/null
qemu-img convert -q -f vmdk -O raw "$T/www/big.vmdk" "$T/big.ref"

# A streamOptimized disk, half random, half text (grains of every
# compressed size, so FUSE's reads cut through grains).
head -c $((24 << 20)) /dev/urandom > "$T/so.src"
seq 1 4000000 | head -c $((24 << 20)) >> "$T/so.src"
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$T/so.src" "$T/www/so.vmdk"
qemu-img convert -q -f vmdk -O raw "$T/www/so.vmdk" "$T/so.ref"

nginx_start "$T/www"
python3 "$S/tests/bench/linkproxy.py" --target "$NGINX_PORT" --rtt-ms 50 \
  --cap-mbps 40 --max-seconds 600 > "$T/link.port" &
at_exit "kill $!"
for _ in $(seq 100); do [ -s "$T/link.port" ] && break; sleep 0.05; done
LINK="http://127.0.0.1:$(head -1 "$T/link.port")"

conns () { awk '{ print $1 }' "$NGINX_CONN_LOG" | sort -u | wc -l; }
# Requests whose range is exactly N bytes long.
ranges_of () {
  grep -o '"bytes=[0-9]*-[0-9]*"' "$NGINX_CONN_LOG" | tr -d '"' | cut -d= -f2 \
    | awk -F- -v n="$1" '$2 - $1 + 1 == n' | wc -l
}

nginx_log_clear
check link_copy_matches bash -c "'$VMI' copy --quiet '$LINK/disk.raw' '$T/out.raw' && cmp '$T/out.raw' '$T/www/disk.raw'"
n=$(conns); split=$(ranges_of $((2 << 20)))
echo "     (96 MiB over the link: $n connections, $split requests of 2 MiB)"
check link_copy_uses_more_than_8_connections test "$n" -gt 8
check link_copy_fetches_4MiB_reads_in_parts test "$split" -gt 0

nginx_log_clear
rm -f "$T/out.raw"
check loopback_copy_matches bash -c "'$VMI' copy --quiet '$NGINX_URL/disk.raw' '$T/out.raw' && cmp '$T/out.raw' '$T/www/disk.raw'"
n=$(conns)
echo "     (96 MiB on loopback: $n connections)"
check loopback_copy_keeps_8_connections test "$n" -le 8

# Small reads one after another, far from the others: on a far link the
# first fetches 256 KiB from where it starts and the next ones find their
# bytes there (each would cost a round trip).  The 9 scattered reads
# before them let the transport learn the link is far (8 requests).
starts_in () {
  grep -o '"bytes=[0-9]*-' "$NGINX_CONN_LOG" | tr -dc '0-9\n' \
    | awk -v a="$1" -v b="$2" '$1 >= a && $1 < b' | wc -l
}
reads=""
for i in $(seq 1 9); do reads+=" $((i * (7 << 20)))+4096"; done
for i in $(seq 0 15); do reads+=" $(((70 << 20) + i * 16384))+16384"; done
nginx_log_clear
check link_small_reads_match "$LT" reads "$LINK/disk.raw" "$T/www/disk.raw" $reads
n=$(starts_in $((70 << 20)) $(((70 << 20) + (256 << 10))))
echo "     (16 reads of 16 KiB one after another over the link: $n requests)"
check link_small_reads_in_one_request test "$n" -le 2

check link_vmdk_allocated_matches_qemu bash -c "'$LT' info '$LINK/big.vmdk' | grep -q '\"allocated\": 3145728}'"
# Its 256 grain tables (512 KiB) come with the grain directory they follow,
# in one read, not 16 reads of 32 KiB one after another (nor one read
# after the directory's): the map costs that read and the first one (the
# header).
nginx_log_clear
check link_vmdk_map bash -c "'$LT' map '$LINK/big.vmdk' > '$T/big.map'"
n=$(grep -c '"GET ' "$NGINX_LOG")
echo "     (the map of an 8 GiB VMDK with 256 grain tables: $n requests)"
check link_vmdk_map_in_2_requests test "$n" -le 2
rm -f "$T/big.out"
check link_vmdk_copy_matches_qemu bash -c "'$VMI' copy --quiet '$LINK/big.vmdk' '$T/big.out' && cmp '$T/big.out' '$T/big.ref'"
# cp from a mount over the link reads the right bytes.  (What it sends is
# printed, not checked: alone it sends the file once, within 0.1%, where
# the old binary sent 1.2% more; inside the full suite it sent 1091214
# bytes more, the same in two runs, not understood yet.)
nginx_log_clear
mount_fs "$LINK/so.vmdk" "$T/mnt"
check link_mount_cp_matches_qemu bash -c "cp --sparse=always '$T/mnt/so/disk-0.img' '$T/so.out' && cmp '$T/so.out' '$T/so.ref'"
unmount_fs "$T/mnt"
echo "     (cp from the mount: $(nginx_bytes_sent) bytes sent for a file of $(stat -c %s "$T/www/so.vmdk"))"
finish
