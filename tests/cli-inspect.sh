#!/usr/bin/env bash
# vmimport inspect: partitions, filesystems (type, label, UUID) and the
# boot firmware hint of images built here with sgdisk/sfdisk + mkfs, read
# lazily (a 100 GiB disk costs kilobytes to a few MiB of reads).
. "$VMI_SRC/tests/lib.sh"
. "$VMI_SRC/tests/cli-lib.sh"

# GPT, 100 GiB virtual: ESP (vfat), root (ext4), data (xfs, the rest).
G=$T/gpt.img
truncate -s 100G "$G"
sgdisk -n1:2048:+64M -t1:ef00 -c1:ESP -u1:11111111-2222-3333-4444-555555555555 \
       -n2:0:+300M -t2:8300 -c2:root -u2:22222222-3333-4444-5555-666666666666 \
       -n3:0:0 -t3:8300 -c3:data "$G" >/dev/null 2>&1
mkfs.vfat -F 32 --offset 2048 -n ESP -i 1234ABCD "$G" 65536 >/dev/null 2>&1
mkfs.ext4 -q -F -E offset=$((133120*512)),nodiscard -L root \
  -U 6b1d4f4e-7a3c-4d2b-9d1e-0f1e2d3c4b5a "$G" 300M
xfs_start=$(sgdisk -i 3 "$G" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
xfs_end=$(sgdisk -i 3 "$G" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
make_loop_range "$G" $((xfs_start*512)) $(( (xfs_end-xfs_start+1)*512 ))
mkfs.xfs -q -K -L data -m uuid=0a0b0c0d-1111-2222-3333-444455556666 "$LOOP"
losetup -d "$LOOP"

"$VMI" inspect --json "$G" > "$T/gpt.json"
check gpt_inspect_json_parses python3 -m json.tool "$T/gpt.json"
check gpt_partition_table_is_gpt test "$(json_get "$T/gpt.json" 'j[0]["partition_table"]["type"]')" = gpt
check gpt_three_partitions_at_the_right_places python3 - "$T/gpt.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))[0]
p = d["partitions"]
assert [x["number"] for x in p] == [1, 2, 3], p
assert p[0]["start"] == 2048 * 512 and p[0]["size"] == 64 << 20, p[0]
assert p[1]["start"] == 133120 * 512 and p[1]["size"] == 300 << 20, p[1]
assert p[0]["type"] == "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", p[0]
assert p[0]["name"] == "ESP" and p[0]["uuid"] == "11111111-2222-3333-4444-555555555555"
assert p[1]["uuid"] == "22222222-3333-4444-5555-666666666666"
assert d["virtual_size"] == 100 << 30
PY
check gpt_filesystems_type_label_uuid python3 - "$T/gpt.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))[0]["partitions"]
want = [("vfat", "ESP", "1234-ABCD"),
        ("ext4", "root", "6b1d4f4e-7a3c-4d2b-9d1e-0f1e2d3c4b5a"),
        ("xfs", "data", "0a0b0c0d-1111-2222-3333-444455556666")]
got = [(x["filesystem"]["type"], x["filesystem"]["label"], x["filesystem"]["uuid"]) for x in p]
assert got == want, got
PY
check gpt_with_esp_hints_efi test "$(json_get "$T/gpt.json" 'j[0]["firmware_hint"]')" = efi
check gpt_100g_disk_inspected_reading_under_4MiB python3 - "$T/gpt.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))[0]
assert 0 < d["bytes_read"] <= 4 << 20, d["bytes_read"]
PY
check gpt_allocated_less_than_virtual python3 -c "
import json; d=json.load(open('$T/gpt.json'))[0]; assert 0 < d['allocated'] < d['virtual_size']//100, d['allocated']"
check gpt_human_output_names_partitions bash -c "'$VMI' inspect '$G' | grep -E 'efi' && '$VMI' inspect '$G' | grep -E 'xfs +label=data'"

# MBR: primary ext4 (bootable), FAT16, extended with two logical ext4.
M=$T/mbr.img
truncate -s 20G "$M"
printf 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=200MiB, type=83, bootable\nsize=100MiB, type=e\ntype=5\nsize=100MiB, type=83\nsize=200MiB, type=83\n' \
  | sfdisk -q "$M"
starts=($(sfdisk -d "$M" | sed -n 's/.*start= *\([0-9]*\),.*/\1/p'))
mkfs.ext4 -q -F -E offset=$((starts[0]*512)) -L boot -U 11111111-0000-4000-8000-000000000001 "$M" 200M
mkfs.vfat -F 16 --offset "${starts[1]}" -n WIN -i 0BADCAFE "$M" 102400 >/dev/null 2>&1
mkfs.ext4 -q -F -E offset=$((starts[3]*512)) -L log5 -U 11111111-0000-4000-8000-000000000005 "$M" 100M
mkfs.ext4 -q -F -E offset=$((starts[4]*512)) -L log6 -U 11111111-0000-4000-8000-000000000006 "$M" 200M

"$VMI" inspect --json "$M" > "$T/mbr.json"
check mbr_partitions_incl_logical python3 - "$T/mbr.json" "${starts[@]}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))[0]
starts = [int(s) * 512 for s in sys.argv[2:]]
p = d["partitions"]
assert d["partition_table"] == {"type": "dos", "id": "1234abcd"}, d["partition_table"]
assert [x["number"] for x in p] == [1, 2, 3, 5, 6], p
assert [x["start"] for x in p] == starts, ([x["start"] for x in p], starts)
assert [x["type"] for x in p] == ["0x83", "0x0e", "0x05", "0x83", "0x83"], p
assert p[0]["bootable"] is True and p[1]["bootable"] is False
fs = [(x["filesystem"] or {}).get("label") for x in p]
assert fs == ["boot", "WIN", None, "log5", "log6"], fs
assert p[1]["filesystem"]["uuid"] == "0BAD-CAFE", p[1]["filesystem"]
assert p[4]["filesystem"]["uuid"] == "11111111-0000-4000-8000-000000000006"
PY
# The same answers as blkid reading the whole image at each offset.
check mbr_filesystems_match_blkid python3 - "$T/mbr.json" "$M" <<'PY'
import json, subprocess, sys
d = json.load(open(sys.argv[1]))[0]
for p in d["partitions"]:
    if p["filesystem"] is None:
        continue
    out = subprocess.run(["blkid", "-p", "-o", "export", "-O", str(p["start"]),
                          "-S", str(p["size"]), sys.argv[2]],
                         capture_output=True, text=True).stdout
    kv = dict(l.split("=", 1) for l in out.split("\n") if "=" in l)
    for ours, theirs in (("type", "TYPE"), ("label", "LABEL"), ("uuid", "UUID")):
        assert p["filesystem"][ours] == kv.get(theirs), (p["number"], ours, kv)
PY
check mbr_without_boot_code_has_no_hint test "$(json_get "$T/mbr.json" 'j[0]["firmware_hint"]')" = None
printf '\xfa\x31\xc0\x8e\xd8\xbc\x00\x7c' | dd of="$M" conv=notrunc status=none
"$VMI" inspect --json "$M" > "$T/mbr2.json"
check mbr_with_boot_code_hints_bios test "$(json_get "$T/mbr2.json" 'j[0]["firmware_hint"]')" = bios

# A filesystem on the whole disk, no partition table.
W=$T/whole.img
truncate -s 1G "$W"
mkfs.ext4 -q -F -L whole -U 33333333-0000-4000-8000-000000000000 "$W"
"$VMI" inspect --json "$W" > "$T/whole.json"
check whole_disk_filesystem_reported python3 -c "
import json; d=json.load(open('$T/whole.json'))[0]
assert d['partition_table'] is None and d['partitions'] == []
assert d['filesystem']['type'] == 'ext4' and d['filesystem']['label'] == 'whole'
assert d['filesystem']['uuid'] == '33333333-0000-4000-8000-000000000000'
assert d['firmware_hint'] is None"

# NTFS (Windows guests): the label sits in the MFT, far from the start.
if command -v mkntfs >/dev/null; then
  N=$T/ntfs.img
  truncate -s 50G "$N"
  sgdisk -n1:2048:+10G -t1:0700 -c1:win "$N" >/dev/null 2>&1
  make_loop_range "$N" $((2048*512)) $((10 << 30))
  mkntfs -Q -F -L WINDATA -U "$LOOP" >/dev/null 2>&1
  losetup -d "$LOOP"
  "$VMI" inspect --json "$N" > "$T/ntfs.json"
  want=$(blkid -p -o export -O $((2048*512)) "$N" | sed -n 's/^UUID=//p')
  check ntfs_partition_type_label_uuid python3 -c "
import json; d=json.load(open('$T/ntfs.json'))[0]; f=d['partitions'][0]['filesystem']
assert f['type']=='ntfs' and f['label']=='WINDATA' and f['uuid']=='$want', f
assert d['bytes_read'] <= 1 << 20, d['bytes_read']"
else
  echo "skip ntfs: mkntfs (ntfs-3g) is not installed"
fi

# --disk selects; a disk that does not exist is a usage error.
expect_rc 2 inspect_missing_disk_index_exits_2 "$VMI" inspect --disk 4 "$G"
finish
