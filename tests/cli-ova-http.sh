#!/usr/bin/env bash
# vmimport over HTTP: ls / inspect / copy an OVA (two streamOptimized VMDKs)
# that nginx serves, without a mount.  Copies into a file and a loop device
# match qemu-img convert; inspect of a 20 GiB disk fetches a few MiB at
# most; a slow server shows one JSON progress line per second.
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"
. "$VMI_SRC/tests/nginx.sh"
. "$VMI_SRC/tests/ova-lib.sh"

W=$T/www
mkdir -p "$W" "$T/ova"
# The disk: 20 GiB GPT with an ESP and an ext4 root holding files.
D=$T/disk.raw
truncate -s 20G "$D"
sgdisk -n1:2048:+64M -t1:ef00 -c1:ESP -n2:0:+200M -t2:8300 -c2:root "$D" >/dev/null 2>&1
mkfs.vfat -F 32 --offset 2048 -n ESP -i 2468ACE0 "$D" 65536 >/dev/null 2>&1
mkdir -p "$T/rootfs/etc" && seq 1 100000 > "$T/rootfs/etc/numbers" && head -c 5M /dev/urandom > "$T/rootfs/blob"
mkfs.ext4 -q -F -L root -U 44444444-5555-4666-8777-888888888888 -d "$T/rootfs" "$T/root.img" 200M
dd if="$T/root.img" of="$D" bs=1M seek=65 conv=notrunc,sparse status=none
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$D" "$T/ova/disk1.vmdk"
# The disk the copies use: 256 MiB, ext4 files plus 12 MiB of random bytes.
make_ext4 "$T/d2.raw" 100M
truncate -s 256M "$T/d2.raw"
head -c 12M /dev/urandom | dd of="$T/d2.raw" bs=1M seek=200 conv=notrunc status=none
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$T/d2.raw" "$T/ova/disk2.vmdk"
make_ovf "$T/ova/vm1.ovf" '{"name": "web01", "cpus": 4, "cores": 2,
  "memory": [4096, "byte * 2^20"], "firmware": "efi",
  "disks": [{"href": "disk1.vmdk", "capacity": [20, "byte * 2^30"], "format": "vmdk"},
            {"href": "disk2.vmdk", "capacity": [256, "byte * 2^20"], "format": "vmdk"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:aa:bb:cc"}]}'
make_mf "$T/ova" "$T/ova/vm1.mf" vm1.ovf disk1.vmdk disk2.vmdk
make_ova "$W/web01.ova" "$T/ova" ustar vm1.ovf vm1.mf disk1.vmdk disk2.vmdk
BIG=$(qemu-img info --output=json "$T/ova/disk1.vmdk" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
qemu-img convert -O raw "$T/ova/disk2.vmdk" "$T/ref.raw"
SIZE=$(stat -c %s "$T/ref.raw")
nginx_start "$W"
URL=$NGINX_URL/web01.ova

"$VMI" ls "$URL" > "$T/ls.txt"
check ls_http_ova_one_line bash -c "[ \$(wc -l < '$T/ls.txt') -eq 1 ] && grep -q '^web01 .*cpus=4 .*memory=4096MiB .*firmware=efi .*disk-0.img:20.0 GiB/.*,disk-1.img:256.0 MiB/' '$T/ls.txt' && grep -q 'VM Network/VmxNet3' '$T/ls.txt'"
"$VMI" ls --json "$URL" > "$T/ls.json"
check ls_json_is_vm_json python3 -c "
import json; j=json.load(open('$T/ls.json')); assert len(j) == 1
v=j[0]; assert v['name']=='web01' and v['cpus']==4 and v['memory_mib']==4096
assert v['disks'][0]['capacity']==$BIG and v['disks'][1]['capacity']==$SIZE
assert v['nics'][0]['network']=='VM Network' and v['nics'][0]['model']=='VmxNet3'"

nginx_log_clear
"$VMI" inspect --json --disk 0 "$URL" > "$T/inspect.json"
check inspect_http_ova_partitions python3 -c "
import json; d=json.load(open('$T/inspect.json'))[0]
p=d['partitions']; assert d['partition_table']['type']=='gpt' and len(p)==2, d
assert p[0]['filesystem']['type']=='vfat' and p[0]['filesystem']['uuid']=='2468-ACE0', p[0]
assert p[1]['filesystem']['label']=='root' and p[1]['filesystem']['uuid']=='44444444-5555-4666-8777-888888888888', p[1]
assert d['firmware_hint']=='efi' and d['virtual_size']==$BIG"
sent=$(nginx_bytes_sent)
echo "inspect of a 20 GiB disk over HTTP: nginx sent $sent bytes"
check inspect_http_fetches_few_MiB test "$sent" -le $((8 << 20))

# Copies, into a file and into a dirty loop device.
check copy_http_ova_to_file_matches_qemu_img bash -c "'$VMI' copy --quiet '$URL' --disk 1 '$T/out.raw' && cmp '$T/ref.raw' '$T/out.raw'"
ref_alloc=$(alloc_bytes "$T/ref.raw")
check copy_http_file_keeps_holes bash -c "a=\$(( \$(stat -c %b '$T/out.raw') * 512 )); echo \"dst \$a ref $ref_alloc\"; [ \$a -le $((ref_alloc + (1 << 20))) ]"
fill_ff "$T/dirty.dev" "$SIZE"
make_loop "$T/dirty.dev"
check copy_http_ova_to_dirty_loop_device_matches bash -c "'$VMI' copy --quiet '$URL' --disk 1 '$LOOP' && cmp -n $SIZE '$T/ref.raw' '$LOOP'"
check copy_http_by_vm_and_disk bash -c "'$VMI' copy --quiet '$URL' --vm web01 --disk 1 '$T/out2.raw' && cmp '$T/ref.raw' '$T/out2.raw'"
check copy_http_verify_sha256 bash -c "
  '$VMI' copy --quiet --verify --disk=1 '$URL' '$T/out3.raw' > '$T/v.txt' &&
  [ \"\$(cut -d' ' -f1 '$T/v.txt')\" = \"\$(sha256sum < '$T/ref.raw' | cut -d' ' -f1)\" ]"
expect_rc 2 copy_http_without_disk_index_exits_2 "$VMI" copy "$URL" "$T/never.raw"
expect_rc 2 copy_http_missing_disk_exits_2 "$VMI" copy "$URL" --disk 2 "$T/never.raw"
check copy_http_bad_disk_dst_untouched test ! -e "$T/never.raw"

# verify: every file against the manifest (vmi_ova_verify).
cp "$W/web01.ova" "$W/bad.ova"
python3 - "$W/bad.ova" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    m = t.getmember("disk2.vmdk")
    at = m.offset_data + m.size // 2
with open(sys.argv[1], "r+b") as f:
    f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0xff]))
PY
check verify_http_ova_exits_0 "$VMI" verify "$URL"
expect_rc 1 verify_tampered_ova_exits_1 "$VMI" verify "$NGINX_URL/bad.ova"
check verify_tampered_names_the_file grep -q 'disk2.vmdk' "$T/out" "$T/err"

# A slow server: one JSON line per second while the copy runs.  The link
# model caps every connection at 2 MB/s (nginx's limit_rate gives every
# request a second's worth of credit: reads of 1 MiB are not slowed), so
# the 12 MiB of random data take several seconds.
python3 "$S/tests/bench/linkproxy.py" --target "$NGINX_PORT" --rtt-ms 0 \
  --cap-mbps 2 --max-seconds 600 > "$T/slow.port" &
at_exit "kill $!"
for _ in $(seq 100); do [ -s "$T/slow.port" ] && break; sleep 0.05; done
SLOW="http://127.0.0.1:$(head -1 "$T/slow.port")/web01.ova"
"$VMI" copy --jobs 2 --disk 1 "$SLOW" "$T/slow.raw" | cat > "$T/progress.txt"
check slow_copy_matches cmp "$T/ref.raw" "$T/slow.raw"
check slow_copy_json_lines_each_parse bash -c "
  [ \$(wc -l < '$T/progress.txt') -ge 3 ] && while IFS= read -r l; do printf '%s' \"\$l\" | python3 -m json.tool >/dev/null || exit 1; done < '$T/progress.txt'"
check slow_copy_progress_grows python3 - "$T/progress.txt" <<'PY'
import json, sys
js = [json.loads(l) for l in open(sys.argv[1])]
done = [j["done"] for j in js]
assert done == sorted(done) and done[0] < done[-1] == js[-1]["total"], done
assert any(j["rate"] > 0 for j in js[:-1]), js
PY

# --source-file: the same OVA as an OvaSource + Secret.
cat > "$T/source.yaml" <<EOF
apiVersion: migration.harvesterhci.io/v1beta1
kind: OvaSource
metadata:
  name: example
  namespace: default
spec:
  url: "$URL"
  httpTimeoutSeconds: 60
  credentials:
    name: example-ova-credentials
    namespace: default
---
apiVersion: v1
kind: Secret
metadata:
  name: example-ova-credentials
  namespace: default
stringData:
  "username": "nobody"
  "password": "unused"
EOF
check source_file_ls bash -c "'$VMI' ls --source-file '$T/source.yaml' | grep -q '^web01 '"
check source_file_copy_vm_disk bash -c "'$VMI' copy --quiet --source-file '$T/source.yaml' --vm web01 --disk 1 '$T/yaml.raw' && cmp '$T/ref.raw' '$T/yaml.raw'"
expect_rc 2 source_file_and_source_is_usage "$VMI" ls --source-file "$T/source.yaml" "$URL"

# Credentials: --user with --password-file or VMIMPORT_PASSWORD, never argv.
nginx_stop
printf 's3cret-Pa55\n' > "$T/pw"
nginx_htpasswd "$T/htpasswd" importer "$T/pw"
nginx_start "$W" --auth "$T/htpasswd"
URL=$NGINX_URL/web01.ova
expect_rc 1 auth_without_password_exits_1 "$VMI" ls "$URL"
check auth_password_file bash -c "'$VMI' ls --user importer --password-file '$T/pw' '$URL' | grep -q '^web01 '"
check auth_password_env bash -c "VMIMPORT_PASSWORD=s3cret-Pa55 '$VMI' ls --user importer '$URL' | grep -q '^web01 '"
expect_rc 1 auth_wrong_password_exits_1 env VMIMPORT_PASSWORD=WrOnG-pw-9 "$VMI" ls --user importer -v "$URL"
check auth_password_never_printed bash -c "! grep -q 's3cret\|WrOnG-pw' '$T/out' '$T/err'"
check auth_copy_with_password_file bash -c "'$VMI' copy --quiet --user importer --password-file '$T/pw' --disk 1 '$URL' '$T/auth.raw' && cmp '$T/ref.raw' '$T/auth.raw'"
finish
