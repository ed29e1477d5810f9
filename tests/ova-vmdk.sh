#!/usr/bin/env bash
# OVAs holding streamOptimized VMDKs (made by qemu-img, and VMware's own
# layout with the footer at the end), local and over HTTP: every disk reads
# back equal to `qemu-img convert -O raw` of the VMDK extracted from the
# OVA; a disk over 8 GiB virtual; laziness measured from nginx's log.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
. "$VMI_SRC/tests/ova-lib.sh"
OT="$B/tests/ova-tool"
GEN="$S/tests/vmdk-gen.py"
W="$T/www"
mkdir -p "$W" "$T/a/disks" "$T/x"

# Reference for member M of OVA: extract it with tar, convert with qemu-img.
ref_of () {
  local ova=$1 member=$2 out=$3
  rm -rf "$T/x" && mkdir -p "$T/x" && tar -C "$T/x" -xf "$ova" "$member" \
    && qemu-img convert -O raw "$T/x/$member" "$out"
}
export -f ref_of
export T
# disk_matches OVA_OR_URL LOCAL_OVA INDEX MEMBER
disk_matches () {
  VMI_DISK=$3 "$LT" cat "$1" "$T/got.img" && ref_of "$2" "$4" "$T/ref.img" \
    && cmp "$T/got.img" "$T/ref.img"
}

# ---- one disk ----
make_ext4 "$T/d1.img" 64M
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/d1.img" "$T/a/disk1.vmdk"
make_ovf "$T/a/one.ovf" '{"name": "vmdk-one", "cpus": 2, "cores": 1, "memory": [2, "byte * 2^30"],
  "firmware": "efi", "secure_boot": true, "os": "debian11_64Guest",
  "disks": [{"href": "disk1.vmdk", "capacity": [64, "byte * 2^20"], "format": "vmdk", "bus": "sata"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:00:00:01"}]}'
make_mf "$T/a" "$T/a/one.mf" one.ovf disk1.vmdk
make_ova "$W/one.ova" "$T/a" ustar one.ovf one.mf disk1.vmdk
"$LT" vmjson "$W/one.ova" > "$T/one.json"
check_vmjson ova_vmdk_one_disk_vmjson "$T/one.json" \
  'j["name"]=="vmdk-one" and j["cpus"]==2 and j["cores_per_socket"]==1 and j["memory_mib"]==2048 and j["firmware"]=="efi" and j["secure_boot"]==True and j["disks"][0]["capacity"]==64<<20 and j["disks"][0]["bus"]=="sata" and j["disks"][0]["source_format"]=="vmdk" and j["nics"][0]["mac"]=="00:50:56:00:00:01"'
check ova_vmdk_one_disk_matches_qemu_img disk_matches "$W/one.ova" "$W/one.ova" 0 disk1.vmdk

# ---- two disks in a subfolder: qemu-img's layout and VMware's ----
make_ext4 "$T/d2.img" 48M
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/d1.img" "$T/a/disks/a.vmdk"
python3 "$GEN" stream "$T/d2.img" "$T/a/disks/b.vmdk"
make_ovf "$T/a/two.ovf" '{"name": "vmdk-two", "cpus": 4, "cores": 2, "memory": [4096, "MegaBytes"],
  "firmware": "bios",
  "disks": [{"href": "disks/a.vmdk", "capacity": [64, "byte * 2^20"], "format": "vmdk", "bus": "scsi"},
            {"href": "disks/b.vmdk", "capacity": [48, "byte * 2^20"], "format": "vmdk", "bus": "ide"}],
  "nics": [{"network": "Prod", "model": "E1000e", "mac": "00:50:56:00:00:02"},
           {"network": "Backup", "model": "VmxNet3", "mac": "00:50:56:00:00:03"}]}'
make_mf "$T/a" "$T/a/two.mf" two.ovf disks/a.vmdk disks/b.vmdk
make_ova "$W/two.ova" "$T/a" ustar two.ovf two.mf disks/a.vmdk disks/b.vmdk
"$LT" vmjson "$W/two.ova" > "$T/two.json"
check_vmjson ova_vmdk_two_disks_vmjson "$T/two.json" \
  '[(d["capacity"],d["bus"],d["source_name"]) for d in j["disks"]]==[(64<<20,"scsi","disks/a.vmdk"),(48<<20,"ide","disks/b.vmdk")] and [(n["network"],n["model"],n["mac"]) for n in j["nics"]]==[("Prod","E1000e","00:50:56:00:00:02"),("Backup","VmxNet3","00:50:56:00:00:03")] and j["memory_mib"]==4096 and j["firmware"]=="bios"'
check ova_vmdk_subfolder_disk0_matches_qemu_img disk_matches "$W/two.ova" "$W/two.ova" 0 disks/a.vmdk
check ova_vmdk_subfolder_vmware_stream_disk1_matches_qemu_img disk_matches "$W/two.ova" "$W/two.ova" 1 disks/b.vmdk
check ova_vmdk_verify_passes "$OT" verify "$W/two.ova"

# ---- a disk larger than 8 GiB virtual ----
make_ext4 "$T/big.img" 9G
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/big.img" "$T/a/big.vmdk"
rm -f "$T/big.img"
make_ovf "$T/a/big.ovf" '{"name": "vmdk-big", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "big.vmdk", "capacity": [9, "byte * 2^30"], "format": "vmdk", "bus": "nvme"}], "nics": []}'
make_ova "$W/big.ova" "$T/a" pax big.ovf big.vmdk
rm -f "$T/a/big.vmdk"
"$LT" vmjson "$W/big.ova" > "$T/big.json"
check_vmjson ova_vmdk_over_8GiB_capacity "$T/big.json" 'j["disks"][0]["capacity"]==9<<30 and j["disks"][0]["bus"]=="nvme"'

# ---- over HTTP ----
nginx_start "$W"
U=$NGINX_URL
check ova_http_vmdk_disk0_matches_qemu_img disk_matches "$U/two.ova" "$W/two.ova" 0 disks/a.vmdk
check ova_http_vmware_stream_disk1_matches_qemu_img disk_matches "$U/two.ova" "$W/two.ova" 1 disks/b.vmdk
check ova_http_vmdk_random_reads_match bash -c "ref_of '$W/two.ova' disks/b.vmdk '$T/b.raw' && VMI_DISK=1 '$LT' random '$U/two.ova' '$T/b.raw' 300 6 5"
# 9 GiB, mostly holes: qemu-img compare skips the holes cmp would read.
check ova_http_vmdk_over_8GiB_matches_qemu_img bash -c "'$LT' cat '$U/big.ova' '$T/got.img' && ref_of '$W/big.ova' big.vmdk '$T/ref.img' && qemu-img compare -q -f raw -F raw '$T/got.img' '$T/ref.img'" 
rm -f "$T/got.img" "$T/ref.img"
check ova_http_vmdk_verify_passes "$OT" verify "$U/two.ova"

# Laziness: a disk holding 1 GiB of data (each 64 KiB grain a random 4 KiB
# block repeated: the VMDK stays ~80 MiB).  Opening reads the tar headers,
# the OVF and the VMDK's metadata; reading the first MiB adds little.
python3 -c '
import os, sys
with open(sys.argv[1], "wb") as f:
    for i in range(16384):
        f.write(os.urandom(4096) * 16)' "$T/lazy.img"
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/lazy.img" "$T/a/lazy.vmdk"
rm -f "$T/lazy.img"
make_ovf "$T/a/lazy.ovf" '{"name": "lazy", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "lazy.vmdk", "capacity": [1, "byte * 2^30"], "format": "vmdk", "bus": "scsi"}], "nics": []}'
make_ova "$W/lazy.ova" "$T/a" ustar lazy.ovf lazy.vmdk
rm -f "$T/a/lazy.vmdk"
nginx_log_clear
"$LT" vmjson "$U/lazy.ova" > "$T/lazy.json"
open_sent=$(nginx_bytes_sent)
check_vmjson ova_http_lazy_vmdk_holds_1GiB_of_data "$T/lazy.json" 'j["disks"][0]["allocated"]>=1<<30'
check ova_http_vmdk_open_reads_metadata_only test "$open_sent" -lt $((1<<20))
nginx_log_clear
check ova_http_vmdk_first_MiB_matches bash -c "'$OT' head '$U/lazy.ova' 1048576 '$T/lazy.head' && ref_of '$W/lazy.ova' lazy.vmdk '$T/lazy.raw' && cmp '$T/lazy.head' <(head -c 1048576 '$T/lazy.raw')"
rm -f "$T/lazy.raw"
sent=$(nginx_bytes_sent)
check ova_http_vmdk_mount_and_read_1MiB_sends_under_4MiB test "$sent" -lt $((4<<20))
echo "     (1 GiB-data VMDK in a $(stat -c %s "$W/lazy.ova")-byte OVA: open sent $open_sent bytes; open + first MiB sent $sent bytes)"

# VMware's layout over HTTP: the footer at the end of the member is read,
# the grains in between are not.
nginx_log_clear
"$LT" vmjson "$U/two.ova" > /dev/null
sent=$(nginx_bytes_sent)
check ova_http_two_vmdks_open_reads_metadata_only test "$sent" -lt $((1<<20))

# A gzip-compressed VMDK (ovf:compression="gzip").
mkdir -p "$T/gz"
gzip -c "$T/a/disk1.vmdk" > "$T/gz/disk1.vmdk"
make_ovf "$T/gz/gz.ovf" '{"name": "gz", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "disk1.vmdk", "capacity": [64, "byte * 2^20"], "format": "vmdk", "bus": "scsi", "gzip": true}], "nics": []}'
make_ova "$W/gz.ova" "$T/gz" ustar gz.ovf disk1.vmdk
check ova_http_gzip_vmdk_matches_qemu_img bash -c "'$LT' cat '$U/gz.ova' '$T/gz.out' 2>/dev/null && qemu-img convert -O raw '$T/a/disk1.vmdk' '$T/gz.ref' && cmp '$T/gz.out' '$T/gz.ref'"
finish
