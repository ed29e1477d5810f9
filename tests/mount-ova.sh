#!/usr/bin/env bash
# vmimportfs on an OVA over HTTPS with basic auth: the mount shows the VM the
# OVF describes, every disk-N.img is byte-identical to qemu-img's conversion
# of the VMDK inside, mounting and reading the first MiB transfers little,
# and the password shows up nowhere.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/nginx.sh"
. "$VMI_SRC/tests/ova-lib.sh"

W="$T/www"; A="$T/a"
mkdir -p "$W" "$A/disks" "$T/mnt" "$T/ca"
make_ext4 "$T/d0.raw" 64M
qemu-img create -q -f raw "$T/d1.raw" 30M          # not a multiple of the grain
seq 1 300000 | dd of="$T/d1.raw" conv=notrunc status=none
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/d0.raw" "$A/disks/a.vmdk"
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/d1.raw" "$A/disks/b.vmdk"
make_ovf "$A/app.ovf" '{"name": "web server", "cpus": 4, "cores": 2, "memory": [3, "byte * 2^30"],
  "firmware": "efi", "secure_boot": true, "os": "ubuntu64Guest",
  "disks": [{"href": "disks/a.vmdk", "capacity": [64, "byte * 2^20"], "format": "vmdk", "bus": "scsi"},
            {"href": "disks/b.vmdk", "capacity": [30, "byte * 2^20"], "format": "vmdk", "bus": "sata"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:aa:bb:01"},
           {"network": "storage", "model": "E1000", "mac": "00:50:56:aa:bb:02"}]}'
make_mf "$A" "$A/app.mf" app.ovf disks/a.vmdk disks/b.vmdk
make_ova "$W/app.ova" "$A" ustar app.ovf app.mf disks/a.vmdk disks/b.vmdk
qemu-img convert -O raw "$A/disks/a.vmdk" "$T/a.ref"
qemu-img convert -O raw "$A/disks/b.vmdk" "$T/b.ref"

# HTTPS with a CA made here, basic auth with a password that must not leak.
nginx_make_ca "$T/ca"
PW='s3cret-Pa55-word'
printf '%s\n' "$PW" > "$T/pw"
nginx_htpasswd "$T/htpasswd" alice "$T/pw"
nginx_start "$W" --tls "$T/ca/server.crt" "$T/ca/server.key" --auth "$T/htpasswd"
U="$NGINX_URL/app.ova"

check mount_ova_over_https_with_auth mount_fs "$U" "$T/mnt" --ca-cert "$T/ca/ca.crt" --user alice --password-file "$T/pw"
check mount_shows_the_vm_folder bash -c "ls '$T/mnt' | grep -qx 'web server'"
M="$T/mnt/web server"
check mount_lists_vm_json_and_disks_in_ovf_order bash -c "ls '$M' | tr '\n' ' ' | grep -qx 'disk-0.img disk-1.img vm.json '"
check vm_json_holds_what_the_ovf_says python3 - "$M/vm.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
assert v["name"] == "web server", v["name"]
assert v["cpus"] == 4 and v["cores_per_socket"] == 2, v
assert v["memory_mib"] == 3072, v["memory_mib"]
assert v["firmware"] == "efi" and v["secure_boot"] is True, v
assert v["guest_os"] == "ubuntu64Guest", v["guest_os"]
d = v["disks"]
assert [x["capacity"] for x in d] == [64 << 20, 30 << 20], d
assert [x["bus"] for x in d] == ["scsi", "sata"], d
assert [x["file"] for x in d] == ["disk-0.img", "disk-1.img"], d
n = v["nics"]
assert [(x["network"], x["model"], x["mac"]) for x in n] == [
    ("VM Network", "VmxNet3", "00:50:56:aa:bb:01"), ("storage", "E1000", "00:50:56:aa:bb:02")], n
PY
check disk0_matches_qemu_img_convert_of_the_vmdk cmp "$M/disk-0.img" "$T/a.ref"
check disk1_matches_qemu_img_convert_of_the_vmdk cmp "$M/disk-1.img" "$T/b.ref"
check disk0_random_reads_from_4_threads_match "$LT" random "$M/disk-0.img" "$T/a.ref" 500 4 3
pid=$(pgrep -f -- "$U $T/mnt" | head -1)
check password_not_in_daemon_cmdline bash -c "[ -n '$pid' ] && ! tr '\0' ' ' < /proc/$pid/cmdline | grep -qF '$PW'"
check password_not_in_daemon_environment_or_log bash -c "! grep -qF '$PW' '$T/vmimportfs.log'"
unmount_fs "$T/mnt"

# Wrong password / unknown CA: the mount fails, saying why; nothing mounted.
printf 'wrong\n' > "$T/badpw"
check_fails wrong_password_is_an_authentication_failure "[Aa]uthentication" \
  timeout 30 "$VMIFS" -f --ca-cert "$T/ca/ca.crt" --user alice --password-file "$T/badpw" "$U" "$T/mnt"
check_fails unknown_ca_is_a_certificate_error "[Cc]ertificate" \
  timeout 30 "$VMIFS" -f --user alice --password-file "$T/pw" "$U" "$T/mnt"
check failed_mounts_leave_nothing_mounted bash -c "! mountpoint -q '$T/mnt'"
nginx_stop

# Laziness, measured: an OVA whose disk holds 1 GiB of data.  Mount it and
# read the first MiB: nginx sends less than 4 MiB in all.
mkdir -p "$T/lazy"
qemu-img create -q -f raw "$T/big.raw" 2G
seq -f 'line %.0f of a log that fills a gigabyte of this disk with text' 1 16000000 |
  head -c 1073741824 | dd of="$T/big.raw" conv=notrunc bs=4M iflag=fullblock status=none
qemu-img convert -O vmdk -o subformat=streamOptimized "$T/big.raw" "$T/lazy/big.vmdk"
head -c 1048576 "$T/big.raw" > "$T/big.head"   # what qemu-img put in the VMDK
rm -f "$T/big.raw"
make_ovf "$T/lazy/lazy.ovf" '{"name": "lazy", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "big.vmdk", "capacity": [2, "byte * 2^30"], "format": "vmdk", "bus": "scsi"}]}'
make_ova "$W/lazy.ova" "$T/lazy" ustar lazy.ovf big.vmdk
nginx_start "$W"
check mount_lazy_ova mount_fs "$NGINX_URL/lazy.ova" "$T/mnt"
check read_first_mib_through_the_mount bash -c "dd if='$T/mnt/lazy/disk-0.img' bs=1M count=1 status=none | cmp - '$T/big.head'"
sent=$(nginx_bytes_sent)
echo "nginx sent $sent bytes for mount + first MiB (OVA is $(stat -c %s "$W/lazy.ova") bytes)"
check mount_and_first_mib_transfer_under_4mib test "$sent" -lt $((4 << 20))
unmount_fs "$T/mnt"
finish
