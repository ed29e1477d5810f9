#!/usr/bin/env bash
# Local OVAs and OVFs: vm.json says what the OVF says, each disk reads back
# byte for byte, every tar flavour works, the manifest is checked, and bad
# input gives a clear error (never a crash, never a file outside the OVA).
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/ova-lib.sh"
OT="$B/tests/ova-tool"

# Fails with exit status 1 (a clean error, not a signal) and a message
# matching REGEX.
fails_cleanly () {
  local regex=$1; shift
  "$@"; local rc=$?
  [ "$rc" -eq 1 ] || { echo "exit status $rc (expected 1)"; return 1; }
}
check_clean_error () {
  local name=$1 regex=$2; shift 2
  check_fails "$name" "$regex" "$@"
  check "${name}_exits_cleanly" fails_cleanly "$regex" "$@"
}

# ---- fixtures: raw disks with real ext4 content ----
mkdir -p "$T/a/sub"
make_ext4 "$T/a/sub/d1.img" 40M
truncate -s 20M "$T/a/sub/d2.img"
printf 'second disk' | dd of="$T/a/sub/d2.img" bs=1 seek=1000000 conv=notrunc status=none
cp "$T/a/sub/d1.img" "$T/a/one.img"

# One disk, ustar.
make_ovf "$T/a/one.ovf" '{"name": "one-disk", "cpus": 2, "memory": [2048, "byte * 2^20"],
  "firmware": "bios", "os": "otherLinux64Guest",
  "disks": [{"href": "one.img", "capacity": [40, "byte * 2^20"], "format": "raw", "bus": "ide"}],
  "nics": [{"network": "VM Network", "model": "E1000", "mac": "00:50:56:01:02:03"}]}'
make_mf "$T/a" "$T/a/one.mf" one.ovf one.img
make_ova "$T/one.ova" "$T/a" ustar one.ovf one.mf one.img

"$LT" vmjson "$T/one.ova" > "$T/one.json"
check_vmjson ova_one_disk_vmjson_matches_ovf "$T/one.json" \
  'j["name"]=="one-disk" and j["cpus"]==2 and j["cores_per_socket"] is None and j["memory_mib"]==2048 and j["firmware"]=="bios" and j["secure_boot"] is None and j["guest_os"]=="otherLinux64Guest" and len(j["disks"])==1 and j["disks"][0]["capacity"]==40<<20 and j["disks"][0]["bus"]=="ide" and j["disks"][0]["file"]=="disk-0.img" and j["nics"]==[{"index":0,"network":"VM Network","model":"E1000","mac":"00:50:56:01:02:03"}] and j["source"]["kind"]=="ova"'
check ova_one_disk_reads_back "$LT" random "$T/one.ova" "$T/a/one.img" 1000 4 1
check ova_one_disk_cat_matches bash -c "'$LT' cat '$T/one.ova' '$T/one.out' && cmp '$T/one.out' '$T/a/one.img'"

# Two disks in a subfolder, OVF 1.x, EFI + secure boot, two NICs.
two_spec='{"name": "two disks", "cpus": 8, "cores": 4, "memory": [8, "byte * 2^30"],
  "firmware": "efi", "secure_boot": true, "os": "ubuntu64Guest",
  "disks": [{"href": "sub/d1.img", "capacity": [40, "byte * 2^20"], "format": "raw", "bus": "scsi"},
            {"href": "sub/d2.img", "capacity": 20971520, "format": "raw", "bus": "sata"}],
  "nics": [{"network": "VM Network", "model": "VmxNet3", "mac": "00:50:56:aa:bb:cc"},
           {"network": "dvSwitch 2", "model": "E1000e"}]}'
make_ovf "$T/a/two.ovf" "$two_spec"
make_mf "$T/a" "$T/a/two.mf" two.ovf sub/d1.img sub/d2.img
make_ova "$T/two.ova" "$T/a" ustar two.ovf two.mf sub/d1.img sub/d2.img
"$LT" vmjson "$T/two.ova" > "$T/two.json"
check_vmjson ova_two_disks_vmjson_matches_ovf "$T/two.json" \
  'j["name"]=="two disks" and j["cpus"]==8 and j["cores_per_socket"]==4 and j["memory_mib"]==8192 and j["firmware"]=="efi" and j["secure_boot"]==True and [d["bus"] for d in j["disks"]]==["scsi","sata"] and [d["capacity"] for d in j["disks"]]==[40<<20, 20<<20] and [d["source_name"] for d in j["disks"]]==["sub/d1.img","sub/d2.img"] and [(n["network"],n["model"],n["mac"]) for n in j["nics"]]==[("VM Network","VmxNet3","00:50:56:aa:bb:cc"),("dvSwitch 2","E1000e",None)]'
for i in 0 1; do
  check "ova_subfolder_disk${i}_cat_matches" bash -c "VMI_DISK=$i '$LT' cat '$T/two.ova' '$T/two.$i' && cmp '$T/two.$i' '$T/a/sub/d$((i+1)).img'"
done

# Every tar flavour: GNU long names, pax headers, ustar prefix split.
long="a-folder-with-a-rather-long-name-to-push-paths-past-one-hundred-characters/and-one-more-level-of-folders"
mkdir -p "$T/a/$long"
cp "$T/a/sub/d2.img" "$T/a/$long/the-disk-image-itself.img"
make_ovf "$T/a/long.ovf" "{\"name\": \"long\", \"cpus\": 1, \"memory\": [512, \"MegaBytes\"],
  \"disks\": [{\"href\": \"$long/the-disk-image-itself.img\", \"capacity\": 20971520, \"format\": \"raw\", \"bus\": \"nvme\"}],
  \"nics\": []}"
for fmt in gnu pax ustar; do
  make_ova "$T/long-$fmt.ova" "$T/a" "$fmt" long.ovf "$long/the-disk-image-itself.img"
  check "ova_tar_${fmt}_long_member_name_reads_back" bash -c "'$LT' cat '$T/long-$fmt.ova' '$T/long.out' && cmp '$T/long.out' '$T/a/sub/d2.img'"
  check "tar_${fmt}_member_from_memory_matches" bash -c "'$OT' tar '$T/long-$fmt.ova' '$long/the-disk-image-itself.img' '$T/m.out' && cmp '$T/m.out' '$T/a/sub/d2.img'"
done
"$LT" vmjson "$T/long-pax.ova" > "$T/long.json"
check_vmjson ova_nvme_bus_and_megabytes_units "$T/long.json" \
  'j["disks"][0]["bus"]=="nvme" and j["memory_mib"]==512'

# OVF 2.x: StorageItem and EthernetPortItem; virtio bus.
make_ovf "$T/a/v2.ovf" '{"name": "v2", "ovf2": true, "cpus": 3, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "one.img", "capacity": [40, "byte * 2^20"], "format": "raw", "bus": "virtio"}],
  "nics": [{"network": "net-a", "model": "virtio", "mac": "52:54:00:12:34:56"}]}'
make_ova "$T/v2.ova" "$T/a" pax v2.ovf one.img
"$LT" vmjson "$T/v2.ova" > "$T/v2.json"
check_vmjson ova_ovf2_storageitem_and_ethernetportitem "$T/v2.json" \
  'j["cpus"]==3 and j["memory_mib"]==1024 and j["disks"][0]["bus"]=="virtio" and j["nics"][0]["network"]=="net-a" and j["nics"][0]["model"]=="virtio" and j["nics"][0]["mac"]=="52:54:00:12:34:56"'

# An OVF next to its disks (no archive).
check ovf_beside_disks_reads_back bash -c "VMI_DISK=1 '$LT' cat '$T/a/two.ovf' '$T/ovf.1' && cmp '$T/ovf.1' '$T/a/sub/d2.img'"
"$LT" vmjson "$T/a/two.ovf" > "$T/ovf.json"
check_vmjson ovf_beside_disks_vmjson "$T/ovf.json" 'j["name"]=="two disks" and len(j["disks"])==2'

# A gzip-compressed disk file (ovf:compression="gzip").
mkdir -p "$T/gz"
gzip -c "$T/a/one.img" > "$T/gz/one.img"
make_ovf "$T/gz/gz.ovf" '{"name": "gz", "cpus": 1, "memory": [1024, "byte * 2^20"],
  "disks": [{"href": "one.img", "capacity": [40, "byte * 2^20"], "format": "raw", "bus": "scsi", "gzip": true}],
  "nics": []}'
make_ova "$T/gz.ova" "$T/gz" ustar gz.ovf one.img
check ova_gzip_disk_reads_back_sequentially bash -c "'$LT' cat '$T/gz.ova' '$T/gz.out' && cmp '$T/gz.out' '$T/a/one.img'"
check ova_gzip_disk_random_reads_match "$LT" random "$T/gz.ova" "$T/a/one.img" 30 2 3

# ---- manifest ----
check ova_verify_good_passes "$OT" verify "$T/two.ova"
check ovf_verify_good_passes "$OT" verify "$T/a/two.ovf"
cp "$T/two.ova" "$T/bad.ova"
off=$(python3 -c 'import sys,tarfile; print(tarfile.open(sys.argv[1]).getmember("sub/d2.img").offset_data + 1000000)' "$T/bad.ova")
flip_byte "$T/bad.ova" "$off"
check_fails ova_verify_one_edited_byte_names_file 'sub/d2\.img.*SHA256 mismatch' "$OT" verify "$T/bad.ova"
check "ova_verify_edited_byte_other_files_ok" bash -c "'$OT' verify '$T/bad.ova' | grep -q 'sub/d1.img: OK'"
# SHA1 and SHA256 lines, CRLF endings, "SHA256 (file) = hex" spacing.
{
  printf 'SHA1(two.ovf)= %s\r\n' "$(sha1sum < "$T/a/two.ovf" | cut -d' ' -f1)"
  printf 'SHA256 (sub/d1.img) = %s\r\n' "$(sha256sum < "$T/a/sub/d1.img" | cut -d' ' -f1)"
  printf 'SHA256(sub/d2.img)= %s\r\n' "$(sha256sum < "$T/a/sub/d2.img" | cut -d' ' -f1)"
  printf 'SHA1(sub/d2.img)= %s\r\n' "$(sha1sum < "$T/a/sub/d2.img" | cut -d' ' -f1)"
} > "$T/a/crlf.mf"
mkdir -p "$T/c/sub"; cp "$T/a/two.ovf" "$T/c/"; cp "$T/a/crlf.mf" "$T/c/two.mf"
cp "$T/a/sub/d1.img" "$T/a/sub/d2.img" "$T/c/sub/"
make_ova "$T/crlf.ova" "$T/c" ustar two.ovf two.mf sub/d1.img sub/d2.img
check ova_verify_sha1_sha256_crlf_passes "$OT" verify "$T/crlf.ova"
# A file the manifest does not list, and an entry with no file.
make_mf "$T/a" "$T/c/two.mf" two.ovf sub/d1.img
make_ova "$T/unlisted.ova" "$T/c" ustar two.ovf two.mf sub/d1.img sub/d2.img
check_fails ova_verify_unlisted_file_named 'sub/d2\.img: not listed' "$OT" verify "$T/unlisted.ova"
make_mf "$T/a" "$T/c/two.mf" two.ovf sub/d1.img sub/d2.img
make_ova "$T/missing.ova" "$T/c" ustar two.ovf two.mf sub/d1.img
check_fails ova_verify_missing_file_named 'sub/d2\.img: missing' "$OT" verify "$T/missing.ova"
printf 'SHA256(x)= 1234\n' > "$T/short.mf"
check_fails manifest_bad_digest_length_line_named 'line 1: .*wrong length' "$OT" manifest "$T/short.mf"

# ---- bad input: clear errors, no crash, nothing read outside the OVA ----
head -c $(( $(stat -c %s "$T/two.ova") / 2 )) "$T/two.ova" > "$T/truncated.ova"
check_clean_error ova_truncated_is_a_clear_error 'truncated archive' "$LT" vmjson "$T/truncated.ova"
check_clean_error ova_missing_member_is_named 'sub/d2\.img.*no such member' "$LT" vmjson "$T/missing.ova"
mkdir -p "$T/bad"
printf '<Envelope><VirtualSystem><Name>x</Name>\n<oops></VirtualSystem></Envelope>\n' > "$T/bad/bad.ovf"
make_ova "$T/malformed.ova" "$T/bad" ustar bad.ovf
check_clean_error ovf_malformed_xml_is_a_clear_error 'malformed OVF XML at line [0-9]+' "$LT" vmjson "$T/malformed.ova"
echo "TOP-SECRET-CONTENT" > "$T/secret.txt"
cat > "$T/bad/bad.ovf" <<EOF
<?xml version="1.0"?>
<!DOCTYPE Envelope [ <!ENTITY xxe SYSTEM "file://$T/secret.txt"> ]>
<Envelope><VirtualSystem><Name>&xxe;</Name></VirtualSystem></Envelope>
EOF
make_ova "$T/xxe.ova" "$T/bad" ustar bad.ovf
check_clean_error ovf_external_entity_refused 'DOCTYPE' "$LT" vmjson "$T/xxe.ova"
check ovf_external_entity_not_read bash -c "! '$LT' vmjson '$T/xxe.ova' 2>&1 | grep -q TOP-SECRET"
{
  echo '<?xml version="1.0"?>'
  echo '<!DOCTYPE lolz [ <!ENTITY lol "lol">'
  for i in 1 2 3 4 5 6 7 8 9; do
    printf '<!ENTITY lol%d "' $i; for k in 1 2 3 4 5 6 7 8 9 10; do printf '&lol%s;' "$([ $i = 1 ] && echo || echo $((i-1)))"; done; echo '">'
  done
  echo ']><Envelope><VirtualSystem><Name>&lol9;</Name></VirtualSystem></Envelope>'
} > "$T/bad/bad.ovf"
make_ova "$T/lol.ova" "$T/bad" ustar bad.ovf
check_clean_error ovf_billion_laughs_refused 'DOCTYPE' "$LT" vmjson "$T/lol.ova"
# The same payloads straight into the parser (as the fuzz target calls it).
check_clean_error ovf_parser_billion_laughs_refused 'DOCTYPE' "$OT" ovf "$T/bad/bad.ovf"
# An href that leaves the OVA / the OVF's folder.
cp "$T/secret.txt" "$T/secret.img"
make_ovf "$T/bad/bad.ovf" '{"name": "escape", "cpus": 1, "memory": [1, "byte * 2^30"],
  "disks": [{"href": "../secret.img", "capacity": 19, "format": "raw", "bus": "scsi"}], "nics": []}'
check_clean_error ovf_href_outside_folder_refused 'outside the OVF.s folder; refused' "$LT" vmjson "$T/bad/bad.ovf"
make_ova "$T/escape.ova" "$T/bad" ustar bad.ovf
check_clean_error ova_href_outside_archive_refused 'outside the OVA; refused' "$LT" vmjson "$T/escape.ova"
head -c 10000 /dev/urandom > "$T/noise.ova"
check_clean_error ova_not_a_tar_is_a_clear_error 'not a tar archive' "$LT" vmjson "$T/noise.ova"
finish
