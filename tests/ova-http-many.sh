#!/usr/bin/env bash
# An OVA of 50,000 small members over HTTP: listing it reads the tar
# headers in windows (one range request each, up to 1 MiB), so it costs
# requests in proportion to the archive's size, not to its member count
# (counted in nginx's access log); and an OVA of a few large disks still
# costs one small request per member, not a window of the disk's data.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
. "$VMI_SRC/tests/ova-lib.sh"

W=$T/www
mkdir -p "$W" "$T/ova"
head -c 1M /dev/urandom > "$T/ova/disk1.img"
make_ovf "$T/ova/many.ovf" '{"name": "many", "cpus": 1, "memory": [512, "byte * 2^20"],
  "disks": [{"href": "disk1.img", "capacity": [1, "byte * 2^20"], "format": "raw", "bus": "scsi"}],
  "nics": []}'
# The OVF and the disk, then 50,000 one-byte members (python's tarfile:
# ustar headers, as tar writes them).
python3 - "$T/ova" "$W/many.ova" <<'PY'
import io, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    for name in ("many.ovf", "disk1.img"):
        t.add(f"{src}/{name}", arcname=name)
    for i in range(50000):
        info = tarfile.TarInfo(f"extra/f{i:05d}.txt"); info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
PY
nginx_start "$W"
SIZE=$(stat -c %s "$W/many.ova")
requests () { grep -c '"GET \|"HEAD ' "$NGINX_LOG"; }

check many_members_listed "$VMI" ls "$NGINX_URL/many.ova"
n=$(requests)
limit=$(( SIZE / (1 << 20) + 10 ))
echo "ls of a $SIZE-byte OVA of 50,002 members: $n requests (at most $limit)"
check many_members_requests_follow_size test "$n" -le "$limit"
nginx_log_clear
mkdir -p "$T/mnt"
check many_members_mount mount_fs "$NGINX_URL/many.ova" "$T/mnt"
check many_members_disk_reads cmp "$T/ova/disk1.img" "$T/mnt/many/disk-0.img"
unmount_fs "$T/mnt"
n=$(requests)
echo "mount + read: $n requests"
check many_members_mount_requests_follow_size test "$n" -le $(( limit + 5 ))

# Two 64 MiB disks: listing reads no window of their data (a few small
# requests, few bytes).
head -c 64M /dev/urandom > "$T/ova/big1.img"
head -c 64M /dev/urandom > "$T/ova/big2.img"
make_ovf "$T/ova/big.ovf" '{"name": "big", "cpus": 1, "memory": [512, "byte * 2^20"],
  "disks": [{"href": "big1.img", "capacity": [64, "byte * 2^20"], "format": "raw", "bus": "scsi"},
            {"href": "big2.img", "capacity": [64, "byte * 2^20"], "format": "raw", "bus": "scsi"}],
  "nics": []}'
make_ova "$W/big.ova" "$T/ova" ustar big.ovf big1.img big2.img
nginx_log_clear
check big_members_listed "$VMI" ls "$NGINX_URL/big.ova"
echo "ls of two 64 MiB disks: $(requests) requests, $(nginx_bytes_sent) bytes sent"
check big_members_few_bytes test "$(nginx_bytes_sent)" -le $(( 512 << 10 ))
finish
